"""The IAM documents the roles write: trust policies limited to this account, the Amplify bucket policy with
the URL-encoded branch ARN; checked with the sandbox's evaluator, as AWS would evaluate them."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.macroai.deploy.plugins.filter.iam_policies import (
    FilterModule,
    amplify_release_bucket_policy,
    service_trust_policy,
)

from sandbox.aws import iam
from sandbox.aws.amplify import amplify_source

ACCOUNT = "111122223333"
BRANCH = f"arn:aws:amplify:eu-west-2:{ACCOUNT}:apps/d123/branches/main"


def test_the_filters_are_registered() -> None:
    assert set(FilterModule().filters()) == {"service_trust_policy", "amplify_release_bucket_policy"}


@pytest.mark.parametrize("service", ["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"])
def test_trust_policies_admit_this_accounts_ecs_only(service: str) -> None:
    document = service_trust_policy(service, ACCOUNT, "aws", "eu-west-2")
    role = f"arn:aws:iam::{ACCOUNT}:role/app"
    task = f"arn:aws:ecs:eu-west-2:{ACCOUNT}:task/cluster/0123"
    assert document["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:eu-west-2:{ACCOUNT}:*"},
    }
    assert iam.trusts(document, service, role, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": task})
    other = task.replace(ACCOUNT, "444455556666")
    assert not iam.trusts(
        document, service, role, {"aws:SourceAccount": "444455556666", "aws:SourceArn": other}
    )
    assert not iam.trusts(document, service, role, {"aws:SourceArn": task})  # no aws:SourceAccount sent
    assert not iam.trusts(document, "ec2.amazonaws.com", role, {"aws:SourceAccount": ACCOUNT})


def test_trust_policy_needs_an_account_id() -> None:
    with pytest.raises(AnsibleFilterError, match="account_id"):
        service_trust_policy("ecs.amazonaws.com", "to-be-created", "aws", "eu-west-2")


def test_the_bucket_policy_lets_amplify_read_for_this_branch_only() -> None:
    document = amplify_release_bucket_policy("web-releases", BRANCH)
    (statement,) = document["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": ACCOUNT,
        "aws:SourceArn": "arn%3Aaws%3Aamplify%3Aeu-west-2%3A111122223333%3Aapps%2Fd123%2Fbranches%2Fmain",
    }
    principal = iam.Principal("Service", "amplify.amazonaws.com")
    read = iam.Request(
        "s3:GetObject", "arn:aws:s3:::web-releases/client/a.zip", amplify_source(BRANCH), principal
    )
    assert iam.evaluate([document], read, resource_based=True) is iam.Decision.ALLOW
    preview = amplify_source(BRANCH.replace("main", "preview"))
    for denied in (
        iam.Request(read.action, read.resource, preview, principal),
        iam.Request("s3:PutObject", read.resource, read.context, principal),
        iam.Request(read.action, "arn:aws:s3:::other/client/a.zip", read.context, principal),
        iam.Request(
            read.action, read.resource, read.context, iam.Principal("Service", "cloudfront.amazonaws.com")
        ),
    ):
        assert iam.evaluate([document], denied, resource_based=True) is iam.Decision.IMPLICIT_DENY


def test_bucket_policy_needs_a_branch_arn() -> None:
    with pytest.raises(AnsibleFilterError, match="branch_arn"):
        amplify_release_bucket_policy("web-releases", "main")
