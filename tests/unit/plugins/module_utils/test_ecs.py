"""ecs_bluegreen's logic against in-memory fakes of the ECS and ELBv2 clients: no network."""

from __future__ import annotations

import copy
import dataclasses
import datetime
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._ecs import (
    MASK,
    Clock,
    DeploymentSettings,
    EcsReleaseError,
    LoadBalancing,
    ReleaseRequest,
    ServiceSpec,
    TaskDefinitionSpec,
    WaitSettings,
    build_deployment_configuration,
    capacity_provider_update,
    check_rule_targets,
    deployment_configuration_matches,
    find_rule,
    live_target_group,
    load_balancers_match,
    matches,
    release,
    roll_back,
    summarise_task_definition,
    task_definition_matches,
    wait_for_deployment,
)
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitTimeout, wait_until
from botocore.exceptions import ClientError

ACCOUNT = "arn:aws:ecs:eu-west-2:123456789012"
BLUE = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/blue/1"
GREEN = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/green/2"
OTHER = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/other/3"
PROD_LISTENER = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:listener/app/lb/1/80"
TEST_LISTENER = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:listener/app/lb/1/8080"
ROLE = "arn:aws:iam::123456789012:role/ecs-infrastructure"
WRITES = {
    "register_task_definition",
    "create_service",
    "update_service",
    "stop_service_deployment",
    "create_rule",
    "modify_rule",
    "tag_resource",
    "untag_resource",
}
CLUSTER_ARN = f"{ACCOUNT}:cluster/c"
TAGS = {
    "Project": "macroai",
    "Environment": "production",
    "Scale": "hobby",
    "Component": "compute",
    "ManagedBy": "macroai.deploy",
}


def container(image: str = "app:1", **extra: Any) -> dict[str, Any]:
    return {
        "name": "api",
        "image": image,
        "portMappings": [{"containerPort": 3000}],
        "environment": [{"name": "NODE_ENV", "value": "production"}, {"name": "PORT", "value": 3000}],
        **extra,
    }


def spec(image: str = "app:1", **extra: Any) -> TaskDefinitionSpec:
    return TaskDefinitionSpec(
        family="api", container_definitions=[container(image, **extra)], cpu="256", memory="512"
    )


def request(image: str = "app:1", **overrides: Any) -> ReleaseRequest:
    fields: dict[str, Any] = {
        "service": ServiceSpec(cluster="c", service="api", subnets=["subnet-1"], security_groups=["sg-1"]),
        "task_definition": spec(image),
        "load_balancing": LoadBalancing(
            production_listener_arn=PROD_LISTENER,
            test_listener_arn=TEST_LISTENER,
            blue_target_group_arn=BLUE,
            green_target_group_arn=GREEN,
            container_port=3000,
            infrastructure_role_arn=ROLE,
        ),
        "deployment": DeploymentSettings(bake_time_minutes=5),
        "wait": WaitSettings(wait=True, timeout=60, interval=5),
    }
    fields.update(overrides)
    return ReleaseRequest(**fields)


class FakeClock(Clock):
    def __init__(self) -> None:
        self.t = 0.0
        start = datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc)  # noqa: UP017 (as the modules)
        super().__init__(
            monotonic=lambda: self.t,
            sleep=self._sleep,
            now=lambda: start + datetime.timedelta(seconds=self.t),
        )

    def _sleep(self, seconds: float) -> None:
        object.__setattr__(self, "t", self.t + seconds)

    def __setattr__(self, name: str, value: Any) -> None:  # the dataclass is frozen; the fake's time is not
        object.__setattr__(self, name, value)


class FakeAws:
    """Just enough ECS and ELBv2: registered revisions get AWS's defaults; deployments follow a script."""

    def __init__(self, script: list[tuple[str | None, str]] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.task_definitions: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {
            PROD_LISTENER: [self._default_rule(1)],
            TEST_LISTENER: [self._default_rule(2)],
        }
        self.deployments: dict[str, list[dict[str, Any]]] = {}
        self.script = script or [
            ("SCALE_UP", "IN_PROGRESS"),
            ("BAKE_TIME", "IN_PROGRESS"),
            ("CLEAN_UP", "SUCCESSFUL"),
        ]
        self.revision_of: dict[str, str] = {}
        self.tags: dict[str, dict[str, str]] = {CLUSTER_ARN: {}}

    @staticmethod
    def _default_rule(n: int) -> dict[str, Any]:
        return {
            "RuleArn": f"rule/default/{n}",
            "Priority": "default",
            "IsDefault": True,
            "Actions": [{"Type": "fixed-response"}],
        }

    def writes(self) -> list[str]:
        return [name for name, _ in self.calls if name in WRITES]

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, copy.deepcopy(kwargs)))

    # ECS
    def register_task_definition(self, **kwargs: Any) -> dict[str, Any]:
        self._record("register_task_definition", kwargs)
        revision = 1 + sum(1 for td in self.task_definitions.values() if td["family"] == kwargs["family"])
        arn = f"{ACCOUNT}:task-definition/{kwargs['family']}:{revision}"
        registered = copy.deepcopy(kwargs)
        for c in registered["containerDefinitions"]:
            c.setdefault("essential", True)
            c.setdefault("cpu", 0)
            c.setdefault("mountPoints", [])
            for mapping in c.get("portMappings", []):
                mapping.setdefault("protocol", "tcp")
                mapping.setdefault("hostPort", mapping["containerPort"])
        registered.update(
            taskDefinitionArn=arn, revision=revision, status="ACTIVE", compatibilities=["EC2", "FARGATE"]
        )
        registered.pop("tags", None)  # returned by DescribeTaskDefinition only with include=TAGS
        self.task_definitions[arn] = registered
        self.tags[arn] = {t["key"]: t["value"] for t in kwargs.get("tags", [])}
        return {"taskDefinition": copy.deepcopy(registered)}

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        self._record("describe_task_definition", {"taskDefinition": taskDefinition})
        for arn, td in self.task_definitions.items():
            if taskDefinition in (arn, f"{td['family']}:{td['revision']}"):
                return {"taskDefinition": copy.deepcopy(td)}
        raise ClientError(
            {"Error": {"Code": "ClientException", "Message": "Unable to describe task definition."}},
            "DescribeTaskDefinition",
        )

    def list_task_definitions(self, familyPrefix: str, **kwargs: Any) -> dict[str, Any]:
        arns = [arn for arn, td in self.task_definitions.items() if td["family"].startswith(familyPrefix)]
        return {
            "taskDefinitionArns": sorted(
                arns, key=lambda a: self.task_definitions[a]["revision"], reverse=True
            )
        }

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        found = [copy.deepcopy(self.services[name]) for name in services if name in self.services]
        return {"services": found}

    def _start_deployment(self, service: dict[str, Any], source: str | None) -> None:
        arn = f"{ACCOUNT}:service-deployment/c/api/d{len(self.deployments) + 1}"
        target_revision = f"{ACCOUNT}:service-revision/c/api/r{len(self.revision_of) + 1}"
        self.revision_of[target_revision] = service["taskDefinition"]
        sources = [{"arn": r} for r, td in self.revision_of.items() if td == source][-1:]
        self.deployments[arn] = [
            {
                "serviceDeploymentArn": arn,
                "status": status,
                "lifecycleStage": stage,
                "sourceServiceRevisions": sources,
            }
            for stage, status in self.script
        ]
        service["currentServiceDeployment"] = arn

    def create_service(self, **kwargs: Any) -> dict[str, Any]:
        self._record("create_service", kwargs)
        arn = f"{ACCOUNT}:service/c/{kwargs['serviceName']}"
        service = {
            "serviceArn": arn,
            "serviceName": kwargs["serviceName"],
            "status": "ACTIVE",
            "taskDefinition": kwargs["taskDefinition"],
            "desiredCount": kwargs["desiredCount"],
            "deploymentConfiguration": kwargs["deploymentConfiguration"],
            "loadBalancers": kwargs["loadBalancers"],
            "networkConfiguration": kwargs["networkConfiguration"],
            "deploymentController": kwargs["deploymentController"],
            "capacityProviderStrategy": kwargs.get("capacityProviderStrategy") or [],
        }
        if "launchType" in kwargs:
            service["launchType"] = kwargs["launchType"]
        self._start_deployment(service, None)
        self.services[kwargs["serviceName"]] = service
        self.tags[arn] = {t["key"]: t["value"] for t in kwargs.get("tags", [])}
        return {"service": copy.deepcopy(service)}

    def update_service(self, cluster: str, service: str, **kwargs: Any) -> dict[str, Any]:
        self._record("update_service", kwargs)
        if "capacityProviderStrategy" in kwargs and not kwargs.get("forceNewDeployment"):
            # AWS: "Changing the capacity provider strategy of a service requires a new deployment".
            raise ClientError(
                {"Error": {"Code": "InvalidParameterException", "Message": "forceNewDeployment required"}},
                "UpdateService",
            )
        current = self.services[service]
        source = current["taskDefinition"]
        force = kwargs.pop("forceNewDeployment", False)
        current.update(copy.deepcopy(kwargs))
        if force or {"taskDefinition", "loadBalancers", "networkConfiguration"} & set(kwargs):
            self._start_deployment(current, source)
        return {"service": copy.deepcopy(current)}

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        arn = serviceDeploymentArns[0]
        sequence = self.deployments[arn]
        value = sequence.pop(0) if len(sequence) > 1 else sequence[0]
        return {"serviceDeployments": [copy.deepcopy(value)]}

    def list_service_deployments(self, **kwargs: Any) -> dict[str, Any]:
        return {"serviceDeployments": []}

    def stop_service_deployment(self, serviceDeploymentArn: str, stopType: str) -> dict[str, Any]:
        self._record("stop_service_deployment", {"arn": serviceDeploymentArn, "stopType": stopType})
        base = self.deployments[serviceDeploymentArn][0]
        self.deployments[serviceDeploymentArn] = [
            {**base, "status": "ROLLBACK_IN_PROGRESS"},
            {**base, "status": "ROLLBACK_SUCCESSFUL", "rollback": {"reason": "stopped by operator"}},
        ]
        service = next(iter(self.services.values()))
        revisions = base.get("sourceServiceRevisions") or []
        if revisions:
            service["taskDefinition"] = self.revision_of[revisions[0]["arn"]]
        return {"serviceDeploymentArn": serviceDeploymentArn}

    def describe_service_revisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:
        return {
            "serviceRevisions": [{"taskDefinition": self.revision_of[arn]} for arn in serviceRevisionArns]
        }

    def describe_clusters(self, clusters: list[str]) -> dict[str, Any]:
        found = [{"clusterArn": CLUSTER_ARN, "status": "ACTIVE"}] if clusters == ["c"] else []
        return {"clusters": found, "failures": [] if found else [{"reason": "MISSING"}]}

    def list_tags_for_resource(self, resourceArn: str) -> dict[str, Any]:
        self._record("list_tags_for_resource", {"resourceArn": resourceArn})
        return {"tags": [{"key": k, "value": v} for k, v in self.tags.get(resourceArn, {}).items()]}

    def tag_resource(self, resourceArn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        self._record("tag_resource", {"resourceArn": resourceArn, "tags": tags})
        self.tags.setdefault(resourceArn, {}).update({t["key"]: t["value"] for t in tags})
        return {}

    def untag_resource(self, resourceArn: str, tagKeys: list[str]) -> dict[str, Any]:
        self._record("untag_resource", {"resourceArn": resourceArn, "tagKeys": tagKeys})
        for key in tagKeys:
            self.tags.get(resourceArn, {}).pop(key, None)
        return {}

    # ELBv2
    def describe_rules(
        self, ListenerArn: str | None = None, RuleArns: list[str] | None = None
    ) -> dict[str, Any]:
        if ListenerArn:
            return {"Rules": copy.deepcopy(self.rules[ListenerArn])}
        every = [rule for rules in self.rules.values() for rule in rules]
        return {"Rules": [copy.deepcopy(rule) for rule in every if rule["RuleArn"] in (RuleArns or [])]}

    def create_rule(self, **kwargs: Any) -> dict[str, Any]:
        self._record("create_rule", kwargs)
        rule = {
            "RuleArn": f"rule/{len(self.calls)}",
            "Priority": str(kwargs["Priority"]),
            "IsDefault": False,
            "Conditions": kwargs["Conditions"],
            "Actions": kwargs["Actions"],
        }
        self.rules[kwargs["ListenerArn"]].insert(0, rule)
        return {"Rules": [copy.deepcopy(rule)]}

    def shift(self, blue: int, green: int) -> None:
        """What ECS does at the production traffic shift."""
        rule = self.rules[PROD_LISTENER][0]
        rule["Actions"][0]["ForwardConfig"]["TargetGroups"] = [
            {"TargetGroupArn": BLUE, "Weight": blue},
            {"TargetGroupArn": GREEN, "Weight": green},
        ]


def run(aws: FakeAws, req: ReleaseRequest, check_mode: bool = False):
    return release(aws, aws, req, check_mode, clock=FakeClock())


@pytest.mark.parametrize(
    ("desired", "actual", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": "256"}, {"a": 256}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": 1}, {}, False),
        (
            [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
            [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            True,
        ),
        ([{"name": "A", "value": "1"}], [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], False),
        ([{"containerPort": 3000}], [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}], True),
        ({"essential": True}, {"essential": False}, False),
        ({"x": None}, {}, True),
        ({"x": []}, {}, True),
    ],
)
def test_matches(desired: Any, actual: Any, expected: bool) -> None:
    assert matches(desired, actual) is expected


def test_registered_revision_with_aws_defaults_still_matches() -> None:
    aws = FakeAws()
    registered = aws.register_task_definition(**spec().register_kwargs())["taskDefinition"]
    assert task_definition_matches(spec(), registered)


@pytest.mark.parametrize(
    "changed",
    [
        spec("app:2"),
        TaskDefinitionSpec(family="api", container_definitions=[container()], cpu="512", memory="512"),
        TaskDefinitionSpec(
            family="api",
            container_definitions=[container(environment=[{"name": "NODE_ENV", "value": "x"}])],
            cpu="256",
            memory="512",
        ),
        TaskDefinitionSpec(
            family="api",
            container_definitions=[container(), {**container(), "name": "sidecar"}],
            cpu="256",
            memory="512",
        ),
        TaskDefinitionSpec(family="worker", container_definitions=[container()], cpu="256", memory="512"),
    ],
    ids=["image", "cpu", "environment", "extra-container", "family"],
)
def test_a_changed_field_does_not_match(changed: TaskDefinitionSpec) -> None:
    registered = FakeAws().register_task_definition(**spec().register_kwargs())["taskDefinition"]
    assert not task_definition_matches(changed, registered)


def test_environment_values_become_strings() -> None:
    kwargs = spec().register_kwargs()
    assert {"name": "PORT", "value": "3000"} in kwargs["containerDefinitions"][0]["environment"]
    assert kwargs["networkMode"] == "awsvpc" and kwargs["requiresCompatibilities"] == ["FARGATE"]


def test_summary_masks_sensitive_environment_and_keeps_secret_references() -> None:
    td = spec(
        secrets=[{"name": "DATABASE_URL", "valueFrom": "arn:aws:ssm:eu-west-2:1:parameter/db"}]
    ).register_kwargs()
    td["containerDefinitions"][0]["environment"].append({"name": "API_TOKEN", "value": "s3cr3t"})
    summary = summarise_task_definition(td, ["API_TOKEN"])
    api = summary["containers"]["api"]
    assert api["environment"]["API_TOKEN"] == MASK
    assert api["environment"]["NODE_ENV"] == "production"
    assert api["secrets"] == {"DATABASE_URL": "arn:aws:ssm:eu-west-2:1:parameter/db"}
    assert "s3cr3t" not in repr(summary)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (DeploymentSettings(), {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}),
        (DeploymentSettings(bake_time_minutes=15), {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 15}),
        (
            DeploymentSettings(strategy="LINEAR", linear_step_percent=25, linear_step_bake_minutes=2),
            {
                "strategy": "LINEAR",
                "bakeTimeInMinutes": 5,
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2},
            },
        ),
        (
            DeploymentSettings(
                strategy="CANARY", canary_percent=10, canary_bake_minutes=3, bake_time_minutes=0
            ),
            {
                "strategy": "CANARY",
                "bakeTimeInMinutes": 0,
                "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
            },
        ),
        (DeploymentSettings(strategy="ROLLING"), {"strategy": "ROLLING"}),
        (
            DeploymentSettings(alarms=["b", "a"]),
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 5,
                "alarms": {"alarmNames": ["a", "b"], "enable": True, "rollback": True},
            },
        ),
        (
            DeploymentSettings(alarms=[]),
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 5,
                "alarms": {"alarmNames": [], "enable": False, "rollback": False},
            },
        ),
        (
            DeploymentSettings(
                lifecycle_hooks=[{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]
            ),
            {
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 5,
                "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}],
            },
        ),
    ],
)
def test_build_deployment_configuration(settings: DeploymentSettings, expected: dict[str, Any]) -> None:
    assert build_deployment_configuration(settings) == expected


def test_unset_settings_keep_the_services_values_and_drop_the_old_strategys() -> None:
    current = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 20,
        "linearConfiguration": {"stepPercent": 10.0},
        "alarms": {"alarmNames": ["x"], "enable": True, "rollback": True},
        "maximumPercent": 200,
    }
    built = build_deployment_configuration(DeploymentSettings(strategy="CANARY", canary_percent=5), current)
    assert built == {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 20,
        "canaryConfiguration": {"canaryPercent": 5.0},
        "alarms": {"alarmNames": ["x"], "enable": True, "rollback": True},
        "maximumPercent": 200,
    }
    assert not deployment_configuration_matches(built, current)
    assert deployment_configuration_matches(
        built, {**built, "alarms": {"alarmNames": ["x"], "enable": True, "rollback": True}}
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (DeploymentSettings(strategy="BLUE_GREEN", canary_percent=10), "only apply to strategy=CANARY"),
        (DeploymentSettings(strategy="CANARY", linear_step_percent=10), "only apply to strategy=LINEAR"),
        (DeploymentSettings(strategy="LINEAR"), "needs linear_step_percent"),
        (DeploymentSettings(strategy="CANARY"), "needs canary_percent"),
        (DeploymentSettings(bake_time_minutes=2000), "0 to 1440"),
        (DeploymentSettings(strategy="LINEAR", linear_step_percent=1), "3.0 to 100.0"),
        (DeploymentSettings(strategy="ROLLING", bake_time_minutes=5), "no effect with strategy=ROLLING"),
    ],
)
def test_invalid_settings_say_what_to_change(settings: DeploymentSettings, message: str) -> None:
    with pytest.raises(EcsReleaseError, match=message):
        build_deployment_configuration(settings)


def forward_rule(arn: str, priority: str, weights: dict[str, int]) -> dict[str, Any]:
    groups = [{"TargetGroupArn": tg, "Weight": weight} for tg, weight in weights.items()]
    return {
        "RuleArn": arn,
        "Priority": priority,
        "IsDefault": False,
        "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}],
    }


def test_find_rule_prefers_a_rule_with_both_target_groups() -> None:
    rules = [
        forward_rule("r1", "1", {BLUE: 1}),
        forward_rule("r2", "5", {BLUE: 0, GREEN: 100}),
        forward_rule("r3", "2", {OTHER: 1}),
    ]
    assert find_rule(rules, BLUE, GREEN)["RuleArn"] == "r2"


def test_rule_missing_a_target_group_is_an_error_not_an_edit() -> None:
    with pytest.raises(EcsReleaseError, match="but not to .*green.*does not edit rules"):
        check_rule_targets(forward_rule("r1", "10", {BLUE: 1}), BLUE, GREEN, "production")


@pytest.mark.parametrize(
    ("weights", "live"),
    [
        ({BLUE: 100, GREEN: 0}, BLUE),
        ({BLUE: 0, GREEN: 100}, GREEN),
        ({BLUE: 50, GREEN: 50}, BLUE),
        ({BLUE: 20, GREEN: 80}, GREEN),
        ({}, None),
    ],
)
def test_live_target_group_is_the_heavier(weights: dict[str, int], live: str | None) -> None:
    assert live_target_group(weights, BLUE) == live


def test_load_balancers_match_with_blue_and_green_swapped() -> None:
    desired = [
        {
            "targetGroupArn": BLUE,
            "containerName": "api",
            "containerPort": 3000,
            "advancedConfiguration": {
                "alternateTargetGroupArn": GREEN,
                "productionListenerRule": "r",
                "roleArn": ROLE,
            },
        }
    ]
    swapped = copy.deepcopy(desired)
    swapped[0]["targetGroupArn"], swapped[0]["advancedConfiguration"]["alternateTargetGroupArn"] = GREEN, BLUE
    assert load_balancers_match(desired, swapped)
    swapped[0]["containerPort"] = 8080
    assert not load_balancers_match(desired, swapped)


def test_wait_until_over_a_fake_sequence() -> None:
    clock = FakeClock()
    values = iter([1, 2, 3, 4])
    seen: list[int] = []
    poll = wait_until(
        lambda: next(values),
        lambda v: v == 3,
        timeout=100,
        interval=10,
        progress=lambda p: seen.append(p.value),
        clock=clock.monotonic,
        sleep=clock.sleep,
    )
    assert (poll.value, poll.elapsed, seen) == (3, 20, [1, 2, 3])


def test_wait_until_times_out_at_the_deadline() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            lambda: "IN_PROGRESS",
            lambda v: False,
            timeout=25,
            interval=10,
            clock=clock.monotonic,
            sleep=clock.sleep,
        )
    assert caught.value.last == "IN_PROGRESS" and caught.value.elapsed == 25


def test_wait_for_deployment_records_each_step_once() -> None:
    aws = FakeAws()
    arn = "d1"
    aws.deployments[arn] = [
        {"status": "PENDING"},
        {"status": "IN_PROGRESS", "lifecycleStage": "SCALE_UP"},
        {"status": "IN_PROGRESS", "lifecycleStage": "SCALE_UP"},
        {"status": "IN_PROGRESS", "lifecycleStage": "BAKE_TIME"},
        {"status": "SUCCESSFUL", "lifecycleStage": "CLEAN_UP"},
    ]
    outcome = wait_for_deployment(aws, arn, WaitSettings(timeout=300, interval=10), FakeClock())
    assert [(s.stage, s.status, s.elapsed_s) for s in outcome.steps] == [
        (None, "PENDING", 0),
        ("SCALE_UP", "IN_PROGRESS", 10),
        ("BAKE_TIME", "IN_PROGRESS", 30),
        ("CLEAN_UP", "SUCCESSFUL", 40),
    ]
    assert outcome.timings() == {"PENDING": 10, "SCALE_UP": 20, "BAKE_TIME": 10, "CLEAN_UP": 0}
    assert outcome.steps[1].at == "2026-05-01T00:00:10+00:00"
    assert outcome.status == "SUCCESSFUL" and not outcome.timed_out


def test_wait_for_deployment_timeout_is_an_outcome() -> None:
    aws = FakeAws()
    aws.deployments["d1"] = [{"status": "IN_PROGRESS", "lifecycleStage": "BAKE_TIME"}]
    outcome = wait_for_deployment(aws, "d1", WaitSettings(timeout=30, interval=10), FakeClock())
    assert outcome.timed_out and outcome.status == "IN_PROGRESS" and outcome.elapsed_s == 30


def test_first_release_creates_rules_revision_and_service_then_waits() -> None:
    aws = FakeAws()
    result = run(aws, request())
    assert result.changed
    assert aws.writes() == ["create_rule", "create_rule", "register_task_definition", "create_service"]
    created = aws.calls[0][1]
    assert created["Actions"][0]["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": BLUE, "Weight": 100},
        {"TargetGroupArn": GREEN, "Weight": 0},
    ]
    service_call = dict(aws.calls)["create_service"]
    assert service_call["deploymentController"] == {"type": "ECS"}
    assert service_call["deploymentConfiguration"] == {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}
    advanced = service_call["loadBalancers"][0]["advancedConfiguration"]
    assert advanced == {
        "alternateTargetGroupArn": GREEN,
        "productionListenerRule": result.listener_rules["production"],
        "testListenerRule": result.listener_rules["test"],
        "roleArn": ROLE,
    }
    assert result.deployment.status == "SUCCESSFUL"
    assert [s.stage for s in result.deployment.steps] == ["SCALE_UP", "BAKE_TIME", "CLEAN_UP"]
    assert result.task_definition_arn.endswith("task-definition/api:1")
    assert result.live_target_group_arn == BLUE


def test_same_release_again_changes_nothing() -> None:
    aws = FakeAws()
    run(aws, request())
    aws.calls.clear()
    again = run(aws, request())
    assert not again.changed
    assert aws.writes() == []
    assert again.plan.as_dict() == {
        "create_listener_rules": [],
        "register_revision": False,
        "create_service": False,
        "update_service": [],
        "deploy": False,
        "stop_deployment": False,
        "tags": {},
    }


def test_new_image_registers_and_deploys_and_never_writes_rule_weights() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    aws.shift(blue=0, green=100)  # ECS moved production to green during the first release
    aws.calls.clear()
    result = run(aws, request("app:2"))
    assert aws.writes() == ["register_task_definition", "update_service"]
    assert dict(aws.calls)["update_service"] == {"taskDefinition": f"{ACCOUNT}:task-definition/api:2"}
    assert result.previous_task_definition_arn == f"{ACCOUNT}:task-definition/api:1"
    assert result.live_target_group_arn == GREEN
    assert result.before["task_definition"]["containers"]["api"]["image"] == "app:1"
    assert result.after["task_definition"]["containers"]["api"]["image"] == "app:2"


def test_check_mode_predicts_without_writing() -> None:
    aws = FakeAws()
    first = run(aws, request(), check_mode=True)
    assert aws.writes() == []
    assert first.plan.create_listener_rules == ["production", "test"]
    assert first.plan.register_revision and first.plan.create_service and first.plan.deploy
    assert first.task_definition_arn is None

    run(aws, request("app:1"))
    aws.calls.clear()
    second = run(aws, request("app:2"), check_mode=True)
    assert aws.writes() == []
    assert second.changed and second.plan.register_revision and second.plan.deploy
    assert second.plan.update_service == ["taskDefinition"]
    assert second.after["task_definition"]["containers"]["api"]["image"] == "app:2"

    third = run(aws, request("app:1"), check_mode=True)
    assert not third.changed


SERVICE_ARN = f"{ACCOUNT}:service/c/api"
REVISION_1 = f"{ACCOUNT}:task-definition/api:1"


def tagged(image: str = "app:1", tags: dict[str, Any] | None = None, **overrides: Any) -> ReleaseRequest:
    return dataclasses.replace(request(image), tags=TAGS if tags is None else tags, **overrides)


def test_tags_are_set_on_create_and_on_the_registered_revision() -> None:
    aws = FakeAws()
    result = run(aws, tagged())
    calls = dict(aws.calls)
    expected = [{"key": k, "value": v} for k, v in sorted(TAGS.items())]
    assert calls["create_service"]["tags"] == expected
    assert calls["create_service"]["propagateTags"] == "SERVICE"
    assert calls["register_task_definition"]["tags"] == expected
    assert aws.writes() == ["create_rule", "create_rule", "register_task_definition", "create_service"]
    assert aws.tags[SERVICE_ARN] == TAGS and aws.tags[REVISION_1] == TAGS
    assert result.plan.tags == {}


def test_equal_tags_make_no_tag_call_and_no_change() -> None:
    aws = FakeAws()
    run(aws, tagged())
    aws.calls.clear()
    again = run(aws, tagged(tags={**TAGS, "Scale": "hobby"}))  # same tags, another dict
    assert not again.changed and aws.writes() == []
    assert again.before["tags"] == again.after["tags"] == dict(sorted(TAGS.items()))


def test_only_the_tag_difference_is_written_and_no_revision_registered() -> None:
    aws = FakeAws()
    run(aws, tagged())
    aws.tag_resource(resourceArn=SERVICE_ARN, tags=[{"key": "Owner", "value": "ops"}])
    aws.calls.clear()
    result = run(aws, tagged(tags={**TAGS, "Scale": "startup"}))
    assert result.changed and not result.plan.register_revision and not result.plan.deploy
    assert result.plan.update_service == []
    assert [(name, kwargs) for name, kwargs in aws.calls if name in WRITES] == [
        ("tag_resource", {"resourceArn": REVISION_1, "tags": [{"key": "Scale", "value": "startup"}]}),
        ("untag_resource", {"resourceArn": SERVICE_ARN, "tagKeys": ["Owner"]}),
        ("tag_resource", {"resourceArn": SERVICE_ARN, "tags": [{"key": "Scale", "value": "startup"}]}),
    ]
    assert result.plan.tags == {
        "task_definition": {"add": {"Scale": "startup"}},
        "service": {"add": {"Scale": "startup"}, "remove": ["Owner"]},
    }
    assert result.before["tags"]["Owner"] == "ops" and "Owner" not in result.after["tags"]
    assert result.after["tags"]["Scale"] == "startup"
    assert len(aws.task_definitions) == 1


def test_purge_tags_false_keeps_other_tags_and_unset_tags_touch_nothing() -> None:
    aws = FakeAws()
    run(aws, tagged())
    aws.tag_resource(resourceArn=SERVICE_ARN, tags=[{"key": "Owner", "value": "ops"}])
    aws.calls.clear()
    kept = run(aws, tagged(purge_tags=False))
    assert not kept.changed and aws.writes() == []
    untouched = run(aws, request())  # tags=None
    assert not untouched.changed
    aws.calls.clear()
    run(aws, request("app:1"))
    assert [name for name, _ in aws.calls if "tag" in name] == []
    assert "tags" not in untouched.before


def test_tag_changes_in_check_mode_are_predicted_not_written() -> None:
    aws = FakeAws()
    run(aws, request())  # created without tags
    aws.calls.clear()
    result = run(aws, tagged(), check_mode=True)
    assert aws.writes() == []
    assert result.changed and not result.plan.register_revision and not result.plan.deploy
    assert result.plan.tags == {"task_definition": {"add": TAGS}, "service": {"add": TAGS}}
    assert result.before["tags"] == {} and result.after["tags"] == dict(sorted(TAGS.items()))
    assert aws.tags[SERVICE_ARN] == {}


def test_cluster_tags_write_only_the_difference_and_are_predicted_in_check_mode() -> None:
    aws = FakeAws()
    aws.tags[CLUSTER_ARN] = {"Project": "macroai", "Owner": "ops"}
    predicted = run(aws, request(cluster_tags=TAGS), check_mode=True)
    assert aws.writes() == []
    assert predicted.plan.tags == {
        "cluster": {"add": {k: v for k, v in TAGS.items() if k != "Project"}, "remove": ["Owner"]}
    }
    assert predicted.before == {"cluster_tags": {"Owner": "ops", "Project": "macroai"}}
    assert predicted.after["cluster_tags"] == dict(sorted(TAGS.items()))
    run(aws, request(cluster_tags=TAGS))
    assert aws.tags[CLUSTER_ARN] == TAGS
    aws.calls.clear()
    again = run(aws, request(cluster_tags=TAGS))
    assert not again.changed and aws.writes() == []
    assert again.before["cluster_tags"] == again.after["cluster_tags"]


def test_cluster_tags_on_a_missing_cluster_fail_before_any_write() -> None:
    aws = FakeAws()
    with pytest.raises(EcsReleaseError, match="Cluster nope does not exist"):
        missing = ServiceSpec(cluster="nope", service="api", subnets=["s"])
        run(aws, request(service=missing, cluster_tags=TAGS))
    assert aws.writes() == []


def test_a_new_image_with_tags_registers_a_tagged_revision_without_retagging() -> None:
    aws = FakeAws()
    run(aws, tagged("app:1"))
    aws.calls.clear()
    result = run(aws, tagged("app:2"))
    assert aws.writes() == ["register_task_definition", "update_service"]
    assert aws.tags[result.task_definition_arn] == TAGS and result.plan.tags == {}


def test_deployment_settings_alone_update_without_deploying() -> None:
    aws = FakeAws()
    run(aws, request())
    aws.calls.clear()
    result = run(aws, request(deployment=DeploymentSettings(bake_time_minutes=10)))
    assert result.plan.update_service == ["deploymentConfiguration"] and not result.plan.deploy
    assert result.before["deployment_configuration"]["bakeTimeInMinutes"] == 5
    assert result.after["deployment_configuration"]["bakeTimeInMinutes"] == 10


def test_an_older_matching_revision_is_reused_not_registered() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    aws.register_task_definition(**spec("app:2").register_kwargs())  # registered by an earlier, failed run
    aws.calls.clear()
    result = run(aws, request("app:2"))
    assert aws.writes() == ["update_service"]
    assert result.task_definition_arn.endswith(":2")


def test_rolled_back_deployment_fails_with_reason_and_next_step() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    aws.script = [
        ("SCALE_UP", "IN_PROGRESS"),
        ("TEST_TRAFFIC_SHIFT", "ROLLBACK_IN_PROGRESS"),
        ("TEST_TRAFFIC_SHIFT", "ROLLBACK_SUCCESSFUL"),
    ]
    with pytest.raises(EcsReleaseError) as caught:
        run(aws, request("app:3"))
    message = caught.value.message
    assert "ROLLBACK_SUCCESSFUL" in message and "service-deployment/c/api/d2" in message
    assert "Production is still on arn:aws:ecs:eu-west-2:123456789012:task-definition/api:1" in message
    assert "re-run" in message
    assert caught.value.details["deployment"]["status"] == "ROLLBACK_SUCCESSFUL"
    assert [s["status"] for s in caught.value.details["steps"]] == [
        "IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_SUCCESSFUL",
    ]


def test_timeout_fails_and_a_rerun_follows_the_same_deployment() -> None:
    aws = FakeAws(script=[("BAKE_TIME", "IN_PROGRESS")])
    run(aws, request("app:1", wait=WaitSettings(wait=False)))
    aws.deployments.clear()
    aws.script = [("BAKE_TIME", "IN_PROGRESS")] * 20 + [("CLEAN_UP", "SUCCESSFUL")]
    with pytest.raises(
        EcsReleaseError, match="was still IN_PROGRESS at stage BAKE_TIME after wait_timeout=60s"
    ):
        run(aws, request("app:2"))
    aws.calls.clear()
    again = run(aws, request("app:2", wait=WaitSettings(timeout=600, interval=5)))
    assert aws.writes() == [] and not again.changed
    assert again.deployment.status == "SUCCESSFUL"


def test_existing_rule_without_green_fails_before_any_write() -> None:
    aws = FakeAws()
    aws.rules[PROD_LISTENER].insert(0, forward_rule("r-old", "10", {BLUE: 1}))
    with pytest.raises(EcsReleaseError, match="r-old"):
        run(aws, request())
    assert aws.writes() == []


def test_taken_priority_is_reported() -> None:
    aws = FakeAws()
    aws.rules[PROD_LISTENER].insert(0, forward_rule("r-other", "50000", {OTHER: 1}))
    with pytest.raises(EcsReleaseError, match="listener_rule_priority"):
        run(aws, request())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_definition": None}, "task_definition is required"),
        (
            {"load_balancing": LoadBalancing(PROD_LISTENER, BLUE, BLUE, 3000, infrastructure_role_arn=ROLE)},
            "same target group",
        ),
        (
            {"load_balancing": LoadBalancing(PROD_LISTENER, BLUE, GREEN, 3000)},
            "infrastructure_role_arn is required",
        ),
        (
            {
                "load_balancing": LoadBalancing(
                    PROD_LISTENER, BLUE, GREEN, 3000, container_name="web", infrastructure_role_arn=ROLE
                )
            },
            "container_name='web'",
        ),
    ],
)
def test_invalid_requests_fail_before_any_call(overrides: dict[str, Any], message: str) -> None:
    aws = FakeAws()
    with pytest.raises(EcsReleaseError, match=message):
        run(aws, request(**overrides))
    assert aws.calls == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"deployment": DeploymentSettings(strategy="LINEAR")}, "needs linear_step_percent"),
        ({"deployment": DeploymentSettings(strategy="CANARY")}, "needs canary_percent"),
        ({"service": ServiceSpec(cluster="c", service="api")}, "network_configuration.subnets is not set"),
    ],
)
@pytest.mark.parametrize("check_mode", [True, False])
def test_inputs_that_depend_on_the_service_fail_before_any_write(
    overrides: dict[str, Any], message: str, check_mode: bool
) -> None:
    aws = FakeAws()
    with pytest.raises(EcsReleaseError, match=message):
        run(aws, request(**overrides), check_mode=check_mode)
    assert aws.calls == []  # describe_services, the only call made, is not recorded


def test_rolled_back_to_an_unknown_revision_stops_nothing() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    aws.script = [("BAKE_TIME", "IN_PROGRESS")]
    run(aws, request("app:2", wait=WaitSettings(wait=False)))
    aws.calls.clear()
    rb = ReleaseRequest(service=ServiceSpec(cluster="c", service="api"), to_task_definition="api:99")
    with pytest.raises(EcsReleaseError, match="to_task_definition='api:99'.*nothing was stopped"):
        roll_back(aws, aws, rb, check_mode=False, clock=FakeClock())
    assert aws.writes() == []


def test_rolled_back_stops_a_baking_deployment() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    aws.script = [("BAKE_TIME", "IN_PROGRESS")]
    run(aws, request("app:2", wait=WaitSettings(wait=False)))
    aws.calls.clear()
    rb = ReleaseRequest(
        service=ServiceSpec(cluster="c", service="api"), wait=WaitSettings(timeout=60, interval=5)
    )

    predicted = roll_back(aws, aws, rb, check_mode=True, clock=FakeClock())
    assert predicted.plan.stop_deployment and aws.writes() == []
    assert predicted.task_definition_arn.endswith("api:1")

    result = roll_back(aws, aws, rb, check_mode=False, clock=FakeClock())
    assert aws.writes() == ["stop_service_deployment"]
    assert dict(aws.calls)["stop_service_deployment"]["stopType"] == "ROLLBACK"
    assert result.deployment.status == "ROLLBACK_SUCCESSFUL"
    assert result.task_definition_arn.endswith("api:1")
    assert result.previous_task_definition_arn.endswith("api:2")


def test_rolled_back_without_a_deployment_in_progress_releases_the_named_revision() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    run(aws, request("app:2"))
    aws.calls.clear()
    rb = ReleaseRequest(
        service=ServiceSpec(cluster="c", service="api"),
        to_task_definition="api:1",
        wait=WaitSettings(timeout=60, interval=5),
    )
    result = roll_back(aws, aws, rb, check_mode=False, clock=FakeClock())
    assert aws.writes() == ["update_service"]
    assert result.changed and result.deployment.status == "SUCCESSFUL"
    assert result.task_definition_arn.endswith("api:1") and result.previous_task_definition_arn.endswith(
        "api:2"
    )
    aws.calls.clear()
    assert not roll_back(aws, aws, rb, check_mode=False, clock=FakeClock()).changed
    assert aws.writes() == []


def test_rolled_back_with_nothing_to_stop_and_no_target_says_what_to_set() -> None:
    aws = FakeAws()
    run(aws, request("app:1"))
    rb = ReleaseRequest(service=ServiceSpec(cluster="c", service="api"))
    with pytest.raises(EcsReleaseError, match="set to_task_definition"):
        roll_back(aws, aws, rb, check_mode=False, clock=FakeClock())


SPOT = [{"capacity_provider": "FARGATE_SPOT", "weight": 1}]
FARGATE_ON_DEMAND = {"capacityProvider": "FARGATE", "weight": 1}


@pytest.mark.parametrize(
    ("launch_type", "strategy", "current", "expected"),
    [
        (None, SPOT, [], [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
        (None, SPOT, [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}], None),
        ("FARGATE", None, [{"capacityProvider": "FARGATE_SPOT", "weight": 1}], [FARGATE_ON_DEMAND]),
        ("FARGATE", None, [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}], None),
        ("FARGATE", None, [], None),  # on the launch type already
        (None, None, [{"capacityProvider": "FARGATE_SPOT", "weight": 1}], None),  # neither set: left alone
    ],
)
def test_capacity_provider_update(
    launch_type: str | None, strategy: Any, current: list[dict[str, Any]], expected: Any
) -> None:
    svc = ServiceSpec(
        cluster="c", service="api", launch_type=launch_type, capacity_provider_strategy=strategy
    )
    assert capacity_provider_update(svc, {"capacityProviderStrategy": current}) == expected


def with_capacity(
    launch_type: str | None = None, strategy: Any = None, image: str = "app:1"
) -> ReleaseRequest:
    service = ServiceSpec(
        cluster="c",
        service="api",
        subnets=["subnet-1"],
        security_groups=["sg-1"],
        launch_type=launch_type,
        capacity_provider_strategy=strategy,
    )
    return request(image, service=service)


def capacity_updates(aws: FakeAws) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in aws.calls if name == "update_service"]


def test_switching_fargate_spot_on_forces_a_new_deployment_and_is_then_idempotent() -> None:
    aws = FakeAws()
    run(aws, with_capacity(launch_type="FARGATE"))
    aws.calls.clear()
    predicted = run(aws, with_capacity(strategy=SPOT), check_mode=True)
    assert aws.writes() == [] and predicted.plan.update_service == ["capacityProviderStrategy"]
    switched = run(aws, with_capacity(strategy=SPOT))
    assert capacity_updates(aws) == [
        {
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            "forceNewDeployment": True,
        }
    ]
    assert switched.plan.deploy and switched.deployment is not None
    assert switched.deployment.status == "SUCCESSFUL"
    aws.calls.clear()
    again = run(aws, with_capacity(strategy=SPOT))
    assert not again.changed and aws.writes() == []


def test_switching_fargate_spot_off_sends_the_fargate_strategy_forced() -> None:
    aws = FakeAws()
    run(aws, with_capacity(strategy=SPOT))
    aws.calls.clear()
    switched = run(aws, with_capacity(launch_type="FARGATE"))
    assert capacity_updates(aws) == [
        {"capacityProviderStrategy": [FARGATE_ON_DEMAND], "forceNewDeployment": True}
    ]
    assert switched.plan.update_service == ["capacityProviderStrategy"] and switched.plan.deploy
    aws.calls.clear()
    again = run(aws, with_capacity(launch_type="FARGATE"))
    assert not again.changed and aws.writes() == []


def test_a_release_that_changes_nothing_else_sends_no_force() -> None:
    aws = FakeAws()
    run(aws, with_capacity(strategy=SPOT))
    aws.calls.clear()
    run(aws, with_capacity(strategy=SPOT, image="app:2"))
    (update,) = capacity_updates(aws)
    assert "forceNewDeployment" not in update and "capacityProviderStrategy" not in update
