"""The release plan's filters: what the playbooks hand over and read back (the decisions themselves are
tests/unit/plugins/module_utils/test_release_plan.py's)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.macroai.deploy.plugins.filter.release_plan import FilterModule
from ansible_collections.macroai.deploy.plugins.filter.release_settings import release_settings_fingerprint

FILTERS = FilterModule().filters()
LAST = {"release_id": "R1", "commit": "c1", "outcome": "succeeded", "infrastructure": "{}"}


def test_the_filters_are_registered() -> None:
    assert set(FILTERS) == {
        "release_plan",
        "rollback_plan",
        "release_served",
        "release_checks",
        "release_phase_seconds",
        "release_summary",
        "release_input_problems",
    }


def test_a_skipped_scope_task_means_no_change_detection_and_the_settings_reason_is_computed() -> None:
    fingerprint = release_settings_fingerprint({})
    plan = FILTERS["release_plan"](
        {
            "now": "2026-12-04T21:15:00+00:00",
            "last_successful": {**LAST, "settings": fingerprint},
            "scope_result": {"skipped": True, "changed": False},
            "settings": fingerprint,
            "force_rebuild": "false",
            "deployment_type": "standard",
            "standard_bake": {"bake_time_minutes": "5", "step_bake_minutes": None, "canary_bake_minutes": 2},
        }
    )
    # No repository, the same settings as the last release, which recorded its infrastructure: reused.
    assert plan["release_id"] == "20261204T211500Z-converge" and plan["run"]["reuse"]
    assert not plan["run"]["networking"] and not plan["scope"]["everything"]
    assert plan["settings_reason"] == "" and plan["settings"] == fingerprint
    assert plan["bake"] == {"bake_time_minutes": 5.0, "step_bake_minutes": 0.0, "canary_bake_minutes": 2.0}
    changed = [
        item if not item.startswith("compute_log") else "compute_log_retention_days=x" for item in fingerprint
    ]
    plan = FILTERS["release_plan"](
        {"last_successful": {**LAST, "settings": changed}, "settings": fingerprint}
    )
    assert plan["settings_reason"] == "settings changed since R1: compute_log_retention_days"
    assert plan["run"]["networking"]


def test_refusals_become_filter_errors_and_rollback_refusals_data() -> None:
    with pytest.raises(AnsibleFilterError, match="rollback.yml"):
        FILTERS["release_plan"]({"deployment_type": "rollback"})
    with pytest.raises(AnsibleFilterError, match="mapping"):
        FILTERS["release_plan"](["not", "a", "mapping"])
    refused = FILTERS["rollback_plan"]({"history": [LAST], "table": "t"})
    assert refused["refused"] and "no successful release before R1" in refused["refusal"]
    previous = {"release_id": "R0", "outcome": "succeeded", "task_definition_arn": "td:1", "commit": "c0"}
    current = {**LAST, "task_definition_arn": "td:2", "settings": ["a=1"]}
    plan = FILTERS["rollback_plan"]({"history": [current, previous], "table": "t"})
    assert (
        not plan["refused"] and plan["last_successful"]["release_id"] == "R0" and plan["settings"] == ["a=1"]
    )


def test_served_checks_and_summary_read_the_plan() -> None:
    plan = FILTERS["release_plan"]({"now": "2026-12-04T21:15:00+00:00", "image_tag": "v2"})
    served = FILTERS["release_served"](
        {
            "plan": plan,
            "project": "app",
            "environment": "prod",
            "compute": {"production_url": "http://lb", "image": "r:v2"},
        }
    )
    assert served["expected_version"] == "v2"
    checks = FILTERS["release_checks"](served, "/health", "<html")
    assert [check["name"] for check in checks] == ["production health", "production version"]
    served["urls"]["test"] = "http://lb:8080"
    assert FILTERS["release_checks"](served, "/health", "<html", [])[0]["name"] == "production health"
    assert (
        FILTERS["release_checks"](served, "/health", "<html", ["127.0.0.1/32"])[0]["name"]
        == "test listener health"
    )
    lines = FILTERS["release_summary"](
        {
            "plan": plan,
            "served": served,
            "project": "app",
            "environment": "prod",
            "phases": {},
            "outcome": "succeeded",
        }
    )
    assert lines[0].startswith("release        20261204T211500Z-v2  SUCCEEDED")
    assert FILTERS["release_phase_seconds"]([{"phase": "preflight", "at": 0}])["preflight"] > 0
