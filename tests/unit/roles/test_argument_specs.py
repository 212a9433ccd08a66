"""One source per setting: each role's argument specs and its defaults/main.yml agree, every entry point the
playbooks call has a spec, and an option shared by entry points is specified once (the same in each)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

REPO_ROOT = Path(__file__).resolve().parents[3]
ROLES = ("networking", "data", "compute", "edge")
COLLECTION = "macroai.deploy."

# Options with no default in the spec although defaults/main.yml sets them, and why.
DEFAULT_ONLY_IN_DEFAULTS = {
    "data_neon_plan": "defaults/main.yml derives it from cost_neon_plan, a template the spec cannot hold",
}
# Options, not required, with no default anywhere: unset means something, which the spec says.
NO_DEFAULT = {
    "networking": {"networking_plan"},
    "data": {"networking", "release_id", "release_migrate", "data_migration_environment"},
    "compute": {"compute_plan"},
    "edge": set(),
}


def specs(role: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"
    ]


def defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def options(role: str) -> dict[str, dict[str, Any]]:
    """Every option of every entry point of ``role``, by name (the first entry point's spec)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in specs(role).values():
        for name, spec in entry.get("options", {}).items():
            found.setdefault(name, spec)
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_spec_default_is_the_role_default(role: str) -> None:
    role_defaults = defaults(role)
    wrong = {
        name: (spec["default"], role_defaults.get(name, "<not in defaults/main.yml>"))
        for name, spec in options(role).items()
        if "default" in spec
        and (
            name not in role_defaults
            or role_defaults[name] != spec["default"]
            or type(role_defaults[name]) is not type(spec["default"])
        )
    }
    assert wrong == {}, f"spec default, defaults/main.yml value: {wrong}"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_default_is_an_option_with_that_default(role: str) -> None:
    role_options = options(role)
    missing = sorted(name for name in defaults(role) if name not in role_options)
    assert missing == [], f"in defaults/main.yml but in no entry point's argument spec: {missing}"
    undeclared = sorted(
        name
        for name in defaults(role)
        if "default" not in role_options[name] and name not in DEFAULT_ONLY_IN_DEFAULTS
    )
    assert undeclared == [], f"in defaults/main.yml but with no default in the argument spec: {undeclared}"


@pytest.mark.parametrize("role", ROLES)
def test_options_without_a_default_are_the_listed_ones(role: str) -> None:
    without = {
        name
        for name, spec in options(role).items()
        if "default" not in spec and not spec.get("required") and name not in DEFAULT_ONLY_IN_DEFAULTS
    }
    assert without == NO_DEFAULT[role]


@pytest.mark.parametrize("role", ROLES)
def test_an_option_shared_by_entry_points_has_one_spec(role: str) -> None:
    first = options(role)
    differing = sorted(
        f"{entry_name}.{name}"
        for entry_name, entry in specs(role).items()
        for name, spec in entry.get("options", {}).items()
        if spec != first[name]
    )
    assert differing == [], f"specified differently in these entry points: {differing}"


@pytest.mark.parametrize("role", ROLES)
def test_the_role_defaults_pass_the_role_spec(role: str) -> None:
    """Each entry point accepts the role's defaults (templated ones aside), the required options given."""
    role_defaults = {k: v for k, v in defaults(role).items() if "{{" not in str(v)}
    for entry_name, entry in specs(role).items():
        spec = {
            name: {
                k: v
                for k, v in option.items()
                if k in ("type", "elements", "choices", "required", "no_log", "default")
            }
            for name, option in entry.get("options", {}).items()
        }
        required = {
            name: {"str": "x", "dict": {}, "list": [], "int": 1, "bool": True}[option.get("type", "str")]
            for name, option in spec.items()
            if option.get("required")
        }
        given = {**required, **{k: v for k, v in role_defaults.items() if k in spec}}
        result = ArgumentSpecValidator(spec).validate(given)
        assert result.error_messages == [], (entry_name, result.error_messages)


def called_entry_points() -> set[tuple[str, str]]:
    """(role, tasks file) for every static or dynamic inclusion of an infrastructure role in the playbooks and
    roles: ``tasks_from`` of import_role / include_role, and release/phase.yml's release_phase_role with its
    release_phase_tasks (main when unset)."""
    found: set[tuple[str, str]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        for key in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
            call = node.get(key)
            if isinstance(call, dict) and str(call.get("name", "")).startswith(COLLECTION):
                found.add((call["name"][len(COLLECTION) :], call.get("tasks_from", "main")))
        phase_vars = node.get("vars") or {}
        if isinstance(phase_vars, dict) and "release_phase_role" in phase_vars:
            found.add(
                (
                    phase_vars["release_phase_role"][len(COLLECTION) :],
                    phase_vars.get("release_phase_tasks", "main"),
                )
            )
        for value in node.values():
            walk(value)

    for path in [*REPO_ROOT.glob("playbooks/*.yml"), *REPO_ROOT.glob("roles/*/tasks/*.yml")]:
        walk(yaml.safe_load(path.read_text()))
    return {(role, tasks) for role, tasks in found if role in ROLES}


def test_the_playbooks_call_the_entry_points_we_know() -> None:
    """So that the next test cannot pass by finding nothing."""
    assert {
        ("data", "migrate"),
        ("data", "validate"),
        ("compute", "release"),
        ("edge", "main"),
    } <= called_entry_points()


@pytest.mark.parametrize("role, tasks", sorted(called_entry_points()))
def test_every_entry_point_the_playbooks_call_has_an_argument_spec(role: str, tasks: str) -> None:
    assert (REPO_ROOT / "roles" / role / "tasks" / f"{tasks}.yml").is_file()
    assert tasks in specs(role), f"roles/{role}/meta/argument_specs.yml has no {tasks!r} entry point"
