"""macroai.deploy.ecs_bluegreen through ansible-playbook against the sandbox.

The tests run in file order and share one set of prerequisites (VPC, ALB with a production and a test
listener, blue and green target groups, cluster), made with boto3 under a unique name prefix and deleted
at the end. They rely on the sandbox's ECS overlay (service deployments that progress, real local tasks,
listener proxies): a sandbox without it fails them rather than skipping them.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support import REGION, aws_client, open_security_group, play_module

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"ebg{uuid.uuid4().hex[:6]}"
IMAGE = "public.ecr.aws/macroai/example-app"


@pytest.fixture(scope="module")
def infra(sandbox: SandboxClient) -> Iterator[dict[str, Any]]:
    ec2, elbv2, ecs, iam = (aws_client(sandbox, name) for name in ("ec2", "elbv2", "ecs", "iam"))
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName=f"{PREFIX}-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    open_security_group(ec2, sg, (80, 8080))
    lb = elbv2.create_load_balancer(Name=f"{PREFIX}-alb", Subnets=subnets, SecurityGroups=[sg])[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    groups = {
        colour: elbv2.create_target_group(
            Name=f"{PREFIX}-{colour}",
            Protocol="HTTP",
            Port=3000,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=5,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in ("blue", "green")
    }
    not_found = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
    listeners = {
        role: elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=not_found)[
            "Listeners"
        ][0]["ListenerArn"]
        for role, port in (("production", 80), ("test", 8080))
    }
    ecs.create_cluster(clusterName=f"{PREFIX}-cluster")
    role = iam.create_role(
        RoleName=f"{PREFIX}-ecs-infrastructure",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    # ECS moves the listener rules' weights as this role: it needs the load-balancer permissions.
    iam.attach_role_policy(
        RoleName=f"{PREFIX}-ecs-infrastructure",
        PolicyArn="arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
    )
    yield {
        "cluster": f"{PREFIX}-cluster",
        "service": f"{PREFIX}-api",
        "subnets": subnets,
        "security_group": sg,
        "blue": groups["blue"],
        "green": groups["green"],
        "listeners": listeners,
        "role": role,
        "ecs": ecs,
        "elbv2": elbv2,
    }
    cleanup(
        ecs, elbv2, ec2, iam, f"{PREFIX}-cluster", f"{PREFIX}-api", lb, listeners, groups, sg, subnets, vpc
    )


def cleanup(ecs, elbv2, ec2, iam, cluster, service, lb, listeners, groups, sg, subnets, vpc) -> None:
    """Best effort: every step runs even when an earlier one fails (a failed test may leave any state)."""
    steps = [
        lambda: ecs.delete_service(cluster=cluster, service=service, force=True),
        lambda: ecs.delete_cluster(cluster=cluster),
        *[lambda arn=arn: elbv2.delete_listener(ListenerArn=arn) for arn in listeners.values()],
        lambda: elbv2.delete_load_balancer(LoadBalancerArn=lb),
        *[lambda arn=arn: elbv2.delete_target_group(TargetGroupArn=arn) for arn in groups.values()],
        lambda: iam.detach_role_policy(
            RoleName=f"{PREFIX}-ecs-infrastructure",
            PolicyArn="arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
        ),
        lambda: iam.delete_role(RoleName=f"{PREFIX}-ecs-infrastructure"),
        lambda: ec2.delete_security_group(GroupId=sg),
        *[lambda subnet=subnet: ec2.delete_subnet(SubnetId=subnet) for subnet in subnets],
        lambda: ec2.delete_vpc(VpcId=vpc),
    ]
    for step in steps:
        with contextlib.suppress(ClientError):
            step()


def release_args(infra: dict[str, Any], version: str, **overrides: Any) -> dict[str, Any]:
    environment = [{"name": "NODE_ENV", "value": "production"}]
    environment += overrides.pop("extra_environment", [])
    args = {
        "cluster": infra["cluster"],
        "service": infra["service"],
        "task_definition": {
            "family": f"{PREFIX}-api",
            "cpu": "256",
            "memory": "512",
            "container_definitions": [
                {
                    "name": "api",
                    "image": f"{IMAGE}:{version}",
                    "memory": 512,
                    "essential": True,
                    "portMappings": [{"containerPort": 3000}],
                    "environment": environment,
                }
            ],
        },
        "desired_count": 1,
        "network_configuration": {
            "subnets": infra["subnets"],
            "security_groups": [infra["security_group"]],
            "assign_public_ip": True,
        },
        "container_port": 3000,
        "production_listener_arn": infra["listeners"]["production"],
        "test_listener_arn": infra["listeners"]["test"],
        "blue_target_group_arn": infra["blue"],
        "green_target_group_arn": infra["green"],
        "infrastructure_role_arn": infra["role"],
        "bake_time_minutes": 1,
        "wait_timeout": 120,
        "poll_interval": 1,
    }
    args.update(overrides)
    return args


def play(sandbox: SandboxClient, tmp_path: Path, args: dict[str, Any], *flags: str) -> dict[str, Any]:
    """Run the module once through ansible-playbook; its result, with ``failed`` and ``changed``."""
    return play_module(sandbox, tmp_path, "macroai.deploy.ecs_bluegreen", args, *flags)


def revisions(infra: dict[str, Any]) -> list[str]:
    return infra["ecs"].list_task_definitions(familyPrefix=f"{PREFIX}-api")["taskDefinitionArns"]


def production_version(sandbox: SandboxClient, infra: dict[str, Any]) -> str:
    url = next(item["url"] for item in sandbox.listeners() if item["arn"] == infra["listeners"]["production"])
    with urllib.request.urlopen(f"{url.rstrip('/')}/version", timeout=5) as response:
        return json.loads(response.read())["version"]


def test_release_v1_creates_the_service(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    result = play(sandbox, tmp_path, release_args(infra, "v1"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["plan"]["create_service"] and result["plan"]["register_revision"]
    assert result["plan"]["create_listener_rules"] == ["production", "test"]
    assert len(revisions(infra)) == 1
    rules = infra["elbv2"].describe_rules(RuleArns=[result["listener_rules"]["production"]])["Rules"]
    weights = {
        g["TargetGroupArn"]: g["Weight"] for g in rules[0]["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert set(weights) == {infra["blue"], infra["green"]}
    assert result["deployment"]["status"] == "SUCCESSFUL", result["deployment"]
    assert result["steps"] and result["timings"]
    assert production_version(sandbox, infra) == "v1"


def test_same_release_again_is_unchanged(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    again = play(sandbox, tmp_path, release_args(infra, "v1"))
    assert not again.get("failed"), again.get("msg")
    assert again["plan"]["register_revision"] is False and again["plan"]["deploy"] is False
    assert again["changed"] is False, again["plan"]
    assert len(revisions(infra)) == 1


def test_check_mode_predicts_v2_and_writes_nothing(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    since = time.time()
    token = [{"name": "API_TOKEN", "value": "s3cr3t-token-value"}]
    args = release_args(infra, "v2", extra_environment=token, sensitive_environment=["API_TOKEN"])
    predicted = play(sandbox, tmp_path, args, "--check", "--diff")
    assert not predicted.get("failed"), predicted.get("msg")
    assert predicted["changed"] is True
    assert predicted["plan"]["register_revision"] and predicted["plan"]["deploy"]
    assert predicted["plan"]["update_service"] == ["taskDefinition"]
    diff = predicted["diff"]
    assert diff["before"]["task_definition"]["containers"]["api"]["image"].endswith(":v1")
    assert diff["after"]["task_definition"]["containers"]["api"]["image"].endswith(":v2")
    assert sandbox.requests(write=True, since=since) == []
    assert len(revisions(infra)) == 1
    assert "s3cr3t-token-value" not in json.dumps(predicted)
    assert diff["after"]["task_definition"]["containers"]["api"]["environment"]["API_TOKEN"] == "********"


def test_release_v2_goes_live(sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path) -> None:
    result = play(sandbox, tmp_path, release_args(infra, "v2"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["deployment"]["status"] == "SUCCESSFUL", result["deployment"]
    assert result["task_definition_arn"].endswith(":2")
    assert result["previous_task_definition_arn"].endswith(":1")
    assert result["live_target_group_arn"] == infra["green"]
    assert [step["status"] for step in result["steps"]][-1] == "SUCCESSFUL"
    assert production_version(sandbox, infra) == "v2"


def test_unhealthy_v3_rolls_back_with_the_reason(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    args = release_args(
        infra, "v3", extra_environment=[{"name": "APP_HEALTH", "value": "fail"}], wait_timeout=180
    )
    result = play(sandbox, tmp_path, args)
    assert result.get("failed") is True
    message = result["msg"]
    assert "ROLLBACK" in message and result["deployment"]["arn"] in message
    assert "Production is still on" in message and ":2" in message
    assert result["deployment"]["status"] == "ROLLBACK_SUCCESSFUL"
    assert production_version(sandbox, infra) == "v2"
    service = infra["ecs"].describe_services(cluster=infra["cluster"], services=[infra["service"]])[
        "services"
    ][0]
    assert service["taskDefinition"].endswith(":2")
    # Production is on v2 again, so asking for v2 changes nothing and reports nothing failed.
    again = play(sandbox, tmp_path, release_args(infra, "v2"))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False


def test_rolled_back_during_bake(sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path) -> None:
    started = play(sandbox, tmp_path, release_args(infra, "v4", bake_time_minutes=30, wait=False))
    assert not started.get("failed"), started.get("msg")
    arn = started["deployment"]["arn"]
    deadline = time.time() + 120
    stage = None
    while time.time() < deadline and stage != "BAKE_TIME":
        deployment = infra["ecs"].describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"
        ][0]
        stage = deployment.get("lifecycleStage")
        time.sleep(0.5)
    assert stage == "BAKE_TIME", deployment
    assert production_version(sandbox, infra) == "v4"

    rollback = {
        "cluster": infra["cluster"],
        "service": infra["service"],
        "state": "rolled_back",
        "poll_interval": 1,
    }
    since = time.time()
    predicted = play(sandbox, tmp_path, rollback, "--check")
    assert predicted["changed"] is True and predicted["plan"]["stop_deployment"] is True
    assert sandbox.requests(write=True, since=since) == []

    result = play(sandbox, tmp_path, rollback)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["deployment"]["status"] == "ROLLBACK_SUCCESSFUL"
    assert result["task_definition_arn"].endswith(":2")
    assert production_version(sandbox, infra) == "v2"


def test_an_alarm_in_alarm_during_the_bake_rolls_back_naming_it(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    cloudwatch = aws_client(sandbox, "cloudwatch")
    alarm = f"{PREFIX}-target-5xx"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    args = release_args(infra, "v6", bake_time_minutes=30, alarms=[alarm], wait_timeout=180)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(play, sandbox, tmp_path, args)
        deadline = time.time() + 150
        stage = None
        while time.time() < deadline and stage != "BAKE_TIME" and not pending.done():
            for summary in infra["ecs"].list_service_deployments(
                cluster=infra["cluster"], service=infra["service"], status=["IN_PROGRESS"]
            )["serviceDeployments"]:
                (deployment,) = infra["ecs"].describe_service_deployments(
                    serviceDeploymentArns=[summary["serviceDeploymentArn"]]
                )["serviceDeployments"]
                stage = deployment.get("lifecycleStage")
            time.sleep(0.3)
        assert stage == "BAKE_TIME", "the release never reached its bake"
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test: forced")
        result = pending.result(timeout=180)
    cloudwatch.delete_alarms(AlarmNames=[alarm])
    assert result.get("failed") is True, result
    assert "ROLLBACK" in result["msg"] and alarm in result["msg"], result["msg"]
    assert production_version(sandbox, infra) == "v2"


def test_rolled_back_to_a_named_revision(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    rollback = {
        "cluster": infra["cluster"],
        "service": infra["service"],
        "state": "rolled_back",
        "to_task_definition": f"{PREFIX}-api:1",
        "poll_interval": 1,
    }
    result = play(sandbox, tmp_path, rollback)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["plan"]["deploy"] is True
    assert result["deployment"]["status"] == "SUCCESSFUL"
    assert result["task_definition_arn"].endswith(":1") and result["previous_task_definition_arn"].endswith(
        ":2"
    )
    assert production_version(sandbox, infra) == "v1"
    again = play(sandbox, tmp_path, rollback)
    assert again["changed"] is False, again.get("msg")


def test_tag_only_change_tags_without_a_revision_or_deployment(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    tags = {"Project": PREFIX, "Environment": "test", "Scale": "hobby", "Component": "compute"}
    count = len(revisions(infra))
    args = release_args(infra, "v1", tags=tags, cluster_tags=tags)  # production runs v1 (revision 1)
    since = time.time()
    predicted = play(sandbox, tmp_path, args, "--check", "--diff")
    assert not predicted.get("failed"), predicted.get("msg")
    assert predicted["changed"] is True and sandbox.requests(write=True, since=since) == []
    assert set(predicted["plan"]["tags"]) == {"cluster", "service", "task_definition"}
    assert predicted["diff"]["after"]["tags"] == dict(sorted(tags.items()))

    tagged = play(sandbox, tmp_path, args)
    assert not tagged.get("failed"), tagged.get("msg")
    assert tagged["changed"] is True
    assert tagged["plan"]["register_revision"] is False and tagged["plan"]["deploy"] is False
    # (Earlier tests changed deployment settings, which this run may set back; never the task definition.)
    assert "taskDefinition" not in tagged["plan"]["update_service"] and len(revisions(infra)) == count
    ecs = infra["ecs"]
    service_arn = ecs.describe_services(cluster=infra["cluster"], services=[infra["service"]])["services"][0][
        "serviceArn"
    ]
    cluster_arn = ecs.describe_clusters(clusters=[infra["cluster"]])["clusters"][0]["clusterArn"]
    for arn in (service_arn, cluster_arn, tagged["task_definition_arn"]):
        found = ecs.list_tags_for_resource(resourceArn=arn).get("tags") or []
        assert {t["key"]: t["value"] for t in found} == tags, arn

    since = time.time()
    again = play(sandbox, tmp_path, args)
    assert again["changed"] is False, again["plan"]
    assert sandbox.requests(write=True, since=since) == []
