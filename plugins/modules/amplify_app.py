#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: amplify_app
short_description: An Amplify Hosting app for a single-page client, its production branch and domain
version_added: 0.1.0
description:
  - Finds the Amplify app by O(name) (C(ListApps)) and creates it when there is none, as a C(WEB) app with
    branch auto-build off, a single-page-app rewrite of every client route to C(/index.html), an optional
    C(/api/<*>) rewrite to O(api_url), and security headers (C(Strict-Transport-Security),
    C(X-Content-Type-Options), C(X-Frame-Options), C(Referrer-Policy)) on every path.
  - Creates or updates O(branch) as the C(PRODUCTION) stage with auto-build off, for manual deployments
    (M(macroai.deploy.amplify_release)).
  - With O(domain_name), associates the domain with the branch for each of O(subdomains) (the apex and
    C(www) by default).
  - Every part is read and compared first; only what differs is written.
author:
  - Macro AI maintainers (@macroai)
options:
  name:
    description:
      - Name of the app. Several apps with this name is an error.
    type: str
    required: true
  branch:
    description:
      - The production branch.
    type: str
    default: main
  api_url:
    description:
      - Base URL of the API (for example C(https://api.example.com)); C(/api/<*>) is rewritten to it. No
        API rewrite when unset.
    type: str
  description:
    description:
      - The app's description.
    type: str
    default: ""
  domain_name:
    description:
      - A custom domain to associate with O(branch). Left alone when unset.
    type: str
  subdomains:
    description:
      - Prefixes of O(domain_name) served by O(branch); V("") is the apex.
    type: list
    elements: str
    default: ["", "www"]
  tags:
    description:
      - Tags of the app and the branch. Left alone when unset.
    type: dict
  purge_tags:
    description:
      - Whether tags not in O(tags) are removed.
    type: bool
    default: true
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
      - Reads, never writes, and reports what would change.
  diff_mode:
    support: full
    details:
      - Shows the app's, the branch's and the domain's settings before and after.
  idempotent:
    support: full
    details:
      - A second run with the same options reports C(changed=false).
notes:
  - The app is never deleted by this module.
"""

EXAMPLES = r"""
- name: Create the client's Amplify app and production branch
  macroai.deploy.amplify_app:
    name: macroai-production-client
    branch: main
    api_url: https://api.example.com
    domain_name: example.com
    tags:
      Project: macroai
      Component: edge
  register: client_app
"""

RETURN = r"""
app_id:
  description: The app's ID; null in check mode when the app does not exist yet.
  returned: always
  type: str
  sample: d1a2b3c4d5e6f7
app_arn:
  description: The app's ARN.
  returned: always
  type: str
  sample: arn:aws:amplify:eu-west-2:123456789012:apps/d1a2b3c4d5e6f7
app_name:
  description: The app's name.
  returned: always
  type: str
  sample: macroai-production-client
default_domain:
  description: The app's Amplify domain.
  returned: always
  type: str
  sample: d1a2b3c4d5e6f7.amplifyapp.com
branch:
  description: The production branch's name.
  returned: always
  type: str
  sample: main
branch_arn:
  description: The branch's ARN; null in check mode when it does not exist yet.
  returned: always
  type: str
site_url:
  description: The branch's Amplify URL.
  returned: always
  type: str
  sample: https://main.d1a2b3c4d5e6f7.amplifyapp.com
domain:
  description: The domain association; null without O(domain_name) (or in check mode before it exists).
  returned: always
  type: dict
  contains:
    name:
      description: The domain.
      type: str
    status:
      description: Amplify's domain status, for example V(AVAILABLE) or V(PENDING_VERIFICATION).
      type: str
    subdomains:
      description: Prefix and branch of each subdomain.
      type: list
      elements: dict
    certificate_verification_dns_record:
      description: The DNS record Amplify's certificate needs, as Amplify states it.
      type: str
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._amplify_app import (  # noqa: E402
    AppRequest,
    ensure_app,
)
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._module import run_module  # noqa: E402


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        branch=dict(type="str", default="main"),
        api_url=dict(type="str"),
        description=dict(type="str", default=""),
        domain_name=dict(type="str"),
        subdomains=dict(type="list", elements="str", default=["", "www"]),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    request = AppRequest(
        name=params["name"],
        branch=params["branch"],
        api_url=params["api_url"],
        description=params["description"],
        tags=params["tags"],
        purge_tags=params["purge_tags"],
        domain_name=params["domain_name"],
        subdomains=tuple(params["subdomains"]),
    )
    (amplify,) = retrying_clients(module, "amplify")

    def perform():
        result = ensure_app(amplify, request, module.check_mode)
        return {**result.as_dict(request), "diff": {"before": result.before, "after": result.after}}

    run_module(
        module,
        perform,
        (ValueError,),
        f"Amplify refused a call for app {params['name']}: check the region and that the credentials "
        "may call amplify:ListApps, CreateApp, UpdateApp, GetBranch, CreateBranch, UpdateBranch, "
        "TagResource, UntagResource and the DomainAssociation calls",
    )


if __name__ == "__main__":
    main()
