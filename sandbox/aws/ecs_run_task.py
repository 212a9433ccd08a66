"""ECS one-off tasks (RunTask) as local processes whose output goes to CloudWatch Logs.

moto's RunTask only records a task that stays RUNNING (and trips on awsvpc tasks in VPCs without DNS
hostnames). Here a one-off task of a task definition runs as a local process, like a service's tasks
(``sandbox.dataplane.tasks``): the essential container's environment and resolved secrets, with
``overrides.containerOverrides[].command``/``environment`` applied; no command runs the sample app's
server, ``["python", "migrate.py"]`` runs that script in examples/app. The task goes PROVISIONING ->
RUNNING -> STOPPED; when the process exits the task stops with the container's ``exitCode`` and
``stoppedReason`` "Essential container in task exited". Its output goes, line by line, to the log group
and stream its ``awslogs`` configuration names (moto's logs backend), where GetLogEvents reads it.

:class:`OneOffTasks` is driven by the ECS overlay (``sandbox.aws.ecs``): RunTask and StopTask of one-off
tasks come here, DescribeTasks stays moto's (the tasks live in moto's model), and the reconciler's tick
calls :meth:`OneOffTasks.tick`. Every method runs under the overlay engine's lock.
"""

from __future__ import annotations

import copy
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.aws.security_groups import ADDRESSES
from sandbox.dataplane.tasks import (
    SecretError,
    TaskNetwork,
    TaskProcess,
    container_port,
    image_tag,
    stop_processes,
    task_environment,
)

MAX_LOG_CHUNK = 256 * 1024  # bytes of output shipped per tick
KEEP_STOPPED = 3600.0  # seconds a stopped task's record is kept (DescribeTasks still finds it in moto)


class RunTaskError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def now() -> datetime:
    return datetime.now(UTC)


def essential_container(definition: Any) -> dict[str, Any]:
    containers = definition.container_definitions or [{}]
    return next((c for c in containers if c.get("essential", True)), containers[0])


def container_override(overrides: dict[str, Any] | None, name: str | None) -> dict[str, Any]:
    """The ``containerOverrides`` entry for the container ``name`` (empty when there is none)."""
    for entry in (overrides or {}).get("containerOverrides") or []:
        if entry.get("name") == name:
            return entry
    return {}


def effective_command(container: dict[str, Any], override: dict[str, Any]) -> list[str] | None:
    """The override's command, else the definition's, else None (the image's default: the app server)."""
    command = override.get("command") or container.get("command")
    return [str(part) for part in command] if command else None


def log_destination(container: dict[str, Any], task_id: str) -> tuple[str, str, bool] | None:
    """(log group, stream, create the group) from an ``awslogs`` configuration; None without one.

    The stream is named as ECS names it: ``prefix/container-name/task-id`` (the task id alone without a
    prefix).
    """
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    group = options.get("awslogs-group")
    if not group:
        return None
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{container.get('name')}/{task_id}" if prefix else task_id
    return group, stream, str(options.get("awslogs-create-group", "")).lower() == "true"


def validate_placement(
    definition: Any, launch_type: str | None, strategy: list[dict[str, Any]] | None, network: Any
) -> None:
    if launch_type and launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise RunTaskError("InvalidParameterException", "launchType should be one of [EC2,FARGATE,EXTERNAL]")
    if launch_type and strategy:
        raise RunTaskError(
            "InvalidParameterException",
            "Specify either Launch Type or Capacity Provider Strategy, but not both.",
        )
    if definition.network_mode == "awsvpc":
        subnets = ((network or {}).get("awsvpcConfiguration") or {}).get("subnets")
        if not subnets:
            raise RunTaskError(
                "InvalidParameterException",
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
            )


@dataclass
class OneOff:
    account: str
    region: str
    task: Any  # moto Task
    container: dict[str, Any]
    destination: tuple[str, str, bool] | None
    proc: TaskProcess | None = None
    log_path: Path | None = None
    log_offset: int = 0
    stopped: bool = False
    stopped_mono: float = 0.0
    stop_requested: str | None = None
    created: float = field(default_factory=time.monotonic)
    address: str = ""  # the task's private IP (sandbox/aws/security_groups.py)
    groups: tuple[str, ...] = ()


class OneOffTasks:
    def __init__(self, log_dir: Path | None) -> None:
        self.log_dir = log_dir
        self.tasks: dict[str, OneOff] = {}

    @staticmethod
    def backend(account: str, region: str) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[account][region]

    def owns(self, task: str) -> OneOff | None:
        """The one-off task whose ARN or id is ``task``."""
        for arn, run in self.tasks.items():
            if task == arn or arn.endswith("/" + task):
                return run
        return None

    # -- RunTask ---------------------------------------------------------------------------------
    def run(self, account: str, region: str, params: dict[str, Any]) -> list[Any]:
        from moto.ecs.exceptions import ClusterNotFoundException, TaskDefinitionNotFoundException
        from moto.ecs.models import Task

        backend = self.backend(account, region)
        try:
            cluster = backend._get_cluster(params.get("cluster") or "default")
        except ClusterNotFoundException as err:
            raise RunTaskError("ClusterNotFoundException", "Cluster not found.") from err
        reference = params.get("taskDefinition")
        if not reference:
            raise RunTaskError("InvalidParameterException", "taskDefinition is required")
        try:
            definition = backend.describe_task_definition(reference)
        except (TaskDefinitionNotFoundException, ValueError) as err:
            raise RunTaskError("ClientException", f"Unable to describe task definition {reference}.") from err
        launch_type = params.get("launchType")
        strategy = params.get("capacityProviderStrategy")
        network = params.get("networkConfiguration")
        validate_placement(definition, launch_type, strategy, network)
        count = int(params.get("count") or 1)
        if not 1 <= count <= 10:
            raise RunTaskError("InvalidParameterException", "count must be between 1 and 10")
        if not launch_type and not strategy:
            strategy = cluster.default_capacity_provider_strategy or None
            launch_type = None if strategy else "FARGATE"
        provider = strategy[0]["capacityProvider"] if strategy else None
        container = essential_container(definition)
        override = container_override(params.get("overrides"), container.get("name"))
        started = []
        for _ in range(count):
            # Built as a bridge task from a copy of the definition (see sandbox.aws.ecs.start_task).
            bridged = copy.copy(definition)
            bridged.network_mode = "bridge"
            task = Task(
                cluster,
                bridged,
                None,
                None,
                backend,
                group=params.get("group") or f"family:{definition.family}",
                launch_type=launch_type or "",
                overrides=params.get("overrides") or {},
                started_by=params.get("startedBy") or "",
                tags=params.get("tags") or [],
                platform_version=params.get("platformVersion"),
                capacity_provider_name=provider,
            )
            address = ADDRESSES.allocate()
            if definition.network_mode == "awsvpc":
                task.network_configuration = network
                subnet = network["awsvpcConfiguration"]["subnets"][0]
                task.attachments = [
                    {
                        "id": str(uuid.uuid4()),
                        "type": "ElasticNetworkInterface",
                        "status": "ATTACHED",
                        "details": [
                            {"name": "subnetId", "value": subnet},
                            {"name": "privateIPv4Address", "value": address},
                        ],
                    }
                ]
            task.created_at = now()
            task.last_status = "PROVISIONING"
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
            destination = log_destination(container, task.id)
            run = OneOff(account, region, task, container, destination, address=address)
            if definition.network_mode == "awsvpc":
                run.groups = tuple(network["awsvpcConfiguration"].get("securityGroups") or ())
            self.tasks[task.task_arn] = run
            self.start(run, override)
            started.append(task)
        return started

    def start(self, run: OneOff, override: dict[str, Any]) -> None:
        task = run.task
        try:
            env = task_environment(run.account, run.region, task, run.container)
        except SecretError as err:
            self.stopped(run, f"ResourceInitializationError: {err}", "TaskFailedToStart")
            return
        env.update({item["name"]: str(item.get("value", "")) for item in override.get("environment") or []})
        if run.destination is not None and not self._log_stream(run):
            return
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            run.log_path = self.log_dir / f"{task.id}.log"
        else:
            run.log_path = Path(tempfile.gettempdir()) / f"sandbox-task-{task.id}.log"
        command = effective_command(run.container, override)
        try:
            network = TaskNetwork(run.account, run.region, run.groups, container_port(run.container))
            run.proc = TaskProcess(
                env,
                image_tag(run.container.get("image")),
                run.log_path,
                command,
                address=run.address or None,
                network=network,
            )
        except OSError as err:
            self.stopped(run, f"CannotStartContainerError: {err}", "TaskFailedToStart")
            return
        task.pid = run.proc.pid
        task.pull_started_at = task.pull_stopped_at = now()

    def _log_stream(self, run: OneOff) -> bool:
        from moto.logs.models import logs_backends

        assert run.destination is not None
        group, stream, create = run.destination
        logs = logs_backends[run.account][run.region]
        if group not in logs.groups:
            if not create:
                self.stopped(
                    run,
                    "ResourceInitializationError: failed to validate logger args: The specified log group "
                    f"does not exist: {group}",
                    "TaskFailedToStart",
                )
                return False
            logs.create_log_group(group, {})
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        return True

    # -- StopTask ----------------------------------------------------------------------------------
    def stop(self, run: OneOff, reason: str | None) -> Any:
        task = run.task
        if not run.stopped:
            run.stop_requested = reason or "Task stopped by user"
            task.desired_status = "STOPPED"
            task.stopping_at = now()
            if run.proc is not None:
                task.last_status = "STOPPING"
                run.proc.terminate()
            else:
                self.stopped(run, run.stop_requested, "UserInitiated")
        return task

    # -- the reconciler's tick --------------------------------------------------------------------
    def tick(self) -> None:
        for arn, run in list(self.tasks.items()):
            if run.stopped:
                if time.monotonic() - run.stopped_mono > KEEP_STOPPED:
                    del self.tasks[arn]
                continue
            proc = run.proc
            if proc is None:
                continue
            self.ship_logs(run)
            if run.stop_requested is not None:
                if proc.poll_stop():
                    self.ship_logs(run, final=True)
                    self.stopped(run, run.stop_requested, "UserInitiated", proc.exit_code())
                continue
            code = proc.exit_code()
            if code is not None:
                self.ship_logs(run, final=True)
                self.stopped(run, "Essential container in task exited", "EssentialContainerExited", code)
            elif run.task.last_status == "PROVISIONING":
                run.task.last_status = "RUNNING"
                run.task.started_at = run.task.connectivity_at = now()
                for container in run.task.containers:
                    container.last_status = "RUNNING"

    def stopped(self, run: OneOff, reason: str, stop_code: str, exit_code: int | None = None) -> None:
        task = run.task
        run.stopped, run.stopped_mono = True, time.monotonic()
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = stop_code
        task.stopped_at = task.execution_stopped_at = now()
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = exit_code
            if exit_code is None:
                container.reason = reason

    def ship_logs(self, run: OneOff, final: bool = False) -> None:
        """New complete lines of the task's output (every remaining byte when ``final``) to its log stream."""
        if run.destination is None or run.log_path is None or not run.log_path.exists():
            return
        with open(run.log_path, "rb") as handle:
            handle.seek(run.log_offset)
            chunk = handle.read(MAX_LOG_CHUNK)
        if not final:
            chunk = chunk[: chunk.rfind(b"\n") + 1]
        if not chunk:
            return
        run.log_offset += len(chunk)
        lines = chunk.decode("utf-8", "replace").splitlines()
        if not lines:
            return
        from moto.logs.exceptions import ResourceNotFoundException
        from moto.logs.models import logs_backends

        group, stream, _ = run.destination
        logs = logs_backends[run.account][run.region]
        stamp = int(time.time() * 1000)
        events = [{"timestamp": stamp, "message": line} for line in lines]
        try:
            logs.put_log_events(group, stream, events)
        except ResourceNotFoundException:  # the group was deleted meanwhile: the output is lost, as on AWS
            run.destination = None

    def shutdown(self) -> None:
        stop_processes([run.proc for run in self.tasks.values() if run.proc is not None], 2.0)
        self.tasks.clear()

    def listing(self) -> list[dict[str, Any]]:
        return [
            {
                "service": None,
                "one_off": True,
                "cluster": run.task.cluster_name,
                "task_arn": arn,
                "task_definition": run.task.task_definition_arn,
                "version": image_tag(run.container.get("image")),
                "state": run.task.last_status,
                "pid": run.proc.pid if run.proc else None,
                "ip": run.address or None,
                "port": None,
                "target_group": None,
                "exit_code": run.proc.exit_code() if run.proc else None,
                "stopped_reason": run.task.stopped_reason or None,
            }
            for arn, run in self.tasks.items()
        ]
