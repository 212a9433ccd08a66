"""The sandbox refuses what ECS and ELBv2 refuse, the same way: each test makes a boto3 call AWS refuses and
asserts the sandbox's error code and message, with the rule's source in its docstring ("model" is the
documentation string of botocore's ECS or ELBv2 model, shape.member). The accepted edge values are accepted.

The rules live in sandbox/aws/ecs_rules.py (ECS) and sandbox/aws/elbv2.py (ELBv2)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import REGION, aws_client, infrastructure_role

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

ROLE_NAME = f"ecsInfrastructureRole-{uuid.uuid4().hex[:6]}"
ROLE = f"arn:aws:iam::123456789012:role/{ROLE_NAME}"


@pytest.fixture(scope="module")
def aws(sandbox: SandboxClient) -> Callable[[str], Any]:
    return lambda service: aws_client(sandbox, service)


@pytest.fixture(scope="module", autouse=True)
def role(aws: Callable[[str], Any]) -> Iterator[str]:
    """The infrastructure role the services name: the sandbox refuses one ECS cannot assume, as AWS does."""
    with infrastructure_role(aws("iam"), ROLE_NAME) as arn:
        yield arn


@dataclass
class Stack:
    """A cluster (FARGATE and FARGATE_SPOT associated), a task definition, two target groups and a production
    rule forwarding to both: what a BLUE_GREEN service needs, nothing serving yet."""

    prefix: str
    cluster: str
    task_definition: str
    blue: str
    green: str
    rule: str
    listener: str
    subnets: list[str]
    security_group: str
    load_balancer: str
    vpc: str

    def balancers(self, **advanced: Any) -> list[dict[str, Any]]:
        config = {
            "alternateTargetGroupArn": self.green,
            "productionListenerRule": self.rule,
            "roleArn": ROLE,
            **advanced,
        }
        return [
            {
                "targetGroupArn": self.blue,
                "containerName": "app",
                "containerPort": 3000,
                "advancedConfiguration": config,
            }
        ]

    def network(self) -> dict[str, Any]:
        return {"awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [self.security_group]}}


@pytest.fixture(scope="module")
def stack(aws: Callable[[str], Any]) -> Iterator[Stack]:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    ec2, elb, ecs = aws("ec2"), aws("elbv2"), aws("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName=prefix, Description="fidelity", VpcId=vpc)["GroupId"]
    lb_arn = elb.create_load_balancer(Name=prefix, Subnets=subnets, SecurityGroups=[sg], Type="application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    blue, green, listener, rule = routed_pair(elb, prefix, vpc, lb_arn, 80)
    ecs.create_cluster(clusterName=prefix, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    definition = ecs.register_task_definition(
        family=f"{prefix}-api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": "example/app:v1",
                "essential": True,
                "memory": 512,
                "portMappings": [{"containerPort": 3000}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    yield Stack(prefix, prefix, definition, blue, green, rule, listener, subnets, sg, lb_arn, vpc)
    for service in ecs.list_services(cluster=prefix)["serviceArns"]:
        ecs.delete_service(cluster=prefix, service=service, force=True)


def routed_pair(elb: Any, prefix: str, vpc: str, load_balancer: str, port: int) -> tuple[str, str, str, str]:
    """(blue, green, listener, rule): two target groups and a listener whose rule forwards 100/0 to them."""
    blue, green = (
        elb.create_target_group(
            Name=f"{prefix}-{colour}", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in ("blue", "green")
    )
    listener = elb.create_listener(
        LoadBalancerArn=load_balancer,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    rule = elb.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[forward(blue, 100, green, 0)],
    )["Rules"][0]["RuleArn"]
    return blue, green, listener, rule


def forward(blue: str, blue_weight: int, green: str, green_weight: int) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": blue, "Weight": blue_weight},
                {"TargetGroupArn": green, "Weight": green_weight},
            ]
        },
    }


def refused(call: Callable[[], Any], code: str, *fragments: str) -> str:
    with pytest.raises(ClientError) as err:
        call()
    error = err.value.response["Error"]
    assert error["Code"] == code, error
    for fragment in fragments:
        assert fragment in error["Message"], error
    return str(error["Message"])


def create_service(aws: Callable[[str], Any], stack: Stack, name: str | None = None, **overrides: Any) -> Any:
    kwargs: dict[str, Any] = {
        "cluster": stack.cluster,
        "serviceName": name or f"{stack.prefix}-{uuid.uuid4().hex[:6]}",
        "taskDefinition": stack.task_definition,
        "desiredCount": 0,
        "launchType": "FARGATE",
        "loadBalancers": stack.balancers(),
        "networkConfiguration": stack.network(),
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1},
    }
    kwargs.update(overrides)
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    return aws("ecs").create_service(**kwargs)["service"]


def shifting(strategy: str, percent: float, bake: int = 0) -> dict[str, Any]:
    """A LINEAR or CANARY deploymentConfiguration: its percent and its step (canary) bake."""
    key, percent_key, bake_key = {
        "LINEAR": ("linearConfiguration", "stepPercent", "stepBakeTimeInMinutes"),
        "CANARY": ("canaryConfiguration", "canaryPercent", "canaryBakeTimeInMinutes"),
    }[strategy]
    return {"strategy": strategy, "bakeTimeInMinutes": 0, key: {percent_key: percent, bake_key: bake}}


def linear(step: float, bake: int = 0) -> dict[str, Any]:
    return shifting("LINEAR", step, bake)


def canary(percent: float, bake: int = 0) -> dict[str, Any]:
    return shifting("CANARY", percent, bake)


# -- deploymentConfiguration ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("strategy", "percent", "bounds"),
    [
        ("LINEAR", 2.9, "stepPercent must be a multiple of 0.1 from 3.0 to 100.0"),
        ("LINEAR", 10.05, "stepPercent must be a multiple of 0.1 from 3.0 to 100.0"),
        ("LINEAR", 100.1, "stepPercent must be a multiple of 0.1 from 3.0 to 100.0"),
        ("CANARY", 0.05, "canaryPercent must be a multiple of 0.1 from 0.1 to 100.0"),
        ("CANARY", 0.0, "canaryPercent must be a multiple of 0.1 from 0.1 to 100.0"),
        ("CANARY", 100.1, "canaryPercent must be a multiple of 0.1 from 0.1 to 100.0"),
    ],
)
def test_shift_percentages_outside_the_model_are_refused(
    aws: Callable[[str], Any], stack: Stack, strategy: str, percent: float, bounds: str
) -> None:
    """model: LinearConfiguration.stepPercent: "Valid values are multiples of 0.1 from 3.0 to 100.0";
    CanaryConfiguration.canaryPercent: "Valid values are multiples of 0.1 from 0.1 to 100.0"."""
    refused(
        lambda: create_service(aws, stack, deploymentConfiguration=shifting(strategy, percent)),
        "InvalidParameterException",
        bounds,
    )


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, "bakeTimeInMinutes"),
        (linear(10, 1441), "linearConfiguration.stepBakeTimeInMinutes"),
        (canary(5, 1441), "canaryConfiguration.canaryBakeTimeInMinutes"),
    ],
)
def test_bake_times_beyond_1440_minutes_are_refused(
    aws: Callable[[str], Any], stack: Stack, config: dict[str, Any], where: str
) -> None:
    """model: LinearConfiguration.stepBakeTimeInMinutes and CanaryConfiguration.canaryBakeTimeInMinutes:
    "Valid values are 0 to 1440 minutes (24 hours)"; API reference, DeploymentConfiguration.bakeTimeInMinutes:
    0 to 1440."""
    refused(
        lambda: create_service(aws, stack, deploymentConfiguration=config),
        "InvalidParameterException",
        f"{where} must be a whole number of minutes from 0 to 1440",
    )


@pytest.mark.parametrize(
    "config",
    [
        linear(3.0, 0),
        linear(100.0, 1440),
        linear(33.3, 6),
        canary(0.1, 1440),
        canary(100.0, 0),
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1440},
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
    ],
)
def test_edge_values_are_accepted(aws: Callable[[str], Any], stack: Stack, config: dict[str, Any]) -> None:
    """The same sources: 3.0, 100.0, 0.1 and multiples of 0.1 between; 0 and 1440 minutes."""
    service = create_service(aws, stack, deploymentConfiguration=config)
    assert service["deploymentConfiguration"]["strategy"] == config["strategy"]
    for key in ("linearConfiguration", "canaryConfiguration", "bakeTimeInMinutes"):
        if key in config:
            assert service["deploymentConfiguration"][key] == config[key]


def test_blue_green_without_bake_time_is_refused(aws: Callable[[str], Any], stack: Stack) -> None:
    """model: DeploymentConfiguration.bakeTimeInMinutes: "You must provide this parameter when you use the
    BLUE_GREEN deployment strategy."""
    refused(
        lambda: create_service(aws, stack, deploymentConfiguration={"strategy": "BLUE_GREEN"}),
        "InvalidParameterException",
        "bakeTimeInMinutes is required for the BLUE_GREEN strategy",
    )


def test_linear_configuration_with_another_strategy_is_refused(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: DeploymentConfiguration.linearConfiguration: "Only valid when the deployment strategy is
    LINEAR"."""
    config = {**linear(10), "strategy": "BLUE_GREEN"}
    refused(
        lambda: create_service(aws, stack, deploymentConfiguration=config),
        "InvalidParameterException",
        "linearConfiguration is only valid when the deployment strategy is LINEAR",
    )


@pytest.mark.parametrize(
    ("hook", "fragment"),
    [
        ({"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}, "PAUSE hooks cannot"),
        ({"targetType": "PAUSE", "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}, "PAUSE hooks cannot"),
        ({"targetType": "AWS_LAMBDA", "lifecycleStages": ["POST_SCALE_UP"]}, "hookTargetArn is required"),
        (
            {
                "targetType": "PAUSE",
                "lifecycleStages": ["POST_SCALE_UP"],
                "timeoutConfiguration": {"timeoutInMinutes": 20161},
            },
            "timeoutInMinutes must be a whole number of minutes from 1 to 20160",
        ),
    ],
)
def test_lifecycle_hooks_outside_the_model_are_refused(
    aws: Callable[[str], Any], stack: Stack, hook: dict[str, Any], fragment: str
) -> None:
    """model: DeploymentLifecycleHook.lifecycleStages ("PAUSE hooks cannot be configured at
    TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages"), .hookTargetArn ("You must provide this parameter
    when configuring an AWS_LAMBDA lifecycle hook"),
    DeploymentLifecycleHookTimeoutConfiguration.timeoutInMinutes (1 to 20160)."""
    config = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [hook]}
    refused(
        lambda: create_service(aws, stack, deploymentConfiguration=config),
        "InvalidParameterException",
        fragment,
    )


def test_alarms_enabled_without_an_alarm_name_are_refused(aws: Callable[[str], Any], stack: Stack) -> None:
    """model: DeploymentAlarms.alarmNames: "One or more CloudWatch alarm names"."""
    config = {
        "strategy": "BLUE_GREEN",
        "bakeTimeInMinutes": 1,
        "alarms": {"alarmNames": [], "enable": True, "rollback": True},
    }
    refused(
        lambda: create_service(aws, stack, deploymentConfiguration=config),
        "InvalidParameterException",
        "alarmNames must name at least one alarm",
    )


def test_circuit_breaker_with_blue_green_is_accepted_but_not_with_code_deploy(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """AWS's guide (deployment-failure-detection.html): the circuit breaker and alarms "only support rolling
    update deployment and blue/green deployment types"; model: DeploymentCircuitBreaker ("can only be used for
    services using the rolling update (ECS) deployment type"): not with the CODE_DEPLOY controller."""
    breaker = {"enable": True, "rollback": True}
    service = create_service(
        aws,
        stack,
        deploymentConfiguration={
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 1,
            "deploymentCircuitBreaker": breaker,
        },
    )
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"]["enable"] is True
    refused(
        lambda: create_service(
            aws,
            stack,
            deploymentController={"type": "CODE_DEPLOY"},
            loadBalancers=[{"targetGroupArn": stack.blue, "containerName": "app", "containerPort": 3000}],
            deploymentConfiguration={"deploymentCircuitBreaker": breaker},
        ),
        "InvalidParameterException",
        "circuit breaker can only be used with the ECS deployment controller",
    )


def test_early_success_criteria_only_with_rolling(aws: Callable[[str], Any], stack: Stack) -> None:
    """model: DeploymentEarlySuccessCriteria: "You can use early success criteria only with rolling deployment
    strategy."""
    criteria = {"enable": True, "healthyPercent": 100, "sourceServiceRevisionCleanup": "BLOCKING"}
    refused(
        lambda: create_service(
            aws,
            stack,
            deploymentConfiguration={
                "strategy": "BLUE_GREEN",
                "bakeTimeInMinutes": 1,
                "earlySuccessCriteria": criteria,
            },
        ),
        "InvalidParameterException",
        "earlySuccessCriteria can only be used with the ROLLING deployment strategy",
    )


# -- launch type and capacity providers -------------------------------------------------------------
def test_launch_type_and_capacity_provider_strategy_together_are_refused(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: CreateServiceRequest.launchType: "If a launchType is specified, the capacityProviderStrategy
    parameter must be omitted"."""
    refused(
        lambda: create_service(
            aws, stack, capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
        ),
        "InvalidParameterException",
        "Specifying both a launch type and capacity provider strategy is not supported",
    )


def test_a_capacity_provider_not_associated_with_the_cluster_is_refused(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: CapacityProviderStrategyItem: "Only capacity providers that are already associated with a
    cluster ... can be used in a capacity provider strategy"."""
    cluster = f"{stack.prefix}-bare"
    aws("ecs").create_cluster(clusterName=cluster)
    refused(
        lambda: create_service(
            aws,
            stack,
            cluster=cluster,
            launchType=None,
            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        ),
        "InvalidParameterException",
        "cannot contain a capacity provider that is not associated with the cluster",
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),  # from the launch type
        ([{"capacityProvider": "FARGATE", "weight": 1}], [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
        ([{"capacityProvider": "FARGATE_SPOT", "weight": 1}], []),  # back to the launch type
    ],
)
def test_capacity_provider_strategy_changes_need_force_new_deployment(
    aws: Callable[[str], Any], stack: Stack, before: list[dict[str, Any]] | None, after: list[dict[str, Any]]
) -> None:
    """ECS answers InvalidParameterException "When switching from launch type to capacity provider strategy on
    an existing service, or making a change to a capacity provider strategy on a service that is already using
    one, you must force a new deployment." (as quoted in kayac/ecspresso#481, reproio/ecs_deploy#74 and
    pipe-cd/pipecd#6385); model: UpdateServiceRequest.capacityProviderStrategy lists these transitions. With
    forceNewDeployment the change is made and a deployment starts."""
    ecs = aws("ecs")
    overrides: dict[str, Any] = {"capacityProviderStrategy": before, "launchType": None} if before else {}
    service = create_service(aws, stack, **overrides)
    message = refused(
        lambda: ecs.update_service(
            cluster=stack.cluster, service=service["serviceName"], capacityProviderStrategy=after
        ),
        "InvalidParameterException",
    )
    assert message == (
        "When switching from launch type to capacity provider strategy on an existing service, or making a "
        "change to a capacity provider strategy on a service that is already using one, you must force a new "
        "deployment."
    )
    updated = ecs.update_service(
        cluster=stack.cluster,
        service=service["serviceName"],
        capacityProviderStrategy=after,
        forceNewDeployment=True,
    )["service"]
    assert updated["capacityProviderStrategy"] == after
    # The same strategy again is no change: nothing to force.
    ecs.update_service(cluster=stack.cluster, service=service["serviceName"], capacityProviderStrategy=after)


# -- names ------------------------------------------------------------------------------------------
def test_names_beyond_255_characters_or_with_other_characters_are_refused(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: CreateClusterRequest.clusterName, CreateServiceRequest.serviceName,
    RegisterTaskDefinitionRequest.family, ContainerDefinition.name: "Up to 255 letters (uppercase and
    lowercase), numbers, underscores, and hyphens are allowed." The longest allowed is accepted."""
    ecs = aws("ecs")
    refused(lambda: ecs.create_cluster(clusterName="a" * 256), "InvalidParameterException", "Cluster name")
    refused(lambda: ecs.create_cluster(clusterName="my.cluster"), "InvalidParameterException", "Cluster name")
    ecs.create_cluster(clusterName=f"{stack.prefix}-" + "c" * (255 - len(stack.prefix) - 1))
    refused(lambda: create_service(aws, stack, name="s" * 256), "InvalidParameterException", "Service name")
    refused(
        lambda: create_service(aws, stack, name="api service"), "InvalidParameterException", "Service name"
    )
    container = {"name": "app", "image": "example/app:v1", "memory": 512}
    refused(
        lambda: ecs.register_task_definition(family="f" * 256, containerDefinitions=[container]),
        "ClientException",
        "Family",
    )
    refused(
        lambda: ecs.register_task_definition(
            family=f"{stack.prefix}-x", containerDefinitions=[{**container, "name": "my app"}]
        ),
        "ClientException",
        "Container name",
    )
    ecs.register_task_definition(family="f" * 255, containerDefinitions=[{**container, "name": "c" * 255}])


def test_a_load_balanced_container_must_be_in_the_task_definition(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: CreateServiceRequest.loadBalancers: "The container name must be as it appears in a container
    definition"."""
    balancers = stack.balancers()
    refused(
        lambda: create_service(aws, stack, loadBalancers=[{**balancers[0], "containerName": "web"}]),
        "InvalidParameterException",
        "The container web does not exist in the task definition.",
    )
    refused(
        lambda: create_service(aws, stack, loadBalancers=[{**balancers[0], "containerPort": 8080}]),
        "InvalidParameterException",
        "The container app did not have a container port 8080 defined.",
    )


def test_load_balancer_names_as_elbv2_allows_them(aws: Callable[[str], Any], stack: Stack) -> None:
    """model: CreateLoadBalancerInput.Name: "a maximum of 32 characters, must contain only alphanumeric
    characters or hyphens, must not begin or end with a hyphen, and must not begin with "internal-"."""
    elb = aws("elbv2")

    def create(name: str) -> Any:
        return elb.create_load_balancer(
            Name=name, Subnets=stack.subnets, SecurityGroups=[stack.security_group], Type="application"
        )

    refused(lambda: create("l" * 33), "ValidationError", "cannot be longer than '32' characters")
    refused(lambda: create("my_alb"), "ValidationError", "alphanumeric characters or hyphens")
    refused(lambda: create("alb-"), "ValidationError", "cannot begin or end with '-'")
    refused(lambda: create("internal-alb"), "ValidationError", "cannot begin with 'internal-'")
    arn = create(f"{stack.prefix}-" + "l" * (32 - len(stack.prefix) - 1))["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    elb.delete_load_balancer(LoadBalancerArn=arn)


def test_target_group_names_as_elbv2_allows_them(aws: Callable[[str], Any], stack: Stack) -> None:
    """model: CreateTargetGroupInput.Name: "a maximum of 32 characters" (moto enforces it with AWS's
    message; here to hold the sandbox to it)."""
    refused(
        lambda: aws("elbv2").create_target_group(Name="t" * 33, Protocol="HTTP", Port=80, TargetType="ip"),
        "ValidationError",
        "cannot be longer than '32' characters",
    )


@pytest.mark.parametrize("priority", [0, 50001])
def test_rule_priorities_outside_1_to_50000_are_refused(
    aws: Callable[[str], Any], stack: Stack, priority: int
) -> None:
    """model: RulePriority (min 1, max 50000). botocore would refuse 0 before sending; its validation is off
    here, so the call reaches the sandbox as another client's would."""
    elb = boto3.client(
        "elbv2",
        endpoint_url=aws("elbv2").meta.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    call = {
        "ListenerArn": stack.listener,
        "Priority": priority,
        "Conditions": [{"Field": "path-pattern", "Values": ["/x"]}],
        "Actions": [forward(stack.blue, 1, stack.green, 0)],
    }
    bound = "greater than or equal to 1" if priority < 1 else "less than or equal to 50000"
    refused(lambda: elb.create_rule(**call), "ValidationError", f"Value '{priority}' at 'priority'", bound)
    refused(
        lambda: elb.set_rule_priorities(RulePriorities=[{"RuleArn": stack.rule, "Priority": priority}]),
        "ValidationError",
        bound,
    )


def test_rule_priority_50000_is_accepted_and_in_use_is_refused(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: CreateRuleInput.Priority: "A listener can't have multiple rules with the same priority"."""
    elb = aws("elbv2")
    call = {
        "ListenerArn": stack.listener,
        "Priority": 50000,
        "Conditions": [{"Field": "path-pattern", "Values": ["/last"]}],
        "Actions": [forward(stack.blue, 1, stack.green, 0)],
    }
    arn = elb.create_rule(**call)["Rules"][0]["RuleArn"]
    refused(lambda: elb.create_rule(**call), "PriorityInUse", "The specified priority is in use.")
    elb.delete_rule(RuleArn=arn)


def test_forward_weights_beyond_999_are_refused(aws: Callable[[str], Any], stack: Stack) -> None:
    """model: TargetGroupTuple.Weight: "The range is 0 to 999."; 999 is accepted."""
    elb = aws("elbv2")
    refused(
        lambda: elb.modify_rule(RuleArn=stack.rule, Actions=[forward(stack.blue, 1000, stack.green, 0)]),
        "ValidationError",
        "less than or equal to 999",
    )
    elb.modify_rule(RuleArn=stack.rule, Actions=[forward(stack.blue, 999, stack.green, 0)])
    elb.modify_rule(RuleArn=stack.rule, Actions=[forward(stack.blue, 100, stack.green, 0)])


# -- what the answers hold ----------------------------------------------------------------------------
def test_update_service_answer_does_not_yet_name_the_new_deployment(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """model: Service.currentServiceDeployment ("The ARN of the current service deployment") with no promise
    that UpdateService's answer already names the deployment the call starts: the sandbox answers with the
    one before (absent after CreateService), DescribeServices names the new one afterwards, and
    ListServiceDeployments lists it at once."""
    ecs = aws("ecs")
    service = create_service(aws, stack)
    assert "currentServiceDeployment" not in service
    name = service["serviceName"]
    first = ecs.list_service_deployments(cluster=stack.cluster, service=name)["serviceDeployments"]
    assert len(first) == 1
    described = ecs.describe_services(cluster=stack.cluster, services=[name])["services"][0]
    assert described["currentServiceDeployment"] == first[0]["serviceDeploymentArn"]
    updated = ecs.update_service(cluster=stack.cluster, service=name, forceNewDeployment=True)["service"]
    assert updated["currentServiceDeployment"] == first[0]["serviceDeploymentArn"]
    listed = ecs.list_service_deployments(cluster=stack.cluster, service=name)["serviceDeployments"]
    newest = max(listed, key=lambda brief: brief["createdAt"])["serviceDeploymentArn"]
    assert newest != first[0]["serviceDeploymentArn"]
    described = ecs.describe_services(cluster=stack.cluster, services=[name])["services"][0]
    assert described["currentServiceDeployment"] == newest


def test_first_deployment_of_a_blue_green_service_runs_its_lifecycle_stages(
    aws: Callable[[str], Any], stack: Stack
) -> None:
    """A new BLUE_GREEN service's first deployment is a BLUE_GREEN service deployment:
    DescribeServiceDeployments reports the strategy's lifecycle stages (model:
    ServiceDeployment.lifecycleStage,
    DeploymentConfiguration.strategy), not a rolling update; with no blue revision the production weights stay
    where they are."""
    ecs, elb = aws("ecs"), aws("elbv2")
    # A rule of its own: other tests' services deploy through the shared one.
    blue, green, _, rule = routed_pair(elb, f"{stack.prefix}-first", stack.vpc, stack.load_balancer, 8081)
    balancers = [
        {
            "targetGroupArn": blue,
            "containerName": "app",
            "containerPort": 3000,
            "advancedConfiguration": {
                "alternateTargetGroupArn": green,
                "productionListenerRule": rule,
                "roleArn": ROLE,
            },
        }
    ]
    service = create_service(
        aws,
        stack,
        loadBalancers=balancers,
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2},
    )
    arn = ecs.list_service_deployments(cluster=stack.cluster, service=service["serviceName"])[
        "serviceDeployments"
    ][0]["serviceDeploymentArn"]
    seen: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < 60:
        deployment = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        stage = deployment.get("lifecycleStage")
        if stage and (not seen or seen[-1] != stage):
            seen.append(stage)
        if deployment["status"] == "SUCCESSFUL":
            break
        time.sleep(0.05)
    assert deployment["status"] == "SUCCESSFUL", deployment
    assert deployment["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert deployment.get("sourceServiceRevisions", []) == []
    assert "BAKE_TIME" in seen and seen[-1] == "CLEAN_UP", seen
    described = elb.describe_rules(RuleArns=[rule])["Rules"][0]
    weights = {
        g["TargetGroupArn"]: g["Weight"] for g in described["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert weights == {blue: 100, green: 0}
