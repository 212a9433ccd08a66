"""sandbox.aws.ecs: deployment configuration defaults and validation as AWS does it (no moto)."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import pytest

from sandbox.aws.ecs import ApiError, Deployments, ECSOverlay, merge_config, validate

LB = [{"targetGroupArn": "blue", "containerName": "app", "containerPort": 3000}]
ADVANCED = {"alternateTargetGroupArn": "green", "productionListenerRule": "rule", "roleArn": "role"}


def test_defaults_and_merge() -> None:
    config = merge_config(None, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5})
    assert config["maximumPercent"] == 200 and config["minimumHealthyPercent"] == 100
    assert config["strategy"] == "BLUE_GREEN" and config["bakeTimeInMinutes"] == 5
    assert merge_config(config, {"bakeTimeInMinutes": 1})["strategy"] == "BLUE_GREEN"


def test_traffic_strategies_need_advanced_configuration() -> None:
    with pytest.raises(ApiError, match="advancedConfiguration"):
        validate(merge_config(None, {"strategy": "BLUE_GREEN"}), LB)
    validate(merge_config(None, {"strategy": "BLUE_GREEN"}), [{**LB[0], "advancedConfiguration": ADVANCED}])
    validate(merge_config(None, {"strategy": "BLUE_GREEN"}), [])  # no load balancer: nothing to shift
    validate(merge_config(None, {"strategy": "ROLLING"}), LB)


@pytest.mark.parametrize(
    "config",
    [
        {"strategy": "SIDEWAYS"},
        {"strategy": "LINEAR"},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 0}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 100}},
        {"alarms": {"enable": True, "alarmNames": []}},
        {"bakeTimeInMinutes": -1},
    ],
)
def test_invalid_configurations(config: dict) -> None:
    with pytest.raises(ApiError) as err:
        validate(merge_config(None, config), [])
    assert err.value.code == "InvalidParameterException"


@pytest.mark.parametrize(
    ("target", "locked"),
    [
        ("AmazonEC2ContainerServiceV20141113.DescribeTasks", True),
        ("AmazonEC2ContainerServiceV20141113.DescribeServices", True),
        ("AmazonEC2.DescribeSubnets", False),
        ("", False),
    ],
)
def test_ecs_requests_reach_moto_under_the_engines_lock(target: str, locked: bool) -> None:
    """The reconciler changes moto's ECS model under that lock: ECS reads must not race it."""
    engine = Deployments()
    seen = []

    def moto_app(environ: dict, start_response: Any) -> list[bytes]:
        seen.append(engine.lock._is_owned())  # type: ignore[attr-defined]
        start_response("200 OK", [])
        return [b"{}"]

    environ = {"HTTP_X_AMZ_TARGET": target, "wsgi.input": BytesIO(b"{}")}
    assert b"".join(ECSOverlay(moto_app, engine)(environ, lambda *args: None)) == b"{}"
    assert seen == [locked]


@pytest.mark.parametrize(
    ("sort", "order"), [(None, ["web:2", "web:9", "web:10"]), ("DESC", ["web:10", "web:9", "web:2"])]
)
def test_task_definitions_are_listed_in_the_order_aws_sorts_them(sort: str | None, order: list) -> None:
    """moto lists in registration order and ignores ``sort``: with DESC the newest revision comes first."""
    prefix = "arn:aws:ecs:eu-west-2:123456789012:task-definition/"
    registered = [prefix + name for name in ("web:10", "web:2", "web:9")]

    def moto_app(environ: dict, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [json.dumps({"taskDefinitionArns": registered}).encode()]

    body = json.dumps({"familyPrefix": "web", **({"sort": sort} if sort else {})}).encode()
    environ = {
        "HTTP_X_AMZ_TARGET": "AmazonEC2ContainerServiceV20141113.ListTaskDefinitions",
        "wsgi.input": BytesIO(body),
    }
    listed = json.loads(b"".join(ECSOverlay(moto_app, Deployments())(environ, lambda *args: None)))
    assert listed["taskDefinitionArns"] == [prefix + name for name in order]
