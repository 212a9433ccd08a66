# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One ECR repository converged to its settings: tag mutability, scan on push, lifecycle policy, tags.

Plain Python over a boto3 ``ecr`` client (``plugins/modules/ecr_repository.py`` is the shell), so that unit
tests drive it with a fake client. Reads first, writes only what differs, and in check mode writes nothing
while still returning the repository as it would be (its ARN and URI predicted from the account and region).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.macroai.deploy.plugins.module_utils._aws import tag_changes

# Tag keys AWS reserves; never sent, never purged.
RESERVED_PREFIX = "aws:"


class EcrError(Exception):
    """Settings the module cannot act on; the message says which and what to do."""


def load_policy(policy: Any, option: str = "lifecycle_policy") -> dict[str, Any] | None:
    """A lifecycle policy given as a dict or JSON text, as a dict (None when not given)."""
    if policy is None or policy == "":
        return None
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as e:
            raise EcrError(
                f"{option} is not valid JSON ({e}): give a dict or JSON text with a 'rules' list"
            ) from e
    if not isinstance(policy, dict) or not isinstance(policy.get("rules"), list) or not policy["rules"]:
        raise EcrError(
            f"{option} must be a dict with a non-empty 'rules' list, as ECR's PutLifecyclePolicy takes"
        )
    return policy


def _number(value: Any) -> Any:
    """``"30"`` and ``30.0`` as ``30``: templated options often arrive as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical_policy(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """The policy in one form for comparison and sending: numbers as numbers, rules by priority."""
    if policy is None:
        return None

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return _number(value)

    canonical = walk(policy)
    canonical["rules"] = sorted(
        canonical["rules"], key=lambda rule: str(rule.get("rulePriority", "")).zfill(10)
    )
    return canonical


def same_policy(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Semantic equality: key order, spacing, text numbers and rule order do not count."""
    return canonical_policy(a) == canonical_policy(b)


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def predicted_repository(
    name: str, account_id: str, region: str, partition: str, mutability: str, scan_on_push: bool
) -> dict[str, Any]:
    """The repository CreateRepository would return, before it exists (check mode)."""
    suffix = ".amazonaws.com.cn" if partition == "aws-cn" else ".amazonaws.com"
    return {
        "repositoryArn": f"arn:{partition}:ecr:{region}:{account_id}:repository/{name}",
        "registryId": account_id,
        "repositoryName": name,
        "repositoryUri": f"{account_id}.dkr.ecr.{region}{suffix}/{name}",
        "imageTagMutability": mutability,
        "imageScanningConfiguration": {"scanOnPush": scan_on_push},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }


@dataclass
class Desired:
    name: str
    image_tag_mutability: str | None = None  # MUTABLE / IMMUTABLE; None leaves it (MUTABLE on create)
    scan_on_push: bool | None = None  # None leaves it (false on create)
    lifecycle_policy: dict[str, Any] | None = None  # None leaves it, unless purge_lifecycle_policy
    purge_lifecycle_policy: bool = False
    tags: dict[str, str] | None = None  # None leaves the tags alone
    purge_tags: bool = True


def summary(repository: dict[str, Any] | None, policy: dict[str, Any] | None, tags: dict[str, str]) -> dict:
    """What --diff shows: the settings this module manages."""
    if repository is None:
        return {}
    return {
        "name": repository["repositoryName"],
        "image_tag_mutability": repository.get("imageTagMutability", "MUTABLE"),
        "scan_on_push": bool(repository.get("imageScanningConfiguration", {}).get("scanOnPush", False)),
        "lifecycle_policy": canonical_policy(policy),
        "tags": dict(sorted(tags.items())),
    }


class Repositories:
    """Reads and converges repositories through an ``ecr`` client; in ``check_mode`` nothing is written."""

    def __init__(self, client: Any, check_mode: bool = False) -> None:
        self.client = client
        self.check_mode = check_mode

    def read(self, name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, str]]:
        """The repository, its lifecycle policy and its tags; (None, None, {}) when it does not exist."""
        try:
            repository = self.client.describe_repositories(repositoryNames=[name])["repositories"][0]
        except is_boto3_error_code("RepositoryNotFoundException"):
            return None, None, {}
        try:
            text = self.client.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
            policy = json.loads(text)
        except is_boto3_error_code("LifecyclePolicyNotFoundException"):
            policy = None
        listed = self.client.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get("tags", [])
        tags = {t["Key"]: t.get("Value", "") for t in listed}
        return repository, policy, tags

    def absent(self, name: str, exists: bool, force: bool) -> bool:
        if not exists:
            return False
        if not self.check_mode:
            self.client.delete_repository(repositoryName=name, force=force)
        return True

    def present(
        self,
        desired: Desired,
        current: tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, str]],
        predict: Any,
    ) -> tuple[list[str], dict[str, Any], dict[str, Any] | None, dict[str, str]]:
        """Converge; returns the actions and the repository, policy and tags as they are after (or would be).

        ``predict(mutability, scan_on_push)`` gives the would-be repository when check mode creates one.
        """
        repository, policy, tags = current
        actions: list[str] = []
        wanted_policy = canonical_policy(desired.lifecycle_policy)
        if repository is None:
            mutability = desired.image_tag_mutability or "MUTABLE"
            scan = bool(desired.scan_on_push)
            new_tags = {
                k: v for k, v in (desired.tags or {}).items() if not str(k).startswith(RESERVED_PREFIX)
            }
            new_tags = {str(k): str(v) for k, v in new_tags.items()}
            actions.append(
                f"created repository {desired.name} ({mutability.lower()} tags, scan on push "
                f"{'on' if scan else 'off'}, {len(new_tags)} tag(s))"
            )
            if self.check_mode:
                repository = predict(mutability, scan)
            else:
                request: dict[str, Any] = {
                    "repositoryName": desired.name,
                    "imageTagMutability": mutability,
                    "imageScanningConfiguration": {"scanOnPush": scan},
                }
                if new_tags:
                    request["tags"] = tag_list(new_tags)
                repository = self.client.create_repository(**request)["repository"]
            if wanted_policy is not None:
                actions.append(
                    f"set the lifecycle policy of {desired.name} ({len(wanted_policy['rules'])} rule(s))"
                )
                if not self.check_mode:
                    self._put_policy(desired.name, wanted_policy)
            return actions, repository, wanted_policy, new_tags

        repository = dict(repository)
        name = repository["repositoryName"]
        if (
            desired.image_tag_mutability
            and repository.get("imageTagMutability") != desired.image_tag_mutability
        ):
            actions.append(f"set image tag mutability of {name} to {desired.image_tag_mutability.lower()}")
            if not self.check_mode:
                self.client.put_image_tag_mutability(
                    repositoryName=name, imageTagMutability=desired.image_tag_mutability
                )
            repository["imageTagMutability"] = desired.image_tag_mutability
        scanning = bool(repository.get("imageScanningConfiguration", {}).get("scanOnPush", False))
        if desired.scan_on_push is not None and scanning != desired.scan_on_push:
            actions.append(f"turned scan on push {'on' if desired.scan_on_push else 'off'} for {name}")
            if not self.check_mode:
                self.client.put_image_scanning_configuration(
                    repositoryName=name, imageScanningConfiguration={"scanOnPush": desired.scan_on_push}
                )
            repository["imageScanningConfiguration"] = {"scanOnPush": desired.scan_on_push}
        if wanted_policy is not None and not same_policy(policy, wanted_policy):
            actions.append(
                f"{'replaced' if policy else 'set'} the lifecycle policy of {name} "
                f"({len(wanted_policy['rules'])} rule(s))"
            )
            if not self.check_mode:
                self._put_policy(name, wanted_policy)
            policy = wanted_policy
        elif wanted_policy is None and desired.purge_lifecycle_policy and policy is not None:
            actions.append(f"deleted the lifecycle policy of {name}")
            if not self.check_mode:
                self.client.delete_lifecycle_policy(repositoryName=name)
            policy = None
        to_set, to_remove = tag_changes(tags, desired.tags, desired.purge_tags)
        if to_set:
            actions.append(f"tagged {name} with {', '.join(sorted(to_set))}")
            if not self.check_mode:
                self.client.tag_resource(resourceArn=repository["repositoryArn"], tags=tag_list(to_set))
        if to_remove:
            actions.append(f"removed tag(s) {', '.join(to_remove)} from {name}")
            if not self.check_mode:
                self.client.untag_resource(resourceArn=repository["repositoryArn"], tagKeys=to_remove)
        tags = {k: v for k, v in {**tags, **to_set}.items() if k not in to_remove}
        return actions, repository, canonical_policy(policy), tags

    def _put_policy(self, name: str, policy: dict[str, Any]) -> None:
        self.client.put_lifecycle_policy(
            repositoryName=name, lifecyclePolicyText=json.dumps(policy, sort_keys=True, separators=(",", ":"))
        )
