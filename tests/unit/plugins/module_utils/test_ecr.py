"""The ECR repository's comparison and converging calls, against a fake ECR client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._ecr import (
    Desired,
    EcrError,
    Repositories,
    canonical_policy,
    load_policy,
    predicted_repository,
    same_policy,
    summary,
)
from botocore.exceptions import ClientError

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Expire untagged images after a day",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 1,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Keep the newest 30 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
            "action": {"type": "expire"},
        },
    ]
}
TAGS = {"Project": "macroai", "Environment": "production", "Component": "compute"}
ACCOUNT = "123456789012"


def NotFound(code: str) -> ClientError:  # noqa: N802 (raised like the exception class it stands for)
    return ClientError({"Error": {"Code": code, "Message": code}}, "Describe")


class FakeEcr:
    """Keeps repositories like ECR (policy text as given, tags by ARN) and records every write."""

    def __init__(self) -> None:
        self.repositories: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, str] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.writes: list[str] = []

    def describe_repositories(self, repositoryNames: list[str]) -> dict[str, Any]:
        if repositoryNames[0] not in self.repositories:
            raise NotFound("RepositoryNotFoundException")
        return {"repositories": [dict(self.repositories[repositoryNames[0]])]}

    def get_lifecycle_policy(self, repositoryName: str) -> dict[str, Any]:
        if repositoryName not in self.policies:
            raise NotFound("LifecyclePolicyNotFoundException")
        return {"lifecyclePolicyText": self.policies[repositoryName]}

    def list_tags_for_resource(self, resourceArn: str) -> dict[str, Any]:
        return {"tags": [{"Key": k, "Value": v} for k, v in self.tags.get(resourceArn, {}).items()]}

    def create_repository(self, repositoryName, imageTagMutability, imageScanningConfiguration, tags=()):
        self.writes.append("CreateRepository")
        repository = predicted_repository(
            repositoryName,
            ACCOUNT,
            "eu-west-2",
            "aws",
            imageTagMutability,
            imageScanningConfiguration["scanOnPush"],
        )
        self.repositories[repositoryName] = repository
        self.tags[repository["repositoryArn"]] = {t["Key"]: t["Value"] for t in tags}
        return {"repository": repository}

    def put_image_tag_mutability(self, repositoryName, imageTagMutability):
        self.writes.append("PutImageTagMutability")
        self.repositories[repositoryName]["imageTagMutability"] = imageTagMutability

    def put_image_scanning_configuration(self, repositoryName, imageScanningConfiguration):
        self.writes.append("PutImageScanningConfiguration")
        self.repositories[repositoryName]["imageScanningConfiguration"] = imageScanningConfiguration

    def put_lifecycle_policy(self, repositoryName, lifecyclePolicyText):
        self.writes.append("PutLifecyclePolicy")
        self.policies[repositoryName] = lifecyclePolicyText

    def delete_lifecycle_policy(self, repositoryName):
        self.writes.append("DeleteLifecyclePolicy")
        del self.policies[repositoryName]

    def tag_resource(self, resourceArn, tags):
        self.writes.append("TagResource")
        self.tags.setdefault(resourceArn, {}).update({t["Key"]: t["Value"] for t in tags})

    def untag_resource(self, resourceArn, tagKeys):
        self.writes.append("UntagResource")
        for key in tagKeys:
            del self.tags[resourceArn][key]


def predict(mutability: str, scan_on_push: bool) -> dict[str, Any]:
    return predicted_repository(
        "macroai/production/api", ACCOUNT, "eu-west-2", "aws", mutability, scan_on_push
    )


def wanted(**changes: Any) -> Desired:
    settings = dict(
        name="macroai/production/api",
        image_tag_mutability="IMMUTABLE",
        scan_on_push=True,
        lifecycle_policy=POLICY,
        tags=TAGS,
    )
    settings.update(changes)
    return Desired(**settings)


def converge(ecr: FakeEcr, desired: Desired, check_mode: bool = False):
    repositories = Repositories(ecr, check_mode=check_mode)
    return repositories.present(desired, repositories.read(desired.name), predict)


def test_policy_given_as_json_text_or_dict_is_the_same_policy():
    assert load_policy(json.dumps(POLICY)) == POLICY
    assert load_policy(POLICY) is POLICY
    assert load_policy(None) is None and load_policy("") is None


@pytest.mark.parametrize(
    "policy, complaint",
    [
        ("{not json", "not valid JSON"),
        ({"rules": []}, "non-empty 'rules' list"),
        ([1], "non-empty 'rules' list"),
    ],
)
def test_a_malformed_policy_names_the_option(policy, complaint):
    with pytest.raises(EcrError, match=complaint) as raised:
        load_policy(policy)
    assert "lifecycle_policy" in str(raised.value)


def test_policies_compare_as_data_not_text():
    reordered = {"rules": [dict(POLICY["rules"][1]), dict(POLICY["rules"][0])]}
    reordered["rules"][0]["selection"] = {**reordered["rules"][0]["selection"], "countNumber": "30"}
    assert same_policy(POLICY, reordered)
    assert same_policy(POLICY, json.loads(json.dumps(POLICY, indent=4, sort_keys=True)))
    changed = {"rules": [POLICY["rules"][0], {**POLICY["rules"][1], "selection": {"countNumber": 31}}]}
    assert not same_policy(POLICY, changed)
    assert not same_policy(POLICY, None)
    assert canonical_policy(reordered)["rules"][1]["selection"]["countNumber"] == 30


def test_priority_10_sorts_after_priority_9():
    rules = [{"rulePriority": p, "action": {"type": "expire"}} for p in (10, 9)]
    assert [r["rulePriority"] for r in canonical_policy({"rules": rules})["rules"]] == [9, 10]


def test_predicted_repository_has_the_arn_and_uri_shapes_of_a_real_one():
    repository = predicted_repository(
        "macroai/production/api", ACCOUNT, "eu-west-2", "aws", "IMMUTABLE", True
    )
    assert (
        repository["repositoryArn"] == "arn:aws:ecr:eu-west-2:123456789012:repository/macroai/production/api"
    )
    assert (
        repository["repositoryUri"] == "123456789012.dkr.ecr.eu-west-2.amazonaws.com/macroai/production/api"
    )
    china = predicted_repository("api", ACCOUNT, "cn-north-1", "aws-cn", "MUTABLE", False)
    assert china["repositoryArn"].startswith("arn:aws-cn:ecr:cn-north-1:")
    assert china["repositoryUri"] == "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/api"


def test_check_mode_on_a_missing_repository_predicts_it_and_writes_nothing():
    ecr = FakeEcr()
    actions, repository, policy, tags = converge(ecr, wanted(), check_mode=True)
    assert ecr.writes == []
    assert actions[0].startswith("created repository macroai/production/api (immutable tags, scan on push on")
    assert repository["repositoryUri"].endswith(".dkr.ecr.eu-west-2.amazonaws.com/macroai/production/api")
    assert same_policy(policy, POLICY) and tags == TAGS


def test_create_then_rerun_makes_no_write():
    ecr = FakeEcr()
    actions, repository, _, _ = converge(ecr, wanted())
    assert ecr.writes == ["CreateRepository", "PutLifecyclePolicy"]
    assert ecr.tags[repository["repositoryArn"]] == TAGS
    ecr.writes.clear()
    actions, _, policy, tags = converge(ecr, wanted())
    assert actions == [] and ecr.writes == []
    assert same_policy(policy, POLICY) and tags == TAGS


def test_update_writes_only_what_differs():
    ecr = FakeEcr()
    converge(
        ecr,
        wanted(image_tag_mutability="MUTABLE", scan_on_push=False, tags={"Project": "macroai", "Old": "1"}),
    )
    ecr.writes.clear()
    actions, repository, _, tags = converge(ecr, wanted())
    assert ecr.writes == [
        "PutImageTagMutability",
        "PutImageScanningConfiguration",
        "TagResource",
        "UntagResource",
    ]
    assert repository["imageTagMutability"] == "IMMUTABLE" and tags == TAGS
    assert "removed tag(s) Old from macroai/production/api" in actions


def test_check_mode_on_an_existing_repository_reports_the_changes_without_writing():
    ecr = FakeEcr()
    converge(ecr, wanted(tags={}))
    ecr.writes.clear()
    changed_policy = {"rules": [POLICY["rules"][0]]}
    actions, _, policy, tags = converge(ecr, wanted(lifecycle_policy=changed_policy), check_mode=True)
    assert ecr.writes == []
    assert actions == [
        "replaced the lifecycle policy of macroai/production/api (1 rule(s))",
        "tagged macroai/production/api with Component, Environment, Project",
    ]
    assert policy == canonical_policy(changed_policy) and tags == TAGS


def test_unset_options_leave_the_repository_alone_and_purge_deletes_the_policy():
    ecr = FakeEcr()
    converge(ecr, wanted())
    ecr.writes.clear()
    bare = Desired(name="macroai/production/api")
    assert converge(ecr, bare)[0] == [] and ecr.writes == []
    bare.purge_lifecycle_policy = True
    actions, _, policy, tags = converge(ecr, bare)
    assert ecr.writes == ["DeleteLifecyclePolicy"] and policy is None and tags == TAGS


def test_summary_is_what_the_diff_shows():
    repository = predict("IMMUTABLE", True)
    assert summary(repository, POLICY, {"b": "2", "a": "1"}) == {
        "name": "macroai/production/api",
        "image_tag_mutability": "IMMUTABLE",
        "scan_on_push": True,
        "lifecycle_policy": canonical_policy(POLICY),
        "tags": {"a": "1", "b": "2"},
    }
    assert summary(None, None, {}) == {}
