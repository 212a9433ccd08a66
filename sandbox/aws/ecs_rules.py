"""AWS's documented rules for the ECS calls the collection makes, checked before moto sees the call.

Pure functions over the request (and, for UpdateService, the service as it is): each raises
:class:`RuleError` with the error code ECS answers (``InvalidParameterException``, ``ClientException``) and a
message in ECS's words. Each rule names its source: ``model`` is the documentation string of botocore's ECS
model (``botocore/data/ecs/2014-11-13/service-2.json``, shape.member); a URL is AWS's guide or API reference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
TRAFFIC_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# model: DeploymentLifecycleHook.lifecycleStages: "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or
# PRODUCTION_TRAFFIC_SHIFT stages. These stages are only valid for AWS_LAMBDA hooks."
LAMBDA_ONLY_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
MAX_BAKE_MINUTES = 1440
# model: LinearConfiguration.stepPercent: "Valid values are multiples of 0.1 from 3.0 to 100.0. The default
# value is 10.0." CanaryConfiguration.canaryPercent: "Valid values are multiples of 0.1 from 0.1 to 100.0. The
# default value is 5.0." stepBakeTimeInMinutes and canaryBakeTimeInMinutes: "Valid values are 0 to 1440
# minutes (24 hours)." strategy: (configuration, percent, its lowest value, bake)
SHIFTS = {
    "LINEAR": ("linearConfiguration", "stepPercent", 3.0, "stepBakeTimeInMinutes"),
    "CANARY": ("canaryConfiguration", "canaryPercent", 0.1, "canaryBakeTimeInMinutes"),
}
# model: CreateClusterRequest.clusterName, CreateServiceRequest.serviceName,
# RegisterTaskDefinitionRequest.family, ContainerDefinition.name: "Up to 255 letters (uppercase and
# lowercase), numbers, underscores, and hyphens are allowed."
NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# The message ECS answers (InvalidParameterException) for a strategy change without a forced deployment, as
# users of ECS quote it (kayac/ecspresso#481, reproio/ecs_deploy#74, pipe-cd/pipecd#6385).
FORCE_MESSAGE = (
    "When switching from launch type to capacity provider strategy on an existing service, or making a "
    "change to a capacity provider strategy on a service that is already using one, you must force a new "
    "deployment."
)


BOTH_MESSAGE = (
    "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
)


class RuleError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> RuleError:
    return RuleError("InvalidParameterException", message)


# -- names ------------------------------------------------------------------------------------------
def check_name(value: Any, what: str, code: str = "InvalidParameterException") -> None:
    """``what`` (e.g. "Service name") as ECS allows it: 1 to 255 letters, digits, '_' and '-'."""
    if not isinstance(value, str) or not NAME.match(value):
        raise RuleError(
            code,
            f"{what} {value!r} is not valid: up to 255 letters (uppercase and lowercase), numbers, "
            "underscores, and hyphens are allowed.",
        )


def check_task_definition(params: Mapping[str, Any]) -> None:
    """RegisterTaskDefinition: the family and every container name (ECS answers ClientException)."""
    check_name(params.get("family"), "Family", "ClientException")
    seen: set[str] = set()
    for container in params.get("containerDefinitions") or []:
        name = container.get("name")
        check_name(name, "Container name", "ClientException")
        if name in seen:
            # model: ContainerDefinition.name: containers are told apart (links) by their name.
            raise RuleError("ClientException", f"Container names must be unique: {name!r} is used twice.")
        seen.add(name)


# -- deploymentConfiguration -------------------------------------------------------------------------
def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(f"{where} must be a number, not {value!r}.")
    return float(value)


def _tenths(value: float) -> bool:
    return abs(value * 10 - round(value * 10)) < 1e-6


def check_percent_in_tenths(value: Any, where: str, low: float, high: float) -> None:
    number = _number(value, where)
    if not low <= number <= high or not _tenths(number):
        raise invalid(f"{where} must be a multiple of 0.1 from {low:.1f} to {high:.1f}, not {value!r}.")


def check_minutes(value: Any, where: str, low: int = 0, high: int = MAX_BAKE_MINUTES) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{where} must be a whole number of minutes from {low} to {high}, not {value!r}.")


def check_deployment_configuration(
    request: Mapping[str, Any] | None, merged: Mapping[str, Any], controller: str = "ECS"
) -> None:
    """The service's configuration after the call (``merged``) and what the call sent (``request``)."""
    request = request or {}
    strategy = merged.get("strategy") or "ROLLING"
    if strategy not in STRATEGIES:
        # model: DeploymentConfiguration.strategy (enum DeploymentStrategy)
        raise invalid(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}.")
    check_percentages(merged)
    if strategy != "ROLLING" and controller != "ECS":
        # model: LinearConfiguration / CanaryConfiguration: "only valid when you run CreateService or
        # UpdateService with deploymentController set to ECS"
        raise invalid(f"The {strategy} deployment strategy needs the ECS deployment controller.")
    if "bakeTimeInMinutes" in merged and merged["bakeTimeInMinutes"] is not None:
        # API reference, DeploymentConfiguration.bakeTimeInMinutes: valid range 0 to 1440
        # (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html)
        check_minutes(merged["bakeTimeInMinutes"], "deploymentConfiguration.bakeTimeInMinutes")
    elif strategy == "BLUE_GREEN":
        # model: DeploymentConfiguration.bakeTimeInMinutes: "You must provide this parameter when you use the
        # BLUE_GREEN deployment strategy."
        raise invalid("deploymentConfiguration.bakeTimeInMinutes is required for the BLUE_GREEN strategy.")
    check_strategy_configuration(request, merged, strategy)
    check_lifecycle_hooks(merged.get("lifecycleHooks"))
    check_alarms(merged.get("alarms"), controller)
    check_circuit_breaker(merged.get("deploymentCircuitBreaker"), controller)
    check_early_success(merged.get("earlySuccessCriteria"), merged, strategy)


def check_percentages(config: Mapping[str, Any]) -> None:
    """model: DeploymentConfiguration.maximumPercent / minimumHealthyPercent: percentages of desiredCount, the
    one an upper limit on RUNNING or PENDING tasks, the other a lower limit on RUNNING ones."""
    for key in ("maximumPercent", "minimumHealthyPercent"):
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise invalid(f"deploymentConfiguration.{key} must be a whole number of percent, not {value!r}.")
    minimum = config.get("minimumHealthyPercent")
    if minimum is not None and minimum > 100:
        raise invalid(f"deploymentConfiguration.minimumHealthyPercent must be 100 or less, not {minimum}.")


def check_strategy_configuration(
    request: Mapping[str, Any], merged: Mapping[str, Any], strategy: str
) -> None:
    # model: DeploymentConfiguration.linearConfiguration / canaryConfiguration: "Only valid when the
    # deployment strategy is LINEAR" / "... CANARY". Checked on what the call sends: a configuration kept from
    # before a strategy change is not the caller's.
    for owner, (key, *_) in SHIFTS.items():
        if request.get(key) is not None and strategy != owner:
            raise invalid(
                f"deploymentConfiguration.{key} is only valid when the deployment strategy is {owner}."
            )
    if strategy in SHIFTS:
        key, percent_key, low, bake_key = SHIFTS[strategy]
        shift = merged.get(key) or {}
        if shift.get(percent_key) is not None:
            check_percent_in_tenths(shift[percent_key], f"{key}.{percent_key}", low, 100.0)
        if shift.get(bake_key) is not None:
            check_minutes(shift[bake_key], f"{key}.{bake_key}")


def check_lifecycle_hooks(hooks: Iterable[Mapping[str, Any]] | None) -> None:
    for index, hook in enumerate(hooks or []):
        where = f"deploymentConfiguration.lifecycleHooks[{index}]"
        # model: DeploymentLifecycleHook.targetType: AWS_LAMBDA (the default) or PAUSE.
        target_type = hook.get("targetType") or "AWS_LAMBDA"
        if target_type not in ("AWS_LAMBDA", "PAUSE"):
            raise invalid(f"{where}.targetType must be AWS_LAMBDA or PAUSE, not {target_type!r}.")
        # model: hookTargetArn: "You must provide this parameter when configuring an AWS_LAMBDA lifecycle
        # hook."
        if target_type == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise invalid(f"{where}.hookTargetArn is required for an AWS_LAMBDA lifecycle hook.")
        # model: lifecycleStages: "You must provide this parameter when configuring a deployment lifecycle
        # hook."
        stages = hook.get("lifecycleStages") or []
        if not stages:
            raise invalid(f"{where}.lifecycleStages must name at least one lifecycle stage.")
        for stage in stages:
            if stage not in HOOK_STAGES:
                raise invalid(f"{where}.lifecycleStages: {stage!r} is not one of {', '.join(HOOK_STAGES)}.")
            if target_type == "PAUSE" and stage in LAMBDA_ONLY_STAGES:
                raise invalid(
                    f"{where}: PAUSE hooks cannot be configured at the TEST_TRAFFIC_SHIFT or "
                    "PRODUCTION_TRAFFIC_SHIFT stages; these stages are only valid for AWS_LAMBDA hooks."
                )
        # model: DeploymentLifecycleHookTimeoutConfiguration: timeoutInMinutes 1 to 20160, action ROLLBACK or
        # CONTINUE.
        timeout = hook.get("timeoutConfiguration") or {}
        if timeout.get("timeoutInMinutes") is not None:
            check_minutes(
                timeout["timeoutInMinutes"], f"{where}.timeoutConfiguration.timeoutInMinutes", 1, 20160
            )
        if timeout.get("action") is not None and timeout["action"] not in ("ROLLBACK", "CONTINUE"):
            raise invalid(f"{where}.timeoutConfiguration.action must be ROLLBACK or CONTINUE.")


def check_alarms(alarms: Mapping[str, Any] | None, controller: str) -> None:
    if not alarms or not alarms.get("enable"):
        return
    # model: DeploymentAlarms.alarmNames: "One or more CloudWatch alarm names."
    if not alarms.get("alarmNames"):
        raise invalid(
            "deploymentConfiguration.alarms.alarmNames must name at least one alarm when enable is true."
        )
    # model: DeploymentAlarms: "You can only use the DeploymentAlarms method to detect failures when the
    # DeploymentController is set to ECS."
    if controller != "ECS":
        raise invalid(
            "CloudWatch alarms can only detect deployment failures with the ECS deployment controller."
        )


def check_circuit_breaker(breaker: Mapping[str, Any] | None, controller: str) -> None:
    if not breaker or not breaker.get("enable"):
        return
    # model: DeploymentCircuitBreaker: "can only be used for services using the rolling update (ECS)
    # deployment type" -- the ECS deployment controller; AWS's guide (deployment-failure-detection.html) has
    # it work with the rolling and blue/green strategies alike.
    if controller != "ECS":
        raise invalid("The deployment circuit breaker can only be used with the ECS deployment controller.")
    threshold = breaker.get("thresholdConfiguration") or {}
    # model: ThresholdConfiguration.type: COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT.
    kind = threshold.get("type")
    if kind is not None and kind not in ("COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT"):
        raise invalid(
            f"thresholdConfiguration.type must be COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT, not {kind!r}."
        )
    value = threshold.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise invalid(f"thresholdConfiguration.value must be a positive whole number, not {value!r}.")


def check_early_success(criteria: Mapping[str, Any] | None, merged: Mapping[str, Any], strategy: str) -> None:
    if not criteria or not criteria.get("enable"):
        return
    # model: DeploymentEarlySuccessCriteria: "You can use early success criteria only with rolling deployment
    # strategy." healthyPercent 0 to 100, "greater than or equal to the minimumHealthyPercent value"; enable
    # needs healthyPercent and sourceServiceRevisionCleanup (BLOCKING or DEFERRED).
    if strategy != "ROLLING":
        raise invalid("earlySuccessCriteria can only be used with the ROLLING deployment strategy.")
    healthy = criteria.get("healthyPercent")
    if healthy is None or criteria.get("sourceServiceRevisionCleanup") not in ("BLOCKING", "DEFERRED"):
        raise invalid(
            "earlySuccessCriteria with enable true needs healthyPercent and sourceServiceRevisionCleanup "
            "(BLOCKING or DEFERRED)."
        )
    minimum = int(merged.get("minimumHealthyPercent") or 0)
    if not isinstance(healthy, int) or not minimum <= healthy <= 100:
        raise invalid(
            f"earlySuccessCriteria.healthyPercent must be from minimumHealthyPercent ({minimum}) to 100."
        )


# -- capacity providers ------------------------------------------------------------------------------
def canonical_strategy(strategy: Iterable[Mapping[str, Any]] | None) -> list[tuple[str, int, int]]:
    """A strategy as ECS compares it: weight and base default to 0 (model: CapacityProviderStrategyItem)."""
    return sorted(
        (str(item.get("capacityProvider")), int(item.get("weight") or 0), int(item.get("base") or 0))
        for item in strategy or []
    )


def check_capacity_strategy(strategy: list[Mapping[str, Any]], associated: Iterable[str]) -> None:
    """model: CapacityProviderStrategyItem and CreateServiceRequest.capacityProviderStrategy."""
    if len(strategy) > 20:
        raise invalid("A capacity provider strategy can contain a maximum of 20 capacity providers.")
    bases = 0
    for item in strategy:
        weight, base = item.get("weight", 0), item.get("base", 0)
        if not isinstance(weight, int) or not 0 <= weight <= 1000:
            raise invalid(f"capacityProviderStrategy weight must be from 0 to 1000, not {weight!r}.")
        if not isinstance(base, int) or not 0 <= base <= 100000:
            raise invalid(f"capacityProviderStrategy base must be from 0 to 100000, not {base!r}.")
        bases += 1 if base else 0
    if bases > 1:
        raise invalid("Only one capacity provider in a capacity provider strategy can have a base defined.")
    if len(strategy) > 1 and not any(item.get("weight") for item in strategy):
        raise invalid(
            "At least one capacity provider in a capacity provider strategy must have a weight greater than "
            "zero."
        )
    # "Only capacity providers that are already associated with a cluster ... can be used"; FARGATE and
    # FARGATE_SPOT "only need to be associated with a cluster to be used".
    known = set(associated)
    if any(item.get("capacityProvider") not in known for item in strategy):
        raise invalid(
            "The specified capacity provider strategy cannot contain a capacity provider that is not "
            "associated with the cluster. Associate the capacity provider with the cluster or specify a "
            "valid capacity provider and try again."
        )


def check_launch_type_or_strategy(params: Mapping[str, Any], associated: Iterable[str]) -> None:
    """CreateService and RunTask: one of launchType and capacityProviderStrategy (model:
    CreateServiceRequest.launchType: "If a launchType is specified, the capacityProviderStrategy parameter
    must be omitted")."""
    strategy = params.get("capacityProviderStrategy") or []
    if params.get("launchType") and strategy:
        raise invalid(BOTH_MESSAGE)
    if strategy:
        check_capacity_strategy(strategy, associated)


def check_capacity_update(
    params: Mapping[str, Any], current: Iterable[Mapping[str, Any]] | None, associated: Iterable[str]
) -> None:
    """UpdateService: a capacity provider strategy that changes what the service uses needs
    forceNewDeployment.

    model: UpdateServiceRequest.capacityProviderStrategy lists the valid transitions (launch type to a
    capacity provider, one provider to another, back to the launch type with an empty list); ECS refuses each
    of them without ``forceNewDeployment`` with :data:`FORCE_MESSAGE`.
    """
    if "capacityProviderStrategy" not in params or params["capacityProviderStrategy"] is None:
        return
    wanted = params["capacityProviderStrategy"]
    if wanted:
        check_capacity_strategy(wanted, associated)
    if params.get("launchType"):
        raise invalid(BOTH_MESSAGE)
    changes = canonical_strategy(wanted) != canonical_strategy(current)
    if changes and not params.get("forceNewDeployment"):
        raise invalid(FORCE_MESSAGE)
