"""examples/ci/deploy.yml, the GitHub Actions workflow: the seed's triggers and inputs, approval through an
environment, OIDC credentials, and ansible-playbook commands that name this repository's playbooks,
inventories and documented variables."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / "examples" / "ci" / "deploy.yml"
# The release's CI inputs, unprefixed, documented in roles/release/defaults/main.yml.
CI_VARS = {"deployment_type", "force_rebuild", "skip_tests", "approve", "to_release"}
# rollback.yml at the top imports playbooks/rollback.yml (DESIGN.md); both are being written (issue #6).
ROLLBACK = ("rollback.yml", "playbooks/rollback.yml")
SECRET_VARS = {"data_neon_api_key", "data_redis_url", "release_webhook_url"}
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")


@dataclass
class Command:
    job: str
    step: dict[str, Any]
    playbook: str = ""
    inventories: list[str] = field(default_factory=list)
    extra_vars: dict[str, str] = field(default_factory=dict)
    var_files: list[str] = field(default_factory=list)


def load() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow["on"]  # quoted in the file: YAML 1.1 would read a bare on as true


def parse(job: str, step: dict[str, Any], text: str) -> Command:
    words = shlex.split(EXPRESSION.sub("EXPR", text))
    assert words[0] == "ansible-playbook"
    command = Command(job, step)
    words = iter(words[1:])
    for word in words:
        if word in ("-i", "--inventory"):
            command.inventories.append(next(words))
        elif word in ("-e", "--extra-vars"):
            value = next(words)
            if value.startswith("@"):
                command.var_files.append(value[1:])
            else:
                name, _, rest = value.partition("=")
                command.extra_vars[name] = rest
        elif word.startswith("-"):
            pytest.fail(f"{job}: ansible-playbook option {word} is not checked by this test")
        else:
            assert not command.playbook, f"{job}: two playbooks in one command: {text}"
            command.playbook = word
    return command


def commands(workflow: dict[str, Any]) -> list[Command]:
    found = []
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            script = str(step.get("run") or "").replace("\\\n", " ")
            for line in script.splitlines():
                if line.strip().startswith("ansible-playbook"):
                    found.append(parse(job_name, step, line.strip()))
    return found


def documented_vars() -> set[str]:
    """Every variable a role documents: the keys of roles/*/defaults/main.yml (each commented there)."""
    names: set[str] = set()
    for defaults in REPO_ROOT.glob("roles/*/defaults/main.yml"):
        names |= set(yaml.safe_load(defaults.read_text()) or {})
    return names


def default_of(expression: str) -> str:
    """The literal fallback of ``${{ vars.X || 'default' }}``."""
    found = re.search(r"\|\|\s*'([^']*)'\s*}}", expression)
    assert found, f"no default in {expression}"
    return found.group(1)


def test_push_to_main_on_the_apps_paths_triggers_it() -> None:
    push = triggers(load())["push"]
    assert push["branches"] == ["main"]
    assert set(push["paths"]) == {
        "infrastructure/**",
        "apps/express-api/**",
        "apps/client-ui/**",
        ".github/workflows/deploy-production.yml",
    }


def test_manual_runs_take_the_seeds_inputs() -> None:
    inputs = triggers(load())["workflow_dispatch"]["inputs"]
    kind = inputs["deployment-type"]
    assert (kind["type"], kind["required"], kind["default"]) == ("choice", True, "standard")
    assert kind["options"] == ["standard", "hotfix", "rollback"]
    for name in ("force-rebuild", "skip-tests"):
        assert (inputs[name]["type"], inputs[name]["default"]) == ("boolean", False), name
    assert inputs["to-release"]["type"] == "string" and not inputs["to-release"].get("required")
    assert set(inputs) == {"deployment-type", "force-rebuild", "skip-tests", "to-release"}


def test_inputs_reach_the_playbooks_through_the_environment() -> None:
    workflow = load()
    env = workflow["env"]
    # inputs pass through env, never spliced into a script (no script injection); push events get defaults
    assert env["DEPLOYMENT_TYPE"] == "${{ inputs.deployment-type || 'standard' }}"
    assert env["FORCE_REBUILD"] == "${{ inputs.force-rebuild || false }}"
    assert env["SKIP_TESTS"] == "${{ inputs.skip-tests || false }}"
    for command in commands(workflow):
        assert "inputs." not in str(command.step["run"]), command.step["name"]
    by_playbook = {command.playbook: command for command in commands(workflow)}
    release = by_playbook["playbooks/deploy.yml"]
    assert release.extra_vars["approve"] == "true"
    assert release.extra_vars["deployment_type"] == "$DEPLOYMENT_TYPE"
    assert release.extra_vars["force_rebuild"] == "$FORCE_REBUILD"
    assert release.extra_vars["skip_tests"] == "$SKIP_TESTS"
    assert release.step["if"] == "env.DEPLOYMENT_TYPE != 'rollback'"
    rollback = by_playbook["rollback.yml"]
    assert rollback.extra_vars == {"to_release": "$TO_RELEASE"}
    assert rollback.step["env"]["TO_RELEASE"] == "${{ inputs.to-release }}"
    assert rollback.step["if"] == "env.DEPLOYMENT_TYPE == 'rollback'"


def test_each_command_names_a_playbook_and_inventory_of_this_repository() -> None:
    workflow = load()
    found = commands(workflow)
    assert sorted(command.playbook for command in found) == ["playbooks/deploy.yml", "rollback.yml"]
    rollback_written = any((REPO_ROOT / path).is_file() for path in ROLLBACK)
    for command in found:
        if command.playbook in ROLLBACK and not rollback_written:
            # Not in the repository yet (issue #6, item 4): only its documented name can be checked.
            assert command.playbook == "rollback.yml"
        else:
            assert (REPO_ROOT / command.playbook).is_file(), command.playbook
        assert command.inventories == ["inventories/$DEPLOY_SCALE"], command.inventories
    scale = default_of(workflow["env"]["DEPLOY_SCALE"])
    assert (REPO_ROOT / "inventories" / scale / "hosts.yml").is_file(), scale


def test_every_variable_is_one_the_collection_documents() -> None:
    documented = documented_vars()
    assert documented >= CI_VARS, sorted(CI_VARS - documented)
    for command in commands(load()):
        unknown = set(command.extra_vars) - documented
        assert not unknown, f"{command.playbook}: -e {sorted(unknown)} are not documented variables"
        # secrets go through the extra-vars file, never the command line (ps, the log)
        assert not set(command.extra_vars) & SECRET_VARS
        assert command.var_files == ["$RUNNER_TEMP/secrets.json"]


def test_the_secrets_file_holds_documented_variables_from_github_secrets() -> None:
    workflow = load()
    (step,) = [
        s
        for s in workflow["jobs"]["release"]["steps"]
        if '> "$RUNNER_TEMP/secrets.json"' in str(s.get("run"))
    ]
    names = dict(re.findall(r'"(\w+)": "(\w+)"', step["run"]))
    assert set(names) >= SECRET_VARS
    assert not set(names) - documented_vars(), sorted(set(names) - documented_vars())
    for env_name in names.values():
        assert step["env"][env_name] == f"${{{{ secrets.{env_name} }}}}"
    assert "umask 077" in step["run"]


def test_production_needs_an_approved_environment_and_oidc_credentials() -> None:
    workflow = load()
    text = WORKFLOW.read_text()
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text
    for command in commands(workflow):
        job = workflow["jobs"][command.job]
        assert job["environment"] == "production"  # required reviewers: the approval behind approve=true
    for name, job in workflow["jobs"].items():
        uses = [step.get("uses", "") for step in job.get("steps", [])]
        if any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses):
            assert job["permissions"]["id-token"] == "write", name
            for step in job["steps"]:
                if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    assert step["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_rollback_skips_the_build_and_a_failed_build_stops_the_release() -> None:
    jobs = load()["jobs"]
    assert "inputs.deployment-type != 'rollback'" in jobs["checks"]["if"]
    assert jobs["build"]["needs"] == "checks"
    assert jobs["release"]["needs"] == "build"
    assert "!failure()" in jobs["release"]["if"] and "!cancelled()" in jobs["release"]["if"]
    # only main deploys: build runs only after checks, which (like release) requires it
    for name in ("checks", "release"):
        assert "github.ref == 'refs/heads/main'" in jobs[name]["if"], name
