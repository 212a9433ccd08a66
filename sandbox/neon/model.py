"""Neon's projects, branches, endpoints, roles, databases and operations, kept over one real PostgreSQL.

How it maps onto PostgreSQL, and where that differs from real Neon:

- A branch's database is a real PostgreSQL database (``neon_<name>_<hex>``) on the sandbox's one server.
  A child branch is ``CREATE DATABASE ... TEMPLATE <parent's database>``. PostgreSQL refuses a template that
  has sessions, so the emulator ends the parent's sessions first: **clients connected to the parent are
  disconnected when a child is created** (real Neon branches copy-on-write and disconnect nobody).
- History is not continuous. Whenever a branch is copied (a child made, a restore from it) the emulator first
  copies it into a hidden snapshot database keyed by ``pg_current_wal_lsn()`` and the time, and the root
  branch gets one at creation. Restoring "at LSN X" (or a timestamp) uses the latest snapshot at or before X:
  exact for the restore-point workflow (record a backup branch's ``parent_lsn``, later restore the parent
  from itself at that LSN), but writes between that snapshot and X are not replayed as Neon would.
- A restore swaps databases by RENAME so the restored branch keeps its id, database name and connection
  string; the state before the restore lives on under ``preserve_under_name`` as a child branch.
- Roles are PostgreSQL roles and so cluster-wide: two projects with a role of the same name share it (and its
  password). Roles are listed per project, not per branch. The server trusts local connections, so a
  password is checked by nobody; connection URIs still carry it, as Neon's do.
- LSNs are the whole cluster's WAL position, not a per-branch timeline's. Endpoints are all the one local
  server (``host`` is ``127.0.0.1:<port>``); autoscaling and suspend settings are stored, not acted on, and
  a pooled URI is the same as a direct one (no PgBouncer). URIs carry no ``sslmode`` (the server has no TLS).
- Plans (:mod:`sandbox.neon.plans`): each project has one, and the emulator refuses what the plan does not
  offer as Neon does: more branches than the plan allows (the root branch and a restore's preserved branch
  count), protected branches beyond the plan's number (none on Free), a history retention over the plan's
  restore window, a compute over the plan's autoscaling or fixed-size maximum, and a restore or a branch at an
  LSN or time older than the project's history retention. Storage, compute-hour and transfer allowances are
  not metered.
- Operations do their PostgreSQL work at once, then report ``scheduling`` -> ``running`` -> ``finished`` over
  a duration that :mod:`sandbox.clock` compresses; the branch stays ``init`` (or ``resetting``) and the
  project answers 423 to any other write until they finish. Operations never fail on their own.
"""

from __future__ import annotations

import datetime
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox import clock
from sandbox.neon.plans import (
    BRANCHES_LIMIT_CODE,
    BRANCHES_LIMIT_MESSAGE,
    BRANCHES_LIMIT_STATUS,
    PLAN_LIMIT_STATUS,
    Plan,
    account_plan,
    compute_problem,
    plan_named,
)

SEED_PROJECT_ID = "sandbox-project"
SEED_PROJECT_NAME = "sandbox"
DEFAULT_BRANCH = "main"
DEFAULT_DATABASE = "neondb"
DEFAULT_ROLE = "neondb_owner"
PHYSICAL_PREFIX = "neon_"
PG_VERSION = 17
REGION = "aws-eu-west-2"
# Neon's OpenAPI (ProjectCreateRequest.history_retention_seconds): 0 to 2592000 whatever the plan; each plan
# has its own maximum within that (sandbox.neon.plans).
MAX_HISTORY_RETENTION_SECONDS = 2592000
MAX_EXPIRY_SECONDS = 30 * 86400
MAX_NAME_LENGTH = 256
LOCKED_MESSAGE = "project already has running conflicting operations, scheduling of some are blocked"
RESERVED_ROLES = frozenset({"postgres", "public", "none", "cloud_admin", "neon_superuser"})
# Real-world seconds each operation takes on Neon, before sandbox.clock compresses them (60x by default).
NOMINAL_SECONDS = {
    "create_branch": 30.0,
    "create_timeline": 40.0,
    "start_compute": 45.0,
    "suspend_compute": 15.0,
    "apply_config": 15.0,
    "delete_timeline": 30.0,
}
SCHEDULING_SECONDS = 3.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
_WORDS = (
    ("autumn", "billowing", "bitter", "calm", "cool", "crimson", "damp", "dawn", "falling", "frosty"),
    ("bird", "brook", "cloud", "dew", "field", "glade", "lake", "leaf", "moon", "sea"),
)


class Backend(Protocol):
    """The PostgreSQL side (``sandbox.neon.pg.PostgresBackend``; a fake in unit tests)."""

    host: str

    def current_lsn(self) -> str: ...
    def create_database(self, name: str, owner: str) -> None: ...
    def copy_database(self, source: str, target: str, owner: str) -> None: ...
    def rename_database(self, old: str, new: str) -> None: ...
    def drop_database(self, name: str) -> None: ...
    def drop_databases_like(self, prefix: str) -> list[str]: ...
    def ensure_role(self, name: str, password: str) -> None: ...
    def drop_role(self, name: str) -> bool: ...


class NeonApiError(Exception):
    """An answer in Neon's error shape: HTTP ``status``, ``message`` and (usually empty) ``code``."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        self.status = status
        self.message = message
        self.code = code
        super().__init__(message)


def rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, field_name: str) -> float:
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise NeonApiError(400, f"{field_name}: {value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise NeonApiError(
            400, f"{field_name}: {value!r} has no time zone; use RFC 3339, e.g. 2030-01-01T00:00:00Z"
        )
    return parsed.timestamp()


def lsn_value(lsn: str) -> int:
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def branch_name_problem(name: Any) -> str | None:
    """Why a branch name is not valid, or None."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters, got {len(name)}"
    if name != name.strip():
        return "must not start or end with whitespace"
    if _CONTROL.search(name):
        return "must not contain control characters"
    return None


@dataclass
class Image:
    """Databases holding one branch's data at one moment: Neon database name -> (physical name, owner)."""

    databases: dict[str, tuple[str, str]]


@dataclass
class RestorePoint:
    lsn: str
    time: float
    image: Image


@dataclass
class Database:
    id: int
    name: str
    owner_name: str
    physical: str
    created: float


@dataclass
class Role:
    name: str
    password: str
    created: float
    updated: float


@dataclass
class Branch:
    id: str
    project_id: str
    name: str
    parent_id: str | None
    parent_lsn: str | None
    parent_timestamp: float | None
    created: float
    updated: float
    databases: dict[str, Database]
    history: list[RestorePoint]
    default: bool = False
    protected: bool = False
    expires_at: float | None = None
    last_reset_at: float | None = None
    busy_state: str = "init"
    busy_until: float = 0.0


@dataclass
class Endpoint:
    id: str
    project_id: str
    branch_id: str
    type: str
    min_cu: float
    max_cu: float
    suspend_timeout_seconds: int
    created: float
    updated: float
    active_from: float


@dataclass
class Operation:
    id: str
    project_id: str
    action: str
    branch_id: str | None
    endpoint_id: str | None
    created: float
    starts: float
    ends: float

    def status(self, now: float) -> str:
        if now < self.starts:
            return "scheduling"
        return "running" if now < self.ends else "finished"

    def view(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        return {
            "id": self.id,
            "project_id": self.project_id,
            "branch_id": self.branch_id,
            "endpoint_id": self.endpoint_id,
            "action": self.action,
            "status": status,
            "failures_count": 0,
            "created_at": rfc3339(self.created),
            "updated_at": rfc3339(min(now, self.ends)),
            "total_duration_ms": round((self.ends - self.starts) * 1000) if status == "finished" else 0,
        }


@dataclass
class Project:
    id: str
    name: str
    created: float
    plan: Plan
    history_retention_seconds: int
    store_passwords: bool = True
    roles: dict[str, Role] = field(default_factory=dict)
    branches: dict[str, Branch] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    busy_until: float = 0.0
    # (LSN, time) whenever the emulator read the WAL position for this project: an LSN already reached
    # before the retention horizon is outside the history (see _check_retained).
    wal_clock: list[tuple[int, float]] = field(default_factory=list)


class NeonModel:
    """All projects, behind one lock: every call is short, and writes are serialised as PostgreSQL needs."""

    def __init__(
        self, backend: Backend, now: Callable[[], float] = time.time, plan: Plan | None = None
    ) -> None:
        self.backend = backend
        self.now = now
        self.account_plan = plan or account_plan()  # the plan of every new project
        self.projects: dict[str, Project] = {}
        self._lock = threading.RLock()
        self._next_database_id = 1

    def reset(self) -> dict[str, Any]:
        """Forget everything, drop the emulator's databases, and seed one project with a ``main`` branch."""
        with self._lock:
            roles = {name for project in self.projects.values() for name in project.roles}
            self.projects.clear()
            dropped = self.backend.drop_databases_like(PHYSICAL_PREFIX)
            for name in sorted(roles):
                self.backend.drop_role(name)
            project = self._new_project(SEED_PROJECT_ID, SEED_PROJECT_NAME, settle=True)
            return {"project_id": project.id, "dropped_databases": dropped}

    def create_project(self, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "project", required=False)
        name = spec.get("name") or f"project-{secrets.token_hex(3)}"
        retention = None
        if spec.get("history_retention_seconds") is not None:
            retention = _int(spec["history_retention_seconds"], "history_retention_seconds")
            _check_retention(self.account_plan, retention)
        with self._lock:
            project_id = f"{_words()}-{secrets.randbelow(10**8):08d}"
            project = self._new_project(project_id, str(name), settle=False)
            if retention is not None:
                project.history_retention_seconds = retention
            branch = next(iter(project.branches.values()))
            endpoint = next(iter(project.endpoints.values()))
            now = self.now()
            operations = self._schedule(
                project, [("create_timeline", branch.id, None), ("start_compute", branch.id, endpoint.id)]
            )
            branch.busy_until = endpoint.active_from = operations[0].ends
            return {
                "project": self._project_view(project),
                "branch": self._branch_view(branch, now),
                "endpoints": [self._endpoint_view(endpoint, now)],
                "roles": [self._role_view(project, role, branch) for role in project.roles.values()],
                "databases": [self._database_view(branch, db) for db in branch.databases.values()],
                "operations": [op.view(now) for op in operations],
                "connection_uris": self._connection_uris(project, branch),
            }

    def _new_project(self, project_id: str, name: str, settle: bool) -> Project:
        now = self.now()
        plan = self.account_plan
        project = Project(
            id=project_id,
            name=name,
            created=now,
            plan=plan,
            history_retention_seconds=plan.default_history_retention_seconds,
        )
        role = Role(DEFAULT_ROLE, _password(), now, now)
        self.backend.ensure_role(role.name, role.password)
        project.roles[role.name] = role
        physical = _physical(DEFAULT_DATABASE)
        self.backend.create_database(physical, role.name)
        database = Database(self._database_id(), DEFAULT_DATABASE, role.name, physical, now)
        branch = Branch(
            id=_id("br"),
            project_id=project_id,
            name=DEFAULT_BRANCH,
            parent_id=None,
            parent_lsn=None,
            parent_timestamp=None,
            created=now,
            updated=now,
            databases={database.name: database},
            history=[],
            default=True,
        )
        branch.history.append(self._snapshot(branch, project))
        project.branches[branch.id] = branch
        endpoint = self._new_endpoint(project, branch, {}, active_from=now)
        if settle:
            branch.busy_until = 0.0
            endpoint.active_from = 0.0
        self.projects[project.id] = project
        return project

    def list_projects(self) -> dict[str, Any]:
        with self._lock:
            return {"projects": [self._project_view(p) for p in self.projects.values()]}

    def get_project(self, project_id: str) -> dict[str, Any]:
        with self._lock:
            return {"project": self._project_view(self._project(project_id))}

    def update_project(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "project")
        with self._lock:
            project = self._writable(project_id)
            operations: list[Operation] = []
            if "history_retention_seconds" in spec:
                seconds = _int(spec["history_retention_seconds"], "history_retention_seconds")
                _check_retention(project.plan, seconds)
                if seconds != project.history_retention_seconds:
                    project.history_retention_seconds = seconds
                    operations = self._schedule(project, [("apply_config", None, None)])
            if "name" in spec:
                project.name = str(spec["name"])
            return {"project": self._project_view(project), "operations": self._views(operations)}

    def delete_project(self, project_id: str) -> tuple[int, dict[str, Any] | None]:
        """Drop every database of the project (its roles stay: they may be shared, see the module doc)."""
        with self._lock:
            project = self.projects.get(project_id)
            if project is None:
                return 404, None
            view = self._project_view(project)
            for branch in sorted(project.branches.values(), key=lambda b: b.created, reverse=True):
                self._forget_branch(project, branch)
            del self.projects[project_id]
            return 200, {"project": view}

    def list_branches(
        self, project_id: str, search: str | None, limit: int | None, cursor: str | None
    ) -> dict[str, Any]:
        if limit is not None and not 1 <= limit <= 10000:
            raise NeonApiError(400, "limit must be between 1 and 10000")
        with self._lock:
            project = self._project(project_id)
            now = self.now()
            branches = sorted(project.branches.values(), key=lambda b: (b.created, b.id))
            if search:
                needle = search.lower()
                branches = [b for b in branches if needle in b.name.lower() or needle in b.id]
            if cursor:
                ids = [b.id for b in branches]
                branches = branches[ids.index(cursor) + 1 :] if cursor in ids else []
            page = branches[:limit] if limit else branches
            more = limit is not None and len(branches) > limit
            return {
                "branches": [self._branch_view(b, now) for b in page],
                "annotations": {},
                "pagination": {"next": page[-1].id} if more and page else {},
            }

    def get_branch(self, project_id: str, branch_id: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            return {"branch": self._branch_view(self._branch(project, branch_id), self.now())}

    def create_branch(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "branch", required=False)
        endpoint_specs = body.get("endpoints") or []
        if not isinstance(endpoint_specs, list) or not all(isinstance(e, dict) for e in endpoint_specs):
            raise NeonApiError(400, "endpoints must be a list of objects")
        if sum(1 for e in endpoint_specs if e.get("type") == "read_write") > 1:
            raise NeonApiError(400, "a branch can have only one read_write endpoint")
        for endpoint_spec in endpoint_specs:
            if endpoint_spec.get("type") not in ("read_write", "read_only"):
                raise NeonApiError(400, "endpoints[].type must be read_write or read_only")
        with self._lock:
            project = self._writable(project_id)
            now = self.now()
            name = spec.get("name") or f"br-{_words()}"
            problem = branch_name_problem(name)
            if problem:
                raise NeonApiError(400, f"branch name {problem}")
            if self._by_name(project, name):
                raise NeonApiError(409, f"branch with name {name!r} already exists")
            parent = (
                self._branch(project, str(spec["parent_id"]))
                if spec.get("parent_id")
                else self._default_branch(project)
            )
            self._check_branch_quota(project)
            protected = _bool(spec.get("protected", False), "protected")
            if protected:
                self._check_protected_quota(project, None)
            for endpoint_spec in endpoint_specs:
                self._endpoint_limits(project, endpoint_spec, 0.25, 2.0)
            expires_at = self._expiry(
                spec.get("expires_at"), protected=protected, default=False, children=False
            )
            if spec.get("parent_lsn") and spec.get("parent_timestamp"):
                raise NeonApiError(400, "give parent_lsn or parent_timestamp, not both")
            if spec.get("parent_lsn") or spec.get("parent_timestamp"):
                point = self._point_in(project, parent, spec.get("parent_lsn"), spec.get("parent_timestamp"))
                lsn, stamp = point.lsn, point.time
            else:
                point = self._snapshot(parent, project)
                parent.history.append(point)
                lsn, stamp = point.lsn, None
            branch = Branch(
                id=_id("br"),
                project_id=project.id,
                name=name,
                parent_id=parent.id,
                parent_lsn=lsn,
                parent_timestamp=stamp,
                created=now,
                updated=now,
                databases={},
                history=[RestorePoint(point.lsn, now, point.image)],
                protected=protected,
                expires_at=expires_at,
            )
            self._materialise(branch, point.image)
            project.branches[branch.id] = branch
            endpoints = [self._new_endpoint(project, branch, e, active_from=now) for e in endpoint_specs]
            steps: list[tuple[str, str | None, str | None]] = [("create_branch", branch.id, None)]
            steps += [("start_compute", branch.id, endpoint.id) for endpoint in endpoints]
            operations = self._schedule(project, steps)
            branch.busy_state, branch.busy_until = "init", operations[0].ends
            for endpoint, operation in zip(endpoints, operations[1:], strict=True):
                endpoint.active_from = operation.ends
            now = self.now()
            return {
                "branch": self._branch_view(branch, now),
                "endpoints": [self._endpoint_view(e, now) for e in endpoints],
                "operations": self._views(operations),
                "roles": [self._role_view(project, role, branch) for role in project.roles.values()],
                "databases": [self._database_view(branch, db) for db in branch.databases.values()],
                "connection_uris": self._connection_uris(project, branch) if endpoints else [],
            }

    def update_branch(self, project_id: str, branch_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "branch")
        with self._lock:
            project = self._writable(project_id)
            branch = self._branch(project, branch_id)
            if "name" in spec and spec["name"] != branch.name:
                problem = branch_name_problem(spec["name"])
                if problem:
                    raise NeonApiError(400, f"branch name {problem}")
                if self._by_name(project, spec["name"]):
                    raise NeonApiError(409, f"branch with name {spec['name']!r} already exists")
                branch.name = spec["name"]
            protected = _bool(spec["protected"], "protected") if "protected" in spec else branch.protected
            if protected and not branch.protected:
                self._check_protected_quota(project, branch)
            if "expires_at" in spec:
                branch.expires_at = self._expiry(
                    spec["expires_at"],
                    protected=protected,
                    default=branch.default,
                    children=bool(self._children(project, branch)),
                )
            elif protected and branch.expires_at is not None:
                raise NeonApiError(400, "a protected branch cannot expire; clear expires_at first")
            branch.protected = protected
            branch.updated = self.now()
            return {"branch": self._branch_view(branch, self.now()), "operations": []}

    def delete_branch(self, project_id: str, branch_id: str) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            project = self._project(project_id)
            branch = project.branches.get(branch_id)
            if branch is None:
                return 204, None
            if branch.default:
                raise NeonApiError(
                    400, f"branch {branch.id} is the project's default branch and cannot be deleted"
                )
            if branch.protected:
                raise NeonApiError(400, f"branch {branch.id} is protected; unprotect it before deleting it")
            children = self._children(project, branch)
            if children:
                names = ", ".join(sorted(child.name for child in children))
                raise NeonApiError(400, f"branch {branch.id} has child branches ({names}); delete them first")
            self._check_idle(project)
            endpoints = [e for e in project.endpoints.values() if e.branch_id == branch.id]
            steps = [("suspend_compute", branch.id, e.id) for e in endpoints] + [
                ("delete_timeline", branch.id, None)
            ]
            operations = self._schedule(project, steps)
            now = self.now()
            view = self._branch_view(branch, now)
            self._forget_branch(project, branch)
            return 200, {"branch": view, "operations": self._views(operations)}

    def restore_branch(self, project_id: str, branch_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise NeonApiError(400, "the body must be a JSON object")
        with self._lock:
            project = self._writable(project_id)
            target = self._branch(project, branch_id)
            source_id = body.get("source_branch_id")
            if not source_id:
                raise NeonApiError(400, "source_branch_id is required")
            source = self._branch(project, str(source_id))
            lsn, stamp = body.get("source_lsn"), body.get("source_timestamp")
            preserve = body.get("preserve_under_name")
            from_itself = source.id == target.id
            if from_itself and not (lsn or stamp):
                raise NeonApiError(400, "restoring a branch from itself needs source_lsn or source_timestamp")
            if (from_itself or self._children(project, target)) and not preserve:
                raise NeonApiError(
                    400,
                    "preserve_under_name is required when the branch restores from itself or has children",
                )
            if preserve:
                problem = branch_name_problem(preserve)
                if problem:
                    raise NeonApiError(400, f"preserve_under_name {problem}")
                if self._by_name(project, preserve):
                    raise NeonApiError(409, f"branch with name {preserve!r} already exists")
                self._check_branch_quota(project)  # the preserved branch is a new branch
            if lsn or stamp:
                point = self._point_in(project, source, lsn, stamp)
            else:
                point = self._snapshot(source, project)
                source.history.append(point)
            now = self.now()
            lsn_now = self._sample(project)
            steps: list[tuple[str, str | None, str | None]] = []
            if preserve:
                preserved = Branch(
                    id=_id("br"),
                    project_id=project.id,
                    name=preserve,
                    parent_id=target.id,
                    parent_lsn=lsn_now,
                    parent_timestamp=now,
                    created=now,
                    updated=now,
                    databases={},
                    history=list(target.history),  # the old timeline, whole
                )
                for db in target.databases.values():
                    physical = _physical(db.name)
                    self.backend.rename_database(db.physical, physical)
                    preserved.databases[db.name] = Database(
                        db.id, db.name, db.owner_name, physical, db.created
                    )
                project.branches[preserved.id] = preserved
                steps.append(("create_branch", preserved.id, None))
            else:
                for db in target.databases.values():
                    self.backend.drop_database(db.physical)
            old_images = {id(p.image): p.image for p in target.history}
            kept = {name: db.physical for name, db in target.databases.items()}
            target.databases = {}
            self._materialise(target, point.image, physical_names=kept)
            if from_itself:
                cut = lsn_value(point.lsn)
                target.history = [p for p in target.history if lsn_value(p.lsn) <= cut]
            else:
                target.history = [RestorePoint(lsn_now, now, point.image)]
            self._drop_unused_images(old_images.values())
            target.last_reset_at = now
            target.updated = now
            endpoints = [e for e in project.endpoints.values() if e.branch_id == target.id]
            steps.append(("create_timeline", target.id, None))
            steps += [("suspend_compute", target.id, e.id) for e in endpoints]
            steps += [("start_compute", target.id, e.id) for e in endpoints]
            operations = self._schedule(project, steps)
            target.busy_state, target.busy_until = "resetting", max(op.ends for op in operations)
            if preserve:
                preserved.busy_state, preserved.busy_until = "init", operations[0].ends
            for endpoint in endpoints:
                endpoint.active_from = target.busy_until
            return {"branch": self._branch_view(target, self.now()), "operations": self._views(operations)}

    def list_endpoints(self, project_id: str, branch_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            if branch_id is not None:
                self._branch(project, branch_id)
            now = self.now()
            return {
                "endpoints": [
                    self._endpoint_view(e, now)
                    for e in project.endpoints.values()
                    if branch_id is None or e.branch_id == branch_id
                ]
            }

    def get_endpoint(self, project_id: str, endpoint_id: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            return {"endpoint": self._endpoint_view(self._endpoint(project, endpoint_id), self.now())}

    def create_endpoint(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "endpoint")
        with self._lock:
            project = self._writable(project_id)
            branch = self._branch(project, str(spec.get("branch_id") or ""))
            kind = spec.get("type")
            if kind not in ("read_write", "read_only"):
                raise NeonApiError(400, "endpoint.type must be read_write or read_only")
            if kind == "read_write" and any(
                e.branch_id == branch.id and e.type == "read_write" for e in project.endpoints.values()
            ):
                raise NeonApiError(400, f"branch {branch.id} already has a read_write endpoint")
            self._endpoint_limits(project, spec, 0.25, 2.0)
            endpoint = self._new_endpoint(project, branch, spec, active_from=self.now())
            operations = self._schedule(project, [("start_compute", branch.id, endpoint.id)])
            endpoint.active_from = operations[0].ends
            return {
                "endpoint": self._endpoint_view(endpoint, self.now()),
                "operations": self._views(operations),
            }

    def update_endpoint(self, project_id: str, endpoint_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "endpoint")
        with self._lock:
            project = self._writable(project_id)
            endpoint = self._endpoint(project, endpoint_id)
            min_cu, max_cu = self._endpoint_limits(project, spec, endpoint.min_cu, endpoint.max_cu)
            suspend = _int(
                spec.get("suspend_timeout_seconds", endpoint.suspend_timeout_seconds),
                "suspend_timeout_seconds",
            )
            changed = (min_cu, max_cu, suspend) != (
                endpoint.min_cu,
                endpoint.max_cu,
                endpoint.suspend_timeout_seconds,
            )
            endpoint.min_cu, endpoint.max_cu, endpoint.suspend_timeout_seconds = min_cu, max_cu, suspend
            operations: list[Operation] = []
            if changed:
                endpoint.updated = self.now()
                operations = self._schedule(project, [("apply_config", endpoint.branch_id, endpoint.id)])
            return {
                "endpoint": self._endpoint_view(endpoint, self.now()),
                "operations": self._views(operations),
            }

    def list_roles(self, project_id: str, branch_id: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            branch = self._branch(project, branch_id)
            return {"roles": [self._role_view(project, role, branch) for role in project.roles.values()]}

    def get_role(self, project_id: str, branch_id: str, role_name: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            branch = self._branch(project, branch_id)
            return {"role": self._role_view(project, self._role(project, role_name), branch)}

    def create_role(self, project_id: str, branch_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "role")
        name = spec.get("name")
        if not isinstance(name, str) or not name or len(name) > 63:
            raise NeonApiError(400, "role.name must be 1 to 63 characters")
        if name in RESERVED_ROLES or name.startswith("pg_"):
            raise NeonApiError(400, f"role name {name!r} is reserved")
        with self._lock:
            project = self._writable(project_id)
            branch = self._branch(project, branch_id)
            if name in project.roles:
                raise NeonApiError(409, f"role {name!r} already exists")
            now = self.now()
            role = Role(name, _password(), now, now)
            self.backend.ensure_role(role.name, role.password)
            project.roles[name] = role
            operations = self._schedule(project, [("apply_config", branch.id, None)])
            view = self._role_view(project, role, branch)
            view["password"] = role.password
            return {"role": view, "operations": self._views(operations)}

    def reveal_password(self, project_id: str, branch_id: str, role_name: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            self._branch(project, branch_id)
            role = self._role(project, role_name)
            if not project.store_passwords:
                raise NeonApiError(
                    412, "the project does not store passwords; reset the role's password instead"
                )
            return {"password": role.password}

    def list_databases(self, project_id: str, branch_id: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            branch = self._branch(project, branch_id)
            return {"databases": [self._database_view(branch, db) for db in branch.databases.values()]}

    def create_database(self, project_id: str, branch_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        spec = _object(body, "database")
        name, owner = spec.get("name"), spec.get("owner_name")
        if not isinstance(name, str) or not name or len(name) > 63:
            raise NeonApiError(400, "database.name must be 1 to 63 characters")
        with self._lock:
            project = self._writable(project_id)
            branch = self._branch(project, branch_id)
            self._role(project, str(owner or ""))
            if name in branch.databases:
                raise NeonApiError(409, f"database {name!r} already exists on branch {branch.id}")
            physical = _physical(name)
            self.backend.create_database(physical, str(owner))
            database = Database(self._database_id(), name, str(owner), physical, self.now())
            branch.databases[name] = database
            operations = self._schedule(project, [("apply_config", branch.id, None)])
            return {"database": self._database_view(branch, database), "operations": self._views(operations)}

    def connection_uri(
        self, project_id: str, branch_id: str | None, database_name: str | None, role_name: str | None
    ) -> dict[str, Any]:
        if not database_name or not role_name:
            raise NeonApiError(400, "database_name and role_name are required")
        with self._lock:
            project = self._project(project_id)
            branch = self._branch(project, branch_id) if branch_id else self._default_branch(project)
            role = self._role(project, role_name)
            database = branch.databases.get(database_name)
            if database is None:
                raise NeonApiError(404, f"database {database_name!r} not found on branch {branch.id}")
            if not any(e.branch_id == branch.id for e in project.endpoints.values()):
                raise NeonApiError(400, f"branch {branch.id} has no endpoint; create one to connect")
            return {"uri": self._uri(role, database)}

    def get_operation(self, project_id: str, operation_id: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            operation = project.operations.get(operation_id)
            if operation is None:
                raise NeonApiError(404, f"operation {operation_id} not found")
            return {"operation": operation.view(self.now())}

    def list_operations(self, project_id: str) -> dict[str, Any]:
        with self._lock:
            project = self._project(project_id)
            now = self.now()
            newest_first = sorted(project.operations.values(), key=lambda op: op.created, reverse=True)
            return {"operations": [op.view(now) for op in newest_first], "pagination": {}}

    def _project(self, project_id: str) -> Project:
        project = self.projects.get(project_id)
        if project is None:
            raise NeonApiError(404, f"project {project_id} not found")
        self._sweep(project)
        return project

    def _writable(self, project_id: str) -> Project:
        project = self._project(project_id)
        self._check_idle(project)
        return project

    def _check_idle(self, project: Project) -> None:
        if self.now() < project.busy_until:
            raise NeonApiError(423, LOCKED_MESSAGE)

    def _sweep(self, project: Project) -> None:
        """Delete expired branches and drop snapshots older than the project's history retention."""
        now = self.now()
        for branch in list(project.branches.values()):
            if (
                branch.expires_at is not None
                and branch.expires_at <= now
                and not self._children(project, branch)
            ):
                self._forget_branch(project, branch)
        horizon = now - project.history_retention_seconds
        older = [sample for sample in project.wal_clock if sample[1] < horizon]
        if len(older) > 1:  # the newest one before the horizon says all _check_retained needs
            newest = max(older)
            project.wal_clock = [s for s in project.wal_clock if s[1] >= horizon or s == newest]
        for branch in project.branches.values():
            # The newest point stays: it may be what a child or a restore still copies from.
            old = [p for p in branch.history[:-1] if p.time < horizon]
            if old:
                branch.history = [p for p in branch.history if p not in old]
                self._drop_unused_images({id(p.image): p.image for p in old}.values())

    def _branch(self, project: Project, branch_id: str) -> Branch:
        branch = project.branches.get(branch_id)
        if branch is None:
            raise NeonApiError(404, f"branch {branch_id} not found")
        return branch

    def _endpoint(self, project: Project, endpoint_id: str) -> Endpoint:
        endpoint = project.endpoints.get(endpoint_id)
        if endpoint is None:
            raise NeonApiError(404, f"endpoint {endpoint_id} not found")
        return endpoint

    def _role(self, project: Project, name: str) -> Role:
        role = project.roles.get(name)
        if role is None:
            raise NeonApiError(404, f"role {name!r} not found")
        return role

    def _by_name(self, project: Project, name: str) -> Branch | None:
        return next((b for b in project.branches.values() if b.name == name), None)

    def _default_branch(self, project: Project) -> Branch:
        return next(b for b in project.branches.values() if b.default)

    def _children(self, project: Project, branch: Branch) -> list[Branch]:
        return [b for b in project.branches.values() if b.parent_id == branch.id]

    def _expiry(self, value: Any, protected: bool, default: bool, children: bool) -> float | None:
        if value is None:
            return None
        when = parse_time(value, "expires_at")
        now = self.now()
        if when <= now:
            raise NeonApiError(400, "expires_at must be in the future")
        if when > now + MAX_EXPIRY_SECONDS:
            raise NeonApiError(400, "expires_at must be at most 30 days from now")
        if protected or default or children:
            raise NeonApiError(
                400, "expires_at is not allowed on protected or default branches, or ones with children"
            )
        return when

    def _point_in(self, project: Project, branch: Branch, lsn: Any, stamp: Any) -> RestorePoint:
        """The latest snapshot of ``branch`` at or before an LSN or a timestamp, inside the retention."""
        horizon = self.now() - project.history_retention_seconds
        if lsn:
            if not isinstance(lsn, str) or not _LSN.match(lsn):
                raise NeonApiError(400, f"{lsn!r} is not an LSN (like 0/1AA6408)")
            wanted = lsn_value(lsn)
            self._check_retained(project, wanted, lsn, horizon)
            points = [p for p in branch.history if lsn_value(p.lsn) <= wanted]
            label = f"LSN {lsn}"
        else:
            when = parse_time(stamp, "timestamp")
            if when > self.now():
                raise NeonApiError(400, "the timestamp is in the future")
            if when < horizon:
                raise NeonApiError(
                    400,
                    f"the timestamp is older than the project's history retention "
                    f"({project.history_retention_seconds}s)",
                )
            points = [p for p in branch.history if p.time <= when]
            label = f"timestamp {stamp}"
        if not points:
            raise NeonApiError(
                400,
                f"{label} is outside branch {branch.id}'s history "
                f"(retention {project.history_retention_seconds}s)",
            )
        return max(points, key=lambda p: (lsn_value(p.lsn), p.time))

    def _sample(self, project: Project) -> str:
        """The WAL position now, noted in the project's WAL clock."""
        lsn = self.backend.current_lsn()
        project.wal_clock.append((lsn_value(lsn), self.now()))
        return lsn

    def _check_retained(self, project: Project, wanted: int, lsn: str, horizon: float) -> None:
        """Refuse an LSN the WAL had reached before the retention horizon: Neon keeps no history older than
        the project's history_retention_seconds (neon.com/docs/introduction/restore-window: "WAL records that
        exceed your restore window are automatically removed"), so neither a restore nor a branch can start
        there."""
        if any(seen >= wanted and when < horizon for seen, when in project.wal_clock):
            raise NeonApiError(
                400,
                f"LSN {lsn} is older than the project's history retention window "
                f"({project.history_retention_seconds} seconds, {project.plan.label} plan): "
                "it can no longer be restored or branched from",
            )

    def _check_branch_quota(self, project: Project) -> None:
        """The plan's branches per project, the root branch included (neon.com/docs/introduction/plans,
        "Branches": 10 a project on Free, which has no extra branches; up to 5,000 on Launch and Scale)."""
        if len(project.branches) >= project.plan.max_branches:
            raise NeonApiError(BRANCHES_LIMIT_STATUS, BRANCHES_LIMIT_MESSAGE, BRANCHES_LIMIT_CODE)

    def _check_protected_quota(self, project: Project, branch: Branch | None) -> None:
        """Protected branches are a paid-plan feature: none on Free, 2 on Launch, 5 on Scale
        (neon.com/docs/guides/protected-branches)."""
        plan = project.plan
        if plan.max_protected_branches == 0:
            raise NeonApiError(
                PLAN_LIMIT_STATUS,
                f"protected branches are not available on the {plan.label} plan; they are a feature of the "
                "Launch and Scale plans",
            )
        others = [b for b in project.branches.values() if b.protected and b is not branch]
        if len(others) >= plan.max_protected_branches:
            raise NeonApiError(
                PLAN_LIMIT_STATUS,
                f"protected branches limit exceeded: the {plan.label} plan allows "
                f"{plan.max_protected_branches} protected branches",
            )

    def _endpoint_limits(
        self, project: Project, spec: Mapping[str, Any], min_default: float, max_default: float
    ) -> tuple[float, float]:
        """An endpoint's (min, max) compute units, within Neon's bounds and the plan's ("Autoscaling": up to
        2 CU on Free, 16 CU on Launch and Scale, fixed sizes up to 56 CU on Scale)."""
        min_cu = _float(spec.get("autoscaling_limit_min_cu", min_default), "autoscaling_limit_min_cu")
        max_cu = _float(spec.get("autoscaling_limit_max_cu", max_default), "autoscaling_limit_max_cu")
        _check_cu(min_cu, max_cu)
        problem = compute_problem(project.plan, min_cu, max_cu)
        if problem:
            raise NeonApiError(400, problem)
        return min_cu, max_cu

    def set_plan(self, project_id: str, name: str) -> dict[str, Any]:
        """The sandbox's admin side: move a project to another plan (on Neon, its account's plan changes).
        A history retention over the new plan's maximum is lowered to it, as a downgrade does."""
        plan = plan_named(name)
        with self._lock:
            project = self._project(project_id)
            project.plan = plan
            project.history_retention_seconds = min(
                project.history_retention_seconds, plan.max_history_retention_seconds
            )
            return {"project": self._project_view(project)}

    def _snapshot(self, branch: Branch, project: Project) -> RestorePoint:
        """Copy ``branch``'s databases into hidden templates; the LSN is read first: all before it is in."""
        lsn = self._sample(project)
        image = Image({})
        for db in branch.databases.values():
            physical = f"{PHYSICAL_PREFIX}snap_{secrets.token_hex(6)}"
            self.backend.copy_database(db.physical, physical, db.owner_name)
            image.databases[db.name] = (physical, db.owner_name)
        return RestorePoint(lsn, self.now(), image)

    def _materialise(
        self, branch: Branch, image: Image, physical_names: Mapping[str, str] | None = None
    ) -> None:
        for name, (template, owner) in image.databases.items():
            physical = (physical_names or {}).get(name) or _physical(name)
            self.backend.copy_database(template, physical, owner)
            branch.databases[name] = Database(self._database_id(), name, owner, physical, self.now())

    def _forget_branch(self, project: Project, branch: Branch) -> None:
        for db in branch.databases.values():
            self.backend.drop_database(db.physical)
        for endpoint_id in [e.id for e in project.endpoints.values() if e.branch_id == branch.id]:
            del project.endpoints[endpoint_id]
        del project.branches[branch.id]
        self._drop_unused_images({id(p.image): p.image for p in branch.history}.values())

    def _drop_unused_images(self, images: Any) -> None:
        in_use = {
            id(point.image)
            for project in self.projects.values()
            for branch in project.branches.values()
            for point in branch.history
        }
        for image in images:
            if id(image) not in in_use:
                for physical, _ in image.databases.values():
                    self.backend.drop_database(physical)

    def _new_endpoint(
        self, project: Project, branch: Branch, spec: Mapping[str, Any], active_from: float
    ) -> Endpoint:
        min_cu, max_cu = self._endpoint_limits(project, spec, 0.25, 2.0)
        now = self.now()
        endpoint = Endpoint(
            id=_id("ep"),
            project_id=project.id,
            branch_id=branch.id,
            type=str(spec.get("type") or "read_write"),
            min_cu=min_cu,
            max_cu=max_cu,
            suspend_timeout_seconds=_int(spec.get("suspend_timeout_seconds", 0), "suspend_timeout_seconds"),
            created=now,
            updated=now,
            active_from=active_from,
        )
        project.endpoints[endpoint.id] = endpoint
        return endpoint

    def _schedule(self, project: Project, steps: list[tuple[str, str | None, str | None]]) -> list[Operation]:
        """Operations run one after another, each for its nominal duration compressed by the sandbox clock."""
        now = self.now()
        cursor = now
        operations = []
        for action, branch_id, endpoint_id in steps:
            starts = cursor + clock.scaled(SCHEDULING_SECONDS)
            ends = starts + clock.scaled(NOMINAL_SECONDS[action])
            operation = Operation(
                str(uuid.uuid4()), project.id, action, branch_id, endpoint_id, now, starts, ends
            )
            project.operations[operation.id] = operation
            operations.append(operation)
            cursor = ends
        project.busy_until = max(project.busy_until, cursor)
        return operations

    def _views(self, operations: list[Operation]) -> list[dict[str, Any]]:
        now = self.now()
        return [op.view(now) for op in operations]

    def _database_id(self) -> int:
        self._next_database_id += 1
        return self._next_database_id

    def _uri(self, role: Role, database: Database) -> str:
        return f"postgresql://{role.name}:{role.password}@{self.backend.host}/{database.physical}"

    def _connection_uris(self, project: Project, branch: Branch) -> list[dict[str, Any]]:
        uris = []
        for database in branch.databases.values():
            role = project.roles.get(database.owner_name)
            if role is None:
                continue
            uris.append(
                {
                    "connection_uri": self._uri(role, database),
                    "connection_parameters": {
                        "database": database.physical,
                        "password": role.password,
                        "role": role.name,
                        "host": self.backend.host,
                        "pooler_host": self.backend.host,
                    },
                }
            )
        return uris

    def _project_view(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "region_id": REGION,
            "pg_version": PG_VERSION,
            "platform_id": "aws",
            "provisioner": "k8s-neonvm",
            "history_retention_seconds": project.history_retention_seconds,
            "store_passwords": project.store_passwords,
            "default_endpoint_settings": {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 2},
            "created_at": rfc3339(project.created),
            "updated_at": rfc3339(project.created),
            "owner_id": "sandbox",
            # ProjectOwnerData in Neon's OpenAPI: the account's branch limit and plan (subscription_type).
            "owner": {
                "email": "sandbox@example.invalid",
                "name": "sandbox",
                "branches_limit": project.plan.max_branches,
                "subscription_type": project.plan.subscription_type,
            },
        }

    def _branch_view(self, branch: Branch, now: float) -> dict[str, Any]:
        busy = now < branch.busy_until
        restricted = []
        if branch.default or branch.protected:
            restricted.append({"name": "delete", "reason": "default or protected branches cannot be deleted"})
        return {
            "id": branch.id,
            "project_id": branch.project_id,
            "parent_id": branch.parent_id,
            "parent_lsn": branch.parent_lsn,
            "parent_timestamp": rfc3339(branch.parent_timestamp),
            "name": branch.name,
            "current_state": branch.busy_state if busy else "ready",
            "pending_state": "ready" if busy else None,
            "state_changed_at": rfc3339(
                branch.busy_until if not busy and branch.busy_until else branch.created
            ),
            "creation_source": "console",
            "primary": branch.default,
            "default": branch.default,
            "protected": branch.protected,
            "expires_at": rfc3339(branch.expires_at),
            "last_reset_at": rfc3339(branch.last_reset_at),
            "init_source": "parent-data",
            "restricted_actions": restricted,
            "created_at": rfc3339(branch.created),
            "updated_at": rfc3339(branch.updated),
        }

    def _endpoint_view(self, endpoint: Endpoint, now: float) -> dict[str, Any]:
        return {
            "id": endpoint.id,
            "project_id": endpoint.project_id,
            "branch_id": endpoint.branch_id,
            "type": endpoint.type,
            "host": self.backend.host,
            "proxy_host": self.backend.host,
            "region_id": REGION,
            "current_state": "active" if now >= endpoint.active_from else "init",
            "autoscaling_limit_min_cu": endpoint.min_cu,
            "autoscaling_limit_max_cu": endpoint.max_cu,
            "suspend_timeout_seconds": endpoint.suspend_timeout_seconds,
            "pooler_enabled": False,
            "pooler_mode": "transaction",
            "disabled": False,
            "passwordless_access": False,
            "created_at": rfc3339(endpoint.created),
            "updated_at": rfc3339(endpoint.updated),
        }

    def _role_view(self, project: Project, role: Role, branch: Branch) -> dict[str, Any]:
        return {
            "branch_id": branch.id,
            "name": role.name,
            "protected": False,
            "created_at": rfc3339(role.created),
            "updated_at": rfc3339(role.updated),
        }

    def _database_view(self, branch: Branch, database: Database) -> dict[str, Any]:
        return {
            "id": database.id,
            "branch_id": branch.id,
            "name": database.name,
            "owner_name": database.owner_name,
            "created_at": rfc3339(database.created),
            "updated_at": rfc3339(database.created),
        }


def _object(body: Any, key: str, required: bool = True) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise NeonApiError(400, "the body must be a JSON object")
    value = body.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise NeonApiError(400, f"the body needs a {key!r} object")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise NeonApiError(400, f"{name} must be true or false")
    return value


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise NeonApiError(400, f"{name} must be an integer")
    return value


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NeonApiError(400, f"{name} must be a number")
    return float(value)


def _check_retention(plan: Plan, seconds: int) -> None:
    """The restore window's maximum per plan (neon.com/docs/introduction/restore-window: Free 6 hours, Launch
    7 days, Scale 30 days); Neon answers 400 above it (shared/reference/neon-api.md, update project)."""
    if not 0 <= seconds <= min(plan.max_history_retention_seconds, MAX_HISTORY_RETENTION_SECONDS):
        raise NeonApiError(
            400,
            f"history_retention_seconds must be between 0 and {plan.max_history_retention_seconds} "
            f"on the {plan.label} plan",
        )


def _check_cu(min_cu: float, max_cu: float) -> None:
    if not 0.25 <= min_cu <= max_cu <= 56:
        raise NeonApiError(400, "autoscaling limits must satisfy 0.25 <= min_cu <= max_cu <= 56")


def _words() -> str:
    return f"{secrets.choice(_WORDS[0])}-{secrets.choice(_WORDS[1])}"


def _id(prefix: str) -> str:
    return f"{prefix}-{_words()}-{secrets.token_hex(4)}"


def _physical(name: str) -> str:
    safe = re.sub(r"[^a-z0-9_]", "_", name.lower())[:40]
    return f"{PHYSICAL_PREFIX}{safe}_{secrets.token_hex(4)}"


def _password() -> str:
    return f"npg_{secrets.token_urlsafe(12).replace('-', 'x').replace('_', 'y')}"
