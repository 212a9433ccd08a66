"""sandbox.aws.ecs_rules: ECS's documented rules as pure functions (no moto, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.aws import ecs_rules as rules
from sandbox.aws.ecs import TRAFFIC_STEPS, Deployments

SPOT = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
ON_DEMAND = [{"capacityProvider": "FARGATE", "weight": 1}]
ASSOCIATED = ["FARGATE", "FARGATE_SPOT"]


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ([], SPOT),  # from the launch type to a strategy
        (ON_DEMAND, SPOT),  # one strategy to another
        (SPOT, []),  # back to the launch type
        (SPOT, [{"capacityProvider": "FARGATE_SPOT", "weight": 2}]),
    ],
)
def test_a_strategy_change_needs_force_new_deployment(current: list[Any], wanted: list[Any]) -> None:
    with pytest.raises(rules.RuleError) as err:
        rules.check_capacity_update({"capacityProviderStrategy": wanted}, current, ASSOCIATED)
    assert (err.value.code, err.value.message) == ("InvalidParameterException", rules.FORCE_MESSAGE)
    rules.check_capacity_update(
        {"capacityProviderStrategy": wanted, "forceNewDeployment": True}, current, ASSOCIATED
    )


@pytest.mark.parametrize(
    ("current", "params"),
    [
        (SPOT, {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]}),
        ([], {"capacityProviderStrategy": []}),
        (SPOT, {}),  # not sent: left as it is
        (SPOT, {"capacityProviderStrategy": None}),
    ],
)
def test_no_change_needs_nothing(current: list[Any], params: dict[str, Any]) -> None:
    """weight and base default to 0 (model: CapacityProviderStrategyItem), so they compare equal."""
    rules.check_capacity_update(params, current, ASSOCIATED)


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        ([{"capacityProvider": "FARGATE", "weight": 1001}], "weight must be from 0 to 1000"),
        ([{"capacityProvider": "FARGATE", "weight": 1, "base": 100001}], "base must be from 0 to 100000"),
        (
            [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}, {**SPOT[0], "base": 1}],
            "Only one capacity provider",
        ),
        (
            [{"capacityProvider": "FARGATE", "weight": 0}, {**SPOT[0], "weight": 0}],
            "weight greater than zero",
        ),
        ([{"capacityProvider": "EC2_ASG", "weight": 1}], "not associated with the cluster"),
        ([{"capacityProvider": "FARGATE", "weight": 1}] * 21, "maximum of 20"),
    ],
)
def test_capacity_strategies_outside_the_model_are_refused(strategy: list[Any], fragment: str) -> None:
    with pytest.raises(rules.RuleError, match=fragment):
        rules.check_launch_type_or_strategy({"capacityProviderStrategy": strategy}, ASSOCIATED)


def test_launch_type_or_strategy_not_both() -> None:
    with pytest.raises(rules.RuleError, match="Specifying both a launch type"):
        rules.check_launch_type_or_strategy(
            {"launchType": "FARGATE", "capacityProviderStrategy": SPOT}, ASSOCIATED
        )
    rules.check_launch_type_or_strategy({"launchType": "FARGATE"}, [])


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("a" * 255, True),
        ("a" * 256, False),
        ("my_app-1", True),
        ("my.app", False),
        ("", False),
        (None, False),
    ],
)
def test_names(name: Any, valid: bool) -> None:
    """model: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed"."""
    if valid:
        rules.check_name(name, "Service name")
        return
    with pytest.raises(rules.RuleError, match="Service name"):
        rules.check_name(name, "Service name")


def test_task_definition_names_are_client_exceptions() -> None:
    container = {"name": "app", "image": "x"}
    rules.check_task_definition({"family": "api", "containerDefinitions": [container]})
    for params in (
        {"family": "api!", "containerDefinitions": [container]},
        {"family": "api", "containerDefinitions": [{**container, "name": "my app"}]},
        {"family": "api", "containerDefinitions": [container, container]},
    ):
        with pytest.raises(rules.RuleError) as err:
            rules.check_task_definition(params)
        assert err.value.code == "ClientException"


@pytest.mark.parametrize(
    ("value", "ok"), [(3.0, True), (3.1, True), (99.9, True), (2.99, False), (10.01, False)]
)
def test_tenths(value: float, ok: bool) -> None:
    if ok:
        rules.check_percent_in_tenths(value, "stepPercent", 3.0, 100.0)
    else:
        with pytest.raises(rules.RuleError):
            rules.check_percent_in_tenths(value, "stepPercent", 3.0, 100.0)


def test_every_traffic_stage_has_its_step() -> None:
    """advance_traffic dispatches each lifecycle stage to a Deployments method of the stage's name."""
    for stage, method in TRAFFIC_STEPS.items():
        assert callable(getattr(Deployments, method)), stage
