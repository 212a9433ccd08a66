# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Releases to an ECS service through ECS's native deployment strategies.

Plain Python, no Ansible: ``plugins/modules/ecs_bluegreen.py`` is a thin shell over :func:`release` and
:func:`roll_back`. Functions take boto3 clients (``ecs``, ``elbv2``) and a ``check_mode`` flag, compare
before they act, and raise :class:`EcsReleaseError` with a message that says what to do next. AWS errors
(botocore's) pass through untouched for the module to report. A release is a sequence of steps of the shape
``update_x(client, check_mode, ...) -> bool`` (changed or would change), each recording its before and after
in the result's :class:`DifferenceTracker` for ``--diff``.

ECS owns the listener rules' weights once a service uses BLUE_GREEN, LINEAR or CANARY: the rules are
created here once (blue 100, green 0) and afterwards only read, never written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.macroai.deploy.plugins.module_utils._aws import tag_changes
from ansible_collections.macroai.deploy.plugins.module_utils._errors import ModuleError
from ansible_collections.macroai.deploy.plugins.module_utils._module import ABSENT, AsDict, DifferenceTracker
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import (
    SYSTEM_CLOCK,
    Clock,
    Outcome,
    Step,
    WaitSettings,
    follow,
)

STRATEGIES: tuple[str, ...] = ("BLUE_GREEN", "LINEAR", "CANARY", "ROLLING")
TRAFFIC_SHIFTING: frozenset[str] = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
DEFAULT_BAKE_TIME_MINUTES = 5
MAX_BAKE_TIME_MINUTES = 1440
LINEAR_STEP_RANGE = (3.0, 100.0)
CANARY_PERCENT_RANGE = (0.1, 100.0)

ACTIVE_STATUSES: frozenset[str] = frozenset({"PENDING", "IN_PROGRESS"})
ROLLING_BACK_STATUSES: frozenset[str] = frozenset(
    {"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED"}
)
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
)
# UpdateService fields whose change makes ECS start a new service deployment (the others only reconfigure).
DEPLOYING_FIELDS: frozenset[str] = frozenset(
    {"taskDefinition", "networkConfiguration", "loadBalancers", "capacityProviderStrategy"}
)
# strategy -> (its configuration, percent field and option, bake field and option, an example percent)
SHIFT_CONFIGURATIONS: dict[str, tuple[str, str, str, str, str, str]] = {
    "LINEAR": (
        "linearConfiguration",
        "stepPercent",
        "linear_step_percent",
        "stepBakeTimeInMinutes",
        "linear_step_bake_minutes",
        "e.g. 10: ten steps of 10%",
    ),
    "CANARY": (
        "canaryConfiguration",
        "canaryPercent",
        "canary_percent",
        "canaryBakeTimeInMinutes",
        "canary_bake_minutes",
        "e.g. 10: 10% first, then the rest",
    ),
}
CATCH_ALL_PATH = "/*"
MASK = "********"


# A service moved off its capacity provider strategy (compute_fargate_spot switched off) runs on this one.
FARGATE_STRATEGY: tuple[dict[str, Any], ...] = ({"capacityProvider": "FARGATE", "weight": 1},)
NOT_FOUND_CODES = ("ClientException", "InvalidParameterException")  # DescribeTaskDefinition of an unknown one


class EcsReleaseError(ModuleError):
    """A release cannot go on, or ended badly; ``message`` says what to do, ``details`` go to the result."""


def task_definition_options():
    """The argument spec of a task definition given as a dict (the fields of :class:`TaskDefinitionSpec`),
    shared by ecs_bluegreen's ``task_definition`` and ecs_run_task's ``task_definition_spec``."""
    return dict(
        family=dict(type="str", required=True),
        container_definitions=dict(type="list", elements="dict", required=True),
        cpu=dict(type="str"),
        memory=dict(type="str"),
        execution_role_arn=dict(type="str"),
        task_role_arn=dict(type="str"),
        network_mode=dict(type="str", choices=["awsvpc", "bridge", "host", "none"], default="awsvpc"),
        requires_compatibilities=dict(type="list", elements="str", default=["FARGATE"]),
        runtime_platform=dict(type="dict"),
    )


@dataclass(frozen=True)
class TaskDefinitionSpec:
    """The fields of a task definition this module sets; AWS's defaults for the others are left alone."""

    family: str
    container_definitions: Sequence[Mapping[str, Any]]
    cpu: str | None = None
    memory: str | None = None
    execution_role_arn: str | None = None
    task_role_arn: str | None = None
    network_mode: str | None = "awsvpc"
    requires_compatibilities: Sequence[str] | None = ("FARGATE",)
    runtime_platform: Mapping[str, Any] | None = None

    def register_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "family": self.family,
            "containerDefinitions": normalise_container_definitions(self.container_definitions),
        }
        optional = {
            "cpu": self.cpu,
            "memory": self.memory,
            "executionRoleArn": self.execution_role_arn,
            "taskRoleArn": self.task_role_arn,
            "networkMode": self.network_mode,
            "requiresCompatibilities": list(self.requires_compatibilities or []) or None,
            "runtimePlatform": dict(self.runtime_platform) if self.runtime_platform else None,
        }
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        return kwargs


@dataclass(frozen=True)
class DeploymentSettings:
    """How ECS rolls a release out. ``None`` means: keep what the service has."""

    strategy: str = "BLUE_GREEN"
    bake_time_minutes: int | None = None
    linear_step_percent: float | None = None
    linear_step_bake_minutes: int | None = None
    canary_percent: float | None = None
    canary_bake_minutes: int | None = None
    alarms: Sequence[str] | None = None
    lifecycle_hooks: Sequence[Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class LoadBalancing:
    production_listener_arn: str
    blue_target_group_arn: str
    green_target_group_arn: str
    container_port: int
    container_name: str | None = None
    test_listener_arn: str | None = None
    listener_rule_priority: int = 50000
    infrastructure_role_arn: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    cluster: str
    service: str
    desired_count: int | None = None
    subnets: Sequence[str] | None = None
    security_groups: Sequence[str] | None = None
    assign_public_ip: bool | None = None
    launch_type: str | None = None
    capacity_provider_strategy: Sequence[Mapping[str, Any]] | None = None
    health_check_grace_period_seconds: int | None = None


@dataclass
class DeploymentOutcome(Outcome):
    arn: str = ""
    status_reason: str | None = None
    lifecycle_stage: str | None = None
    rollback_reason: str | None = None

    def reason(self) -> str:
        """ECS's reasons (rollback's, then status's), each once, without a trailing full stop."""
        reasons: list[str] = []
        for text in (self.rollback_reason, self.status_reason):
            text = (text or "").strip().rstrip(".")
            if text and text not in reasons:
                reasons.append(text)
        return "; ".join(reasons) or "no reason given"

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def timings(self) -> dict[str, float]:
        """Seconds spent in each lifecycle stage (or status, where ECS reports no stage)."""
        totals: dict[str, float] = {}
        for index, step in enumerate(self.steps):
            until = self.steps[index + 1].elapsed_s if index + 1 < len(self.steps) else self.elapsed_s
            key = step.stage or step.status
            totals[key] = round(totals.get(key, 0.0) + max(until - step.elapsed_s, 0.0), 3)
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "arn": self.arn,
            "status": self.status,
            "status_reason": self.status_reason,
            "lifecycle_stage": self.lifecycle_stage,
            "rollback_reason": self.rollback_reason,
            "elapsed_s": self.elapsed_s,
            "timed_out": self.timed_out,
        }


@dataclass
class Plan(AsDict):
    """What this run does (or, in check mode, would do)."""

    create_listener_rules: list[str] = field(default_factory=list)
    register_revision: bool = False
    create_service: bool = False
    update_service: list[str] = field(default_factory=list)
    deploy: bool = False
    stop_deployment: bool = False
    # Tag changes: resource (cluster, service, task_definition) -> {"add": {key: value}, "remove": [key]}.
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(
            self.create_listener_rules
            or self.register_revision
            or self.create_service
            or self.update_service
            or self.stop_deployment
            or self.tags
        )


@dataclass
class ReleaseResult:
    plan: Plan
    task_definition_arn: str | None = None
    previous_task_definition_arn: str | None = None
    deployment: DeploymentOutcome | None = None
    live_target_group_arn: str | None = None
    target_group_weights: dict[str, int] = field(default_factory=dict)
    listener_rules: dict[str, str | None] = field(default_factory=dict)
    differences: DifferenceTracker = field(default_factory=DifferenceTracker)
    service_response: dict[str, Any] | None = None  # what CreateService or UpdateService answered

    @property
    def changed(self) -> bool:
        return self.plan.changed

    @property
    def before(self) -> dict[str, Any]:
        return self.differences.before

    @property
    def after(self) -> dict[str, Any]:
        return self.differences.after

    def as_dict(self) -> dict[str, Any]:
        deployment = self.deployment
        return {
            "changed": self.changed,
            "plan": self.plan.as_dict(),
            "task_definition_arn": self.task_definition_arn,
            "previous_task_definition_arn": self.previous_task_definition_arn,
            "deployment": deployment.as_dict() if deployment else None,
            "live_target_group_arn": self.live_target_group_arn,
            "target_group_weights": dict(self.target_group_weights),
            "listener_rules": dict(self.listener_rules),
            "steps": [step.as_dict() for step in deployment.steps] if deployment else [],
            "timings": deployment.timings() if deployment else {},
        }


def normalise_container_definitions(definitions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Container definitions as RegisterTaskDefinition wants them: environment values are strings."""
    normalised = copy.deepcopy([dict(definition) for definition in definitions])
    for definition in normalised:
        for variable in definition.get("environment") or []:
            value = variable.get("value")
            if isinstance(value, bool):
                variable["value"] = "true" if value else "false"
            elif value is not None and not isinstance(value, str):
                variable["value"] = str(value)
    return normalised


def _sort_named(items: Sequence[Any]) -> list[Any]:
    if all(isinstance(item, Mapping) and "name" in item for item in items):
        return sorted(items, key=lambda item: str(item["name"]))
    return list(items)


def matches(desired: Any, actual: Any) -> bool:
    """Whether ``actual`` (as AWS returns it) carries every value set in ``desired``.

    AWS fills in defaults on registration (``essential``, ``protocol``, ``hostPort``, empty lists), so
    only what ``desired`` sets is compared: mappings by their keys, lists element by element (lists of
    named items such as ``environment`` regardless of order), scalars loosely (``"256"`` equals ``256``).
    """
    if desired is None:
        return True
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return not any(value not in (None, [], {}) for value in desired.values())
        return all(matches(value, actual.get(key)) for key, value in desired.items())
    if isinstance(desired, (list, tuple)):
        actual_items = list(actual or [])
        if len(desired) != len(actual_items):
            return False
        return all(
            matches(want, have)
            # lengths checked above; zip(strict=) is Python 3.10+ and modules run on older nodes
            for want, have in zip(_sort_named(desired), _sort_named(actual_items))  # noqa: B905
        )
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired == actual
    return str(desired) == str(actual) if actual is not None else False


def task_definition_matches(spec: TaskDefinitionSpec, current: Mapping[str, Any] | None) -> bool:
    """Whether the registered task definition ``current`` already is what ``spec`` asks for."""
    if not current or current.get("family") != spec.family:
        return False
    wanted = spec.register_kwargs()
    containers = {c.get("name"): c for c in current.get("containerDefinitions", [])}
    wanted_containers = wanted.pop("containerDefinitions")
    if {c.get("name") for c in wanted_containers} != set(containers):
        return False
    if not all(matches(c, containers[c.get("name")]) for c in wanted_containers):
        return False
    if "requiresCompatibilities" in wanted:
        wanted["requiresCompatibilities"] = sorted(wanted["requiresCompatibilities"])
        current = {**current, "requiresCompatibilities": sorted(current.get("requiresCompatibilities") or [])}
    return matches(wanted, current)


def summarise_task_definition(
    task_definition: Mapping[str, Any] | None, sensitive_environment: Sequence[str] = ()
) -> dict[str, Any] | None:
    """The parts of a task definition shown in ``--diff``; values of sensitive variables masked."""
    if not task_definition:
        return None
    hidden = set(sensitive_environment)
    containers = {}
    for container in task_definition.get("containerDefinitions", []):
        environment = {
            variable["name"]: MASK if variable["name"] in hidden else variable.get("value")
            for variable in container.get("environment") or []
        }
        containers[container.get("name")] = {
            "image": container.get("image"),
            "cpu": container.get("cpu"),
            "memory": container.get("memory"),
            "environment": dict(sorted(environment.items())),
            "secrets": {secret["name"]: secret.get("valueFrom") for secret in container.get("secrets") or []},
        }
    return {
        "arn": task_definition.get("taskDefinitionArn"),
        "family": task_definition.get("family"),
        "cpu": _as_str(task_definition.get("cpu")),
        "memory": _as_str(task_definition.get("memory")),
        "containers": containers,
    }


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)


def normalise_tags(tags: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Tags as ECS stores them (string values; null becomes empty); None stays None (leave tags alone)."""
    if tags is None:
        return None
    return {str(key): "" if value is None else str(value) for key, value in tags.items()}


def ecs_tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def cluster_arn(ecs: Any, cluster: str) -> str | None:
    """The ACTIVE cluster's ARN, or None when there is none of that name."""
    found = ecs.describe_clusters(clusters=[cluster]).get("clusters") or []
    return next((c["clusterArn"] for c in found if c.get("status", "ACTIVE") == "ACTIVE"), None)


def resource_tags(ecs: Any, arn: str) -> dict[str, str]:
    tags = ecs.list_tags_for_resource(resourceArn=arn).get("tags") or []
    return {tag["key"]: tag.get("value", "") for tag in tags}


def sync_tags(
    ecs: Any,
    arn: str,
    desired: Mapping[str, str] | None,
    purge: bool,
    check_mode: bool,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Make ``arn``'s tags ``desired`` with the fewest calls; (tags before, change made or to make, or {})."""
    before = resource_tags(ecs, arn)
    add, remove = tag_changes(before, desired, purge)
    if not check_mode:
        if remove:
            ecs.untag_resource(resourceArn=arn, tagKeys=remove)
        if add:
            ecs.tag_resource(resourceArn=arn, tags=ecs_tag_list(add))
    change: dict[str, Any] = {}
    if add:
        change["add"] = add
    if remove:
        change["remove"] = remove
    return before, change


def validate_deployment_settings(settings: DeploymentSettings) -> None:
    strategy = settings.strategy
    if strategy not in STRATEGIES:
        raise EcsReleaseError(f"strategy={strategy!r} is not one of {', '.join(STRATEGIES)}")
    misplaced = [
        name
        for name, value, owner in (
            ("linear_step_percent", settings.linear_step_percent, "LINEAR"),
            ("linear_step_bake_minutes", settings.linear_step_bake_minutes, "LINEAR"),
            ("canary_percent", settings.canary_percent, "CANARY"),
            ("canary_bake_minutes", settings.canary_bake_minutes, "CANARY"),
        )
        if value is not None and strategy != owner
    ]
    if misplaced:
        raise EcsReleaseError(
            f"{', '.join(misplaced)} only apply to strategy="
            f"{'LINEAR' if 'linear' in misplaced[0] else 'CANARY'}: remove them or set the strategy "
            f"(it is {strategy})"
        )
    if strategy == "ROLLING" and settings.bake_time_minutes is not None:
        raise EcsReleaseError(
            "bake_time_minutes has no effect with strategy=ROLLING: remove it, or use BLUE_GREEN, LINEAR "
            "or CANARY"
        )
    for name, minutes in (
        ("bake_time_minutes", settings.bake_time_minutes),
        ("linear_step_bake_minutes", settings.linear_step_bake_minutes),
        ("canary_bake_minutes", settings.canary_bake_minutes),
    ):
        if minutes is not None and not 0 <= minutes <= MAX_BAKE_TIME_MINUTES:
            raise EcsReleaseError(f"{name}={minutes} must be 0 to {MAX_BAKE_TIME_MINUTES} minutes")
    for name, percent, (low, high) in (
        ("linear_step_percent", settings.linear_step_percent, LINEAR_STEP_RANGE),
        ("canary_percent", settings.canary_percent, CANARY_PERCENT_RANGE),
    ):
        if percent is not None and not low <= percent <= high:
            raise EcsReleaseError(f"{name}={percent} must be {low} to {high} (percent of production traffic)")


def build_deployment_configuration(
    settings: DeploymentSettings, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The service's ``deploymentConfiguration`` after this release: the current one with what is set here.

    UpdateService replaces the whole structure, so settings left unset keep the service's current values;
    the configuration of a strategy no longer in use is dropped.
    """
    validate_deployment_settings(settings)
    config = copy.deepcopy(dict(current or {}))
    strategy = settings.strategy
    config["strategy"] = strategy
    if strategy != "LINEAR":
        config.pop("linearConfiguration", None)
    if strategy != "CANARY":
        config.pop("canaryConfiguration", None)
    if strategy in TRAFFIC_SHIFTING:
        if settings.bake_time_minutes is not None:
            config["bakeTimeInMinutes"] = settings.bake_time_minutes
        config.setdefault("bakeTimeInMinutes", DEFAULT_BAKE_TIME_MINUTES)
    else:
        config.pop("bakeTimeInMinutes", None)
    if strategy in SHIFT_CONFIGURATIONS:
        key, percent_field, percent_option, bake_field, bake_option, hint = SHIFT_CONFIGURATIONS[strategy]
        shift = dict(config.get(key) or {})
        percent, bake = getattr(settings, percent_option), getattr(settings, bake_option)
        if percent is not None:
            shift[percent_field] = float(percent)
        if bake is not None:
            shift[bake_field] = bake
        if percent_field not in shift:
            raise EcsReleaseError(f"strategy={strategy} needs {percent_option} ({hint})")
        config[key] = shift
    if settings.alarms is not None:
        names = sorted(set(settings.alarms))
        config["alarms"] = {"alarmNames": names, "enable": bool(names), "rollback": bool(names)}
    if settings.lifecycle_hooks is not None:
        config["lifecycleHooks"] = [dict(hook) for hook in settings.lifecycle_hooks]
    return config


def deployment_configuration_matches(desired: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    current = current or {}
    for key, value in desired.items():
        have = current.get(key)
        if key == "alarms" and isinstance(have, Mapping):
            have = {**have, "alarmNames": sorted(have.get("alarmNames") or [])}
        if not matches(value, have):
            return False
    # A strategy configuration that would be dropped counts as a difference.
    return all(key in desired for key in ("linearConfiguration", "canaryConfiguration") if current.get(key))


def summarise_deployment_configuration(config: Mapping[str, Any] | None) -> dict[str, Any]:
    keys = (
        "strategy",
        "bakeTimeInMinutes",
        "linearConfiguration",
        "canaryConfiguration",
        "alarms",
        "lifecycleHooks",
    )
    config = config or {}
    return {key: copy.deepcopy(config[key]) for key in keys if config.get(key) is not None}


def forward_weights(rule: Mapping[str, Any]) -> dict[str, int]:
    """Target group ARN -> weight of a rule's forward action (a plain forward counts as weight 1)."""
    weights: dict[str, int] = {}
    for action in rule.get("Actions", []):
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        for group in groups:
            weights[group["TargetGroupArn"]] = int(group.get("Weight", 1))
        if not groups and action.get("TargetGroupArn"):
            weights[action["TargetGroupArn"]] = 1
    return weights


def live_target_group(weights: Mapping[str, int], blue: str | None = None) -> str | None:
    """The target group taking most production traffic (blue on a tie, e.g. half-way through LINEAR)."""
    if not weights:
        return None
    top = max(weights.values())
    leaders = [arn for arn, weight in weights.items() if weight == top]
    return blue if blue in leaders else sorted(leaders)[0]


def find_rule(rules: Sequence[Mapping[str, Any]], blue: str, green: str) -> Mapping[str, Any] | None:
    """The listener's rule that forwards to our target groups (both, preferably), if any."""
    candidates = [
        rule for rule in rules if not rule.get("IsDefault") and {blue, green} & set(forward_weights(rule))
    ]
    candidates.sort(key=lambda rule: (not {blue, green} <= set(forward_weights(rule)), int(rule["Priority"])))
    return candidates[0] if candidates else None


def check_rule_targets(rule: Mapping[str, Any], blue: str, green: str, role: str) -> None:
    """Both target groups must be in the rule or ECS rolls the deployment back: say so instead of editing."""
    present = set(forward_weights(rule))
    missing = [arn for arn in (blue, green) if arn not in present]
    if missing:
        others = sorted(present - {blue, green})
        raise EcsReleaseError(
            f"The {role} listener rule {rule['RuleArn']} (priority {rule['Priority']}) forwards to "
            f"{', '.join(sorted(present & {blue, green}) + others)} but not to {', '.join(missing)}. "
            "ECS needs both target groups in the rule and shifts the weights itself, so this module "
            "does not edit rules it did not create: add the missing target group to the rule's forward "
            "action (weight 0), or delete the rule and re-run so it is created with blue 100 / green 0",
            listener_rule_arn=rule["RuleArn"],
        )


@dataclass(frozen=True)
class RuleState:
    arn: str | None
    created: bool
    weights: dict[str, int]


def ensure_listener_rule(
    elbv2: Any, listener_arn: str, lb: LoadBalancing, role: str, check_mode: bool
) -> RuleState:
    """Find the rule forwarding to both target groups, or create it once (path /*, blue 100, green 0)."""
    rules = _all_rules(elbv2, listener_arn)
    blue, green = lb.blue_target_group_arn, lb.green_target_group_arn
    rule = find_rule(rules, blue, green)
    if rule is not None:
        check_rule_targets(rule, blue, green, role)
        return RuleState(rule["RuleArn"], False, forward_weights(rule))
    taken = next((r for r in rules if str(r.get("Priority")) == str(lb.listener_rule_priority)), None)
    if taken is not None:
        raise EcsReleaseError(
            f"Priority {lb.listener_rule_priority} of the {role} listener {listener_arn} is taken by rule "
            f"{taken['RuleArn']}, which does not forward to the blue or green target group: set "
            "listener_rule_priority to a free priority"
        )
    weights = {blue: 100, green: 0}
    if check_mode:
        return RuleState(None, True, weights)
    created = elbv2.create_rule(
        ListenerArn=listener_arn,
        Priority=lb.listener_rule_priority,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": [CATCH_ALL_PATH]}}],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()
                    ]
                },
            }
        ],
    )["Rules"][0]
    return RuleState(created["RuleArn"], True, weights)


def _all_rules(elbv2: Any, listener_arn: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ListenerArn": listener_arn}
    while True:
        page = elbv2.describe_rules(**kwargs)
        rules.extend(page.get("Rules", []))
        if not page.get("NextMarker"):
            return rules
        kwargs["Marker"] = page["NextMarker"]


def rule_weights(elbv2: Any, rule_arn: str) -> dict[str, int]:
    rules = elbv2.describe_rules(RuleArns=[rule_arn]).get("Rules", [])
    return forward_weights(rules[0]) if rules else {}


def desired_load_balancers(
    lb: LoadBalancing, container_name: str, strategy: str, production_rule: str | None, test_rule: str | None
) -> list[dict[str, Any]]:
    balancer: dict[str, Any] = {
        "targetGroupArn": lb.blue_target_group_arn,
        "containerName": container_name,
        "containerPort": lb.container_port,
    }
    if strategy in TRAFFIC_SHIFTING:
        advanced = {
            "alternateTargetGroupArn": lb.green_target_group_arn,
            "productionListenerRule": production_rule,
            "testListenerRule": test_rule,
            "roleArn": lb.infrastructure_role_arn,
        }
        balancer["advancedConfiguration"] = {
            key: value for key, value in advanced.items() if value is not None
        }
    return [balancer]


def load_balancers_match(
    desired: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]] | None
) -> bool:
    """Compare the service's load balancers, blue and green in either order (ECS swaps them on release)."""
    current = list(current or [])
    if len(desired) != len(current):
        return False
    for want, have in zip(desired, current):  # noqa: B905 (lengths checked above; strict= is 3.10+)
        want_advanced = dict(want.get("advancedConfiguration") or {})
        have_advanced = dict(have.get("advancedConfiguration") or {})
        want_pair = {want.get("targetGroupArn"), want_advanced.pop("alternateTargetGroupArn", None)}
        have_pair = {have.get("targetGroupArn"), have_advanced.pop("alternateTargetGroupArn", None)}
        if want_pair != have_pair:
            return False
        if (want.get("containerName"), want.get("containerPort")) != (
            have.get("containerName"),
            have.get("containerPort"),
        ):
            return False
        if want_advanced != {key: value for key, value in have_advanced.items() if value is not None}:
            return False
    return True


def desired_network_configuration(spec: ServiceSpec) -> dict[str, Any] | None:
    if spec.subnets is None and spec.security_groups is None and spec.assign_public_ip is None:
        return None
    awsvpc: dict[str, Any] = {}
    if spec.subnets is not None:
        awsvpc["subnets"] = sorted(spec.subnets)
    if spec.security_groups is not None:
        awsvpc["securityGroups"] = sorted(spec.security_groups)
    if spec.assign_public_ip is not None:
        awsvpc["assignPublicIp"] = "ENABLED" if spec.assign_public_ip else "DISABLED"
    return {"awsvpcConfiguration": awsvpc}


def network_configuration_matches(
    desired: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> bool:
    if desired is None:
        return True
    have = dict((current or {}).get("awsvpcConfiguration") or {})
    for key in ("subnets", "securityGroups"):
        if key in have:
            have[key] = sorted(have[key])
    return matches(desired["awsvpcConfiguration"], have)


def merged_network_configuration(
    desired: Mapping[str, Any], current: Mapping[str, Any] | None
) -> dict[str, Any]:
    """UpdateService replaces awsvpcConfiguration whole: keep the current values of unset parts."""
    merged = dict((current or {}).get("awsvpcConfiguration") or {})
    merged.update(desired["awsvpcConfiguration"])
    return {"awsvpcConfiguration": merged}


def desired_capacity_provider_strategy(spec: ServiceSpec) -> list[dict[str, Any]] | None:
    if spec.capacity_provider_strategy is None:
        return None
    strategy = []
    for item in spec.capacity_provider_strategy:
        entry = {"capacityProvider": item["capacity_provider"], "weight": item.get("weight", 1)}
        if item.get("base") is not None:
            entry["base"] = item["base"]
        strategy.append(entry)
    return sorted(strategy, key=lambda entry: entry["capacityProvider"])


def capacity_provider_update(svc: ServiceSpec, service: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The capacity provider strategy to send to the running service, or None when it keeps its own.

    A strategy given that differs is sent. ``launch_type=FARGATE`` on a service that runs on a strategy
    (Fargate Spot switched off) sends the FARGATE strategy: UpdateService takes no launch type (botocore's
    ECS model), so the way back to on-demand Fargate is its capacity provider.
    """
    current = sorted(
        service.get("capacityProviderStrategy") or [], key=lambda e: e.get("capacityProvider", "")
    )
    wanted = desired_capacity_provider_strategy(svc)
    if wanted is None:
        if svc.launch_type != "FARGATE" or not current:
            return None
        wanted = [dict(entry) for entry in FARGATE_STRATEGY]
    return None if matches(wanted, current) else wanted


def describe_service(ecs: Any, cluster: str, service: str) -> dict[str, Any] | None:
    """The service, or None when it does not exist or is deleted."""
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    for candidate in found:
        if candidate.get("status") == "ACTIVE":
            return candidate
        if candidate.get("status") == "DRAINING":
            raise EcsReleaseError(
                f"Service {service} in cluster {cluster} is being deleted (DRAINING): wait until it is "
                "INACTIVE, then re-run to create it again"
            )
    return None


def describe_task_definition(ecs: Any, task_definition: str) -> dict[str, Any]:
    return ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]


def latest_revision(ecs: Any, family: str) -> str | None:
    """ARN of the family's newest ACTIVE revision (familyPrefix also matches longer names: filter)."""
    kwargs: dict[str, Any] = {"familyPrefix": family, "status": "ACTIVE", "sort": "DESC"}
    while True:
        page = ecs.list_task_definitions(**kwargs)
        for arn in page.get("taskDefinitionArns", []):
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family:
                return arn
        if not page.get("nextToken"):
            return None
        kwargs["nextToken"] = page["nextToken"]


def describe_deployment(ecs: Any, arn: str) -> dict[str, Any]:
    found = ecs.describe_service_deployments(serviceDeploymentArns=[arn]).get("serviceDeployments", [])
    if not found:
        raise EcsReleaseError(
            f"ECS does not know service deployment {arn}: check the region and cluster, then re-run"
        )
    return found[0]


def latest_deployment_arn(ecs: Any, cluster: str, service: str) -> str | None:
    """The service's newest service deployment (for services that do not report currentServiceDeployment)."""
    found = ecs.list_service_deployments(cluster=cluster, service=service, maxResults=20).get(
        "serviceDeployments", []
    )
    if not found:
        return None
    return max(found, key=lambda brief: str(brief.get("createdAt") or brief.get("startedAt") or ""))[
        "serviceDeploymentArn"
    ]


def source_task_definition(ecs: Any, deployment: Mapping[str, Any]) -> str | None:
    """The task definition a deployment started from (its first source service revision)."""
    revisions = [
        revision["arn"] for revision in deployment.get("sourceServiceRevisions") or [] if revision.get("arn")
    ]
    if not revisions:
        return None
    described = ecs.describe_service_revisions(serviceRevisionArns=revisions[:1]).get("serviceRevisions", [])
    return described[0].get("taskDefinition") if described else None


def deployment_state(deployment: Mapping[str, Any]) -> dict[str, str | None]:
    """What a release records as a step: the deployment's lifecycle stage and status."""
    return {"stage": deployment.get("lifecycleStage"), "status": deployment.get("status") or "UNKNOWN"}


def wait_for_deployment(
    ecs: Any,
    arn: str,
    settings: WaitSettings,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> DeploymentOutcome:
    """Poll DescribeServiceDeployments until a terminal status or the timeout; record each change.

    A timeout is not an error here: the outcome says ``timed_out`` and the caller decides. ECS carries on
    server-side either way.
    """
    followed = follow(
        lambda: describe_deployment(ecs, arn),
        deployment_state,
        lambda deployment: deployment.get("status") in TERMINAL_STATUSES,
        settings,
        clock,
        progress,
    )
    outcome = _outcome_from(followed.last or {}, arn)
    outcome.steps, outcome.elapsed_s, outcome.timed_out = (
        followed.steps,
        followed.elapsed_s,
        followed.timed_out,
    )
    return outcome


def deployment_failure_message(
    outcome: DeploymentOutcome,
    task_definition: str | None,
    production_task_definition: str | None,
    new_target_group: str | None,
    timeout: float,
) -> str:
    where = f" at stage {outcome.lifecycle_stage}" if outcome.lifecycle_stage else ""
    reason = outcome.reason()
    if outcome.timed_out:
        return (
            f"ECS deployment {outcome.arn} of {task_definition} was still {outcome.status}{where} after "
            f"wait_timeout={timeout:.0f}s. ECS carries on server-side: re-run to keep waiting (nothing is "
            "redeployed), raise wait_timeout, or stop it with state=rolled_back"
        )
    if outcome.status == "ROLLBACK_FAILED":
        return (
            f"ECS deployment {outcome.arn} of {task_definition} failed{where} and its rollback failed too "
            f"({reason}). Production traffic may be on either target group: check the production listener "
            "rule's weights and the service's events, then re-run with state=rolled_back and "
            f"to_task_definition={production_task_definition}"
        )
    if outcome.status == "STOPPED":
        return (
            f"ECS deployment {outcome.arn} of {task_definition} was stopped{where} ({reason}), by a newer "
            "deployment or an operator: check the service's deployments, then re-run"
        )
    return (
        f"ECS deployment {outcome.arn} of {task_definition} ended {outcome.status}{where}: {reason}. "
        f"Production is still on {production_task_definition}. Check the new tasks' logs and their health in "
        f"{f'target group {new_target_group}' if new_target_group else 'their target group'}, fix the "
        "release, and re-run"
    )


@dataclass(frozen=True)
class ReleaseRequest:
    service: ServiceSpec
    deployment: DeploymentSettings = DeploymentSettings()
    task_definition: TaskDefinitionSpec | None = None
    to_task_definition: str | None = None
    load_balancing: LoadBalancing | None = None
    sensitive_environment: Sequence[str] = ()
    wait: WaitSettings = WaitSettings()
    # Tags of the service and of the task definition revisions registered; None leaves tags alone.
    tags: Mapping[str, Any] | None = None
    purge_tags: bool = True
    # Tags of the cluster (which this module never creates); None leaves them alone.
    cluster_tags: Mapping[str, Any] | None = None


def _container_name(request: ReleaseRequest) -> str:
    lb = request.load_balancing
    if lb and lb.container_name:
        return lb.container_name
    containers = request.task_definition.container_definitions if request.task_definition else []
    if len(containers) == 1 and containers[0].get("name"):
        return containers[0]["name"]
    raise EcsReleaseError(
        "container_name is not set and the task definition has "
        f"{len(containers)} containers: set container_name to the container the load balancer sends "
        "traffic to"
    )


def validate_release(request: ReleaseRequest) -> tuple[TaskDefinitionSpec, LoadBalancing]:
    """The release's task definition and load balancing, once every input that needs no AWS call is valid."""
    validate_deployment_settings(request.deployment)
    lb = request.load_balancing
    if request.task_definition is None:
        raise EcsReleaseError("task_definition is required with state=present")
    if not request.task_definition.container_definitions:
        raise EcsReleaseError("task_definition.container_definitions is empty: list at least one container")
    unnamed = [i for i, c in enumerate(request.task_definition.container_definitions) if not c.get("name")]
    if unnamed:
        raise EcsReleaseError(
            f"task_definition.container_definitions[{unnamed[0]}] has no name: name each container"
        )
    if lb is None:
        raise EcsReleaseError(
            "production_listener_arn, blue_target_group_arn, green_target_group_arn and container_port are "
            "required with state=present"
        )
    if lb.blue_target_group_arn == lb.green_target_group_arn:
        raise EcsReleaseError(
            "blue_target_group_arn and green_target_group_arn are the same target group: ECS needs two, one "
            "per version"
        )
    if request.deployment.strategy in TRAFFIC_SHIFTING and not lb.infrastructure_role_arn:
        raise EcsReleaseError(
            f"infrastructure_role_arn is required with strategy={request.deployment.strategy}: the IAM "
            "role ECS assumes to shift the listener rules' weights (trusting ecs.amazonaws.com, with the "
            "managed policy AmazonECSInfrastructureRolePolicyForLoadBalancers)"
        )
    names = [c["name"] for c in request.task_definition.container_definitions]
    container = _container_name(request)
    if container not in names:
        raise EcsReleaseError(
            f"container_name={container!r} is not a container of the task definition ({', '.join(names)})"
        )
    return request.task_definition, lb


def release(
    ecs: Any,
    elbv2: Any,
    request: ReleaseRequest,
    check_mode: bool,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> ReleaseResult:
    """Register the task definition if it differs, point the service at it, and follow the deployment."""
    spec, lb = validate_release(request)
    svc = request.service
    result = ReleaseResult(plan=Plan())
    service = describe_service(ecs, svc.cluster, svc.service)
    _check_controller(service, svc)
    # Both depend on the service as it is, and both must fail before the first write (check mode too).
    config = build_deployment_configuration(
        request.deployment, (service or {}).get("deploymentConfiguration")
    )
    network = _new_service_network(svc) if service is None else None
    # Before the first other write: a missing cluster stops the run here.
    update_cluster_tags(ecs, check_mode, request, result)
    update_listener_rules(elbv2, check_mode, lb, result)
    previous_arn = service.get("taskDefinition") if service else None
    previous = describe_task_definition(ecs, previous_arn) if previous_arn else None
    update_task_definition(ecs, check_mode, spec, previous, request, result)
    balancers = desired_load_balancers(
        lb,
        _container_name(request),
        request.deployment.strategy,
        result.listener_rules["production"],
        result.listener_rules.get("test"),
    )
    if service is None:
        create_service(ecs, check_mode, svc, network or {}, config, balancers, request, result)
    else:
        update_service_tags(ecs, check_mode, service, request, result)
        update_service(ecs, check_mode, service, svc, config, balancers, result)
    _track_service(service, svc, config, result)
    if result.plan.deploy:
        result.previous_task_definition_arn = previous_arn
    if check_mode:
        return result
    before_deployment = (service or {}).get("currentServiceDeployment")
    deployment_arn = _started_deployment(
        ecs, svc, result.service_response, before_deployment, result.plan.deploy
    )
    if deployment_arn is None and request.wait.wait and service and before_deployment:
        deployment_arn = _unfinished_deployment(ecs, before_deployment, result)
    if deployment_arn is not None:
        _follow(ecs, deployment_arn, request, result, clock, progress)
    _read_traffic(elbv2, result.listener_rules["production"], lb.blue_target_group_arn, result)
    if deployment_arn is not None:
        _raise_if_failed(result, request, previous_arn or result.previous_task_definition_arn)
    return result


def _unfinished_deployment(ecs: Any, arn: str, result: ReleaseResult) -> str | None:
    """Nothing new to deploy, but an earlier run may have timed out: that deployment, if it is still going."""
    current = describe_deployment(ecs, arn)
    if result.previous_task_definition_arn is None:
        result.previous_task_definition_arn = source_task_definition(ecs, current)
    if current.get("status") in ACTIVE_STATUSES | ROLLING_BACK_STATUSES:
        return arn
    result.deployment = _outcome_from(current)  # finished before this run: reported, never a failure of it
    return None


def update_cluster_tags(ecs: Any, check_mode: bool, request: ReleaseRequest, result: ReleaseResult) -> bool:
    """The cluster's tags (``cluster_tags``; None leaves them alone). The cluster must exist, except in check
    mode, where a cluster still to be created counts as untagged."""
    tags = normalise_tags(request.cluster_tags)
    if tags is None:
        return False
    cluster = request.service.cluster
    arn = cluster_arn(ecs, cluster)
    if arn is None:
        if not check_mode:
            raise EcsReleaseError(
                f"Cluster {cluster} does not exist, so cluster_tags cannot be set: create the cluster first "
                "(community.aws.ecs_cluster), then re-run"
            )
        before: dict[str, str] = {}
        change: dict[str, Any] = {"add": dict(tags)} if tags else {}
    else:
        before, change = sync_tags(ecs, arn, tags, request.purge_tags, check_mode)
    return _track_tags("cluster", before, change, result)


def update_service_tags(
    ecs: Any, check_mode: bool, service: Mapping[str, Any], request: ReleaseRequest, result: ReleaseResult
) -> bool:
    """The service's tags (``tags``; None leaves them alone)."""
    tags = normalise_tags(request.tags)
    if tags is None:
        return False
    before, change = sync_tags(ecs, service["serviceArn"], tags, request.purge_tags, check_mode)
    return _track_tags("service", before, change, result)


def _track_tags(
    resource: str, before: Mapping[str, str], change: Mapping[str, Any], result: ReleaseResult
) -> bool:
    if change:
        result.plan.tags[resource] = dict(change)
    after = {key: value for key, value in before.items() if key not in change.get("remove", [])}
    after.update(change.get("add", {}))
    name = "cluster_tags" if resource == "cluster" else "tags"
    result.differences.add(name, dict(sorted(before.items())), dict(sorted(after.items())))
    return bool(change)


def update_listener_rules(elbv2: Any, check_mode: bool, lb: LoadBalancing, result: ReleaseResult) -> bool:
    """The production (and test) listener rules forwarding to blue and green: found, or created once."""
    rules = {
        "production": ensure_listener_rule(elbv2, lb.production_listener_arn, lb, "production", check_mode)
    }
    if lb.test_listener_arn:
        rules["test"] = ensure_listener_rule(elbv2, lb.test_listener_arn, lb, "test", check_mode)
    result.plan.create_listener_rules = [role for role, rule in rules.items() if rule.created]
    result.listener_rules = {role: rule.arn for role, rule in rules.items()}
    # What production serves now; read again after a deployment.
    result.target_group_weights = rules["production"].weights
    result.live_target_group_arn = live_target_group(result.target_group_weights, lb.blue_target_group_arn)
    return bool(result.plan.create_listener_rules)


def update_task_definition(
    ecs: Any,
    check_mode: bool,
    spec: TaskDefinitionSpec,
    previous: Mapping[str, Any] | None,
    request: ReleaseRequest,
    result: ReleaseResult,
) -> bool:
    """The revision to release: reused when one matches (retagged if need be), else registered."""
    arn, target = _resolve_task_definition(
        ecs, spec, previous, result.plan, check_mode, normalise_tags(request.tags), request.purge_tags
    )
    result.task_definition_arn = arn
    hidden = request.sensitive_environment
    before = summarise_task_definition(previous, hidden) if previous is not None else None
    result.differences.add("task_definition", before, summarise_task_definition(target, hidden))
    return result.plan.register_revision or "task_definition" in result.plan.tags


def create_service(
    ecs: Any,
    check_mode: bool,
    svc: ServiceSpec,
    network: dict[str, Any],
    config: dict[str, Any],
    balancers: list[dict[str, Any]],
    request: ReleaseRequest,
    result: ReleaseResult,
) -> bool:
    """Create the service on the release's revision (its first deployment)."""
    result.plan.create_service = result.plan.deploy = True
    tags = normalise_tags(request.tags)
    if tags is not None:
        result.differences.add("tags", ABSENT, dict(sorted(tags.items())))
    if not check_mode:
        result.service_response = _create_service(
            ecs, svc, network, result.task_definition_arn, balancers, config, tags
        )
    return True


def update_service(
    ecs: Any,
    check_mode: bool,
    service: Mapping[str, Any],
    svc: ServiceSpec,
    config: dict[str, Any],
    balancers: list[dict[str, Any]],
    result: ReleaseResult,
) -> bool:
    """UpdateService with only what differs; a change of capacity provider strategy is forced (AWS requires
    ``forceNewDeployment`` for it: UpdateService in the ECS API reference), and deploys."""
    updates = _service_updates(
        service, svc, result.task_definition_arn, result.plan.register_revision, config, balancers
    )
    result.plan.update_service = sorted(updates)
    result.plan.deploy = bool(DEPLOYING_FIELDS & set(updates))
    if not updates:
        return False
    if not check_mode:
        force = {"forceNewDeployment": True} if "capacityProviderStrategy" in updates else {}
        result.service_response = ecs.update_service(
            cluster=svc.cluster, service=svc.service, **updates, **force
        )["service"]
    return True


def _track_service(
    service: Mapping[str, Any] | None, svc: ServiceSpec, config: Mapping[str, Any], result: ReleaseResult
) -> None:
    current = service or {}
    count = current.get("desiredCount")
    wanted = svc.desired_count if svc.desired_count is not None else count or 1
    configured = summarise_deployment_configuration(current.get("deploymentConfiguration"))
    differences = result.differences
    differences.add(
        "deployment_configuration",
        configured if service else ABSENT,
        summarise_deployment_configuration(config),
    )
    differences.add("desired_count", count if service else ABSENT, wanted)
    if service is None:  # nothing is there before a service is created
        differences.add("task_definition", ABSENT, result.after.get("task_definition"))


def _check_controller(service: Mapping[str, Any] | None, svc: ServiceSpec) -> None:
    controller = ((service or {}).get("deploymentController") or {}).get("type", "ECS")
    if controller != "ECS":
        raise EcsReleaseError(
            f"Service {svc.service} uses the {controller} deployment controller; ECS's native strategies "
            "need the ECS controller. Release it with its own tool, or recreate the service (or update its "
            "deploymentController to ECS) and re-run"
        )


def _resolve_task_definition(
    ecs: Any,
    spec: TaskDefinitionSpec,
    previous: Mapping[str, Any] | None,
    plan: Plan,
    check_mode: bool,
    tags: Mapping[str, str] | None = None,
    purge_tags: bool = True,
) -> tuple[str | None, dict[str, Any] | None]:
    """The revision to release: the running one or the family's newest when either matches, else a new one.

    Tags are not part of the match: a tag-only change retags the matching revision, never registers one.
    """
    found: tuple[str, dict[str, Any]] | None = None
    if previous is not None and task_definition_matches(spec, previous):
        found = previous["taskDefinitionArn"], dict(previous)
    else:
        latest_arn = latest_revision(ecs, spec.family)
        if latest_arn and (previous is None or latest_arn != previous.get("taskDefinitionArn")):
            latest = describe_task_definition(ecs, latest_arn)
            if task_definition_matches(spec, latest):
                found = latest_arn, latest
    if found is not None:
        if tags is not None:
            change = sync_tags(ecs, found[0], tags, purge_tags, check_mode)[1]
            if change:
                plan.tags["task_definition"] = change
        return found
    plan.register_revision = True
    kwargs = spec.register_kwargs()
    if check_mode:
        return None, {"family": spec.family, **kwargs}
    if tags:
        kwargs["tags"] = ecs_tag_list(tags)
    registered = ecs.register_task_definition(**kwargs)["taskDefinition"]
    return registered["taskDefinitionArn"], registered


def register_or_reuse_task_definition(
    ecs: Any,
    spec: TaskDefinitionSpec,
    check_mode: bool,
    tags: Mapping[str, str] | None = None,
    purge_tags: bool = True,
) -> tuple[str | None, dict[str, Any] | None, bool]:
    """The revision :func:`release` would release for ``spec``: (ARN, definition, registered now).

    The family's newest revision when it matches, else a new one (ARN None in check mode), by the same
    rules as a release; so a one-off task run before a release (a migration) and the release share one
    revision.
    """
    plan = Plan()
    arn, definition = _resolve_task_definition(ecs, spec, None, plan, check_mode, tags, purge_tags)
    return arn, definition, plan.register_revision


def _new_service_network(svc: ServiceSpec) -> dict[str, Any]:
    """The network configuration to create the service with; an error when it has no subnets."""
    network = desired_network_configuration(svc)
    if network is None or not network["awsvpcConfiguration"].get("subnets"):
        raise EcsReleaseError(
            f"Service {svc.service} does not exist yet and network_configuration.subnets is not set: set "
            "network_configuration (subnets, security_groups, assign_public_ip) to create it"
        )
    return network


def _create_service(
    ecs: Any,
    svc: ServiceSpec,
    network: dict[str, Any],
    task_definition: str | None,
    balancers: list[dict[str, Any]],
    config: dict[str, Any],
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "cluster": svc.cluster,
        "serviceName": svc.service,
        "taskDefinition": task_definition,
        "desiredCount": svc.desired_count if svc.desired_count is not None else 1,
        "loadBalancers": balancers,
        "networkConfiguration": network,
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": config,
    }
    capacity = desired_capacity_provider_strategy(svc)
    if capacity is not None:
        kwargs["capacityProviderStrategy"] = capacity
    else:
        kwargs["launchType"] = svc.launch_type or "FARGATE"
    if svc.health_check_grace_period_seconds is not None:
        kwargs["healthCheckGracePeriodSeconds"] = svc.health_check_grace_period_seconds
    if tags:
        # Tasks carry the service's tags too, so their cost is allocated like the service's.
        kwargs["tags"] = ecs_tag_list(tags)
        kwargs["propagateTags"] = "SERVICE"
    return ecs.create_service(**kwargs)["service"]


def _service_updates(
    service: Mapping[str, Any],
    svc: ServiceSpec,
    target_arn: str | None,
    registering: bool,
    config: dict[str, Any],
    balancers: list[dict[str, Any]],
) -> dict[str, Any]:
    """The UpdateService arguments that differ from the service as it is; empty when nothing does."""
    updates: dict[str, Any] = {}
    if registering or target_arn != service.get("taskDefinition"):
        updates["taskDefinition"] = target_arn
    if not deployment_configuration_matches(config, service.get("deploymentConfiguration")):
        updates["deploymentConfiguration"] = config
    if svc.desired_count is not None and svc.desired_count != service.get("desiredCount"):
        updates["desiredCount"] = svc.desired_count
    network = desired_network_configuration(svc)
    if network is not None and not network_configuration_matches(
        network, service.get("networkConfiguration")
    ):
        updates["networkConfiguration"] = merged_network_configuration(
            network, service.get("networkConfiguration")
        )
    if not load_balancers_match(balancers, service.get("loadBalancers")):
        updates["loadBalancers"] = balancers
    capacity = capacity_provider_update(svc, service)
    if capacity is not None:
        updates["capacityProviderStrategy"] = capacity
    grace = svc.health_check_grace_period_seconds
    if grace is not None and grace != service.get("healthCheckGracePeriodSeconds"):
        updates["healthCheckGracePeriodSeconds"] = grace
    return updates


def _started_deployment(
    ecs: Any,
    svc: ServiceSpec,
    response_service: Mapping[str, Any] | None,
    before: str | None,
    deploying: bool,
) -> str | None:
    """ARN of the service deployment this run started, if any."""
    if not deploying or response_service is None:
        return None
    # AWS does not promise currentServiceDeployment in UpdateService's answer (the sandbox leaves it out, as
    # AWS may): without it, the deployment this run started is the newest one ListServiceDeployments names.
    current = response_service.get("currentServiceDeployment")
    if current and current != before:
        return current
    latest = latest_deployment_arn(ecs, svc.cluster, svc.service)
    return latest if latest != before else None


def _outcome_from(deployment: Mapping[str, Any], arn: str | None = None) -> DeploymentOutcome:
    return DeploymentOutcome(
        arn=arn or deployment["serviceDeploymentArn"],
        status=deployment.get("status"),
        status_reason=deployment.get("statusReason"),
        lifecycle_stage=deployment.get("lifecycleStage"),
        rollback_reason=(deployment.get("rollback") or {}).get("reason"),
    )


def _follow(
    ecs: Any,
    arn: str,
    request: ReleaseRequest,
    result: ReleaseResult,
    clock: Clock,
    progress: Callable[[Step], None] | None,
) -> None:
    if request.wait.wait:
        result.deployment = wait_for_deployment(ecs, arn, request.wait, clock, progress)
    else:
        result.deployment = _outcome_from(describe_deployment(ecs, arn))


def _read_traffic(elbv2: Any, production_rule: str | None, blue: str, result: ReleaseResult) -> None:
    if production_rule:
        result.target_group_weights = rule_weights(elbv2, production_rule)
        result.live_target_group_arn = live_target_group(result.target_group_weights, blue)


def _raise_if_failed(
    result: ReleaseResult, request: ReleaseRequest, production_task_definition: str | None
) -> None:
    outcome = result.deployment
    if (
        outcome is None
        or outcome.status == "SUCCESSFUL"
        or not (outcome.timed_out or outcome.status in TERMINAL_STATUSES)
    ):
        return
    # The new version went to whichever target group was not live: ECS alternates them.
    groups = set(result.target_group_weights)
    standby = sorted(groups - {result.live_target_group_arn}) if len(groups) > 1 else []
    message = deployment_failure_message(
        outcome,
        result.task_definition_arn,
        production_task_definition,
        standby[0] if standby else None,
        request.wait.timeout,
    )
    raise EcsReleaseError(message, **result.as_dict())


def roll_back(
    ecs: Any,
    elbv2: Any,
    request: ReleaseRequest,
    check_mode: bool,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> ReleaseResult:
    """Stop a deployment still in progress (bake time included) with rollback, then release
    ``to_task_definition`` when it is set and production is not already on it."""
    svc = request.service
    result = ReleaseResult(plan=Plan())
    service = describe_service(ecs, svc.cluster, svc.service)
    if service is None:
        raise EcsReleaseError(
            f"Service {svc.service} does not exist in cluster {svc.cluster}: there is nothing to roll back "
            "(check cluster and service)"
        )
    _check_controller(service, svc)
    target = _rollback_target(ecs, request.to_task_definition)
    production_rule, blue = _production_rule_of(service), _primary_target_group(service)
    current_arn = service.get("currentServiceDeployment") or latest_deployment_arn(
        ecs, svc.cluster, svc.service
    )
    current = describe_deployment(ecs, current_arn) if current_arn else None
    status = (current or {}).get("status")
    # What production runs once any rollback is over: the service's task definition, or, while a
    # deployment is in progress, the one that deployment started from.
    result.task_definition_arn = service.get("taskDefinition")
    if current is not None and status in ACTIVE_STATUSES:
        stop_deployment(ecs, check_mode, str(current_arn), current, result)
    rolling_back = bool(current_arn) and status in ACTIVE_STATUSES | ROLLING_BACK_STATUSES and not check_mode
    if rolling_back and _wait_for_rollback(
        ecs, elbv2, str(current_arn), request, result, production_rule, blue, clock, progress
    ):
        service = describe_service(ecs, svc.cluster, svc.service) or service
        result.task_definition_arn = service.get("taskDefinition")
    production_arn = result.task_definition_arn
    if target is None:
        if not result.plan.stop_deployment and status not in ROLLING_BACK_STATUSES:
            raise EcsReleaseError(
                f"No deployment of service {svc.service} is in progress (the latest is "
                f"{status or 'unknown'}), so there is nothing to stop: set to_task_definition to the task "
                f"definition to release (the service runs {production_arn} now)"
            )
    elif update_service_task_definition(ecs, check_mode, service, target, request, result):
        if check_mode:
            return result
        deployment_arn = _started_deployment(
            ecs, svc, result.service_response, service.get("currentServiceDeployment"), True
        )
        if deployment_arn is not None:
            _follow(ecs, deployment_arn, request, result, clock, progress)
    _read_traffic(elbv2, production_rule, blue, result)
    if result.deployment is not None and result.plan.deploy:
        _raise_if_failed(result, request, production_arn)
    return result


def stop_deployment(
    ecs: Any, check_mode: bool, arn: str, deployment: Mapping[str, Any], result: ReleaseResult
) -> bool:
    """Stop a deployment in progress with rollback: ECS sends traffic back to the revision it started from."""
    result.plan.stop_deployment = True
    result.previous_task_definition_arn = result.task_definition_arn
    result.task_definition_arn = source_task_definition(ecs, deployment) or result.task_definition_arn
    if not check_mode:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    return True


def _wait_for_rollback(
    ecs: Any,
    elbv2: Any,
    arn: str,
    request: ReleaseRequest,
    result: ReleaseResult,
    production_rule: str | None,
    blue: str | None,
    clock: Clock,
    progress: Callable[[Step], None] | None,
) -> bool:
    """Follow a rollback to its end: True when it succeeded, an error when it failed or outlived the wait."""
    _follow(ecs, arn, request, result, clock, progress)
    outcome = result.deployment
    if outcome is None:  # _follow records what it followed; without a deployment there is nothing to judge
        raise EcsReleaseError(
            f"the rollback's service deployment {arn} could not be read", **result.as_dict()
        )
    if outcome.timed_out or (outcome.status in TERMINAL_STATUSES and outcome.status != "ROLLBACK_SUCCESSFUL"):
        _read_traffic(elbv2, production_rule, blue, result)
        raise EcsReleaseError(_rollback_failure_message(outcome, request.wait.timeout), **result.as_dict())
    return outcome.status == "ROLLBACK_SUCCESSFUL"


def update_service_task_definition(
    ecs: Any,
    check_mode: bool,
    service: Mapping[str, Any],
    target: Mapping[str, Any],
    request: ReleaseRequest,
    result: ReleaseResult,
) -> bool:
    """Release ``target`` (an earlier revision) unless production already runs it."""
    production_arn = result.task_definition_arn
    target_arn = target["taskDefinitionArn"]
    if target_arn == production_arn:
        return False
    result.plan.update_service = ["taskDefinition"]
    result.plan.deploy = True
    running = describe_task_definition(ecs, production_arn) if production_arn else None
    hidden = request.sensitive_environment
    result.differences.add(
        "task_definition",
        summarise_task_definition(running, hidden),
        summarise_task_definition(target, hidden),
    )
    result.previous_task_definition_arn = production_arn
    result.task_definition_arn = target_arn
    if not check_mode:
        svc = request.service
        result.service_response = ecs.update_service(
            cluster=svc.cluster, service=svc.service, taskDefinition=target_arn
        )["service"]
    return True


def _rollback_target(ecs: Any, to_task_definition: str | None) -> dict[str, Any] | None:
    """The task definition to roll back to, described before anything is stopped: a typo must stop nothing."""
    if to_task_definition is None:
        return None
    try:
        return describe_task_definition(ecs, to_task_definition)
    except is_boto3_error_code(NOT_FOUND_CODES) as err:
        raise EcsReleaseError(
            f"to_task_definition={to_task_definition!r} is not a task definition ECS can describe in this "
            "region; nothing was stopped or changed. Set it to an existing revision (family:revision or its "
            "ARN; list them with aws ecs list-task-definitions) and re-run"
        ) from err


def _production_rule_of(service: Mapping[str, Any]) -> str | None:
    for balancer in service.get("loadBalancers") or []:
        rule = (balancer.get("advancedConfiguration") or {}).get("productionListenerRule")
        if rule:
            return rule
    return None


def _primary_target_group(service: Mapping[str, Any]) -> str | None:
    balancers = service.get("loadBalancers") or []
    return balancers[0].get("targetGroupArn") if balancers else None


def _rollback_failure_message(outcome: DeploymentOutcome, timeout: float) -> str:
    if outcome.timed_out:
        return (
            f"Rollback of ECS deployment {outcome.arn} was still {outcome.status} after "
            f"wait_timeout={timeout:.0f}s: ECS carries on server-side; re-run with state=rolled_back to "
            "keep waiting"
        )
    reason = outcome.reason()
    return (
        f"Rollback of ECS deployment {outcome.arn} ended {outcome.status}: {reason}. Check the production "
        "listener rule's weights and the service's events; then re-run with state=rolled_back and "
        "to_task_definition set to the release to run"
    )
