#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: tag_audit
short_description: List a project's AWS resources that lack the cost allocation tags
version_added: 0.1.0
description:
  - Finds the resources of one project and environment and returns those missing any of the required tags
    (by default C(Project), C(Environment), C(Scale), C(Component) and C(ManagedBy), which every resource the
    collection creates carries), so costs can be allocated by environment and component.
  - A resource belongs to the project when it is tagged C(Project=<project>) (Resource Groups Tagging API,
    any service), when it is in one of the project's VPCs (the VPC itself, subnets, security groups other
    than C(default), route tables other than the main one, internet and NAT gateways, VPC endpoints), or when
    its name starts with C(<project>-<environment>) (load balancers, target groups, ECS clusters and
    services, IAM roles), C(<project>/<environment>) (ECR repositories, Secrets Manager secrets) or
    C(/ecs/<project>-<environment>) (log groups). IAM roles named C(<project>-...) and Secrets Manager
    secrets are also found by their C(Project=<project>) tag. A VPC is the project's when it is tagged
    C(Project=<project>) or named C(<project>-<environment>). Resources tagged with another C(Environment)
    are left out (IAM roles are global, so those of other environments are told apart this way).
  - Read-only; reports C(changed=false) and runs the same in check mode.
author:
  - Macro AI maintainers (@macroai)
options:
  project:
    description:
      - Project name (C(deploy_project)).
    type: str
    required: true
  environment:
    description:
      - Environment name (C(deploy_environment)).
    type: str
    required: true
  required_tags:
    description:
      - Tag keys every resource must carry, with a non-empty value.
    type: list
    elements: str
    default: [Project, Environment, Scale, Component, ManagedBy]
  fail_on_missing:
    description:
      - Fail when any resource misses a tag, listing them, instead of only returning them.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
  - macroai.deploy.attributes.actiongroup_aws
notes:
  - The Tagging API returns only resources that have, or once had, a tag; a resource created with no tag at
    all is found only through the VPC and name rules above (an untagged ECR repository or IAM role named
    otherwise is not found).
  - Needs C(tag:GetResources), the C(Describe*)/C(List*) permissions of EC2, Elastic Load Balancing, ECS and
    CloudWatch Logs, C(ecr:DescribeRepositories), C(ecr:ListTagsForResource), C(iam:ListRoles),
    C(iam:ListRoleTags) and C(secretsmanager:ListSecrets).
"""

EXAMPLES = r"""
- name: List the production resources without the cost allocation tags
  macroai.deploy.tag_audit:
    project: macroai
    environment: production
  register: audit

- name: Fail a CI job when one is missing
  macroai.deploy.tag_audit:
    project: macroai
    environment: production
    fail_on_missing: true
"""

RETURN = r"""
untagged:
  description: The resources missing a required tag, sorted by type.
  returned: always
  type: list
  elements: dict
  contains:
    resource_id:
      description: The EC2 ID (C(subnet-0abc...)) or the ARN of the resource.
      type: str
      sample: subnet-0123456789abcdef0
    arn:
      description: The ARN, when the API that found the resource gives one; null for EC2 resources found in
        a VPC.
      type: str
      sample: null
    type:
      description: Service and resource type, as the Tagging API names them, for example C(ec2:subnet),
        C(logs:log-group), C(ecr:repository), C(iam:role), C(secretsmanager:secret) or C(sns:topic).
      type: str
      sample: ec2:subnet
    name:
      description: The resource's name (its C(Name) tag for EC2), or null.
      type: str
      sample: null
    missing:
      description: The required tags it lacks.
      type: list
      elements: str
      sample: [Project, Environment, Scale, Component, ManagedBy]
checked:
  description: How many resources of the project were checked.
  returned: always
  type: int
  sample: 14
by_type:
  description: How many resources of each type were checked.
  returned: always
  type: dict
  sample: {"ec2:subnet": 4, "ec2:vpc": 1}
"""

import contextlib  # noqa: E402
from collections import Counter  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._tag_audit import (  # noqa: E402
    REQUIRED_TAGS,
    Inventory,
    audit,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError

SERVICES = ("ec2", "elbv2", "ecs", "logs", "ecr", "iam", "secretsmanager", "resourcegroupstaggingapi")


def main():
    argument_spec = dict(
        project=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        required_tags=dict(type="list", elements="str", default=list(REQUIRED_TAGS)),
        fail_on_missing=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    clients = {service: retrying_clients(module, service)[0] for service in SERVICES}
    try:
        resources = Inventory(clients, params["project"], params["environment"]).resources()
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg="Could not list the project's resources: check the region and that the credentials allow "
            "tag:GetResources and the Describe/List calls of EC2, Elastic Load Balancing, ECS, CloudWatch "
            "Logs, ECR, IAM (ListRoles, ListRoleTags) and Secrets Manager (ListSecrets)",
        )
    untagged = audit(resources, params["required_tags"])
    result = dict(
        changed=False,
        untagged=untagged,
        checked=len(resources),
        by_type=dict(sorted(Counter(r.type for r in resources).items())),
    )
    if untagged and params["fail_on_missing"]:
        listed = "; ".join(
            f"{u['type']} {u['resource_id']} lacks {', '.join(u['missing'])}" for u in untagged
        )
        module.fail_json(
            msg=f"{len(untagged)} resource(s) lack cost allocation tags: {listed}. Tag them "
            f"({', '.join(params['required_tags'])}), or delete them if nothing of this collection uses them",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
