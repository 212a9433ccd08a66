"""The sandbox's IAM policy evaluator (sandbox/aws/iam.py): AWS's "Policy evaluation logic", pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.aws import iam
from sandbox.aws.iam import Decision, Principal, Request

SECRET = "arn:aws:secretsmanager:eu-west-2:111122223333:secret:macroai/production/DATABASE_URL-AbCdEf"
BRANCH = "arn:aws:amplify:eu-west-2:111122223333:apps/d123/branches/main"
ENCODED_BRANCH = "arn%3Aaws%3Aamplify%3Aeu-west-2%3A111122223333%3Aapps%2Fd123%2Fbranches%2Fmain"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


READ = Request("secretsmanager:GetSecretValue", SECRET)


@pytest.mark.parametrize(
    ("documents", "decision"),
    [
        ([], Decision.IMPLICIT_DENY),
        ([policy(allow("secretsmanager:GetSecretValue", SECRET))], Decision.ALLOW),
        ([policy(allow("secretsmanager:getsecretvalue", SECRET))], Decision.ALLOW),  # actions: any case
        (
            [policy(allow("secretsmanager:Get*", "arn:aws:secretsmanager:*:*:secret:macroai/*"))],
            Decision.ALLOW,
        ),
        ([policy(allow("secretsmanager:GetSecretValu?", SECRET))], Decision.ALLOW),
        (
            [policy(allow("secretsmanager:*", "arn:aws:secretsmanager:*:*:secret:other/*"))],
            Decision.IMPLICIT_DENY,
        ),
        ([policy(allow("ssm:GetParameters", SECRET))], Decision.IMPLICIT_DENY),
        (
            [policy(allow("secretsmanager:GetSecretValue", SECRET.upper()))],
            Decision.IMPLICIT_DENY,
        ),  # resources: case
        ([policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})], Decision.ALLOW),
        (
            [policy({"Effect": "Allow", "NotAction": "secretsmanager:*", "Resource": "*"})],
            Decision.IMPLICIT_DENY,
        ),
        ([policy({"Effect": "Allow", "Action": "*", "NotResource": SECRET})], Decision.IMPLICIT_DENY),
        ([policy({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::*"})], Decision.ALLOW),
        # explicit Deny wins, in the same policy or another one
        ([policy(allow("*"), deny("secretsmanager:GetSecretValue", SECRET))], Decision.EXPLICIT_DENY),
        ([policy(allow("*")), policy(deny("secretsmanager:*"))], Decision.EXPLICIT_DENY),
        (
            [policy(allow("*")), policy(deny("secretsmanager:*", "arn:aws:secretsmanager:*:*:secret:x*"))],
            Decision.ALLOW,
        ),
        # a single statement (not a list) is a valid Statement element
        ([{"Version": "2012-10-17", "Statement": allow("secretsmanager:GetSecretValue")}], Decision.ALLOW),
        # a statement with neither Action nor NotAction never applies
        ([policy({"Effect": "Allow", "Resource": "*"})], Decision.IMPLICIT_DENY),
    ],
)
def test_identity_policies(documents: list[dict[str, Any]], decision: Decision) -> None:
    assert iam.evaluate(documents, READ) is decision


CONTEXT = {"aws:SourceAccount": "111122223333", "aws:SourceArn": ENCODED_BRANCH}


@pytest.mark.parametrize(
    ("condition", "context", "matches"),
    [
        ({"StringEquals": {"aws:SourceAccount": "111122223333"}}, CONTEXT, True),
        ({"StringEquals": {"aws:sourceaccount": "111122223333"}}, CONTEXT, True),  # key names: any case
        ({"StringEquals": {"aws:SourceAccount": "444455556666"}}, CONTEXT, False),
        (
            {"StringEquals": {"aws:SourceAccount": ["444455556666", "111122223333"]}},
            CONTEXT,
            True,
        ),  # any value
        ({"StringEquals": {"aws:SourceArn": BRANCH}}, CONTEXT, False),  # the unencoded ARN is another string
        (
            {"StringEquals": {"aws:SourceArn": ENCODED_BRANCH, "aws:SourceAccount": "1"}},
            CONTEXT,
            False,
        ),  # all keys
        (
            {"StringEquals": {"aws:SourceAccount": "111122223333"}, "StringLike": {"aws:SourceArn": "x*"}},
            CONTEXT,
            False,
        ),
        ({"StringLike": {"aws:SourceArn": "arn%3Aaws%3Aamplify%3A*"}}, CONTEXT, True),
        ({"StringEquals": {"aws:SourceAccount": "111122223333"}}, {}, False),  # a missing key does not match
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:*"}},
            {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:task/c/abc"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:444455556666:*"}},
            {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:task/c/abc"},
            False,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:service/c/api"}},
            {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:service/c/api"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:*"}},
            {"aws:SourceArn": "not-an-arn"},
            False,
        ),
        (
            {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
            {"aws:MultiFactorAuthAge": "1"},
            False,
        ),  # unmodelled
    ],
)
def test_conditions(condition: dict[str, Any], context: dict[str, str], matches: bool) -> None:
    request = Request("s3:GetObject", "arn:aws:s3:::b/k", context)
    assert iam.conditions_match(condition, request) is matches


def amplify_statement(**condition: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": "amplify.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::releases/*",
        "Condition": {"StringEquals": condition},
    }


AMPLIFY_READ = Request(
    "s3:GetObject",
    "arn:aws:s3:::releases/client/abc.zip",
    CONTEXT,
    Principal("Service", "amplify.amazonaws.com"),
)


@pytest.mark.parametrize(
    ("statement", "decision"),
    [
        (
            amplify_statement(**{"aws:SourceArn": ENCODED_BRANCH, "aws:SourceAccount": "111122223333"}),
            Decision.ALLOW,
        ),
        (
            amplify_statement(**{"aws:SourceArn": BRANCH, "aws:SourceAccount": "111122223333"}),
            Decision.IMPLICIT_DENY,
        ),
        (
            {**amplify_statement(), "Principal": {"Service": "cloudfront.amazonaws.com"}},
            Decision.IMPLICIT_DENY,
        ),
        ({**amplify_statement(), "Principal": "*"}, Decision.ALLOW),
        (
            {key: value for key, value in amplify_statement().items() if key != "Principal"},
            Decision.IMPLICIT_DENY,
        ),
        ({**amplify_statement(), "Resource": "arn:aws:s3:::other/*"}, Decision.IMPLICIT_DENY),
    ],
)
def test_bucket_policies_name_the_principal(statement: dict[str, Any], decision: Decision) -> None:
    assert iam.evaluate_access([], AMPLIFY_READ, resource=[policy(statement)]) is decision


def test_a_boundary_limits_identity_allows_and_any_deny_is_final() -> None:
    everything = [policy(allow("*"))]
    assert iam.evaluate_access(everything, READ, boundary=policy(allow("s3:*"))) is Decision.IMPLICIT_DENY
    assert iam.evaluate_access(everything, READ, boundary=policy(allow("secretsmanager:*"))) is Decision.ALLOW
    read_grant = policy({**allow("secretsmanager:*"), "Principal": {"AWS": "111122223333"}})
    role_read = Request(READ.action, READ.resource, {}, Principal("AWS", "arn:aws:iam::111122223333:role/x"))
    assert iam.evaluate_access([], role_read, resource=[read_grant]) is Decision.ALLOW
    assert (
        iam.evaluate_access([policy(deny("*"))], role_read, resource=[read_grant]) is Decision.EXPLICIT_DENY
    )


def trust(service: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return policy(statement)


ROLE = "arn:aws:iam::111122223333:role/app-execution"
TASK_CONTEXT = {
    "aws:SourceAccount": "111122223333",
    "aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:task/c/1",
}


@pytest.mark.parametrize(
    ("document", "service", "trusted"),
    [
        (trust("ecs-tasks.amazonaws.com"), "ecs-tasks.amazonaws.com", True),
        (trust("ecs.amazonaws.com"), "ecs-tasks.amazonaws.com", False),
        (
            trust("ecs-tasks.amazonaws.com", {"StringEquals": {"aws:SourceAccount": "111122223333"}}),
            "ecs-tasks.amazonaws.com",
            True,
        ),
        (
            trust("ecs-tasks.amazonaws.com", {"StringEquals": {"aws:SourceAccount": "444455556666"}}),
            "ecs-tasks.amazonaws.com",
            False,
        ),
        (
            trust(
                "ecs-tasks.amazonaws.com",
                {"ArnLike": {"aws:SourceArn": "arn:aws:ecs:eu-west-2:111122223333:*"}},
            ),
            "ecs-tasks.amazonaws.com",
            True,
        ),
        (
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ),
            "ecs-tasks.amazonaws.com",
            True,
        ),
        (
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:TagSession",
                }
            ),
            "ecs-tasks.amazonaws.com",
            False,
        ),
        (None, "ecs-tasks.amazonaws.com", False),
    ],
)
def test_trust_policies(document: dict[str, Any] | None, service: str, trusted: bool) -> None:
    assert iam.trusts(document, service, ROLE, TASK_CONTEXT) is trusted


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (
            "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*/*",
            "arn:aws:elasticloadbalancing:eu-west-2:111122223333:listener-rule/app/lb/50dc/f2f7/9683",
            True,
        ),
        (
            "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*/*",
            "arn:aws:elasticloadbalancing:eu-west-2:111122223333:listener/app/lb/50dc/f2f7",
            False,
        ),
        (
            "arn:aws:secretsmanager:*:*:secret:app/*",
            "arn:aws:secretsmanager:eu-west-2:1:secret:app/db:x",
            True,
        ),
        ("*", "anything", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ],
)
def test_arn_matching(pattern: str, arn: str, matches: bool) -> None:
    assert iam.arn_matches(pattern, arn) is matches


def test_denied_message_is_aws_wording() -> None:
    caller = iam.assumed_role_arn("arn:aws:iam::111122223333:role/service/app-execution", "task-1")
    assert caller == "arn:aws:sts::111122223333:assumed-role/app-execution/task-1"
    assert iam.denied_message(caller, "ssm:GetParameters", "arn:p", Decision.IMPLICIT_DENY) == (
        "User: arn:aws:sts::111122223333:assumed-role/app-execution/task-1 is not authorized to perform: "
        "ssm:GetParameters on resource: arn:p "
        "because no identity-based policy allows the ssm:GetParameters action"
    )
    assert iam.denied_message(caller, "a:B", "r", Decision.EXPLICIT_DENY).endswith(
        "with an explicit deny in an identity-based policy"
    )


def test_roles_are_read_from_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inline and attached managed policies (AWS's own included, as the sandbox loads them), and the trust."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        arn = client.create_role(
            RoleName="app-infrastructure", AssumeRolePolicyDocument=json.dumps(trust("ecs.amazonaws.com"))
        )["Role"]["Arn"]
        assert iam.find_role(arn.replace("app-infrastructure", "missing")) is None
        role = iam.find_role(arn)
        assert role is not None and iam.trusts(role.trust, "ecs.amazonaws.com", arn, {})
        modify = Request(
            "elasticloadbalancing:ModifyRule",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3",
        )
        assert iam.role_allows(role, modify) is Decision.IMPLICIT_DENY
        client.attach_role_policy(
            RoleName="app-infrastructure",
            PolicyArn="arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
        )
        role = iam.find_role(arn)
        assert role is not None and iam.role_allows(role, modify) is Decision.ALLOW
        client.put_role_policy(
            RoleName="app-infrastructure",
            PolicyName="no-rules",
            PolicyDocument=json.dumps(policy(deny("elasticloadbalancing:ModifyRule"))),
        )
        role = iam.find_role(arn)
        assert role is not None and iam.role_allows(role, modify) is Decision.EXPLICIT_DENY


def test_ecs_needs_the_load_balancer_permissions_of_its_infrastructure_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS's "Amazon ECS infrastructure IAM role for load balancers": the role trusts ecs.amazonaws.com and
    holds (at least) what AmazonECSInfrastructureRolePolicyForLoadBalancers grants."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    elb = "arn:aws:elasticloadbalancing:eu-west-2:123456789012"
    advanced = {"productionListenerRule": f"{elb}:listener-rule/app/lb/1/2/3", "roleArn": "x"}
    groups = [f"{elb}:targetgroup/blue/1", f"{elb}:targetgroup/green/2"]
    requests = iam.load_balancer_requests(advanced, groups)
    context = iam.ecs_source("123456789012", "eu-west-2", "cluster", "api")
    assert context["aws:SourceArn"] == "arn:aws:ecs:eu-west-2:123456789012:service/cluster/api"
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        missing = "arn:aws:iam::123456789012:role/missing"
        assert "unable to assume the configured ECS Infrastructure Role" in str(
            iam.infrastructure_role_refusal(missing, context)
        )
        arn = client.create_role(
            RoleName="infra", AssumeRolePolicyDocument=json.dumps(trust("ecs.amazonaws.com"))
        )["Role"]["Arn"]
        assert iam.infrastructure_role_refusal(arn, context) is None
        denial = iam.infrastructure_role_denial(arn, context, requests)
        assert denial is not None and denial.startswith(
            "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/"
        )
        assert "elasticloadbalancing:DescribeListeners" in denial
        client.put_role_policy(
            RoleName="infra",
            PolicyName="reads-only",
            PolicyDocument=json.dumps(
                policy(allow("elasticloadbalancing:Describe*"), allow("elasticloadbalancing:*Targets"))
            ),
        )
        denial = iam.infrastructure_role_denial(arn, context, requests)
        assert (
            denial is not None
            and f"elasticloadbalancing:ModifyRule on resource: {elb}:listener-rule" in denial
        )
        client.attach_role_policy(
            RoleName="infra",
            PolicyArn="arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
        )
        assert iam.infrastructure_role_denial(arn, context, requests) is None
        other = client.create_role(
            RoleName="tasks", AssumeRolePolicyDocument=json.dumps(trust("ecs-tasks.amazonaws.com"))
        )
        assert iam.infrastructure_role_refusal(other["Role"]["Arn"], context) is not None
