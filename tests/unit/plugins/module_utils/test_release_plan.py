"""The release's plan: the seed's scope matrix through to the phases run, reuse or converge, the image and
bakes, the rollback's target and every refusal, the checks and the summary (no Ansible, no network)."""

from __future__ import annotations

import datetime
import json

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._release_plan import (
    PHASES,
    BakeTimes,
    Facts,
    Outcome,
    PlanError,
    Refusal,
    ReleaseInputs,
    RollbackInputs,
    phase_seconds,
    plan_release,
    plan_rollback,
    release_checks,
    served,
    summary_lines,
)

NOW = datetime.datetime(2026, 12, 4, 21, 15, 0, tzinfo=datetime.UTC)
SHA = "abcdef0123456789"
LAST = {
    "release_id": "20261201T100000Z-1234567",
    "commit": "1234567890",
    "outcome": "succeeded",
    "infrastructure": json.dumps({"networking": {}, "data": {}, "compute": {}}),
    "backend_version": "1234567",
    "task_definition_arn": "arn:aws:ecs:eu-west-2:1:task-definition/app:3",
    "client_artifact_url": "s3://b/c3.zip",
    "urls": {"production": "http://lb", "test": "http://lb:8080", "site": "https://site"},
}


def diff(backend=False, frontend=False, infrastructure=False, migrations=False, everything=False):
    keys = {
        "backend": backend,
        "frontend": frontend,
        "infrastructure": infrastructure,
        "migrations": migrations,
    }
    return {
        "scope": {**keys, "everything": everything},
        "reasons": {key: f"{key} reason" for key in keys},
        "commit": SHA,
        "base_commit": LAST["commit"],
        "subject": "the commit's subject",
    }


def inputs(**kwargs) -> ReleaseInputs:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("last_successful", LAST)
    return ReleaseInputs(**kwargs)


def ran(plan) -> set[str]:
    return {phase for phase in PHASES if plan.run[phase]}


# The seed's change detection matrix, at the level of the phases each row runs.
@pytest.mark.parametrize(
    ("scope", "phases"),
    [
        (diff(frontend=True), {"client", "validate"}),
        (diff(backend=True), {"reuse", "backend", "validate"}),
        (diff(backend=True, migrations=True), {"reuse", "migrate", "backend", "validate"}),
        (
            diff(backend=True, infrastructure=True),
            {"networking", "data", "compute", "client", "backend", "validate"},
        ),
        (diff(), {"validate"}),
        (
            diff(backend=True, frontend=True, infrastructure=True, migrations=True, everything=True),
            {"networking", "data", "compute", "migrate", "client", "backend", "validate"},
        ),
    ],
    ids=["client-only", "backend-only", "migration", "infrastructure", "no-change", "everything"],
)
def test_scope_matrix_decides_the_phases(scope, phases) -> None:
    assert ran(plan_release(inputs(scope_result=scope))) == phases


def test_the_last_releases_restore_point_is_retained() -> None:
    plan = plan_release(
        inputs(last_successful={**LAST, "restore_point": {"name": "production-pre-migrate-r1"}})
    )
    assert plan.as_dict()["retain_restore_points"] == ["production-pre-migrate-r1"]
    assert plan_release(inputs()).retain_restore_points == []
    assert plan_release(inputs(last_successful=None)).retain_restore_points == []


def test_first_release_converges_everything() -> None:
    plan = plan_release(inputs(last_successful=None, scope_result=diff(backend=True)))
    assert plan.converge_infrastructure and not plan.reuse_infrastructure
    assert {"networking", "data", "compute", "client", "backend"} <= ran(plan)
    assert "after no earlier release" in plan.scope_lines[0]


def test_backend_release_without_a_recorded_infrastructure_converges_it() -> None:
    plan = plan_release(
        inputs(last_successful={**LAST, "infrastructure": None}, scope_result=diff(backend=True))
    )
    assert not plan.converge_infrastructure and not plan.reuse_infrastructure
    assert ran(plan) == {"networking", "data", "compute", "backend", "validate"}


def test_force_rebuild_converges() -> None:
    plan = plan_release(inputs(scope_result=diff(), force_rebuild=True))
    assert plan.converge_infrastructure and plan.run["backend"] and plan.run["client"]


def test_a_settings_change_puts_the_infrastructure_in_scope_naming_it() -> None:
    reason = "settings changed since X: compute_log_retention_days"
    plan = plan_release(inputs(scope_result=diff(), settings_reason=reason))
    assert plan.scope["infrastructure"] and plan.converge_infrastructure
    assert plan.reasons["infrastructure"] == f"{reason}; infrastructure reason"
    assert "  infrastructure: yes - " + plan.reasons["infrastructure"] in plan.scope_lines


def test_without_change_detection_every_phase_but_the_migrations_runs() -> None:
    plan = plan_release(inputs(scope_result=None, image_tag="v2"))
    assert plan.scope == {
        "backend": True,
        "frontend": True,
        "infrastructure": True,
        "migrations": False,
        "everything": True,
    }
    assert plan.image_tag == "v2" and plan.release_id == "20261204T211500Z-v2"
    assert plan.text == "converge (no deploy_app_repo)"
    assert plan_release(inputs(scope_result=None, force_rebuild=True)).scope["migrations"]
    assert plan_release(inputs(scope_result=None)).release_id.endswith("-converge")


@pytest.mark.parametrize(
    ("scope", "given", "tag"),
    [
        (diff(backend=True), "", SHA[:7]),
        (diff(backend=True), "ci-42", "ci-42"),
        (diff(frontend=True), "ci-42", ""),
    ],
)
def test_image_tag_follows_the_backend_scope(scope, given, tag) -> None:
    assert plan_release(inputs(scope_result=scope, image_tag=given)).image_tag == tag


def test_hotfix_uses_the_hotfix_bakes_and_ids_carry_the_commit() -> None:
    standard, hotfix = BakeTimes(30, 5, 10), BakeTimes(1, 0, 0)
    plan = plan_release(inputs(scope_result=diff(backend=True), standard_bake=standard, hotfix_bake=hotfix))
    assert plan.bake == standard and plan.release_id == f"20261204T211500Z-{SHA[:7]}"
    assert plan.text == "the commit's subject"
    hot = plan_release(
        inputs(
            scope_result=diff(backend=True),
            deployment_type="hotfix",
            standard_bake=standard,
            hotfix_bake=hotfix,
        )
    )
    assert hot.bake == hotfix
    assert plan_release(inputs(scope_result=diff(), message="by alice")).text == "by alice"


@pytest.mark.parametrize(("kind", "fragment"), [("rollback", "rollback.yml"), ("yolo", "standard, hotfix")])
def test_bad_deployment_types_are_refused(kind, fragment) -> None:
    with pytest.raises(PlanError, match=fragment):
        plan_release(inputs(deployment_type=kind))


def release(number: int, outcome="succeeded", **extra) -> dict:
    return {
        "release_id": f"2026120{number}T000000Z-r{number}",
        "commit": f"c{number}" * 4,
        "outcome": outcome,
        "task_definition_arn": f"td:{number}",
        "client_artifact_url": f"s3://b/{number}.zip",
        **extra,
    }


def rollback(history, **kwargs):
    return plan_rollback(RollbackInputs(now=NOW, history=history, table="app-prod-releases", **kwargs))


def test_rollback_goes_to_the_previous_release_that_runs_something_else() -> None:
    same = {**release(2), "release_id": "2026120" + "2T1Z-same", "task_definition_arn": "td:3"}
    same["client_artifact_url"] = "s3://b/3.zip"
    history = [release(3), same, release(2, outcome="failed"), release(1)]
    plan = rollback(history)
    assert not isinstance(plan, Refusal)
    assert plan.last_successful["release_id"] == release(1)["release_id"]
    assert plan.rolled_back_from["release_id"] == release(3)["release_id"]
    assert plan.run == {"backend": True, "client": True, "database": False, "validate": True}
    assert plan.release_id == "20261204T211500Z-rollback-c1c1c1c"
    assert plan.text == f"rollback from {release(3)['release_id']} to {release(1)['release_id']}"


def test_rollback_to_a_named_release() -> None:
    plan = rollback([release(3), release(2), release(1)], to_release="r1", named=release(1))
    assert plan.last_successful["release_id"] == release(1)["release_id"]


def test_rollback_of_the_database_restores_the_current_releases_restore_point() -> None:
    current = release(2, restore_point={"name": "rp"}, database={"provider": "neon"})
    plan = rollback([current, release(1)], rollback_database=True)
    assert plan.run["database"] and "restore point taken before" in plan.reasons["migrations"]


@pytest.mark.parametrize(
    ("history", "kwargs", "fragment"),
    [
        (
            [release(2), release(1)],
            {"to_release": "nope", "named": None},
            "not in the ledger app-prod-releases",
        ),
        ([release(2), release(1)], {"to_release": "r2", "named": release(2)}, "is what production runs now"),
        ([release(2), release(1)], {"rollback_database": True}, "ran no migration"),
        (
            [release(2, restore_point={"name": "rp"}, database={"provider": "rds"}), release(1)],
            {"rollback_database": True},
            "restores Neon branches",
        ),
        (
            [release(2), release(1)],
            {"to_release": "r1", "named": release(1, outcome="failed")},
            "did not succeed",
        ),
        ([release(1)], {}, "has no successful release before"),
        ([], {}, "before the current one (there is none)"),
    ],
    ids=["unknown", "current", "no-restore-point", "rds", "failed-target", "nothing-before", "empty-ledger"],
)
def test_rollback_refusals_name_the_reason(history, kwargs, fragment) -> None:
    refusal = rollback(history, **kwargs)
    assert isinstance(refusal, Refusal), refusal
    assert fragment in refusal.reason and "Nothing was changed" in refusal.reason


def test_checks_follow_where_the_release_is_served() -> None:
    urls = {"production": "http://lb", "test": "http://lb:8080", "site": "https://site"}
    checks = release_checks(urls, "/health", "v2", test_listener=True)
    assert [check["name"] for check in checks] == [
        "test listener health",
        "production health",
        "production version",
        "client page",
    ]
    assert checks[2]["expect_json"] == {"version": "v2"} and checks[3]["url"] == "https://site/"
    assert [c["name"] for c in release_checks(urls, "/health", "")] == [
        "production health",
        "client page",
    ]
    assert release_checks({"production": "", "test": "", "site": ""}, "/health", "v2") == []


def test_served_prefers_this_runs_facts_and_falls_back_to_the_last_release() -> None:
    facts = Facts(project="app", environment="prod", last_successful=LAST)
    reused = served(facts)
    assert reused["urls"] == LAST["urls"] and reused["expected_version"] == "1234567"
    assert reused["ecs"] == {"cluster": "app-prod", "service": "app-prod-api"}
    assert reused["infrastructure"] == LAST["infrastructure"] and reused["restore_point"] is None
    assert reused["api_url"] == ""  # no load balancer recorded
    with_lb = {**LAST, "load_balancer": {"dns_name": "lb.example", "arn": "a", "zone_id": "z"}}
    assert served(Facts(project="a", environment="b", last_successful=with_lb))["api_url"] == "http://lb"
    https = {**with_lb, "urls": {**LAST["urls"], "production": "https://lb"}}
    named = served(Facts(project="a", environment="b", last_successful=https, domain_name="example.com"))
    assert named["api_url"] == "https://api.example.com"
    compute = {
        "production_url": "http://new",
        "test_url": "http://new:8080",
        "image": "repo:v3",
        "cluster": "c",
        "service": "s",
        "task_definition_arn": "td:9",
        "infrastructure_role_arn": "arn:role",
        "deployment": {"id": "d"},
    }
    fresh = served(
        Facts(
            project="app",
            environment="prod",
            last_successful=LAST,
            networking={"vpc_id": "vpc-1"},
            data={"database_provider": "neon", "neon": {"project_id": "p", "branch_name": "main"}},
            compute=compute,
            migration={"ran": True, "restore_point": {"name": "rp"}},
            converged_infrastructure=True,
        )
    )
    assert fresh["urls"]["production"] == "http://new" and fresh["urls"]["site"] == "https://site"
    assert fresh["expected_version"] == "v3" and fresh["task_definition_arn"] == "td:9"
    assert fresh["database"] == {
        "provider": "neon",
        "neon": {"project_id": "p", "branch_name": "main", "api_url": None},
    }
    assert fresh["restore_point"] == {"name": "rp"}
    recorded = json.loads(fresh["infrastructure"])
    assert recorded["networking"] == {"vpc_id": "vpc-1"} and recorded["compute"]["task_definition_arn"] == ""
    assert recorded["compute"]["deployment"] == {}


def test_phase_seconds_and_summary_lines() -> None:
    marks = [{"phase": "preflight", "at": 100.0}, {"phase": "backend", "at": 103.5}]
    phases = phase_seconds(marks, 110.0)
    assert phases == {"preflight": 3.5, "backend": 6.5}
    lines = summary_lines(
        Outcome(
            release_id="R",
            outcome="failed",
            deployment_type="standard",
            project="app",
            environment="prod",
            commit=SHA,
            text="subject",
            version="v2",
            scope={"backend": True, "frontend": False, "infrastructure": False, "migrations": False},
            reasons={"backend": "x " * 100},
            phases=phases,
            urls={"production": "http://lb", "site": ""},
            failure={"phase": "backend", "message": "boom"},
        )
    )
    assert lines[0] == "release        R  FAILED  (standard, app-prod)"
    assert (
        lines[3].startswith("backend        yes  x x") and lines[3].endswith("...") and len(lines[3]) <= 160
    )
    assert "phase          backend             6.5 s" in lines
    assert lines[-3:] == ["production url http://lb", "site url       -", "failed in      backend: boom"]


def test_a_converge_without_change_detection_reuses_infrastructure_the_fingerprint_proves_unchanged() -> None:
    last = {**LAST, "settings": ["compute_desired_count=abc"]}
    plan = plan_release(inputs(last_successful=last, scope_result=None))
    assert not plan.converge_infrastructure and plan.reuse_infrastructure
    assert ran(plan) == {"reuse", "client", "backend", "validate"}
    assert "the infrastructure it recorded is reused" in plan.reasons["infrastructure"]
    changed = plan_release(
        inputs(last_successful=last, scope_result=None, settings_reason="settings changed")
    )
    assert changed.converge_infrastructure and changed.run["networking"]
    forced = plan_release(inputs(last_successful=last, scope_result=None, force_rebuild=True))
    assert forced.converge_infrastructure and forced.run["networking"]
    unrecorded = plan_release(inputs(last_successful={**last, "infrastructure": ""}, scope_result=None))
    assert unrecorded.converge_infrastructure
    always = plan_release(
        inputs(last_successful=last, scope_result=None, skip_unchanged_infrastructure=False)
    )
    assert always.converge_infrastructure and always.run["networking"]
