"""The Neon emulator's API over a fake PostgreSQL (databases as dicts of rows) and a fake clock."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from werkzeug.test import Client

from sandbox.faults import FaultRule, FaultSet
from sandbox.neon.app import NeonApp
from sandbox.neon.model import SEED_PROJECT_ID, NeonApiError, NeonModel, branch_name_problem
from sandbox.requestlog import RequestLog
from sandbox.server import SandboxApp

BASE = f"/neon/api/v2/projects/{SEED_PROJECT_ID}"
AUTH = {"Authorization": "Bearer test-key"}


class FakePostgres:
    """Databases are dicts of rows; the LSN moves on with every write."""

    host = "127.0.0.1:5999"

    def __init__(self) -> None:
        self.databases: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, str] = {}
        self.wal = 0x1000000

    def _tick(self) -> None:
        self.wal += 0x100

    def current_lsn(self) -> str:
        return f"0/{self.wal:X}"

    def create_database(self, name: str, owner: str) -> None:
        assert name not in self.databases
        self.databases[name] = {"owner": owner, "rows": []}
        self._tick()

    def copy_database(self, source: str, target: str, owner: str) -> None:
        assert target not in self.databases
        self.databases[target] = {"owner": owner, "rows": copy.deepcopy(self.databases[source]["rows"])}
        self._tick()

    def rename_database(self, old: str, new: str) -> None:
        self.databases[new] = self.databases.pop(old)
        self._tick()

    def drop_database(self, name: str) -> None:
        self.databases.pop(name, None)

    def drop_databases_like(self, prefix: str) -> list[str]:
        names = [name for name in self.databases if name.startswith(prefix)]
        for name in names:
            del self.databases[name]
        return names

    def ensure_role(self, name: str, password: str) -> None:
        self.roles[name] = password

    def drop_role(self, name: str) -> bool:
        self.roles.pop(name, None)
        return True

    def write(self, physical: str, row: Any) -> None:
        self.databases[physical]["rows"].append(row)
        self._tick()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def pg() -> FakePostgres:
    return FakePostgres()


@pytest.fixture
def now() -> FakeTime:
    return FakeTime()


@pytest.fixture
def faults() -> FaultSet:
    return FaultSet()


@pytest.fixture
def log() -> RequestLog:
    return RequestLog()


@pytest.fixture
def model(pg: FakePostgres, now: FakeTime, monkeypatch: pytest.MonkeyPatch) -> NeonModel:
    monkeypatch.setenv("SANDBOX_TIME_SCALE", "60")
    model = NeonModel(pg, now=now)
    model.reset()
    return model


@pytest.fixture
def client(model: NeonModel, faults: FaultSet, log: RequestLog) -> Client:
    return Client(NeonApp(model, faults=faults, log=log, api_key=""))


def call(client: Client, method: str, path: str, body: Any = None, headers: Any = None) -> Any:
    response = client.open(
        BASE + path, method=method, json=body, headers=AUTH if headers is None else headers
    )
    return response


def main_branch(client: Client) -> dict[str, Any]:
    branches = call(client, "GET", "/branches").json["branches"]
    return next(b for b in branches if b["default"])


def create(client: Client, now: FakeTime, name: str, **branch: Any) -> dict[str, Any]:
    response = call(
        client,
        "POST",
        "/branches",
        {"branch": {"name": name, **branch}, "endpoints": [{"type": "read_write"}]},
    )
    assert response.status_code == 201, response.json
    now.advance(10)  # well past the operations' compressed durations
    return response.json


def physical(model: NeonModel, branch_id: str, database: str = "neondb") -> str:
    return model.projects[SEED_PROJECT_ID].branches[branch_id].databases[database].physical


def test_seed_project_has_a_ready_main_branch_with_database_and_role(client: Client) -> None:
    main = main_branch(client)
    assert (main["name"], main["current_state"], main["default"]) == ("main", "ready", True)
    databases = call(client, "GET", f"/branches/{main['id']}/databases").json["databases"]
    assert [(d["name"], d["owner_name"]) for d in databases] == [("neondb", "neondb_owner")]
    endpoints = call(client, "GET", f"/branches/{main['id']}/endpoints").json["endpoints"]
    assert endpoints[0]["type"] == "read_write" and endpoints[0]["host"] == "127.0.0.1:5999"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}],
    ids=["none", "empty", "basic"],
)
def test_401_without_a_bearer_key_in_neons_error_shape(client: Client, headers: dict[str, str]) -> None:
    response = call(client, "GET", "/branches", headers=headers)
    assert response.status_code == 401
    assert set(response.json) == {"request_id", "code", "message"}


def test_a_configured_key_is_the_only_one_accepted(model: NeonModel) -> None:
    client = Client(NeonApp(model, api_key="right"))
    assert client.get(BASE, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(BASE, headers={"Authorization": "Bearer right"}).status_code == 200


def test_create_branch_copies_the_parent_and_runs_operations_in_time(
    client: Client, model: NeonModel, pg: FakePostgres, now: FakeTime
) -> None:
    main = main_branch(client)
    pg.write(physical(model, main["id"]), "row-1")
    response = call(
        client, "POST", "/branches", {"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]}
    )
    assert response.status_code == 201
    created = response.json
    assert created["branch"]["current_state"] == "init"
    assert created["branch"]["parent_id"] == main["id"]
    assert [op["action"] for op in created["operations"]] == ["create_branch", "start_compute"]
    assert {op["status"] for op in created["operations"]} == {"scheduling"}
    assert created["connection_uris"][0]["connection_uri"].startswith("postgresql://neondb_owner:")
    operation = created["operations"][0]["id"]
    now.advance(0.3)
    assert call(client, "GET", f"/operations/{operation}").json["operation"]["status"] == "running"
    now.advance(5)
    assert call(client, "GET", f"/operations/{operation}").json["operation"]["status"] == "finished"
    branch = call(client, "GET", f"/branches/{created['branch']['id']}").json["branch"]
    assert branch["current_state"] == "ready"
    assert pg.databases[physical(model, branch["id"])]["rows"] == ["row-1"]


def test_423_while_an_operation_runs_then_writes_pass(client: Client, now: FakeTime) -> None:
    call(client, "POST", "/branches", {"branch": {"name": "a"}})
    locked = call(client, "POST", "/branches", {"branch": {"name": "b"}})
    assert locked.status_code == 423
    assert "conflicting operations" in locked.json["message"]
    assert call(client, "GET", "/branches").status_code == 200  # reads are never locked
    now.advance(10)
    assert call(client, "POST", "/branches", {"branch": {"name": "b"}}).status_code == 201


def test_409_when_the_name_exists(client: Client, now: FakeTime) -> None:
    create(client, now, "dup")
    response = call(client, "POST", "/branches", {"branch": {"name": "dup"}})
    assert response.status_code == 409
    assert "already exists" in response.json["message"]


def test_delete_then_204_when_already_gone(
    client: Client, now: FakeTime, model: NeonModel, pg: FakePostgres
) -> None:
    branch = create(client, now, "gone")["branch"]
    database = physical(model, branch["id"])
    first = call(client, "DELETE", f"/branches/{branch['id']}")
    assert first.status_code == 200
    assert [op["action"] for op in first.json["operations"]] == ["suspend_compute", "delete_timeline"]
    assert database not in pg.databases
    now.advance(10)
    second = call(client, "DELETE", f"/branches/{branch['id']}")
    assert (second.status_code, second.data) == (204, b"")


def test_delete_refused_for_default_protected_and_parent_branches(
    client: Client, model: NeonModel, now: FakeTime
) -> None:
    model.set_plan(SEED_PROJECT_ID, "launch")  # protected branches are a paid-plan feature
    main = main_branch(client)
    assert call(client, "DELETE", f"/branches/{main['id']}").status_code == 400
    parent = create(client, now, "parent")["branch"]
    create(client, now, "child", parent_id=parent["id"])
    refused = call(client, "DELETE", f"/branches/{parent['id']}")
    assert refused.status_code == 400 and "child" in refused.json["message"]
    guarded = create(client, now, "guarded", protected=True)["branch"]
    assert call(client, "DELETE", f"/branches/{guarded['id']}").status_code == 400


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "non-empty"), (" lead", "whitespace"), ("tab\there", "control"), ("x" * 257, "256")],
)
def test_invalid_branch_names_are_400(client: Client, name: str, problem: str) -> None:
    response = call(client, "POST", "/branches", {"branch": {"name": name}})
    if name == "":  # Neon names an unnamed branch itself
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert problem in response.json["message"]


@pytest.mark.parametrize("name", ["feature/login", "preview-42", "x" * 256, "émoji ok"])
def test_valid_branch_names(name: str) -> None:
    assert branch_name_problem(name) is None


def test_update_protected_and_expiry_rules(client: Client, model: NeonModel, now: FakeTime) -> None:
    model.set_plan(SEED_PROJECT_ID, "launch")
    branch = create(client, now, "upd")["branch"]
    path = f"/branches/{branch['id']}"
    soon = "2030-03-01T00:00:00Z"  # FakeTime starts 2030-03-17T17:46Z: in the past
    assert call(client, "PATCH", path, {"branch": {"expires_at": soon}}).status_code == 400
    later = "2030-03-20T00:00:00Z"
    updated = call(client, "PATCH", path, {"branch": {"expires_at": later}})
    assert updated.status_code == 200 and updated.json["branch"]["expires_at"] == later
    refused = call(client, "PATCH", path, {"branch": {"protected": True}})
    assert refused.status_code == 400  # a protected branch cannot expire
    cleared = call(client, "PATCH", path, {"branch": {"expires_at": None, "protected": True}})
    assert cleared.json["branch"]["protected"] is True and cleared.json["branch"]["expires_at"] is None


def test_an_expired_branch_disappears(client: Client, now: FakeTime) -> None:
    branch = create(client, now, "short", expires_at="2030-03-18T12:00:00Z")["branch"]
    now.advance(86400)
    assert call(client, "GET", f"/branches/{branch['id']}").status_code == 404


def test_restore_from_itself_at_a_backup_lsn_brings_the_rows_back(
    client: Client, model: NeonModel, pg: FakePostgres, now: FakeTime
) -> None:
    main = main_branch(client)
    main_db = physical(model, main["id"])
    pg.write(main_db, "kept")
    backup = create(client, now, "pre-migrate")["branch"]
    pg.write(main_db, "after-backup")
    pg.databases[main_db]["rows"].clear()  # the destructive migration
    body = {
        "source_branch_id": main["id"],
        "source_lsn": backup["parent_lsn"],
        "preserve_under_name": "main-old",
    }
    response = call(client, "POST", f"/branches/{main['id']}/restore", body)
    assert response.status_code == 200, response.json
    assert response.json["branch"]["current_state"] == "resetting"
    assert physical(model, main["id"]) == main_db  # same database name: connection strings still work
    assert pg.databases[main_db]["rows"] == ["kept"]
    now.advance(10)
    branches = {b["name"]: b for b in call(client, "GET", "/branches").json["branches"]}
    assert branches["main"]["current_state"] == "ready" and branches["main"]["last_reset_at"]
    preserved = branches["main-old"]
    assert preserved["parent_id"] == main["id"]
    assert pg.databases[physical(model, preserved["id"])]["rows"] == []


def test_restore_rules(client: Client, now: FakeTime) -> None:
    main = main_branch(client)
    other = create(client, now, "other")["branch"]
    path = f"/branches/{main['id']}/restore"
    no_point = call(client, "POST", path, {"source_branch_id": main["id"], "preserve_under_name": "x"})
    assert no_point.status_code == 400 and "source_lsn" in no_point.json["message"]
    no_name = call(client, "POST", path, {"source_branch_id": main["id"], "source_lsn": "0/1"})
    assert no_name.status_code == 400 and "preserve_under_name" in no_name.json["message"]
    too_old = call(
        client,
        "POST",
        path,
        {"source_branch_id": main["id"], "source_lsn": "0/1", "preserve_under_name": "x"},
    )
    assert too_old.status_code == 400 and "outside" in too_old.json["message"]
    taken = call(client, "POST", path, {"source_branch_id": other["id"], "preserve_under_name": "other"})
    assert taken.status_code == 409


def test_restore_from_another_branch(
    client: Client, model: NeonModel, pg: FakePostgres, now: FakeTime
) -> None:
    source = create(client, now, "source")["branch"]
    pg.write(physical(model, source["id"]), "from-source")
    target = create(client, now, "target")["branch"]
    pg.databases[physical(model, target["id"])]["rows"] = ["target-only"]
    response = call(client, "POST", f"/branches/{target['id']}/restore", {"source_branch_id": source["id"]})
    assert response.status_code == 200, response.json
    assert pg.databases[physical(model, target["id"])]["rows"] == ["from-source"]


def test_connection_uri_and_reveal_password(client: Client, pg: FakePostgres, model: NeonModel) -> None:
    main = main_branch(client)
    query = f"?branch_id={main['id']}&database_name=neondb&role_name=neondb_owner"
    uri = call(client, "GET", "/connection_uri" + query).json["uri"]
    password = call(client, "GET", f"/branches/{main['id']}/roles/neondb_owner/reveal_password").json[
        "password"
    ]
    assert uri == f"postgresql://neondb_owner:{password}@127.0.0.1:5999/{physical(model, main['id'])}"
    assert pg.roles["neondb_owner"] == password
    assert call(client, "GET", "/connection_uri").status_code == 400


def test_roles_databases_and_endpoints(
    client: Client, model: NeonModel, pg: FakePostgres, now: FakeTime
) -> None:
    model.set_plan(SEED_PROJECT_ID, "launch")  # 4 CU is over Free's 2
    branch = create(client, now, "extras")["branch"]
    role = call(client, "POST", f"/branches/{branch['id']}/roles", {"role": {"name": "app"}})
    assert role.status_code == 201 and role.json["role"]["password"] == pg.roles["app"]
    now.advance(10)
    assert (
        call(client, "POST", f"/branches/{branch['id']}/roles", {"role": {"name": "postgres"}}).status_code
        == 400
    )
    database = call(
        client,
        "POST",
        f"/branches/{branch['id']}/databases",
        {"database": {"name": "app", "owner_name": "app"}},
    )
    assert database.status_code == 201
    now.advance(10)
    second = call(
        client, "POST", "/endpoints", {"endpoint": {"branch_id": branch["id"], "type": "read_write"}}
    )
    assert second.status_code == 400  # one read_write endpoint per branch
    endpoint = call(client, "GET", f"/branches/{branch['id']}/endpoints").json["endpoints"][0]
    patched = call(
        client, "PATCH", f"/endpoints/{endpoint['id']}", {"endpoint": {"autoscaling_limit_max_cu": 4}}
    )
    assert patched.json["endpoint"]["autoscaling_limit_max_cu"] == 4


def test_list_branches_search_and_pagination(client: Client, now: FakeTime) -> None:
    for name in ("pg-a", "pg-b", "pg-c"):
        create(client, now, name)
    first = call(client, "GET", "/branches?search=pg-&limit=2").json
    assert [b["name"] for b in first["branches"]] == ["pg-a", "pg-b"]
    rest = call(client, "GET", f"/branches?search=pg-&limit=2&cursor={first['pagination']['next']}").json
    assert [b["name"] for b in rest["branches"]] == ["pg-c"] and rest["pagination"] == {}


def test_injected_423_and_429_and_the_request_log(client: Client, faults: FaultSet, log: RequestLog) -> None:
    faults.add(FaultRule(service="neon", code="Locked", status=423, action="CreateProjectBranch", count=1))
    faults.add(FaultRule(service="neon", code="TooManyRequests", status=429, count=1))
    locked = call(client, "POST", "/branches", {"branch": {"name": "f"}})
    assert locked.status_code == 423 and locked.json["code"] == "Locked"
    throttled = call(client, "GET", "/branches")
    assert throttled.status_code == 429
    assert call(client, "POST", "/branches", {"branch": {"name": "f"}}).status_code == 201
    entries = log.query(service="neon")
    assert [(e["operation"], e["status"], e["write"], e["faulted"]) for e in entries] == [
        ("CreateProjectBranch", 423, True, True),
        ("ListProjectBranches", 429, False, True),
        ("CreateProjectBranch", 201, True, False),
    ]


def test_unknown_route_is_404_in_neons_shape(client: Client) -> None:
    response = call(client, "GET", "/nothing-here")
    assert response.status_code == 404 and set(response.json) == {"request_id", "code", "message"}


def test_reset_reseeds_and_drops_the_emulators_databases(
    model: NeonModel, pg: FakePostgres, client: Client, now: FakeTime
) -> None:
    create(client, now, "temp")
    before = set(pg.databases)
    result = model.reset()
    assert result["project_id"] == SEED_PROJECT_ID
    assert before <= set(result["dropped_databases"])
    assert [b["name"] for b in call(client, "GET", "/branches").json["branches"]] == ["main"]


def test_create_and_delete_project(client: Client, pg: FakePostgres) -> None:
    created = client.post("/neon/api/v2/projects", json={"project": {"name": "tests"}}, headers=AUTH)
    assert created.status_code == 201
    project_id = created.json["project"]["id"]
    assert created.json["branch"]["name"] == "main"
    count = len(pg.databases)
    assert client.delete(f"/neon/api/v2/projects/{project_id}", headers=AUTH).status_code == 200
    assert len(pg.databases) < count
    assert client.get(f"/neon/api/v2/projects/{project_id}", headers=AUTH).status_code == 404


def test_the_front_door_mounts_the_emulator_with_its_faults_and_log(model: NeonModel) -> None:
    def no_aws(environ: Any, start_response: Any) -> Any:
        raise AssertionError("a Neon call reached the AWS app")

    app = SandboxApp(no_aws, {"pid": 1, "port": 4599}, reset_aws=lambda: None)
    app.neon = NeonApp(model, faults=app.faults, log=app.log, api_key="")
    front = Client(app)
    rule = {"service": "neon", "code": "Locked", "status": 423, "action": "GetProject", "count": 1}
    assert front.post("/_sandbox/faults", json=rule).status_code == 201
    assert front.get(BASE, headers=AUTH).status_code == 423
    assert front.get(BASE, headers=AUTH).status_code == 200
    logged = front.get("/_sandbox/requests?service=neon").json
    assert [(e["operation"], e["status"]) for e in logged] == [("GetProject", 423), ("GetProject", 200)]


# Plans (sandbox.neon.plans): each refusal as Neon answers it, with the source in the docstring.


def set_plan(client: Client, plan: str, project: str = SEED_PROJECT_ID) -> Any:
    return client.open(f"/neon/_sandbox/projects/{project}/plan", method="PUT", json={"plan": plan})


def test_new_projects_take_the_account_plan_free_by_default(
    client: Client, pg: FakePostgres, now: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neon's project answer carries the account's plan and branch limit (ProjectOwnerData in the OpenAPI:
    ``owner.subscription_type``, ``owner.branches_limit``); a new account is on Free."""
    project = call(client, "GET", "").json["project"]
    assert project["owner"]["subscription_type"] == "free_v3" and project["owner"]["branches_limit"] == 10
    assert project["history_retention_seconds"] == 6 * 3600  # Free's default restore window
    monkeypatch.setenv("SANDBOX_NEON_PLAN", "launch")
    launch = NeonModel(pg, now=now)
    created = launch.create_project({"project": {"name": "paid"}})["project"]
    assert created["owner"]["subscription_type"] == "launch_v3"
    assert created["history_retention_seconds"] == 86400  # 1 day, paid plans' default


def test_the_admin_route_moves_a_project_to_another_plan(client: Client) -> None:
    assert set_plan(client, "scale").json["project"]["owner"]["subscription_type"] == "scale_v3"
    assert (
        call(client, "PATCH", "", {"project": {"history_retention_seconds": 30 * 86400}}).status_code == 200
    )
    downgraded = set_plan(client, "free").json["project"]
    assert downgraded["history_retention_seconds"] == 6 * 3600  # lowered to the new plan's maximum
    assert set_plan(client, "business").status_code == 400
    assert set_plan(client, "free", project="no-such-project").status_code == 404


def test_protected_branch_refused_on_free(client: Client, now: FakeTime) -> None:
    """Protected branches are on paid plans only (neon.com/docs/guides/protected-branches); on Free both a
    create with protected and a PATCH to protected are refused, 422 in Neon's error shape."""
    refused = call(client, "POST", "/branches", {"branch": {"name": "prod", "protected": True}})
    assert refused.status_code == 422
    assert set(refused.json) == {"request_id", "code", "message"}
    assert "not available on the Free plan" in refused.json["message"]
    branch = create(client, now, "prod")["branch"]
    patched = call(client, "PATCH", f"/branches/{branch['id']}", {"branch": {"protected": True}})
    assert patched.status_code == 422 and "Free plan" in patched.json["message"]
    assert call(client, "GET", f"/branches/{branch['id']}").json["branch"]["protected"] is False


def test_protected_branches_beyond_the_launch_plans_two_are_refused(
    client: Client, model: NeonModel, now: FakeTime
) -> None:
    """ "The Launch plan supports up to 2 protected branches" (neon.com/docs/guides/protected-branches)."""
    model.set_plan(SEED_PROJECT_ID, "launch")
    create(client, now, "p1", protected=True)
    create(client, now, "p2", protected=True)
    third = call(client, "POST", "/branches", {"branch": {"name": "p3", "protected": True}})
    assert third.status_code == 422 and "allows 2 protected branches" in third.json["message"]


def test_the_eleventh_branch_on_free_is_refused(client: Client, model: NeonModel, now: FakeTime) -> None:
    """Free allows 10 branches a project, the root branch included, with no extra branches
    (neon.com/docs/introduction/plans, "Branches" and "Extra branches"); Neon answers 422
    BRANCHES_LIMIT_EXCEEDED (neondatabase/neon test_runner/random_ops/test_random_ops.py), to a create and
    to a restore whose preserved branch would be the eleventh."""
    made = [create(client, now, f"b{n}")["branch"] for n in range(1, 10)]  # main + 9 = 10
    refused = call(client, "POST", "/branches", {"branch": {"name": "b10"}})
    assert refused.status_code == 422
    assert (
        refused.json["code"] == "BRANCHES_LIMIT_EXCEEDED"
        and refused.json["message"] == "branches limit exceeded"
    )
    main = main_branch(client)
    restore = call(
        client,
        "POST",
        f"/branches/{main['id']}/restore",
        {"source_branch_id": made[0]["id"], "preserve_under_name": "main-old"},
    )
    assert restore.status_code == 422 and restore.json["code"] == "BRANCHES_LIMIT_EXCEEDED"
    assert call(client, "DELETE", f"/branches/{made[-1]['id']}").status_code == 200
    now.advance(10)
    assert call(client, "POST", "/branches", {"branch": {"name": "b10"}}).status_code == 201
    model.set_plan(SEED_PROJECT_ID, "launch")  # Launch bills extra branches instead
    now.advance(10)
    assert call(client, "POST", "/branches", {"branch": {"name": "b11"}}).status_code == 201


@pytest.mark.parametrize(
    ("plan", "maximum"), [("free", 6 * 3600), ("launch", 7 * 86400), ("scale", 30 * 86400)]
)
def test_history_retention_beyond_the_plans_restore_window_is_400(
    client: Client, model: NeonModel, now: FakeTime, plan: str, maximum: int
) -> None:
    """Restore window maximum: Free 6 hours, Launch 7 days, Scale 30 days
    (neon.com/docs/introduction/restore-window); Neon answers 400 above it."""
    model.set_plan(SEED_PROJECT_ID, plan)
    over = call(client, "PATCH", "", {"project": {"history_retention_seconds": maximum + 1}})
    assert over.status_code == 400 and f"on the {plan.capitalize()} plan" in over.json["message"]
    at = call(client, "PATCH", "", {"project": {"history_retention_seconds": maximum}})
    assert at.status_code == 200 and at.json["project"]["history_retention_seconds"] == maximum


def test_project_create_refuses_a_retention_over_the_plan(model: NeonModel) -> None:
    """ProjectCreateRequest.history_retention_seconds, bounded by the plan as the PATCH is."""
    with pytest.raises(NeonApiError) as refused:
        model.create_project({"project": {"name": "long", "history_retention_seconds": 86400}})
    assert refused.value.status == 400 and "Free plan" in refused.value.message


def test_restore_beyond_the_history_retention_is_refused(
    client: Client, model: NeonModel, pg: FakePostgres, now: FakeTime
) -> None:
    """Neon keeps no history older than the restore window ("WAL records that exceed your restore window
    are automatically removed", neon.com/docs/introduction/restore-window): a restore to a backup branch's
    LSN works inside Free's 6 hours and is refused (400) after them; so is a branch from that LSN."""
    main = main_branch(client)
    backup = create(client, now, "pre-migrate")["branch"]
    pg.write(physical(model, main["id"]), "after")
    body = {"source_branch_id": main["id"], "source_lsn": backup["parent_lsn"], "preserve_under_name": "old1"}
    now.advance(5 * 3600)
    assert call(client, "POST", f"/branches/{main['id']}/restore", body).status_code == 200
    now.advance(2 * 3600)  # the backup's LSN is now 7 hours old
    late = call(client, "POST", f"/branches/{main['id']}/restore", {**body, "preserve_under_name": "old2"})
    assert late.status_code == 400 and "older than the project's history retention" in late.json["message"]
    branched = call(
        client, "POST", "/branches", {"branch": {"name": "from-old", "parent_lsn": backup["parent_lsn"]}}
    )
    assert branched.status_code == 400 and "history retention" in branched.json["message"]
    stamp = "2030-03-17T12:00:00Z"  # older than now - 6 h
    by_time = call(
        client,
        "POST",
        f"/branches/{main['id']}/restore",
        {"source_branch_id": main["id"], "source_timestamp": stamp, "preserve_under_name": "old3"},
    )
    assert by_time.status_code == 400 and "history retention" in by_time.json["message"]


@pytest.mark.parametrize(
    ("plan", "min_cu", "max_cu", "allowed"),
    [
        ("free", 0.25, 2, True),
        ("free", 0.25, 4, False),  # Free: up to 2 CU
        ("free", 2, 2, True),
        ("launch", 0.25, 16, True),
        ("launch", 0.25, 17, False),  # Launch: autoscaling up to 16 CU
        ("launch", 20, 20, False),
        ("scale", 0.25, 17, False),  # Scale: autoscaling up to 16 CU ...
        ("scale", 56, 56, True),  # ... fixed sizes up to 56 CU
    ],
)
def test_compute_sizes_beyond_the_plan_are_400(
    client: Client, model: NeonModel, now: FakeTime, plan: str, min_cu: float, max_cu: float, allowed: bool
) -> None:
    """Autoscaling per plan (neon.com/docs/introduction/plans, "Autoscaling"): Free up to 2 CU, Launch up to
    16 CU, Scale up to 16 CU autoscaling or a fixed size up to 56 CU; refused on create (branch endpoints
    and POST /endpoints) and on PATCH."""
    model.set_plan(SEED_PROJECT_ID, plan)
    limits = {"autoscaling_limit_min_cu": min_cu, "autoscaling_limit_max_cu": max_cu}
    created = call(
        client,
        "POST",
        "/branches",
        {"branch": {"name": "c"}, "endpoints": [{"type": "read_write", **limits}]},
    )
    assert created.status_code == (201 if allowed else 400), created.json
    now.advance(10)
    endpoint = call(client, "GET", f"/branches/{main_branch(client)['id']}/endpoints").json["endpoints"][0]
    patched = call(client, "PATCH", f"/endpoints/{endpoint['id']}", {"endpoint": limits})
    assert patched.status_code == (200 if allowed else 400), patched.json
    if not allowed:
        assert f"{plan.capitalize()} plan's maximum" in patched.json["message"]
