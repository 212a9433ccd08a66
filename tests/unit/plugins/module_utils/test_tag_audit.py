"""The tag audit's pure logic: resource types from ARNs, owned names, and which IAM roles and secrets count
as the project's (fake clients answer the list calls)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._tag_audit import (
    Inventory,
    Resource,
    arn_resource_id,
    arn_type,
    audit,
    owned_name,
)

A = "123456789012"
R = "eu-west-2"


# Real ARN shapes of every service the audit covers or the Tagging API returns for this collection.
@pytest.mark.parametrize(
    "arn, expected",
    [
        (f"arn:aws:ec2:{R}:{A}:vpc/vpc-0abc", "ec2:vpc"),
        (f"arn:aws:ec2:{R}:{A}:subnet/subnet-0abc", "ec2:subnet"),
        (f"arn:aws:ec2:{R}:{A}:security-group/sg-0abc", "ec2:security-group"),
        (f"arn:aws:ec2:{R}:{A}:natgateway/nat-0abc", "ec2:natgateway"),
        (f"arn:aws:ec2:{R}:{A}:elastic-ip/eipalloc-0abc", "ec2:elastic-ip"),
        (f"arn:aws:ec2:{R}:{A}:vpc-endpoint/vpce-0abc", "ec2:vpc-endpoint"),
        (
            f"arn:aws:elasticloadbalancing:{R}:{A}:loadbalancer/app/macroai-production/50dc6c495c0c9188",
            "elasticloadbalancing:loadbalancer",
        ),
        (
            f"arn:aws:elasticloadbalancing:{R}:{A}:targetgroup/macroai-production-blue/6d0ecf831eec9f09",
            "elasticloadbalancing:targetgroup",
        ),
        (
            f"arn:aws:elasticloadbalancing:{R}:{A}:listener/app/macroai-production/50dc6c495c0c9188/f2f7dc8efc522ab2",
            "elasticloadbalancing:listener",
        ),
        (f"arn:aws:ecs:{R}:{A}:cluster/macroai-production", "ecs:cluster"),
        (f"arn:aws:ecs:{R}:{A}:service/macroai-production/macroai-production-api", "ecs:service"),
        (f"arn:aws:ecs:{R}:{A}:task-definition/macroai-production-api:3", "ecs:task-definition"),
        (f"arn:aws:logs:{R}:{A}:log-group:/ecs/macroai-production/api", "logs:log-group"),
        (f"arn:aws:logs:{R}:{A}:log-group:/ecs/macroai-production/api:*", "logs:log-group"),
        (f"arn:aws:ecr:{R}:{A}:repository/macroai/production/api", "ecr:repository"),
        (f"arn:aws:iam::{A}:role/macroai-production-api-task", "iam:role"),
        (f"arn:aws:iam::{A}:role/service-role/macroai-production-x", "iam:role"),
        (f"arn:aws:secretsmanager:{R}:{A}:secret:macroai/production/db-AbCdEf", "secretsmanager:secret"),
        (f"arn:aws:sns:{R}:{A}:macroai-production-alarms", "sns:topic"),
        (
            f"arn:aws:sns:{R}:{A}:macroai-production-alarms:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "sns:subscription",
        ),
        (f"arn:aws:cloudwatch:{R}:{A}:alarm:macroai-production-api-cpu", "cloudwatch:alarm"),
        (f"arn:aws:budgets::{A}:budget/macroai-production-monthly", "budgets:budget"),
        (f"arn:aws:amplify:{R}:{A}:apps/d2abc123", "amplify:apps"),
        (f"arn:aws:acm:us-east-1:{A}:certificate/12345678-1234-1234-1234-123456789012", "acm:certificate"),
        (f"arn:aws:wafv2:{R}:{A}:regional/webacl/macroai-production/a1b2c3d4", "wafv2:webacl"),
        ("arn:aws:s3:::macroai-production-releases", "s3:bucket"),
        ("arn:aws:s3:::macroai-production-releases/client/abc.zip", "s3:object"),
        (f"arn:aws:ssm:{R}:{A}:parameter/macroai/production/api-key", "ssm:parameter"),
        (f"arn:aws:rds:{R}:{A}:db:macroai-production", "rds:db"),
        (f"arn:aws:elasticache:{R}:{A}:cluster:macroai-production", "elasticache:cluster"),
        ("arn:aws:route53:::hostedzone/Z0123456789ABC", "route53:hostedzone"),
        (f"arn:aws:sqs:{R}:{A}:macroai-production-jobs", "sqs:queue"),
    ],
)
def test_arn_type(arn: str, expected: str):
    assert arn_type(arn) == expected


def test_arn_type_leaves_a_non_arn_alone():
    assert arn_type("subnet-0abc") == "subnet-0abc"


def test_arn_resource_id_is_the_ec2_id_or_the_arn():
    assert arn_resource_id(f"arn:aws:ec2:{R}:{A}:subnet/subnet-0abc") == "subnet-0abc"
    arn = f"arn:aws:iam::{A}:role/macroai-production-api-task"
    assert arn_resource_id(arn) == arn


@pytest.mark.parametrize(
    "name, prefix, owned",
    [
        ("macroai-production", "macroai-production", True),
        ("macroai-production-api-task", "macroai-production", True),
        ("macroai/production/api", "macroai/production", True),
        ("macroai-production2", "macroai-production", False),
        ("macroai/production2/api", "macroai/production", False),
        (None, "macroai-production", False),
    ],
)
def test_owned_name(name, prefix, owned):
    assert owned_name(name, prefix) is owned


class FakeIam:
    def __init__(self, roles: dict[str, dict[str, str]]) -> None:
        self.roles = roles

    def list_roles(self, Marker: str | None = None) -> dict[str, Any]:
        names = sorted(self.roles)
        page = names[:2] if Marker is None else names[2:]  # two pages: the audit must follow Marker
        listed = {"Roles": [{"RoleName": n, "Arn": f"arn:aws:iam::{A}:role/{n}"} for n in page]}
        return {**listed, "Marker": "2"} if Marker is None and len(names) > 2 else listed

    def list_role_tags(self, RoleName: str) -> dict[str, Any]:
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.roles[RoleName].items()]}


FULL = {"Project": "macroai", "Environment": "production", "Scale": "hobby", "Component": "compute"}
FULL = {**FULL, "ManagedBy": "macroai.deploy"}


def test_roles_by_name_prefix_or_project_tag_and_not_other_environments():
    iam = FakeIam(
        {
            "macroai-production-api-task": FULL,
            "macroai-production-bare": {},
            "macroai-shared-deployer": {"Project": "macroai"},
            "macroai-staging-api-task": {**FULL, "Environment": "staging"},
            "macroai-staging-untagged": {},
            "other-production-role": {"Project": "macroai"},
        }
    )
    inventory = Inventory({"iam": iam}, "macroai", "production")
    names = sorted(r.name for r in inventory.roles())
    assert names == ["macroai-production-api-task", "macroai-production-bare", "macroai-shared-deployer",
                     "macroai-staging-api-task"]  # fmt: skip
    # resources() drops the staging one by its Environment tag; the audit then names the untagged ones.
    for source in ("tagged", "ec2", "load_balancing", "ecs", "log_groups", "repositories", "secrets"):
        setattr(inventory, source, lambda: iter(()))
    findings = audit(inventory.resources())
    assert [(f["name"], f["type"]) for f in findings] == [
        ("macroai-production-bare", "iam:role"),
        ("macroai-shared-deployer", "iam:role"),
    ]
    assert findings[1]["missing"] == ["Environment", "Scale", "Component", "ManagedBy"]


class FakeSecrets:
    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets
        self.filters: list[list[dict[str, Any]]] = []

    def list_secrets(self, Filters: list[dict[str, Any]]) -> dict[str, Any]:
        self.filters.append(Filters)
        listed = [
            {"Name": n, "ARN": f"arn:aws:secretsmanager:{R}:{A}:secret:{n}-AbCdEf", "Tags": [
                {"Key": k, "Value": v} for k, v in tags.items()]}
            for n, tags in self.secrets.items()
        ]  # fmt: skip
        return {"SecretList": listed}  # the audit filters again itself: AWS's name filter is a prefix match


def test_secrets_by_name_prefix_or_project_tag():
    secrets = FakeSecrets(
        {
            "macroai/production/db": FULL,
            "macroai/production/bare": {},
            "macroai-production-token": {},
            "macroai/production2/db": {},
            "shared/stripe": {"Project": "macroai"},
            "other/thing": {},
        }
    )
    found = list(Inventory({"secretsmanager": secrets}, "macroai", "production").secrets())
    assert sorted({r.name for r in found}) == [
        "macroai-production-token",
        "macroai/production/bare",
        "macroai/production/db",
        "shared/stripe",
    ]
    assert {r.type for r in found} == {"secretsmanager:secret"}
    assert secrets.filters[0] == [{"Key": "name", "Values": ["macroai/production", "macroai-production"]}]


def test_a_resource_found_twice_keeps_the_first_tags_and_gains_a_name():
    inventory = Inventory({}, "macroai", "production")
    arn = f"arn:aws:ecr:{R}:{A}:repository/macroai/production/api"
    inventory.tagged = lambda: iter([Resource(arn, "ecr:repository", dict(FULL), arn=arn)])
    inventory.repositories = lambda: iter([Resource(arn, "ecr:repository", dict(FULL), arn=arn, name="n")])
    for source in ("ec2", "load_balancing", "ecs", "log_groups", "roles", "secrets"):
        setattr(inventory, source, lambda: iter(()))
    (resource,) = inventory.resources()
    assert resource.name == "n" and resource.tags == FULL
