"""sandbox.aws.ecs_run_task's pure parts: overrides, commands, log streams, placement checks."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from sandbox.aws.ecs_run_task import (
    RunTaskError,
    container_override,
    effective_command,
    essential_container,
    log_destination,
    validate_placement,
)
from sandbox.dataplane.tasks import APP, task_argv

LOGS = {"logDriver": "awslogs", "options": {"awslogs-group": "/g", "awslogs-stream-prefix": "api"}}


def test_essential_container_and_its_override() -> None:
    definition = SimpleNamespace(
        container_definitions=[{"name": "side", "essential": False}, {"name": "api"}]
    )
    assert essential_container(definition)["name"] == "api"
    overrides = {
        "containerOverrides": [{"name": "side", "command": ["x"]}, {"name": "api", "command": ["y"]}]
    }
    assert container_override(overrides, "api") == {"name": "api", "command": ["y"]}
    assert container_override(None, "api") == {}


@pytest.mark.parametrize(
    ("container", "override", "expected"),
    [
        ({}, {}, None),
        ({"command": ["python", "app.py"]}, {}, ["python", "app.py"]),
        ({"command": ["python", "app.py"]}, {"command": ["python", "migrate.py"]}, ["python", "migrate.py"]),
    ],
)
def test_effective_command(container: dict[str, Any], override: dict[str, Any], expected: Any) -> None:
    assert effective_command(container, override) == expected


def test_task_argv_runs_python_commands_with_the_sandbox_interpreter() -> None:
    assert task_argv(None) == [sys.executable, str(APP)]
    assert task_argv(["python", "migrate.py"]) == [sys.executable, "migrate.py"]
    assert task_argv(["sh", "-c", "exit 3"]) == ["sh", "-c", "exit 3"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (LOGS, ("/g", "api/api/t1", False)),
        (
            {"logDriver": "awslogs", "options": {"awslogs-group": "/g", "awslogs-create-group": "true"}},
            ("/g", "t1", True),
        ),
        ({"logDriver": "json-file"}, None),
        (None, None),
    ],
)
def test_log_destination(config: Any, expected: Any) -> None:
    assert log_destination({"name": "api", "logConfiguration": config}, "t1") == expected


@pytest.mark.parametrize(
    ("mode", "launch_type", "strategy", "network", "message"),
    [
        ("awsvpc", "FARGATE", None, None, "Network Configuration must be provided"),
        ("awsvpc", "FARGATE", [{"capacityProvider": "FARGATE"}], {}, "not both"),
        ("bridge", "LAMBDA", None, None, "launchType should be one of"),
    ],
)
def test_validate_placement_refuses(
    mode: str, launch_type: str, strategy: Any, network: Any, message: str
) -> None:
    with pytest.raises(RunTaskError, match=message):
        validate_placement(SimpleNamespace(network_mode=mode), launch_type, strategy, network)


def test_validate_placement_accepts() -> None:
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    validate_placement(
        SimpleNamespace(network_mode="awsvpc"), None, [{"capacityProvider": "FARGATE"}], network
    )
