"""The sandbox's data plane against real boto3 calls, real task processes and real HTTP through the
listener proxies: BLUE_GREEN end to end under load, rollbacks (unhealthy, crash, alarm, stop), LINEAR and
CANARY weight steps, ROLLING, secrets reaching the task.

Timing assumes the default time scale (SANDBOX_TIME_SCALE=60: one minute of bake is one second)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from support import ecs_tasks_trust, open_security_group
from support import infrastructure_role as support_infrastructure_role

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

REGION = "eu-west-2"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
FINAL = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
ROLE_NAME = f"ecsInfrastructureRole-{uuid.uuid4().hex[:6]}"
ROLE = f"arn:aws:iam::123456789012:role/{ROLE_NAME}"


@pytest.fixture(scope="module")
def aws(sandbox: SandboxClient) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.base_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=NO_RETRIES,
        )

    return make


@pytest.fixture(scope="module", autouse=True)
def infrastructure_role(aws: Callable[[str], Any]) -> Iterator[str]:
    """The ECS infrastructure role the blue/green stacks name."""
    with support_infrastructure_role(aws("iam"), ROLE_NAME) as arn:
        yield arn


def get_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, None


def wait_for(predicate: Callable[[], Any], timeout: float, message: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message}")


@dataclass
class Load:
    """A bounded load loop against a URL: at most `rate` requests/s, at most `max_seconds`."""

    url: str
    rate: float = 25.0
    max_seconds: float = 60.0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            self.sent += 1
            try:
                status, body = get_json(self.url)
                if status != 200:
                    self.failed.append(f"HTTP {status}")
                elif not self.versions or self.versions[-1] != body["version"]:
                    self.versions.append(body["version"])
            except Exception as err:  # any transport error is a failed request
                self.failed.append(repr(err))
            self._stop.wait(max(0.0, 1.0 / self.rate - (time.monotonic() - started)))


@dataclass
class Stack:
    aws: Callable[[str], Any]
    sandbox: SandboxClient
    prefix: str
    cluster: str
    service: str
    blue: str
    green: str
    prod_rule: str
    test_rule: str
    prod_listener: str
    test_listener: str
    subnets: list[str]
    sg: str
    families: dict[str, str] = field(default_factory=dict)

    @property
    def ecs(self) -> Any:
        return self.aws("ecs")

    def url(self, listener_arn: str) -> str:
        for listener in self.sandbox.listeners():
            if listener["arn"] == listener_arn:
                return listener["url"]
        raise AssertionError(f"no proxy for {listener_arn}: {self.sandbox.listeners()}")

    @property
    def prod_url(self) -> str:
        return self.url(self.prod_listener)

    def version(self) -> str | None:
        status, body = get_json(self.prod_url + "/version")
        return body["version"] if status == 200 else None

    def task_definition(
        self,
        tag: str,
        env: dict[str, str] | None = None,
        secrets: list[dict] | None = None,
        execution_role: str | None = None,
    ) -> str:
        container: dict[str, Any] = {
            "name": "app",
            "image": f"example/app:{tag}",
            "essential": True,
            "memory": 256,
            "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
        }
        if secrets:
            container["secrets"] = secrets
        roles = {"executionRoleArn": execution_role} if execution_role else {}
        arn = self.ecs.register_task_definition(
            **roles,
            family=self.prefix,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )["taskDefinition"]["taskDefinitionArn"]
        self.families[tag] = arn
        return arn

    def weights(self, rule_arn: str | None = None) -> dict[str, int]:
        rule = self.aws("elbv2").describe_rules(RuleArns=[rule_arn or self.prod_rule])["Rules"][0]
        groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
        return {("blue" if g["TargetGroupArn"] == self.blue else "green"): g["Weight"] for g in groups}

    def deployments(self) -> list[dict[str, Any]]:
        briefs = self.ecs.list_service_deployments(cluster=self.cluster, service=self.service)[
            "serviceDeployments"
        ]
        return briefs

    def describe(self, arn: str) -> dict[str, Any]:
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]

    def latest(self) -> dict[str, Any]:
        return self.describe(self.deployments()[0]["serviceDeploymentArn"])

    def update(self, task_definition: str, **extra: Any) -> dict[str, Any]:
        before = {d["serviceDeploymentArn"] for d in self.deployments()}
        service = self.ecs.update_service(
            cluster=self.cluster, service=self.service, taskDefinition=task_definition, **extra
        )["service"]
        new = [d for d in self.deployments() if d["serviceDeploymentArn"] not in before]
        assert len(new) == 1, new
        service["_deployment_arn"] = new[0]["serviceDeploymentArn"]
        return service

    def wait_final(self, arn: str, timeout: float = 60.0) -> dict[str, Any]:
        return wait_for(
            lambda: (d := self.describe(arn))["status"] in FINAL and d, timeout, f"deployment {arn} to finish"
        )

    def wait_stage(self, arn: str, stage: str, timeout: float = 30.0) -> dict[str, Any]:
        return wait_for(
            lambda: (d := self.describe(arn)).get("lifecycleStage") == stage and d, timeout, stage
        )

    def live_tasks(self, version: str | None = None) -> list[dict[str, Any]]:
        return [
            t
            for t in self.sandbox.tasks()
            if t["service"] == self.service
            and t["state"] != "STOPPED"
            and (version is None or t["version"] == version)
        ]


def build_stack(
    aws: Callable[[str], Any],
    sandbox: SandboxClient,
    strategy: str = "BLUE_GREEN",
    config: dict[str, Any] | None = None,
    desired: int = 2,
    load_balanced: bool = True,
    first_tag: str = "v1",
) -> Stack:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    ec2, elb, ecs = aws("ec2"), aws("elbv2"), aws("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName=prefix, Description="sandbox test", VpcId=vpc)["GroupId"]
    open_security_group(ec2, sg, (80, 8080))
    lb = elb.create_load_balancer(Name=prefix, Subnets=subnets, SecurityGroups=[sg], Type="application")
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]

    def group(name: str) -> str:
        arn = elb.create_target_group(
            Name=f"{prefix}-{name}",
            Protocol="HTTP",
            Port=3000,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
        )
        return arn

    blue, green = group("blue"), group("green")
    not_found = {
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no route"},
    }
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": blue, "Weight": 100}, {"TargetGroupArn": green, "Weight": 0}]
        },
    }
    listeners, rules = [], []
    for port in (80, 8080):
        listener = elb.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port, DefaultActions=[not_found]
        )
        listener_arn = listener["Listeners"][0]["ListenerArn"]
        listeners.append(listener_arn)
        rule = elb.create_rule(
            ListenerArn=listener_arn,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
            Actions=[forward],
        )
        rules.append(rule["Rules"][0]["RuleArn"])
    ecs.create_cluster(clusterName=prefix)
    stack = Stack(
        aws,
        sandbox,
        prefix,
        prefix,
        f"{prefix}-api",
        blue,
        green,
        rules[0],
        rules[1],
        *listeners,
        subnets,
        sg,
    )
    first = stack.task_definition(first_tag)
    deployment_configuration = {"strategy": strategy, "maximumPercent": 200, "minimumHealthyPercent": 100}
    deployment_configuration.update(config or {})
    balancer: dict[str, Any] = {"targetGroupArn": blue, "containerName": "app", "containerPort": 3000}
    if strategy != "ROLLING":
        balancer["advancedConfiguration"] = {
            "alternateTargetGroupArn": green,
            "productionListenerRule": rules[0],
            "testListenerRule": rules[1],
            "roleArn": ROLE,
        }
    ecs.create_service(
        cluster=prefix,
        serviceName=stack.service,
        taskDefinition=first,
        desiredCount=desired,
        launchType="FARGATE",
        loadBalancers=[balancer] if load_balanced else [],
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
        deploymentConfiguration=deployment_configuration,
    )
    return stack


def teardown(stack: Stack) -> None:
    ecs = stack.ecs
    ecs.update_service(cluster=stack.cluster, service=stack.service, desiredCount=0)
    ecs.delete_service(cluster=stack.cluster, service=stack.service, force=True)
    wait_for(lambda: not stack.live_tasks(), 20, "tasks of the deleted service to stop")


@pytest.fixture(scope="module")
def bg(aws: Callable[[str], Any], sandbox: SandboxClient) -> Iterator[Stack]:
    """A BLUE_GREEN service (bake 1 min = 1 s) serving v1 through its production listener."""
    stack = build_stack(aws, sandbox, "BLUE_GREEN", {"bakeTimeInMinutes": 1})
    stack.wait_final(stack.deployments()[0]["serviceDeploymentArn"])
    wait_for(lambda: stack.version() == "v1", 30, "v1 to serve through the production listener")
    yield stack
    teardown(stack)


def test_create_service_keeps_deployment_configuration_and_serves_v1(bg: Stack) -> None:
    service = bg.ecs.describe_services(cluster=bg.cluster, services=[bg.service])["services"][0]
    assert service["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert service["deploymentConfiguration"]["bakeTimeInMinutes"] == 1
    assert service["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"] == bg.green
    assert service["runningCount"] == 2
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert bg.deployments()[0]["status"] == "SUCCESSFUL"
    health = bg.aws("elbv2").describe_target_health(TargetGroupArn=bg.blue)["TargetHealthDescriptions"]
    assert [h["TargetHealth"]["State"] for h in health] == ["healthy", "healthy"]
    tasks = bg.ecs.list_tasks(cluster=bg.cluster, serviceName=bg.service)["taskArns"]
    described = bg.ecs.describe_tasks(cluster=bg.cluster, tasks=tasks)["tasks"]
    assert {t["lastStatus"] for t in described} == {"RUNNING"}
    # each task its own private IP (127.10.x.y), which its target registration names
    private_ips = {
        detail["value"]
        for t in described
        for attachment in t["attachments"]
        for detail in attachment["details"]
        if detail["name"] == "privateIPv4Address"
    }
    assert len(private_ips) == 2 and all(ip.startswith("127.10.") for ip in private_ips)
    assert {h["Target"]["Id"] for h in health} == private_ips
    assert {t["taskDefinitionArn"] for t in described} == {bg.families["v1"]}
    # the default action of the production listener answers when no rule matches? "/*" matches all paths
    status, _ = get_json(bg.url(bg.test_listener) + "/version")
    assert status == 200


def test_blue_green_release_under_load_drops_nothing(bg: Stack) -> None:
    v2 = bg.task_definition("v2")
    started = time.monotonic()
    with Load(bg.prod_url + "/version", rate=25, max_seconds=60) as load:
        service = bg.update(v2)
        arn = service["_deployment_arn"]
        final = bg.wait_final(arn)
        elapsed = time.monotonic() - started
        time.sleep(0.5)
    print(f"\nBLUE_GREEN release: {elapsed:.2f}s; requests sent {load.sent}, failed {len(load.failed)}")
    assert final["status"] == "SUCCESSFUL", final
    assert load.failed == [], load.failed[:5]
    assert load.versions[-1] == "v2" and "v1" in load.versions
    assert bg.version() == "v2"
    assert final["lifecycleStage"] == "CLEAN_UP"
    assert final["targetServiceRevision"]["runningTaskCount"] == 2
    assert bg.weights() == {"blue": 0, "green": 100}
    assert bg.weights(bg.test_rule) == {"blue": 0, "green": 100}
    assert bg.live_tasks("v1") == []
    assert len(bg.live_tasks("v2")) == 2
    service = bg.ecs.describe_services(cluster=bg.cluster, services=[bg.service])["services"][0]
    assert service["taskDefinition"] == v2
    assert [(d["status"], d["rolloutState"]) for d in service["deployments"]] == [("PRIMARY", "COMPLETED")]


def test_unhealthy_release_rolls_back_by_itself(bg: Stack) -> None:
    previous = bg.version()
    bad = bg.task_definition("v3", env={"APP_HEALTH": "fail"})
    started = time.monotonic()
    with Load(bg.prod_url + "/version", rate=25, max_seconds=60) as load:
        arn = bg.update(bad)["_deployment_arn"]
        final = bg.wait_final(arn)
    print(
        f"\nunhealthy rollback: {time.monotonic() - started:.2f}s; "
        f"sent {load.sent}, failed {len(load.failed)}"
    )
    assert final["status"] == "ROLLBACK_SUCCESSFUL", final
    assert "health" in final["statusReason"], final["statusReason"]
    assert final["rollback"]["serviceRevisionArn"] == final["sourceServiceRevisions"][0]["arn"]
    assert load.failed == [] and set(load.versions) == {previous}
    assert bg.version() == previous
    assert bg.live_tasks("v3") == []
    service = bg.ecs.describe_services(cluster=bg.cluster, services=[bg.service])["services"][0]
    assert service["taskDefinition"] == bg.families[previous]


def test_crashing_release_rolls_back(bg: Stack) -> None:
    previous = bg.version()
    bg.sandbox.add_task_fault(image_tag="v3c", mode="crash")
    try:
        arn = bg.update(bg.task_definition("v3c"))["_deployment_arn"]
        final = bg.wait_final(arn)
    finally:
        bg.sandbox.clear_task_faults()
    assert final["status"] == "ROLLBACK_SUCCESSFUL", final
    assert "failed" in final["statusReason"]
    assert final["deploymentCircuitBreaker"]["failureCount"] >= 3
    assert bg.version() == previous


def test_alarm_during_bake_rolls_back(bg: Stack) -> None:
    previous = bg.version()
    alarm = f"{bg.prefix}-5xx"
    cloudwatch = bg.aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    config = {"bakeTimeInMinutes": 10, "alarms": {"alarmNames": [alarm], "enable": True, "rollback": True}}
    arn = bg.update(bg.task_definition("v4"), deploymentConfiguration=config)["_deployment_arn"]
    bg.wait_stage(arn, "BAKE_TIME")
    assert bg.version() == "v4"
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    started = time.monotonic()
    wait_for(lambda: bg.version() == previous, 5, "production back on the previous version")
    flipped = time.monotonic() - started
    final = bg.wait_final(arn)
    print(f"\nalarm rollback: production back on {previous} in {flipped:.2f}s")
    assert final["status"] == "ROLLBACK_SUCCESSFUL", final
    assert alarm in final["statusReason"]
    assert final["alarms"]["triggeredAlarmNames"] == [alarm]
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    bg.ecs.update_service(
        cluster=bg.cluster,
        service=bg.service,
        deploymentConfiguration={
            "bakeTimeInMinutes": 1,
            "alarms": {"alarmNames": [alarm], "enable": False, "rollback": False},
        },
    )


def test_stop_service_deployment_during_bake_rolls_back_in_seconds(bg: Stack) -> None:
    previous = bg.version()
    arn = bg.update(bg.task_definition("v5"), deploymentConfiguration={"bakeTimeInMinutes": 10})[
        "_deployment_arn"
    ]
    bg.wait_stage(arn, "BAKE_TIME")
    assert bg.version() == "v5"
    with Load(bg.prod_url + "/version", rate=25, max_seconds=30) as load:
        started = time.monotonic()
        bg.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        wait_for(lambda: bg.version() == previous, 2, "production back on the previous version")
        flipped = time.monotonic() - started
        final = bg.wait_final(arn)
    print(
        f"\nstop-with-rollback: production back in {flipped:.2f}s; "
        f"sent {load.sent}, failed {len(load.failed)}"
    )
    assert final["status"] == "ROLLBACK_SUCCESSFUL", final
    assert "StopServiceDeployment" in final["statusReason"]
    assert load.failed == []
    assert bg.weights()[("blue" if bg.weights()["blue"] else "green")] == 100
    with pytest.raises(bg.ecs.exceptions.ClientError):
        bg.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")


def _observe_weights(stack: Stack, arn: str, timeout: float = 60) -> list[int]:
    """The green share of the production rule, each distinct value in the order seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    green_group = None
    while time.monotonic() < deadline:
        deployment = stack.describe(arn)
        weights = stack.weights()
        if green_group is None and deployment.get("lifecycleStage") not in (None, "PRE_SCALE_UP"):
            # the new revision goes to the group that had weight 0 when the deployment began
            green_group = "green" if weights["blue"] == 100 and not seen else green_group
        share = weights["green"] if green_group != "blue" else weights["blue"]
        if not seen or seen[-1] != share:
            seen.append(share)
        if deployment["status"] in FINAL:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"deployment {arn} did not finish; weights seen {seen}")


def test_linear_and_canary_move_weights_in_steps(aws: Callable[[str], Any], sandbox: SandboxClient) -> None:
    linear = {
        "bakeTimeInMinutes": 0,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
    }
    stack = build_stack(aws, sandbox, "LINEAR", linear, desired=1)
    try:
        wait_for(lambda: stack.version() == "v1", 30, "v1 to serve")
        arn = stack.update(stack.task_definition("v2"))["_deployment_arn"]
        seen = _observe_weights(stack, arn)
        assert stack.describe(arn)["status"] == "SUCCESSFUL"
        assert [w for w in seen if w not in (0,)] == [25, 50, 75, 100], seen
        assert stack.version() == "v2"
        canary = {
            "strategy": "CANARY",
            "canaryConfiguration": {"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 1},
        }
        arn = stack.update(stack.task_definition("v3"), deploymentConfiguration=canary)["_deployment_arn"]
        # v2 now lives in the green group: the canary goes to blue
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            share = stack.weights()["blue"]
            if not seen or seen[-1] != share:
                seen.append(share)
            if stack.describe(arn)["status"] in FINAL:
                break
            time.sleep(0.05)
        assert stack.describe(arn)["status"] == "SUCCESSFUL"
        assert [w for w in seen if w != 0] == [20, 100], seen
        assert stack.version() == "v3"
    finally:
        teardown(stack)


def test_rolling_deployment_completes(aws: Callable[[str], Any], sandbox: SandboxClient) -> None:
    stack = build_stack(
        aws, sandbox, "ROLLING", {"minimumHealthyPercent": 50, "maximumPercent": 200}, desired=2
    )
    try:
        wait_for(lambda: stack.version() == "v1", 30, "v1 to serve")
        with Load(stack.prod_url + "/version", rate=20, max_seconds=60) as load:
            arn = stack.update(stack.task_definition("v2"))["_deployment_arn"]
            final = stack.wait_final(arn)

            def completed() -> bool:
                service = stack.ecs.describe_services(cluster=stack.cluster, services=[stack.service])[
                    "services"
                ][0]
                deployments = service["deployments"]
                return len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED" and service

            service = wait_for(completed, 30, "rolloutState COMPLETED")
        print(f"\nROLLING: sent {load.sent}, failed {len(load.failed)}")
        assert final["status"] == "SUCCESSFUL"
        assert service["runningCount"] == 2 and service["taskDefinition"] == stack.families["v2"]
        assert load.failed == []
        assert stack.version() == "v2"
        assert stack.weights() == {"blue": 100, "green": 0}  # ROLLING never touches the weights
    finally:
        teardown(stack)


def test_secrets_from_ssm_and_secrets_manager_reach_the_task(
    aws: Callable[[str], Any], sandbox: SandboxClient
) -> None:
    stack = build_stack(aws, sandbox, "ROLLING", desired=1, load_balanced=False)
    try:
        prefix = stack.prefix
        aws("ssm").put_parameter(Name=f"/{prefix}/db_url", Value="postgres://db/app", Type="SecureString")
        secret = aws("secretsmanager").create_secret(
            Name=f"{prefix}/api", SecretString=json.dumps({"token": "s3cr3t"})
        )
        ssm_arn = f"arn:aws:ssm:{REGION}:123456789012:parameter/{prefix}/db_url"
        secrets = [
            {"name": "DATABASE_URL", "valueFrom": ssm_arn},
            {"name": "API_TOKEN", "valueFrom": f"{secret['ARN']}:token::"},
            {"name": "API_JSON", "valueFrom": secret["ARN"]},  # Secrets Manager needs the ARN
        ]
        env = {"APP_EXPOSE_ENV": "DATABASE_URL,API_TOKEN,API_JSON,PLAIN", "PLAIN": "plain"}
        # ECS reads them as the task execution role: it trusts ecs-tasks and may read these two.
        iam = aws("iam")
        role = iam.create_role(RoleName=f"{prefix}-execution", AssumeRolePolicyDocument=ecs_tasks_trust())
        role = role["Role"]["Arn"]
        reads = [
            {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": ssm_arn},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret["ARN"]},
        ]
        aws("iam").put_role_policy(
            RoleName=f"{prefix}-execution",
            PolicyName="reads",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": reads}),
        )
        definition = stack.task_definition("v2", env=env, secrets=secrets, execution_role=role)
        arn = stack.update(definition)["_deployment_arn"]
        assert stack.wait_final(arn)["status"] == "SUCCESSFUL"
        (task,) = stack.live_tasks("v2")
        base = f"http://{task['ip']}:{task['port']}/env/"
        assert get_json(base + "DATABASE_URL")[1]["value"] == "postgres://db/app"
        assert get_json(base + "API_TOKEN")[1]["value"] == "s3cr3t"
        assert json.loads(get_json(base + "API_JSON")[1]["value"]) == {"token": "s3cr3t"}
        assert get_json(base + "PLAIN")[1]["value"] == "plain"
        assert get_json(f"http://{task['ip']}:{task['port']}/version")[1] == {"version": "v2"}
    finally:
        teardown(stack)
        with contextlib.suppress(aws("iam").exceptions.NoSuchEntityException):
            aws("iam").delete_role_policy(RoleName=f"{stack.prefix}-execution", PolicyName="reads")
            aws("iam").delete_role(RoleName=f"{stack.prefix}-execution")


def test_status_json_lists_listener_urls(bg: Stack) -> None:
    from tests.integration.conftest import sandbox_status

    listeners = sandbox_status()["endpoints"]["listeners"]
    mine = {item["arn"]: item for item in listeners}
    assert mine[bg.prod_listener]["port"] == 80 and mine[bg.prod_listener]["load_balancer"] == bg.prefix
    assert mine[bg.test_listener]["port"] == 8080
    assert mine[bg.prod_listener]["url"].startswith("http://127.0.0.1:")
    status, _ = get_json(mine[bg.prod_listener]["url"] + "/version")
    assert status == 200
