"""The inventories hold only what differs from the roles' defaults (docs/inventories.md). The one exception is
a setting the cost estimate reads from the inventory alone (roles/release/vars/main.yml,
release_cost_settings, which does not see role defaults) whose estimate default differs from the role's."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.macroai.deploy.plugins.module_utils._cost import CostInputs

REPO_ROOT = Path(__file__).resolve().parents[3]
ROLES = ("networking", "data", "compute", "edge", "cost", "release")
INVENTORIES = ("hobby", "enhanced-hobby", "enterprise", "sandbox")


def role_defaults() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for role in ROLES:
        merged.update(
            yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}
        )
    return merged


def estimate_defaults_by_variable() -> dict[str, Any]:
    """Variable name to the cost estimate's own default for the input the variable feeds."""
    mapping = yaml.safe_load((REPO_ROOT / "roles" / "release" / "vars" / "main.yml").read_text())
    own = {f.name: f.default for f in fields(CostInputs)}
    found = {}
    for option, template in mapping["release_cost_settings"].items():
        first = re.search(r"release_cost_source\.([a-z_0-9]+)", str(template))
        if first and option in own:
            found[first.group(1)] = own[option]
    return found


def same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_an_inventory_sets_only_what_differs_from_the_role_defaults(inventory: str) -> None:
    defaults = role_defaults()
    estimate = estimate_defaults_by_variable()
    assert {"data_elasticache_num_nodes", "compute_task_cpu"} <= set(estimate)
    redundant = []
    for path in sorted((REPO_ROOT / "inventories" / inventory / "group_vars" / "all").glob("*.yml")):
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            if name in defaults and same(value, defaults[name]):
                read_by_estimate_otherwise = name in estimate and estimate[name] != value
                if not read_by_estimate_otherwise:
                    redundant.append(f"{path.name}: {name}={value!r}")
    assert redundant == [], f"equal to the role default, drop them: {redundant}"
