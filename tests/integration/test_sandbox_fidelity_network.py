"""Security groups on the sandbox's data plane, refused the way AWS refuses: a dropped connection (the caller
times out), never an HTTP error.

Each test is a connection AWS drops and the sandbox must drop the same way, or the path AWS allows, with the
source in its docstring. One small VPC per module: a load balancer group admitting port 80 from anywhere, an
app group admitting the container port from the load balancer's group only, one ROLLING service behind
listeners on 80 and 8080.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from support import REGION, aws_client

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"f{uuid.uuid4().hex[:7]}"
APP_PORT = 3000
TEST_PORT = 8080
DROPPED_WAIT = 3.0  # seconds a client waits before it calls a dropped connection a timeout


@dataclass
class Vpc:
    aws: Callable[[str], Any]
    sandbox: SandboxClient
    vpc: str
    subnets: list[str]
    lb_group: str
    app_group: str
    lb_arn: str
    listeners: dict[int, str]
    target_group: str
    cluster: str
    task_definition: str

    def url(self, port: int) -> str:
        arn = self.listeners[port]
        for listener in self.sandbox.listeners():
            if listener["arn"] == arn:
                return listener["url"]
        raise AssertionError(f"no proxy for the listener on {port}")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def get(url: str, timeout: float = DROPPED_WAIT) -> tuple[int, bytes]:
    """GET ``url``: (status, body); a dropped connection raises TimeoutError."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def ingress(port: int, *, cidr: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr}]
    if group:
        permission["UserIdGroupPairs"] = [{"GroupId": group}]
    return [permission]


@pytest.fixture(scope="module")
def net(sandbox: SandboxClient) -> Iterator[Vpc]:
    def aws(service: str) -> Any:
        return aws_client(sandbox, service)

    ec2, elb, ecs = aws("ec2"), aws("elbv2"), aws("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    lb_group = ec2.create_security_group(GroupName=f"{PREFIX}-lb", Description="lb", VpcId=vpc)["GroupId"]
    app_group = ec2.create_security_group(GroupName=f"{PREFIX}-app", Description="app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=lb_group, IpPermissions=ingress(80, cidr="0.0.0.0/0"))
    ec2.authorize_security_group_ingress(GroupId=app_group, IpPermissions=ingress(APP_PORT, group=lb_group))
    lb_arn = elb.create_load_balancer(Name=PREFIX, Subnets=subnets, SecurityGroups=[lb_group])[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    target_group = target_group_for(elb, vpc, "main")
    forward = [{"Type": "forward", "TargetGroupArn": target_group}]
    listeners = {
        port: elb.create_listener(LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port, DefaultActions=forward)[
            "Listeners"
        ][0]["ListenerArn"]
        for port in (80, TEST_PORT)
    }
    ecs.create_cluster(clusterName=PREFIX)
    task_definition = register(ecs, PREFIX)
    found = Vpc(
        aws,
        sandbox,
        vpc,
        subnets,
        lb_group,
        app_group,
        lb_arn,
        listeners,
        target_group,
        PREFIX,
        task_definition,
    )
    service(found, "main", target_group, app_group)
    wait_for(lambda: healthy(found, target_group), 60, "the service's targets to be healthy")
    yield found
    for name in ("main", "blocked", "cidr", "db-in", "db-out"):
        try:
            ecs.update_service(cluster=PREFIX, service=name, desiredCount=0)
            ecs.delete_service(cluster=PREFIX, service=name, force=True)
        except ClientError:  # not made (a test stopped early) or deleted already
            pass
    elb.delete_load_balancer(LoadBalancerArn=lb_arn)


def register(ecs: Any, family: str, environment: dict[str, str] | None = None) -> str:
    """A Fargate task definition of the sample app (v1) on the container port, with ``environment``."""
    container = {
        "name": "app",
        "image": "example/app:v1",
        "essential": True,
        "portMappings": [{"containerPort": APP_PORT, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in (environment or {}).items()],
    }
    return ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]


def target_group_for(elb: Any, vpc: str, name: str) -> str:
    return elb.create_target_group(
        Name=f"{PREFIX}-{name}",
        Protocol="HTTP",
        Port=APP_PORT,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]["TargetGroupArn"]


def new_group(net: Vpc, name: str) -> str:
    ec2 = net.aws("ec2")
    return ec2.create_security_group(GroupName=f"{PREFIX}-{name}", Description=name, VpcId=net.vpc)["GroupId"]


def attach(net: Vpc, target_group: str, priority: int) -> None:
    """Put the target group behind the load balancer (a path rule on 80): its nodes then probe the targets."""
    net.aws("elbv2").create_rule(
        ListenerArn=net.listeners[80],
        Priority=priority,
        Conditions=[{"Field": "path-pattern", "Values": [f"/rule{priority}/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )


def service(net: Vpc, name: str, target_group: str, group: str) -> None:
    net.aws("ecs").create_service(
        cluster=net.cluster,
        serviceName=name,
        taskDefinition=net.task_definition,
        desiredCount=1,
        launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": target_group, "containerName": "app", "containerPort": APP_PORT}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": net.subnets, "securityGroups": [group]}},
    )


def health(net: Vpc, target_group: str) -> list[dict[str, Any]]:
    return net.aws("elbv2").describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]


def healthy(net: Vpc, target_group: str) -> bool:
    states = [h["TargetHealth"]["State"] for h in health(net, target_group)]
    return bool(states) and set(states) == {"healthy"}


def test_listener_port_in_the_load_balancers_group_answers(net: Vpc) -> None:
    """The allowed path: the load balancer's group admits 80 from 0.0.0.0/0, the app's group admits the
    container port from the load balancer's group (ELB's "Security groups for your Application Load
    Balancer", recommended rules)."""
    status, body = get(net.url(80) + "/version")
    assert (status, body) == (200, b'{"version": "v1"}')


def test_listener_port_not_in_the_load_balancers_group_times_out(net: Vpc) -> None:
    """The load balancer's group admits 80 only: a client calling the test listener on 8080 is dropped and
    times out (ELB's "Security groups for your Application Load Balancer": the groups must allow traffic on
    the listener ports from the clients; AWS's VPC guide, "Security group rules": traffic no rule allows is
    dropped)."""
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        get(net.url(TEST_PORT) + "/health")
    assert time.monotonic() - started >= DROPPED_WAIT * 0.9  # not a refusal nor a reset: no answer at all


def test_a_rule_for_the_test_port_from_the_controller_opens_it_and_revoking_closes_it(net: Vpc) -> None:
    """A rule added or revoked applies to the next connection (AWS's VPC guide, "Security group rules":
    changes apply automatically); the controller (127.0.0.1 in the sandbox) is admitted by a CIDR holding it.
    """
    ec2 = net.aws("ec2")
    rule = ingress(TEST_PORT, cidr="127.0.0.1/32")
    ec2.authorize_security_group_ingress(GroupId=net.lb_group, IpPermissions=rule)
    try:
        assert get(net.url(TEST_PORT) + "/health")[0] == 200
    finally:
        ec2.revoke_security_group_ingress(GroupId=net.lb_group, IpPermissions=rule)
    with pytest.raises(TimeoutError):
        get(net.url(TEST_PORT) + "/health")


def test_a_cidr_outside_the_controller_does_not_admit_it(net: Vpc) -> None:
    """A rule for the VPC's own CIDR admits the VPC, not the internet: the controller stays outside
    (AWS's VPC guide, "Security group rules": the source is a CIDR, a prefix list or a group)."""
    ec2 = net.aws("ec2")
    rule = ingress(TEST_PORT, cidr="10.77.0.0/16")
    ec2.authorize_security_group_ingress(GroupId=net.lb_group, IpPermissions=rule)
    try:
        with pytest.raises(TimeoutError):
            get(net.url(TEST_PORT) + "/health")
    finally:
        ec2.revoke_security_group_ingress(GroupId=net.lb_group, IpPermissions=rule)


def test_each_task_has_its_own_private_ip_and_its_target_says_so(net: Vpc) -> None:
    """A task in awsvpc mode has its own network interface and private IP, which ECS registers as the
    target's IP (ECS's "Amazon ECS task networking options for Fargate")."""
    ecs = net.aws("ecs")
    arns = ecs.list_tasks(cluster=net.cluster, serviceName="main")["taskArns"]
    (task,) = ecs.describe_tasks(cluster=net.cluster, tasks=arns)["tasks"]
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["privateIPv4Address"].startswith("127.10.")
    assert [h["Target"]["Id"] for h in health(net, net.target_group)] == [details["privateIPv4Address"]]


def test_target_whose_group_does_not_admit_the_load_balancer_goes_unhealthy(net: Vpc) -> None:
    """The task's group admits the container port only from a group the load balancer is not in: health
    checks time out, the target is unhealthy with Target.Timeout, and ECS replaces the task (ELB's "Health
    checks for Application Load Balancer target groups", Target.Timeout; "Security groups for your
    Application Load Balancer": the targets' groups must allow the load balancer on the traffic and
    health check ports)."""
    ec2, elb = net.aws("ec2"), net.aws("elbv2")
    other = ec2.create_security_group(GroupName=f"{PREFIX}-other", Description="other", VpcId=net.vpc)[
        "GroupId"
    ]
    blocked = ec2.create_security_group(GroupName=f"{PREFIX}-blocked", Description="blocked", VpcId=net.vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(GroupId=blocked, IpPermissions=ingress(APP_PORT, group=other))
    group = target_group_for(elb, net.vpc, "blocked")
    attach(net, group, 5)
    service(net, "blocked", group, blocked)

    def unhealthy() -> list[dict[str, Any]]:
        return [h for h in health(net, group) if h["TargetHealth"]["State"] == "unhealthy"]

    (found, *_) = wait_for(unhealthy, 60, "the blocked service's target to go unhealthy")
    assert found["TargetHealth"]["Reason"] == "Target.Timeout"
    events = wait_for(
        lambda: [
            e["message"]
            for e in net.aws("ecs").describe_services(cluster=net.cluster, services=["blocked"])["services"][
                0
            ]["events"]
            if "failed ELB health checks" in e["message"]
        ],
        60,
        "ECS to replace the task that failed its health checks",
    )
    assert events
    # The main service, whose group admits the load balancer's, is untouched.
    assert healthy(net, net.target_group)


def test_admitting_the_load_balancers_subnets_by_cidr_makes_targets_healthy(net: Vpc) -> None:
    """A rule for a CIDR holding the load balancer's subnets admits its nodes (their private IPs are in those
    subnets; ELB's "Security groups for your Application Load Balancer" allows either the group or the VPC
    CIDR)."""
    ec2, elb = net.aws("ec2"), net.aws("elbv2")
    by_cidr = ec2.create_security_group(GroupName=f"{PREFIX}-cidr", Description="cidr", VpcId=net.vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=by_cidr, IpPermissions=ingress(APP_PORT, cidr="10.77.0.0/16")
    )
    group = target_group_for(elb, net.vpc, "cidr")
    attach(net, group, 6)
    service(net, "cidr", group, by_cidr)
    wait_for(lambda: healthy(net, group), 60, "the targets admitted by CIDR to be healthy")


@pytest.fixture(scope="module")
def database(net: Vpc) -> Iterator[dict[str, Any]]:
    """A PostgreSQL instance in the VPC whose group admits 5432 from the app's group only, with one row."""
    rds = net.aws("rds")
    db_group = new_group(net, "db")
    net.aws("ec2").authorize_security_group_ingress(
        GroupId=db_group, IpPermissions=ingress(5432, group=net.app_group)
    )
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"{PREFIX}-db", DBSubnetGroupDescription="db", SubnetIds=net.subnets
    )
    identifier = f"{PREFIX}-db"
    rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        DBName=f"{PREFIX}app",
        MasterUsername="app",
        MasterUserPassword="sandbox-password",
        DBSubnetGroupName=f"{PREFIX}-db",
        VpcSecurityGroupIds=[db_group],
    )
    described = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    endpoint = described["Endpoint"]
    url = f"postgresql://app:sandbox-password@{endpoint['Address']}:{endpoint['Port']}/{described['DBName']}"
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:  # the operator, from outside
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text, quantity int)")
        conn.execute("INSERT INTO items VALUES (1, 'widget', 3)")
    yield {"url": url, "group": db_group}
    rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)


def task_with_database(net: Vpc, name: str, group: str, url: str) -> dict[str, Any]:
    """A service of one task (no load balancer) in ``group`` with ``DATABASE_URL``; its task, running."""
    ecs = net.aws("ecs")
    definition = register(ecs, f"{PREFIX}-{name}", {"DATABASE_URL": url})
    ecs.create_service(
        cluster=net.cluster,
        serviceName=name,
        taskDefinition=definition,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": net.subnets, "securityGroups": [group]}},
    )

    def running() -> dict[str, Any] | None:
        tasks = [t for t in net.sandbox.tasks() if t["service"] == name and t["state"] == "RUNNING"]
        return tasks[0] if tasks else None

    return wait_for(running, 30, f"the {name} task to run")


def items(task: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    """The task's ``/items`` (read from its database): status, body, seconds it took."""
    started = time.monotonic()
    status, body = get(f"http://{task['ip']}:{task['port']}/items", timeout=15)
    return status, json.loads(body), time.monotonic() - started


def test_a_task_whose_group_the_database_admits_reads_it(net: Vpc, database: dict[str, Any]) -> None:
    """The allowed path: the database's group admits 5432 from the app's group (RDS's "Controlling access
    with security groups": a VPC security group rule naming the application's group)."""
    task = task_with_database(net, "db-in", net.app_group, database["url"])
    status, body, _ = items(task)
    assert status == 200, body
    assert body["items"] == [{"id": 1, "name": "widget", "quantity": 3}]


def test_a_task_whose_group_the_database_does_not_admit_times_out(net: Vpc, database: dict[str, Any]) -> None:
    """A task in a group the database's group does not name: its connection is dropped and times out (the
    app's connect_timeout is 3 s), not refused by PostgreSQL (RDS's "Controlling access with security
    groups"; AWS's VPC guide, "Security group rules": what no rule allows is dropped). A rule admitting its
    group then lets the next connection through."""
    outsider = new_group(net, "outsider")
    task = task_with_database(net, "db-out", outsider, database["url"])
    status, body, took = items(task)
    assert status == 503 and "timeout" in body["error"], body
    assert took >= 2.5  # the app waited out its connect_timeout: nothing answered
    net.aws("ec2").authorize_security_group_ingress(
        GroupId=database["group"], IpPermissions=ingress(5432, group=outsider)
    )
    status, body, _ = items(task)
    assert status == 200, body
