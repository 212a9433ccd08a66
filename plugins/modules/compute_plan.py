#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: compute_plan
short_description: Validate the compute settings across fields and derive the compute role's names
version_added: 0.1.0
description:
  - Checks the rules of the C(macroai.deploy.compute) role that involve several settings or a format the
    argument spec cannot express, and returns the names and shapes the role then creates (cluster, service,
    task definition family, load balancer, target groups, roles, alarms, secrets by reference).
  - Rules - the task size is one of Fargate's CPU and memory pairs; the health check path starts with a
    slash and the health check timeout is below its interval; the container port is one of the container's
    port mappings and the port the networking role opens to the load balancer; the test listener port is
    not a production port; the desired count lies within the autoscaling bounds and the tasks' zones
    within the network's; strategy settings are complete; environment variables that look like credentials
    are refused (they belong in O(secrets)); secrets are referenced by names under this app's prefix.
  - Errors name the inventory variable holding the bad value (C(compute_*), C(networking_*),
    C(deploy_project), C(deploy_environment)) and say what would be valid.
  - Never touches AWS or anything else; always reports C(changed=false) and runs the same in check mode.
author:
  - Macro AI maintainers (@macroai)
options:
  project:
    description: Project name (C(deploy_project)).
    type: str
    required: true
  environment:
    description: Environment name (C(deploy_environment)).
    type: str
    required: true
  task_cpu:
    description: Fargate task CPU units (C(compute_task_cpu)), for example V(256) or V(1024).
    type: int
    required: true
  task_memory:
    description: Task memory in MiB (C(compute_task_memory)), one Fargate allows with O(task_cpu).
    type: int
    required: true
  desired_count:
    description: Tasks to run (C(compute_desired_count)), from O(autoscaling_min) to O(autoscaling_max).
    type: int
    required: true
  task_az_count:
    description: Availability Zones the tasks run in (C(compute_task_az_count)), 1 to O(network_az_count).
    type: int
    required: true
  autoscaling_min:
    description: Autoscaling lower bound (C(compute_autoscaling_min)), at least 1.
    type: int
    required: true
  autoscaling_max:
    description:
      - Autoscaling upper bound (C(compute_autoscaling_max)); equal to the minimum turns autoscaling off.
    type: int
    required: true
  autoscaling_target_cpu:
    description: Target average CPU utilisation in percent (C(compute_autoscaling_target_cpu)), 10 to 95.
    type: int
    default: 70
  fargate_spot:
    description: Run tasks on Fargate Spot (C(compute_fargate_spot)).
    type: bool
    default: false
  network_az_count:
    description: Availability Zones of the network (C(networking_az_count)).
    type: int
    default: 2
  app_port:
    description: The port the tasks' security group accepts from the load balancer (C(networking_app_port)).
    type: int
    default: 3000
  image_tag:
    description: Image tag to release (C(compute_image_tag)), for example a git SHA or V(v1.2.3).
    type: str
    default: v1
  container_name:
    description: Name of the application container (C(compute_container_name)).
    type: str
    default: api
  container_port:
    description: Container port the load balancer sends traffic to (C(compute_container_port)).
    type: int
    default: 3000
  container_ports:
    description: The container's port mappings (C(compute_container_ports)); O(container_port) must be one.
    type: list
    elements: int
    default: [3000]
  container_environment:
    description:
      - Plain environment of the container (C(compute_environment)), name to value. Names that look like
        credentials (C(*PASSWORD*), C(*SECRET*), C(*TOKEN*), C(*_URL), ...) are refused.
    type: dict
    default: {}
  secrets:
    description:
      - Secrets by reference (C(compute_secrets)), each with C(name) (the variable), and C(parameter) (an SSM
        parameter name relative to C(/PROJECT/ENVIRONMENT/)) or C(secret) (a Secrets Manager name relative to
        C(PROJECT/ENVIRONMENT/)), optionally C(json_key).
    type: list
    elements: dict
    default: []
  health_check_path:
    description: Target group health check path (C(compute_health_check_path)), with a leading slash.
    type: str
    default: /health
  health_check_interval_seconds:
    description: Seconds between health checks (C(compute_health_check_interval_seconds)), 5 to 300.
    type: int
    default: 15
  health_check_timeout_seconds:
    description:
      - Health check timeout (C(compute_health_check_timeout_seconds)), 2 to 120 and below the interval.
    type: int
    default: 5
  healthy_threshold:
    description: Consecutive successes to become healthy (C(compute_healthy_threshold)), 2 to 10.
    type: int
    default: 2
  unhealthy_threshold:
    description: Consecutive failures to become unhealthy (C(compute_unhealthy_threshold)), 2 to 10.
    type: int
    default: 3
  health_check_grace_seconds:
    description:
      - Seconds ECS ignores failing health checks of a new task (C(compute_health_check_grace_seconds)).
    type: int
    default: 30
  deregistration_delay_seconds:
    description: Seconds a deregistered target drains (C(compute_deregistration_delay_seconds)), 0 to 3600.
    type: int
    default: 30
  deployment_strategy:
    description: ECS deployment strategy (C(compute_deployment_strategy)).
    type: str
    choices: [BLUE_GREEN, LINEAR, CANARY]
    default: BLUE_GREEN
  bake_time_minutes:
    default: 5
  test_listener_port:
    description: Port of the load balancer's test listener (C(compute_test_listener_port)), not 80 or 443.
    type: int
    default: 8080
  certificate_arn:
    description: ACM certificate ARN for HTTPS (C(compute_certificate_arn)); empty means HTTP only.
    type: str
    default: ""
  alarms_enabled:
    description: Whether alarms are created and roll deployments back (C(compute_alarms_enabled)).
    type: bool
    default: false
  alarm_cpu_percent:
    description: CPU alarm threshold in percent (C(compute_alarm_cpu_percent)).
    type: float
    default: 80
  alarm_memory_percent:
    description: Memory alarm threshold in percent (C(compute_alarm_memory_percent)).
    type: float
    default: 85
  alarm_response_time_seconds:
    description: Target response time alarm threshold in seconds (C(compute_alarm_response_time_seconds)).
    type: float
    default: 2
  alarm_target_5xx_count:
    description:
      - 5xx responses from targets per minute that raise the alarm (C(compute_alarm_target_5xx_count)).
    type: int
    default: 10
  ecr_keep_images:
    description: Tagged images the ECR lifecycle policy keeps (C(compute_ecr_keep_images)).
    type: int
    default: 30
extends_documentation_fragment:
  - macroai.deploy.ecs.deployment_steps
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
notes:
  - O(bake_time_minutes), O(linear_step_percent), O(linear_step_bake_minutes), O(canary_percent) and
    O(canary_bake_minutes) are the role's variables of the same names with the C(compute_) prefix, for
    example C(compute_bake_time_minutes).
"""

EXAMPLES = r"""
- name: Check the compute settings and derive names
  macroai.deploy.compute_plan:
    project: "{{ deploy_project }}"
    environment: "{{ deploy_environment }}"
    task_cpu: "{{ compute_task_cpu }}"
    task_memory: "{{ compute_task_memory }}"
    desired_count: "{{ compute_desired_count }}"
    task_az_count: "{{ compute_task_az_count }}"
    autoscaling_min: "{{ compute_autoscaling_min }}"
    autoscaling_max: "{{ compute_autoscaling_max }}"
    network_az_count: "{{ networking_az_count }}"
    app_port: "{{ networking_app_port }}"
    image_tag: "{{ compute_image_tag }}"
    health_check_path: /health
    secrets:
      - {name: DATABASE_URL, secret: database-url}
      - {name: REDIS_URL, parameter: redis-url}
  register: release_compute_plan
"""

RETURN = r"""
plan:
  description: Names and derived settings for the compute role.
  returned: success
  type: dict
  contains:
    name_prefix:
      description: PROJECT-ENVIRONMENT, the start of every name.
      type: str
      sample: macroai-production
    cluster:
      description: ECS cluster name.
      type: str
    service:
      description: ECS service name.
      type: str
    family:
      description: Task definition family.
      type: str
    repository:
      description: ECR repository name.
      type: str
      sample: macroai/production/api
    log_group:
      description: CloudWatch Logs group of the tasks.
      type: str
      sample: /ecs/macroai-production/api
    load_balancer:
      description: Application Load Balancer name.
      type: str
    target_groups:
      description: Blue and green target group names.
      type: dict
      sample: {blue: macroai-production-blue, green: macroai-production-green}
    roles:
      description: IAM role names, by purpose (execution, task, infrastructure).
      type: dict
    parameter_path:
      description: The SSM Parameter Store path the tasks may read.
      type: str
      sample: /macroai/production/
    secret_prefix:
      description: The Secrets Manager name prefix the tasks may read.
      type: str
      sample: macroai/production/
    listeners:
      description: Production listener protocol and port, test listener, and whether HTTP redirects to HTTPS.
      type: dict
      sample:
        production: {protocol: HTTP, port: 80}
        test: {protocol: HTTP, port: 8080}
        http_redirect: false
    capacity_provider_strategy:
      description: The service's capacity provider strategy; empty (the FARGATE launch type) without Spot.
      type: list
      elements: dict
      sample: [{capacity_provider: FARGATE_SPOT, weight: 1}]
    autoscaling:
      description: Whether autoscaling is on (maximum above minimum), its bounds and CPU target.
      type: dict
      sample: {enabled: true, min: 2, max: 10, target_cpu: 70}
    alarms:
      description: Alarm names by purpose; empty when alarms are off.
      type: dict
      sample: {cpu-high: macroai-production-api-cpu-high}
    alarm_topic:
      description: SNS topic name for alarm notifications.
      type: str
    port_mappings:
      description: The container's port mappings as ECS takes them.
      type: list
      elements: dict
      sample: [{containerPort: 3000, protocol: tcp}]
    environment:
      description: The container's plain environment as ECS takes it, sorted by name.
      type: list
      elements: dict
      sample: [{name: NODE_ENV, value: production}]
    secrets:
      description: Secrets by reference, with their source (V(ssm) or V(secretsmanager)) and full name.
      type: list
      elements: dict
      sample:
        - {name: DATABASE_URL, source: secretsmanager, path: macroai/production/database-url, json_key: ""}
errors:
  description: Every problem found, when the settings are invalid.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._compute_plan import (  # noqa: E402
    ComputeInputs,
    ComputePlanError,
    plan_compute,
)
from ansible_collections.macroai.deploy.plugins.module_utils._pure import ModuleFailure, exit_with  # noqa: E402

# plugins/action/compute_plan.py runs the same spec and run() in ansible-playbook's process.
ARGUMENT_SPEC = dict(
    project=dict(type="str", required=True),
    environment=dict(type="str", required=True),
    task_cpu=dict(type="int", required=True),
    task_memory=dict(type="int", required=True),
    desired_count=dict(type="int", required=True),
    task_az_count=dict(type="int", required=True),
    autoscaling_min=dict(type="int", required=True),
    autoscaling_max=dict(type="int", required=True),
    autoscaling_target_cpu=dict(type="int", default=70),
    fargate_spot=dict(type="bool", default=False),
    network_az_count=dict(type="int", default=2),
    app_port=dict(type="int", default=3000),
    image_tag=dict(type="str", default="v1"),
    container_name=dict(type="str", default="api"),
    container_port=dict(type="int", default=3000),
    container_ports=dict(type="list", elements="int", default=[3000]),
    container_environment=dict(type="dict", default={}),
    secrets=dict(type="list", elements="dict", default=[], no_log=False),  # references, not values
    health_check_path=dict(type="str", default="/health"),
    health_check_interval_seconds=dict(type="int", default=15),
    health_check_timeout_seconds=dict(type="int", default=5),
    healthy_threshold=dict(type="int", default=2),
    unhealthy_threshold=dict(type="int", default=3),
    health_check_grace_seconds=dict(type="int", default=30),
    deregistration_delay_seconds=dict(type="int", default=30),
    deployment_strategy=dict(type="str", choices=["BLUE_GREEN", "LINEAR", "CANARY"], default="BLUE_GREEN"),
    bake_time_minutes=dict(type="int", default=5),
    linear_step_percent=dict(type="float"),
    linear_step_bake_minutes=dict(type="int"),
    canary_percent=dict(type="float"),
    canary_bake_minutes=dict(type="int"),
    test_listener_port=dict(type="int", default=8080),
    certificate_arn=dict(type="str", default=""),
    alarms_enabled=dict(type="bool", default=False),
    alarm_cpu_percent=dict(type="float", default=80),
    alarm_memory_percent=dict(type="float", default=85),
    alarm_response_time_seconds=dict(type="float", default=2),
    alarm_target_5xx_count=dict(type="int", default=10),
    ecr_keep_images=dict(type="int", default=30),
)


def run(params, warn):
    try:
        return {"plan": plan_compute(ComputeInputs(**params))}
    except ComputePlanError as e:
        raise ModuleFailure("Invalid compute settings: " + "; ".join(e.errors), errors=e.errors) from None


def main():
    exit_with(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
