"""Cross-field rules of the compute settings: each bad input names its variable and what is valid."""

from __future__ import annotations

import dataclasses

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._compute_plan import (
    FARGATE_MEMORY,
    ComputeInputs,
    ComputePlanError,
    plan_compute,
    validate_inputs,
)

HOBBY = ComputeInputs(
    project="macroai",
    environment="production",
    task_cpu=256,
    task_memory=512,
    desired_count=1,
    task_az_count=1,
    autoscaling_min=1,
    autoscaling_max=1,
)
ENTERPRISE = dataclasses.replace(
    HOBBY,
    task_cpu=1024,
    task_memory=2048,
    desired_count=3,
    task_az_count=3,
    network_az_count=3,
    autoscaling_min=2,
    autoscaling_max=10,
    alarms_enabled=True,
    deployment_strategy="LINEAR",
    linear_step_percent=25,
    linear_step_bake_minutes=1,
)


@pytest.mark.parametrize("inputs", [HOBBY, ENTERPRISE], ids=["hobby", "enterprise"])
def test_the_scales_settings_are_valid(inputs: ComputeInputs) -> None:
    assert validate_inputs(inputs) == []


@pytest.mark.parametrize(
    ("cpu", "memory"), [(c, m) for c, allowed in FARGATE_MEMORY.items() for m in allowed]
)
def test_every_fargate_pair_is_accepted(cpu: int, memory: int) -> None:
    assert validate_inputs(dataclasses.replace(HOBBY, task_cpu=cpu, task_memory=memory)) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"task_cpu": 256, "task_memory": 4096}, ("compute_task_memory=4096", "512, 1024, 2048")),
        (
            {"task_cpu": 1024, "task_memory": 1024},
            ("compute_task_memory=1024", "2048 to 8192 in steps of 1024"),
        ),
        ({"task_cpu": 300}, ("compute_task_cpu=300", "256, 512, 1024")),
        ({"health_check_path": "health"}, ("compute_health_check_path='health'", "leading slash")),
        ({"health_check_path": "/he alth"}, ("compute_health_check_path", "1024 characters")),
        (
            {"health_check_timeout_seconds": 15},
            ("compute_health_check_timeout_seconds=15", "compute_health_check_interval_seconds=15"),
        ),
        ({"healthy_threshold": 1}, ("compute_healthy_threshold=1", "2 to 10")),
        ({"deregistration_delay_seconds": 4000}, ("compute_deregistration_delay_seconds", "0 to 3600")),
        ({"container_port": 8080}, ("compute_container_port=8080", "matches no port mapping", "3000")),
        (
            {"container_port": 8080, "container_ports": [3000, 8080]},
            ("compute_container_port=8080", "networking_app_port=3000"),
        ),
        ({"container_ports": [3000, 3000]}, ("compute_container_ports", "twice")),
        ({"test_listener_port": 80}, ("compute_test_listener_port=80", "other than 80 and 443")),
        (
            {"desired_count": 11, "autoscaling_max": 10},
            ("compute_desired_count=11", "compute_autoscaling_max (10)"),
        ),
        (
            {"autoscaling_min": 3, "autoscaling_max": 2},
            ("compute_autoscaling_min=3", "compute_autoscaling_max=2"),
        ),
        ({"task_az_count": 3}, ("compute_task_az_count=3", "1 to 2", "networking_az_count=2")),
        ({"autoscaling_target_cpu": 100}, ("compute_autoscaling_target_cpu", "10 to 95")),
        (
            {"deployment_strategy": "ROLLING"},
            ("compute_deployment_strategy='ROLLING'", "BLUE_GREEN, LINEAR, CANARY"),
        ),
        ({"deployment_strategy": "LINEAR"}, ("compute_linear_step_percent=None", "3 to 100")),
        (
            {"deployment_strategy": "CANARY", "canary_bake_minutes": 2},
            ("compute_canary_percent", "0.1 to 100"),
        ),
        ({"bake_time_minutes": -1}, ("compute_bake_time_minutes=-1", "0 to 1440")),
        ({"image_tag": "-bad"}, ("compute_image_tag='-bad'", "valid image tag")),
        (
            {"container_environment": {"DB_PASSWORD": "x"}},
            ("compute_environment.DB_PASSWORD", "compute_secrets"),
        ),
        (
            {"container_environment": {"DATABASE_URL": "x"}},
            ("compute_environment.DATABASE_URL", "by reference"),
        ),
        ({"container_environment": {"1BAD": "x"}}, ("compute_environment.1BAD", "variable name")),
        ({"secrets": [{"name": "DATABASE_URL"}]}, ("compute_secrets[0]", "exactly one of parameter")),
        (
            {"secrets": [{"name": "A", "parameter": "/other/app/key"}]},
            ("compute_secrets[0].parameter='/other/app/key'", "/macroai/production/*"),
        ),
        (
            {"secrets": [{"name": "A", "secret": "arn:aws:secretsmanager:eu-west-2:1:secret:x"}]},
            ("compute_secrets[0].secret", "relative to this app's prefix"),
        ),
        (
            {
                "secrets": [{"name": "NODE_ENV", "secret": "x"}],
                "container_environment": {"NODE_ENV": "production"},
            },
            ("compute_secrets[0].name='NODE_ENV'", "set twice"),
        ),
        (
            {"secrets": [{"name": "A", "secret": "x", "value": "s3cr3t"}]},
            ("compute_secrets[0]", "unknown keys"),
        ),
        ({"certificate_arn": "not-an-arn"}, ("compute_certificate_arn='not-an-arn'", "ACM certificate ARN")),
        ({"alarm_cpu_percent": 150}, ("compute_alarm_cpu_percent=150", "1 to 100")),
        ({"environment": "a-very-long-environment-name"}, ("deploy_environment", "32 characters")),
    ],
)
def test_bad_settings_name_the_variable_and_what_is_valid(changes: dict, expected: tuple[str, ...]) -> None:
    errors = validate_inputs(dataclasses.replace(HOBBY, **changes))
    message = "; ".join(errors)
    assert errors, changes
    for fragment in expected:
        assert fragment in message, message


def test_several_problems_are_all_reported() -> None:
    inputs = dataclasses.replace(HOBBY, task_memory=4096, health_check_path="health", desired_count=2)
    with pytest.raises(ComputePlanError) as raised:
        plan_compute(inputs)
    assert [error.split("=")[0] for error in raised.value.errors] == [
        "compute_task_memory",
        "compute_health_check_path",
        "compute_desired_count",
    ]


def test_plan_names_and_derived_settings() -> None:
    secrets = [
        {"name": "DATABASE_URL", "secret": "database-url", "json_key": "url"},
        {"name": "REDIS_URL", "parameter": "redis-url"},
    ]
    plan = plan_compute(
        dataclasses.replace(
            ENTERPRISE,
            secrets=secrets,
            fargate_spot=True,
            certificate_arn="arn:aws:acm:eu-west-2:123456789012:certificate/abc-123",
            container_environment={"NODE_ENV": "production", "LOG_LEVEL": "info"},
        )
    )
    assert plan["cluster"] == "macroai-production" and plan["service"] == "macroai-production-api"
    assert plan["target_groups"] == {"blue": "macroai-production-blue", "green": "macroai-production-green"}
    assert plan["listeners"]["production"] == {"protocol": "HTTPS", "port": 443}
    assert plan["listeners"]["http_redirect"] is True
    assert plan["capacity_provider_strategy"] == [{"capacity_provider": "FARGATE_SPOT", "weight": 1}]
    assert plan["autoscaling"] == {"enabled": True, "min": 2, "max": 10, "target_cpu": 70}
    assert set(plan["alarms"]) == {
        "cpu-high",
        "memory-high",
        "response-time-high",
        "target-5xx",
        "no-healthy-hosts",
    }
    assert plan["environment"] == [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "NODE_ENV", "value": "production"},
    ]
    assert plan["secrets"] == [
        {
            "name": "DATABASE_URL",
            "source": "secretsmanager",
            "path": "macroai/production/database-url",
            "json_key": "url",
        },
        {"name": "REDIS_URL", "source": "ssm", "path": "/macroai/production/redis-url", "json_key": ""},
    ]
    assert plan["port_mappings"] == [{"containerPort": 3000, "protocol": "tcp"}]


def test_hobby_plan_is_http_on_fargate_without_autoscaling_or_alarms() -> None:
    plan = plan_compute(HOBBY)
    assert plan["listeners"]["production"] == {"protocol": "HTTP", "port": 80}
    assert plan["listeners"]["http_redirect"] is False
    assert plan["capacity_provider_strategy"] == []
    assert plan["autoscaling"]["enabled"] is False
    assert plan["alarms"] == {}
