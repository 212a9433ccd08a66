"""macroai.deploy.deploy_lock and macroai.deploy.release_ledger through ansible-playbook against the sandbox's
DynamoDB (moto, whose conditional writes and transactions are real).

The tests run in file order: the lock's on one table, the ledger's on another, both under a unique prefix
and deleted at the end. Locks left by other runs are planted with boto3, as a killed controller leaves them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import BIN_DIR, REPO_ROOT, ansible_env, aws_client, json_result, play_module, run_playbook

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"rs{uuid.uuid4().hex[:6]}"
LOCK_TABLE = f"{PREFIX}-lock-releases"
LEDGER_TABLE = f"{PREFIX}-ledger-releases"
LOCK_KEY = {"pk": {"S": "lock"}, "sk": {"S": "deploy"}}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("release-store")


@pytest.fixture(scope="module")
def dynamodb(sandbox: SandboxClient) -> Iterator[Any]:
    client = aws_client(sandbox, "dynamodb")
    yield client
    for table in (LOCK_TABLE, LEDGER_TABLE):
        if table in client.list_tables()["TableNames"]:
            client.delete_table(TableName=table)


def write_play(sandbox: SandboxClient, path: Path, tasks: list[dict[str, Any]]) -> Path:
    """A play of ``tasks`` against the sandbox, as support.play_module writes one for a single task."""
    connection = {"endpoint_url": sandbox.base_url, "access_key": "testing", "secret_key": "testing"}
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "module_defaults": {"group/macroai.deploy.aws": connection},
        "tasks": tasks,
    }
    path.write_text(json.dumps([play]))
    return path


def play_tasks(sandbox: SandboxClient, scratch: Path, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several tasks in one ansible-playbook run (each ignoring errors); their results in order."""
    path = write_play(
        sandbox, scratch / f"tasks-{uuid.uuid4().hex[:6]}.yml", [dict(t, ignore_errors=True) for t in tasks]
    )
    completed = run_playbook(path, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"))
    try:
        return [json_result(completed, task=index) for index in range(len(tasks))]
    except (ValueError, KeyError, IndexError) as error:
        raise AssertionError(f"no results:\n{completed.stdout}\n{completed.stderr}") from error


def lock(sandbox: SandboxClient, scratch: Path, *flags: str, **args: Any) -> dict[str, Any]:
    return play_module(sandbox, scratch, "macroai.deploy.deploy_lock", {"table": LOCK_TABLE, **args}, *flags)


def ledger(sandbox: SandboxClient, scratch: Path, *flags: str, **args: Any) -> dict[str, Any]:
    return play_module(
        sandbox, scratch, "macroai.deploy.release_ledger", {"table": LEDGER_TABLE, **args}, *flags
    )


def dynamodb_writes(sandbox: SandboxClient, since: float) -> list[str]:
    return [r["operation"] for r in sandbox.requests(service="dynamodb", write=True, since=since)]


def plant_lock(dynamodb: Any, owner: str, host: str, pid: int, expires_in: float) -> None:
    """A lock as another run leaves it (holder on ``host`` with controller ``pid``)."""
    now = time.time()
    item = {
        "owner": {"S": owner},
        "holder": {"S": f"ci@{host}:{pid}"},
        "message": {"S": f"release {owner}"},
        "started_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))},
        "expires_at": {"N": str(int(now + expires_in))},
        "host": {"S": host},
        "pid": {"N": str(pid)},
    }
    dynamodb.put_item(TableName=LOCK_TABLE, Item={**LOCK_KEY, **item})


def test_lock_check_mode_predicts_without_creating_the_table(sandbox, scratch, dynamodb):
    started = time.time()
    result = lock(sandbox, scratch, "--check", "--diff", owner="r1", lock_message="release r1")
    assert result["changed"] is True, result
    assert result["lock"]["held"] is True and result["lock"]["owner"] == "r1"
    assert result["diff"]["before"]["held"] is False
    assert dynamodb_writes(sandbox, started) == []
    assert LOCK_TABLE not in dynamodb.list_tables()["TableNames"]


def test_lock_acquire_creates_the_table_then_reacquire_is_unchanged(sandbox, scratch, dynamodb):
    result = lock(sandbox, scratch, owner="r1", lock_message="release r1 of abc1234", ttl_minutes=30)
    assert result["changed"] is True, result
    taken = result["lock"]
    assert (taken["owner"], taken["message"], taken["held"], taken["expired"]) == (
        "r1",
        "release r1 of abc1234",
        True,
        False,
    )
    assert taken["host"] == socket.gethostname() and taken["holder"].endswith(
        f"@{taken['host']}:{taken['pid']}"
    )
    assert result["previous"]["held"] is False
    table = dynamodb.describe_table(TableName=LOCK_TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    ttl = dynamodb.describe_time_to_live(TableName=LOCK_TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    stored = dynamodb.get_item(TableName=LOCK_TABLE, Key=LOCK_KEY)["Item"]
    assert int(stored["expires_at"]["N"]) - time.time() == pytest.approx(30 * 60, abs=60)

    started = time.time()
    again = lock(sandbox, scratch, owner="r1", lock_message="release r1 of abc1234")
    assert again["changed"] is False, again
    assert again["lock"] == taken
    assert dynamodb_writes(sandbox, started) == []


def test_lock_held_by_another_owner_is_refused_naming_holder_and_message(sandbox, scratch):
    task = {"table": LOCK_TABLE, "owner": "r2"}
    refused, not_ours = play_tasks(
        sandbox,
        scratch,
        [
            {"macroai.deploy.deploy_lock": dict(task, lock_message="release r2")},
            {"macroai.deploy.deploy_lock": dict(task, state="released")},
        ],
    )
    assert refused.get("failed") is True, refused
    for part in ("held by", "'r1'", "release r1 of abc1234", "until", "break_lock=true"):
        assert part in refused["msg"], (part, refused["msg"])
    assert refused["lock"]["owner"] == "r1"
    assert not_ours.get("failed") is True and "releases only its own lock" in not_ours["msg"], not_ours


def test_lock_release_then_release_again_is_unchanged(sandbox, scratch, dynamodb):
    released = lock(sandbox, scratch, "--diff", owner="r1", state="released")
    assert released["changed"] is True, released
    assert released["previous"]["owner"] == "r1" and released["lock"]["held"] is False
    assert released["diff"]["after"]["held"] is False
    assert "Item" not in dynamodb.get_item(TableName=LOCK_TABLE, Key=LOCK_KEY)
    again = lock(sandbox, scratch, owner="r1", state="released")
    assert again["changed"] is False, again


def test_expired_lock_of_another_host_is_refused_and_broken_explicitly(sandbox, scratch, dynamodb):
    plant_lock(dynamodb, "r0", "ci-runner-elsewhere", 4242, expires_in=-120)
    refused = lock(sandbox, scratch, owner="r3")
    assert refused.get("failed") is True, refused
    for part in ("expired at", "probably left by a killed run", "ci-runner-elsewhere", "break_lock=true"):
        assert part in refused["msg"], (part, refused["msg"])

    started = time.time()
    predicted = lock(sandbox, scratch, "--check", state="broken")
    assert predicted["changed"] is True and predicted["previous"]["owner"] == "r0", predicted
    assert dynamodb_writes(sandbox, started) == []
    broken = lock(sandbox, scratch, state="broken")
    assert broken["changed"] is True, broken
    assert (broken["previous"]["owner"], broken["previous"]["expired"], broken["lock"]["held"]) == (
        "r0",
        True,
        False,
    )
    assert "Item" not in dynamodb.get_item(TableName=LOCK_TABLE, Key=LOCK_KEY)


def test_expired_lock_of_a_dead_process_of_this_host_is_taken_over_with_a_warning(sandbox, scratch, dynamodb):
    plant_lock(dynamodb, "r0", socket.gethostname(), 99_999_999, expires_in=-120)  # no such pid
    taken = lock(sandbox, scratch, owner="r4", lock_message="release r4")
    assert taken["changed"] is True, taken
    assert taken["lock"]["owner"] == "r4" and taken["previous"]["owner"] == "r0"
    assert any("Took over" in w and "99999999" in w and "'r0'" in w for w in taken.get("warnings", [])), taken


def test_two_runs_acquiring_at_once_exactly_one_wins(sandbox, scratch, dynamodb):
    dynamodb.delete_item(TableName=LOCK_TABLE, Key=LOCK_KEY)
    runs = {
        owner: write_play(
            sandbox,
            scratch / f"race-{owner}.yml",
            [{"macroai.deploy.deploy_lock": {"table": LOCK_TABLE, "owner": owner}}],
        )
        for owner in ("r5", "r6")
    }
    processes = {
        owner: subprocess.Popen(
            [str(BIN_DIR / "ansible-playbook"), "-i", "localhost,", str(path)],
            cwd=REPO_ROOT,
            env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for owner, path in runs.items()
    }
    results = {}
    for owner, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[owner] = json.loads(stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    winners = [owner for owner, result in results.items() if not result.get("failed")]
    assert len(winners) == 1, results
    (loser,) = set(results) - set(winners)
    assert "held by" in results[loser]["msg"] and f"'{winners[0]}'" in results[loser]["msg"], results[loser]
    stored = dynamodb.get_item(TableName=LOCK_TABLE, Key=LOCK_KEY)["Item"]
    assert stored["owner"]["S"] == winners[0]
    # The holder's pid is the controlling ansible-playbook's, not the module's or a task worker's.
    assert int(stored["pid"]["N"]) == processes[winners[0]].pid


RELEASES = {  # release id: (started_at, outcome); recorded oldest first
    "r1": ("2026-11-01T10:00:00Z", "succeeded"),
    "r2": ("2026-11-02T10:00:00Z", "failed"),
    "r3": ("2026-11-03T10:00:00Z", "succeeded"),
    "r4": ("2026-11-04T10:00:00Z", "in_progress"),
}


def test_ledger_check_mode_predicts_without_creating_the_table(sandbox, scratch, dynamodb):
    started = time.time()
    entry = {"commit": "c1", "started_at": RELEASES["r1"][0], "outcome": "succeeded"}
    result = ledger(sandbox, scratch, "--check", release_id="r1", entry=entry)
    assert result["changed"] is True, result
    assert result["release"] == {"release_id": "r1", **entry}
    assert dynamodb_writes(sandbox, started) == []
    assert LEDGER_TABLE not in dynamodb.list_tables()["TableNames"]


def test_ledger_present_is_idempotent_and_merges_phases(sandbox, scratch):
    entry = {
        "commit": "c1",
        "base_commit": "c0",
        "deployment_type": "standard",
        "scope": {"backend": True, "frontend": False},
        "reasons": {"backend": ["api/src/app.ts changed"]},
        "task_definition_arn": "arn:aws:ecs:eu-west-2:123456789012:task-definition/api:7",
        "client_artifact_url": "s3://releases/client/r1.zip",
        "restore_point": {"branch_id": "br-restore-r1", "lsn": "0/1A2B3C"},
        "phases": {"preflight": 3.5, "migrate": 12},
        "outcome": "succeeded",
        "started_at": RELEASES["r1"][0],
    }
    created = ledger(sandbox, scratch, release_id="r1", entry=entry)
    assert created["changed"] is True, created
    assert created["release"] == {"release_id": "r1", **entry}

    started = time.time()
    again = ledger(sandbox, scratch, release_id="r1", entry=entry)
    assert again["changed"] is False, again
    assert dynamodb_writes(sandbox, started) == []

    updated = ledger(sandbox, scratch, "--diff", release_id="r1", entry={"phases": {"backend": 95.25}})
    assert updated["changed"] is True, updated
    assert updated["release"]["phases"] == {"preflight": 3.5, "migrate": 12, "backend": 95.25}
    assert "backend" not in updated["diff"]["before"]["phases"]
    assert updated["diff"]["after"] == updated["release"]


def test_ledger_get_list_and_last_successful(sandbox, scratch):
    # r2..r4 recorded by their own runs; newest first whatever the release ids' order.
    def query(**args: Any) -> dict[str, Any]:
        return {"macroai.deploy.release_ledger": {"table": LEDGER_TABLE, "state": "query", **args}}

    def record(release_id: str, **entry: Any) -> dict[str, Any]:
        return {
            "macroai.deploy.release_ledger": {"table": LEDGER_TABLE, "release_id": release_id, "entry": entry}
        }

    seeded = [
        record(release_id, commit=f"c{release_id[1]}", outcome=outcome, started_at=started_at)
        for release_id, (started_at, outcome) in RELEASES.items()
        if release_id != "r1"
    ]
    results = play_tasks(
        sandbox,
        scratch,
        [
            *seeded,
            query(query="get", release_id="r1"),
            query(query="get", release_id="nope"),
            # A corrected start time moves the release in the order, leaving no stale record behind.
            record("r2", started_at="2026-11-05T11:00:00+01:00"),
            query(query="list", limit=10),
            query(query="last_successful"),
            query(query="last_successful", before_release_id="r3"),
            query(query="last_successful", before_release_id="nope"),
        ],
    )
    assert [r["changed"] for r in results[:3]] == [True, True, True], results[:3]
    got, missing, moved, listed, last, before, unknown = results[3:]
    assert got["changed"] is False
    assert got["release"]["phases"]["migrate"] == 12 and isinstance(got["release"]["phases"]["migrate"], int)
    assert got["release"]["phases"]["backend"] == 95.25
    assert missing["release"] == {}
    assert moved["changed"] is True and moved["release"]["started_at"] == "2026-11-05T10:00:00Z", moved
    assert [r["release_id"] for r in listed["releases"]] == ["r2", "r4", "r3", "r1"]
    assert last["release"]["release_id"] == "r3"
    assert before["release"]["release_id"] == "r1"
    assert unknown.get("failed") is True and "before_release_id='nope'" in unknown["msg"], unknown


def test_ledger_refuses_secrets_without_showing_them(sandbox, scratch, dynamodb):
    secret = f"hunter2-{uuid.uuid4().hex[:8]}"
    entry = {
        "restore_point": {"branch_id": "br-1", "password": secret},
        "database": f"postgres://app:{secret}@db:5432/app",
    }
    task = {"macroai.deploy.release_ledger": {"table": LEDGER_TABLE, "release_id": "r9", "entry": entry}}
    path = write_play(sandbox, scratch / "secret.yml", [task])
    started = time.time()
    completed = run_playbook(path, extra_args=("-vvv",))
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "entry.restore_point.password" in output and "entry.database" in output, output
    assert secret not in output
    assert dynamodb_writes(sandbox, started) == []
