"""The settings fingerprint: what is fingerprinted (the roles' specs less the exclusions and the secrets), how
values hash (by the spec's type, defaults when unset), and which variables a release names as changed."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.macroai.deploy.plugins.filter.release_settings import (
    EXCLUDED,
    REASON_NAMES,
    ROLES,
    FilterModule,
    release_settings_changes,
    release_settings_fingerprint,
    release_settings_reason,
    release_settings_variables,
    role_options,
    secret_options,
)
from ansible_collections.macroai.deploy.plugins.module_utils._release_store import normalise_entry

NAMES = release_settings_variables()
DEFAULT = release_settings_fingerprint({})


def hashes(fingerprint: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in fingerprint)


def test_the_filters_are_registered() -> None:
    assert set(FilterModule().filters()) == {
        "release_settings_variables",
        "release_settings_fingerprint",
        "release_settings_reason",
    }


def test_every_exclusion_names_an_option_of_the_roles() -> None:
    options = {name for role in ROLES for name in role_options(role)}
    assert set(EXCLUDED) <= options, sorted(set(EXCLUDED) - options)


def test_the_infrastructure_settings_are_fingerprinted_and_the_per_release_knobs_are_not() -> None:
    for name in (
        "deploy_project",
        "deploy_scale",
        "aws_region",
        "compute_desired_count",
        "compute_task_cpu",
        "compute_log_retention_days",
        "compute_autoscaling_max",
        "compute_secrets",  # references (SSM names, ARNs), not values
        "networking_az_count",
        "data_rds_instance_class",
        "edge_waf_enabled",
    ):
        assert name in NAMES, name
    for name in (
        "compute_image_tag",
        "compute_release_poll_seconds",
        "compute_bake_time_minutes",
        "compute_canary_bake_minutes",
        "data_wait_timeout_seconds",
        "edge_client_source",
        "edge_release_wait_timeout",
        "networking",
        "compute_plan",
    ):
        assert name not in NAMES, name
    assert sorted(NAMES) == NAMES and len(NAMES) == len(set(NAMES))


def test_secrets_are_never_fingerprinted_not_even_hashed() -> None:
    assert {"data_neon_api_key", "data_redis_url"} <= set(secret_options())
    given = {"data_neon_api_key": "neon-key", "data_redis_url": "rediss://default:pw@host:6379"}
    fingerprint = release_settings_fingerprint(given)
    assert fingerprint == DEFAULT  # a secret changing changes nothing either
    assert not any(item.startswith(("data_neon_api_key=", "data_redis_url=")) for item in fingerprint)


def test_the_ledger_takes_the_fingerprint_and_it_stays_small() -> None:
    assert normalise_entry({"settings": DEFAULT})["settings"] == DEFAULT  # no secret-looking field
    assert sum(len(item) for item in DEFAULT) < 4000


def test_one_entry_per_variable_named_and_hashed_short() -> None:
    assert list(hashes(DEFAULT)) == NAMES
    assert all(len(digest) == 12 and int(digest, 16) >= 0 for digest in hashes(DEFAULT).values())


@pytest.mark.parametrize(
    ("name", "given", "same_as"),
    [
        ("compute_desired_count", "2", 2),  # -e gives strings; the spec's type decides
        ("compute_desired_count", 2.0, 2),
        ("networking_tasks_in_public_subnets", "yes", True),
        ("data_neon_autoscaling_max_cu", "1", 1.0),
        ("edge_branch", 5, "5"),
        ("compute_environment", {"B": "2", "A": "1"}, {"A": "1", "B": "2"}),
    ],
)
def test_values_hash_by_the_specs_type(name: str, given: object, same_as: object) -> None:
    assert release_settings_fingerprint({name: given}) == release_settings_fingerprint({name: same_as})


def test_an_unset_variable_hashes_as_its_default_and_a_changed_one_differs() -> None:
    assert release_settings_fingerprint({"compute_log_retention_days": 14}) == DEFAULT  # the spec's default
    changed = release_settings_fingerprint({"compute_log_retention_days": 30})
    assert release_settings_changes(changed, DEFAULT) == ["compute_log_retention_days"]
    # The name is in the hash: two variables with one value do not show as equal.
    one = hashes(release_settings_fingerprint({"compute_autoscaling_min": 3, "compute_autoscaling_max": 3}))
    assert one["compute_autoscaling_min"] != one["compute_autoscaling_max"]


def test_names_that_are_not_fingerprinted_are_ignored() -> None:
    given = {"compute_image_tag": "v9", "compute_bake_time_minutes": 20, "something_else": 1}
    assert release_settings_fingerprint(given) == DEFAULT
    with pytest.raises(AnsibleFilterError, match="mapping"):
        release_settings_fingerprint(["compute_desired_count"])


def test_changes_name_every_variable_that_differs_appears_or_disappears() -> None:
    now = release_settings_fingerprint({"compute_desired_count": 3, "networking_az_count": 3})
    before = DEFAULT + ["retired_option=0123456789ab"]
    assert release_settings_changes(now, before) == [
        "compute_desired_count",
        "networking_az_count",
        "retired_option",
    ]
    assert release_settings_changes(now, dict(hashes(now))) == []  # a mapping reads the same
    with pytest.raises(AnsibleFilterError, match="name=hash"):
        release_settings_changes(now, ["no equals sign"])


def test_reasons() -> None:
    changed = release_settings_fingerprint({"compute_desired_count": 3, "networking_az_count": 3})
    last = {"release_id": "20261127T120000Z-abc1234", "settings": DEFAULT}
    assert release_settings_reason(changed, last) == (
        "settings changed since 20261127T120000Z-abc1234: compute_desired_count, networking_az_count"
    )
    assert release_settings_reason(DEFAULT, last) == ""  # same settings: nothing new
    assert release_settings_reason(changed, {}) == ""  # no earlier release: the first converges anyway
    assert release_settings_reason(changed, None) == ""
    for older in ({"release_id": "old"}, {"release_id": "old", "settings": []}):
        assert release_settings_reason(DEFAULT, older) == "no settings fingerprint in the last release"


def test_a_long_list_of_changes_is_cut_short() -> None:
    many = release_settings_fingerprint({name: "changed" for name in NAMES[: REASON_NAMES + 3]})
    reason = release_settings_reason(many, {"release_id": "r", "settings": DEFAULT})
    assert reason.endswith(" and 3 more") and reason.count(", ") == REASON_NAMES - 1
