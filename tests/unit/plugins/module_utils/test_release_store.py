"""The lock's and the ledger's pure logic: conditions, decisions, secrets, (de)serialisation, /proc walks."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._release_store import (
    DeployLock,
    Identity,
    Ledger,
    StoreError,
    Table,
    absent,
    attributes_equal,
    controller_pid,
    from_item,
    lock_view,
    merged,
    normalise_entry,
    parse_time,
    pid_alive,
    process_start_ticks,
    secret_paths,
    secret_values,
    to_item,
)

NOW = 1_795_783_500.0  # 2026-11-27T12:45:00Z


def write_process(root: Path, pid: int, parent: int, command: list[str], started: int = 1000) -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    # The command name may hold spaces and a ')'; fields after it: state, ppid, ..., starttime (22nd).
    rest = ["S", str(parent)] + ["0"] * 17 + [str(started)] + ["0"] * 5
    (folder / "stat").write_text(f"{pid} (odd) name) " + " ".join(rest))
    (folder / "cmdline").write_bytes(b"\0".join(part.encode() for part in command) + b"\0")


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """init, bash, ansible-playbook (controller), ansible-playbook (task worker), sh, python (module)."""
    playbook = ["/venv/bin/python3", "/venv/bin/ansible-playbook", "deploy.yml"]
    write_process(tmp_path, 1, 0, ["/sbin/init"])
    write_process(tmp_path, 50, 1, ["bash"])
    write_process(tmp_path, 100, 50, playbook, started=4242)
    write_process(tmp_path, 101, 100, playbook)
    write_process(tmp_path, 102, 101, ["/bin/sh", "-c", "python3 AnsiballZ_deploy_lock.py"])
    write_process(tmp_path, 103, 102, ["python3", "AnsiballZ_deploy_lock.py"])
    return tmp_path


def test_controller_pid_is_the_outermost_ansible_playbook_ancestor(proc: Path):
    assert controller_pid(103, proc_root=str(proc)) == 100
    assert process_start_ticks(100, str(proc)) == 4242


def test_controller_pid_falls_back_outside_ansible_playbook(proc: Path):
    assert controller_pid(50, proc_root=str(proc), fallback=7) == 7
    assert controller_pid(103, proc_root=str(proc / "missing"), fallback=7) == 7


def test_pid_alive_tells_a_reused_pid_by_its_start_time(proc: Path):
    assert pid_alive(100, 4242, str(proc))
    assert pid_alive(100, None, str(proc))
    assert not pid_alive(100, 9999, str(proc)), "another process now has the pid"
    assert not pid_alive(999, None, str(proc))
    assert not pid_alive(0, None, str(proc))


@pytest.mark.parametrize(
    "value",
    [
        {"commit": "abc", "phases": {"migrate": 12.5, "backend": 95}, "ok": True, "none": None},
        {"scope": {"backend": True, "reasons": ["api/x.ts changed"]}, "n": -3, "tiny": 1e-07},
    ],
)
def test_items_round_trip_with_numbers_as_numbers(value):
    item = to_item(value)
    assert from_item(item) == value
    assert item.get("phases", {"M": {}})["M"].get("backend", {"N": "95"}) == {"N": "95"}


def test_to_item_refuses_what_dynamodb_cannot_store():
    with pytest.raises(StoreError, match="entry.phases.x is nan"):
        to_item({"entry": {"phases": {"x": float("nan")}}})
    with pytest.raises(StoreError, match="set"):
        to_item({"s": {1, 2}})


def test_conditions_name_every_attribute_and_value():
    assert absent().request() == {"ConditionExpression": "attribute_not_exists(pk)"}
    assert attributes_equal(owner="r1", started_at="T").request() == {
        "ConditionExpression": "#owner = :owner AND #started_at = :started_at",
        "ExpressionAttributeNames": {"#owner": "owner", "#started_at": "started_at"},
        "ExpressionAttributeValues": {":owner": {"S": "r1"}, ":started_at": {"S": "T"}},
    }


@pytest.mark.parametrize(
    ("entry", "paths"),
    [
        (
            {"commit": "abc", "task_definition_arn": "arn:aws:ecs:x", "client_artifact_url": "s3://b/k.zip"},
            [],
        ),
        ({"restore_point": {"branch": "br-1", "db_password": "x"}}, ["entry.restore_point.db_password"]),
        (
            {"apiKey": "x", "Secret": "y", "auth_token": "z", "key": "k"},
            [f"entry.{k}" for k in ("apiKey", "Secret", "auth_token", "key")],
        ),
        ({"database": "postgres://app:hunter2@db:5432/app"}, ["entry.database"]),
        ({"links": ["https://ok/", "https://b.s3.amazonaws.com/x?X-Amz-Signature=abc"]}, ["entry.links[1]"]),
        ({"monkey": "x", "keys_changed": 3, "url": "https://user@host/"}, []),
    ],
)
def test_secret_paths_name_the_field_never_the_value(entry, paths):
    assert secret_paths(entry) == paths


def test_secret_values_are_what_a_module_masks():
    entry = {"restore_point": {"credentials": {"user": "app", "pw": "hunter22"}}, "db": "postgres://a:b@h/d"}
    assert secret_values(entry) == ["app", "hunter22", "postgres://a:b@h/d"]


def test_normalise_entry_refuses_secrets_and_bad_fields_naming_each():
    with pytest.raises(StoreError) as error:
        normalise_entry(
            {
                "token": "s3cr3t-value",
                "outcome": "done",
                "deployment_type": "big",
                "phases": {"a": "x"},
                "pk": 1,
            }
        )
    message = str(error.value)
    for part in (
        "entry.token",
        "entry.outcome='done'",
        "entry.deployment_type='big'",
        "entry.phases.a",
        "entry.pk",
    ):
        assert part in message
    assert "s3cr3t-value" not in message
    assert error.value.details == {"fields": ["entry.token"]}


def test_normalise_entry_normalises_times_and_phase_seconds():
    entry = normalise_entry({"started_at": "2026-11-27T13:44:53+01:00", "phases": {"a": "12", "b": 1.23456}})
    assert entry == {"started_at": "2026-11-27T12:44:53Z", "phases": {"a": 12, "b": 1.235}}
    assert parse_time("2026-11-27T12:44:53", "t") == "2026-11-27T12:44:53Z"
    with pytest.raises(StoreError, match="t='yesterday' is not an ISO 8601 time"):
        parse_time("yesterday", "t")


def test_merged_merges_dicts_and_removes_nulls():
    stored = {"commit": "a", "phases": {"migrate": 3}, "message": "m"}
    assert merged(stored, {"phases": {"backend": 9}, "message": None, "outcome": "succeeded"}) == {
        "commit": "a",
        "phases": {"migrate": 3, "backend": 9},
        "outcome": "succeeded",
    }


class Named:
    """Just enough of a Table for plan_acquire: its name."""

    name = "macroai-production-releases"


def lock(owner: str = "r1", expires: float = NOW + 600, host: str = "ci-1", pid: int = 77) -> dict:
    return dict(
        owner=owner,
        holder=f"deploy@{host}:{pid}",
        message="release r1 of abc1234",
        started_at="2026-11-27T12:35:00Z",
        expires_at=int(expires),
        host=host,
        pid=pid,
        pid_started=1000,
    )


def deploy_lock(alive: bool = True, host: str = "ci-1") -> DeployLock:
    return DeployLock(
        Named(),  # type: ignore[arg-type]
        Identity("me@" + host, host, 5),
        clock=lambda: NOW,
        is_alive=lambda pid, started: alive,
    )


def test_acquire_plan_creates_keeps_and_renews():
    assert deploy_lock().plan_acquire(None, "r1", True) == ("create", absent())
    assert deploy_lock().plan_acquire(lock(), "r1", True) == ("keep", attributes_equal(owner="r1"))
    assert deploy_lock().plan_acquire(lock(expires=NOW - 1), "r1", True) == (
        "renew",
        attributes_equal(owner="r1"),
    )


def test_acquire_plan_refuses_a_live_lock_naming_holder_message_and_times():
    with pytest.raises(StoreError) as error:
        deploy_lock(alive=False).plan_acquire(lock(), "r2", True)
    message = str(error.value)
    for part in (
        "deploy@ci-1:77",
        "'r1'",
        "release r1 of abc1234",
        "2026-11-27T12:35:00Z",
        "break_lock=true",
    ):
        assert part in message
    assert "no longer running" in message, "a dead holder of this host is named as such"
    assert error.value.details["lock"]["held"] is True


def test_acquire_plan_takes_over_an_expired_lock_of_a_dead_process_of_this_host_only():
    expired = lock(expires=NOW - 60)
    action, condition = deploy_lock(alive=False).plan_acquire(expired, "r2", True)
    assert action == "takeover"
    assert condition == attributes_equal(owner="r1", started_at="2026-11-27T12:35:00Z")
    for planner, takeover, why in (
        (deploy_lock(alive=True), True, "probably left by a killed run"),
        (deploy_lock(alive=False), False, "probably left by a killed run"),
        (deploy_lock(alive=False, host="laptop"), True, "its holder ran on ci-1, not here"),
    ):
        with pytest.raises(StoreError, match=why) as error:
            planner.plan_acquire(expired, "r2", takeover)
        assert "expired at 2026-11-27T12:44:00Z" in str(error.value)
        assert "break_lock=true" in str(error.value)


def test_lock_view_is_the_documented_shape():
    assert lock_view(None, NOW) == dict(
        owner=None,
        holder=None,
        message=None,
        started_at=None,
        expires_at=None,
        held=False,
        expired=False,
        host=None,
        pid=None,
    )
    view = lock_view(lock(), NOW)
    assert view["expires_at"] == "2026-11-27T12:55:00Z"
    assert (view["held"], view["expired"], view["pid"]) == (True, False, 77)
    assert datetime.datetime.fromisoformat(view["expires_at"].replace("Z", "+00:00")).tzinfo


class MissingTable:
    """A dynamodb client whose table does not exist; records writes (there must be none)."""

    class exceptions:  # noqa: N801 (boto3's naming)
        class ResourceNotFoundException(Exception):
            pass

        class ResourceInUseException(Exception):
            pass

    def __init__(self) -> None:
        self.writes: list[str] = []

    def describe_table(self, TableName: str) -> dict:
        raise self.exceptions.ResourceNotFoundException(TableName)

    def create_table(self, **request) -> None:
        self.writes.append("CreateTable")


@pytest.mark.parametrize(("check_mode", "create"), [(True, True), (False, False)])
def test_a_missing_table_reads_as_empty_in_check_mode_and_for_reads(check_mode, create):
    client = MissingTable()
    table = Table(client, "t", check_mode=check_mode)
    assert table.ensure(create=create) is False
    assert table.get({"pk": "lock", "sk": "deploy"}) is None
    assert list(table.query(KeyConditionExpression="pk = :pk")) == []
    assert client.writes == []


class ListedTable:
    """A Table whose Query yields stored releases newest first, counting how many it handed out."""

    name = "t"
    exists = True

    def __init__(self, count: int) -> None:
        self.items = [
            {"pk": "release", "sk": f"2026-11-{day:02d}#r{day}", "release_id": f"r{day}"}
            for day in range(count, 0, -1)
        ]
        self.handed = 0

    def query(self, **request):
        for item in self.items:
            self.handed += 1
            yield item


def test_ledger_list_stops_at_the_limit_and_hides_the_keys():
    table = ListedTable(30)
    releases = Ledger(table).list(3)  # type: ignore[arg-type]
    assert releases == [{"release_id": "r30"}, {"release_id": "r29"}, {"release_id": "r28"}]
    assert table.handed == 3


class RacingClient:
    """A dynamodb client on which another run takes the lock between this run's read and its write."""

    class exceptions:  # noqa: N801 (boto3's naming)
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self, winner: dict) -> None:
        self.winner = winner
        self.item: dict | None = None
        self.calls: list[str] = []

    def get_item(self, **request) -> dict:
        self.calls.append("GetItem")
        return {"Item": to_item(self.item)} if self.item else {}

    def put_item(self, ConditionExpression: str, **request) -> None:
        self.calls.append("PutItem")
        assert ConditionExpression == "attribute_not_exists(pk)"
        self.item = self.winner  # the other run's write lands first
        raise self.exceptions.ConditionalCheckFailedException()


def test_acquire_that_loses_the_conditional_write_rereads_and_names_the_winner():
    client = RacingClient(dict(lock(owner="r-other"), pk="lock", sk="deploy"))
    table = Table(client, "t")
    table.exists = True
    with pytest.raises(StoreError, match="held by deploy@ci-1:77 for 'r-other'"):
        DeployLock(table, Identity("me@ci-1", "ci-1", 5), clock=lambda: NOW).acquire(
            "r1", "release r1", 60, True
        )
    assert client.calls == ["GetItem", "PutItem", "GetItem"]


class JournalLock:
    """A DeployLock stand-in recording what was taken and given back."""

    def __init__(self) -> None:
        self.table = type("T", (), {"check_mode": False})()
        self.calls: list[str] = []

    def acquire(self, owner, message, ttl, takeover):
        self.calls.append(f"acquire {owner}")
        return True, {"held": False}, {"held": True, "owner": owner}

    def release(self, owner):
        self.calls.append(f"release {owner}")
        return True, {"held": True}, {"held": False}


class JournalLedger:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse

    def present(self, release_id, entry):
        if self.refuse:
            raise StoreError("entry.message looks like a secret")
        return True, {}, dict(entry, release_id=release_id)


def test_the_lock_is_given_back_when_the_entry_cannot_be_opened():
    from ansible_collections.macroai.deploy.plugins.module_utils._release_store import acquire_and_open

    lock = JournalLock()
    with pytest.raises(StoreError, match="looks like a secret. The deploy lock was given back"):
        acquire_and_open(lock, JournalLedger(refuse=True), "r1", "m", 60, True, "r1", {"outcome": "x"})
    assert lock.calls == ["acquire r1", "release r1"]
    lock = JournalLock()
    *_, entry = acquire_and_open(
        lock, JournalLedger(refuse=False), "r1", "m", 60, True, "r1", {"outcome": "x"}
    )
    assert lock.calls == ["acquire r1"] and entry == {"outcome": "x", "release_id": "r1"}


def test_the_lock_is_given_back_even_when_the_ledger_refuses_the_record():
    from ansible_collections.macroai.deploy.plugins.module_utils._release_store import record_and_release

    lock = JournalLock()
    changed, _previous, view, entry, error = record_and_release(lock, JournalLedger(True), "r1", "r1", {})
    assert lock.calls == ["release r1"] and changed and view == {"held": False}
    assert entry == {} and "looks like a secret" in error
    lock = JournalLock()
    *_, entry, error = record_and_release(lock, JournalLedger(False), "r1", "r1", {"outcome": "succeeded"})
    assert error == "" and entry["outcome"] == "succeeded" and lock.calls == ["release r1"]
