"""Helpers the integration tests share: AWS clients on the sandbox, and ansible-playbook runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from sandbox.client import SandboxClient

REGION = "eu-west-2"
REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent


def aws_client(sandbox: SandboxClient, service: str) -> Any:
    """A boto3 client for ``service`` on the sandbox, with its fake credentials."""
    return boto3.client(
        service,
        endpoint_url=sandbox.base_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def ansible_env(sandbox_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for ansible-playbook: this venv first, the project's ansible.cfg, no colour."""
    env = {
        **os.environ,
        "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "AWS_REGION": REGION,
    }
    if sandbox_url:
        env["SANDBOX_AWS_URL"] = sandbox_url
    env.update(extra)
    return env


def run_playbook(
    playbook: str | Path,
    inventories: Sequence[str | Path] = ("localhost,",),
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook PLAYBOOK -i INVENTORY... EXTRA_ARGS`` from the repo root, output captured."""
    command = [str(BIN_DIR / "ansible-playbook"), str(playbook)]
    for inventory in inventories:
        command += ["-i", str(inventory)]
    return subprocess.run(
        [*command, *extra_args],
        cwd=REPO_ROOT,
        env=env or ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def deploy(
    sandbox: SandboxClient, scale: str, *extra_args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``playbooks/deploy.yml`` for one scale's inventory with the sandbox overlay."""
    return run_playbook(
        "playbooks/deploy.yml",
        (f"inventories/{scale}", "inventories/sandbox"),
        ("-e", "approve=true", *extra_args),
        env=env or ansible_env(sandbox.base_url),
    )


def recap(output: str) -> dict[str, int]:
    """The controller's PLAY RECAP counters (ok, changed, failed, ...) from default-callback output."""
    for line in reversed(output.splitlines()):
        if line.startswith("controller") and "ok=" in line:
            return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[2:])}
    raise AssertionError(f"no PLAY RECAP line for controller in:\n{output}")


def json_result(completed: subprocess.CompletedProcess[str], task: int = 0, host: str = "localhost") -> dict:
    """One task's result from a run with the ansible.posix.json callback."""
    report = json.loads(completed.stdout)
    return report["plays"][0]["tasks"][task]["hosts"][host]
