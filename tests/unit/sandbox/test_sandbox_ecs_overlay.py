"""sandbox.aws.ecs: deployment configuration defaults and validation as AWS does it (no moto)."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import pytest

from sandbox.aws.ecs import (
    ApiError,
    Deployment,
    Deployments,
    ECSOverlay,
    ServiceRecord,
    merge_config,
    validate,
)

LB = [{"targetGroupArn": "blue", "containerName": "app", "containerPort": 3000}]
ADVANCED = {"alternateTargetGroupArn": "green", "productionListenerRule": "rule", "roleArn": "role"}


def test_defaults_and_merge() -> None:
    config = merge_config(None, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5})
    assert config["maximumPercent"] == 200 and config["minimumHealthyPercent"] == 100
    assert config["strategy"] == "BLUE_GREEN" and config["bakeTimeInMinutes"] == 5
    assert merge_config(config, {"bakeTimeInMinutes": 1})["strategy"] == "BLUE_GREEN"


def test_traffic_strategies_need_advanced_configuration() -> None:
    blue_green = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}
    with pytest.raises(ApiError, match="advancedConfiguration"):
        validate(merge_config(None, blue_green), LB)
    validate(merge_config(None, blue_green), [{**LB[0], "advancedConfiguration": ADVANCED}])
    validate(merge_config(None, blue_green), [])  # no load balancer: nothing to shift
    validate(merge_config(None, {"strategy": "ROLLING"}), LB)


@pytest.mark.parametrize(
    "config",
    [
        {"strategy": "SIDEWAYS"},
        {"strategy": "BLUE_GREEN"},  # bakeTimeInMinutes is required for BLUE_GREEN
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 0}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.9}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 10.05}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 100.1}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 10, "stepBakeTimeInMinutes": 1441}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.05}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 100.1}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 5, "canaryBakeTimeInMinutes": -1}},
        {"strategy": "ROLLING", "linearConfiguration": {"stepPercent": 10}},
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441},
        {"alarms": {"enable": True, "alarmNames": []}},
        {"bakeTimeInMinutes": -1},
        {"minimumHealthyPercent": 101},
        {"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}]},
        {"lifecycleHooks": [{"lifecycleStages": ["POST_SCALE_UP"]}]},  # AWS_LAMBDA needs hookTargetArn
        {"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": []}]},
        {
            "deploymentCircuitBreaker": {
                "enable": True,
                "rollback": True,
                "thresholdConfiguration": {"type": "X"},
            }
        },
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "earlySuccessCriteria": {"enable": True}},
    ],
)
def test_invalid_configurations(config: dict) -> None:
    """Each outside what botocore's ECS model documents (the rules: sandbox/aws/ecs_rules.py)."""
    with pytest.raises(ApiError) as err:
        validate(merge_config(None, config), [], dict(config))
    assert err.value.code == "InvalidParameterException"


@pytest.mark.parametrize(
    "config",
    [
        {"strategy": "LINEAR"},  # stepPercent defaults to 10.0
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 3.0, "stepBakeTimeInMinutes": 0}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 33.3, "stepBakeTimeInMinutes": 1440}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 100.0}},
        {
            "strategy": "CANARY",
            "canaryConfiguration": {"canaryPercent": 0.1, "canaryBakeTimeInMinutes": 1440},
        },
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 100.0, "canaryBakeTimeInMinutes": 0}},
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1440},
        {"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]},
        {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 5,
        },
    ],
)
def test_edge_configurations_are_accepted(config: dict) -> None:
    validate(merge_config(None, config), [], dict(config))


@pytest.mark.parametrize(
    ("breaker", "desired", "threshold"),
    [
        ({}, 2, 3),  # BOUNDED_PERCENT 50 of 2, raised to the minimum of 3
        ({}, 10, 5),
        ({}, 1000, 200),  # and capped at 200
        ({"thresholdConfiguration": {"type": "COUNT", "value": 7}}, 100, 7),
        ({"thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 100}}, 2, 2),
        ({"thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 100}}, 500, 200),
    ],
)
def test_circuit_breaker_threshold(breaker: dict, desired: int, threshold: int) -> None:
    """model: ThresholdConfiguration (type and value, default BOUNDED_PERCENT 50); AWS's guide
    deployment-circuit-breaker.html (the bounded percentage lies between 3 and 200)."""
    record = ServiceRecord("123456789012", "eu-west-2", None, {})
    config = merge_config(None, {"deploymentCircuitBreaker": {"enable": True, "rollback": True, **breaker}})
    assert Deployment(record, None, [], config, desired).threshold() == threshold


def test_a_healthy_task_resets_the_breaker_count_unless_told_not_to() -> None:
    record = ServiceRecord("123456789012", "eu-west-2", None, {})
    for reset, left in ((None, 0), (False, 2)):
        breaker = {"enable": True, "rollback": True}
        if reset is not None:
            breaker["resetOnHealthyTask"] = reset
        deployment = Deployment(
            record, None, [], merge_config(None, {"deploymentCircuitBreaker": breaker}), 2
        )
        deployment.task_failed()
        deployment.task_failed()
        deployment.task_healthy()
        assert (deployment.breaker_failures, deployment.failures) == (left, 2)


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
