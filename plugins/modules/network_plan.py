#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: network_plan
short_description: Validate networking settings and plan subnets, NAT gateways and VPC endpoints
version_added: 0.1.0
description:
  - Validates the settings of the C(macroai.deploy.networking) role, including rules that involve several
    settings or the region's Availability Zones, and returns the network layout the role then creates.
  - Reads the region's available Availability Zones (C(DescribeAvailabilityZones)); never writes anything,
    so it always reports C(changed=false) and runs the same in check mode.
  - Errors name the inventory variable that holds the bad value (C(networking_*), C(deploy_project),
    C(deploy_environment), C(aws_region)) and say what would be valid.
  - "Subnet layout: the VPC CIDR is cut into four quarters (public, private, isolated, reserved), each into
    eight slots; a zone's slot is fixed by its letter (C(a) is slot 0), so adding a zone never renumbers an
    existing subnet. Subnets are the VPC prefix plus 5 (a /16 gives /21 subnets)."
author:
  - Macro AI maintainers (@macroai)
options:
  project:
    description:
      - Project name (C(deploy_project)), used in resource names. Lower-case letters, digits and hyphens,
        2 to 32 characters, starting with a letter.
    type: str
    required: true
  environment:
    description:
      - Environment name (C(deploy_environment)), same rules as O(project).
    type: str
    required: true
  vpc_cidr:
    description:
      - IPv4 CIDR block of the VPC (C(networking_vpc_cidr)), a network address with a prefix from /16 to /22.
    type: str
    required: true
  az_count:
    description:
      - Number of Availability Zones to spread subnets over (C(networking_az_count)), at least 2 because an
        Application Load Balancer needs two, at most the zones available in the region.
    type: int
    required: true
  nat_gateway_count:
    description:
      - NAT gateways to plan (C(networking_nat_gateway_count)), from 0 to O(az_count), placed in the first
        zones in name order.
    type: int
    default: 0
  tasks_in_public_subnets:
    description:
      - Whether tasks run in public subnets with public IPs (C(networking_tasks_in_public_subnets)).
      - V(false) with no NAT gateway is only accepted when O(vpc_endpoints) includes C(s3), C(ecr.api),
        C(ecr.dkr) and C(logs), the least a Fargate task needs to start without internet egress.
    type: bool
    default: true
  vpc_endpoints:
    description:
      - Short service names of VPC endpoints to plan (C(networking_vpc_endpoints)), for example C(s3) or
        C(ecr.api). C(s3) and C(dynamodb) are gateway endpoints, the others interface endpoints.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
  - macroai.deploy.attributes.actiongroup_aws
"""

EXAMPLES = r"""
- name: Plan the network of a two-zone hobby deployment
  macroai.deploy.network_plan:
    project: macroai
    environment: production
    vpc_cidr: 10.0.0.0/16
    az_count: 2
    nat_gateway_count: 0
    tasks_in_public_subnets: true
  register: network_plan

- name: Plan three zones with a NAT gateway each and private endpoints
  macroai.deploy.network_plan:
    project: macroai
    environment: production
    vpc_cidr: 10.20.0.0/16
    az_count: 3
    nat_gateway_count: 3
    tasks_in_public_subnets: false
    vpc_endpoints: [s3, ecr.api, ecr.dkr, logs, secretsmanager]
"""

RETURN = r"""
plan:
  description: The network layout.
  returned: success
  type: dict
  contains:
    name_prefix:
      description: Prefix of every resource name, C(project-environment).
      type: str
      sample: macroai-production
    vpc_cidr:
      description: The VPC CIDR block.
      type: str
      sample: 10.0.0.0/16
    azs:
      description: The Availability Zones used, in name order.
      type: list
      elements: str
      sample: [eu-west-2a, eu-west-2b]
    subnets:
      description: Subnets by tier (C(public), C(private), C(isolated)), one per zone in RV(plan.azs) order.
      type: dict
      sample:
        public:
          - {tier: public, az: eu-west-2a, cidr: 10.0.0.0/21, name: macroai-production-public-a}
        private:
          - {tier: private, az: eu-west-2a, cidr: 10.0.64.0/21, name: macroai-production-private-a}
        isolated:
          - {tier: isolated, az: eu-west-2a, cidr: 10.0.128.0/21, name: macroai-production-isolated-a}
    nat_gateway_azs:
      description: Zones that get a NAT gateway, in their public subnet.
      type: list
      elements: str
      sample: [eu-west-2a]
    private_route_nat_az:
      description: For each zone, the zone whose NAT gateway its private route table uses (null without NAT).
      type: dict
      sample: {eu-west-2a: eu-west-2a, eu-west-2b: eu-west-2a}
    tasks_in_public_subnets:
      description: Whether tasks run in public subnets.
      type: bool
      sample: true
    task_subnet_tier:
      description: The tier tasks run in, C(public) or C(private).
      type: str
      sample: public
    vpc_endpoints:
      description: Planned endpoints, C(gateway) and C(interface) lists of C(service) and C(service_name).
      type: dict
      sample:
        gateway: [{service: s3, service_name: com.amazonaws.eu-west-2.s3}]
        interface: [{service: logs, service_name: com.amazonaws.eu-west-2.logs}]
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
import contextlib  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._network_plan import (  # noqa: E402
    NetworkInputs,
    NetworkPlanError,
    plan_network,
    validate_inputs,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError


def available_zones(client):
    response = client.describe_availability_zones(
        Filters=[
            {"Name": "state", "Values": ["available"]},
            {"Name": "zone-type", "Values": ["availability-zone"]},
        ]
    )
    return [zone["ZoneName"] for zone in response["AvailabilityZones"]]


def main():
    argument_spec = dict(
        project=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        vpc_cidr=dict(type="str", required=True),
        az_count=dict(type="int", required=True),
        nat_gateway_count=dict(type="int", default=0),
        tasks_in_public_subnets=dict(type="bool", default=True),
        vpc_endpoints=dict(type="list", elements="str", default=[]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    inputs = NetworkInputs(
        project=params["project"],
        environment=params["environment"],
        # An explicit empty region stays empty (and fails validation) rather than falling back to a profile's.
        region=params["region"] if params.get("region") is not None else module.region,
        vpc_cidr=params["vpc_cidr"],
        az_count=params["az_count"],
        nat_gateway_count=params["nat_gateway_count"],
        tasks_in_public_subnets=params["tasks_in_public_subnets"],
        vpc_endpoints=params["vpc_endpoints"],
    )
    # Fail on the settings alone before touching the endpoint: a malformed region cannot be asked anything.
    errors = validate_inputs(inputs)
    if errors:
        module.fail_json(msg="Invalid settings: " + "; ".join(errors), errors=errors)

    (client,) = retrying_clients(module, "ec2")
    try:
        zones = available_zones(client)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"Could not read the Availability Zones of aws_region={inputs.region!r}: check that "
            "aws_region is a region enabled for this account and that the credentials and endpoint are right",
        )
    try:
        plan = plan_network(inputs, zones)
    except NetworkPlanError as e:
        module.fail_json(msg="Invalid settings: " + "; ".join(e.errors), errors=e.errors)
    module.exit_json(changed=False, plan=plan)


if __name__ == "__main__":
    main()
