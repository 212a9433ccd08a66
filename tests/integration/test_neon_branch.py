"""macroai.deploy.neon_branch through ansible-playbook against the sandbox's Neon emulator.

The tests run in file order inside one Neon project of their own (created through the emulator's API and
deleted at the end), so the seeded project and other tests' data are never touched. Its default branch
``main`` plays production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"nb{uuid.uuid4().hex[:6]}"
API_KEY = f"napi_{uuid.uuid4().hex}"
CHECKSUM = "SELECT count(*), md5(coalesce(string_agg(id || ':' || note, ',' ORDER BY id), '')) FROM orders"


class Neon:
    """A bare client of the emulator, for setting up and checking what the module did."""

    def __init__(self, base_url: str, project_id: str = "") -> None:
        self.base_url = base_url
        self.project_id = project_id

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {API_KEY}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path}: {err.code} {err.read().decode()}") from err

    def project(self, path: str = "") -> str:
        return f"/projects/{self.project_id}{path}"

    def branch(self, name: str) -> dict[str, Any] | None:
        branches = self.call("GET", self.project(f"/branches?search={name}"))["branches"]
        return next((b for b in branches if b["name"] == name), None)

    def uri(self, name: str) -> str:
        branch = self.branch(name)
        assert branch is not None, name
        query = f"?branch_id={branch['id']}&database_name=neondb&role_name=neondb_owner"
        return self.call("GET", self.project("/connection_uri" + query))["uri"]

    def password(self) -> str:
        main = self.branch("main")
        assert main is not None
        return self.call("GET", self.project(f"/branches/{main['id']}/roles/neondb_owner/reveal_password"))[
            "password"
        ]

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until no operation of the project is still running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            operations = self.call("GET", self.project("/operations"))["operations"]
            if all(op["status"] == "finished" for op in operations):
                return
            time.sleep(0.1)
        raise AssertionError("the project's operations did not finish")


@pytest.fixture(scope="module")
def neon(sandbox: SandboxClient) -> Iterator[Neon]:
    client = Neon(sandbox.neon_url())  # the emulator is part of the sandbox: its absence is a failure
    created = client.call("POST", "/projects", {"project": {"name": PREFIX}})
    client.project_id = created["project"]["id"]
    client.settle()
    yield client
    client.call("DELETE", client.project())


@pytest.fixture
def faults(sandbox: SandboxClient) -> Iterator[SandboxClient]:
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


def playbook(neon: Neon, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    connection = {
        "api_key": API_KEY,
        "base_url": neon.base_url,
        "project_id": neon.project_id,
        "poll_interval": 0.25,
    }
    return [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "module_defaults": {"macroai.deploy.neon_branch": connection},
            "tasks": tasks,
        }
    ]


def run_playbook(
    tmp_path: Path, plays: list[dict[str, Any]], *flags: str, callback: str = "ansible.posix.json"
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"play-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(json.dumps(plays))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": callback,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(path), *flags],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def play(neon: Neon, tmp_path: Path, args: dict[str, Any], *flags: str) -> dict[str, Any]:
    """Run neon_branch once; its result."""
    completed = run_playbook(tmp_path, playbook(neon, [{"macroai.deploy.neon_branch": args}]), *flags)
    try:
        return json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        pytest.fail(f"ansible-playbook gave no result:\n{completed.stdout}\n{completed.stderr}")


def checksum(uri: str) -> tuple[int, str]:
    with psycopg.connect(uri) as conn:
        row = conn.execute(CHECKSUM).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def neon_writes(sandbox: SandboxClient, since: float) -> list[dict[str, Any]]:
    return sandbox.requests(service="neon", write=True, since=since)


def test_check_mode_creates_nothing(neon: Neon, sandbox: SandboxClient, tmp_path: Path) -> None:
    started = time.time()
    result = play(neon, tmp_path, {"name": f"{PREFIX}-dev", "endpoint": {}}, "--check")
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert neon_writes(sandbox, started) == []
    assert neon.branch(f"{PREFIX}-dev") is None


def test_create_then_rerun_changes_nothing(neon: Neon, sandbox: SandboxClient, tmp_path: Path) -> None:
    args = {"name": f"{PREFIX}-dev", "endpoint": {"autoscaling_limit_max_cu": 1}}
    started = time.monotonic()
    created = play(neon, tmp_path, args)
    elapsed = time.monotonic() - started
    assert not created.get("failed"), created
    assert created["changed"] is True
    assert created["branch"]["current_state"] == "ready"
    assert (
        created["endpoint"]["type"] == "read_write" and created["endpoint"]["autoscaling_limit_max_cu"] == 1
    )
    assert [op["action"] for op in created["operations"]] == ["create_branch", "start_compute"]
    assert {op["status"] for op in created["operations"]} == {"finished"}
    print(f"\nneon_branch create through ansible-playbook: {elapsed:.2f}s")
    since = time.time()
    assert play(neon, tmp_path, args)["changed"] is False
    assert play(neon, tmp_path, args, "--check")["changed"] is False
    assert neon_writes(sandbox, since) == []


def test_survives_three_423s_in_a_row_and_a_429(neon: Neon, faults: SandboxClient, tmp_path: Path) -> None:
    faults.add_fault(service="neon", code="Locked", status=423, action="CreateProjectBranch", count=3)
    faults.add_fault(
        service="neon", code="TooManyRequests", status=429, action="CreateProjectBranch", count=1
    )
    started = time.time()
    result = play(neon, tmp_path, {"name": f"{PREFIX}-busy"})
    assert not result.get("failed"), result
    assert result["changed"] is True and result["api_retries"] == 4
    creates = [
        e for e in faults.requests(service="neon", since=started) if e["operation"] == "CreateProjectBranch"
    ]
    assert [e["status"] for e in creates] == [423, 423, 423, 429, 201]
    assert neon.branch(f"{PREFIX}-busy") is not None


def test_a_branch_of_production_holds_its_rows(neon: Neon, tmp_path: Path) -> None:
    with psycopg.connect(neon.uri("main"), autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT n, 'order ' || n FROM generate_series(1, 500) AS n")
    uri_file = tmp_path / "uri"
    task = {
        "macroai.deploy.neon_branch": {
            "name": f"{PREFIX}-preview",
            "parent": "main",
            "endpoint": {},
            "return_connection_uri": True,
        },
        "no_log": True,
        "register": "preview",
    }
    keep = {"ansible.builtin.copy": {"content": "{{ preview.connection_uri }}", "dest": str(uri_file)}}
    completed = run_playbook(tmp_path, playbook(neon, [task, {**keep, "no_log": True}]))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    uri = uri_file.read_text()
    assert uri.startswith("postgresql://")
    assert checksum(uri) == checksum(neon.uri("main"))


def test_connection_uri_needs_no_log(neon: Neon, tmp_path: Path) -> None:
    result = play(neon, tmp_path, {"name": f"{PREFIX}-preview", "return_connection_uri": True})
    assert result["failed"] is True
    assert "no_log" in result["msg"]


def test_restore_production_from_itself_at_the_recorded_lsn(neon: Neon, tmp_path: Path) -> None:
    production = neon.uri("main")
    before = checksum(production)
    restore_point = play(neon, tmp_path, {"name": f"{PREFIX}-pre-migrate", "parent": "main"})
    assert restore_point["changed"] is True and restore_point["lsn"]
    with psycopg.connect(production, autocommit=True) as conn:  # a destructive migration
        conn.execute("DELETE FROM orders WHERE id % 3 = 0")
        conn.execute("UPDATE orders SET note = 'mangled'")
    assert checksum(production) != before
    args = {
        "name": "main",
        "state": "restored",
        "source_lsn": restore_point["lsn"],
        "preserve_under_name": f"{PREFIX}-main-before-rollback",
    }
    assert play(neon, tmp_path, args, "--check")["changed"] is True
    assert checksum(production) != before  # check mode restored nothing
    started = time.monotonic()
    restored = play(neon, tmp_path, args)
    elapsed = time.monotonic() - started
    assert not restored.get("failed"), restored
    assert restored["changed"] is True and restored["branch"]["current_state"] == "ready"
    assert restored["preserved_branch"]["name"] == f"{PREFIX}-main-before-rollback"
    print(f"\nneon_branch restore through ansible-playbook: {elapsed:.2f}s")
    assert checksum(production) == before  # the same connection string, the rows back
    preserved = restored["preserved_branch"]["id"]
    neon.call(
        "POST", neon.project("/endpoints"), {"endpoint": {"branch_id": preserved, "type": "read_write"}}
    )
    neon.settle()
    assert checksum(neon.uri(f"{PREFIX}-main-before-rollback"))[0] < before[0]  # the migrated state, kept
    assert play(neon, tmp_path, args)["changed"] is False


def test_delete_twice(neon: Neon, tmp_path: Path) -> None:
    args = {"name": f"{PREFIX}-busy", "state": "absent"}
    first = play(neon, tmp_path, args)
    assert first["changed"] is True and not first.get("failed"), first
    second = play(neon, tmp_path, args)
    assert second["changed"] is False and not second.get("failed"), second
    assert neon.branch(f"{PREFIX}-busy") is None


@pytest.mark.parametrize("name", [" leading-space", "tab\tinside", "x" * 257])
def test_an_invalid_name_fails_naming_the_option(
    neon: Neon, sandbox: SandboxClient, tmp_path: Path, name: str
) -> None:
    started = time.time()
    result = play(neon, tmp_path, {"name": name})
    assert result["failed"] is True
    assert result["msg"].startswith("name: ")
    assert sandbox.requests(service="neon", since=started) == []


def test_vvv_output_holds_no_secret(neon: Neon, tmp_path: Path) -> None:
    tasks = [
        {"macroai.deploy.neon_branch": {"name": f"{PREFIX}-verbose", "endpoint": {}}},
        {
            "macroai.deploy.neon_branch": {"name": f"{PREFIX}-verbose", "return_connection_uri": True},
            "no_log": True,
            "register": "verbose",
        },
        {
            "ansible.builtin.assert": {"that": ["verbose.connection_uri is match('postgresql://')"]},
            "no_log": True,
        },
        {"macroai.deploy.neon_branch": {"name": f"{PREFIX}-verbose", "state": "absent"}},
        {
            "macroai.deploy.neon_branch": {
                "name": f"{PREFIX}-missing",
                "state": "restored",
                "source_lsn": "0/1",
            }
        },
    ]
    completed = run_playbook(tmp_path, playbook(neon, tasks), "-vvv", callback="default")
    output = completed.stdout + completed.stderr
    assert "preserve_under_name" in output  # the last task failed, and said why
    assert "PLAY RECAP" in output
    password = neon.password()
    for secret in (API_KEY, password, neon.uri("main")):
        assert secret not in output
