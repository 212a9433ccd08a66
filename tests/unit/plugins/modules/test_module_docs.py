"""Every module's documentation renders through ansible-doc, with its shared fragments, and declares what it
supports (check mode, diff mode, idempotency, the action group) in line with what its code does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py"))
SUPPORT = {"full", "partial", "none", "N/A"}


@cache
def rendered() -> dict[str, dict[str, Any]]:
    """ansible-doc's JSON of every module, by short name (one process for all)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    names = [f"macroai.deploy.{name}" for name in MODULES]
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json", *names],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return {name.rsplit(".", 1)[1]: entry["doc"] for name, entry in json.loads(run.stdout).items()}


def source(name: str) -> str:
    return (REPO_ROOT / "plugins" / "modules" / f"{name}.py").read_text()


def aws_group() -> set[str]:
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    return {entry for entry in runtime["action_groups"]["aws"] if isinstance(entry, str)}


def test_every_module_renders() -> None:
    assert sorted(rendered()) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_the_module_declares_check_diff_and_idempotent_support(name: str) -> None:
    attributes = rendered()[name]["attributes"]
    for attribute in ("check_mode", "diff_mode", "idempotent"):
        assert attributes[attribute]["support"] in SUPPORT, attribute
        assert attributes[attribute]["description"], attribute  # from macroai.deploy.attributes
    checks = "supports_check_mode=True" in source(name)
    assert (attributes["check_mode"]["support"] in {"full", "partial"}) == checks
    # A module shows a diff itself (module._diff), or hands one to _module.run_module to show on --diff.
    code = source(name).split('RETURN = r"""', 1)[-1].split('"""', 1)[-1]
    hands_over = "run_module(" in code and re.search(r"\bdiff\b", code) is not None
    diffs = re.search(r"module\._diff\b", code) is not None or hands_over
    assert (attributes["diff_mode"]["support"] in {"full", "partial"}) == diffs


@pytest.mark.parametrize("name", MODULES)
def test_the_action_group_attribute_matches_meta_runtime(name: str) -> None:
    group = rendered()[name]["attributes"].get("action_group")
    if name in aws_group():
        assert group and group["membership"] == ["macroai.deploy.aws"] and group["support"] == "full"
    else:
        assert group is None


@pytest.mark.parametrize("option", ["wait_timeout", "poll_interval", "wait"])
def test_the_wait_options_have_one_description(option: str) -> None:
    """From macroai.deploy.wait, whichever module takes them (neon_branch words poll_interval for Neon)."""
    descriptions = {
        name: tuple(doc["options"][option]["description"])
        for name, doc in rendered().items()
        if option in doc["options"] and not (name == "neon_branch" and option == "poll_interval")
    }
    assert len(descriptions) >= 4 and len(set(descriptions.values())) == 1, descriptions


def test_the_task_definition_fields_are_the_same_in_both_ecs_modules() -> None:
    released = rendered()["ecs_bluegreen"]["options"]["task_definition"]["suboptions"]
    run = rendered()["ecs_run_task"]["options"]["task_definition_spec"]["suboptions"]
    assert released == run and {"family", "container_definitions"} <= set(released)
