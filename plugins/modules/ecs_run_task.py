#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ecs_run_task
short_description: Run a one-off ECS task to completion and report its exit code and log tail
version_added: 0.1.0
description:
  - Runs one task of a task definition with C(RunTask), for example a database migration before a
    release, optionally overriding the container's command and environment, waits until it stops, and
    returns its exit code, the reason ECS gives, and the last lines it wrote to CloudWatch Logs (through
    the container's C(awslogs) log configuration).
  - Fails when the task cannot start, when its container exits with a code other than 0, or when it does
    not stop within O(wait_timeout) (it is stopped then, see O(stop_on_timeout)); the message carries the
    exit code, the stopped reason and the log tail.
  - The task definition is an existing revision (O(task_definition)), or a specification
    (O(task_definition_spec)) registered or reused by the same rules as M(macroai.deploy.ecs_bluegreen)
    (the family's newest revision when every field set matches, else a new revision). Passing the same
    specification to both runs the task on exactly the revision the release then deploys.
  - Running a task is an action, not a state, so this module is not idempotent; it reports C(changed)
    every time it runs a task.
author:
  - Macro AI maintainers (@macroai)
options:
  cluster:
    description:
      - Name or ARN of the ECS cluster.
    type: str
    required: true
  task_definition:
    description:
      - The task definition to run, as an ARN, C(family:revision), or a family (its newest ACTIVE
        revision).
      - Exactly one of O(task_definition) and O(task_definition_spec) is required.
    type: str
  task_definition_spec:
    description:
      - A task definition to register, or to reuse when the family's newest revision already matches, with
        the same fields as M(macroai.deploy.ecs_bluegreen)'s C(task_definition).
    type: dict
  container_name:
    description:
      - The container O(command) and O(environment) apply to, and whose exit code and logs are reported.
        Defaults to the first essential container.
    type: str
  command:
    description:
      - The command the container runs instead of its image's or definition's, for example
        V([python, migrate.py]).
    type: list
    elements: str
  environment:
    description:
      - Environment variables added to (or replacing) the container's, as name/value. Values appear in the
        task's description; pass secrets through the task definition's C(secrets) instead.
    type: dict
  network_configuration:
    description:
      - The task's C(awsvpc) network configuration. Required for task definitions in C(awsvpc) mode.
    type: dict
  launch_type:
    description:
      - Launch type of the task. Without it and without O(capacity_provider_strategy) the cluster's default
        capacity provider strategy applies.
    type: str
    choices: [FARGATE, EC2, EXTERNAL]
  capacity_provider_strategy:
    description:
      - Capacity providers to place the task with, for example V(FARGATE_SPOT).
    type: list
  started_by:
    description:
      - The C(startedBy) tag ECS records on the task (at most 128 characters), for example a release id.
    type: str
    default: ansible-ecs_run_task
  tags:
    description:
      - Tags of the task, and of the revision registered from O(task_definition_spec) (added to a reused
        revision; tags it already has are kept).
    type: dict
  wait_timeout:
    default: 600
  poll_interval:
    default: 5
  stop_on_timeout:
    description:
      - Stop the task when it outlives O(wait_timeout), so a failed run leaves nothing behind.
    type: bool
    default: true
  log_lines:
    description:
      - How many of the last lines of the task's CloudWatch Logs stream to return in RV(log_tail).
    type: int
    default: 50
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.ecs.task_definition_spec
  - macroai.deploy.ecs.placement
  - macroai.deploy.wait
  - macroai.deploy.wait.optional
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Resolves the task definition (registering nothing) and returns what would run, with RV(task_arn)
        null; no task starts.
  diff_mode:
    support: none
    details:
      - A task run has no before and after.
  idempotent:
    support: none
    details:
      - Running a task is an action, not a state; it reports C(changed) every time it runs one. Guard the
        task with C(when) (for example, only when migration files changed).
notes:
  - With O(wait=false) the module returns once the task has started, with RV(exit_code) null, and does not
    fail on the task's outcome. On O(wait_timeout) the task is stopped (O(stop_on_timeout)) and the module
    fails.
  - The container's output reaches RV(log_tail) only through the C(awslogs) log driver.
seealso:
  - module: macroai.deploy.ecs_bluegreen
"""

EXAMPLES = r"""
- name: Run the database migrations on the revision about to be released
  macroai.deploy.ecs_run_task:
    cluster: shop-production
    task_definition_spec: "{{ api_task_definition }}"
    command: [python, migrate.py]
    network_configuration:
      subnets: "{{ private_subnet_ids }}"
      security_groups: ["{{ app_security_group_id }}"]
      assign_public_ip: false
    launch_type: FARGATE
    started_by: "migrate-{{ release_id }}"
    wait_timeout: 900
  register: migration

- name: A one-off job of an existing revision on Fargate Spot, without waiting
  macroai.deploy.ecs_run_task:
    cluster: shop-production
    task_definition: shop-api:42
    command: [node, scripts/reindex.js]
    capacity_provider_strategy:
      - capacity_provider: FARGATE_SPOT
    network_configuration:
      subnets: "{{ private_subnet_ids }}"
      security_groups: ["{{ app_security_group_id }}"]
    wait: false
"""

RETURN = r"""
task_definition_arn:
  description: The revision run (null in check mode when it would be registered).
  returned: always
  type: str
  sample: arn:aws:ecs:eu-west-2:123456789012:task-definition/shop-api:43
task_definition_registered:
  description: Whether a revision was registered (or, in check mode, would be).
  returned: always
  type: bool
container_name:
  description: The container the overrides applied to and whose outcome is reported.
  returned: always
  type: str
  sample: api
command:
  description: The command the container ran (null for the image's own).
  returned: always
  type: list
  elements: str
  sample: [python, migrate.py]
task_arn:
  description: ARN of the task (null in check mode).
  returned: always
  type: str
last_status:
  description: The task's last status seen, V(STOPPED) once it ran to the end.
  returned: always
  type: str
exit_code:
  description: The container's exit code; null when it never ran (or without O(wait)).
  returned: always
  type: int
  sample: 0
stopped_reason:
  description: Why ECS stopped the task, for example C(Essential container in task exited).
  returned: always
  type: str
stop_code:
  description: ECS's stop code, for example C(EssentialContainerExited) or C(TaskFailedToStart).
  returned: always
  type: str
log_group:
  description: The container's CloudWatch Logs group (C(awslogs-group)); null without the awslogs driver.
  returned: always
  type: str
log_stream:
  description: The task's log stream, C(prefix/container/task-id).
  returned: always
  type: str
log_tail:
  description: The last O(log_lines) lines the container wrote, oldest first.
  returned: always
  type: list
  elements: str
  sample:
    - applying 0002_seed_items.sql (1/1)
    - applied 1 migrations; the database is at 0002_seed_items.sql
elapsed_s:
  description: Seconds from the start of the wait to the last status read.
  returned: always
  type: float
statuses:
  description: Each status the task was seen in, in order.
  returned: always
  type: list
  elements: str
  sample: [PROVISIONING, RUNNING, STOPPED]
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._ecs import (  # noqa: E402
    EcsReleaseError,
    TaskDefinitionSpec,
    task_definition_options,
)
from ansible_collections.macroai.deploy.plugins.module_utils._ecs_task import (  # noqa: E402
    EcsTaskError,
    RunTaskRequest,
    run_task,
)
from ansible_collections.macroai.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitSettings  # noqa: E402


def build_request(params):
    network = params["network_configuration"] or {}
    spec = params["task_definition_spec"]
    return RunTaskRequest(
        cluster=params["cluster"],
        task_definition=params["task_definition"],
        task_definition_spec=TaskDefinitionSpec(**spec) if spec else None,
        container_name=params["container_name"],
        command=params["command"],
        environment=params["environment"],
        subnets=network.get("subnets"),
        security_groups=network.get("security_groups"),
        assign_public_ip=network.get("assign_public_ip"),
        launch_type=params["launch_type"],
        capacity_provider_strategy=params["capacity_provider_strategy"],
        started_by=params["started_by"],
        tags=params["tags"],
        wait=WaitSettings(params["wait"], params["wait_timeout"], params["poll_interval"]),
        stop_on_timeout=params["stop_on_timeout"],
        log_lines=params["log_lines"],
    )


def main():
    argument_spec = dict(
        cluster=dict(type="str", required=True),
        task_definition=dict(type="str"),
        task_definition_spec=dict(
            type="dict",
            options=task_definition_options(),
        ),
        container_name=dict(type="str"),
        command=dict(type="list", elements="str"),
        environment=dict(type="dict"),
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
        started_by=dict(type="str", default="ansible-ecs_run_task"),
        tags=dict(type="dict"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="float", default=5),
        stop_on_timeout=dict(type="bool", default=True),
        log_lines=dict(type="int", default=50),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[
            ("task_definition", "task_definition_spec"),
            ("launch_type", "capacity_provider_strategy"),
        ],
        required_one_of=[("task_definition", "task_definition_spec")],
    )
    ecs, logs = retrying_clients(module, "ecs", "logs")

    def log_status(step):
        module.log(f"ecs_run_task {module.params['cluster']}: {step.status} +{step.elapsed_s}s")

    def perform():
        result = run_task(ecs, logs, build_request(module.params), module.check_mode, progress=log_status)
        return {"changed": True, **result.as_dict()}

    run_module(
        module,
        perform,
        (EcsTaskError, EcsReleaseError),
        f"ECS or CloudWatch Logs refused a call while running a task in cluster "
        f"{module.params['cluster']}: check the cluster, task definition, subnets and security groups "
        "given, the region, and that the credentials may call ecs:RunTask, ecs:DescribeTasks, "
        "ecs:StopTask, ecs:RegisterTaskDefinition, iam:PassRole and logs:GetLogEvents",
    )


if __name__ == "__main__":
    main()
