# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release's decisions, in one place: what a release or a rollback does, and why.

Plain typed Python, no Ansible: the playbooks compute the plan once (the ``release_plan`` and
``rollback_plan`` filters of plugins/filter/release_plan.py wrap these functions) and every phase of
playbooks/deploy.yml and rollback.yml reads ``release_plan.run.<phase>``. The inputs are what the controller
knows before anything is written: the settings, the ledger's last successful release (or its recent
entries, for a rollback), the scope's diff (macroai.deploy.deploy_scope) and the settings fingerprint's
reason. The outputs are plain dicts and lists, as Ansible stores facts.

- ``plan_release``: the scope with its reasons, reuse or converge, which phases run, the image tag, the
  bake times, the release id and the scope lines shown before the approval;
- ``plan_rollback``: the release to return to, or the refusal with its reason, and the same plan shape;
- ``release_checks``: the HTTP checks of the validation phase, from where the release is served;
- ``phase_seconds`` and ``summary_lines``: the timings and the summary printed, sent and recorded.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SCOPE_KEYS = ("backend", "frontend", "infrastructure", "migrations")
# The phases of deploy.yml, in order; rollback.yml runs ROLLBACK_PHASES.
PHASES = ("networking", "data", "compute", "reuse", "migrate", "client", "backend", "validate")
ROLLBACK_PHASES = ("backend", "client", "database", "validate")
SHORT = 7  # characters of a commit sha in ids and lines
NO_REPO = "no deploy_app_repo: change detection is off, every phase runs"
NO_REPO_MIGRATIONS = "no deploy_app_repo: the migrations run only with force_rebuild"
ROLLBACK_STATES = ("succeeded", "rolled_back")


class PlanError(ValueError):
    """Inputs the plan cannot use; the message names the input and what would be valid."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _release(value: Any) -> dict[str, Any]:
    """A ledger entry as a dict, ``{}`` for none (the ledger module returns ``{}`` or null for no release)."""
    return dict(value) if isinstance(value, Mapping) and value.get("release_id") else {}


def release_id(moment: datetime.datetime, suffix: str) -> str:
    """``20261204T211500Z-<suffix>``: sortable, readable, and what the ledger keys the entry by."""
    return f"{moment.astimezone(datetime.UTC).strftime('%Y%m%dT%H%M%SZ')}-{suffix}"


@dataclass(frozen=True)
class BakeTimes:
    """ECS's bake time and LINEAR/CANARY step bakes for this release, in minutes."""

    bake_time_minutes: float
    step_bake_minutes: float
    canary_bake_minutes: float

    def as_dict(self) -> dict[str, float]:
        return {
            "bake_time_minutes": self.bake_time_minutes,
            "step_bake_minutes": self.step_bake_minutes,
            "canary_bake_minutes": self.canary_bake_minutes,
        }


@dataclass(frozen=True)
class ReleaseInputs:
    """What deploy.yml knows before its first write.

    ``scope_result`` is deploy_scope's result (``scope``, ``reasons``, ``commit``, ``base_commit``,
    ``subject``), None without change detection; ``settings_reason`` says why the settings alone put the
    infrastructure in scope ('' when they did not).
    """

    now: datetime.datetime
    last_successful: Mapping[str, Any] | None = None
    scope_result: Mapping[str, Any] | None = None
    settings_reason: str = ""
    force_rebuild: bool = False
    deployment_type: str = "standard"
    image_tag: str = ""
    message: str = ""
    standard_bake: BakeTimes = BakeTimes(0, 0, 0)
    hotfix_bake: BakeTimes = BakeTimes(1, 0, 0)
    skip_unchanged_infrastructure: bool = True


@dataclass(frozen=True)
class Plan:
    """One release's (or rollback's) decisions; ``as_dict`` is what the playbooks read."""

    release_id: str
    started_at: str
    deployment_type: str
    commit: str
    base_commit: str
    text: str
    scope: dict[str, bool]
    reasons: dict[str, str]
    converge_infrastructure: bool
    reuse_infrastructure: bool
    run: dict[str, bool]
    image_tag: str
    bake: BakeTimes
    last_successful: dict[str, Any] | None
    scope_lines: list[str] = field(default_factory=list)
    rolled_back_from: dict[str, Any] | None = None
    settings_reason: str = ""

    @property
    def retain_restore_points(self) -> list[str]:
        """Restore points a migration's pruning must keep: the one the last successful release's rollback
        with rollback_database restores from."""
        name = _text(((self.last_successful or {}).get("restore_point") or {}).get("name"))
        return [name] if name else []

    @property
    def backend_released(self) -> bool:
        return self.run.get("backend", False)

    @property
    def released_anything(self) -> bool:
        return self.converge_infrastructure or any(self.scope[key] for key in SCOPE_KEYS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "started_at": self.started_at,
            "deployment_type": self.deployment_type,
            "commit": self.commit,
            "base_commit": self.base_commit,
            "text": self.text,
            "scope": dict(self.scope),
            "reasons": dict(self.reasons),
            "converge_infrastructure": self.converge_infrastructure,
            "reuse_infrastructure": self.reuse_infrastructure,
            "run": dict(self.run),
            "image_tag": self.image_tag,
            "bake": self.bake.as_dict(),
            "last_successful": self.last_successful,
            "rolled_back_from": self.rolled_back_from,
            "backend_released": self.backend_released,
            "released_anything": self.released_anything,
            "settings_reason": self.settings_reason,
            "retain_restore_points": self.retain_restore_points,
            "scope_lines": list(self.scope_lines),
        }


def release_scope(inputs: ReleaseInputs) -> tuple[dict[str, bool], dict[str, str]]:
    """The scope and its reasons: the diff's when change detection is on, else everything but the migrations
    (they run with force_rebuild only); a settings change puts the infrastructure in, saying which."""
    if inputs.scope_result is not None:
        found = inputs.scope_result.get("scope") or {}
        scope = {key: bool(found.get(key)) for key in SCOPE_KEYS}
        scope["everything"] = bool(found.get("everything"))
        given = inputs.scope_result.get("reasons") or {}
        reasons = {key: _text(given.get(key)) for key in SCOPE_KEYS}
    else:
        scope = {key: True for key in SCOPE_KEYS}
        scope["migrations"] = inputs.force_rebuild
        scope["everything"] = True
        reasons = {key: NO_REPO for key in SCOPE_KEYS}
        reasons["migrations"] = NO_REPO_MIGRATIONS
    if inputs.settings_reason:
        scope["infrastructure"] = True
        reasons["infrastructure"] = f"{inputs.settings_reason}; {reasons['infrastructure']}"
    return scope, reasons


def phases(converge: bool, reuse: bool, scope: Mapping[str, bool]) -> dict[str, bool]:
    """Which of deploy.yml's phases run (docs/release.md, "What a release runs").

    The infrastructure phases run on a first release, when the infrastructure is in scope, or for a backend
    or migration release whose last successful release recorded no infrastructure to reuse; with one to
    reuse, one task publishes it instead. The client and the backend release when in scope or when the
    infrastructure converges (a new account, a new load balancer); validation always runs.
    """
    backend_or_migrations = bool(scope["backend"] or scope["migrations"])
    infrastructure = converge or (backend_or_migrations and not reuse)
    return {
        "networking": infrastructure,
        "data": infrastructure,
        "compute": infrastructure,
        "reuse": reuse,
        "migrate": bool(scope["migrations"]),
        "client": converge or bool(scope["frontend"]),
        "backend": converge or bool(scope["backend"]),
        "validate": True,
    }


def scope_lines(plan: Plan) -> list[str]:
    """What the release is about to do, one line per component (shown before the approval)."""
    after = (plan.last_successful or {}).get("release_id") or "no earlier release"
    lines = [
        f"Release {plan.release_id} ({plan.deployment_type}) of {plan.commit[:SHORT] or 'no commit'}, "
        f"after {after}"
    ]
    for key in SCOPE_KEYS:
        lines.append(f"  {key}: {'yes' if plan.scope[key] else 'no'} - {plan.reasons.get(key, '')}")
    lines.append(f"  infrastructure roles: {'converge' if plan.converge_infrastructure else 'skipped'}")
    return lines


def settings_prove_unchanged(inputs: ReleaseInputs, last: Mapping[str, Any]) -> bool:
    """Whether the infrastructure can be taken as the last successful release left it without converging it:
    that release recorded it and its settings fingerprint, this run's fingerprint is the same, and no
    force_rebuild. (A change made outside the collection is not seen: force_rebuild converges.)"""
    return bool(
        inputs.skip_unchanged_infrastructure
        and last
        and last.get("settings")
        and _text(last.get("infrastructure"))
        and not inputs.settings_reason
        and not inputs.force_rebuild
    )


def plan_release(inputs: ReleaseInputs) -> Plan:
    """deploy.yml's plan from what it knows before writing anything."""
    if inputs.deployment_type == "rollback":
        raise PlanError(
            "deployment_type=rollback is what rollback.yml does: run ansible-playbook rollback.yml (back to "
            "the "
            "previous successful release) or add -e to_release=RELEASE_ID. Nothing was changed."
        )
    if inputs.deployment_type not in ("standard", "hotfix"):
        raise PlanError(f"deployment_type={inputs.deployment_type!r}: use standard, hotfix or rollback")
    last = _release(inputs.last_successful)
    scope, reasons = release_scope(inputs)
    change_detection = inputs.scope_result is not None
    if not change_detection and settings_prove_unchanged(inputs, last):
        scope["infrastructure"] = scope["everything"] = False
        reasons["infrastructure"] = (
            f"no deploy_app_repo, and the settings are those of {last['release_id']} (the settings "
            "fingerprint): the infrastructure it recorded is reused; -e force_rebuild=true converges it"
        )
    commit = _text((inputs.scope_result or {}).get("commit"))
    converge = bool(inputs.force_rebuild or not last or scope["infrastructure"] or scope["everything"])
    reuse = bool(
        not converge and (scope["backend"] or scope["migrations"]) and _text(last.get("infrastructure"))
    )
    # With change detection the backend's image is the one asked for (CI passes compute_image_tag each run)
    # or the commit's short sha, when the backend is in scope; otherwise none, and production keeps its image.
    if change_detection:
        image_tag = (inputs.image_tag or commit[:SHORT]) if scope["backend"] else ""
    else:
        image_tag = inputs.image_tag
    version = commit[:SHORT] or inputs.image_tag or "converge"
    if change_detection:
        subject = _text((inputs.scope_result or {}).get("subject"))
    else:
        subject = "converge (no deploy_app_repo)"
    plan = Plan(
        release_id=release_id(inputs.now, version),
        started_at=inputs.now.isoformat(),
        deployment_type=inputs.deployment_type,
        commit=commit,
        base_commit=_text((inputs.scope_result or {}).get("base_commit")),
        text=inputs.message or subject,
        scope=scope,
        reasons=reasons,
        converge_infrastructure=converge,
        reuse_infrastructure=reuse,
        run=phases(converge, reuse, scope),
        image_tag=image_tag,
        bake=inputs.hotfix_bake if inputs.deployment_type == "hotfix" else inputs.standard_bake,
        last_successful=last or None,
        settings_reason=inputs.settings_reason,
    )
    return _with_lines(plan)


def _with_lines(plan: Plan) -> Plan:
    object.__setattr__(plan, "scope_lines", scope_lines(plan))
    return plan


@dataclass(frozen=True)
class RollbackInputs:
    """What rollback.yml knows before its first write: the ledger's newest entries (newest first) and, with
    ``to_release``, the entry it names (None when the ledger has no such id)."""

    now: datetime.datetime
    history: Sequence[Mapping[str, Any]]
    table: str
    to_release: str = ""
    named: Mapping[str, Any] | None = None
    rollback_database: bool = False
    message: str = ""


@dataclass(frozen=True)
class Refusal:
    """Why a rollback does not go ahead; nothing was written."""

    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"refused": True, "refusal": self.reason}


def current_and_previous(history: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The current release (the newest that succeeded) and the previous one: the newest successful release
    before it that runs something else (a run that changed nothing records the same task definition and
    client, and returning to it would change nothing)."""
    succeeded = [dict(entry) for entry in history if entry.get("outcome") == "succeeded"]
    if not succeeded:
        return {}, {}
    current = succeeded[0]
    for candidate in succeeded[1:]:
        if _text(candidate.get("task_definition_arn")) != _text(current.get("task_definition_arn")) or _text(
            candidate.get("client_artifact_url")
        ) != _text(current.get("client_artifact_url")):
            return current, candidate
    return current, {}


def rollback_refusal(inputs: RollbackInputs, current: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    """'' when the rollback may go ahead, else why not (the first problem found)."""
    current_id = _text(current.get("release_id")) or "the current one (there is none)"
    restore_point = _text((current.get("restore_point") or {}).get("name"))
    provider = _text((current.get("database") or {}).get("provider"))
    if inputs.to_release and not target.get("release_id"):
        return f"to_release={inputs.to_release} is not in the ledger {inputs.table}."
    if inputs.to_release and target.get("release_id") == current.get("release_id"):
        return f"to_release={inputs.to_release} is what production runs now."
    if inputs.rollback_database and not restore_point:
        return (
            f"rollback_database=true, but {current_id} ran no migration, so it took no restore point: the "
            "database "
            "is as it was before it. Roll back without -e rollback_database=true."
        )
    if inputs.rollback_database and provider != "neon":
        return (
            "rollback_database=true restores Neon branches; an RDS snapshot is restored into a new instance "
            "by "
            "hand (docs/migrations.md), then roll back without rollback_database."
        )
    if inputs.to_release and target.get("outcome") not in ROLLBACK_STATES:
        return (
            f"to_release={inputs.to_release} did not succeed (outcome {target.get('outcome') or 'unknown'})."
        )
    if not target.get("release_id"):
        return (
            f"The ledger {inputs.table} has no successful release before {current_id} that runs another task "
            "definition or client."
        )
    return ""


def plan_rollback(inputs: RollbackInputs) -> Plan | Refusal:
    """rollback.yml's plan: back to the previous release (or ``to_release``), or the refusal."""
    current, previous = current_and_previous(inputs.history)
    target = _release(inputs.named) if inputs.to_release else previous
    refusal = rollback_refusal(inputs, current, target)
    if refusal:
        return Refusal(
            f"{refusal} Nothing was changed. Choose a release with -e to_release=RELEASE_ID "
            "(macroai.deploy.release_ledger with state=query, query=list lists them)."
        )
    commit = _text(target.get("commit"))
    task_definition = _text(target.get("task_definition_arn"))
    artifact = _text(target.get("client_artifact_url"))
    scope = {
        "backend": bool(task_definition),
        "frontend": bool(artifact),
        "infrastructure": False,
        "migrations": inputs.rollback_database,
        "everything": False,
    }
    if inputs.rollback_database:
        database = f"database restored to the restore point taken before {current.get('release_id')}"
    else:
        database = "database left as it is (-e rollback_database=true restores it)"
    reasons = {
        "backend": f"back to task definition {task_definition or '(none recorded)'}",
        "frontend": f"back to client artifact {artifact or '(none recorded)'}",
        "infrastructure": "a rollback leaves the infrastructure as it is",
        "migrations": database,
    }
    plan = Plan(
        release_id=release_id(inputs.now, f"rollback-{commit[:SHORT]}"),
        started_at=inputs.now.isoformat(),
        deployment_type="rollback",
        commit=commit,
        base_commit="",
        text=inputs.message or f"rollback from {current.get('release_id') or '?'} to {target['release_id']}",
        scope=scope,
        reasons=reasons,
        converge_infrastructure=False,
        reuse_infrastructure=False,
        run={
            "backend": scope["backend"],
            "client": scope["frontend"],
            "database": inputs.rollback_database,
            "validate": True,
        },
        image_tag="",
        bake=BakeTimes(0, 0, 0),
        last_successful=target,
        rolled_back_from=current,
    )
    return _with_lines(plan)


def release_checks(
    urls: Mapping[str, Any],
    health_check_path: str,
    expected_version: str = "",
    page_text: str = "<html",
    test_listener: bool = False,
) -> list[dict[str, Any]]:
    """The validation phase's HTTP checks, from where the release is served (empty URLs: not checked).

    ``test_listener`` False leaves the test listener's check out: the controller cannot reach it unless the
    load balancer's security group admits it (networking_test_listener_cidrs), and AWS drops what the group
    does not admit, so the check would time out and fail every release.
    """
    checks: list[dict[str, Any]] = []
    test, production, site = (_text(urls.get(name)) for name in ("test", "production", "site"))
    if test and test_listener:
        checks.append({"name": "test listener health", "url": test + health_check_path})
    if production:
        checks.append({"name": "production health", "url": production + health_check_path})
        if expected_version:
            checks.append(
                {
                    "name": "production version",
                    "url": production + "/version",
                    "expect_json": {"version": expected_version},
                }
            )
    if site:
        checks.append({"name": "client page", "url": site + "/", "expect_text": page_text})
    return checks


def phase_seconds(marks: Sequence[Mapping[str, Any]], until: float) -> dict[str, float]:
    """Seconds per phase from the marks each phase leaves as it starts; the last runs until ``until``."""
    seconds: dict[str, float] = {}
    for index, mark in enumerate(marks):
        end = float(marks[index + 1]["at"]) if index + 1 < len(marks) else until
        seconds[str(mark["phase"])] = round(end - float(mark["at"]), 1)
    return seconds


def _truncate(text: str, length: int) -> str:
    """Jinja's ``truncate`` as the summary used it: text up to ``length`` + 5 characters stays whole (Jinja's
    leeway), longer text is cut at a word before ``length`` - 3 and ended with '...'."""
    if len(text) <= length + 5:
        return text
    return text[: length - 3].rsplit(" ", 1)[0] + "..."


@dataclass(frozen=True)
class Outcome:
    """What the summary says of a finished release or rollback."""

    release_id: str
    outcome: str
    deployment_type: str
    project: str
    environment: str
    commit: str
    text: str
    version: str
    scope: Mapping[str, Any]
    reasons: Mapping[str, Any]
    phases: Mapping[str, float]
    urls: Mapping[str, Any]
    failure: Mapping[str, Any] | None = None
    check_mode: bool = False


def summary_lines(outcome: Outcome) -> list[str]:
    """The summary printed at the end, sent through SNS and kept in the run's output."""
    check = "CHECK MODE, nothing changed: would be " if outcome.check_mode else ""
    lines = [
        f"release        {outcome.release_id}  {check}{outcome.outcome.upper()}  "
        f"({outcome.deployment_type}, {outcome.project}-{outcome.environment})",
        f"commit         {outcome.commit or 'none (no deploy_app_repo)'}  {outcome.text}",
        f"version        {outcome.version or 'unknown'}",
    ]
    for key in SCOPE_KEYS:
        reason = _truncate(_text(outcome.reasons.get(key)), 140)
        lines.append(f"{key:<15}{'yes' if outcome.scope.get(key) else 'no '}  {reason}")
    for phase, seconds in outcome.phases.items():
        lines.append(f"phase          {phase:<16}{seconds:7.1f} s")
    lines.append(f"total          {sum(outcome.phases.values()):24.1f} s")
    for name, url in outcome.urls.items():
        lines.append(f"{name + ' url':<15}{url or '-'}")
    if outcome.failure:
        message = _truncate(_text(outcome.failure.get("message")), 300)
        lines.append(f"failed in      {outcome.failure.get('phase')}: {message}")
    return lines


@dataclass(frozen=True)
class Facts:
    """What this run's phases published (None for a phase that did not run) and what the release stands on.

    ``last_successful`` is the release this one follows (a rollback's target); ``rolled_back_from`` the
    release
    a rollback undoes. ``converged_infrastructure`` is true when this run's compute role converged the
    infrastructure (not a reuse), so its ids are the ones to record.
    """

    project: str
    environment: str
    image_tag: str = ""
    last_successful: Mapping[str, Any] | None = None
    rolled_back_from: Mapping[str, Any] | None = None
    networking: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    compute: Mapping[str, Any] | None = None
    compute_load_balancer: Mapping[str, Any] | None = None
    edge: Mapping[str, Any] | None = None
    migration: Mapping[str, Any] | None = None
    converged_infrastructure: bool = False
    edge_branch: str = "main"
    domain_name: str = ""


def _get(mapping: Mapping[str, Any] | None, *path: str) -> Any:
    value: Any = mapping or {}
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


# The compute fact's per-release fields, blanked in the recorded infrastructure (each release sets its own).
PER_RELEASE_COMPUTE = {
    "task_definition_arn": "",
    "previous_task_definition_arn": "",
    "deployment": {},
    "live_target_group_arn": "",
    "timings": {},
}


def served(facts: Facts) -> dict[str, Any]:
    """Where the release is served and what production runs after it: this run's facts for the phases that
    ran, else what the release it stands on recorded (a release that skipped a phase left it as it was)."""
    last = facts.last_successful or {}
    compute, edge, data = facts.compute, facts.edge, facts.data
    urls = {
        "production": _text(compute.get("production_url") if compute else _get(last, "urls", "production")),
        "test": _text(compute.get("test_url") if compute else _get(last, "urls", "test")),
        "site": _text(edge.get("site_url") if edge and edge.get("site_url") else _get(last, "urls", "site")),
    }
    version = (
        facts.image_tag
        or (_text(compute.get("image")).rsplit(":", maxsplit=1)[-1] if compute else "")
        or _text(last.get("backend_version"))
    )
    load_balancer = {
        "arn": _text(
            _get(facts.compute_load_balancer, "load_balancer_arn") or _get(last, "load_balancer", "arn")
        ),
        "dns_name": _text(
            compute.get("load_balancer_dns") if compute else _get(last, "load_balancer", "dns_name")
        ),
        "zone_id": _text(
            _get(facts.compute_load_balancer, "canonical_hosted_zone_id")
            or _get(last, "load_balancer", "zone_id")
        ),
    }
    name = f"{facts.project}-{facts.environment}"
    ecs = {
        "cluster": _text(compute.get("cluster") if compute else _get(last, "ecs", "cluster") or name),
        "service": _text(
            compute.get("service") if compute else _get(last, "ecs", "service") or f"{name}-api"
        ),
    }
    amplify = {
        "app_id": _text(edge.get("app_id") if edge else _get(last, "amplify", "app_id")),
        "branch": _text(edge.get("branch") if edge else _get(last, "amplify", "branch") or facts.edge_branch),
    }
    if data and data.get("database_provider"):
        neon = data.get("neon") or {}
        database: dict[str, Any] = {
            "provider": data["database_provider"],
            "neon": {key: neon.get(key) for key in ("project_id", "branch_name", "api_url")},
        }
    elif facts.rolled_back_from is not None:
        database = dict(facts.rolled_back_from.get("database") or {})
    else:
        database = dict(last.get("database") or {})
    migration = facts.migration or {}
    # /api/<*> on the site goes to the API: its HTTPS name when the load balancer has the domain's
    # certificate, else the production listener on the load balancer's own name; none before one exists.
    if not load_balancer["dns_name"]:
        api_url = ""
    elif facts.domain_name and urls["production"].startswith("https"):
        api_url = f"https://api.{facts.domain_name}"
    else:
        api_url = urls["production"]
    return {
        "urls": urls,
        "api_url": api_url,
        "expected_version": version,
        "load_balancer": load_balancer,
        "ecs": ecs,
        "amplify": amplify,
        "database": database,
        "task_definition_arn": (
            compute.get("task_definition_arn") if compute else last.get("task_definition_arn")
        )
        or None,
        "client_artifact_url": (edge.get("client_artifact_url") if edge else None)
        or last.get("client_artifact_url")
        or None,
        "restore_point": migration.get("restore_point") if migration.get("ran") else None,
        "infrastructure": infrastructure_record(facts),
    }


def infrastructure_record(facts: Facts) -> Any:
    """What the ledger entry records of the infrastructure (JSON): the ids and ARNs this run converged,
    else what the release it stands on recorded. No secret values: the facts reference secrets by ARN."""
    if (
        facts.converged_infrastructure
        and facts.networking is not None
        and facts.data is not None
        and facts.compute is not None
        and "infrastructure_role_arn" in facts.compute
    ):
        compute = {**facts.compute, **PER_RELEASE_COMPUTE}
        return json.dumps({"networking": facts.networking, "data": facts.data, "compute": compute})
    if facts.rolled_back_from is not None:
        return facts.rolled_back_from.get("infrastructure")
    return (facts.last_successful or {}).get("infrastructure")
