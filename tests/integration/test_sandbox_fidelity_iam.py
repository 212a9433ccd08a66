"""IAM where the sandbox's ECS and Amplify act for the account: each test is a case AWS refuses, refused the
same way (the sources are in the docstrings), and the collection's own policies pass.

The ECS cases run one-off tasks (RunTask: the task stops at once when ECS cannot read its secrets),
CreateService calls, and one blue/green service whose infrastructure role loses its load-balancer permissions;
the Amplify cases deploy a zip from S3 through StartDeployment's ``sourceUrl``. Names
carry a unique prefix; everything is deleted at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support import REGION, REPO_ROOT, aws_client, delete_role, open_security_group

from sandbox.client import SandboxClient

sys.path.insert(
    0, str(REPO_ROOT / ".collections")
)  # the collection's own policy documents, as the roles use them
from ansible_collections.macroai.deploy.plugins.filter.iam_policies import (  # noqa: E402
    amplify_release_bucket_policy,
    service_trust_policy,
)

pytestmark = pytest.mark.integration

PREFIX = f"fid{uuid.uuid4().hex[:6]}"
ACCOUNT = "123456789012"  # moto's account
ASM_STEM = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
    "failed: unable to retrieve secret from asm: "
)
SSM_STEM = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
    "failed: unable to retrieve secrets from ssm: "
)


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def reads(*arns: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
        "Resource": list(arns),
    }


@pytest.fixture(scope="module")
def ecs_setup(sandbox: SandboxClient) -> Iterator[dict[str, Any]]:
    ecs, secrets, ssm = (aws_client(sandbox, s) for s in ("ecs", "secretsmanager", "ssm"))
    ecs.create_cluster(clusterName=PREFIX)
    secret = secrets.create_secret(Name=f"{PREFIX}/DATABASE_URL", SecretString="postgres://db/app")["ARN"]
    other = secrets.create_secret(Name=f"{PREFIX}-other/TOKEN", SecretString="t0ken")["ARN"]
    ssm.put_parameter(Name=f"/{PREFIX}/redis_url", Value="redis://cache", Type="SecureString")
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{PREFIX}/redis_url"
    yield {"ecs": ecs, "secret": secret, "other": other, "parameter": parameter, "roles": []}
    with contextlib.suppress(ClientError):
        ecs.delete_cluster(cluster=PREFIX)
    for arn in (secret, other):
        secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    ssm.delete_parameter(Name=f"/{PREFIX}/redis_url")


@pytest.fixture
def role(sandbox: SandboxClient) -> Iterator[Any]:
    """make(name, trust, *policies) -> role ARN; every role made is deleted afterwards."""
    iam, made = aws_client(sandbox, "iam"), []

    def make(name: str, trust: str, *policies: str) -> str:
        full = f"{PREFIX}-{name}"
        arn = iam.create_role(RoleName=full, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        made.append(full)
        for number, policy in enumerate(policies):
            iam.put_role_policy(RoleName=full, PolicyName=f"p{number}", PolicyDocument=policy)
        return str(arn)

    yield make
    for name in made:
        delete_role(sandbox, name)


def ecs_tasks_trust() -> str:
    """The collection's own trust policy for the execution role (roles/compute)."""
    return json.dumps(service_trust_policy("ecs-tasks.amazonaws.com", ACCOUNT, "aws", REGION))


def run_one_off(setup: dict[str, Any], secrets: list[dict[str, str]], execution_role: str | None) -> dict:
    ecs = setup["ecs"]
    definition = ecs.register_task_definition(
        family=f"{PREFIX}-api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        **({"executionRoleArn": execution_role} if execution_role else {}),
        containerDefinitions=[
            {
                "name": "api",
                "image": f"{PREFIX}/api:v1",
                "essential": True,
                "memory": 512,
                "command": ["python", "-c", "import time; time.sleep(30)"],
                "secrets": secrets,
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    (task,) = ecs.run_task(
        cluster=PREFIX,
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a"], "assignPublicIp": "ENABLED"}},
    )["tasks"]
    described = ecs.describe_tasks(cluster=PREFIX, tasks=[task["taskArn"]])["tasks"][0]
    if described["lastStatus"] != "STOPPED":
        ecs.stop_task(cluster=PREFIX, task=task["taskArn"], reason="test over")
    return described


def test_the_collections_execution_role_reads_its_secrets(ecs_setup: dict[str, Any], role: Any) -> None:
    """The trust policy roles/compute writes (ecs-tasks, aws:SourceAccount, aws:SourceArn) and a read of
    exactly these ARNs: the task starts (AWS's "Required IAM permissions for Amazon ECS secrets")."""
    arn = role("execution", ecs_tasks_trust(), document(reads(ecs_setup["secret"], ecs_setup["parameter"])))
    task = run_one_off(
        ecs_setup,
        [
            {"name": "DATABASE_URL", "valueFrom": ecs_setup["secret"]},
            {"name": "REDIS_URL", "valueFrom": ecs_setup["parameter"]},
        ],
        arn,
    )
    assert task["lastStatus"] != "STOPPED", task.get("stoppedReason")


def test_a_secret_outside_the_execution_roles_policy_stops_the_task(
    ecs_setup: dict[str, Any], role: Any
) -> None:
    """AWS's re:Post "How do I troubleshoot ResourceInitializationError ... pull secrets" and IAM's
    "Troubleshoot access denied error messages": the task stops with ResourceInitializationError, the Secrets
    Manager read refused with an AccessDeniedException naming the assumed role, the action and the secret."""
    arn = role("execution", ecs_tasks_trust(), document(reads(ecs_setup["secret"])))
    task = run_one_off(ecs_setup, [{"name": "TOKEN", "valueFrom": ecs_setup["other"]}], arn)
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "TaskFailedToStart"
    reason = task["stoppedReason"]
    assert reason.startswith(ASM_STEM), reason
    assert (
        f"failed to fetch secret {ecs_setup['other']} from secrets manager: AccessDeniedException: " in reason
    )
    assert f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{PREFIX}-execution/" in reason
    assert reason.endswith(
        f"is not authorized to perform: secretsmanager:GetSecretValue on resource: {ecs_setup['other']} "
        "because no identity-based policy allows the secretsmanager:GetSecretValue action"
    ), reason


def test_an_explicit_deny_on_a_parameter_stops_the_task(ecs_setup: dict[str, Any], role: Any) -> None:
    """IAM's "Policy evaluation logic": an explicit Deny overrides any Allow; ECS's SSM read is
    ssm:GetParameters on the parameter's ARN (AWS's "Required IAM permissions for Amazon ECS secrets")."""
    deny = {
        "Effect": "Deny",
        "Action": "ssm:GetParameters",
        "Resource": f"arn:aws:ssm:*:*:parameter/{PREFIX}/*",
    }
    arn = role("execution", ecs_tasks_trust(), document(reads("*"), deny))
    task = run_one_off(ecs_setup, [{"name": "REDIS_URL", "valueFrom": ecs_setup["parameter"]}], arn)
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"].startswith(
        SSM_STEM + "service call has been retried 1 time(s): AccessDeniedException"
    )
    assert task["stoppedReason"].endswith(
        f"ssm:GetParameters on resource: {ecs_setup['parameter']} "
        "with an explicit deny in an identity-based policy"
    )


@pytest.mark.parametrize(
    "trust",
    [
        # trusts ECS itself, not the tasks' agent (the infrastructure role's principal)
        document(
            {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
        # trusts ecs-tasks, but on behalf of another account only
        json.dumps(service_trust_policy("ecs-tasks.amazonaws.com", "444455556666", "aws", REGION)),
    ],
    ids=["wrong-service", "other-account"],
)
def test_an_execution_role_that_does_not_trust_this_accounts_tasks_stops_the_task(
    ecs_setup: dict[str, Any], role: Any, trust: str
) -> None:
    """ECS's own wording when it cannot assume a task's role ("ECS was unable to assume the role ... that was
    provided for this task"), and AWS's "Amazon ECS task execution IAM role" trust policy with
    aws:SourceAccount / aws:SourceArn: ECS sends this account, so another account's condition fails."""
    arn = role("execution", trust, document(reads("*")))
    task = run_one_off(ecs_setup, [{"name": "DATABASE_URL", "valueFrom": ecs_setup["secret"]}], arn)
    assert task["lastStatus"] == "STOPPED"
    assert (
        f"ECS was unable to assume the role '{arn}' that was provided for this task." in task["stoppedReason"]
    )
    assert task["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth"
    )


def test_a_missing_execution_role_stops_the_task(ecs_setup: dict[str, Any]) -> None:
    """A role that does not exist cannot be assumed; and secrets without any executionRoleArn are refused
    (AWS refuses the latter at RegisterTaskDefinition: "When you are specifying container secrets, you must
    also specify a value for 'executionRoleArn'"; the sandbox stops the task with those words)."""
    missing = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-missing"
    task = run_one_off(ecs_setup, [{"name": "DATABASE_URL", "valueFrom": ecs_setup["secret"]}], missing)
    assert f"ECS was unable to assume the role '{missing}'" in task["stoppedReason"]
    task = run_one_off(ecs_setup, [{"name": "DATABASE_URL", "valueFrom": ecs_setup["secret"]}], None)
    assert "you must also specify a value for 'executionRoleArn'" in task["stoppedReason"]


def blue_green_service(ecs: Any, role_arn: str) -> dict[str, Any]:
    definition = ecs.register_task_definition(
        family=f"{PREFIX}-svc",
        containerDefinitions=[{"name": "api", "image": f"{PREFIX}/api:v1", "essential": True, "memory": 256}],
    )["taskDefinition"]["taskDefinitionArn"]
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    return ecs.create_service(
        cluster=PREFIX,
        serviceName=f"{PREFIX}-svc",
        taskDefinition=definition,
        desiredCount=0,
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1},
        loadBalancers=[
            {
                "targetGroupArn": f"{elb}:targetgroup/{PREFIX}-blue/1",
                "containerName": "api",
                "containerPort": 3000,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": f"{elb}:targetgroup/{PREFIX}-green/2",
                    "productionListenerRule": f"{elb}:listener-rule/app/{PREFIX}/1/2/3",
                    "roleArn": role_arn,
                },
            }
        ],
    )


@pytest.mark.parametrize("case", ["missing", "trusts-ecs-tasks"])
def test_an_infrastructure_role_ecs_cannot_assume_is_refused(
    ecs_setup: dict[str, Any], role: Any, case: str
) -> None:
    """CreateService answers InvalidParameterException "ECS was unable to assume the configured ECS
    Infrastructure Role '...'. Please verify that the role being passed has the proper trust relationship
    with Amazon ECS." (ECS's wording); AWS's "Amazon ECS infrastructure IAM role for load balancers" guide:
    the role trusts ecs.amazonaws.com."""
    arn = (
        f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-no-such-role"
        if case == "missing"
        else role("infrastructure", ecs_tasks_trust())
    )
    with pytest.raises(ClientError) as refused:
        blue_green_service(ecs_setup["ecs"], arn)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"] == (
        f"ECS was unable to assume the configured ECS Infrastructure Role '{arn}'. "
        "Please verify that the role being passed has the proper trust relationship with Amazon ECS."
    )
    services = ecs_setup["ecs"].describe_services(cluster=PREFIX, services=[f"{PREFIX}-svc"])["services"]
    assert [s for s in services if s["status"] == "ACTIVE"] == []  # nothing was created


LOAD_BALANCER_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def blue_green(sandbox: SandboxClient, ecs_setup: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A BLUE_GREEN service behind a load balancer whose infrastructure role holds AWS's managed policy,
    serving its first revision; deleted afterwards."""
    ec2, elb, ecs, iam = (aws_client(sandbox, s) for s in ("ec2", "elbv2", "ecs", "iam"))
    name = f"{PREFIX}-bg"
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName=name, Description="fidelity", VpcId=vpc)["GroupId"]
    # The sandbox enforces security groups: the load balancer must reach the tasks on the app port.
    open_security_group(ec2, sg, [80])
    lb = elb.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[sg])["LoadBalancers"][0]
    groups = [
        elb.create_target_group(
            Name=f"{name}-{colour}",
            Protocol="HTTP",
            Port=3000,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=5,
            HealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in ("blue", "green")
    ]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    weights = [{"TargetGroupArn": groups[0], "Weight": 100}, {"TargetGroupArn": groups[1], "Weight": 0}]
    rule = elb.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": weights}}],
    )["Rules"][0]["RuleArn"]
    trust = document(
        {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=LOAD_BALANCER_POLICY)

    def definition(tag: str) -> str:
        return ecs.register_task_definition(
            family=name,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": f"example/app:{tag}",
                    "essential": True,
                    "memory": 256,
                    "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]

    ecs.create_service(
        cluster=PREFIX,
        serviceName=name,
        taskDefinition=definition("v1"),
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1},
        loadBalancers=[
            {
                "targetGroupArn": groups[0],
                "containerName": "app",
                "containerPort": 3000,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": groups[1],
                    "productionListenerRule": rule,
                    "roleArn": role,
                },
            }
        ],
    )

    def deployments() -> list[dict[str, Any]]:
        return ecs.list_service_deployments(cluster=PREFIX, service=name)["serviceDeployments"]

    wait_for(lambda: deployments() and deployments()[0]["status"] == "SUCCESSFUL", 90, "the first deployment")
    yield {
        "ecs": ecs,
        "elb": elb,
        "iam": iam,
        "name": name,
        "role": role,
        "rule": rule,
        "groups": groups,
        "definition": definition,
    }
    with contextlib.suppress(ClientError):
        ecs.update_service(cluster=PREFIX, service=name, desiredCount=0)
        ecs.delete_service(cluster=PREFIX, service=name, force=True)
    delete_role(sandbox, name)
    for step in (
        lambda: elb.delete_listener(ListenerArn=listener),
        lambda: elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"]),
        *[lambda arn=arn: elb.delete_target_group(TargetGroupArn=arn) for arn in groups],
        lambda: ec2.delete_security_group(GroupId=sg),
        *[lambda subnet=subnet: ec2.delete_subnet(SubnetId=subnet) for subnet in subnets],
        lambda: ec2.delete_vpc(VpcId=vpc),
    ):
        with contextlib.suppress(ClientError):
            step()


def test_an_infrastructure_role_without_the_load_balancer_permissions_rolls_back(
    blue_green: dict[str, Any],
) -> None:
    """AWS's "Amazon ECS infrastructure IAM role for load balancers": ECS moves a blue/green deployment's
    traffic as this role (ModifyRule on the listener rules, Register/DeregisterTargets, the Describe calls of
    AmazonECSInfrastructureRolePolicyForLoadBalancers). Without them the deployment cannot shift traffic: it
    rolls back, naming the refused call in IAM's AccessDenied wording, and production keeps its revision."""
    ecs, name = blue_green["ecs"], blue_green["name"]
    blue_green["iam"].detach_role_policy(RoleName=name, PolicyArn=LOAD_BALANCER_POLICY)
    before = {
        d["serviceDeploymentArn"]
        for d in ecs.list_service_deployments(cluster=PREFIX, service=name)["serviceDeployments"]
    }
    ecs.update_service(cluster=PREFIX, service=name, taskDefinition=blue_green["definition"]("v2"))
    (arn,) = [
        d["serviceDeploymentArn"]
        for d in ecs.list_service_deployments(cluster=PREFIX, service=name)["serviceDeployments"]
        if d["serviceDeploymentArn"] not in before
    ]

    def finished() -> dict[str, Any] | None:
        found = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        return (
            found
            if found["status"].startswith("ROLLBACK_") and found["status"] != "ROLLBACK_IN_PROGRESS"
            else None
        )

    deployment = wait_for(finished, 60, "the deployment to roll back")
    assert deployment["status"] == "ROLLBACK_SUCCESSFUL"
    reason = deployment["statusReason"]
    assert reason.startswith("Service deployment rolled back: AccessDenied: User: arn:aws:sts::"), reason
    assert f"assumed-role/{name}/" in reason
    assert "is not authorized to perform: elasticloadbalancing:" in reason
    assert "because no identity-based policy allows" in reason
    rule = blue_green["elb"].describe_rules(RuleArns=[blue_green["rule"]])["Rules"][0]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {blue_green["groups"][0]: 100, blue_green["groups"][1]: 0}  # production stays on blue


# -- Amplify ---------------------------------------------------------------------------------------------


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def amplify_setup(sandbox: SandboxClient) -> Iterator[dict[str, Any]]:
    amplify, s3 = aws_client(sandbox, "amplify"), aws_client(sandbox, "s3")
    app = amplify.create_app(name=f"{PREFIX}-client", platform="WEB")["app"]
    branch = amplify.create_branch(appId=app["appId"], branchName="main", stage="PRODUCTION")["branch"]
    bucket = f"{PREFIX}-releases"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="client/v1.zip", Body=zipped({"index.html": b"<html>v1</html>"}))
    yield {
        "amplify": amplify,
        "s3": s3,
        "app_id": app["appId"],
        "branch_arn": branch["branchArn"],
        "bucket": bucket,
    }
    amplify.delete_app(appId=app["appId"])
    s3.delete_object(Bucket=bucket, Key="client/v1.zip")
    s3.delete_bucket(Bucket=bucket)


def deploy_from_s3(setup: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    """Put the bucket policy, deploy s3://bucket/client/v1.zip to the branch, and wait for the job's end."""
    setup["s3"].put_bucket_policy(Bucket=setup["bucket"], Policy=json.dumps(policy))
    amplify = setup["amplify"]
    job = amplify.start_deployment(
        appId=setup["app_id"],
        branchName="main",
        sourceUrl=f"s3://{setup['bucket']}/client/v1.zip",
        sourceUrlType="ZIP",
    )["jobSummary"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = amplify.get_job(appId=setup["app_id"], branchName="main", jobId=job["jobId"])["job"]
        if found["summary"]["status"] in ("SUCCEED", "FAILED", "CANCELLED"):
            return found
        time.sleep(0.2)
    raise AssertionError(f"job {job['jobId']} did not finish")


def test_the_collections_bucket_policy_lets_amplify_deploy(amplify_setup: dict[str, Any]) -> None:
    """The policy roles/edge writes: AWS's Amplify Hosting guide, "Creating a bucket policy to deploy a
    static website from S3 using the AWS SDKs" (amplify.amazonaws.com, aws:SourceAccount, and aws:SourceArn
    the URL-encoded branch ARN)."""
    policy = amplify_release_bucket_policy(amplify_setup["bucket"], amplify_setup["branch_arn"])
    job = deploy_from_s3(amplify_setup, policy)
    assert job["summary"]["status"] == "SUCCEED", job


@pytest.mark.parametrize("case", ["unencoded-source-arn", "other-source-account", "no-statement-for-amplify"])
def test_a_bucket_policy_amplify_does_not_match_fails_the_job(
    amplify_setup: dict[str, Any], case: str
) -> None:
    """The same guide: "In your bucket policy, the aws:SourceArn must be a URL-encoded (percent-encoding)
    branch ARN", with aws:SourceAccount the account. The ARN as it reads does not match what Amplify sends,
    nor does another account; with no statement for amplify.amazonaws.com nothing allows the read (IAM's
    "Policy evaluation logic": the implicit deny). S3 answers Access Denied and the job fails. (A policy with
    the encoded ARN and no aws:SourceAccount at all still matches, by the same logic: the sandbox lets it.)"""
    policy = amplify_release_bucket_policy(amplify_setup["bucket"], amplify_setup["branch_arn"])
    condition = policy["Statement"][0]["Condition"]["StringEquals"]
    if case == "unencoded-source-arn":
        condition["aws:SourceArn"] = amplify_setup["branch_arn"]
    elif case == "other-source-account":
        condition["aws:SourceAccount"] = "444455556666"
    else:
        policy["Statement"][0]["Principal"] = {"Service": "cloudfront.amazonaws.com"}
    job = deploy_from_s3(amplify_setup, policy)
    assert job["summary"]["status"] == "FAILED"
    reason = job["steps"][0]["statusReason"]
    assert "AccessDenied: Access Denied" in reason and "client/v1.zip" in reason, reason
