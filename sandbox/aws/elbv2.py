"""ELBv2 overlay: target health from real HTTP probes, draining on deregistration, listener-rule weights.

moto registers IP targets as healthy at once and forgets deregistered ones. Here every loopback target
(``127.x.x.x``: the sandbox's ECS tasks, or targets registered by hand) is probed over HTTP as its target
group's health check says, with intervals through the sandbox clock; DescribeTargetHealth (moto's own
handler) reads the result because ``FakeTargetGroup.health_for`` and ``deregister`` are patched to consult
:data:`REGISTRY`. Other targets keep moto's behaviour (healthy at once).

moto keys a target group's targets by Id alone; several tasks share the IP 127.0.0.1, so targets
registered here use the key ``"ip:port"`` in ``FakeTargetGroup.targets``.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sandbox.aws import security_groups
from sandbox.clock import scaled

LOOPBACK_PREFIX = "127."
MIN_INTERVAL = 0.05  # seconds of real time between two probes of one target, whatever the scale
MIN_TIMEOUT = 1.0  # a probe's timeout is never shorter than this (real processes on a busy machine)
ADOPT_EVERY = 1.0  # look for hand-registered loopback targets this often

REASONS = {
    "initial": ("Elb.InitialHealthChecking", "Initial health checks in progress"),
    "registering": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "disabled": ("Target.HealthCheckDisabled", "Health checks are disabled"),
}


def backends(name: str) -> Iterator[Any]:
    """Every instantiated moto backend of a service (no lazy creation of new regions)."""
    from moto.backends import get_backend

    for per_account in list(dict.values(get_backend(name))):  # type: ignore[arg-type]
        yield from list(dict.values(per_account))


def target_key(ip: str, port: int) -> str:
    return f"{ip}:{port}"


def matches_code(matcher: dict[str, Any] | None, status: int) -> bool:
    """ELBv2 matcher syntax: "200", "200,202", "200-299"."""
    spec = str((matcher or {}).get("HttpCode") or "200")
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            low, _, high = part.partition("-")
            if low.isdigit() and high.isdigit() and int(low) <= status <= int(high):
                return True
        elif part.isdigit() and int(part) == status:
            return True
    return False


@dataclass
class Target:
    group: Any  # moto FakeTargetGroup
    ip: str
    port: int
    key: str  # key in group.targets
    state: str = "initial"
    reason: str | None = REASONS["initial"][0]
    description: str | None = REASONS["initial"][1]
    successes: int = 0
    failures: int = 0
    next_probe: float = 0.0
    probing: bool = False
    drain_until: float | None = None
    registered_at: float = field(default_factory=time.monotonic)

    @property
    def routable(self) -> bool:
        return self.state == "healthy" or (
            self.state == "unavailable" and self.reason == REASONS["disabled"][0]
        )


class HealthRegistry:
    """Loopback targets of every target group, their probed health, and their draining."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.targets: dict[tuple[str, str, int], Target] = {}
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="sandbox-probe")
        self._last_adopt = 0.0

    # -- registration (ECS) --------------------------------------------------------------------
    def register(self, group: Any, ip: str, port: int) -> Target:
        key = target_key(ip, port)
        group.targets[key] = {"Id": ip, "Port": port}
        group.deregistered_targets.pop(key, None)
        with self.lock:
            target = Target(group, ip, port, key)
            if not group.health_check_enabled:
                target.state, (target.reason, target.description) = "unavailable", REASONS["disabled"]
            self.targets[(group.arn, ip, port)] = target
        return target

    def deregister(self, group_arn: str, ip: str, port: int) -> None:
        """Start draining: no new requests; removed from the group after its deregistration delay."""
        with self.lock:
            target = self.targets.get((group_arn, ip, port))
            if target is None or target.state == "draining":
                return
            delay = float(target.group.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)
            target.state, (target.reason, target.description) = "draining", REASONS["draining"]
            target.drain_until = time.monotonic() + scaled(delay)

    def get(self, group_arn: str, ip: str, port: int | None) -> Target | None:
        with self.lock:
            if port is not None:
                return self.targets.get((group_arn, ip, int(port)))
            for (arn, tip, _), target in self.targets.items():
                if arn == group_arn and tip == ip:
                    return target
        return None

    def state(self, group_arn: str, ip: str, port: int) -> str | None:
        target = self.get(group_arn, ip, port)
        return target.state if target else None

    def routable(self, group_arn: str) -> list[Target]:
        with self.lock:
            found = [t for (arn, _, _), t in self.targets.items() if arn == group_arn and t.routable]
        return sorted(found, key=lambda t: (t.ip, t.port))

    def clear(self) -> None:
        with self.lock:
            self.targets.clear()

    # -- the reconciler's tick -----------------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_adopt >= ADOPT_EVERY:
            self._last_adopt = now
            self._adopt()
        with self.lock:
            for key, target in list(self.targets.items()):
                group = target.group
                if target.state == "draining":
                    if target.drain_until is not None and now >= target.drain_until:
                        group.targets.pop(target.key, None)
                        group.deregistered_targets[target.key] = {"Id": target.ip, "Port": target.port}
                        del self.targets[key]
                    continue
                if target.key not in group.targets:  # deregistered through the API (moto popped it)
                    del self.targets[key]
                    continue
                if not group.health_check_enabled or target.probing or now < target.next_probe:
                    continue
                target.probing = True
                target.next_probe = now + max(MIN_INTERVAL, scaled(group.health_check_interval_seconds))
                self.pool.submit(self._probe, target)

    def _adopt(self) -> None:
        """Probe loopback targets registered through the API too (moto would call them healthy)."""
        for backend in backends("elbv2"):
            for group in list(backend.target_groups.values()):
                for key, spec in list(group.targets.items()):
                    ip = str(spec.get("Id", ""))
                    if not ip.startswith(LOOPBACK_PREFIX):
                        continue
                    port = int(spec.get("Port") or group.port or 80)
                    with self.lock:
                        if (group.arn, ip, port) not in self.targets:
                            target = Target(group, ip, port, key)
                            self.targets[(group.arn, ip, port)] = target

    def _probe(self, target: Target) -> None:
        group = target.group
        ok, reason, description = False, "Target.FailedHealthChecks", "Health checks failed"
        try:
            hc_port = group.health_check_port
            port = target.port if hc_port in (None, "", "traffic-port") else int(hc_port)
            timeout = max(MIN_TIMEOUT, scaled(group.health_check_timeout_seconds))
            if not security_groups.health_check_admits(group, target.ip, port):
                raise TimeoutError  # the target's groups drop the load balancer's probe
            conn = http.client.HTTPConnection(target.ip, port, timeout=timeout)
            try:
                conn.request(
                    "GET", group.health_check_path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"}
                )
                response = conn.getresponse()
                response.read()
                ok = matches_code(getattr(group, "matcher", None), response.status)
                if not ok:
                    reason = "Target.ResponseCodeMismatch"
                    description = f"Health checks failed with these codes: [{response.status}]"
            finally:
                conn.close()
        except TimeoutError:
            reason, description = "Target.Timeout", "Request timed out"
        except (OSError, http.client.HTTPException, ValueError):
            pass
        with self.lock:
            target.probing = False
            if target.state == "draining":
                return
            if ok:
                target.successes, target.failures = target.successes + 1, 0
                if target.state != "healthy" and target.successes >= int(group.healthy_threshold_count or 5):
                    target.state, target.reason, target.description = "healthy", None, None
            else:
                target.failures, target.successes = target.failures + 1, 0
                if target.failures >= int(group.unhealthy_threshold_count or 2):
                    target.state, target.reason, target.description = "unhealthy", reason, description

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


REGISTRY = HealthRegistry()


def install() -> None:
    """Patch moto's target group so DescribeTargetHealth and DeregisterTargets see the registry."""
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    if getattr(FakeTargetGroup, "_sandbox_patched", False):
        return
    original_health, original_deregister = FakeTargetGroup.health_for, FakeTargetGroup.deregister

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        record = REGISTRY.get(self.arn, str(target.get("Id")), target.get("Port"))
        if record is not None:
            return FakeHealthStatus(
                record.ip,
                record.port,
                self.health_check_port,
                record.state,
                record.reason,
                record.description,
            )
        return original_health(self, target, ec2_backend)

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        plain = []
        for spec in targets:
            record = REGISTRY.get(self.arn, str(spec.get("Id")), spec.get("Port"))
            if record is not None:
                REGISTRY.deregister(self.arn, record.ip, record.port)
            else:
                plain.append(spec)
        if plain:
            original_deregister(self, plain)

    FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]
    FakeTargetGroup.deregister = deregister  # type: ignore[method-assign]
    FakeTargetGroup._sandbox_patched = True  # type: ignore[attr-defined]
    install_rules()


# -- listener rules and their weights ---------------------------------------------------------------
def find_listener(account: str, region: str, listener_arn: str) -> Any | None:
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account][region]
    for balancer in list(backend.load_balancers.values()):
        listener = balancer.listeners.get(listener_arn)
        if listener is not None:
            return listener
    return None


def find_rule(account: str, region: str, rule_arn: str) -> Any | None:
    """A listener rule (or a listener's default rule) by ARN, from moto's model."""
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account][region]
    for balancer in list(backend.load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            for rule in list(listener.rules.values()):
                if rule.arn == rule_arn:
                    return rule
    return None


def forward_action(rule: Any) -> Any | None:
    for action in rule.actions:
        if action.type == "forward":
            return action
    return None


def weights(rule: Any) -> dict[str, int]:
    """Target group ARN -> weight of the rule's forward action (a single TargetGroupArn weighs 1)."""
    action = forward_action(rule)
    if action is None:
        return {}
    config = action.data.get("ForwardConfig") or {}
    groups = config.get("TargetGroups") or []
    if groups:
        return {group["TargetGroupArn"]: int(group.get("Weight", 1)) for group in groups}
    arn = action.data.get("TargetGroupArn")
    return {arn: 1} if arn else {}


def set_weights(rule: Any, new: dict[str, int]) -> None:
    """Write weights into the rule's forward action in moto's model (DescribeRules shows them).

    Proxy threads and DescribeRules read the action while this runs: the new action is built aside and
    swapped in with one list-item assignment, so a reader sees the old weights or the new, never a mix.
    """
    from moto.elbv2.models import FakeAction

    index = next((i for i, action in enumerate(rule.actions) if action.type == "forward"), None)
    if index is None:
        return
    data = dict(rule.actions[index].data)
    config = dict(data.get("ForwardConfig") or {"TargetGroupStickinessConfig": {"Enabled": False}})
    groups = [dict(group) for group in config.get("TargetGroups") or []]
    present = {group["TargetGroupArn"] for group in groups}
    groups += [{"TargetGroupArn": arn, "Weight": 0} for arn in new if arn not in present]
    for group in groups:
        if group["TargetGroupArn"] in new:
            group["Weight"] = int(new[group["TargetGroupArn"]])
    config["TargetGroups"] = groups
    data["ForwardConfig"] = config
    if len(groups) > 1:
        data.pop("TargetGroupArn", None)
    rule.actions[index] = FakeAction(data)


# -- AWS's documented bounds, refused as ELBv2 refuses them -----------------------------------------------
# Each names its source: the documentation string or the bounds of botocore's ELBv2 model
# (botocore/data/elbv2/2015-12-01/service-2.json), or AWS's guide. moto checks target group names already (32
# characters, alphanumerics and hyphens, no hyphen at either end) with AWS's messages.
LOAD_BALANCER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
MAX_PRIORITY = 50000  # model: RulePriority (min 1, max 50000)
MAX_WEIGHT = 999  # model: TargetGroupTuple.Weight: "The range is 0 to 999."
# AWS's guide, Quotas for your Application Load Balancers (load-balancer-limits.html): "Target groups per
# action: 5".
MAX_GROUPS_PER_ACTION = 5


def validation_error(message: str) -> Exception:
    from moto.elbv2.exceptions import ELBClientError

    return ELBClientError("ValidationError", message)


def check_load_balancer_name(name: str) -> None:
    """model: CreateLoadBalancerInput.Name: "can have a maximum of 32 characters, must contain only
    alphanumeric characters or hyphens, must not begin or end with a hyphen, and must not begin with
    "internal-"."""
    if len(name) > 32:
        raise validation_error(f"Load balancer name '{name}' cannot be longer than '32' characters")
    if not LOAD_BALANCER_NAME.match(name):
        raise validation_error(
            f"Load balancer name '{name}' can only contain characters that are alphanumeric characters or "
            "hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise validation_error(f"Load balancer name '{name}' cannot begin or end with '-'")
    if name.startswith("internal-"):
        raise validation_error(f"Load balancer name '{name}' cannot begin with 'internal-'")


def check_priority(priority: Any) -> None:
    """A rule's priority, in the words AWS's request validation uses for a bound of the model."""
    value = int(priority)
    if value < 1:
        raise validation_error(
            f"1 validation error detected: Value '{value}' at 'priority' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1"
        )
    if value > MAX_PRIORITY:
        raise validation_error(
            f"1 validation error detected: Value '{value}' at 'priority' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_PRIORITY}"
        )


def check_forward(data: dict[str, Any]) -> None:
    groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
    if len(groups) > MAX_GROUPS_PER_ACTION:
        raise validation_error(
            f"You cannot specify more than {MAX_GROUPS_PER_ACTION} target groups in a forward action"
        )
    for group in groups:
        weight = group.get("Weight")
        if weight is None:
            continue
        bound = "greater than or equal to 0" if int(weight) < 0 else f"less than or equal to {MAX_WEIGHT}"
        if not 0 <= int(weight) <= MAX_WEIGHT:
            raise validation_error(
                f"1 validation error detected: Value '{weight}' at "
                "'actions.member.forwardConfig.targetGroups.member.weight' failed to satisfy constraint: "
                f"Member must have value {bound}"
            )


def install_rules() -> None:
    """Wrap moto's ELBv2 backend so that it refuses what AWS refuses, before it changes anything."""
    from moto.elbv2.models import ELBv2Backend

    if getattr(ELBv2Backend, "_sandbox_rules", False):
        return
    create_load_balancer, create_rule = ELBv2Backend.create_load_balancer, ELBv2Backend.create_rule
    set_rule_priorities, validate_actions = ELBv2Backend.set_rule_priorities, ELBv2Backend._validate_actions

    def checked_create_load_balancer(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        check_load_balancer_name(name)
        return create_load_balancer(self, name, *args, **kwargs)

    def checked_create_rule(
        self: Any, listener_arn: str, conditions: Any, priority: Any, *args: Any, **kwargs: Any
    ) -> Any:
        check_priority(priority)
        return create_rule(self, listener_arn, conditions, priority, *args, **kwargs)

    def checked_set_rule_priorities(self: Any, rule_priorities: list[dict[str, Any]]) -> Any:
        for entry in rule_priorities:
            check_priority(entry["Priority"])
        return set_rule_priorities(self, rule_priorities)

    def checked_validate_actions(self: Any, actions: list[Any]) -> None:
        for action in actions:
            if action.type == "forward":
                check_forward(action.data)
        validate_actions(self, actions)

    ELBv2Backend.create_load_balancer = checked_create_load_balancer  # type: ignore[method-assign]
    ELBv2Backend.create_rule = checked_create_rule  # type: ignore[method-assign]
    ELBv2Backend.set_rule_priorities = checked_set_rule_priorities  # type: ignore[method-assign]
    ELBv2Backend._validate_actions = checked_validate_actions  # type: ignore[method-assign]
    ELBv2Backend._sandbox_rules = True  # type: ignore[attr-defined]
