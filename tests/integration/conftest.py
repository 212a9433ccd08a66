"""Integration fixtures: a sandbox for the whole session (started here only if it was not already up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.client import SandboxClient

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_BASE_PORT = 4640


def run_sandbox(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``python -m sandbox ARGS`` from the repo root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sandbox_status(env: dict[str, str] | None = None) -> dict:
    return json.loads(run_sandbox("status", "--json", env=env).stdout)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a sandbox of its own (port and state folder), unless one was
    chosen through SANDBOX_PORT; subprocesses (ansible-playbook, the sandbox CLI) inherit the choice."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or os.environ.get("SANDBOX_PORT"):
        return
    port = WORKER_BASE_PORT + int(worker.removeprefix("gw"))
    os.environ["SANDBOX_PORT"] = str(port)
    os.environ["SANDBOX_STATE_DIR"] = str(REPO_ROOT / ".sandbox" / "workers" / worker)
    os.environ["SANDBOX_AWS_URL"] = f"http://127.0.0.1:{port}"


# The longest files (each a chain of releases on one deployment) first: pytest-xdist's --dist loadfile hands
# files to the workers in collection order, so a long file started last would be the run's tail.
LONGEST_FIRST = (
    "test_release_flow.py",
    "test_release_recovery.py",
    "test_backend_release.py",
    "test_backend_release_enterprise.py",
    "test_data_role.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxClient]:
    """A running sandbox's admin client; `down` at the end only if this session started it."""
    started = not sandbox_status()["running"]
    if started:
        up = run_sandbox("up")
        assert up.returncode == 0, f"sandbox up failed:\n{up.stdout}\n{up.stderr}"
    status = sandbox_status()
    assert status["running"], status
    yield SandboxClient(status["endpoints"]["aws"])
    if started:
        run_sandbox("down")


@pytest.fixture
def clean_sandbox(sandbox: SandboxClient) -> SandboxClient:
    """The sandbox, reset: no AWS state, no fault rules, empty request log, no user databases."""
    sandbox.reset()
    return sandbox
