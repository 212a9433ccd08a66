"""ecs_run_task's logic against in-memory fakes of the ECS and CloudWatch Logs clients: no network."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._ecs import (
    Clock,
    TaskDefinitionSpec,
    WaitSettings,
)
from ansible_collections.macroai.deploy.plugins.module_utils._ecs_task import (
    TIMEOUT_STOP_REASON,
    EcsTaskError,
    RunTaskRequest,
    log_destination,
    pick_container,
    run_task,
    run_task_kwargs,
)
from botocore.exceptions import ClientError

ACCOUNT = "arn:aws:ecs:eu-west-2:123456789012"
LOGS = {"logDriver": "awslogs", "options": {"awslogs-group": "/app/api", "awslogs-stream-prefix": "api"}}
CONTAINER = {"name": "api", "image": "app/api:v2", "logConfiguration": LOGS}
SPEC = TaskDefinitionSpec(family="app-api", container_definitions=[CONTAINER], cpu="256", memory="512")


class FakeClock(Clock):
    def __init__(self) -> None:
        object.__setattr__(self, "t", 0.0)
        start = datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc)  # noqa: UP017 (as the modules)
        super().__init__(
            monotonic=lambda: self.t,
            sleep=lambda s: object.__setattr__(self, "t", self.t + s),
            now=lambda: start + datetime.timedelta(seconds=self.t),
        )


class FakeAws:
    """ECS and CloudWatch Logs: a task goes through ``statuses`` (one per DescribeTasks), then exits."""

    def __init__(self, exit_code: int | None = 0, statuses: tuple[str, ...] = ("RUNNING", "STOPPED")) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.task_definitions: dict[str, dict[str, Any]] = {}
        self.exit_code = exit_code
        self.statuses = list(statuses)
        self.lines = ["applying 0001_x.sql (1/1)", "migration 0001_x.sql failed: boom"]
        self.failures: list[dict[str, str]] = []

    def register_task_definition(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("register_task_definition", kwargs))
        revision = 1 + len(self.task_definitions)
        arn = f"{ACCOUNT}:task-definition/{kwargs['family']}:{revision}"
        registered = {**copy.deepcopy(kwargs), "taskDefinitionArn": arn, "revision": revision}
        registered.pop("tags", None)
        self.task_definitions[arn] = registered
        return {"taskDefinition": copy.deepcopy(registered)}

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        for arn, td in self.task_definitions.items():
            if taskDefinition in (arn, f"{td['family']}:{td['revision']}"):
                return {"taskDefinition": copy.deepcopy(td)}
        raise ClientError({"Error": {"Code": "ClientException", "Message": "no"}}, "DescribeTaskDefinition")

    def list_task_definitions(self, familyPrefix: str, **kwargs: Any) -> dict[str, Any]:
        return {"taskDefinitionArns": sorted(self.task_definitions, reverse=True)}

    def list_tags_for_resource(self, resourceArn: str) -> dict[str, Any]:
        return {"tags": []}

    def tag_resource(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("tag_resource", kwargs))
        return {}

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("run_task", kwargs))
        if self.failures:
            return {"tasks": [], "failures": self.failures}
        return {
            "tasks": [{"taskArn": f"{ACCOUNT}:task/c/abc123", "lastStatus": "PROVISIONING"}],
            "failures": [],
        }

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        task: dict[str, Any] = {"taskArn": tasks[0], "lastStatus": status, "containers": [{"name": "api"}]}
        if status == "STOPPED":
            task.update(
                stoppedReason="Essential container in task exited", stopCode="EssentialContainerExited"
            )
            task["containers"][0]["exitCode"] = self.exit_code
        return {"tasks": [task]}

    def stop_task(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("stop_task", kwargs))
        return {}

    def get_log_events(self, logGroupName: str, logStreamName: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_log_events", {"group": logGroupName, "stream": logStreamName, **kwargs}))
        return {"events": [{"message": line} for line in self.lines]}

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def request(**overrides: Any) -> RunTaskRequest:
    fields: dict[str, Any] = {
        "cluster": "c",
        "task_definition_spec": SPEC,
        "command": ["python", "migrate.py"],
        "subnets": ["subnet-1"],
        "security_groups": ["sg-1"],
        "assign_public_ip": True,
        "launch_type": "FARGATE",
        "wait": WaitSettings(timeout=30, interval=1),
    }
    fields.update(overrides)
    return RunTaskRequest(**fields)


def test_run_task_kwargs_carry_placement_network_and_overrides() -> None:
    kwargs = run_task_kwargs(request(environment={"B": 2, "A": "x"}, tags={"app": "shop"}), "arn:td", "api")
    assert kwargs == {
        "cluster": "c",
        "taskDefinition": "arn:td",
        "count": 1,
        "startedBy": "ansible-ecs_run_task",
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-1"],
                "securityGroups": ["sg-1"],
                "assignPublicIp": "ENABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {
                    "name": "api",
                    "command": ["python", "migrate.py"],
                    "environment": [{"name": "A", "value": "x"}, {"name": "B", "value": "2"}],
                }
            ]
        },
        "tags": [{"key": "app", "value": "shop"}],
    }


def test_run_task_kwargs_leave_unset_options_out() -> None:
    strategy = [{"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": None}]
    kwargs = run_task_kwargs(
        request(command=None, subnets=None, launch_type=None, capacity_provider_strategy=strategy),
        "td",
        "api",
    )
    assert kwargs == {
        "cluster": "c",
        "taskDefinition": "td",
        "count": 1,
        "startedBy": "ansible-ecs_run_task",
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
    }


@pytest.mark.parametrize(
    ("config", "task_id", "expected"),
    [
        (LOGS, "t1", ("/app/api", "api/api/t1")),
        ({"logDriver": "awslogs", "options": {"awslogs-group": "/g"}}, "t1", ("/g", "t1")),
        (LOGS, None, ("/app/api", None)),
        ({"logDriver": "json-file"}, "t1", (None, None)),
        (None, "t1", (None, None)),
    ],
)
def test_log_destination(config: Any, task_id: str | None, expected: tuple[Any, Any]) -> None:
    assert log_destination({"name": "api", "logConfiguration": config}, task_id) == expected


def test_pick_container() -> None:
    definition = {"containerDefinitions": [{"name": "sidecar", "essential": False}, {"name": "api"}]}
    assert pick_container(definition, None)["name"] == "api"
    assert pick_container(definition, "sidecar")["name"] == "sidecar"
    with pytest.raises(EcsTaskError, match="container_name web is not a container.*sidecar, api"):
        pick_container(definition, "web")


def test_check_mode_registers_and_runs_nothing() -> None:
    aws = FakeAws()
    result = run_task(aws, aws, request(), check_mode=True, clock=FakeClock())
    assert (
        result.task_definition_registered and result.task_definition_arn is None and result.task_arn is None
    )
    assert result.log_group == "/app/api" and result.command == ["python", "migrate.py"]
    assert "register_task_definition" not in aws.names() and "run_task" not in aws.names()


def test_a_successful_run_registers_once_then_reuses() -> None:
    aws = FakeAws()
    first = run_task(aws, aws, request(), check_mode=False, clock=FakeClock())
    assert first.exit_code == 0 and first.task_definition_registered
    assert first.statuses == ["RUNNING", "STOPPED"]
    assert first.log_stream == "api/api/abc123" and first.log_tail == aws.lines
    aws.statuses = ["STOPPED"]
    second = run_task(aws, aws, request(), check_mode=False, clock=FakeClock())
    assert not second.task_definition_registered
    assert second.task_definition_arn == first.task_definition_arn
    assert aws.names().count("register_task_definition") == 1


def test_a_reference_runs_that_revision_and_an_unknown_one_says_what_to_do() -> None:
    aws = FakeAws()
    registered = aws.register_task_definition(**SPEC.register_kwargs())["taskDefinition"]
    result = run_task(
        aws, aws, request(task_definition_spec=None, task_definition="app-api:1"), False, FakeClock()
    )
    assert result.task_definition_arn == registered["taskDefinitionArn"]
    with pytest.raises(EcsTaskError, match="app-api:7 was not found"):
        run_task(
            aws, aws, request(task_definition_spec=None, task_definition="app-api:7"), False, FakeClock()
        )


def test_a_non_zero_exit_fails_with_code_reason_and_log_tail() -> None:
    aws = FakeAws(exit_code=1)
    with pytest.raises(EcsTaskError) as caught:
        run_task(aws, aws, request(), check_mode=False, clock=FakeClock())
    message = caught.value.message
    assert "exited with code 1 (Essential container in task exited)" in message
    assert "log group /app/api, stream api/api/abc123" in message
    assert message.endswith("migration 0001_x.sql failed: boom")
    assert caught.value.details["exit_code"] == 1 and caught.value.details["log_tail"] == aws.lines


def test_a_task_that_never_ran_reports_why() -> None:
    aws = FakeAws(exit_code=None, statuses=("STOPPED",))
    aws.lines = []
    with pytest.raises(EcsTaskError, match="stopped without running to completion.*wrote no output"):
        run_task(aws, aws, request(), check_mode=False, clock=FakeClock())


def test_a_task_outliving_the_wait_is_stopped() -> None:
    aws = FakeAws(statuses=("RUNNING",))
    clock = FakeClock()
    with pytest.raises(EcsTaskError, match="did not stop within 30s .*it was stopped"):
        run_task(aws, aws, request(), check_mode=False, clock=clock)
    assert (
        "stop_task",
        {"cluster": "c", "task": f"{ACCOUNT}:task/c/abc123", "reason": TIMEOUT_STOP_REASON},
    ) in (aws.calls)
    assert clock.t == 30


def test_run_task_failures_fail_before_any_wait() -> None:
    aws = FakeAws()
    aws.failures = [{"arn": "arn:cp", "reason": "RESOURCE:MEMORY"}]
    with pytest.raises(EcsTaskError, match="did not start the task .*arn:cp RESOURCE:MEMORY"):
        run_task(aws, aws, request(), check_mode=False, clock=FakeClock())
