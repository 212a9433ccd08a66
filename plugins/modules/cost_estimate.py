#!/usr/bin/python

# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: cost_estimate
short_description: Estimate the monthly cost of a scale's settings, line by line
version_added: 0.1.0
description:
  - Prices one deployment's settings (task size and count, load balancer, public IPv4 addresses, NAT gateways,
    VPC endpoints, database, cache, frontend, monitoring, WAF, secrets, DNS) from published prices shipped
    with the collection, and returns every line item with its quantity, unit price, source and date, the
    totals in USD and GBP, the cost per user and a printable table.
  - Runs on the controller and makes no AWS call; it never changes anything, so it reports C(changed=false)
    and returns the same estimate in check mode.
  - Every line is a monthly quantity times a unit price, at 730 hours a month, so the arithmetic can be redone
    from the table. The always-free allowances of CloudWatch and CloudFront are applied unless O(free_tier)
    is V(false).
  - Prices are held for C(eu-west-2) and C(us-east-1). An unknown region, RDS instance class or ElastiCache
    node type fails, naming the option and listing the known values.
  - Settings that price fine but would not work as priced (Neon Free or Upstash Free beyond their allowances)
    are returned as warnings.
author:
  - Macro AI maintainers (@macroai)
options:
  region:
    description:
      - AWS region whose prices are used (C(aws_region)). Required, here or in O(settings).
    type: str
    aliases: [aws_region]
  settings:
    description:
      - Any of this module's other options, as a mapping of option name to value; values that are null are
        left out. Lets a playbook write the mapping from inventory variables to options once, as one variable
        (the C(release_cost_settings) of the C(macroai.deploy.release) role), and pass it whole.
      - A value here takes the place of the option of the same name. Each is checked as that option is.
    type: dict
  users:
    description:
      - Number of users, for RV(per_user_gbp).
    type: int
    default: 100
  usd_to_gbp:
    description:
      - Pounds per US dollar, for RV(total_gbp). Before VAT.
    type: float
    default: 0.75
  ceiling_gbp:
    description:
      - Monthly budget in GBP. When set, RV(within_ceiling) says whether RV(total_gbp) is at or under it.
    type: float
  free_tier:
    description:
      - Apply AWS's always-free allowances (5 GB of logs ingested, 10 alarms, 3 dashboards, CloudFront 1 TB
        and 10 million requests). They are per account; turn this off when other workloads use them.
    type: bool
    default: true
  task_cpu:
    description:
      - Fargate task CPU units, 1024 to a vCPU (C(compute_task_cpu)).
    type: int
    default: 256
    choices: [256, 512, 1024, 2048, 4096, 8192, 16384]
  task_memory:
    description:
      - Fargate task memory in MiB (C(compute_task_memory)), a valid combination with O(task_cpu).
    type: int
    default: 512
  task_count:
    description:
      - Tasks running all month (C(compute_desired_count)).
    type: int
    default: 1
  cpu_architecture:
    description:
      - Task CPU architecture. V(arm64) is Graviton, about 20% cheaper than V(x86_64).
    type: str
    default: x86_64
    choices: [x86_64, arm64]
  fargate_spot:
    description:
      - Tasks run on Fargate Spot (C(compute_fargate_spot)), about 70% cheaper, x86_64 only, stopped with two
        minutes' notice when AWS needs the capacity back.
    type: bool
    default: false
  load_balancer:
    description:
      - Whether an Application Load Balancer fronts the tasks.
    type: bool
    default: true
  load_balancer_lcu:
    description:
      - Average load balancer capacity units in use. One LCU is 25 new connections a second, 3,000 active
        connections a minute, 1 GB an hour or 1,000 rule evaluations a second, whichever is highest.
    type: float
    default: 1.0
  az_count:
    description:
      - Availability Zones of the network (C(networking_az_count)). The load balancer holds one public IPv4
        address in each, and interface endpoints are billed in each.
    type: int
    default: 2
  nat_gateway_count:
    description:
      - NAT gateways (C(networking_nat_gateway_count)), each with a public IPv4 address.
    type: int
    default: 0
  nat_data_gb:
    description:
      - GB a month processed by the NAT gateways.
    type: float
    default: 10.0
  tasks_public_ip:
    description:
      - Tasks have public IPv4 addresses (C(networking_tasks_in_public_subnets)), one each.
    type: bool
    default: true
  vpc_endpoints:
    description:
      - VPC endpoint services (C(networking_vpc_endpoints)). C(s3) and C(dynamodb) are free gateway endpoints;
        the others are interface endpoints billed per AZ-hour.
    type: list
    elements: str
    default: []
  vpc_endpoint_data_gb:
    description:
      - GB a month processed by the interface endpoints.
    type: float
    default: 0.0
  database_provider:
    description:
      - Where PostgreSQL runs (C(data_database_provider)).
    type: str
    default: neon
    choices: [neon, rds]
  rds_instance_class:
    description:
      - RDS instance class (C(data_rds_instance_class)); only checked and priced when
        O(database_provider=rds).
    type: str
    default: db.t4g.micro
  rds_multi_az:
    description:
      - RDS Multi-AZ (C(data_rds_multi_az)); instance hours and storage are billed twice.
    type: bool
    default: false
  rds_storage_gb:
    description:
      - RDS allocated storage in GB.
    type: float
    default: 20.0
  rds_backup_storage_gb:
    description:
      - Total RDS backup storage kept for the retention period, in GB; only what exceeds O(rds_storage_gb) is
        billed.
    type: float
    default: 0.0
  neon_plan:
    description:
      - Neon plan when O(database_provider=neon).
    type: str
    default: free
    choices: [free, launch]
  neon_compute_units:
    description:
      - Neon compute size in compute units (CU) while awake.
    type: float
    default: 0.25
  neon_active_hours:
    description:
      - Hours a month the Neon compute is awake (it scales to zero after 5 idle minutes). At most 730.
    type: float
    default: 730.0
  neon_storage_gb:
    description:
      - Neon storage in GB.
    type: float
    default: 0.5
  cache_provider:
    description:
      - Where Redis runs (C(data_cache_provider)).
    type: str
    default: upstash
    choices: [upstash, elasticache]
  cache_engine:
    description:
      - ElastiCache engine; V(valkey) nodes cost 20% less than V(redis) (Redis OSS) nodes.
    type: str
    default: redis
    choices: [redis, valkey]
  elasticache_node_type:
    description:
      - ElastiCache node type (C(data_elasticache_node_type)); only checked and priced when
        O(cache_provider=elasticache).
    type: str
    default: cache.t4g.micro
  elasticache_nodes:
    description:
      - ElastiCache nodes, replicas included (C(data_elasticache_num_nodes)).
    type: int
    default: 1
  upstash_plan:
    description:
      - Upstash plan when O(cache_provider=upstash); V(payg) is pay as you go.
    type: str
    default: free
    choices: [free, payg]
  upstash_commands:
    description:
      - Redis commands a month sent to Upstash.
    type: int
    default: 300000
  frontend_storage_gb:
    description:
      - GB of frontend artifacts kept in Amplify Hosting.
    type: float
    default: 1.0
  frontend_gb_served:
    description:
      - GB a month served by Amplify Hosting (its CDN included).
    type: float
    default: 5.0
  frontend_build_minutes:
    description:
      - Amplify build minutes a month; 0 when CI builds the artifact and Amplify only hosts it.
    type: float
    default: 0.0
  cloudfront_gb:
    description:
      - GB a month out of a CloudFront distribution of our own (Amplify's CDN is in O(frontend_gb_served)).
    type: float
    default: 0.0
  cloudfront_requests:
    description:
      - HTTPS requests a month to that distribution.
    type: int
    default: 0
  waf_enabled:
    description:
      - A WAF web ACL in front of the load balancer (C(edge_waf_enabled)).
    type: bool
    default: false
  waf_rules:
    description:
      - WAF rules and rule groups in the web ACL.
    type: int
    default: 3
  waf_requests_millions:
    description:
      - Millions of requests a month inspected by WAF.
    type: float
    default: 1.0
  secrets:
    description:
      - Secrets Manager secrets.
    type: int
    default: 3
  hosted_zones:
    description:
      - Route 53 hosted zones.
    type: int
    default: 1
  log_ingest_gb:
    description:
      - GB of CloudWatch Logs ingested a month.
    type: float
    default: 1.0
  log_retention_days:
    description:
      - CloudWatch Logs retention in days (C(compute_log_retention_days)).
    type: int
    default: 14
  alarms:
    description:
      - CloudWatch alarms.
    type: int
    default: 0
  dashboards:
    description:
      - CloudWatch dashboards.
    type: int
    default: 0
extends_documentation_fragment:
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
notes:
  - Prices are data in C(plugins/module_utils/_prices.py), each with its date and source; re-check a line
    against AWS's price list files when it matters.
  - Not counted are data transfer out to the internet, ECR image storage, the release ledger's DynamoDB table,
    KMS and VAT; RV(assumptions) lists them.
seealso:
  - name: AWS Pricing Calculator
    description: AWS's own calculator, for a second opinion on any line.
    link: https://calculator.aws/
"""

EXAMPLES = r"""
- name: Estimate the seed's hobby configuration
  macroai.deploy.cost_estimate:
    region: eu-west-2
    task_cpu: 256
    task_memory: 512
    task_count: 1
    az_count: 2
    users: 100
    ceiling_gbp: 30
  register: cost

- name: Print the table
  ansible.builtin.debug:
    msg: "{{ cost.table }}"

- name: Estimate an enterprise configuration on RDS and ElastiCache
  macroai.deploy.cost_estimate:
    region: eu-west-2
    task_cpu: 1024
    task_memory: 2048
    task_count: 3
    az_count: 3
    nat_gateway_count: 3
    tasks_public_ip: false
    vpc_endpoints: [s3, ecr.api, ecr.dkr, logs, secretsmanager]
    database_provider: rds
    rds_instance_class: db.r6g.large
    rds_multi_az: true
    rds_storage_gb: 100
    cache_provider: elasticache
    elasticache_node_type: cache.r6g.large
    elasticache_nodes: 2
    waf_enabled: true
    users: 1000
"""

RETURN = r"""
line_items:
  description: Every priced line, in category order; C(monthly_usd) is C(quantity) times C(unit_price_usd).
  returned: success
  type: list
  elements: dict
  contains:
    category:
      description: The group the line belongs to, a key of RV(by_category_usd).
      type: str
      sample: compute
    item:
      description: What is billed.
      type: str
      sample: Fargate vCPU (x86_64, 1 x 0.25 vCPU / 0.5 GB)
    quantity:
      description: Units a month.
      type: float
      sample: 182.5
    unit:
      description: The unit of C(quantity) and C(unit_price_usd).
      type: str
      sample: vCPU-hour
    unit_price_usd:
      description: Price of one unit, in USD.
      type: float
      sample: 0.04656
    monthly_usd:
      description: The line's monthly cost, in USD.
      type: float
      sample: 8.4972
    source:
      description: Where the price comes from.
      type: str
      sample: AWS price list AmazonECS eu-west-2 (Fargate Linux x86); shared/reference/prices.md
    date:
      description: When the price was read.
      type: str
      sample: "2026-08-31"
by_category_usd:
  description: Monthly USD per category (compute, load balancer, public IPv4, NAT gateway, VPC endpoints,
    database, cache, frontend, monitoring, WAF, secrets and DNS); 0 for a category with no lines.
  returned: success
  type: dict
  sample: {compute: 10.36, load balancer: 25.45, public IPv4: 10.95}
total_usd:
  description: Monthly total in USD, rounded to cents.
  returned: success
  type: float
  sample: 49.25
total_gbp:
  description: Monthly total in GBP at O(usd_to_gbp), before VAT.
  returned: success
  type: float
  sample: 36.94
per_user_gbp:
  description: RV(total_gbp) divided by O(users).
  returned: success
  type: float
  sample: 0.3694
usd_to_gbp:
  description: The exchange rate used.
  returned: success
  type: float
  sample: 0.75
users:
  description: The user count used.
  returned: success
  type: int
  sample: 100
region:
  description: The region whose prices were used.
  returned: success
  type: str
  sample: eu-west-2
ceiling_gbp:
  description: The budget given in O(ceiling_gbp), or null.
  returned: success
  type: float
  sample: 30.0
within_ceiling:
  description: Whether RV(total_gbp) is at or under O(ceiling_gbp); null when no ceiling was given.
  returned: success
  type: bool
  sample: false
table:
  description: The line items and totals as an aligned text table, for printing.
  returned: success
  type: str
  sample: |-
    item                                             quantity  unit          USD/unit  USD/month
    Fargate vCPU (x86_64, 1 x 0.25 vCPU / 0.5 GB)      182.50  vCPU-hour      0.04656       8.50
assumptions:
  description: What the estimate assumes and leaves out, one sentence each.
  returned: success
  type: list
  elements: str
  sample: ["730 hours a month; prices in USD for eu-west-2, converted at 0.75 GBP per USD, before VAT."]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._cost import (  # noqa: E402
    CostEstimateError,
    CostInputs,
    estimate,
)
from ansible_collections.macroai.deploy.plugins.module_utils._pure import ModuleFailure, exit_with  # noqa: E402

ARGUMENT_SPEC = dict(
    region=dict(type="str", aliases=["aws_region"]),
    settings=dict(type="dict"),
    users=dict(type="int", default=100),
    usd_to_gbp=dict(type="float", default=0.75),
    ceiling_gbp=dict(type="float"),
    free_tier=dict(type="bool", default=True),
    task_cpu=dict(type="int", default=256, choices=[256, 512, 1024, 2048, 4096, 8192, 16384]),
    task_memory=dict(type="int", default=512),
    task_count=dict(type="int", default=1),
    cpu_architecture=dict(type="str", default="x86_64", choices=["x86_64", "arm64"]),
    fargate_spot=dict(type="bool", default=False),
    load_balancer=dict(type="bool", default=True),
    load_balancer_lcu=dict(type="float", default=1.0),
    az_count=dict(type="int", default=2),
    nat_gateway_count=dict(type="int", default=0),
    nat_data_gb=dict(type="float", default=10.0),
    tasks_public_ip=dict(type="bool", default=True),
    vpc_endpoints=dict(type="list", elements="str", default=[]),
    vpc_endpoint_data_gb=dict(type="float", default=0.0),
    database_provider=dict(type="str", default="neon", choices=["neon", "rds"]),
    rds_instance_class=dict(type="str", default="db.t4g.micro"),
    rds_multi_az=dict(type="bool", default=False),
    rds_storage_gb=dict(type="float", default=20.0),
    rds_backup_storage_gb=dict(type="float", default=0.0),
    neon_plan=dict(type="str", default="free", choices=["free", "launch"]),
    neon_compute_units=dict(type="float", default=0.25),
    neon_active_hours=dict(type="float", default=730.0),
    neon_storage_gb=dict(type="float", default=0.5),
    cache_provider=dict(type="str", default="upstash", choices=["upstash", "elasticache"]),
    cache_engine=dict(type="str", default="redis", choices=["redis", "valkey"]),
    elasticache_node_type=dict(type="str", default="cache.t4g.micro"),
    elasticache_nodes=dict(type="int", default=1),
    upstash_plan=dict(type="str", default="free", choices=["free", "payg"]),
    upstash_commands=dict(type="int", default=300000),
    frontend_storage_gb=dict(type="float", default=1.0),
    frontend_gb_served=dict(type="float", default=5.0),
    frontend_build_minutes=dict(type="float", default=0.0),
    cloudfront_gb=dict(type="float", default=0.0),
    cloudfront_requests=dict(type="int", default=0),
    waf_enabled=dict(type="bool", default=False),
    waf_rules=dict(type="int", default=3),
    waf_requests_millions=dict(type="float", default=1.0),
    secrets=dict(type="int", default=3, no_log=False),  # a count of secrets, not a secret
    hosted_zones=dict(type="int", default=1),
    log_ingest_gb=dict(type="float", default=1.0),
    log_retention_days=dict(type="int", default=14),
    alarms=dict(type="int", default=0),
    dashboards=dict(type="int", default=0),
)


# The same options without defaults or aliases, to check the values given in `settings`.
SETTINGS_SPEC = {
    name: {key: value for key, value in spec.items() if key not in ("default", "aliases")}
    for name, spec in ARGUMENT_SPEC.items()
    if name != "settings"
}


def merged_params(params):
    """The params with the non-null values of `settings` in place of their options."""
    given = {name: value for name, value in (params["settings"] or {}).items() if value is not None}
    checked = ArgumentSpecValidator(SETTINGS_SPEC).validate(given)
    if checked.error_messages:
        raise ModuleFailure(
            "Invalid settings: " + "; ".join(checked.error_messages), errors=checked.error_messages
        )
    merged = {
        **params,
        **{name: value for name, value in checked.validated_parameters.items() if value is not None},
    }
    if not merged.get("region"):
        raise ModuleFailure("Cannot estimate the cost: region is not set; set aws_region, e.g. eu-west-2")
    return merged


# plugins/action/cost_estimate.py runs the same spec and run() in ansible-playbook's process.
def run(params, warn):
    try:
        result = estimate(CostInputs.from_params(merged_params(params)))
    except CostEstimateError as e:
        raise ModuleFailure("Cannot estimate the cost: " + "; ".join(e.errors), errors=e.errors) from None
    for warning in result.pop("warnings"):
        warn(warning)
    return result


def main():
    exit_with(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
