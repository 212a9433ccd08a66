"""ecr_repository and the tag audit's ECR, IAM and Secrets Manager coverage, against the sandbox.

The repository: check mode predicts it and writes nothing, the run creates it with its tags and lifecycle
policy, a rerun changes nothing, a tag change is applied (and purged). The audit: an untagged ECR
repository, IAM role and secret planted under a unique environment are found; tagged ones are not.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from support import aws_client, play_module

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

ENVIRONMENT = f"t{uuid.uuid4().hex[:6]}"
REPOSITORY = f"macroai/{ENVIRONMENT}/api"
TAGS = {
    "Project": "macroai",
    "Environment": ENVIRONMENT,
    "Scale": "hobby",
    "Component": "compute",
    "ManagedBy": "macroai.deploy",
}
POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep the newest 30 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        }
    ]
}
ARGS = {
    "name": REPOSITORY,
    "image_tag_mutability": "immutable",
    "scan_on_push": True,
    "lifecycle_policy": POLICY,
    "tags": TAGS,
}


def writes_since(sandbox: SandboxClient, started: float) -> list[str]:
    return [f"{r['service']}:{r['operation']}" for r in sandbox.requests(write=True, since=started)]


def repository_tags(sandbox: SandboxClient) -> dict[str, str]:
    ecr = aws_client(sandbox, "ecr")
    arn = ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["repositoryArn"]
    return {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_ecr_repository_check_create_rerun_retag(sandbox: SandboxClient, tmp_path: Path):
    ecr = aws_client(sandbox, "ecr")
    account = aws_client(sandbox, "sts").get_caller_identity()["Account"]

    started = time.time()
    predicted = play_module(sandbox, tmp_path, "macroai.deploy.ecr_repository", ARGS, "--check", "--diff")
    assert predicted["changed"] is True and predicted["created"] is True, predicted
    assert writes_since(sandbox, started) == [], "check mode wrote to AWS"
    assert REPOSITORY not in {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
    assert (
        predicted["repository"]["repositoryUri"] == f"{account}.dkr.ecr.eu-west-2.amazonaws.com/{REPOSITORY}"
    )
    assert predicted["diff"]["before"] == {} and predicted["diff"]["after"]["tags"] == TAGS

    created = play_module(sandbox, tmp_path, "macroai.deploy.ecr_repository", ARGS)
    assert created["changed"] is True, created
    # What check mode predicted is what was created.
    for key in ("repositoryArn", "repositoryUri", "imageTagMutability", "imageScanningConfiguration"):
        assert created["repository"][key] == predicted["repository"][key], key
    assert repository_tags(sandbox) == TAGS
    stored = json.loads(ecr.get_lifecycle_policy(repositoryName=REPOSITORY)["lifecyclePolicyText"])
    assert stored == POLICY

    started = time.time()
    # The policy as JSON text with the count as text: the same policy, so no change.
    same = {**ARGS, "lifecycle_policy": json.dumps(POLICY).replace(": 30", ': "30"')}
    rerun = play_module(sandbox, tmp_path, "macroai.deploy.ecr_repository", same)
    assert rerun["changed"] is False and rerun["actions"] == [], rerun
    assert writes_since(sandbox, started) == []

    retagged = {**TAGS, "Scale": "enterprise"}
    retagged.pop("ManagedBy")
    changed = play_module(sandbox, tmp_path, "macroai.deploy.ecr_repository", {**ARGS, "tags": retagged})
    assert changed["changed"] is True
    assert changed["actions"] == [
        f"tagged {REPOSITORY} with Scale",
        f"removed tag(s) ManagedBy from {REPOSITORY}",
    ]
    assert repository_tags(sandbox) == retagged
    ecr.delete_repository(repositoryName=REPOSITORY, force=True)


def test_tag_audit_finds_untagged_ecr_iam_and_secrets_and_not_tagged_ones(
    sandbox: SandboxClient, tmp_path: Path
):
    environment = f"a{uuid.uuid4().hex[:6]}"
    tags = [{"Key": k, "Value": environment if k == "Environment" else v} for k, v in TAGS.items()]
    ecr, iam, secrets = (aws_client(sandbox, s) for s in ("ecr", "iam", "secretsmanager"))
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    bare = {
        "ecr:repository": ecr.create_repository(repositoryName=f"macroai/{environment}/bare")["repository"][
            "repositoryArn"
        ],
        "iam:role": iam.create_role(RoleName=f"macroai-{environment}-bare", AssumeRolePolicyDocument=trust)[
            "Role"
        ]["Arn"],
        "secretsmanager:secret": secrets.create_secret(Name=f"macroai/{environment}/bare", SecretString="s")[
            "ARN"
        ],
    }
    ecr.create_repository(repositoryName=f"macroai/{environment}/api", tags=tags)
    iam.create_role(RoleName=f"macroai-{environment}-api-task", AssumeRolePolicyDocument=trust, Tags=tags)
    secrets.create_secret(Name=f"macroai/{environment}/db", SecretString="s", Tags=tags)
    try:
        result = play_module(
            sandbox, tmp_path, "macroai.deploy.tag_audit", {"project": "macroai", "environment": environment}
        )
    finally:
        ecr.delete_repository(repositoryName=f"macroai/{environment}/bare")
        ecr.delete_repository(repositoryName=f"macroai/{environment}/api")
        iam.delete_role(RoleName=f"macroai-{environment}-bare")
        iam.delete_role(RoleName=f"macroai-{environment}-api-task")
        for name in ("bare", "db"):
            secrets.delete_secret(SecretId=f"macroai/{environment}/{name}", ForceDeleteWithoutRecovery=True)
    assert result["by_type"] == {"ecr:repository": 2, "iam:role": 2, "secretsmanager:secret": 2}, result
    assert {f["type"]: f["arn"] for f in result["untagged"]} == bare
    assert {f["name"] for f in result["untagged"]} == {
        f"macroai/{environment}/bare",
        f"macroai-{environment}-bare",
    }
    assert all(f["missing"] == list(TAGS) for f in result["untagged"])
