#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ecr_repository
short_description: An ECR repository with its tag mutability, scan on push, lifecycle policy and tags
version_added: 0.1.0
description:
  - Creates, updates or deletes one private Amazon ECR repository - image tag mutability, scan on push, the
    lifecycle policy and the resource tags (the cost allocation tags) - in one task.
  - Reads first and writes only what differs. The lifecycle policy is compared as data, not text - key order,
    spacing, numbers given as text (C("30")) and the order of the rules do not count as a change.
  - In check mode nothing is written, and a repository that does not exist yet is returned as it would be
    created, its ARN and URI predicted from the caller's account and the region, so later tasks can use them
    on an empty account.
author:
  - Macro AI maintainers (@macroai)
options:
  name:
    description:
      - Repository name, for example C(macroai-production-api).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the repository; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  image_tag_mutability:
    description:
      - V(immutable) refuses to overwrite a tag once pushed. Unset leaves an existing repository's setting
        alone (a new one is V(mutable)).
    type: str
    choices: [mutable, immutable]
  scan_on_push:
    description:
      - Scan each image for vulnerabilities when it is pushed. Unset leaves an existing repository's setting
        alone (a new one does not scan).
    type: bool
  lifecycle_policy:
    description:
      - The lifecycle policy, as a dict or JSON text with a C(rules) list (ECR's C(PutLifecyclePolicy)
        format). Unset leaves the policy alone unless O(purge_lifecycle_policy=true).
    type: json
  purge_lifecycle_policy:
    description:
      - With O(lifecycle_policy) unset, delete the repository's lifecycle policy.
    type: bool
    default: false
  tags:
    description:
      - Resource tags, key to value. Unset leaves the tags alone.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Remove the tags not in O(tags) (tags whose key starts with C(aws:) are never removed). Has no effect
        when O(tags) is unset.
    type: bool
    default: true
  force_absent:
    description:
      - With O(state=absent), delete the repository even if it holds images (they are deleted with it).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Reads and reports what would change without writing.
  diff_mode:
    support: full
    details:
      - Shows the repository's settings, lifecycle policy and tags before and after.
  idempotent:
    support: full
    details:
      - A second run with the same options reports C(changed=false) and makes no write call.
notes:
  - Needs C(ecr:DescribeRepositories), C(ecr:CreateRepository), C(ecr:GetLifecyclePolicy),
    C(ecr:PutLifecyclePolicy), C(ecr:PutImageTagMutability), C(ecr:PutImageScanningConfiguration),
    C(ecr:ListTagsForResource), C(ecr:TagResource), C(ecr:UntagResource) (and C(ecr:DeleteRepository),
    C(ecr:DeleteLifecyclePolicy) when used); check mode on a missing repository also calls
    C(sts:GetCallerIdentity).
seealso:
  - module: community.aws.ecs_ecr
    description: The general ECR module (repository policies, encryption; no tags).
"""

EXAMPLES = r"""
- name: An immutable repository that scans on push, keeps 30 images and carries the cost tags
  macroai.deploy.ecr_repository:
    name: macroai-production-api
    image_tag_mutability: immutable
    scan_on_push: true
    lifecycle_policy:
      rules:
        - rulePriority: 1
          description: Keep the newest 30 images
          selection: {tagStatus: any, countType: imageCountMoreThan, countNumber: 30}
          action: {type: expire}
    tags:
      Project: macroai
      Environment: production
      Scale: hobby
      Component: compute
      ManagedBy: macroai.deploy
  register: repository

- name: Use its URI
  ansible.builtin.debug:
    msg: "{{ repository.repository.repositoryUri }}:v1.2.3"

- name: Delete it with its images
  macroai.deploy.ecr_repository:
    name: macroai-production-api
    state: absent
    force_absent: true
"""

RETURN = r"""
repository:
  description:
    - The repository as it is after the run, in C(DescribeRepositories)'s shape; in check mode, as it would
      be (a repository that would be created has a predicted ARN and URI and no C(createdAt)). Empty when
      absent.
  returned: always
  type: dict
  contains:
    repositoryArn:
      description: The repository's ARN.
      type: str
      sample: arn:aws:ecr:eu-west-2:123456789012:repository/macroai-production-api
    registryId:
      description: The account ID of the registry.
      type: str
      sample: "123456789012"
    repositoryName:
      description: The repository's name.
      type: str
      sample: macroai-production-api
    repositoryUri:
      description: The URI to push to and pull from, without a tag.
      type: str
      sample: 123456789012.dkr.ecr.eu-west-2.amazonaws.com/macroai-production-api
    imageTagMutability:
      description: C(MUTABLE) or C(IMMUTABLE).
      type: str
      sample: IMMUTABLE
    imageScanningConfiguration:
      description: Whether images are scanned on push.
      type: dict
      sample: {scanOnPush: true}
lifecycle_policy:
  description: The lifecycle policy after the run (as it would be, in check mode), or null when there is none.
  returned: always
  type: dict
  sample:
    rules:
      - rulePriority: 1
        selection: {tagStatus: any, countType: imageCountMoreThan, countNumber: 30}
        action: {type: expire}
tags:
  description: The repository's tags after the run (as they would be, in check mode).
  returned: always
  type: dict
  sample: {Project: macroai, Environment: production}
created:
  description: Whether the repository was (or, in check mode, would be) created by this run.
  returned: always
  type: bool
  sample: false
actions:
  description: What was changed (or would be, in check mode), one sentence each; empty when nothing was.
  returned: always
  type: list
  elements: str
  sample: ["tagged macroai-production-api with Component, Environment"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._ecr import (  # noqa: E402
    Desired,
    EcrError,
    Repositories,
    load_policy,
    predicted_repository,
    summary,
)
from ansible_collections.macroai.deploy.plugins.module_utils._module import run_module  # noqa: E402


def predictor(module, sts):
    """Predicts a new repository's ARN and URI from the caller's account (check mode only)."""

    def predict(mutability, scan_on_push):
        identity = sts.get_caller_identity()
        partition = identity["Arn"].split(":")[1]
        return predicted_repository(
            module.params["name"], identity["Account"], module.region, partition, mutability, scan_on_push
        )

    return predict


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        image_tag_mutability=dict(type="str", choices=["mutable", "immutable"]),
        scan_on_push=dict(type="bool"),
        lifecycle_policy=dict(type="json"),
        purge_lifecycle_policy=dict(type="bool", default=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        force_absent=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        policy = load_policy(params["lifecycle_policy"])
    except EcrError as e:
        module.fail_json(msg=f"Invalid option for repository {params['name']!r}: {e}")
    ecr, sts = retrying_clients(module, "ecr", "sts")
    repositories = Repositories(ecr, check_mode=module.check_mode)

    def perform():
        current = repositories.read(params["name"])
        before = summary(*current)
        if params["state"] == "absent":
            changed = repositories.absent(params["name"], current[0] is not None, params["force_absent"])
            return dict(
                changed=changed,
                repository={},
                lifecycle_policy=None,
                tags={},
                created=False,
                actions=[f"deleted repository {params['name']}"] if changed else [],
                diff={"before": before, "after": {}},
            )
        desired = Desired(
            name=params["name"],
            image_tag_mutability=(params["image_tag_mutability"] or "").upper() or None,
            scan_on_push=params["scan_on_push"],
            lifecycle_policy=policy,
            purge_lifecycle_policy=params["purge_lifecycle_policy"],
            tags=params["tags"],
            purge_tags=params["purge_tags"],
        )
        actions, repository, lifecycle, tags = repositories.present(desired, current, predictor(module, sts))
        if actions and not module.check_mode:
            repository, lifecycle, tags = repositories.read(params["name"])
        after = summary(repository, lifecycle, tags)
        return dict(
            changed=bool(actions),
            repository=repository,
            lifecycle_policy=after["lifecycle_policy"],
            tags=tags,
            created=current[0] is None,
            actions=actions,
            diff={"before": before, "after": after},
        )

    run_module(
        module,
        perform,
        (),
        f"Could not read or change ECR repository {params['name']!r}: check the region and that the "
        "credentials allow the ecr: calls listed in this module's notes (and sts:GetCallerIdentity in "
        "check mode)",
    )


if __name__ == "__main__":
    main()
