# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The release's plan as filters: the playbooks hand the inputs over as one mapping and read the result.

The decisions themselves are plugins/module_utils/_release_plan.py (plain typed Python, unit-tested without
Ansible). Filters rather than a module: every input is already on the controller, and a module call costs
about a second of ansible-playbook's time on the hot path, a filter nothing.

- ``release_plan``: deploy.yml's plan (scope, reasons, reuse or converge, ``run.<phase>``, image, bakes, id);
- ``rollback_plan``: rollback.yml's plan, or ``{refused: true, refusal: ...}``;
- ``release_served``: where the release is served and what production runs after it (for the checks, the
  ledger and the summary);
- ``release_checks``: the validation phase's HTTP checks;
- ``release_phase_seconds`` and ``release_summary``: the timings and the summary lines;
- ``release_input_problems``: preflight's checks of the edge's domain and build and the app repository.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.macroai.deploy.plugins.filter.release_settings import release_settings_reason
from ansible_collections.macroai.deploy.plugins.module_utils._release_inputs import input_problems
from ansible_collections.macroai.deploy.plugins.module_utils._release_plan import (
    BakeTimes,
    Facts,
    Outcome,
    PlanError,
    ReleaseInputs,
    RollbackInputs,
    phase_seconds,
    plan_release,
    plan_rollback,
    release_checks,
    served,
    summary_lines,
)


def _inputs(value: Any, filter_name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{filter_name} takes a mapping of its inputs, not {type(value).__name__}")
    return value


def _now(inputs: Mapping[str, Any]) -> datetime.datetime:
    given = inputs.get("now")
    if given:
        return datetime.datetime.fromisoformat(str(given))
    return datetime.datetime.now(datetime.UTC)


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) and value else None


def _bool(value: Any) -> bool:
    return boolean(value, strict=False) if value is not None else False


def _bake(value: Any) -> BakeTimes:
    value = value or {}
    return BakeTimes(
        float(value.get("bake_time_minutes") or 0),
        float(value.get("step_bake_minutes") or 0),
        float(value.get("canary_bake_minutes") or 0),
    )


def release_plan(value: Any) -> dict[str, Any]:
    """deploy.yml's plan. Inputs: ``last_successful`` (the ledger's), ``scope_result`` (deploy_scope's result;
    one without ``scope``, a skipped task's, means no change detection), ``settings`` (the fingerprint),
    ``force_rebuild``, ``deployment_type``, ``image_tag``, ``message``, ``standard_bake``, ``hotfix_bake``,
    ``skip_unchanged_infrastructure``."""
    inputs = _inputs(value, "release_plan")
    last = _mapping(inputs.get("last_successful"))
    scope_result = _mapping(inputs.get("scope_result"))
    if scope_result is not None and "scope" not in scope_result:
        scope_result = None
    settings = inputs.get("settings")
    try:
        plan = plan_release(
            ReleaseInputs(
                now=_now(inputs),
                last_successful=last,
                scope_result=scope_result,
                settings_reason=release_settings_reason(settings, last or {}),
                force_rebuild=_bool(inputs.get("force_rebuild")),
                deployment_type=str(inputs.get("deployment_type") or "standard"),
                image_tag=str(inputs.get("image_tag") or ""),
                message=str(inputs.get("message") or ""),
                standard_bake=_bake(inputs.get("standard_bake")),
                hotfix_bake=_bake(inputs.get("hotfix_bake")),
                skip_unchanged_infrastructure=_bool(inputs.get("skip_unchanged_infrastructure", True)),
            )
        )
    except PlanError as error:
        raise AnsibleFilterError(str(error)) from None
    return {**plan.as_dict(), "settings": settings}


def rollback_plan(value: Any) -> dict[str, Any]:
    """rollback.yml's plan, or the refusal. Inputs: ``history`` (the ledger's newest entries), ``table``,
    ``to_release``, ``named`` (the entry it names), ``rollback_database``, ``message``."""
    inputs = _inputs(value, "rollback_plan")
    result = plan_rollback(
        RollbackInputs(
            now=_now(inputs),
            history=list(inputs.get("history") or []),
            table=str(inputs.get("table") or ""),
            to_release=str(inputs.get("to_release") or ""),
            named=_mapping(inputs.get("named")),
            rollback_database=_bool(inputs.get("rollback_database")),
            message=str(inputs.get("message") or ""),
        )
    )
    if not hasattr(result, "release_id"):
        return result.as_dict()
    current = result.rolled_back_from or {}
    # The infrastructure stays as the current release left it: its settings fingerprint is the rollback's.
    return {**result.as_dict(), "refused": False, "refusal": "", "settings": current.get("settings")}


def release_served(value: Any) -> dict[str, Any]:
    """Where the release is served and what production runs after it, from the facts the phases published
    (``compute``, ``edge``, ``data``, ``networking``, ``migration``, ``compute_load_balancer``; null or
    missing     for a phase that did not run) and the ``plan``."""
    inputs = _inputs(value, "release_served")
    plan = _inputs(inputs.get("plan"), "release_served's plan")
    return served(
        Facts(
            project=str(inputs.get("project") or ""),
            environment=str(inputs.get("environment") or ""),
            image_tag=str(plan.get("image_tag") or ""),
            last_successful=_mapping(plan.get("last_successful")),
            rolled_back_from=_mapping(plan.get("rolled_back_from")),
            networking=_mapping(inputs.get("networking")),
            data=_mapping(inputs.get("data")),
            compute=_mapping(inputs.get("compute")),
            compute_load_balancer=_mapping(inputs.get("compute_load_balancer")),
            edge=_mapping(inputs.get("edge")),
            migration=_mapping(inputs.get("migration")),
            converged_infrastructure=_bool(inputs.get("converged_infrastructure")),
            edge_branch=str(inputs.get("edge_branch") or "main"),
            domain_name=str(inputs.get("domain_name") or ""),
        )
    )


def release_checks_filter(
    served_value: Any, health_check_path: str, page_text: str = "<html", test_listener_cidrs: Any = None
) -> list[dict[str, Any]]:
    """The HTTP checks of the validation phase, from ``release_served``'s result. The test listener is
    checked only when ``test_listener_cidrs`` (networking_test_listener_cidrs) opens it to the controller."""
    value = _inputs(served_value, "release_checks")
    return release_checks(
        value.get("urls") or {},
        str(health_check_path),
        str(value.get("expected_version") or ""),
        str(page_text),
        bool(test_listener_cidrs),
    )


def release_phase_seconds(marks: Any) -> dict[str, float]:
    """Seconds per phase from the marks each phase leaves as it starts, the last one running until now."""
    return phase_seconds(list(marks or []), datetime.datetime.now(datetime.UTC).timestamp())


def release_summary(value: Any) -> list[str]:
    """The summary lines from the ``plan``, ``served``, ``phases``, ``outcome`` and ``failure``."""
    inputs = _inputs(value, "release_summary")
    plan = _inputs(inputs.get("plan"), "release_summary's plan")
    served_value = inputs.get("served") or {}
    return summary_lines(
        Outcome(
            release_id=str(plan.get("release_id") or ""),
            outcome=str(inputs.get("outcome") or ""),
            deployment_type=str(plan.get("deployment_type") or ""),
            project=str(inputs.get("project") or ""),
            environment=str(inputs.get("environment") or ""),
            commit=str(plan.get("commit") or ""),
            text=str(plan.get("text") or ""),
            version=str(served_value.get("expected_version") or ""),
            scope=plan.get("scope") or {},
            reasons=plan.get("reasons") or {},
            phases=inputs.get("phases") or {},
            urls=served_value.get("urls") or {},
            failure=_mapping(inputs.get("failure")),
            check_mode=_bool(inputs.get("check_mode")),
        )
    )


def release_input_problems(value: Any) -> list[str]:
    """Preflight's problems with the edge's domain and client build and the application repository."""
    return input_problems(_inputs(value, "release_input_problems"))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "release_plan": release_plan,
            "rollback_plan": rollback_plan,
            "release_served": release_served,
            "release_checks": release_checks_filter,
            "release_phase_seconds": release_phase_seconds,
            "release_summary": release_summary,
            "release_input_problems": release_input_problems,
        }
