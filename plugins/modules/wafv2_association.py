#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: wafv2_association
short_description: Associate a regional WAF web ACL with a resource, only when it differs
version_added: 0.1.0
description:
  - Reads the web ACL of O(resource_arn) (C(GetWebACLForResource)) and associates O(web_acl_arn) only when
    the resource has another ACL or none; with O(state=absent), disassociates whatever ACL it has.
  - C(community.aws.wafv2_resources) associates again on every run; this module is idempotent.
author:
  - Macro AI maintainers (@macroai)
options:
  resource_arn:
    description:
      - ARN of the regional resource, for example an Application Load Balancer.
    type: str
    required: true
  web_acl_arn:
    description:
      - ARN of the regional web ACL. Required with O(state=present).
    type: str
  state:
    description:
      - Whether the resource has O(web_acl_arn) (V(present)) or no web ACL (V(absent)).
    type: str
    choices: [present, absent]
    default: present
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
      - Shows the web ACL associated before and after.
  idempotent:
    support: full
    details:
      - A second run reports C(changed=false).
"""

EXAMPLES = r"""
- name: Protect the load balancer with the web ACL
  macroai.deploy.wafv2_association:
    resource_arn: "{{ compute.load_balancer_arn }}"
    web_acl_arn: "{{ web_acl.web_acl.arn }}"
"""

RETURN = r"""
web_acl_arn:
  description: The ACL associated with the resource after the run (in check mode, what it would be).
  returned: always
  type: str
previous_web_acl_arn:
  description: The ACL associated before the run; null when none.
  returned: always
  type: str
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
import contextlib  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._edge import (  # noqa: E402
    ensure_web_acl_association,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError


def main():
    argument_spec = dict(
        resource_arn=dict(type="str", required=True),
        web_acl_arn=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["web_acl_arn"])],
    )
    params = module.params
    wanted = params["web_acl_arn"] if params["state"] == "present" else None
    (wafv2,) = retrying_clients(module, "wafv2")
    try:
        changed, before, after = ensure_web_acl_association(
            wafv2, params["resource_arn"], wanted, module.check_mode
        )
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"WAF refused a call for {params['resource_arn']}: check both ARNs are regional and in this "
            "region, and that the credentials may call wafv2:GetWebACLForResource, AssociateWebACL and "
            "DisassociateWebACL",
        )
    output = {"changed": changed, "web_acl_arn": after, "previous_web_acl_arn": before}
    if module._diff:
        output["diff"] = {"before": {"web_acl_arn": before}, "after": {"web_acl_arn": after}}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
