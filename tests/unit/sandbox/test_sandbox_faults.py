"""Fault rules: matching, rate and count."""

from __future__ import annotations

import random

import pytest

from sandbox.faults import FaultRule, FaultSet, RuleError

EC2 = frozenset({"ec2"})


def test_rule_defaults_and_validation() -> None:
    rule = FaultRule.from_dict({"service": "ec2", "code": "ThrottlingException"})
    assert (rule.status, rule.rate, rule.count, rule.action) == (400, 1.0, None, None)
    with pytest.raises(RuleError):
        FaultRule.from_dict({"service": "ec2"})
    with pytest.raises(RuleError):
        FaultRule.from_dict({"service": "ec2", "code": "X", "rate": 1.5})
    with pytest.raises(RuleError):
        FaultRule.from_dict({"service": "ec2", "code": "X", "status": 42})
    with pytest.raises(RuleError):
        FaultRule.from_dict({"service": "ec2", "code": "X", "rate": "often"})
    with pytest.raises(RuleError):
        FaultRule.from_dict({"service": "ec2", "code": "X", "colour": "red"})


def test_match_by_service_name_either_spelling_and_action() -> None:
    faults = FaultSet()
    faults.add(FaultRule(service="elbv2", code="Throttling", action="DescribeLoadBalancers"))
    assert faults.pick(frozenset({"elasticloadbalancing", "elbv2"}), "DescribeTargetGroups") is None
    assert faults.pick(EC2, "DescribeLoadBalancers") is None
    picked = faults.pick(frozenset({"elasticloadbalancing", "elbv2"}), "DescribeLoadBalancers")
    assert picked is not None and picked.code == "Throttling"


def test_count_limits_firing() -> None:
    faults = FaultSet()
    faults.add(FaultRule(service="ec2", code="ThrottlingException", count=2))
    fired = [faults.pick(EC2, "DescribeVpcs") is not None for _ in range(4)]
    assert fired == [True, True, False, False]
    assert faults.list()[0]["fired"] == 2


def test_rate_uses_injected_random() -> None:
    faults = FaultSet(rng=random.Random(7))
    faults.add(FaultRule(service="ec2", code="ThrottlingException", rate=0.2))
    hits = sum(faults.pick(EC2, "DescribeVpcs") is not None for _ in range(1000))
    replay = random.Random(7)
    expected = sum(replay.random() < 0.2 for _ in range(1000))
    assert hits == expected
    assert 150 < hits < 250


def test_rate_zero_never_fires_and_later_rule_still_can() -> None:
    faults = FaultSet()
    faults.add(FaultRule(service="ec2", code="Never", rate=0.0))
    faults.add(FaultRule(service="ec2", code="Always"))
    picked = faults.pick(EC2, "CreateVpc")
    assert picked is not None and picked.code == "Always"


def test_remove_and_clear() -> None:
    faults = FaultSet()
    first = faults.add(FaultRule(service="ec2", code="A"))
    faults.add(FaultRule(service="s3", code="B"))
    assert faults.remove(first.id) is True
    assert faults.remove(first.id) is False
    assert [rule["code"] for rule in faults.list()] == ["B"]
    faults.clear()
    assert faults.list() == []
