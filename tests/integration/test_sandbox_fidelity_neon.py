"""The Neon emulator refuses what Neon refuses, the same way: each test is a call Neon's plans refuse, made
over HTTP to the running sandbox (real PostgreSQL behind it), with the source of the rule in its docstring.

Every test runs in a Neon project of its own, made through the emulator's API and set to the plan under test
with the sandbox's admin route (``PUT /neon/_sandbox/projects/<id>/plan``), and deleted at the end. Neon's
error shape is ``{"request_id", "code", "message"}`` (GeneralError in Neon's OpenAPI).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"fn{uuid.uuid4().hex[:6]}"
API_KEY = f"napi_{uuid.uuid4().hex}"


class Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


class Project:
    """One emulator project, called as a client of Neon's API would."""

    def __init__(self, sandbox: SandboxClient, plan: str) -> None:
        self.base = sandbox.neon_url()
        self.admin = sandbox.base_url + "/neon/_sandbox"
        created = self.call("POST", "/projects", {"project": {"name": f"{PREFIX}-{plan}"}})
        assert created.status == 201, created.body
        self.id = created.body["project"]["id"]
        self.set_plan(plan)
        self.settle()
        self.main = next(b for b in self.call("GET", self.path("/branches")).body["branches"] if b["default"])

    def path(self, suffix: str = "") -> str:
        return f"/projects/{self.id}{suffix}"

    def call(self, method: str, path: str, body: Any = None, base: str | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request((base or self.base) + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {API_KEY}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as err:
            return Answer(err.code, json.loads(err.read() or b"null"))

    def set_plan(self, plan: str) -> None:
        answer = self.call("PUT", f"/projects/{self.id}/plan", {"plan": plan}, base=self.admin)
        assert answer.status == 200, answer.body
        assert answer.body["project"]["owner"]["subscription_type"].startswith(plan)

    def settle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            operations = self.call("GET", self.path("/operations")).body["operations"]
            if all(op["status"] == "finished" for op in operations):
                return
            time.sleep(0.1)
        raise AssertionError("the project's operations did not finish")

    def branch(self, name: str, **fields: Any) -> Answer:
        answer = self.call("POST", self.path("/branches"), {"branch": {"name": name, **fields}})
        self.settle()
        return answer

    def delete(self) -> None:
        self.settle()
        self.call("DELETE", self.path())


def assert_neon_error(answer: Answer, status: int, fragment: str, code: str = "") -> None:
    assert answer.status == status, answer.body
    assert set(answer.body) == {"request_id", "code", "message"}, answer.body
    assert answer.body["code"] == code and fragment in answer.body["message"], answer.body


@pytest.fixture
def free(sandbox: SandboxClient) -> Iterator[Project]:
    project = Project(sandbox, "free")
    yield project
    project.delete()


@pytest.fixture
def launch(sandbox: SandboxClient) -> Iterator[Project]:
    project = Project(sandbox, "launch")
    yield project
    project.delete()


def test_a_protected_branch_on_free_is_refused(free: Project) -> None:
    """Neon's protected branches are "available on Neon paid plans" (neon.com/docs/guides/protected-branches):
    on Free, creating a protected branch and protecting an existing one are both refused (422)."""
    assert_neon_error(free.branch("production", protected=True), 422, "not available on the Free plan")
    made = free.branch("production")
    assert made.status == 201 and made.body["branch"]["protected"] is False
    patched = free.call(
        "PATCH", free.path(f"/branches/{made.body['branch']['id']}"), {"branch": {"protected": True}}
    )
    assert_neon_error(patched, 422, "not available on the Free plan")


def test_a_third_protected_branch_on_launch_is_refused(launch: Project) -> None:
    """ "The Launch plan supports up to 2 protected branches" (neon.com/docs/guides/protected-branches)."""
    assert launch.branch("p1", protected=True).status == 201
    assert launch.branch("p2", protected=True).status == 201
    assert_neon_error(launch.branch("p3", protected=True), 422, "allows 2 protected branches")


def test_the_eleventh_branch_on_free_is_refused(free: Project) -> None:
    """Free: 10 branches a project, the root branch included, and no extra branches (neon.com/docs/
    introduction/plans, "Branches", "Extra branches"); Neon answers 422 BRANCHES_LIMIT_EXCEEDED "branches
    limit exceeded" (neondatabase/neon test_runner/random_ops/test_random_ops.py). A restore whose preserved
    branch would be the eleventh is refused the same way."""
    made = [free.branch(f"b{n}") for n in range(1, 10)]  # with main: 10
    assert [m.status for m in made] == [201] * 9
    eleventh = free.branch("b10")
    assert_neon_error(eleventh, 422, "branches limit exceeded", code="BRANCHES_LIMIT_EXCEEDED")
    restore = free.call(
        "POST",
        free.path(f"/branches/{free.main['id']}/restore"),
        {"source_branch_id": made[0].body["branch"]["id"], "preserve_under_name": "main-before"},
    )
    assert_neon_error(restore, 422, "branches limit exceeded", code="BRANCHES_LIMIT_EXCEEDED")
    assert len(free.call("GET", free.path("/branches")).body["branches"]) == 10


def test_a_restore_beyond_the_history_retention_is_refused(free: Project) -> None:
    """Neon keeps history for the restore window only ("WAL records that exceed your restore window are
    automatically removed", neon.com/docs/introduction/restore-window): restoring a branch from itself at an
    LSN older than history_retention_seconds is refused (400), as is a branch made at that LSN. The window is
    shortened to 1 second so that the test need not wait Free's 6 hours."""
    backup = free.branch("pre-migrate")
    lsn = backup.body["branch"]["parent_lsn"]
    body = {"source_branch_id": free.main["id"], "source_lsn": lsn, "preserve_under_name": "main-before-1"}
    restored = free.call("POST", free.path(f"/branches/{free.main['id']}/restore"), body)
    assert restored.status == 200, restored.body  # inside the window it works
    free.settle()
    shortened = free.call("PATCH", free.path(), {"project": {"history_retention_seconds": 1}})
    assert shortened.status == 200, shortened.body
    free.settle()
    time.sleep(1.5)
    late = free.call(
        "POST",
        free.path(f"/branches/{free.main['id']}/restore"),
        {**body, "preserve_under_name": "main-before-2"},
    )
    assert_neon_error(late, 400, "older than the project's history retention window")
    assert_neon_error(free.branch("from-the-past", parent_lsn=lsn), 400, "history retention")


def test_a_history_retention_over_the_free_plans_6_hours_is_refused(free: Project) -> None:
    """Restore window maximum: Free 6 hours (neon.com/docs/introduction/restore-window); Neon answers 400
    above the plan's maximum (shared/reference/neon-api.md, update project)."""
    over = free.call("PATCH", free.path(), {"project": {"history_retention_seconds": 6 * 3600 + 1}})
    assert_neon_error(over, 400, "between 0 and 21600 on the Free plan")
    free.set_plan("launch")
    week = free.call("PATCH", free.path(), {"project": {"history_retention_seconds": 7 * 86400}})
    assert week.status == 200, week.body


def test_a_compute_beyond_the_plan_is_refused(free: Project) -> None:
    """Autoscaling: Free up to 2 CU, Launch and Scale up to 16 CU, Scale fixed sizes up to 56 CU
    (neon.com/docs/introduction/plans, "Autoscaling"): a branch's endpoint, a new endpoint and a changed one
    over the plan are refused (400)."""
    big = {"type": "read_write", "autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 4}
    created = free.call("POST", free.path("/branches"), {"branch": {"name": "big"}, "endpoints": [big]})
    assert_neon_error(created, 400, "over the Free plan's maximum for autoscaling (2 CU)")
    endpoint = free.call("GET", free.path(f"/branches/{free.main['id']}/endpoints")).body["endpoints"][0]
    patched = free.call(
        "PATCH", free.path(f"/endpoints/{endpoint['id']}"), {"endpoint": {"autoscaling_limit_max_cu": 4}}
    )
    assert_neon_error(patched, 400, "over the Free plan's maximum")
    free.set_plan("scale")
    fixed = free.call(
        "PATCH",
        free.path(f"/endpoints/{endpoint['id']}"),
        {"endpoint": {"autoscaling_limit_min_cu": 56, "autoscaling_limit_max_cu": 56}},
    )
    assert fixed.status == 200, fixed.body
    free.settle()
    autoscaled = free.call(
        "PATCH",
        free.path(f"/endpoints/{endpoint['id']}"),
        {"endpoint": {"autoscaling_limit_min_cu": 1, "autoscaling_limit_max_cu": 17}},
    )
    assert_neon_error(autoscaled, 400, "over the Scale plan's maximum for autoscaling (16 CU)")
