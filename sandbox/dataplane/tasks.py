"""ECS tasks as local processes running ``examples/app``, with the container's environment and secrets."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.aws import iam
from sandbox.aws.security_groups import ADDRESSES, Endpoint
from sandbox.state import HOST, REPO_ROOT, free_port

APP = REPO_ROOT / "examples" / "app" / "app.py"
STOP_GRACE = 2.0  # SIGTERM, then SIGKILL after this many seconds
FAULT_MODES = ("unhealthy", "crash", "slow")


class SecretError(RuntimeError):
    """A secret named by a container definition could not be resolved."""


def image_tag(image: str | None) -> str:
    """The version a task reports: the text after the image's last ':' (not a registry port), else latest."""
    if not image:
        return "latest"
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


ECS_TASKS = "ecs-tasks.amazonaws.com"
# The stoppedReason's stem, as ECS words it (AWS re:Post, "How do I troubleshoot the
# ResourceInitializationError error when I try to pull secrets or Amazon ECR authentication for ECS tasks").
SECRETS_STEM = "unable to pull secrets or registry auth: execution resource retrieval failed: "


def execution_role(account: str, region: str, task: Any) -> str | None:
    """The execution role ECS assumes for a moto Task: RunTask's override, else the definition's."""
    override = (getattr(task, "overrides", None) or {}).get("executionRoleArn")
    if override:
        return str(override)
    from moto.ecs.models import ecs_backends

    try:
        definition = ecs_backends[account][region].describe_task_definition(task.task_definition_arn)
    except Exception:  # moto raises its own exception types; no definition, no role
        return None
    return getattr(definition, "execution_role_arn", None) or None  # moto sets it only when given


def assume_execution_role(role_arn: str | None, task_arn: str) -> iam.RolePolicies:
    """The execution role, if ECS may assume it for this task (it exists and trusts ecs-tasks).

    ECS sends ``aws:SourceAccount`` (the task's account) and ``aws:SourceArn`` (an ARN of the task's
    account and Region: here the task's own) with sts:AssumeRole, which is what AWS's "Amazon ECS task
    execution IAM role" guide tells a trust policy to test (confused-deputy prevention).
    """
    if not role_arn:
        # AWS refuses this earlier, at RegisterTaskDefinition (ClientException); the sandbox stops the task.
        raise SecretError(
            SECRETS_STEM + "When you are specifying container secrets, you must also specify a value for "
            "'executionRoleArn'."
        )
    role = iam.find_role(role_arn)
    context = {
        "aws:SourceAccount": task_arn.split(":")[4] if task_arn.count(":") >= 5 else "",
        "aws:SourceArn": task_arn,
    }
    if role is None or not iam.trusts(role.trust, ECS_TASKS, role.arn, context):
        raise SecretError(
            SECRETS_STEM + f"ECS was unable to assume the role '{role_arn}' that was provided for this task. "
            "Please verify that the role being passed has the proper trust relationship and permissions and "
            "that your IAM user has permissions to pass this role."
        )
    return role


def _authorize(role: iam.RolePolicies, task_arn: str, action: str, resource: str, stem: str) -> None:
    """An AccessDeniedException (AWS's wording) unless the execution role's policies allow the read."""
    decision = iam.role_allows(role, iam.Request(action, resource))
    if decision is not iam.Decision.ALLOW:
        caller = iam.assumed_role_arn(role.arn, task_arn.rsplit("/", 1)[-1] or "ecs-task")
        raise SecretError(
            f"{stem}AccessDeniedException: {iam.denied_message(caller, action, resource, decision)}"
        )


def resolve_secret(account: str, region: str, value_from: str, role: iam.RolePolicies, task_arn: str) -> str:
    """A container secret's value, read from moto's SSM or Secrets Manager as ECS reads it: as the task
    execution role ``role``, which needs secretsmanager:GetSecretValue on the secret (its full ARN) or
    ssm:GetParameters on the parameter (AWS's "Required IAM permissions for Amazon ECS secrets")."""
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        from moto.secretsmanager.models import secretsmanager_backends

        parts = value_from.split(":")
        secret_id = ":".join(parts[:7])
        json_key, stage, version = ([*parts[7:], "", "", ""])[:3]
        backend = secretsmanager_backends[account][parts[3] or region]
        stem = (
            f"{SECRETS_STEM}unable to retrieve secret from asm: service call has been retried 1 time(s): "
            f"failed to fetch secret {value_from} from secrets manager: "
        )
        try:
            # IAM evaluates the secret's own (full) ARN, whichever form valueFrom takes.
            resource = backend.describe_secret(secret_id).arn
        except Exception:  # moto raises its own exception types; the read below reports the missing secret
            resource = secret_id
        _authorize(role, task_arn, "secretsmanager:GetSecretValue", resource, stem)
        try:
            value = backend.get_secret_value(secret_id, version or None, stage or None)
        except Exception as err:  # moto raises its own exception types
            raise SecretError(f"{stem}{err}") from err
        text = value.get("SecretString") or ""
        if json_key:
            import json

            try:
                text = str(json.loads(text)[json_key])
            except (ValueError, KeyError, TypeError) as err:
                raise SecretError(f"secret {secret_id} has no JSON key {json_key}") from err
        return text
    from moto.ssm.exceptions import SSMException
    from moto.ssm.models import ssm_backends

    ssm_region = region
    if value_from.startswith("arn:"):
        ssm_region = value_from.split(":")[3] or region
        resource = value_from
    else:
        resource = f"arn:aws:ssm:{region}:{account}:parameter/{value_from.lstrip('/')}"
    stem = f"{SECRETS_STEM}unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
    _authorize(role, task_arn, "ssm:GetParameters", resource, stem)
    backend = ssm_backends[account][ssm_region]
    try:
        parameter = backend.get_parameter(value_from)
    except SSMException as err:
        raise SecretError(f"{stem}{value_from}: {err}") from err
    if parameter is None:
        raise SecretError(f"{stem}invalid parameters: {value_from}")
    decrypted = parameter.decrypt(parameter.value)  # ECS decrypts SecureString parameters
    return str(parameter.value if decrypted is None else decrypted)


def container_environment(
    account: str, region: str, container: dict[str, Any], execution_role_arn: str | None, task_arn: str
) -> dict[str, str]:
    """The environment ECS gives a container: ``environment`` plus ``secrets``, read as the execution role."""
    env = {item["name"]: str(item.get("value", "")) for item in container.get("environment") or []}
    secrets = container.get("secrets") or []
    if secrets:
        role = assume_execution_role(execution_role_arn, task_arn)
        for secret in secrets:
            env[secret["name"]] = resolve_secret(account, region, secret["valueFrom"], role, task_arn)
    return env


def task_environment(account: str, region: str, task: Any, container: dict[str, Any]) -> dict[str, str]:
    """:func:`container_environment` for a moto Task: its execution role and ARN."""
    return container_environment(
        account, region, container, execution_role(account, region, task), task.task_arn
    )


@dataclass
class TaskFault:
    image_tag: str
    mode: str
    slow_ms: int = 0

    def env(self) -> dict[str, str]:
        if self.mode == "unhealthy":
            return {"APP_HEALTH": "fail"}
        if self.mode == "crash":
            return {"APP_CRASH_AT_START": "1"}
        return {"APP_SLOW_MS": str(self.slow_ms)}

    def to_dict(self) -> dict[str, Any]:
        return {"image_tag": self.image_tag, "mode": self.mode, "slow_ms": self.slow_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskFault:
        tag, mode = data.get("image_tag"), data.get("mode")
        if not isinstance(tag, str) or not tag:
            raise ValueError("image_tag (a string, e.g. 'v3') is required")
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        try:
            slow_ms = int(data.get("slow_ms") or 0)
        except (TypeError, ValueError) as err:
            raise ValueError("slow_ms must be an integer") from err
        if mode == "slow" and slow_ms <= 0:
            raise ValueError("mode slow needs slow_ms > 0")
        return cls(tag, mode, slow_ms)


class TaskFaults:
    """Faults applied to tasks started later, by image tag."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_tag: dict[str, TaskFault] = {}

    def add(self, fault: TaskFault) -> TaskFault:
        with self._lock:
            self._by_tag[fault.image_tag] = fault
        return fault

    def clear(self) -> None:
        with self._lock:
            self._by_tag.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self._by_tag.values()]

    def env_for(self, tag: str) -> dict[str, str]:
        with self._lock:
            fault = self._by_tag.get(tag)
        return fault.env() if fault else {}


def task_argv(command: list[str] | None) -> list[str]:
    """What a task's process runs: the sample app's server, or a container ``command`` in examples/app
    (``python`` is this interpreter, which has the app's one dependency, psycopg)."""
    if not command:
        return [sys.executable, str(APP)]
    if command[0] in ("python", "python3"):
        return [sys.executable, *command[1:]]
    return list(command)


@dataclass(frozen=True)
class TaskNetwork:
    """Where a task sits in the VPC: its account and region, its security groups (the awsvpc network
    configuration's), and the container port its loopback port stands for."""

    account: str
    region: str
    groups: tuple[str, ...] = ()
    container_port: int | None = None


def container_port(container: dict[str, Any]) -> int | None:
    """The container's first port mapping (the port a load balancer and security groups name)."""
    for mapping in container.get("portMappings") or []:
        if mapping.get("containerPort"):
            return int(mapping["containerPort"])
    return None


class TaskProcess:
    """One running copy of the sample app (or of a one-off ``command`` in examples/app); in the sandbox's
    process group so ``down`` takes it too.

    It has its own loopback address, its private IP (``address``, else one from the sandbox's address book),
    and listens there (``APP_HOST``) on a free port; the address book records it with ``network``'s groups so
    the data plane can attribute connections to and from it (sandbox/aws/security_groups.py)."""

    def __init__(
        self,
        env: dict[str, str],
        version: str,
        log_path: Path | None = None,
        command: list[str] | None = None,
        address: str | None = None,
        network: TaskNetwork | None = None,
    ) -> None:
        self.ip = address or ADDRESSES.allocate()
        self.port = free_port(self.ip)
        self.version = version
        full_env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT")
        }
        full_env.update(env)
        full_env.update(
            {"PORT": str(self.port), "APP_HOST": self.ip, "APP_VERSION": version, "PYTHONUNBUFFERED": "1"}
        )
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
        try:
            self.popen = subprocess.Popen(
                task_argv(command),
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(APP.parent),
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        if network is not None:
            ports = {self.port: network.container_port} if network.container_port else {}
            where = (network.account, network.region, network.groups)
            ADDRESSES.claim(Endpoint(self.ip, *where, ports, self.popen.pid))
        self.started = time.monotonic()
        self._term_sent: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_code(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM now; :meth:`poll_stop` sends SIGKILL once the grace period is over."""
        if self._term_sent is None and self.alive():
            self._term_sent = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)

    def poll_stop(self) -> bool:
        """True once the process is gone (escalating to SIGKILL after the grace period)."""
        if not self.alive():
            return True
        if self._term_sent is None:
            self.terminate()
        elif time.monotonic() - self._term_sent > STOP_GRACE:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
        return not self.alive()

    def kill_now(self, timeout: float = STOP_GRACE) -> None:
        self.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(1.0)


def stop_processes(procs: list[TaskProcess], grace: float = STOP_GRACE) -> None:
    """SIGTERM every process, then SIGKILL those still there after ``grace`` seconds."""
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.alive() for p in procs):
        time.sleep(0.05)
    for proc in procs:
        if proc.alive():
            proc.kill_now(1.0)


__all__ = [
    "HOST",
    "SecretError",
    "TaskFault",
    "TaskFaults",
    "TaskNetwork",
    "TaskProcess",
    "container_environment",
    "execution_role",
    "container_port",
    "image_tag",
    "resolve_secret",
    "stop_processes",
    "task_argv",
    "task_environment",
]
