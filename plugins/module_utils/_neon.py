# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Neon's HTTP API v2: one small client with its own retry rules, and the logic of ``neon_branch``.

Plain Python over ``ansible.module_utils.urls.open_url``: the transport, the sleep, the clock and the random
source are parameters, so unit tests drive the retry policy and the waits over fakes in no time.

Neon's rules this follows (shared/reference/neon-api.md): every write answers with ``operations`` that must
finish before the next write; 423 (conflicting operation running), 429 (rate limit) and 503 are safe to
retry, even for POST; any other failure of a POST/PATCH/DELETE after a network error is not, so the caller
re-reads instead; branch names are unique per project, so the name is the idempotency key.
"""

from __future__ import annotations

import datetime
import http.client
import json
import random
import re
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import open_url
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitTimeout, wait_until

DEFAULT_BASE_URL = "https://console.neon.tech/api/v2"
RETRY_STATUSES = frozenset({423, 429, 503})
DONE_STATUSES = frozenset({"finished", "skipped", "cancelled"})
FAILED_STATUSES = frozenset({"failed", "error"})
BUSY_BRANCH_STATES = frozenset({"init", "resetting"})
MAX_BRANCH_NAME = 256
PAGE_SIZE = 100
MAX_PAGES = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
_BRANCH_ID = re.compile(r"^br-[a-z0-9-]+$")
BRANCHES_LIMIT_CODE = "BRANCHES_LIMIT_EXCEEDED"
HINTS = {
    400: "fix the request as Neon's message says",
    401: "check api_key (or NEON_API_KEY): Neon did not accept it",
    403: "the API key has no access to this project: use a key of the project's organisation",
    404: "check project_id and the branch names or ids given",
    409: "another branch has that name: choose another, or let the module reuse the existing one",
    412: "the project does not store passwords: reset the role's password in Neon instead",
    422: "the project's Neon plan does not allow this (see Neon's message): stay within the plan or move the "
    "project to a plan that offers it",
}
CODE_HINTS = {
    BRANCHES_LIMIT_CODE: "the project has as many branches as its Neon plan allows (10 on Free, the root "
    "branch included): delete branches no longer needed (restore_points.keep bounds the restore points this "
    "module keeps; a restore's preserved branches stay until you delete them), or move to a paid plan",
}

NEON_COMMON_ARGS = dict(
    api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["NEON_API_KEY"])),
    base_url=dict(type="str", default=DEFAULT_BASE_URL, fallback=(env_fallback, ["NEON_API_URL"])),
    project_id=dict(type="str", required=True, fallback=(env_fallback, ["NEON_PROJECT_ID"])),
    request_timeout=dict(type="float", default=30.0),
    retries=dict(type="int", default=6),
)


class NeonError(Exception):
    """A Neon call or request that cannot go on: Neon's own message, then what to do next.

    ``status`` is the HTTP status, or None when Neon never answered (a network error).
    """

    def __init__(
        self, message: str, status: int | None = None, request_id: str | None = None, **details: Any
    ) -> None:
        self.message = message
        self.status = status
        self.request_id = request_id
        self.details = details
        super().__init__(message)


def urls_transport(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange through Ansible's ``open_url``: (status, headers, body). Raises NeonError(None)."""
    try:
        response = open_url(
            url,
            method=method,
            headers=dict(headers),
            data=body,
            timeout=timeout,
            http_agent="macroai.deploy neon_branch",
        )
        return response.getcode(), dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        payload = err.read() if err.fp is not None else b""
        return err.code, dict(err.headers.items()) if err.headers else {}, payload
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise NeonError(f"no answer from Neon ({method} {url}): {err}") from err


@dataclass
class RetryPolicy:
    """423/429/503 are retried with exponential backoff and jitter, within both bounds."""

    attempts: int = 7
    base_delay: float = 0.5
    max_delay: float = 16.0
    max_total: float = 180.0

    def delay(self, attempt: int, rng: Callable[[], float], retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: half of the backoff fixed, half random."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        wait = backoff / 2 + backoff / 2 * rng()
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


@dataclass
class Answer:
    status: int
    data: Any


class NeonClient:
    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        transport: Callable[..., tuple[int, dict[str, str], bytes]] = urls_transport,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.transport = transport
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.retried: list[int] = []  # the status of every answer that was retried

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        url = self.base_url + path
        params = {key: value for key, value in (query or {}).items() if value is not None}
        return f"{url}?{urlencode(params)}" if params else url

    def headers(self, with_body: bool) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if with_body:
            headers["Content-Type"] = "application/json"
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        accept: Sequence[int] = (),
    ) -> Answer:
        """Call Neon; any 2xx or a status in ``accept`` is returned, anything else raises NeonError.

        A network error is retried for GET only: for a write it raises NeonError(status=None), and the
        caller re-reads to learn whether the write happened.
        """
        url = self.url(path, query)
        payload = json.dumps(body).encode() if body is not None else None
        start = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                status, headers, raw = self.transport(
                    method, url, self.headers(payload is not None), payload, self.timeout
                )
            except NeonError:
                if method != "GET" or attempt >= self.policy.attempts:
                    raise
                self._pause(attempt, start, None, None)
                continue
            retry = status in RETRY_STATUSES and attempt < self.policy.attempts
            if retry and self._pause(attempt, start, status, _retry_after(headers)):
                self.retried.append(status)
                continue
            data = _decode(raw)
            if 200 <= status < 300 or status in accept:
                return Answer(status, data)
            raise self._error(method, path, status, data, attempt)

    def _pause(self, attempt: int, start: float, status: int | None, retry_after: float | None) -> bool:
        """Sleep before the next attempt; False when that would pass the policy's total time."""
        wait = self.policy.delay(attempt, self.rng, retry_after)
        if self.clock() - start + wait > self.policy.max_total:
            if status is None:
                raise NeonError(f"no answer from Neon after {attempt} attempts")
            return False
        self.sleep(wait)
        return True

    def _error(self, method: str, path: str, status: int, data: Any, attempts: int) -> NeonError:
        neon_message = data.get("message") if isinstance(data, dict) else None
        request_id = data.get("request_id") if isinstance(data, dict) else None
        code = (data.get("code") or None) if isinstance(data, dict) else None
        said = neon_message or (data if isinstance(data, str) and data else "no message")
        if status in RETRY_STATUSES:
            hint = (
                f"Neon was still busy after {attempts} attempts: run again later, or raise retries; "
                "a 423 means another operation on the project is still running"
            )
        elif status >= 500:
            hint = "Neon failed on its side: run again later, and check https://neonstatus.com"
        else:
            hint = CODE_HINTS.get(code or "") or HINTS.get(status, "see Neon's message")
        coded = f" ({code})" if code else ""
        return NeonError(
            f"Neon answered {status}{coded} to {method} {path}: {said}. What to do: {hint}.",
            status=status,
            request_id=request_id,
            code=code,
        )

    def get(self, path: str, query: Mapping[str, Any] | None = None, accept: Sequence[int] = ()) -> Answer:
        return self.request("GET", path, query=query, accept=accept)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None


def branch_name_problem(name: Any) -> str | None:
    """Why ``name`` is not a valid Neon branch name, or None."""
    if not isinstance(name, str) or not name:
        return "must not be empty"
    if len(name) > MAX_BRANCH_NAME:
        return f"must be at most {MAX_BRANCH_NAME} characters (it has {len(name)})"
    if name != name.strip():
        return "must not start or end with whitespace"
    if _CONTROL.search(name):
        return "must not contain control characters (tabs, newlines, ...)"
    return None


def parse_time(value: str, option: str) -> float:
    try:
        parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise NeonError(
            f"{option}: {value!r} is not an RFC 3339 timestamp; give one like 2030-01-31T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise NeonError(f"{option}: {value!r} has no time zone; add one, e.g. 2030-01-31T12:00:00Z")
    return parsed.timestamp()


def rfc3339(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(  # noqa: UP017 (py3.8)
        "%Y-%m-%dT%H:%M:%SZ"
    )


@dataclass(frozen=True)
class EndpointSpec:
    min_cu: float | None = None
    max_cu: float | None = None
    suspend_timeout_seconds: int | None = None

    def body(self) -> dict[str, Any]:
        fields = {
            "autoscaling_limit_min_cu": self.min_cu,
            "autoscaling_limit_max_cu": self.max_cu,
            "suspend_timeout_seconds": self.suspend_timeout_seconds,
        }
        return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class NeonPlan:
    """What a Neon plan lets a project have (neon.com/docs/introduction/plans, updated 2026-11-12; protected
    branches: neon.com/docs/guides/protected-branches; restore window: neon.com/docs/introduction/
    restore-window). Launch and Scale bill branches beyond those included (10 and 25) up to 5,000."""

    name: str
    branches: int  # a project's branches, the root branch included
    protected_branches: int
    max_history_retention_hours: int
    max_autoscaling_cu: float
    max_fixed_cu: float  # a compute whose minimum and maximum are equal

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "branches": self.branches,
            "protected_branches": self.protected_branches,
            "offers_protected_branches": self.protected_branches > 0,
            "max_history_retention_hours": self.max_history_retention_hours,
            "max_autoscaling_cu": self.max_autoscaling_cu,
            "max_fixed_cu": self.max_fixed_cu,
        }


NEON_PLANS = {
    "free": NeonPlan("free", 10, 0, 6, 2.0, 2.0),
    "launch": NeonPlan("launch", 5000, 2, 168, 16.0, 16.0),
    "scale": NeonPlan("scale", 5000, 5, 720, 16.0, 56.0),
}
# Branches of the project besides the restore points: its root branch, the production branch, and room for
# the branch a restore preserves (a failed migration's, a database rollback's).
OTHER_BRANCHES = 3


def neon_plan(name: str) -> NeonPlan:
    plan = NEON_PLANS.get(str(name).strip().lower())
    if plan is None:
        raise NeonError(f"{name!r} is not a Neon plan: use one of {', '.join(NEON_PLANS)}")
    return plan


def plan_of_subscription(subscription_type: str | None) -> str | None:
    """The plan of Neon's ``project.owner.subscription_type`` (free_v3, launch_v3, scale, ...), or None when
    it names none of free, launch or scale (legacy plans, or no billing account: UNKNOWN)."""
    kind = str(subscription_type or "").lower()
    return next((name for name in NEON_PLANS if kind.startswith(name)), None)


def data_settings_problems(
    plan: str,
    history_retention_hours: Any,
    min_cu: Any,
    max_cu: Any,
    keep_restore_points: Any,
    project_subscription: str | None = None,
) -> list[str]:
    """The data role's Neon settings against the plan (data_neon_*), each problem naming its variable."""
    chosen = NEON_PLANS.get(str(plan).strip().lower())
    if chosen is None:
        return [f"data_neon_plan={plan} is not a Neon plan: use free, launch or scale"]
    problems = []
    hours = _number(history_retention_hours)
    if hours is None or not 0 <= hours <= chosen.max_history_retention_hours:
        problems.append(
            f"data_neon_history_retention_hours={history_retention_hours} is over the Neon {chosen.name} "
            f"plan's maximum of {chosen.max_history_retention_hours} hours (data_neon_plan): lower it, or "
            "move the project to launch (168 h) or scale (720 h)"
        )
    low, high = _number(min_cu), _number(max_cu)
    if low is None or high is None or not 0.25 <= low <= high <= 56:
        problems.append(
            f"data_neon_autoscaling_min_cu={min_cu} and data_neon_autoscaling_max_cu={max_cu} must satisfy "
            "0.25 <= min <= max <= 56 compute units"
        )
    else:
        ceiling = chosen.max_fixed_cu if low == high else chosen.max_autoscaling_cu
        if high > ceiling:
            kind = "a fixed-size compute" if low == high else "autoscaling"
            problems.append(
                f"data_neon_autoscaling_max_cu={max_cu} is over the Neon {chosen.name} plan's maximum for "
                f"{kind} ({ceiling:g} CU): lower it, or move the project to a plan that allows it"
            )
    keep = _number(keep_restore_points)
    most = chosen.branches - OTHER_BRANCHES
    if keep is None or keep != int(keep) or not 1 <= keep <= most:
        problems.append(
            f"data_neon_keep_restore_points={keep_restore_points} must be 1 to {most} on the Neon "
            f"{chosen.name} plan: with the root branch, the production branch and room for a restore's "
            f"preserved branch, the project may have {chosen.branches} branches"
        )
    actual = plan_of_subscription(project_subscription)
    if project_subscription and actual is not None and actual != chosen.name:
        problems.append(
            f"data_neon_plan={chosen.name}, but Neon reports the project on the {actual} plan "
            f"(owner.subscription_type {project_subscription}): set data_neon_plan={actual}, or move the "
            "project's account to that plan"
        )
    return problems


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RestorePoints:
    """Branches named ``prefix...`` are restore points: keep at most ``keep`` of them (the branch the request
    makes counted), the oldest deleted first, never one named in ``retain``."""

    prefix: str
    keep: int
    retain: tuple[str, ...] = ()


def restore_points_to_delete(
    branches: Sequence[Mapping[str, Any]], policy: RestorePoints, name: str, exists: bool
) -> list[Mapping[str, Any]]:
    """The restore points to delete, oldest first, so that at most ``policy.keep`` remain with ``name``.

    Never deleted: ``name``, a branch in ``retain``, the default or a protected branch, and a branch with
    children (Neon refuses to delete those). They count all the same.
    """
    parents = {b.get("parent_id") for b in branches}
    points = [b for b in branches if str(b.get("name", "")).startswith(policy.prefix)]
    count = len(points) + (1 if name.startswith(policy.prefix) and not exists else 0)
    deletable = sorted(
        (
            b
            for b in points
            if b.get("name") != name
            and b.get("name") not in policy.retain
            and not b.get("default")
            and not b.get("protected")
            and b.get("id") not in parents
        ),
        key=lambda b: (str(b.get("created_at") or ""), str(b.get("name"))),
    )
    return deletable[: max(count - policy.keep, 0)]


@dataclass(frozen=True)
class BranchRequest:
    project_id: str
    name: str
    state: str = "present"
    parent: str | None = None
    protected: bool | None = None
    expires_at: str | None = None
    endpoint: EndpointSpec | None = None
    source_branch: str | None = None
    source_lsn: str | None = None
    source_timestamp: str | None = None
    preserve_under_name: str | None = None
    return_connection_uri: bool = False
    database_name: str | None = None
    role_name: str | None = None
    wait_timeout: float = 300.0
    poll_interval: float = 2.0
    restore_points: RestorePoints | None = None


def validate(request: BranchRequest) -> None:
    """Fail before any call, naming the option."""
    if request.restore_points is not None:
        if request.state != "present":
            raise NeonError("restore_points: only with state=present (the branch made is the newest one)")
        if not request.restore_points.prefix:
            raise NeonError("restore_points.prefix: give the name prefix the restore points share")
        if request.restore_points.keep < 1:
            raise NeonError(
                f"restore_points.keep: {request.restore_points.keep} would delete the restore point being "
                "made; keep at least 1"
            )
    for option, value in (("name", request.name), ("preserve_under_name", request.preserve_under_name)):
        if option == "name" or value is not None:
            problem = branch_name_problem(value)
            if problem:
                raise NeonError(f"{option}: the Neon branch name {value!r} {problem}")
    if request.expires_at:
        parse_time(request.expires_at, "expires_at")
    if request.source_timestamp:
        parse_time(request.source_timestamp, "source_timestamp")
    if request.source_lsn and not _LSN.match(request.source_lsn):
        raise NeonError(f"source_lsn: {request.source_lsn!r} is not an LSN; give one like 0/1AA6408")
    if request.source_lsn and request.source_timestamp:
        raise NeonError("source_lsn and source_timestamp: give one of them, not both")
    if request.state == "restored":
        from_itself = request.source_branch in (None, request.name)
        if from_itself and not (request.source_lsn or request.source_timestamp):
            raise NeonError(
                "source_lsn or source_timestamp is required to restore a branch from itself (no "
                "source_branch): give the LSN recorded as the restore point"
            )
        if from_itself and not request.preserve_under_name:
            raise NeonError(
                "preserve_under_name is required to restore a branch from itself: Neon keeps the "
                "current state under that name"
            )


def _project_path(request: BranchRequest) -> str:
    return f"/projects/{quote(request.project_id, safe='')}"


def list_branches(client: NeonClient, project_path: str, search: str | None = None) -> list[dict[str, Any]]:
    branches: list[dict[str, Any]] = []
    cursor = None
    for _page in range(MAX_PAGES):
        query = {"search": search, "limit": PAGE_SIZE, "cursor": cursor}
        data = client.get(f"{project_path}/branches", query=query).data or {}
        branches.extend(data.get("branches") or [])
        cursor = (data.get("pagination") or {}).get("next")
        if not cursor or len(data.get("branches") or []) < PAGE_SIZE:
            break
    return branches


def find_branch(client: NeonClient, project_path: str, name: str) -> dict[str, Any] | None:
    """The branch called exactly ``name`` (Neon's ``search`` also matches parts of names)."""
    return next((b for b in list_branches(client, project_path, search=name) if b.get("name") == name), None)


def resolve_branch(client: NeonClient, project_path: str, ref: str, option: str) -> dict[str, Any]:
    """A branch by id (``br-...``) or by name."""
    if _BRANCH_ID.match(ref):
        answer = client.get(f"{project_path}/branches/{quote(ref, safe='')}", accept=(404,))
        if answer.status != 404:
            return answer.data["branch"]
    branch = find_branch(client, project_path, ref)
    if branch is None:
        raise NeonError(f"{option}: no branch named or with id {ref!r} in this project; check the name")
    return branch


def default_branch(client: NeonClient, project_path: str) -> dict[str, Any]:
    branch = next((b for b in list_branches(client, project_path) if b.get("default")), None)
    if branch is None:
        raise NeonError("the project has no default branch; set parent to the branch to copy")
    return branch


def get_branch(client: NeonClient, project_path: str, branch_id: str) -> dict[str, Any] | None:
    answer = client.get(f"{project_path}/branches/{quote(branch_id, safe='')}", accept=(404,))
    return None if answer.status == 404 else answer.data["branch"]


def read_write_endpoint(client: NeonClient, project_path: str, branch_id: str) -> dict[str, Any] | None:
    data = client.get(f"{project_path}/branches/{quote(branch_id, safe='')}/endpoints").data or {}
    endpoints = data.get("endpoints") or []
    return next((e for e in endpoints if e.get("type") == "read_write"), endpoints[0] if endpoints else None)


def wait_for_operations(
    client: NeonClient,
    project_path: str,
    operations: Sequence[Mapping[str, Any]],
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] | None = None,
) -> list[dict[str, Any]]:
    """Poll each operation until every one is done; a failed one raises. Returns their final summaries."""
    latest = {op["id"]: dict(op) for op in operations if op.get("id")}

    def fetch() -> dict[str, dict[str, Any]]:
        for op_id, op in latest.items():
            if op.get("status") not in DONE_STATUSES:
                answer = client.get(f"{project_path}/operations/{quote(op_id, safe='')}")
                latest[op_id] = answer.data["operation"]
        return latest

    def done(current: dict[str, dict[str, Any]]) -> bool:
        failed = [op for op in current.values() if op.get("status") in FAILED_STATUSES]
        if failed:
            op = failed[0]
            raise NeonError(
                f"Neon operation {op.get('action')} ({op.get('id')}) ended {op.get('status')}: "
                f"{op.get('error') or 'no reason given'}. What to do: check the branch in the Neon console, "
                "then run again",
                operations=[summarise_operation(o) for o in current.values()],
            )
        return all(op.get("status") in DONE_STATUSES for op in current.values())

    if not latest:
        return []
    try:
        _wait(fetch, done, timeout, interval, client, sleep)
    except WaitTimeout as err:
        pending = [op for op in latest.values() if op.get("status") not in DONE_STATUSES]
        raise NeonError(
            f"Neon operations still running after {err.elapsed:.0f}s: "
            + ", ".join(f"{op.get('action')} ({op.get('status')})" for op in pending)
            + ". What to do: raise wait_timeout, or run again later (the task picks up where Neon is)",
            operations=[summarise_operation(o) for o in latest.values()],
        ) from None
    return [summarise_operation(op) for op in latest.values()]


def wait_until_ready(
    client: NeonClient,
    project_path: str,
    branch_id: str,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """A branch in ``init`` or ``resetting`` cannot be used yet (a migration against it fails): wait."""

    def fetch() -> dict[str, Any] | None:
        return get_branch(client, project_path, branch_id)

    def ready(branch: dict[str, Any] | None) -> bool:
        if branch is None:
            raise NeonError(f"branch {branch_id} disappeared while waiting for it; check the Neon console")
        return branch.get("current_state") not in BUSY_BRANCH_STATES

    try:
        return _wait(fetch, ready, timeout, interval, client, sleep)
    except WaitTimeout as err:
        raise NeonError(
            f"branch {branch_id} still {(err.last or {}).get('current_state')} after {err.elapsed:.0f}s. "
            "What to do: raise wait_timeout, or run again later"
        ) from None


def _wait(fetch, done, timeout, interval, client, sleep):
    polled = wait_until(
        fetch, done, timeout=timeout, interval=interval, clock=client.clock, sleep=sleep or client.sleep
    )
    return polled.value


def summarise_operation(op: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "action", "status", "branch_id", "endpoint_id", "total_duration_ms")
    return {key: op.get(key) for key in keys}


def summarise_branch(branch: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if branch is None:
        return None
    keys = (
        "id",
        "name",
        "parent_id",
        "parent_lsn",
        "parent_timestamp",
        "current_state",
        "default",
        "protected",
        "expires_at",
        "created_at",
        "last_reset_at",
    )
    return {key: branch.get(key) for key in keys}


def summarise_endpoint(endpoint: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    keys = (
        "id",
        "host",
        "type",
        "current_state",
        "autoscaling_limit_min_cu",
        "autoscaling_limit_max_cu",
        "suspend_timeout_seconds",
    )
    return {key: endpoint.get(key) for key in keys}


def diff_view(branch: Mapping[str, Any] | None) -> dict[str, Any]:
    if branch is None:
        return {"state": "absent"}
    return {
        "state": "present",
        "name": branch.get("name"),
        "parent_id": branch.get("parent_id"),
        "protected": branch.get("protected"),
        "expires_at": branch.get("expires_at"),
    }


@dataclass
class BranchResult:
    changed: bool = False
    branch: dict[str, Any] | None = None
    endpoint: dict[str, Any] | None = None
    operations: list[dict[str, Any]] = field(default_factory=list)
    preserved_branch: dict[str, Any] | None = None
    pruned: list[dict[str, Any]] = field(default_factory=list)
    connection_uri: str | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    api_retries: int = 0
    messages: list[str] = field(default_factory=list)

    def as_dict(self, with_connection_uri: bool = False) -> dict[str, Any]:
        branch = summarise_branch(self.branch)
        result = {
            "changed": self.changed,
            "branch": branch,
            "endpoint": summarise_endpoint(self.endpoint),
            "lsn": (branch or {}).get("parent_lsn"),
            "operations": self.operations,
            "api_retries": self.api_retries,
        }
        if self.preserved_branch is not None:
            result["preserved_branch"] = summarise_branch(self.preserved_branch)
        if self.pruned:
            result["pruned_restore_points"] = self.pruned
        if with_connection_uri:
            result["connection_uri"] = self.connection_uri
        return result


class _Session:
    """The client, the request and the running result of one module run."""

    def __init__(self, client: NeonClient, request: BranchRequest, check_mode: bool) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.path = _project_path(request)
        self.result = BranchResult()

    def wait(self, answer_data: Mapping[str, Any] | None) -> None:
        operations = (answer_data or {}).get("operations") or []
        self.result.operations += wait_for_operations(
            self.client,
            self.path,
            operations,
            self.request.wait_timeout,
            self.request.poll_interval,
        )

    def ready(self, branch_id: str) -> dict[str, Any]:
        return wait_until_ready(
            self.client, self.path, branch_id, self.request.wait_timeout, self.request.poll_interval
        )

    def finish(self) -> BranchResult:
        self.result.api_retries = len(self.client.retried)
        return self.result


def ensure_branch(client: NeonClient, request: BranchRequest, check_mode: bool) -> BranchResult:
    """Dispatch on ``request.state``: present, absent or restored."""
    validate(request)
    session = _Session(client, request, check_mode)
    if request.state == "absent":
        _absent(session)
    elif request.state == "restored":
        _restored(session)
    else:
        _present(session)
    return session.finish()


def _present(session: _Session) -> None:
    client, request, result = session.client, session.request, session.result
    branch = find_branch(client, session.path, request.name)
    result.before = diff_view(branch)
    if request.restore_points is not None:
        _prune(session, request.restore_points, exists=branch is not None)
    if branch is None:
        branch = _create(session)
    elif request.parent is not None:
        parent = resolve_branch(client, session.path, request.parent, "parent")
        if parent.get("id") != branch.get("parent_id"):
            result.messages.append(
                f"branch {request.name} exists with parent {branch.get('parent_id')}, "
                f"not {parent.get('id')}; a branch's parent cannot change: delete the branch to make it "
                "again from the new parent"
            )
    if branch is not None and branch.get("id"):
        branch = _update(session, branch)
        result.endpoint = _ensure_endpoint(session, branch)
        if not session.check_mode and branch.get("current_state") in BUSY_BRANCH_STATES:
            branch = session.ready(branch["id"])
        if request.return_connection_uri and not session.check_mode:
            result.connection_uri = _connection_uri(session, branch)
    result.branch = branch
    result.after = diff_view(branch)


def _prune(session: _Session, policy: RestorePoints, exists: bool) -> None:
    """Delete the oldest restore points beyond ``policy.keep``, before a new one is made, so that the new one
    fits in the plan's branch quota."""
    client, request, result = session.client, session.request, session.result
    branches = list_branches(client, session.path)
    for branch in restore_points_to_delete(branches, policy, request.name, exists):
        result.changed = True
        result.pruned.append({key: branch.get(key) for key in ("id", "name", "created_at", "parent_lsn")})
        if session.check_mode:
            continue
        path = f"{session.path}/branches/{quote(str(branch['id']), safe='')}"
        answer = client.request("DELETE", path)
        if answer.status != 204:
            session.wait(answer.data)


def _create(session: _Session) -> dict[str, Any] | None:
    client, request, result = session.client, session.request, session.result
    parent = (
        resolve_branch(client, session.path, request.parent, "parent")
        if request.parent
        else default_branch(client, session.path)
    )
    spec: dict[str, Any] = {"name": request.name, "parent_id": parent["id"]}
    if request.protected is not None:
        spec["protected"] = request.protected
    if request.expires_at:
        spec["expires_at"] = rfc3339(parse_time(request.expires_at, "expires_at"))
    body: dict[str, Any] = {"branch": spec}
    if request.endpoint is not None:
        body["endpoints"] = [{"type": "read_write", **request.endpoint.body()}]
    result.changed = True
    if session.check_mode:
        predicted = {"name": request.name, "parent_id": parent["id"], "current_state": "init"}
        predicted.update(protected=bool(request.protected), expires_at=spec.get("expires_at"))
        return predicted
    try:
        answer = client.request("POST", f"{session.path}/branches", body=body, accept=(409,))
    except NeonError as err:
        if err.status is not None:
            raise
        # No answer: the branch may or may not exist now. Its name says.
        branch = find_branch(client, session.path, request.name)
        if branch is not None:
            return session.ready(branch["id"])
        answer = client.request("POST", f"{session.path}/branches", body=body, accept=(409,))
    if answer.status == 409:
        # Someone made it since we looked: reuse it, as a rerun would.
        result.changed = False
        branch = find_branch(client, session.path, request.name)
        if branch is None:
            raise NeonError(f"name: Neon says branch {request.name!r} exists but cannot read it; run again")
        return branch
    session.wait(answer.data)
    return session.ready(answer.data["branch"]["id"])


def _desired_updates(request: BranchRequest, branch: Mapping[str, Any]) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if request.protected is not None and bool(branch.get("protected")) != request.protected:
        updates["protected"] = request.protected
    if request.expires_at is not None:
        current = branch.get("expires_at")
        if request.expires_at == "":
            if current is not None:
                updates["expires_at"] = None
        else:
            wanted = parse_time(request.expires_at, "expires_at")
            if current is None or parse_time(current, "expires_at") != wanted:
                updates["expires_at"] = rfc3339(wanted)
    return updates


def _update(session: _Session, branch: dict[str, Any]) -> dict[str, Any]:
    client, result = session.client, session.result
    if "id" not in branch:  # predicted in check mode
        return branch
    updates = _desired_updates(session.request, branch)
    if not updates:
        return branch
    result.changed = True
    if session.check_mode:
        return {**branch, **updates}
    path = f"{session.path}/branches/{quote(branch['id'], safe='')}"
    try:
        answer = client.request("PATCH", path, body={"branch": updates})
    except NeonError as err:
        if err.status is not None:
            raise
        current = get_branch(client, session.path, branch["id"]) or branch
        if not _desired_updates(session.request, current):
            return current
        answer = client.request("PATCH", path, body={"branch": updates})
    session.wait(answer.data)
    return answer.data.get("branch") or branch


def _ensure_endpoint(session: _Session, branch: Mapping[str, Any]) -> dict[str, Any] | None:
    client, request, result = session.client, session.request, session.result
    if "id" not in branch:  # a branch predicted in check mode has no endpoint to read
        return None
    endpoint = read_write_endpoint(client, session.path, branch["id"])
    if request.endpoint is None:
        return endpoint
    wanted = request.endpoint.body()
    if endpoint is None:
        result.changed = True
        if session.check_mode:
            return {"type": "read_write", **wanted}
        body = {"endpoint": {"branch_id": branch["id"], "type": "read_write", **wanted}}
        answer = client.request("POST", f"{session.path}/endpoints", body=body)
        session.wait(answer.data)
        return answer.data["endpoint"]
    changes = {key: value for key, value in wanted.items() if endpoint.get(key) != value}
    if not changes:
        return endpoint
    result.changed = True
    if session.check_mode:
        return {**endpoint, **changes}
    path = f"{session.path}/endpoints/{quote(endpoint['id'], safe='')}"
    answer = client.request("PATCH", path, body={"endpoint": changes})
    session.wait(answer.data)
    return answer.data.get("endpoint") or {**endpoint, **changes}


def _connection_uri(session: _Session, branch: Mapping[str, Any]) -> str:
    client, request = session.client, session.request
    branch_path = f"{session.path}/branches/{quote(branch['id'], safe='')}"
    database, role = request.database_name, request.role_name
    if database is None or role is None:
        databases = (client.get(f"{branch_path}/databases").data or {}).get("databases") or []
        if database is None:
            if len(databases) != 1:
                names = ", ".join(sorted(d.get("name", "") for d in databases)) or "none"
                raise NeonError(f"database_name: the branch has databases {names}; name the one to use")
            database = databases[0]["name"]
        if role is None:
            owner = next((d.get("owner_name") for d in databases if d.get("name") == database), None)
            if owner is None:
                raise NeonError(f"role_name: no owner known for database {database!r}; name the role")
            role = owner
    query = {"branch_id": branch["id"], "database_name": database, "role_name": role, "pooled": "false"}
    data = client.get(f"{session.path}/connection_uri", query=query).data or {}
    return data["uri"]


def _absent(session: _Session) -> None:
    client, request, result = session.client, session.request, session.result
    branch = find_branch(client, session.path, request.name)
    result.before = diff_view(branch)
    result.after = diff_view(None)
    if branch is None:
        return
    result.branch = branch
    result.changed = True
    if session.check_mode:
        return
    path = f"{session.path}/branches/{quote(branch['id'], safe='')}"
    try:
        answer = client.request("DELETE", path)
    except NeonError as err:
        if err.status is not None:
            raise
        if get_branch(client, session.path, branch["id"]) is None:
            return
        answer = client.request("DELETE", path)
    if answer.status == 204:  # gone between our read and the delete
        result.changed = False
        return
    session.wait(answer.data)


def _restored(session: _Session) -> None:
    client, request, result = session.client, session.request, session.result
    target = find_branch(client, session.path, request.name)
    if target is None:
        raise NeonError(f"name: no branch named {request.name!r} to restore in this project; check the name")
    source = (
        resolve_branch(client, session.path, request.source_branch, "source_branch")
        if request.source_branch and request.source_branch != request.name
        else target
    )
    result.before = diff_view(target)
    if request.preserve_under_name:
        preserved = find_branch(client, session.path, request.preserve_under_name)
        if preserved is not None:
            # Restores are not repeatable; the preserved branch is their receipt.
            result.preserved_branch = preserved
            result.branch = target
            result.endpoint = read_write_endpoint(client, session.path, target["id"])
            result.after = diff_view(target)
            result.messages.append(
                f"branch {request.preserve_under_name} exists: the restore was done already; delete it "
                "(or choose another preserve_under_name) to restore again"
            )
            return
    result.changed = True
    body: dict[str, Any] = {"source_branch_id": source["id"]}
    if request.source_lsn:
        body["source_lsn"] = request.source_lsn
    if request.source_timestamp:
        body["source_timestamp"] = rfc3339(parse_time(request.source_timestamp, "source_timestamp"))
    if request.preserve_under_name:
        body["preserve_under_name"] = request.preserve_under_name
    if session.check_mode:
        result.branch = target
        result.endpoint = read_write_endpoint(client, session.path, target["id"])
        result.after = diff_view(target)
        return
    path = f"{session.path}/branches/{quote(target['id'], safe='')}/restore"
    try:
        answer = client.request("POST", path, body=body)
    except NeonError as err:
        if err.status is not None or not request.preserve_under_name:
            raise
        if find_branch(client, session.path, request.preserve_under_name) is None:
            raise NeonError(
                f"no answer from Neon to the restore of {request.name}, and branch "
                f"{request.preserve_under_name} does not exist: the restore did not happen; run again"
            ) from err
        answer = None
    if answer is not None:
        session.wait(answer.data)
    result.branch = session.ready(target["id"])
    result.endpoint = read_write_endpoint(client, session.path, target["id"])
    if request.preserve_under_name:
        result.preserved_branch = find_branch(client, session.path, request.preserve_under_name)
    result.after = diff_view(result.branch)
