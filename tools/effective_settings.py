#!/usr/bin/env python3
"""Each scale's effective settings: the roles' defaults overlaid with the inventory's group_vars, as Ansible
merges them (role defaults have the lowest precedence; `-i inventories/<scale> -i inventories/sandbox` puts
the sandbox overlay last), and the cost estimate's inputs, which the preflight and playbooks/cost.yml read
from the inventory's variables alone (roles/release/vars/main.yml, release_cost_settings).

    .venv/bin/python tools/effective_settings.py                  # print them, as JSON
    .venv/bin/python tools/effective_settings.py --compare REV    # the same at git revision REV, or exit 1

Templates are compared as written, not rendered.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
ROLES = ("networking", "data", "compute", "edge", "cost", "release")
SCALES = ("hobby", "enhanced-hobby", "enterprise")
COST_SOURCE = re.compile(r"release_cost_source\.([a-z_0-9]+)")

Reader = Callable[[str], "str | None"]


def worktree_reader(root: Path = REPO_ROOT) -> Reader:
    def read(path: str) -> str | None:
        file = root / path
        return file.read_text() if file.is_file() else None

    return read


def git_reader(rev: str, root: Path = REPO_ROOT) -> Reader:
    def read(path: str) -> str | None:
        shown = subprocess.run(
            ["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True, text=True, check=False
        )
        return shown.stdout if shown.returncode == 0 else None

    return read


def listing(read: Reader, rev: str | None, directory: str) -> list[str]:
    if rev is None:
        return sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / directory).glob("*.yml"))
    names = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-tree", "--name-only", f"{rev}:{directory}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(f"{directory}/{name}" for name in names if name.endswith(".yml"))


def load(read: Reader, path: str) -> dict[str, Any]:
    text = read(path)
    return (yaml.safe_load(text) or {}) if text is not None else {}


def group_vars(read: Reader, rev: str | None, inventory: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in listing(read, rev, f"inventories/{inventory}/group_vars/all"):
        merged.update(load(read, path))
    return merged


def role_defaults(read: Reader) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for role in ROLES:
        merged.update(load(read, f"roles/{role}/defaults/main.yml"))
    return merged


def cost_inputs(read: Reader, inventory_vars: dict[str, Any]) -> dict[str, Any]:
    """The cost estimate's inputs as the release's mapping reads them from the inventory's variables (unset
    ones take the estimate's own defaults, CostInputs')."""
    sys.path.insert(0, str(REPO_ROOT / ".collections"))
    from ansible_collections.macroai.deploy.plugins.module_utils._cost import CostInputs, estimate

    mapping = load(read, "roles/release/vars/main.yml")["release_cost_settings"]
    settings: dict[str, Any] = {}
    for option, template in mapping.items():
        source, *fallback = COST_SOURCE.findall(str(template))
        value = inventory_vars.get(source)
        if value is None and fallback:  # dashboards: 1 when compute_dashboards_enabled, else the default
            value = 1 if inventory_vars.get(fallback[0]) else None
        settings[option] = value
    inputs = CostInputs.from_params(settings)
    result = estimate(inputs)
    return {"inputs": asdict(inputs), "total_usd": result["total_usd"]}


def effective(read: Reader, rev: str | None = None) -> dict[str, Any]:
    defaults = role_defaults(read)
    out: dict[str, Any] = {}
    for scale in SCALES:
        for overlay in ((), ("sandbox",)):
            inventory_vars: dict[str, Any] = {}
            for inventory in (scale, *overlay):
                inventory_vars.update(group_vars(read, rev, inventory))
            name = "+".join((scale, *overlay))
            out[name] = {
                "settings": {**defaults, **inventory_vars},
                "cost": cost_inputs(read, inventory_vars),
            }
    return out


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                found.append(f"{where}: {before.get(key, '<unset>')!r} -> {after.get(key, '<unset>')!r}")
            else:
                found += differences(before[key], after[key], where)
        return found
    same = before == after and type(before) is type(after)
    return [] if same else [f"{path}: {before!r} -> {after!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--compare", metavar="REV", help="compare with the effective settings at git revision REV"
    )
    args = parser.parse_args()
    now = effective(worktree_reader())
    if not args.compare:
        print(json.dumps(now, indent=2, sort_keys=True, default=str))
        return 0
    found = differences(effective(git_reader(args.compare), args.compare), now)
    for line in found:
        print(line)
    print(f"{len(found)} difference(s) from {args.compare} in {len(now)} inventories")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
