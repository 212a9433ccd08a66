#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: scale_advice
short_description: Recommend hobby, enhanced hobby or enterprise from metrics, users and revenue
version_added: 0.1.0
description:
  - Reads a deployment's CloudWatch metrics over a period (ECS service CPU and memory utilisation, the load
    balancer's target response time, RDS database connections) and, with the declared users and monthly
    revenue, recommends a scale by the seed's scaling triggers, giving each reason with its figure and
    threshold.
  - "Thresholds (the seed's): users under 100 hobby, 100 to 499 enhanced hobby, 500 or more enterprise;
    revenue under GBP 1,000 a month hobby, GBP 1,000 to 5,000 enhanced hobby, above GBP 5,000 enterprise;
    response time above 2 s, CPU above 80%, memory above 85% or database connections above 80% of the
    maximum recommend enterprise. The recommendation is the highest scale any reason points to."
  - Each metric is read hourly (CloudWatch C(GetMetricData), period 3600 s) and summarised over the period by
    O(statistic). A metric with no data (no RDS database on Neon, a service not deployed yet) is reported
    and not counted.
  - Read-only; reports C(changed=false) and runs the same in check mode.
author:
  - Macro AI maintainers (@macroai)
options:
  project:
    description:
      - Project name (C(deploy_project)); with O(environment) it names the resources to read, as the compute
        role names them.
    type: str
    required: true
  environment:
    description:
      - Environment name (C(deploy_environment)).
    type: str
    required: true
  users:
    description:
      - Users the application has (C(cost_users) or a real count).
    type: int
    required: true
  monthly_revenue_gbp:
    description:
      - Revenue a month, in GBP.
    type: float
    required: true
  current_scale:
    description:
      - The scale deployed now (C(deploy_scale)); the result then says whether to stay, move up or move down.
    type: str
    choices: [hobby, enhanced-hobby, enterprise]
  period_days:
    description:
      - Days of metrics to read, up to 63 (CloudWatch keeps hourly data that long).
    type: int
    default: 7
  statistic:
    description:
      - How the hourly figures are summarised over the period. V(p95) ignores the busiest 5% of hours, so one
        spike is not a trend; V(max) takes the busiest hour.
    type: str
    choices: [p95, max]
    default: p95
  response_time_statistic:
    description:
      - The CloudWatch statistic of C(TargetResponseTime) in each hour, for example V(p95), V(p99),
        V(Average) or V(Maximum).
    type: str
    default: p95
  cluster_name:
    description:
      - ECS cluster; default C(<project>-<environment>).
    type: str
  service_name:
    description:
      - ECS service; default C(<project>-<environment>-api).
    type: str
  load_balancer_name:
    description:
      - Application Load Balancer name; default C(<project>-<environment>).
    type: str
  db_instance_identifier:
    description:
      - RDS instance to read C(DatabaseConnections) of; unset (Neon) means no database trigger.
    type: str
  database_max_connections:
    description:
      - The database's C(max_connections). By default it is derived from the RDS instance class (PostgreSQL's
        default, LEAST(memory / 9531392, 5000), an upper bound); set it when a parameter group changes it.
    type: int
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
  - macroai.deploy.attributes.actiongroup_aws
notes:
  - Needs C(cloudwatch:GetMetricData), C(elasticloadbalancing:DescribeLoadBalancers) and, with
    O(db_instance_identifier), C(rds:DescribeDBInstances).
"""

EXAMPLES = r"""
- name: Which scale does production need?
  macroai.deploy.scale_advice:
    project: macroai
    environment: production
    users: 350
    monthly_revenue_gbp: 1800
    current_scale: hobby
  register: advice

- name: Print the reasons
  ansible.builtin.debug:
    msg: "{{ advice.reasons | map(attribute='message') }}"

- name: Enterprise on RDS, with the busiest hour counted
  macroai.deploy.scale_advice:
    project: macroai
    environment: production
    users: 1200
    monthly_revenue_gbp: 9000
    db_instance_identifier: macroai-production
    statistic: max
"""

RETURN = r"""
recommended_scale:
  description: The highest scale any reason points to.
  returned: always
  type: str
  sample: enhanced-hobby
current_scale:
  description: O(current_scale), or null.
  returned: always
  type: str
  sample: hobby
change:
  description: V(stay), V(up) or V(down) from O(current_scale); null without it.
  returned: always
  type: str
  sample: up
reasons:
  description: Every trigger with its figure, its threshold and the scale it points to.
  returned: always
  type: list
  elements: dict
  contains:
    trigger:
      description: C(users), C(monthly_revenue_gbp), C(response_time_seconds), C(cpu_percent),
        C(memory_percent) or C(database_connections_percent).
      type: str
      sample: cpu_percent
    value:
      description: The figure; null when there was no data.
      type: float
      sample: 91.5
    threshold:
      description: The threshold that applied, in words.
      type: str
      sample: above 80%
    scale:
      description: The scale this reason points to; null when not counted.
      type: str
      sample: enterprise
    triggered:
      description: Whether the reason calls for more than hobby.
      type: bool
      sample: true
    message:
      description: The reason in one line.
      type: str
      sample: "CPU utilisation: 91.50% (p95 of 168 hourly averages ...), above 80% -> enterprise"
summary:
  description: The recommendation and the reasons that decided it, for printing.
  returned: always
  type: str
  sample: |-
    Recommended scale: enterprise (now hobby: move up)
      because CPU utilisation: 91.50% (p95 of 168 hourly averages), above 80% -> enterprise (scale up or out)
metrics:
  description: What was read, per trigger - the figure, the number of hourly values and the CloudWatch query.
  returned: always
  type: dict
  sample: {cpu_percent: {value: 91.5, hours: 168, namespace: AWS/ECS, metric: CPUUtilization}}
"""

import contextlib  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._scale_advice import (  # noqa: E402
    advise,
    rds_max_connections,
    summarise,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError

HOUR = 3600


def load_balancer_dimension(elbv2, name):
    """The ALB's CloudWatch dimension value (``app/NAME/ID``), or None when it does not exist."""
    try:
        balancers = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "LoadBalancerNotFound":
            return None
        raise
    return balancers[0]["LoadBalancerArn"].split(":loadbalancer/", 1)[1] if balancers else None


def database_max_connections(rds, identifier, given):
    if given:
        return given, f"max_connections {given} (given)"
    try:
        instances = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "DBInstanceNotFound":
            return None, f"RDS instance {identifier} not found"
        raise
    instance_class = instances[0]["DBInstanceClass"]
    derived = rds_max_connections(instance_class)
    if derived is None:
        return None, f"max_connections of {instance_class} unknown: set database_max_connections"
    return derived, f"max_connections about {derived} for {instance_class}"


def queries(params, load_balancer, database):
    """trigger -> (namespace, metric, dimensions, stat, what the hourly figure is)."""
    service = [
        {"Name": "ClusterName", "Value": params["cluster_name"]},
        {"Name": "ServiceName", "Value": params["service_name"]},
    ]
    found = {
        "cpu_percent": ("AWS/ECS", "CPUUtilization", service, "Average", "hourly averages"),
        "memory_percent": ("AWS/ECS", "MemoryUtilization", service, "Average", "hourly averages"),
    }
    if load_balancer:
        statistic = params["response_time_statistic"]
        found["response_time_seconds"] = (
            "AWS/ApplicationELB",
            "TargetResponseTime",
            [{"Name": "LoadBalancer", "Value": load_balancer}],
            statistic,
            f"hourly {statistic} values",
        )
    if database:
        found["database_connections_percent"] = (
            "AWS/RDS",
            "DatabaseConnections",
            [{"Name": "DBInstanceIdentifier", "Value": database}],
            "Maximum",
            "hourly maxima",
        )
    return found


def read_metrics(cloudwatch, wanted, days):
    """trigger -> hourly values, in one GetMetricData call (paged)."""
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)  # noqa: UP017
    request = dict(
        MetricDataQueries=[
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
                    "Period": HOUR,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for index, (namespace, metric, dimensions, stat, _what) in enumerate(wanted.values())
        ],
        StartTime=end - timedelta(days=days),
        EndTime=end,
    )
    names = {f"m{index}": name for index, name in enumerate(wanted)}
    values = {name: [] for name in wanted}
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page["MetricDataResults"]:
            values[names[result["Id"]]] += [v for v in result.get("Values", []) if v is not None]
        if not page.get("NextToken"):
            return values
        request["NextToken"] = page["NextToken"]


def main():
    argument_spec = dict(
        project=dict(type="str", required=True),
        environment=dict(type="str", required=True),
        users=dict(type="int", required=True),
        monthly_revenue_gbp=dict(type="float", required=True),
        current_scale=dict(type="str", choices=["hobby", "enhanced-hobby", "enterprise"]),
        period_days=dict(type="int", default=7),
        statistic=dict(type="str", choices=["p95", "max"], default="p95"),
        response_time_statistic=dict(type="str", default="p95"),
        cluster_name=dict(type="str"),
        service_name=dict(type="str"),
        load_balancer_name=dict(type="str"),
        db_instance_identifier=dict(type="str"),
        database_max_connections=dict(type="int"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = dict(module.params)
    prefix = f"{params['project']}-{params['environment']}"
    params["cluster_name"] = params["cluster_name"] or prefix
    params["service_name"] = params["service_name"] or f"{prefix}-api"
    params["load_balancer_name"] = params["load_balancer_name"] or prefix
    errors = []
    if params["users"] < 0:
        errors.append(f"users={params['users']} must be 0 or more")
    if params["monthly_revenue_gbp"] < 0:
        errors.append(f"monthly_revenue_gbp={params['monthly_revenue_gbp']} must be 0 or more")
    if not 1 <= params["period_days"] <= 63:
        errors.append(
            f"period_days={params['period_days']}: use 1 to 63 (CloudWatch keeps hourly data 63 days)"
        )
    if errors:
        module.fail_json(msg="Invalid settings: " + "; ".join(errors), errors=errors)

    cloudwatch, elbv2, rds = retrying_clients(module, "cloudwatch", "elbv2", "rds")
    try:
        load_balancer = load_balancer_dimension(elbv2, params["load_balancer_name"])
        max_connections, connections_note = None, "no RDS database (db_instance_identifier unset)"
        if params["db_instance_identifier"]:
            max_connections, connections_note = database_max_connections(
                rds, params["db_instance_identifier"], params["database_max_connections"]
            )
        database = params["db_instance_identifier"] if max_connections else None
        wanted = queries(params, load_balancer, database)
        hourly = read_metrics(cloudwatch, wanted, params["period_days"])
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg="Could not read the metrics: check the region, the resource names (cluster_name, "
            "service_name, load_balancer_name, db_instance_identifier) and that the credentials allow "
            "cloudwatch:GetMetricData",
        )

    metrics, figures = {}, {}
    for name, (namespace, metric, dimensions, stat, what) in wanted.items():
        value = summarise(hourly[name], params["statistic"])
        if name == "database_connections_percent" and value is not None:
            value = 100.0 * value / max_connections
            what = f"{what}, of {connections_note}"
        detail = (
            f"({params['statistic']} of {len(hourly[name])} {what} over {params['period_days']} days)"
            if value is not None
            else f"{namespace} {metric} has no data over {params['period_days']} days"
        )
        figures[name] = (value, detail)
        metrics[name] = {
            "value": value,
            "hours": len(hourly[name]),
            "namespace": namespace,
            "metric": metric,
            "stat": stat,
            "dimensions": {d["Name"]: d["Value"] for d in dimensions},
        }
    if load_balancer is None:
        figures["response_time_seconds"] = (None, f"load balancer {params['load_balancer_name']} not found")
    if "database_connections_percent" not in wanted:
        figures["database_connections_percent"] = (None, connections_note)

    advice = advise(params["users"], params["monthly_revenue_gbp"], figures, params["current_scale"])
    module.exit_json(changed=False, metrics=metrics, **advice)


if __name__ == "__main__":
    main()
