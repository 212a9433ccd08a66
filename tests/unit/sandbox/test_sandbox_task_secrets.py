"""A container's secrets, read as ECS reads them (sandbox/dataplane/tasks.py): as the task execution role,
which must exist, trust ecs-tasks.amazonaws.com for this account and allow the read (moto in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.dataplane.tasks import SecretError, container_environment

ACCOUNT, REGION = "123456789012", "eu-west-2"
TASK = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/cluster/0123abcd"


def trust(account: str = ACCOUNT) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        secret = secrets.create_secret(Name="app/db", SecretString=json.dumps({"password": "pw"}))["ARN"]
        ssm.put_parameter(Name="/app/redis", Value="redis://x", Type="SecureString")
        yield {"iam": boto3.client("iam", region_name="us-east-1"), "secret": secret}


def make_role(aws: dict[str, Any], name: str, trust_policy: str, resources: list[str]) -> str:
    arn = aws["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)["Role"]["Arn"]
    statement = {
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
        "Resource": resources,
    }
    aws["iam"].put_role_policy(
        RoleName=name,
        PolicyName="reads",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return str(arn)


def container(aws: dict[str, Any]) -> dict[str, Any]:
    return {
        "environment": [{"name": "PLAIN", "value": "1"}],
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": f"{aws['secret']}:password::"},
            {"name": "DB_PARTIAL", "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/db"},
            {"name": "REDIS_URL", "valueFrom": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/redis"},
        ],
    }


def test_the_execution_role_reads_what_its_policy_allows(aws: dict[str, Any]) -> None:
    resources = [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/*",
        f"arn:aws:ssm:*:{ACCOUNT}:parameter/app/*",
    ]
    role = make_role(aws, "execution", trust(), resources)
    env = container_environment(ACCOUNT, REGION, container(aws), role, TASK)
    assert env["DB_PASSWORD"] == "pw" and env["REDIS_URL"] == "redis://x" and env["PLAIN"] == "1"
    assert json.loads(env["DB_PARTIAL"]) == {"password": "pw"}  # a partial ARN is the secret's own ARN to IAM


def test_no_secrets_need_no_role(aws: dict[str, Any]) -> None:
    assert container_environment(ACCOUNT, REGION, {"environment": []}, None, TASK) == {}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "ssm-only",
            "unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch",
        ),
        ("other-account", "ECS was unable to assume the role"),
        ("missing", "ECS was unable to assume the role"),
        ("none", "you must also specify a value for 'executionRoleArn'"),
    ],
)
def test_reads_the_role_may_not_make_are_refused(aws: dict[str, Any], case: str, message: str) -> None:
    role: str | None
    if case == "ssm-only":
        role = make_role(aws, "execution", trust(), [f"arn:aws:ssm:*:{ACCOUNT}:parameter/app/*"])
    elif case == "other-account":
        role = make_role(aws, "execution", trust("444455556666"), ["*"])
    elif case == "missing":
        role = f"arn:aws:iam::{ACCOUNT}:role/nothing"
    else:
        role = None
    with pytest.raises(SecretError) as refused:
        container_environment(ACCOUNT, REGION, container(aws), role, TASK)
    text = str(refused.value)
    assert text.startswith("unable to pull secrets or registry auth: execution resource retrieval failed: ")
    assert message in text
    if case == "ssm-only":
        assert text.endswith(
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/execution/0123abcd is not authorized to perform: "
            f"secretsmanager:GetSecretValue on resource: {aws['secret']} "
            "because no identity-based policy allows the secretsmanager:GetSecretValue action"
        )
