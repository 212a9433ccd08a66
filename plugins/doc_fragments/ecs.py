# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Option documentation shared by the ECS modules of the collection.

    The modules keep each option's own description and type; the fragments add the suboptions (and the
    options that mean the same in each module).
    """

    # The task definition to register or reuse (plugins/module_utils/_ecs_task.py): ecs_bluegreen's
    # task_definition.
    TASK_DEFINITION = r"""
options:
  task_definition:
    suboptions:
      family:
        description:
          - Task definition family.
        type: str
        required: true
      container_definitions:
        description:
          - Container definitions exactly as C(RegisterTaskDefinition) takes them, with AWS's camelCase keys
            (for example C(name), C(image), C(portMappings), C(environment), C(secrets), C(logConfiguration)).
          - Pass secrets by reference in C(secrets) (C(valueFrom) an SSM parameter or Secrets Manager ARN),
            never as environment values.
        type: list
        elements: dict
        required: true
      cpu:
        description:
          - Task-level CPU units, for example V('256').
        type: str
      memory:
        description:
          - Task-level memory in MiB, for example V('512').
        type: str
      execution_role_arn:
        description:
          - ARN of the role ECS uses to pull the image, fetch secrets and ship logs.
        type: str
      task_role_arn:
        description:
          - ARN of the role the application's containers assume.
        type: str
      network_mode:
        description:
          - Docker networking mode of the task's containers.
        type: str
        choices: [awsvpc, bridge, host, none]
        default: awsvpc
      requires_compatibilities:
        description:
          - Launch types the task definition is validated against.
        type: list
        elements: str
        default: [FARGATE]
      runtime_platform:
        description:
          - C(runtimePlatform) as AWS takes it, for example C(cpuArchitecture=ARM64) and
            C(operatingSystemFamily=LINUX).
        type: dict
"""

    # The same fields as ecs_run_task's task_definition_spec. ansible-test takes a fragment's variables as
    # plain strings only, so they are written twice; tests/unit/plugins/modules/test_module_docs.py checks
    # that both modules render the same fields.
    TASK_DEFINITION_SPEC = r"""
options:
  task_definition_spec:
    suboptions:
      family:
        description:
          - Task definition family.
        type: str
        required: true
      container_definitions:
        description:
          - Container definitions exactly as C(RegisterTaskDefinition) takes them, with AWS's camelCase keys
            (for example C(name), C(image), C(portMappings), C(environment), C(secrets), C(logConfiguration)).
          - Pass secrets by reference in C(secrets) (C(valueFrom) an SSM parameter or Secrets Manager ARN),
            never as environment values.
        type: list
        elements: dict
        required: true
      cpu:
        description:
          - Task-level CPU units, for example V('256').
        type: str
      memory:
        description:
          - Task-level memory in MiB, for example V('512').
        type: str
      execution_role_arn:
        description:
          - ARN of the role ECS uses to pull the image, fetch secrets and ship logs.
        type: str
      task_role_arn:
        description:
          - ARN of the role the application's containers assume.
        type: str
      network_mode:
        description:
          - Docker networking mode of the task's containers.
        type: str
        choices: [awsvpc, bridge, host, none]
        default: awsvpc
      requires_compatibilities:
        description:
          - Launch types the task definition is validated against.
        type: list
        elements: str
        default: [FARGATE]
      runtime_platform:
        description:
          - C(runtimePlatform) as AWS takes it, for example C(cpuArchitecture=ARM64) and
            C(operatingSystemFamily=LINUX).
        type: dict
"""

    # Where tasks run: the awsvpc network configuration and the capacity provider strategy.
    PLACEMENT = r"""
options:
  network_configuration:
    type: dict
    suboptions:
      subnets:
        description:
          - Subnet IDs the tasks run in.
        type: list
        elements: str
      security_groups:
        description:
          - Security group IDs of the tasks.
        type: list
        elements: str
      assign_public_ip:
        description:
          - Whether the tasks get a public IP address (needed in public subnets without a NAT gateway).
        type: bool
  capacity_provider_strategy:
    type: list
    elements: dict
    suboptions:
      capacity_provider:
        description:
          - Capacity provider name, for example V(FARGATE_SPOT).
        type: str
        required: true
      weight:
        description:
          - Relative share of the tasks placed on this provider.
        type: int
        default: 1
      base:
        description:
          - Tasks placed on this provider before the weights apply.
        type: int
"""

    # How a release moves production traffic and how long it bakes: ecs_bluegreen's options, and
    # compute_plan's, which checks the roles' compute_* values of the same names before any write.
    DEPLOYMENT_STEPS = r"""
options:
  bake_time_minutes:
    description:
      - Minutes both versions keep running after production traffic has moved (0 to 1440); a rollback in that
        window is a listener flip back to the previous version's tasks.
    type: int
  linear_step_percent:
    description:
      - With the V(LINEAR) strategy, the share of production traffic moved at each step (3 to 100).
    type: float
  linear_step_bake_minutes:
    description:
      - With the V(LINEAR) strategy, the minutes between two steps.
    type: int
  canary_percent:
    description:
      - With the V(CANARY) strategy, the share of production traffic moved first (0.1 to 100).
    type: float
  canary_bake_minutes:
    description:
      - With the V(CANARY) strategy, the minutes before the rest of the traffic moves.
    type: int
"""
