"""The Neon client's retry rules and neon_branch's logic, over fake transports (no network, no sleeping)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._neon import (
    BranchRequest,
    NeonClient,
    NeonError,
    RestorePoints,
    RetryPolicy,
    branch_name_problem,
    data_settings_problems,
    ensure_branch,
    neon_plan,
    plan_of_subscription,
    restore_points_to_delete,
    validate,
    wait_for_operations,
)

BASE = "https://neon.test/api/v2"
SECRET = "napi_very_secret_key"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A transport answering from a list: (status, body) or an exception to raise."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(self, method: str, url: str, headers: Any, body: bytes | None, timeout: float) -> Any:
        self.calls.append((method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, data, *extra = answer
        return status, (extra[0] if extra else {}), json.dumps(data).encode() if data is not None else b""


def make_client(transport: Any, clock: Clock | None = None, **policy: Any) -> NeonClient:
    clock = clock or Clock()
    return NeonClient(
        SECRET,
        base_url=BASE + "/",
        policy=RetryPolicy(**policy),
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
        rng=lambda: 0.5,
    )


def locked(message: str = "project already has running conflicting operations") -> tuple[int, dict[str, str]]:
    return 423, {"request_id": "r-1", "code": "", "message": message}


def test_three_423s_in_a_row_then_success() -> None:
    clock = Clock()
    transport = Script(locked(), locked(), locked(), (201, {"branch": {"id": "br-x"}}))
    client = make_client(transport, clock)
    answer = client.request("POST", "/projects/p/branches", body={"branch": {"name": "x"}})
    assert answer.status == 201
    assert client.retried == [423, 423, 423]
    assert len(transport.calls) == 4
    assert clock.sleeps == pytest.approx([0.375, 0.75, 1.5])  # 0.5, 1, 2 with rng 0.5: three quarters


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried(status: int) -> None:
    transport = Script((status, {"message": "slow down"}), (200, {"ok": True}))
    client = make_client(transport)
    assert client.request("GET", "/projects/p").data == {"ok": True}
    assert client.retried == [status]


def test_retry_after_is_honoured_within_the_cap() -> None:
    clock = Clock()
    transport = Script((429, None, {"Retry-After": "3"}), (429, None, {"retry-after": "999"}), (200, {}))
    make_client(transport, clock).request("GET", "/projects/p")
    assert clock.sleeps == [3.0, 16.0]


@pytest.mark.parametrize("status", [500, 400, 404, 409])
def test_other_failures_are_not_retried(status: int) -> None:
    transport = Script((status, {"request_id": "r-9", "code": "", "message": "nope"}))
    client = make_client(transport)
    with pytest.raises(NeonError) as caught:
        client.request("POST", "/projects/p/branches", body={})
    assert len(transport.calls) == 1
    assert caught.value.status == status and caught.value.request_id == "r-9"
    assert "nope" in caught.value.message and "What to do" in caught.value.message


def test_accepted_statuses_are_returned() -> None:
    transport = Script((409, {"message": "exists"}), (204, None))
    client = make_client(transport)
    assert client.request("POST", "/x", body={}, accept=(409,)).status == 409
    assert client.request("DELETE", "/x").status == 204


def test_attempts_are_bounded() -> None:
    transport = Script(*[locked()] * 10)
    client = make_client(transport, attempts=4)
    with pytest.raises(NeonError) as caught:
        client.request("POST", "/projects/p/branches", body={})
    assert len(transport.calls) == 4
    assert caught.value.status == 423
    assert "after 4 attempts" in caught.value.message


def test_total_retry_time_is_bounded() -> None:
    clock = Clock()
    transport = Script(*[locked()] * 20)
    client = make_client(transport, clock, attempts=20, max_total=10.0)
    with pytest.raises(NeonError):
        client.request("GET", "/projects/p")
    assert sum(clock.sleeps) <= 10.0
    assert len(transport.calls) < 20


def test_network_errors_retry_reads_but_not_writes() -> None:
    transport = Script(NeonError("no answer"), (200, {"ok": 1}))
    assert make_client(transport).request("GET", "/x").data == {"ok": 1}
    transport = Script(NeonError("no answer"), (201, {}))
    with pytest.raises(NeonError) as caught:
        make_client(transport).request("POST", "/x", body={})
    assert caught.value.status is None and len(transport.calls) == 1


def test_request_building() -> None:
    transport = Script((200, {}), (200, {}))
    client = make_client(transport)
    client.request(
        "GET", "/projects/p/connection_uri", query={"branch_id": "br-1", "role_name": "a b", "x": None}
    )
    client.request("PATCH", "/projects/p/branches/br-1", body={"branch": {"protected": True}})
    (method, url, headers, body), (method2, _, headers2, body2) = transport.calls
    assert method == "GET" and body is None and "Content-Type" not in headers
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE + "/projects/p/connection_uri"
    assert parse_qs(parts.query) == {"branch_id": ["br-1"], "role_name": ["a b"]}
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert method2 == "PATCH" and headers2["Content-Type"] == "application/json"
    assert json.loads(body2) == {"branch": {"protected": True}}


def test_errors_never_carry_the_api_key() -> None:
    transport = Script((401, {"message": "bad key"}))
    with pytest.raises(NeonError) as caught:
        make_client(transport).request("GET", "/projects/p")
    assert SECRET not in str(caught.value) and "api_key" in caught.value.message


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        (" lead", "whitespace"),
        ("trail\n", "whitespace"),
        ("in\x07side", "control"),
        ("x" * 257, "256"),
    ],
)
def test_invalid_names(name: str, problem: str) -> None:
    assert problem in (branch_name_problem(name) or "")
    with pytest.raises(NeonError) as caught:
        validate(BranchRequest(project_id="p", name=name))
    assert caught.value.message.startswith("name: ")


@pytest.mark.parametrize("name", ["main", "feature/login-42", "x" * 256, "pré-prod"])
def test_valid_names(name: str) -> None:
    assert branch_name_problem(name) is None


@pytest.mark.parametrize(
    ("request_args", "option"),
    [
        ({"preserve_under_name": " x"}, "preserve_under_name"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"source_lsn": "12345"}, "source_lsn"),
        ({"state": "restored", "preserve_under_name": "old"}, "source_lsn or source_timestamp"),
        ({"state": "restored", "source_lsn": "0/1"}, "preserve_under_name"),
    ],
)
def test_validation_names_the_option(request_args: dict[str, Any], option: str) -> None:
    with pytest.raises(NeonError) as caught:
        validate(BranchRequest(project_id="p", name="main", **request_args))
    assert caught.value.message.startswith(option)


def test_wait_for_operations_polls_until_all_finish() -> None:
    transport = Script(
        (200, {"operation": {"id": "o1", "status": "running"}}),
        (200, {"operation": {"id": "o1", "status": "finished", "action": "create_branch"}}),
    )
    client = make_client(transport)
    ops = [{"id": "o1", "status": "scheduling"}, {"id": "o2", "status": "skipped"}]
    done = wait_for_operations(client, "/projects/p", ops, timeout=60, interval=2)
    assert [op["status"] for op in done] == ["finished", "skipped"]
    assert len(transport.calls) == 2


def test_a_failed_operation_raises() -> None:
    transport = Script((200, {"operation": {"id": "o1", "status": "failed", "action": "start_compute"}}))
    with pytest.raises(NeonError) as caught:
        wait_for_operations(make_client(transport), "/projects/p", [{"id": "o1"}], timeout=60, interval=2)
    assert "start_compute" in caught.value.message and "failed" in caught.value.message


def test_operations_that_never_finish_time_out() -> None:
    transport = Script(*[(200, {"operation": {"id": "o1", "status": "running"}})] * 50)
    with pytest.raises(NeonError) as caught:
        wait_for_operations(make_client(transport), "/projects/p", [{"id": "o1"}], timeout=10, interval=2)
    assert "wait_timeout" in caught.value.message


class FakeNeon:
    """Just enough of Neon for the branch logic: branches, endpoints, operations that finish at once."""

    def __init__(self) -> None:
        self.branches: dict[str, dict[str, Any]] = {
            "br-main": {"id": "br-main", "name": "main", "default": True, "current_state": "ready"}
        }
        self.writes: list[tuple[str, str]] = []
        self.fail_next_write: Exception | None = None
        self.conflict_next_create = False

    def __call__(self, method: str, url: str, headers: Any, body: bytes | None, timeout: float) -> Any:
        path = urlsplit(url).path.removeprefix("/api/v2/projects/p")
        query = parse_qs(urlsplit(url).query)
        data = json.loads(body) if body else None
        if method != "GET":
            self.writes.append((method, path))
            if self.fail_next_write is not None:
                error, self.fail_next_write = self.fail_next_write, None
                self._apply(method, path, data)  # the write happened; its answer was lost
                raise error
        status, answer = self._apply(method, path, data, query)
        return status, {}, json.dumps(answer).encode() if answer is not None else b""

    def _apply(self, method: str, path: str, data: Any, query: Any = None) -> tuple[int, Any]:
        op = [{"id": "op-1", "status": "finished", "action": "x"}]
        if method == "GET" and path == "/branches":
            search = (query or {}).get("search", [""])[0]
            return 200, {
                "branches": [b for b in self.branches.values() if search in b["name"]],
                "pagination": {},
            }
        if method == "POST" and path == "/branches":
            name = data["branch"]["name"]
            if self.conflict_next_create or any(b["name"] == name for b in self.branches.values()):
                self.conflict_next_create = False
                self.branches.setdefault(
                    "br-" + name, {"id": "br-" + name, "name": name, "current_state": "ready"}
                )
                return 409, {"message": "exists"}
            branch = {"id": "br-" + name, "current_state": "init", "parent_lsn": "0/AB", **data["branch"]}
            self.branches[branch["id"]] = branch
            return 201, {"branch": branch, "operations": op}
        if path.startswith("/operations/"):
            return 200, {"operation": op[0]}
        branch_id = path.split("/")[2] if path.startswith("/branches/") else ""
        if path.endswith("/endpoints"):
            return 200, {"endpoints": []}
        if method == "GET" and branch_id:
            if branch_id not in self.branches:
                return 404, {"message": "not found"}
            self.branches[branch_id]["current_state"] = "ready"
            return 200, {"branch": self.branches[branch_id]}
        if method == "PATCH":
            self.branches[branch_id].update(data["branch"])
            return 200, {"branch": self.branches[branch_id], "operations": []}
        if method == "DELETE":
            if self.branches.pop(branch_id, None) is None:
                return 204, None
            return 200, {"branch": {"id": branch_id}, "operations": op}
        raise AssertionError(f"unexpected {method} {path}")


def run(fake: FakeNeon, check_mode: bool = False, **request: Any) -> Any:
    client = make_client(fake)
    args = {"project_id": "p", "name": "dev", "poll_interval": 1, **request}
    return ensure_branch(client, BranchRequest(**args), check_mode)


def test_create_then_rerun_is_unchanged() -> None:
    fake = FakeNeon()
    created = run(fake)
    assert created.changed and created.branch["current_state"] == "ready"
    assert created.as_dict()["lsn"] == "0/AB"
    again = run(fake)
    assert not again.changed
    assert fake.writes == [("POST", "/branches")]


def test_check_mode_writes_nothing() -> None:
    fake = FakeNeon()
    predicted = run(fake, check_mode=True, protected=True)
    assert predicted.changed and predicted.branch["protected"] is True
    assert predicted.before == {"state": "absent"} and predicted.after["state"] == "present"
    assert fake.writes == []


def test_409_on_create_means_reuse() -> None:
    fake = FakeNeon()
    fake.conflict_next_create = True
    result = run(fake)
    assert not result.changed and result.branch["id"] == "br-dev"


def test_a_lost_answer_to_create_is_re_read_not_repeated() -> None:
    fake = FakeNeon()
    fake.fail_next_write = NeonError("connection reset")
    result = run(fake)
    assert result.changed and result.branch["id"] == "br-dev"
    assert fake.writes == [("POST", "/branches")]


def test_update_only_what_is_set_with_a_diff() -> None:
    fake = FakeNeon()
    run(fake)
    result = run(fake, protected=True)
    assert result.changed and result.before["protected"] is None and result.after["protected"] is True
    assert fake.writes[-1] == ("PATCH", "/branches/br-dev")
    assert not run(fake, protected=True).changed


def test_delete_twice() -> None:
    fake = FakeNeon()
    run(fake)
    assert run(fake, state="absent").changed
    assert not run(fake, state="absent").changed


def test_restore_is_done_once_preserve_under_name_exists() -> None:
    fake = FakeNeon()
    fake.branches["br-main-old"] = {"id": "br-main-old", "name": "main-old", "current_state": "ready"}
    result = run(fake, name="main", state="restored", source_lsn="0/AB", preserve_under_name="main-old")
    assert not result.changed and result.preserved_branch["id"] == "br-main-old"
    assert fake.writes == []


def test_a_branch_quota_refusal_names_the_code_and_what_to_do() -> None:
    body = {"request_id": "r1", "code": "BRANCHES_LIMIT_EXCEEDED", "message": "branches limit exceeded"}
    client = make_client(Script((422, body)))
    with pytest.raises(NeonError) as caught:
        client.request("POST", "/projects/p/branches", body={"branch": {"name": "x"}})
    assert caught.value.status == 422 and caught.value.details["code"] == "BRANCHES_LIMIT_EXCEEDED"
    assert (
        "(BRANCHES_LIMIT_EXCEEDED)" in caught.value.message
        and "branches limit exceeded" in caught.value.message
    )
    assert "restore_points.keep" in caught.value.message and "paid plan" in caught.value.message


def point(name: str, created: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"br-{name}", "name": name, "created_at": created, "parent_id": "br-prod", **fields}


POINTS = [point(f"prod-pre-migrate-r{n}", f"2030-01-0{n}T00:00:00Z") for n in range(1, 6)]


def names(branches: Any) -> list[str]:
    return [b["name"] for b in branches]


def test_the_oldest_restore_points_go_first_to_leave_room_for_the_new_one() -> None:
    policy = RestorePoints("prod-pre-migrate-", keep=3)
    doomed = restore_points_to_delete(POINTS, policy, "prod-pre-migrate-r6", exists=False)
    assert names(doomed) == ["prod-pre-migrate-r1", "prod-pre-migrate-r2", "prod-pre-migrate-r3"]
    # Rerun once r6 exists: it counts, so only as many go as there are too many.
    existing = [*POINTS[3:], point("prod-pre-migrate-r6", "2030-01-06T00:00:00Z")]
    assert restore_points_to_delete(existing, policy, "prod-pre-migrate-r6", exists=True) == []


def test_retained_protected_and_parent_restore_points_are_never_deleted() -> None:
    branches = [
        point("prod-pre-migrate-r1", "2030-01-01T00:00:00Z"),  # the rollback target
        point("prod-pre-migrate-r2", "2030-01-02T00:00:00Z", protected=True),
        point("prod-pre-migrate-r3", "2030-01-03T00:00:00Z"),  # has a child below
        point("prod-pre-migrate-r4", "2030-01-04T00:00:00Z"),
        {"id": "br-child", "name": "debug", "parent_id": "br-prod-pre-migrate-r3"},
        {"id": "br-other", "name": "preview-1", "created_at": "2029-01-01T00:00:00Z"},  # not a restore point
    ]
    policy = RestorePoints("prod-pre-migrate-", keep=1, retain=("prod-pre-migrate-r1",))
    assert names(restore_points_to_delete(branches, policy, "prod-pre-migrate-r5", exists=False)) == [
        "prod-pre-migrate-r4"
    ]


def test_ensure_branch_prunes_before_creating_and_check_mode_only_predicts() -> None:
    fake = FakeNeon()
    for branch in POINTS:
        fake.branches[branch["id"]] = {**branch, "current_state": "ready"}
    policy = RestorePoints("prod-pre-migrate-", keep=3, retain=("prod-pre-migrate-r1",))
    predicted = run(fake, check_mode=True, name="prod-pre-migrate-r6", restore_points=policy)
    assert predicted.changed and fake.writes == []
    assert [p["name"] for p in predicted.as_dict()["pruned_restore_points"]] == [
        "prod-pre-migrate-r2",
        "prod-pre-migrate-r3",
        "prod-pre-migrate-r4",
    ]
    made = run(fake, name="prod-pre-migrate-r6", restore_points=policy)
    assert fake.writes == [
        ("DELETE", "/branches/br-prod-pre-migrate-r2"),
        ("DELETE", "/branches/br-prod-pre-migrate-r3"),
        ("DELETE", "/branches/br-prod-pre-migrate-r4"),
        ("POST", "/branches"),
    ]
    assert made.changed and made.branch["name"] == "prod-pre-migrate-r6"
    left = sorted(b["name"] for b in fake.branches.values() if b["name"].startswith("prod-pre-migrate-"))
    assert left == ["prod-pre-migrate-r1", "prod-pre-migrate-r5", "prod-pre-migrate-r6"]  # r1 retained
    again = run(fake, name="prod-pre-migrate-r6", restore_points=policy)
    assert not again.changed and "pruned_restore_points" not in again.as_dict()


@pytest.mark.parametrize(
    ("request_args", "problem"),
    [
        ({"restore_points": RestorePoints("p-", keep=0)}, "keep at least 1"),
        ({"restore_points": RestorePoints("", keep=2)}, "restore_points.prefix"),
        ({"restore_points": RestorePoints("p-", keep=2), "state": "absent"}, "only with state=present"),
    ],
)
def test_restore_points_validation_names_the_option(request_args: dict[str, Any], problem: str) -> None:
    with pytest.raises(NeonError) as caught:
        validate(BranchRequest(project_id="p", name="p-1", **request_args))
    assert problem in caught.value.message


def test_plans_as_neon_documents_them() -> None:
    free, launch, scale = neon_plan("free"), neon_plan("Launch"), neon_plan("scale")
    assert (free.branches, free.protected_branches, free.max_history_retention_hours) == (10, 0, 6)
    assert (launch.protected_branches, launch.max_history_retention_hours, launch.max_autoscaling_cu) == (
        2,
        168,
        16,
    )
    assert (scale.protected_branches, scale.max_history_retention_hours, scale.max_fixed_cu) == (5, 720, 56)
    assert (
        free.summary()["offers_protected_branches"] is False and launch.summary()["offers_protected_branches"]
    )
    with pytest.raises(NeonError):
        neon_plan("business")
    assert [plan_of_subscription(s) for s in ("free_v3", "launch_v3", "scale", "business", None)] == [
        "free",
        "launch",
        "scale",
        None,
        None,
    ]


GOOD = {
    "plan": "free",
    "history_retention_hours": 6,
    "min_cu": 0.25,
    "max_cu": 0.25,
    "keep_restore_points": 3,
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"plan": "business"}, ["data_neon_plan=business is not a Neon plan"]),
        ({"history_retention_hours": 24}, ["free plan's maximum of 6 hours"]),
        ({"plan": "launch", "history_retention_hours": 168}, []),
        (
            {"max_cu": 4},
            ["data_neon_autoscaling_max_cu=4 is over the Neon free plan's maximum for autoscaling"],
        ),
        ({"plan": "launch", "max_cu": 16}, []),
        ({"plan": "launch", "min_cu": 20, "max_cu": 20}, ["maximum for a fixed-size compute (16 CU)"]),
        ({"plan": "scale", "min_cu": 56, "max_cu": 56}, []),
        ({"min_cu": 1, "max_cu": 0.5}, ["0.25 <= min <= max <= 56"]),
        (
            {"keep_restore_points": 8},
            ["data_neon_keep_restore_points=8 must be 1 to 7 on the Neon free plan"],
        ),
        ({"keep_restore_points": 0}, ["data_neon_keep_restore_points=0"]),
        ({"plan": "launch", "keep_restore_points": 20}, []),
        ({"project_subscription": "free_v3"}, []),
        ({"plan": "launch", "project_subscription": "free_v3"}, ["data_neon_plan=launch, but Neon reports"]),
        ({"project_subscription": "UNKNOWN"}, []),
    ],
)
def test_data_settings_against_the_plan(changes: dict[str, Any], expected: list[str]) -> None:
    args = {**GOOD, **changes}
    problems = data_settings_problems(
        args["plan"],
        args["history_retention_hours"],
        args["min_cu"],
        args["max_cu"],
        args["keep_restore_points"],
        args.get("project_subscription"),
    )
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem
