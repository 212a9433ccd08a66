# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The deploy lock and the release ledger: one small DynamoDB table per environment.

Plain Python over a boto3 ``dynamodb`` client (``deploy_lock`` and ``release_ledger`` are the shells), so unit
tests drive it with a fake client. The table (``<project>-<environment>-releases``) has string keys ``pk`` and
``sk``, on-demand billing and TTL on ``expires_at``. It holds:

- the lock: ``pk=lock, sk=deploy``, with ``expires_at`` in epoch seconds so DynamoDB's TTL removes a lock long
  forgotten (TTL deletes within a day or two; expiry as this module sees it is exact);
- one record per release: ``pk=release, sk=<started_at>#<release_id>``, so a Query on ``pk=release`` in
  descending order lists the newest first;
- one pointer per release: ``pk=release#<release_id>, sk=release``, holding the record's ``sk``, so a release
  is found by id with two strongly consistent reads. Record and pointer are written in one transaction.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import math
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitTimeout, wait_until

TTL_ATTRIBUTE = "expires_at"
LOCK_KEY = {"pk": "lock", "sk": "deploy"}
RELEASE_PK = "release"
RESERVED_FIELDS = ("pk", "sk", "release_id")
DEPLOYMENT_TYPES = ("standard", "hotfix", "rollback")
OUTCOMES = ("in_progress", "succeeded", "failed", "rolled_back")
BREAK_HINT = (
    "ansible-playbook ... -e break_lock=true (which runs macroai.deploy.deploy_lock with state=broken)"
)


class StoreError(Exception):
    """Something the caller must fix or decide; the message says what and how."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (Python 3.8 nodes)


def iso(moment: datetime.datetime) -> str:
    """``2026-11-27T12:44:53Z``: seconds precision, so the strings sort as the times do."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


def iso_from_epoch(seconds: float) -> str:
    return iso(datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc))  # noqa: UP017


def parse_time(value: Any, name: str) -> str:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC) normalised by :func:`iso`."""
    try:
        moment = datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise StoreError(f"{name}={value!r} is not an ISO 8601 time such as 2026-11-27T12:44:53Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)  # noqa: UP017
    return iso(moment)


# DynamoDB's typed attribute values, without boto3's TypeSerializer (which wants Decimal for every number).


def to_attribute(value: Any, name: str = "value") -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise StoreError(f"{name} is {value}: DynamoDB stores finite numbers only")
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v, f"{name}.{k}") for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute(v, f"{name}[{i}]") for i, v in enumerate(value)]}
    raise StoreError(f"{name} is a {type(value).__name__}; use strings, numbers, booleans, lists and dicts")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    kind, value = next(iter(attribute.items()))
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return bool(value)
    if kind == "N":
        number = float(value)
        return int(value) if re.fullmatch(r"-?\d+", value) else number
    if kind == "S":
        return value
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind in ("SS", "NS"):
        return sorted(from_attribute({kind[0]: v}) for v in value)
    raise StoreError(f"unsupported DynamoDB attribute type {kind}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_attribute(v, k) for k, v in values.items()}


def from_item(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {k: from_attribute(v) for k, v in item.items()}


class Table:
    """The environment's table: created on first use (not in check mode), reads and conditional writes."""

    def __init__(self, client: Any, name: str, check_mode: bool = False, wait_timeout: float = 300) -> None:
        self.client = client
        self.name = name
        self.check_mode = check_mode
        self.wait_timeout = wait_timeout
        self.exists = False
        self.created = False

    def ensure(self, create: bool = True, sleep: Callable[[float], None] | None = None) -> bool:
        """Make sure the table exists, is ACTIVE and expires items by ``expires_at``; True if anything
        changed. Without ``create`` (reads, releases) and in check mode nothing is created or changed: a
        missing table reads as empty."""
        description = self._describe()
        if description is None:
            if self.check_mode or not create:
                return False
            self._create()
            self.created = True
            description = self._wait_active(sleep)
        self._check_schema(description)
        if description["TableStatus"] != "ACTIVE":
            self._wait_active(sleep)
        self.exists = True
        if not create:
            return False
        ttl = self.client.describe_time_to_live(TableName=self.name).get("TimeToLiveDescription", {})
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return self.created
        if self.check_mode:
            return True
        self.client.update_time_to_live(
            TableName=self.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
        return True

    def _describe(self) -> dict[str, Any] | None:
        try:
            return self.client.describe_table(TableName=self.name)["Table"]
        except self.client.exceptions.ResourceNotFoundException:
            return None

    def _create(self) -> None:
        with contextlib.suppress(self.client.exceptions.ResourceInUseException):  # made by another run
            self.client.create_table(
                TableName=self.name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                Tags=[{"Key": "ManagedBy", "Value": "macroai.deploy"}],
            )

    def _wait_active(self, sleep: Callable[[float], None] | None) -> dict[str, Any]:
        try:
            return wait_until(
                self._describe,
                lambda table: table is not None and table["TableStatus"] == "ACTIVE",
                timeout=self.wait_timeout,
                interval=2,
                **({"sleep": sleep} if sleep else {}),
            ).value
        except WaitTimeout as e:
            raise StoreError(
                f"DynamoDB table {self.name} was not ACTIVE after {e.elapsed:.0f}s "
                f"(status {(e.last or {}).get('TableStatus')}); rerun once it is"
            ) from None

    def _check_schema(self, description: Mapping[str, Any]) -> None:
        keys = {k["AttributeName"]: k["KeyType"] for k in description.get("KeySchema", [])}
        if keys != {"pk": "HASH", "sk": "RANGE"}:
            raise StoreError(
                f"DynamoDB table {self.name} exists with keys {keys}, not the lock and ledger's (pk HASH, sk "
                "RANGE, both strings): give the modules a table of their own "
                "(<project>-<environment>-releases)"
            )

    def get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        if not self.exists:
            return None
        answer = self.client.get_item(TableName=self.name, Key=to_item(key), ConsistentRead=True)
        return from_item(answer.get("Item"))

    def query(self, **request: Any):
        """Every item of a Query, page after page (a generator: stop early by not iterating further)."""
        if not self.exists:
            return
        request = dict(request, TableName=self.name)
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                yield from_item(item)
            if not page.get("LastEvaluatedKey"):
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def is_condition_failure(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code == "TransactionCanceledException":
            reasons = error.response.get("CancellationReasons", [])
            return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
        return code == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Condition:
    """A ConditionExpression with its names and values, ready for PutItem, DeleteItem or a transaction."""

    expression: str
    names: dict[str, str]
    values: dict[str, Any]

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.names:
            request["ExpressionAttributeNames"] = self.names
        if self.values:
            request["ExpressionAttributeValues"] = to_item(self.values)
        return request


def absent() -> Condition:
    return Condition("attribute_not_exists(pk)", {}, {})


def attributes_equal(**expected: Any) -> Condition:
    """Every named attribute holds the expected value (the item is still the one that was read)."""
    names = {f"#{k}": k for k in expected}
    values = {f":{k}": v for k, v in expected.items()}
    return Condition(" AND ".join(f"#{k} = :{k}" for k in expected), names, values)


# The lock.


def process_start_ticks(pid: int, proc_root: str = "/proc") -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22), or None."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _parent_and_cmdline(pid: int, proc_root: str) -> tuple[int | None, str]:
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as stat:
            parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        with open(os.path.join(proc_root, str(pid), "cmdline"), "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace")
        return parent, command
    except (OSError, IndexError, ValueError):
        return None, ""


def controller_pid(pid: int | None = None, proc_root: str = "/proc", fallback: int | None = None) -> int:
    """The pid of the ansible-playbook process that runs this module.

    Walks the ancestors of ``pid`` (this process by default). ansible-playbook forks a worker per task whose
    command line is its parent's, so the outermost ancestor running ansible-playbook is the controller.
    Without /proc, or outside ansible-playbook, the parent process (``fallback``).
    """
    current: int | None = os.getpid() if pid is None else pid
    found = None
    for _step in range(64):
        if not current or current <= 1:
            break
        parent, command = _parent_and_cmdline(current, proc_root)
        if "ansible-playbook" in command:
            found = current
        elif found is not None:
            break
        current = parent
    if found is not None:
        return found
    return os.getppid() if fallback is None else fallback


def pid_alive(pid: int, start_ticks: int | None = None, proc_root: str = "/proc") -> bool:
    """Whether ``pid`` runs; when its recorded start time is known, whether it is still that process."""
    if pid <= 0:
        return False
    if os.path.isdir(proc_root):
        if not os.path.isdir(os.path.join(proc_root, str(pid))):
            return False
        return start_ticks is None or process_start_ticks(pid, proc_root) in (None, start_ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@dataclass(frozen=True)
class Identity:
    """Who asks for the lock: the holder label, and the host and controller pid that prove it alive."""

    holder: str
    host: str
    pid: int
    pid_started: int | None = None

    @classmethod
    def of_this_run(cls, holder: str | None = None, proc_root: str = "/proc") -> Identity:
        host = socket.gethostname()
        pid = controller_pid(proc_root=proc_root)
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry for the uid, as in some containers
            user = str(os.getuid())
        return cls(holder or f"{user}@{host}:{pid}", host, pid, process_start_ticks(pid, proc_root))


def lock_view(item: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
    """The lock as the modules return it; ``held`` is False when there is none."""
    if not item:
        return dict(
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
    expires = float(item["expires_at"])
    return dict(
        owner=item.get("owner"),
        holder=item.get("holder"),
        message=item.get("message", ""),
        started_at=item.get("started_at"),
        expires_at=iso_from_epoch(expires),
        held=True,
        expired=expires <= now,
        host=item.get("host"),
        pid=item.get("pid"),
    )


def describe_lock(view: Mapping[str, Any]) -> str:
    return (
        f"held by {view['holder']} for {view['owner']!r} (message: {view['message']!r}) since "
        f"{view['started_at']}"
    )


class DeployLock:
    """Acquire, release and break the environment's lock with conditional writes."""

    def __init__(
        self,
        table: Table,
        identity: Identity,
        clock: Callable[[], float] | None = None,
        is_alive: Callable[[int, int | None], bool] = pid_alive,
    ) -> None:
        self.table = table
        self.identity = identity
        self.clock = clock or (lambda: utc_now().timestamp())
        self.is_alive = is_alive
        self.warnings: list[str] = []

    def holder_is_dead_here(self, item: Mapping[str, Any]) -> bool:
        if item.get("host") != self.identity.host or not isinstance(item.get("pid"), int):
            return False
        return not self.is_alive(item["pid"], item.get("pid_started"))

    def plan_acquire(
        self, current: Mapping[str, Any] | None, owner: str, takeover: bool
    ) -> tuple[str, Condition]:
        """What acquiring means given what is there: ``create``, ``keep`` (ours already), ``renew`` (ours but
        expired), or ``takeover`` (expired, left by a dead process of this host); otherwise StoreError."""
        if current is None:
            return "create", absent()
        now = self.clock()
        view = lock_view(current, now)
        if current.get("owner") == owner:
            if view["expired"]:
                return "renew", attributes_equal(owner=owner)
            return "keep", attributes_equal(owner=owner)
        dead_here = self.holder_is_dead_here(current)
        if not view["expired"]:
            hint = (
                f" Its process {current.get('pid')} on this host is no longer running: if no release is in "
                "progress, break the lock rather than wait for it to expire."
                if dead_here
                else " Wait for that run to finish; if it is known to be dead, break the lock."
            )
            raise StoreError(
                f"Another release holds the deploy lock on {self.table.name}: {describe_lock(view)}, until "
                f"{view['expires_at']}.{hint} To break it: {BREAK_HINT}.",
                lock=view,
            )
        if takeover and dead_here:
            return "takeover", attributes_equal(owner=current["owner"], started_at=current["started_at"])
        why = (
            f" It was not taken over automatically: its holder ran on {current.get('host')}, not here."
            if takeover and current.get("host") != self.identity.host
            else ""
        )
        raise StoreError(
            f"The deploy lock on {self.table.name} expired at {view['expires_at']} ({describe_lock(view)}): "
            f"it is probably left by a killed run.{why} Make sure no release is running, then break it: "
            f"{BREAK_HINT}.",
            lock=view,
        )

    def new_lock(self, owner: str, message: str, ttl_minutes: int) -> dict[str, Any]:
        now = self.clock()
        item = dict(
            LOCK_KEY,
            owner=owner,
            holder=self.identity.holder,
            message=message,
            started_at=iso_from_epoch(now),
            expires_at=int(now + ttl_minutes * 60),
            host=self.identity.host,
            pid=self.identity.pid,
        )
        if self.identity.pid_started is not None:
            item["pid_started"] = self.identity.pid_started
        return item

    def acquire(self, owner: str, message: str, ttl_minutes: int, takeover: bool) -> tuple[bool, dict, dict]:
        """(changed, previous, lock). Retries the read and the decision when a concurrent write wins."""
        for _attempt in range(3):
            current = self.table.get(LOCK_KEY)
            action, condition = self.plan_acquire(current, owner, takeover)
            previous = lock_view(current, self.clock())
            if action == "keep":
                return False, previous, previous
            item = self.new_lock(owner, message, ttl_minutes)
            if action == "takeover":
                self.warnings.append(
                    f"Took over the expired deploy lock of {current['holder']} for {current['owner']!r} "
                    f"(message: {current.get('message', '')!r}): its process {current['pid']} on this host "
                    "is no longer running."
                )
            if self.table.check_mode:
                return True, previous, lock_view(item, self.clock())
            try:
                self.table.client.put_item(
                    TableName=self.table.name, Item=to_item(item), **condition.request()
                )
            except self.table.client.exceptions.ConditionalCheckFailedException:
                self.warnings = []
                continue
            return True, previous, lock_view(item, self.clock())
        raise StoreError(
            f"The deploy lock on {self.table.name} kept changing while it was being taken; rerun"
        )

    def release(self, owner: str) -> tuple[bool, dict, dict]:
        for _attempt in range(3):
            current = self.table.get(LOCK_KEY)
            previous = lock_view(current, self.clock())
            if current is None:
                return False, previous, previous
            if current.get("owner") != owner:
                raise StoreError(
                    f"The deploy lock on {self.table.name} is not this run's ({owner!r}): it is "
                    f"{describe_lock(previous)}. A run releases only its own lock; to remove it anyway, "
                    f"break it: {BREAK_HINT}.",
                    lock=previous,
                )
            if self.table.check_mode:
                return True, previous, lock_view(None, 0)
            try:
                self.table.client.delete_item(
                    TableName=self.table.name,
                    Key=to_item(LOCK_KEY),
                    **attributes_equal(owner=owner).request(),
                )
            except self.table.client.exceptions.ConditionalCheckFailedException:
                continue
            return True, previous, lock_view(None, 0)
        raise StoreError(
            f"The deploy lock on {self.table.name} kept changing while it was being released; rerun"
        )

    def break_(self) -> tuple[bool, dict, dict]:
        current = self.table.get(LOCK_KEY)
        if self.table.check_mode or current is None:
            return current is not None, lock_view(current, self.clock()), lock_view(None, 0)
        answer = self.table.client.delete_item(
            TableName=self.table.name, Key=to_item(LOCK_KEY), ReturnValues="ALL_OLD"
        )
        old = from_item(answer.get("Attributes"))
        return old is not None, lock_view(old, self.clock()), lock_view(None, 0)


# The ledger.

_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credential", "privatekey")
_CREDENTIALS_IN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#@\s]*:[^/?#@\s]*@", re.IGNORECASE)
_SIGNED_URL = re.compile(
    r"[?&](x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token|access_token|"
    r"api_key|apikey|password)=",
    re.IGNORECASE,
)


def secret_looking_key(name: str) -> bool:
    """A field named like a secret: password, secret, token, api key, credentials, ``*_key``..."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    squashed = re.sub(r"[^a-z0-9]", "", words)
    if any(word in squashed for word in _SECRET_WORDS):
        return True
    return "key" in re.split(r"[^a-z0-9]+", words) or words in ("pwd", "auth", "authorization")


def secret_paths(value: Any, path: str = "entry") -> list[str]:
    """Where ``value`` holds something secret-looking: keys named like secrets, URLs carrying credentials
    or signatures. Paths only, never the values."""
    found = []
    if isinstance(value, Mapping):
        for key, child in value.items():
            child_path = f"{path}.{key}"
            if secret_looking_key(str(key)):
                found.append(child_path)
            else:
                found += secret_paths(child, child_path)
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found += secret_paths(child, f"{path}[{index}]")
    elif isinstance(value, str) and (_CREDENTIALS_IN_URL.search(value) or _SIGNED_URL.search(value)):
        found.append(path)
    return found


def secret_values(value: Any, under_secret: bool = False) -> list[str]:
    """The values :func:`secret_paths` objects to, as strings, for a module to mask in its output."""
    found = []
    if isinstance(value, Mapping):
        for key, child in value.items():
            found += secret_values(child, under_secret or secret_looking_key(str(key)))
    elif isinstance(value, (list, tuple)):
        for child in value:
            found += secret_values(child, under_secret)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if under_secret or _CREDENTIALS_IN_URL.search(text) or _SIGNED_URL.search(text):
            found.append(text)
    return found


def normalise_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the known fields and refuse secrets; StoreError names every bad field."""
    errors = []
    secrets = secret_paths(entry)
    if secrets:
        errors.append(
            f"secret-looking {', '.join(secrets)} (named like a password, token or key, or a URL with "
            "credentials or a signature): the ledger keeps no secrets. Record a reference instead (a "
            "secret's ARN, a URL without user:password@ or its query)"
        )
    normalised = dict(entry)
    for name in RESERVED_FIELDS:
        if name in normalised and name != "release_id":
            errors.append(f"entry.{name} is reserved for the table's keys; use another name")
    for name in ("started_at", "finished_at"):
        if normalised.get(name) is not None:
            try:
                normalised[name] = parse_time(normalised[name], f"entry.{name}")
            except StoreError as e:
                errors.append(str(e))
    for name, choices in (("deployment_type", DEPLOYMENT_TYPES), ("outcome", OUTCOMES)):
        if normalised.get(name) is not None and normalised[name] not in choices:
            errors.append(f"entry.{name}={normalised[name]!r}: use one of {', '.join(choices)}")
    phases = normalised.get("phases")
    if phases is not None:
        if not isinstance(phases, Mapping):
            errors.append("entry.phases must map each phase to its seconds, e.g. {migrate: 12.5}")
        else:
            normalised["phases"] = {}
            for phase, seconds in phases.items():
                try:
                    number = float(seconds)
                except (TypeError, ValueError):
                    errors.append(f"entry.phases.{phase}={seconds!r} is not a number of seconds")
                    continue
                normalised["phases"][phase] = int(number) if number.is_integer() else round(number, 3)
    if errors:
        raise StoreError("; ".join(errors), fields=secrets)
    return normalised


def merged(stored: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """``entry`` over ``stored``: dicts merge key by key (phases add up over a release), a None removes."""
    result = dict(stored)
    for key, value in entry.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def record_sk(release: Mapping[str, Any]) -> str:
    return f"{release['started_at']}#{release['release_id']}"


def public(item: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if not item else {k: v for k, v in sorted(item.items()) if k not in ("pk", "sk")}


class Ledger:
    """Releases by id and newest first; present() merges an entry and writes only when it differs."""

    def __init__(self, table: Table, clock: Callable[[], datetime.datetime] = utc_now) -> None:
        self.table = table
        self.clock = clock

    def _record_sk(self, release_id: str) -> str | None:
        pointer = self.table.get({"pk": f"{RELEASE_PK}#{release_id}", "sk": RELEASE_PK})
        return pointer["record_sk"] if pointer else None

    def get(self, release_id: str) -> dict[str, Any]:
        sk = self._record_sk(release_id)
        return public(self.table.get({"pk": RELEASE_PK, "sk": sk})) if sk else {}

    def present(self, release_id: str, entry: Mapping[str, Any]) -> tuple[bool, dict, dict]:
        """(changed, before, after); before is {} for a new release."""
        entry = normalise_entry(entry)
        if entry.get("release_id", release_id) != release_id:
            raise StoreError(
                f"entry.release_id={entry['release_id']!r} differs from release_id={release_id!r}"
            )
        old_sk = self._record_sk(release_id)
        before = public(self.table.get({"pk": RELEASE_PK, "sk": old_sk})) if old_sk else {}
        after = merged(before, dict(entry, release_id=release_id))
        after.setdefault("started_at", iso(self.clock()))
        after = public(after)
        if after == before:
            return False, before, after
        if self.table.check_mode:
            return True, before, after
        new_sk = record_sk(after)
        record = dict(after, pk=RELEASE_PK, sk=new_sk)
        pointer = {"pk": f"{RELEASE_PK}#{release_id}", "sk": RELEASE_PK, "record_sk": new_sk}
        pointer_condition = attributes_equal(record_sk=old_sk) if old_sk else absent()
        writes = [
            {"Put": dict(TableName=self.table.name, Item=to_item(record))},
            {"Put": dict(TableName=self.table.name, Item=to_item(pointer), **pointer_condition.request())},
        ]
        if old_sk and old_sk != new_sk:  # started_at changed: the record moves
            writes.append(
                {"Delete": dict(TableName=self.table.name, Key=to_item({"pk": RELEASE_PK, "sk": old_sk}))}
            )
        try:
            self.table.client.transact_write_items(TransactItems=writes)
        except self.table.client.exceptions.TransactionCanceledException as e:
            if self.table.is_condition_failure(e):
                raise StoreError(
                    f"Release {release_id} was changed by another run while this one recorded it; rerun"
                ) from None
            raise
        return True, before, after

    def releases(self, before_sk: str | None = None, page_size: int = 25) -> Any:
        """Releases newest first (strictly before ``before_sk`` when given), ``page_size`` a page."""
        condition = "pk = :pk" + (" AND sk < :before" if before_sk else "")
        values = {":pk": RELEASE_PK, **({":before": before_sk} if before_sk else {})}
        for item in self.table.query(
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=page_size,
        ):
            yield public(item)

    def list(self, limit: int) -> list[dict[str, Any]]:
        found = []
        for release in self.releases(page_size=min(limit, 100)):
            found.append(release)
            if len(found) >= limit:
                break
        return found

    def last_successful(self, before_release_id: str | None = None) -> dict[str, Any]:
        before_sk = None
        if before_release_id:
            before_sk = self._record_sk(before_release_id)
            if before_sk is None:
                raise StoreError(
                    f"before_release_id={before_release_id!r} is not in the ledger {self.table.name}: give a "
                    "recorded release id (query=list shows them)"
                )
        for release in self.releases(before_sk):
            if release.get("outcome") == "succeeded":
                return release
        return {}


# The lock and the release's ledger entry in one call: deploy.yml opens the entry as it takes the lock and
# records it as it gives the lock back, which spares the hot path two module calls.


def acquire_and_open(
    lock: DeployLock,
    ledger: Ledger,
    owner: str,
    message: str,
    ttl_minutes: int,
    takeover: bool,
    release_id: str,
    entry: Mapping[str, Any],
) -> tuple[bool, dict, dict, dict]:
    """Take the lock, then open ``release_id``'s ledger entry: (changed, previous lock, lock, entry). If the
    entry cannot be written, the lock is given back before the error goes up (nothing is left held)."""
    changed, previous, view = lock.acquire(owner, message, ttl_minutes, takeover)
    opened = False
    try:
        _entry_changed, _before, after = ledger.present(release_id, entry)
        opened = True
    except StoreError as error:
        raise StoreError(
            f"{str(error).rstrip('.')}. The deploy lock was given back.", **error.details
        ) from None
    finally:
        if not opened and changed and not lock.table.check_mode:
            lock.release(owner)
    return changed, previous, view, after


def record_and_release(
    lock: DeployLock, ledger: Ledger, owner: str, release_id: str, entry: Mapping[str, Any]
) -> tuple[bool, dict, dict, dict, str]:
    """Record ``release_id``'s ledger entry, then give the lock back whatever the ledger did: (changed,
    previous lock, lock, entry, the ledger's refusal or ''). The caller reports a refusal once the lock is
    free; an AWS error goes up after the lock is given back."""
    after: dict = {}
    ledger_error = ""
    try:
        _changed, _before, after = ledger.present(release_id, entry)
    except StoreError as error:
        ledger_error = str(error)
    finally:
        changed, previous, view = lock.release(owner)
    return changed, previous, view, after, ledger_error
