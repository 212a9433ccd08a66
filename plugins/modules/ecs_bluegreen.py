#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ecs_bluegreen
short_description: Release a task definition to an ECS service with ECS's native blue/green, linear or canary
version_added: 0.1.0
description:
  - Registers a task definition revision when the one asked for differs from what the service runs, and
    releases it to an ECS service through ECS's native deployment strategies
    (C(deploymentConfiguration.strategy)), V(BLUE_GREEN) by default, V(LINEAR) or V(CANARY) as options,
    V(ROLLING) for services without traffic shifting.
  - Creates the service when it does not exist (with the C(ECS) deployment controller), and updates it when
    the task definition, the deployment settings, the desired count, the network configuration or the load
    balancer settings differ. Options left unset keep the service's current values (a new service gets a
    bake time of 5 minutes when O(bake_time_minutes) is unset).
  - Creates the production (and test) listener rule once, forwarding C(/*) to the blue target group (weight
    100) and the green one (weight 0). Afterwards ECS owns the weights; this module only reads them. A rule
    that forwards to one of the target groups but not both is reported as an error, never edited.
  - Waits on the service deployment (C(DescribeServiceDeployments)) until it ends or O(wait_timeout) passes,
    and returns every lifecycle stage and status it observed with timestamps (RV(steps)) and the time spent
    in each stage (RV(timings)). A module cannot stream output; each step is also written to the host's log.
  - A deployment that ECS rolls back (failed health checks, an alarm, a lifecycle hook) fails the task with
    the deployment's ARN, status and reason, and says which task definition production still runs.
  - O(state=rolled_back) stops a deployment still in progress (its bake time included) with rollback, which
    is a listener flip back to the still-running blue tasks, and/or releases the earlier task definition
    O(to_task_definition).
  - Task definitions are compared on the fields set here only, because AWS fills in defaults on registration;
    the same image and settings again register nothing and deploy nothing.
author:
  - Macro AI maintainers (@macroai)
options:
  cluster:
    description:
      - Name or ARN of the ECS cluster.
    type: str
    required: true
  service:
    description:
      - Name of the ECS service.
    type: str
    required: true
  state:
    description:
      - V(present) releases O(task_definition).
      - V(rolled_back) stops the service's deployment in progress with rollback and waits until ECS reports
        C(ROLLBACK_SUCCESSFUL); when no deployment is in progress, it releases O(to_task_definition), which
        is required then. With both, it stops the deployment, then releases O(to_task_definition) unless
        production already runs it.
    type: str
    choices: [present, rolled_back]
    default: present
  task_definition:
    description:
      - The task definition to release. Required with O(state=present).
      - A new revision is registered only when a field set here differs from the revision the service runs
        (and from the family's newest revision, which is reused when it matches).
      - Environment values are shown in results and C(--diff), except those named in O(sensitive_environment).
    type: dict
  to_task_definition:
    description:
      - With O(state=rolled_back), the task definition to release, as an ARN or C(family:revision).
      - Required with O(state=rolled_back) when no deployment is in progress.
    type: str
  sensitive_environment:
    description:
      - Names of environment variables whose values are masked in the results, C(--diff) and logs.
    type: list
    elements: str
    default: []
  desired_count:
    description:
      - Number of tasks. A new service gets 1 when this is not set; an existing one keeps its count.
    type: int
  network_configuration:
    description:
      - The tasks' C(awsvpc) network configuration. Required to create a service.
    type: dict
  launch_type:
    description:
      - Launch type of a new service (V(FARGATE) when neither this nor O(capacity_provider_strategy) is set).
        ECS cannot change the launch type of an existing service; it is used at creation only.
    type: str
    choices: [FARGATE, EC2, EXTERNAL]
  capacity_provider_strategy:
    description:
      - Capacity provider strategy, for example Fargate Spot with a Fargate base.
    type: list
  health_check_grace_period_seconds:
    description:
      - Seconds ECS ignores failing load balancer health checks of a new task.
    type: int
  container_name:
    description:
      - The container the load balancer sends traffic to. Defaults to the only container when there is one.
    type: str
  container_port:
    description:
      - The container port the load balancer sends traffic to. Required with O(state=present).
    type: int
  production_listener_arn:
    description:
      - ARN of the listener that serves production traffic. Required with O(state=present).
    type: str
  test_listener_arn:
    description:
      - ARN of a listener that serves the new version before production traffic moves (ECS's test traffic
        route), for smoke tests. Optional.
    type: str
  blue_target_group_arn:
    description:
      - ARN of the target group production traffic starts on. Required with O(state=present).
    type: str
  green_target_group_arn:
    description:
      - ARN of the alternate target group ECS registers the new version in. Required with O(state=present).
    type: str
  listener_rule_priority:
    description:
      - Priority of the listener rules created on the production and test listeners. The default, the lowest
        precedence a rule can have, lets more specific rules on the same listener go first.
      - Used only when a rule is created; an existing rule that forwards to both target groups is kept as
        it is.
    type: int
    default: 50000
  infrastructure_role_arn:
    description:
      - ARN of the IAM role ECS assumes to change the listener rules (trusting C(ecs.amazonaws.com), with the
        managed policy C(AmazonECSInfrastructureRolePolicyForLoadBalancers)). Required unless
        O(strategy=ROLLING).
    type: str
  strategy:
    description:
      - ECS deployment strategy.
      - V(BLUE_GREEN) starts the new version in full, sends test traffic to it, then moves all production
        traffic at once; V(LINEAR) moves it in equal steps; V(CANARY) moves a share first, then the rest.
    type: str
    choices: [BLUE_GREEN, LINEAR, CANARY, ROLLING]
    default: BLUE_GREEN
  alarms:
    description:
      - CloudWatch alarm names; one in ALARM during the deployment rolls it back. An empty list turns alarm
        monitoring off; unset keeps the service's alarms.
    type: list
    elements: str
  lifecycle_hooks:
    description:
      - C(deploymentConfiguration.lifecycleHooks) as AWS takes them (C(targetType), C(hookTargetArn),
        C(roleArn), C(lifecycleStages), C(timeoutConfiguration)), for example a Lambda function that runs
        smoke tests at C(POST_TEST_TRAFFIC_SHIFT). An empty list removes them; unset keeps the service's
        hooks.
    type: list
    elements: dict
  tags:
    description:
      - Tags of the service and of the task definition revisions this module registers, for example the
        cost allocation tags C(Project), C(Environment), C(Scale), C(Component) and C(ManagedBy).
      - A new service is created with them (and C(propagateTags=SERVICE), so its tasks carry them too); an
        existing service's tags are compared (C(ListTagsForResource)) and only the difference is written
        (C(TagResource), C(UntagResource)).
      - Tags are not part of the task definition comparison. A tag-only change registers no revision and
        starts no deployment; the revision released is retagged instead.
      - Unset (null) leaves every tag as it is. With O(state=rolled_back) tags are not used.
    type: dict
  cluster_tags:
    description:
      - Tags of the cluster O(cluster), which must exist (this module never creates it). Compared with
        C(ListTagsForResource); only the difference is written. Unset (null) leaves the cluster's tags as they
        are. With O(state=rolled_back) they are not used.
      - For clusters made with M(community.aws.ecs_cluster), which takes no tags.
    type: dict
  purge_tags:
    description:
      - Whether tags not in O(tags) are removed from the service and the revision released, and tags not in
        O(cluster_tags) from the cluster. Tags whose key starts with C(aws:) are never removed.
      - Has no effect on what O(tags) or O(cluster_tags) leave unset.
    type: bool
    default: true
  wait_timeout:
    default: 900
  poll_interval:
    type: int
    default: 10
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.ecs.task_definition
  - macroai.deploy.ecs.placement
  - macroai.deploy.ecs.deployment_steps
  - macroai.deploy.wait
  - macroai.deploy.wait.optional
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Reads but never writes, and predicts in RV(plan) whether a revision would be registered, the service
        created or updated, a deployment started or stopped, and listener rules created.
  diff_mode:
    support: full
    details:
      - Shows the task definition (images, environment, CPU, memory, secrets by reference), the deployment
        configuration and, when O(tags) or O(cluster_tags) is set, the service's or the cluster's tags before
        and after.
  idempotent:
    support: full
    details:
      - The same input again changes nothing and reports C(changed=false).
notes:
  - It waits for the service deployment. On O(wait_timeout) the task fails but ECS carries on; running the
    task again with the same input waits for the same deployment without starting another one.
  - The service's load balancer entry is compared with blue and green in either order, since ECS swaps them as
    it releases.
seealso:
  - name: Amazon ECS blue/green deployments
    description: How ECS's native blue/green, linear and canary deployments work.
    link: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html
"""

EXAMPLES = r"""
- name: Release the API with a five-minute bake and alarm rollback
  macroai.deploy.ecs_bluegreen:
    cluster: macroai-production
    service: api
    task_definition:
      family: macroai-production-api
      cpu: "256"
      memory: "512"
      execution_role_arn: "{{ execution_role_arn }}"
      runtime_platform: {cpuArchitecture: ARM64, operatingSystemFamily: LINUX}
      container_definitions:
        - name: api
          image: "123456789012.dkr.ecr.eu-west-2.amazonaws.com/api:{{ git_sha }}"
          essential: true
          portMappings: [{containerPort: 3000}]
          environment:
            - {name: NODE_ENV, value: production}
          secrets:
            - name: DATABASE_URL
              valueFrom: arn:aws:ssm:eu-west-2:123456789012:parameter/macroai/database-url
    network_configuration:
      subnets: "{{ public_subnet_ids }}"
      security_groups: ["{{ task_security_group_id }}"]
      assign_public_ip: true
    container_port: 3000
    production_listener_arn: "{{ https_listener_arn }}"
    test_listener_arn: "{{ test_listener_arn }}"
    blue_target_group_arn: "{{ blue_target_group_arn }}"
    green_target_group_arn: "{{ green_target_group_arn }}"
    infrastructure_role_arn: "{{ ecs_infrastructure_role_arn }}"
    bake_time_minutes: 5
    alarms: [macroai-production-api-5xx]
    tags:
      Project: macroai
      Environment: production
      Scale: startup
      Component: compute
      ManagedBy: macroai.deploy
  register: release

- name: Move production traffic in 25% steps, two minutes apart
  macroai.deploy.ecs_bluegreen:
    cluster: macroai-production
    service: api
    task_definition: "{{ api_task_definition }}"
    container_port: 3000
    production_listener_arn: "{{ https_listener_arn }}"
    blue_target_group_arn: "{{ blue_target_group_arn }}"
    green_target_group_arn: "{{ green_target_group_arn }}"
    infrastructure_role_arn: "{{ ecs_infrastructure_role_arn }}"
    strategy: LINEAR
    linear_step_percent: 25
    linear_step_bake_minutes: 2

- name: Roll back - stop the deployment if it is still baking, else release the recorded revision
  macroai.deploy.ecs_bluegreen:
    cluster: macroai-production
    service: api
    state: rolled_back
    to_task_definition: "{{ ledger_previous_task_definition }}"
"""

RETURN = r"""
plan:
  description: What the run did, or in check mode would do.
  returned: always
  type: dict
  contains:
    create_listener_rules:
      description: Listener rules created, V(production) and/or V(test).
      type: list
      elements: str
      sample: [production, test]
    register_revision:
      description: Whether a task definition revision was registered.
      type: bool
      sample: true
    create_service:
      description: Whether the service was created.
      type: bool
      sample: false
    update_service:
      description: The C(UpdateService) fields that changed.
      type: list
      elements: str
      sample: [taskDefinition]
    deploy:
      description: Whether a service deployment was started.
      type: bool
      sample: true
    stop_deployment:
      description: Whether a deployment in progress was stopped with rollback.
      type: bool
      sample: false
    tags:
      description:
        - Tag changes by resource, V(cluster), V(service) and V(task_definition) (a revision reused as it is),
          each with C(add), the tags set, and C(remove), the keys removed. Empty when no tag changed.
      type: dict
      sample: {service: {add: {Component: compute}, remove: [Owner]}}
  sample:
    create_listener_rules: []
    register_revision: true
    create_service: false
    update_service: [taskDefinition]
    deploy: true
    stop_deployment: false
    tags: {}
task_definition_arn:
  description:
    - The task definition released (or, after a rollback, the one production runs). Null in check mode when a
      new revision would be registered.
  returned: always
  type: str
  sample: arn:aws:ecs:eu-west-2:123456789012:task-definition/macroai-production-api:8
previous_task_definition_arn:
  description: The task definition the service ran before this release; null when nothing is known.
  returned: always
  type: str
  sample: arn:aws:ecs:eu-west-2:123456789012:task-definition/macroai-production-api:7
deployment:
  description: The service deployment this run started or followed; null when there is none.
  returned: always
  type: dict
  contains:
    id:
      description: The deployment's ID, the last part of its ARN.
      type: str
      sample: Fp4ZDbDk3sLt4eYzGXo8m
    arn:
      description: The service deployment's ARN.
      type: str
      sample: arn:aws:ecs:eu-west-2:123456789012:service-deployment/macroai/api/Fp4ZDbDk3sLt4eYzGXo8m
    status:
      description: Its last status seen, for example V(SUCCESSFUL) or V(ROLLBACK_SUCCESSFUL).
      type: str
      sample: SUCCESSFUL
    status_reason:
      description: ECS's reason for the status.
      type: str
    lifecycle_stage:
      description: Its last lifecycle stage seen.
      type: str
      sample: CLEAN_UP
    rollback_reason:
      description: Why ECS rolled it back.
      type: str
    elapsed_s:
      description: Seconds this run waited on it.
      type: float
      sample: 412.5
    timed_out:
      description: Whether O(wait_timeout) passed first.
      type: bool
      sample: false
live_target_group_arn:
  description:
    - The target group taking most production traffic, read from the production listener rule's weights.
  returned: always
  type: str
  sample: arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/macroai-green/0123456789abcdef
target_group_weights:
  description: The production listener rule's weights, by target group ARN.
  returned: always
  type: dict
  sample: {"arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/macroai-blue/0123": 0}
listener_rules:
  description: ARNs of the production and test listener rules (null in check mode for a rule to be created).
  returned: always
  type: dict
  sample: {production: "arn:aws:elasticloadbalancing:eu-west-2:123456789012:listener-rule/app/lb/1/2/3"}
steps:
  description: Each change of the deployment's lifecycle stage or status seen while waiting, in order.
  returned: always
  type: list
  elements: dict
  contains:
    stage:
      description: Lifecycle stage (null when ECS reports none, as during a rollback).
      type: str
    status:
      description: Deployment status.
      type: str
    at:
      description: When it was first seen, ISO 8601 UTC.
      type: str
    elapsed_s:
      description: Seconds since the wait began.
      type: float
  sample:
    - {stage: SCALE_UP, status: IN_PROGRESS, at: "2026-05-01T10:00:02+00:00", elapsed_s: 0.4}
    - {stage: BAKE_TIME, status: IN_PROGRESS, at: "2026-05-01T10:02:40+00:00", elapsed_s: 158.1}
    - {stage: CLEAN_UP, status: SUCCESSFUL, at: "2026-05-01T10:07:45+00:00", elapsed_s: 463.0}
timings:
  description: Seconds spent in each lifecycle stage seen (or status, where ECS reports no stage).
  returned: always
  type: dict
  sample: {SCALE_UP: 57.2, TEST_TRAFFIC_SHIFT: 31.0, PRODUCTION_TRAFFIC_SHIFT: 69.9, BAKE_TIME: 304.9}
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._ecs import (  # noqa: E402
    DeploymentSettings,
    EcsReleaseError,
    LoadBalancing,
    ReleaseRequest,
    ServiceSpec,
    TaskDefinitionSpec,
    WaitSettings,
    release,
    roll_back,
    task_definition_options,
)
from ansible_collections.macroai.deploy.plugins.module_utils._module import run_module  # noqa: E402


def build_request(params):
    task_definition = params["task_definition"]
    network = params["network_configuration"] or {}
    load_balancing = None
    if params["production_listener_arn"]:
        load_balancing = LoadBalancing(
            production_listener_arn=params["production_listener_arn"],
            blue_target_group_arn=params["blue_target_group_arn"],
            green_target_group_arn=params["green_target_group_arn"],
            container_port=params["container_port"],
            container_name=params["container_name"],
            test_listener_arn=params["test_listener_arn"],
            listener_rule_priority=params["listener_rule_priority"],
            infrastructure_role_arn=params["infrastructure_role_arn"],
        )
    return ReleaseRequest(
        service=ServiceSpec(
            cluster=params["cluster"],
            service=params["service"],
            desired_count=params["desired_count"],
            subnets=network.get("subnets"),
            security_groups=network.get("security_groups"),
            assign_public_ip=network.get("assign_public_ip"),
            launch_type=params["launch_type"],
            capacity_provider_strategy=params["capacity_provider_strategy"],
            health_check_grace_period_seconds=params["health_check_grace_period_seconds"],
        ),
        deployment=DeploymentSettings(
            strategy=params["strategy"],
            bake_time_minutes=params["bake_time_minutes"],
            linear_step_percent=params["linear_step_percent"],
            linear_step_bake_minutes=params["linear_step_bake_minutes"],
            canary_percent=params["canary_percent"],
            canary_bake_minutes=params["canary_bake_minutes"],
            alarms=params["alarms"],
            lifecycle_hooks=params["lifecycle_hooks"],
        ),
        task_definition=TaskDefinitionSpec(**task_definition) if task_definition else None,
        to_task_definition=params["to_task_definition"],
        load_balancing=load_balancing,
        sensitive_environment=params["sensitive_environment"],
        wait=WaitSettings(params["wait"], params["wait_timeout"], params["poll_interval"]),
        tags=params["tags"],
        purge_tags=params["purge_tags"],
        cluster_tags=params["cluster_tags"],
    )


def sensitive_values(params):
    names = set(params["sensitive_environment"])
    containers = (params["task_definition"] or {}).get("container_definitions") or []
    return {
        str(variable.get("value"))
        for container in containers
        for variable in container.get("environment") or []
        if variable.get("name") in names and variable.get("value") not in (None, "")
    }


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        service=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "rolled_back"], default="present"),
        task_definition=dict(
            type="dict",
            options=task_definition_options(),
        ),
        to_task_definition=dict(type="str"),
        sensitive_environment=dict(type="list", elements="str", default=[]),
        desired_count=dict(type="int"),
        network_configuration=dict(
            type="dict",
            options=dict(
                subnets=dict(type="list", elements="str"),
                security_groups=dict(type="list", elements="str"),
                assign_public_ip=dict(type="bool"),
            ),
        ),
        launch_type=dict(type="str", choices=["FARGATE", "EC2", "EXTERNAL"]),
        capacity_provider_strategy=dict(
            type="list",
            elements="dict",
            options=dict(
                capacity_provider=dict(type="str", required=True),
                weight=dict(type="int", default=1),
                base=dict(type="int"),
            ),
        ),
        health_check_grace_period_seconds=dict(type="int"),
        container_name=dict(type="str"),
        container_port=dict(type="int"),
        production_listener_arn=dict(type="str"),
        test_listener_arn=dict(type="str"),
        blue_target_group_arn=dict(type="str"),
        green_target_group_arn=dict(type="str"),
        listener_rule_priority=dict(type="int", default=50000),
        infrastructure_role_arn=dict(type="str"),
        strategy=dict(
            type="str", choices=["BLUE_GREEN", "LINEAR", "CANARY", "ROLLING"], default="BLUE_GREEN"
        ),
        bake_time_minutes=dict(type="int"),
        linear_step_percent=dict(type="float"),
        linear_step_bake_minutes=dict(type="int"),
        canary_percent=dict(type="float"),
        canary_bake_minutes=dict(type="int"),
        alarms=dict(type="list", elements="str"),
        lifecycle_hooks=dict(type="list", elements="dict"),
        tags=dict(type="dict"),
        cluster_tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        poll_interval=dict(type="int", default=10),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[
            ("launch_type", "capacity_provider_strategy"),
            ("task_definition", "to_task_definition"),
        ],
        required_if=[
            (
                "state",
                "present",
                (
                    "task_definition",
                    "production_listener_arn",
                    "blue_target_group_arn",
                    "green_target_group_arn",
                    "container_port",
                ),
            ),
        ],
    )
    # Masked wherever they would appear in the result (diff, invocation, error details).
    module.no_log_values.update(sensitive_values(module.params))
    request = build_request(module.params)

    ecs, elbv2 = retrying_clients(module, "ecs", "elbv2")
    act = release if module.params["state"] == "present" else roll_back

    def log_step(step):
        stage = step.stage or "-"
        module.log(f"ecs_bluegreen {module.params['service']}: {stage} {step.status} +{step.elapsed_s}s")

    def perform():
        result = act(ecs, elbv2, request, module.check_mode, progress=log_step)
        return {**result.as_dict(), "diff": result.differences.diff()}

    run_module(
        module,
        perform,
        (EcsReleaseError,),
        f"ECS or ELB refused a call while releasing service {module.params['service']} in cluster "
        f"{module.params['cluster']}: check the ARNs and names given, the region, and that the "
        "credentials may call ecs:* and elasticloadbalancing:DescribeRules/CreateRule",
    )


if __name__ == "__main__":
    main()
