# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs a one-off ECS task (RunTask) to completion: a migration, a batch job.

Plain Python, no Ansible: ``plugins/modules/ecs_run_task.py`` is a thin shell over :func:`run_task`.
Functions take boto3 clients (``ecs``, ``logs``) and a ``check_mode`` flag, and raise
:class:`EcsTaskError` with a message that says what to do next; AWS errors (botocore's) pass through.
The task definition, when given as a specification, is registered or reused by the same rules as
``ecs_bluegreen`` (:func:`register_or_reuse_task_definition`), so a migration run before a release and the
release share one revision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.macroai.deploy.plugins.module_utils._ecs import (
    NOT_FOUND_CODES,
    TaskDefinitionSpec,
    describe_task_definition,
    ecs_tag_list,
    register_or_reuse_task_definition,
)
from ansible_collections.macroai.deploy.plugins.module_utils._errors import ModuleError
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import (
    SYSTEM_CLOCK,
    Clock,
    Step,
    WaitSettings,
    follow,
)

TIMEOUT_STOP_REASON = "ecs_run_task: the task did not stop within wait_timeout"


class EcsTaskError(ModuleError):
    """The task could not run, or ended badly; ``message`` says what to do, ``details`` go to the result."""


@dataclass(frozen=True)
class RunTaskRequest:
    cluster: str
    task_definition: str | None = None  # ARN, family:revision or family (its newest ACTIVE revision)
    task_definition_spec: TaskDefinitionSpec | None = None  # registered or reused as ecs_bluegreen does
    container_name: str | None = None  # the container the overrides apply to; the essential one by default
    command: Sequence[str] | None = None
    environment: Mapping[str, str] | None = None
    subnets: Sequence[str] | None = None
    security_groups: Sequence[str] | None = None
    assign_public_ip: bool | None = None
    launch_type: str | None = None
    capacity_provider_strategy: Sequence[Mapping[str, Any]] | None = None
    started_by: str = "ansible-ecs_run_task"
    tags: Mapping[str, str] | None = None
    wait: WaitSettings = WaitSettings(timeout=600, interval=5)
    stop_on_timeout: bool = True
    log_lines: int = 50


@dataclass
class RunTaskResult:
    task_definition_arn: str | None = None
    task_definition_registered: bool = False
    container_name: str | None = None
    command: list[str] | None = None
    task_arn: str | None = None
    last_status: str | None = None
    exit_code: int | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    log_group: str | None = None
    log_stream: str | None = None
    log_tail: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    statuses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_definition_arn": self.task_definition_arn,
            "task_definition_registered": self.task_definition_registered,
            "container_name": self.container_name,
            "command": self.command,
            "task_arn": self.task_arn,
            "last_status": self.last_status,
            "exit_code": self.exit_code,
            "stopped_reason": self.stopped_reason,
            "stop_code": self.stop_code,
            "log_group": self.log_group,
            "log_stream": self.log_stream,
            "log_tail": list(self.log_tail),
            "elapsed_s": self.elapsed_s,
            "statuses": list(self.statuses),
        }


def pick_container(definition: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    """The container called ``name``, or the first essential one."""
    containers = list(definition.get("containerDefinitions") or [])
    if not containers:
        raise EcsTaskError(f"Task definition {definition.get('family')} has no container definitions")
    if name is None:
        return next((c for c in containers if c.get("essential", True)), containers[0])
    for container in containers:
        if container.get("name") == name:
            return container
    names = ", ".join(str(c.get("name")) for c in containers)
    raise EcsTaskError(f"container_name {name} is not a container of the task definition; it has: {names}")


def log_destination(container: Mapping[str, Any], task_id: str | None) -> tuple[str | None, str | None]:
    """(log group, log stream) of a task's container under the ``awslogs`` driver, as ECS names them."""
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None, None
    options = config.get("options") or {}
    group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
    if not task_id:
        return group, None
    return group, (f"{prefix}/{container.get('name')}/{task_id}" if prefix else task_id)


def run_task_kwargs(request: RunTaskRequest, task_definition_arn: str, container_name: str) -> dict[str, Any]:
    """RunTask's arguments: placement, network and the container's overrides; unset options left out."""
    kwargs: dict[str, Any] = {
        "cluster": request.cluster,
        "taskDefinition": task_definition_arn,
        "count": 1,
        "startedBy": request.started_by[:128],
    }
    if request.capacity_provider_strategy:
        kwargs["capacityProviderStrategy"] = [
            {
                key: value
                for key, value in (
                    ("capacityProvider", entry["capacity_provider"]),
                    ("weight", entry.get("weight")),
                    ("base", entry.get("base")),
                )
                if value is not None
            }
            for entry in request.capacity_provider_strategy
        ]
    elif request.launch_type:
        kwargs["launchType"] = request.launch_type
    if request.subnets:
        awsvpc: dict[str, Any] = {"subnets": list(request.subnets)}
        if request.security_groups:
            awsvpc["securityGroups"] = list(request.security_groups)
        if request.assign_public_ip is not None:
            awsvpc["assignPublicIp"] = "ENABLED" if request.assign_public_ip else "DISABLED"
        kwargs["networkConfiguration"] = {"awsvpcConfiguration": awsvpc}
    override: dict[str, Any] = {}
    if request.command:
        override["command"] = [str(part) for part in request.command]
    if request.environment:
        override["environment"] = [
            {"name": str(name), "value": str(value)} for name, value in sorted(request.environment.items())
        ]
    if override:
        kwargs["overrides"] = {"containerOverrides": [{"name": container_name, **override}]}
    if request.tags:
        kwargs["tags"] = ecs_tag_list(request.tags)
    return kwargs


def resolve_task_definition(
    ecs: Any, request: RunTaskRequest, check_mode: bool
) -> tuple[str | None, dict[str, Any], bool]:
    """(ARN, definition, registered now) of the task definition to run."""
    if request.task_definition_spec is not None:
        arn, definition, registered = register_or_reuse_task_definition(
            ecs, request.task_definition_spec, check_mode, tags=request.tags, purge_tags=False
        )
        return arn, dict(definition or {}), registered
    reference = str(request.task_definition)
    try:
        definition = describe_task_definition(ecs, reference)
    except is_boto3_error_code(NOT_FOUND_CODES) as err:
        raise EcsTaskError(
            f"Task definition {reference} was not found: give an existing ARN or family:revision, or "
            "task_definition_spec to register it"
        ) from err
    return definition["taskDefinitionArn"], definition, False


def describe_task(ecs: Any, cluster: str, task_arn: str) -> dict[str, Any]:
    found = ecs.describe_tasks(cluster=cluster, tasks=[task_arn]).get("tasks") or []
    if not found:
        raise EcsTaskError(f"Task {task_arn} disappeared from cluster {cluster} while it ran")
    return found[0]


def read_log_tail(logs: Any, group: str | None, stream: str | None, lines: int) -> list[str]:
    """The last ``lines`` messages of the stream (none when it does not exist, e.g. nothing was written)."""
    if not group or not stream or lines <= 0:
        return []
    try:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=False, limit=lines
        ).get("events", [])
    except is_boto3_error_code("ResourceNotFoundException"):
        return []
    return [str(event.get("message", "")).rstrip("\n") for event in events][-lines:]


def _container_state(task: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    containers = task.get("containers") or []
    return next((c for c in containers if c.get("name") == name), containers[0] if containers else {})


def failure_message(result: RunTaskResult, cluster: str) -> str:
    """Why the task failed, with the log tail's last lines, and what to look at next."""
    where = f"task {result.task_arn} of {result.task_definition_arn} in cluster {cluster}"
    if result.exit_code is not None:
        head = f"The one-off {where} exited with code {result.exit_code} ({result.stopped_reason})."
    else:
        head = f"The one-off {where} stopped without running to completion: {result.stopped_reason}."
    tail = "\n".join(result.log_tail[-10:])
    logs = (
        f" Its last output (log group {result.log_group}, stream {result.log_stream}):\n{tail}"
        if tail
        else f" It wrote no output to {result.log_group or 'CloudWatch Logs'}."
        if result.log_group
        else " Its container has no awslogs log configuration, so its output is not available here."
    )
    return head + logs


def _failed(message: str, result: RunTaskResult) -> EcsTaskError:
    """The error of a run that got as far as ``result``: changed once a task was started."""
    return EcsTaskError(message, changed=result.task_arn is not None, **result.as_dict())


def run_task(
    ecs: Any,
    logs: Any,
    request: RunTaskRequest,
    check_mode: bool,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> RunTaskResult:
    """Run the task (nothing in check mode), wait until it stops, and read its log tail.

    Raises :class:`EcsTaskError` (with the result in ``details``) when it cannot start, exits non-zero,
    or outlives the wait.
    """
    arn, definition, registered = resolve_task_definition(ecs, request, check_mode)
    container = pick_container(definition, request.container_name)
    result = RunTaskResult(
        task_definition_arn=arn,
        task_definition_registered=registered,
        container_name=container.get("name"),
        command=[str(p) for p in request.command] if request.command else container.get("command"),
    )
    result.log_group = log_destination(container, None)[0]
    if check_mode:
        return result
    response = ecs.run_task(**run_task_kwargs(request, str(arn), str(container.get("name"))))
    failures = response.get("failures") or []
    tasks = response.get("tasks") or []
    if failures or not tasks:
        reasons = "; ".join(
            " ".join(str(f.get(key) or "") for key in ("arn", "reason", "detail")).strip() for f in failures
        )
        raise _failed(
            f"ECS did not start the task of {arn} in cluster {request.cluster}: "
            f"{reasons or 'no task returned'}. Check the cluster's capacity providers, the subnets and "
            "security groups given",
            result,
        )
    task = tasks[0]
    result.task_arn = task["taskArn"]
    result.log_stream = log_destination(container, result.task_arn.rsplit("/", 1)[-1])[1]
    if not request.wait.wait:
        result.last_status = task.get("lastStatus")
        result.statuses = [str(result.last_status)]
        return result

    followed = follow(
        lambda: describe_task(ecs, request.cluster, str(result.task_arn)),
        lambda task: {"status": str(task.get("lastStatus"))},
        lambda task: task.get("lastStatus") == "STOPPED",
        request.wait,
        clock,
        progress,
    )
    result.last_status, result.elapsed_s = str((followed.last or {}).get("lastStatus")), followed.elapsed_s
    result.statuses = [str(step.status) for step in followed.steps]
    if followed.timed_out:
        if request.stop_on_timeout:
            ecs.stop_task(cluster=request.cluster, task=result.task_arn, reason=TIMEOUT_STOP_REASON)
        result.log_tail = read_log_tail(logs, result.log_group, result.log_stream, request.log_lines)
        action = "it was stopped" if request.stop_on_timeout else "it still runs"
        raise _failed(
            f"The one-off task {result.task_arn} did not stop within {request.wait.timeout:.0f}s "
            f"(last status {result.last_status}); {action}. Raise wait_timeout if the job needs longer, "
            "or read its log stream to see where it hangs",
            result,
        )
    final = followed.last or {}
    state = _container_state(final, result.container_name)
    result.exit_code = state.get("exitCode")
    result.stopped_reason = final.get("stoppedReason") or state.get("reason")
    result.stop_code = final.get("stopCode")
    result.log_tail = read_log_tail(logs, result.log_group, result.log_stream, request.log_lines)
    if result.exit_code != 0:
        raise _failed(failure_message(result, request.cluster), result)
    return result
