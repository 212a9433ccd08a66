"""ECS overlay: service deployments (ROLLING, BLUE_GREEN, LINEAR, CANARY) as state machines on real tasks.

moto keeps clusters, task definitions and services; it drops ``deploymentConfiguration`` on CreateService,
never starts a service's tasks and never progresses ``deployments``. Here:

- :class:`ECSOverlay` is a WSGI middleware in front of moto's app. It owns CreateService, UpdateService,
  DeleteService, ListTasks, ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment and
  DescribeServiceRevisions; it lets moto do what moto does well (validation, the service model), then
  keeps what moto drops on moto's own ``Service`` object so that DescribeServices (moto's handler) echoes
  it. Every other call goes to moto untouched.
- :class:`Deployments` holds, per service, its tasks (local processes, see ``sandbox.dataplane.tasks``),
  its service revisions and service deployments; :meth:`Deployments.tick` (the reconciler calls it every
  100 ms) advances each deployment and mirrors the outcome into moto's model: ``deployments``
  (PRIMARY/ACTIVE, rolloutState), ``runningCount``, ``pendingCount``, ``events``, the tasks that
  DescribeTasks/ListTasks show, the targets in the target groups and the production/test rule weights.

Durations configured in AWS terms (bake times, step bakes) go through ``sandbox.clock.scaled``.
"""

from __future__ import annotations

import copy
import json
import math
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from sandbox.aws import ecs_rules as rules
from sandbox.aws import elbv2, iam
from sandbox.aws.ecs_run_task import OneOffTasks, RunTaskError
from sandbox.aws.security_groups import ADDRESSES
from sandbox.clock import scaled
from sandbox.dataplane.tasks import (
    SecretError,
    TaskFaults,
    TaskNetwork,
    TaskProcess,
    container_port,
    image_tag,
    stop_processes,
    task_environment,
)

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
OWNED = frozenset(
    {
        "CreateCluster",
        "RegisterTaskDefinition",
        "CreateService",
        "UpdateService",
        "DeleteService",
        "ListTasks",
        "ListTaskDefinitions",
        "ListServiceDeployments",
        "DescribeServiceDeployments",
        "StopServiceDeployment",
        "DescribeServiceRevisions",
        "RunTask",
        "StopTask",
    }
)
STRATEGIES = rules.STRATEGIES
TRAFFIC_STRATEGIES = rules.TRAFFIC_STRATEGIES
FINAL = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
PENDING_BOUND = 30.0  # real seconds a task may take to accept connections before it counts as failed
MAX_EVENTS = 100
# The lifecycle stages of a BLUE_GREEN, LINEAR or CANARY deployment behind a load balancer (model:
# ServiceDeployment.lifecycleStage), each advanced by the Deployments method named here.
TRAFFIC_STAGES = (
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
TRAFFIC_STEPS = {stage: stage.lower() for stage in TRAFFIC_STAGES}
# Stages in which green's tasks are kept at the desired count: from SCALE_UP to BAKE_TIME.
GREEN_RUNS = TRAFFIC_STAGES[1:-1]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def now() -> datetime:
    return datetime.now(UTC)


def epoch(value: datetime | None) -> float | None:
    return None if value is None else round(value.timestamp(), 3)


def short_id() -> str:
    return uuid.uuid4().hex[:20]


# -- records -----------------------------------------------------------------------------------------
@dataclass
class Revision:
    arn: str
    task_definition: str
    created_at: datetime
    version: str


@dataclass
class TaskRun:
    task: Any  # moto Task
    revision: Revision
    deployment: Deployment
    proc: TaskProcess | None
    group_arn: str | None
    state: str = "PENDING"  # PENDING | RUNNING | DRAINING | STOPPING | STOPPED
    registered: bool = False
    created: float = field(default_factory=time.monotonic)
    stop_reason: str = ""

    @property
    def live(self) -> bool:
        """Counts towards a deployment's tasks: started or starting, not being stopped."""
        return self.state in ("PENDING", "RUNNING")

    @property
    def alive(self) -> bool:
        return self.state != "STOPPED"

    def ready(self) -> bool:
        if self.state != "RUNNING":
            return False
        if self.group_arn is None:
            return True
        if self.proc is None:
            return False
        target = elbv2.REGISTRY.get(self.group_arn, self.proc.ip, self.proc.port)
        return target is not None and target.routable


@dataclass
class Deployment:
    service: ServiceRecord
    target: Revision
    sources: list[Revision]
    config: dict[str, Any]
    desired: int
    arn: str = ""
    id: str = field(default_factory=lambda: f"ecs-svc/{uuid.uuid4().int % 10**19:019d}")
    status: str = "PENDING"
    stage: str | None = None
    reason: str | None = None
    created_at: datetime = field(default_factory=now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime = field(default_factory=now)
    rollback: dict[str, Any] | None = None
    failures: int = 0
    stage_started: float = field(default_factory=time.monotonic)
    green_weight: int = 0
    step_until: float | None = None
    green_group: str | None = None
    blue_group: str | None = None
    triggered_alarms: list[str] = field(default_factory=list)
    rollout_state: str = "IN_PROGRESS"
    rollout_reason: str = ""
    next_start: float = 0.0
    consecutive_failures: int = 0
    breaker_failures: int = 0  # the circuit breaker's count: reset by a healthy task (resetOnHealthyTask)

    @property
    def strategy(self) -> str:
        """The service's strategy, the first deployment's included: AWS runs a new BLUE_GREEN, LINEAR or
        CANARY service's first revision through that strategy's lifecycle stages (DescribeServiceDeployments
        shows them), not as a rolling update."""
        return str(self.config.get("strategy") or "ROLLING")

    @property
    def first(self) -> bool:
        """No earlier revision to shift from or roll back to (the service's first deployment)."""
        return not self.sources

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def set_stage(self, stage: str) -> None:
        self.stage, self.stage_started, self.updated_at = stage, time.monotonic(), now()

    def threshold(self) -> int:
        """model: ThresholdConfiguration: COUNT is the value itself; the percentage types multiply the value
        (default 50) by the desired count, BOUNDED_PERCENT (the default) between 3 and 200 failures (AWS's
        guide, deployment-circuit-breaker.html)."""
        breaker = self.config.get("deploymentCircuitBreaker") or {}
        threshold = breaker.get("thresholdConfiguration") or {}
        kind, value = threshold.get("type") or "BOUNDED_PERCENT", int(threshold.get("value") or 50)
        if kind == "COUNT":
            return value
        count = math.ceil(self.desired * value / 100)
        return count if kind == "UNBOUNDED_PERCENT" else max(3, min(200, count))

    def task_failed(self) -> None:
        """A task of this deployment failed to start or failed its health checks: count it, back off."""
        self.failures += 1
        self.breaker_failures += 1
        self.consecutive_failures += 1
        self.next_start = time.monotonic() + min(5.0, 0.2 * 2 ** min(self.consecutive_failures, 5))

    def task_healthy(self) -> None:
        self.consecutive_failures = 0
        # model: DeploymentCircuitBreaker.resetOnHealthyTask: "a task that reaches a healthy state resets the
        # failure count to 0 ... The default is true."
        if (self.config.get("deploymentCircuitBreaker") or {}).get("resetOnHealthyTask") is not False:
            self.breaker_failures = 0


@dataclass
class ServiceRecord:
    account: str
    region: str
    service: Any  # moto Service
    config: dict[str, Any]
    revisions: dict[str, Revision] = field(default_factory=dict)
    tasks: list[TaskRun] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    primary: Deployment | None = None  # the last deployment that reached steady state (serves traffic)
    active: Deployment | None = None  # the deployment in progress
    live_group: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return str(self.service.arn)

    @property
    def name(self) -> str:
        return str(self.service.name)

    def event(self, message: str) -> None:
        self.events.insert(
            0, {"id": str(uuid.uuid4()), "createdAt": now(), "message": f"(service {self.name}) {message}"}
        )
        del self.events[MAX_EVENTS:]

    def load_balancer(self) -> dict[str, Any] | None:
        balancers = self.service.load_balancers or []
        return balancers[0] if balancers else None

    def advanced(self) -> dict[str, Any]:
        balancer = self.load_balancer() or {}
        return balancer.get("advancedConfiguration") or {}


# -- validation and defaults -----------------------------------------------------------------------
DEFAULT_CONFIG = {
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "strategy": "ROLLING",
}


def merge_config(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    merged = json.loads(json.dumps(old or DEFAULT_CONFIG))
    for key, value in (new or {}).items():
        merged[key] = value
    return merged


def validate(
    config: dict[str, Any],
    load_balancers: list[dict[str, Any]] | None,
    request: dict[str, Any] | None = None,
    controller: str = "ECS",
) -> None:
    """The service's deployment configuration after the call (``config``), as ECS checks it
    (sandbox.aws.ecs_rules), and the advanced load balancer configuration a traffic-shifting strategy needs.
    """
    try:
        rules.check_deployment_configuration(request, config, controller)
    except rules.RuleError as err:
        raise ApiError(err.code, err.message) from err
    strategy = config.get("strategy") or "ROLLING"
    if strategy in TRAFFIC_STRATEGIES and load_balancers:
        for balancer in load_balancers:
            advanced = balancer.get("advancedConfiguration") or {}
            # model: AdvancedConfiguration ("the alternate target group, listener rules, and IAM role required
            # for traffic shifting during blue/green deployments")
            missing = [
                key
                for key in ("alternateTargetGroupArn", "productionListenerRule", "roleArn")
                if not advanced.get(key)
            ]
            if missing:
                raise ApiError(
                    "InvalidParameterException",
                    f"{strategy} deployments with a load balancer need loadBalancers[].advancedConfiguration "
                    f"with {', '.join(missing)}",
                )


def refuse_infrastructure_roles(
    environ: dict[str, Any], cluster: str | None, service: str, params: dict[str, Any]
) -> None:
    """InvalidParameterException, as ECS answers it, for an infrastructure role ECS cannot assume."""
    account, region = _account_region(environ)
    for role in iam.infrastructure_roles(params.get("loadBalancers")):
        refusal = iam.infrastructure_role_refusal(role, iam.ecs_source(account, region, cluster, service))
        if refusal is not None:
            raise ApiError("InvalidParameterException", refusal)


def infrastructure_denial(record: ServiceRecord, groups: list[str | None]) -> str | None:
    """Why ECS cannot move this service's traffic with its infrastructure role (it was deleted, no
    longer trusts ECS, or lacks a load-balancer permission), checked as each blue/green deployment starts."""
    advanced = record.advanced()
    role = advanced.get("roleArn")
    if not role:
        return None
    context = iam.ecs_source(record.account, record.region, record.service.cluster_name, record.name)
    return iam.infrastructure_role_denial(role, context, iam.load_balancer_requests(advanced, groups))


# -- the deployments engine ------------------------------------------------------------------------
class Deployments:
    """Every overlaid service, its tasks and deployments. All methods run under :attr:`lock`."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.services: dict[str, ServiceRecord] = {}
        self.by_arn: dict[str, Deployment] = {}
        self.faults = TaskFaults()
        self.log_dir = log_dir
        self.one_off = OneOffTasks(log_dir)
        if log_dir:
            log_dir.mkdir(parents=True, exist_ok=True)

    # -- moto lookups ------------------------------------------------------------------------
    @staticmethod
    def backend(account: str, region: str) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[account][region]

    def revision(self, record: ServiceRecord, task_definition: str) -> Revision:
        backend = self.backend(record.account, record.region)
        definition = backend.describe_task_definition(task_definition)
        for revision in record.revisions.values():
            if revision.task_definition == definition.arn:
                return revision
        containers = definition.container_definitions or [{}]
        essential = next((c for c in containers if c.get("essential", True)), containers[0])
        arn = (
            f"arn:aws:ecs:{record.region}:{record.account}:service-revision/"
            f"{record.service.cluster_name}/{record.name}/{uuid.uuid4().int % 10**19}"
        )
        revision = Revision(arn, definition.arn, now(), image_tag(essential.get("image")))
        record.revisions[arn] = revision
        return revision

    # -- API-facing operations ---------------------------------------------------------------
    def adopt(self, account: str, region: str, service: Any, config: dict[str, Any]) -> ServiceRecord:
        record = ServiceRecord(account, region, service, config)
        self.services[record.arn] = record
        service.deployment_configuration = config
        service.created_by = f"arn:aws:iam::{account}:root"
        if service.task_definition:
            target = self.revision(record, service.task_definition)
            self.start_deployment(record, target)
        self.mirror(record)
        return record

    def start_deployment(self, record: ServiceRecord, target: Revision) -> Deployment:
        live = {t.revision.arn: t.revision for t in record.tasks if t.live}
        if record.primary is not None:
            live.setdefault(record.primary.target.arn, record.primary.target)
        sources = [revision for arn, revision in live.items() if arn != target.arn]
        deployment = Deployment(
            record,
            target,
            sources,
            json.loads(json.dumps(record.config)),
            int(record.service.desired_count or 0),
        )
        deployment.arn = (
            f"arn:aws:ecs:{record.region}:{record.account}:service-deployment/"
            f"{record.service.cluster_name}/{record.name}/{short_id()}"
        )
        previous = record.active
        if previous is not None and not previous.done:
            self.finish(previous, "STOPPED", f"Service deployment superseded by {deployment.arn}.")
            previous.rollout_state, previous.rollout_reason = "FAILED", "Superseded by a newer deployment."
        record.active = deployment
        record.deployments.append(deployment)
        self.by_arn[deployment.arn] = deployment
        record.service.task_definition = target.task_definition
        record.event(
            f"deployment {deployment.id} started: {deployment.strategy} to {target.task_definition}."
        )
        return deployment

    def update(self, record: ServiceRecord, params: dict[str, Any]) -> None:
        service = record.service
        if params.get("deploymentConfiguration") is not None:
            record.config = merge_config(record.config, params["deploymentConfiguration"])
        service.deployment_configuration = record.config
        if service.task_definition:
            service.task_definition = (
                self.backend(record.account, record.region)
                .describe_task_definition(service.task_definition)
                .arn
            )
        current = record.active or record.primary
        new_definition = params.get("taskDefinition") is not None and (
            current is None or current.target.task_definition != service.task_definition
        )
        if new_definition or params.get("forceNewDeployment"):
            self.start_deployment(record, self.revision(record, service.task_definition))
        elif record.active is not None:
            record.active.desired = int(service.desired_count or 0)
        elif record.primary is not None:
            record.primary.desired = int(service.desired_count or 0)
        self.mirror(record)

    def delete(self, record: ServiceRecord) -> None:
        if record.active is not None and not record.active.done:
            self.finish(record.active, "STOPPED", "The service was deleted.")
        for run in record.tasks:
            if run.alive:
                self.stop_task(record, run, "Service deleted")
        record.active = None
        record.event("was deleted.")

    def stop_deployment(self, deployment: Deployment, stop_type: str) -> None:
        if stop_type != "ROLLBACK":
            raise ApiError("InvalidParameterException", "stopType must be ROLLBACK (ABORT is not supported)")
        if deployment.done or deployment.status.startswith("ROLLBACK"):
            raise ApiError("ConflictException", f"service deployment {deployment.arn} is {deployment.status}")
        deployment.status, deployment.updated_at = "ROLLBACK_REQUESTED", now()
        deployment.reason = "Service deployment rolled back: rollback requested by StopServiceDeployment."

    # -- tasks ---------------------------------------------------------------------------------
    def start_task(
        self, record: ServiceRecord, deployment: Deployment, revision: Revision, group: str | None
    ) -> None:
        from moto.ecs.models import Task

        backend = self.backend(record.account, record.region)
        definition = backend.describe_task_definition(revision.task_definition)
        cluster = backend.clusters[record.service.cluster_name]
        # moto's Task builds an ENI for awsvpc and trips on VPCs without DNS hostnames: build it as a bridge
        # task from a copy of the definition and describe the network attachment ourselves (loopback IP).
        bridged = copy.copy(definition)
        bridged.network_mode = "bridge"
        task = Task(
            cluster,
            bridged,
            None,
            None,
            backend,
            group=f"service:{record.name}",
            launch_type=record.service.launch_type or "FARGATE",
            started_by=deployment.id,
        )
        address = ADDRESSES.allocate()  # the task's private IP (sandbox/aws/security_groups.py)
        awsvpc = (record.service.network_configuration or {}).get("awsvpcConfiguration") or {}
        if definition.network_mode == "awsvpc":
            subnets = awsvpc.get("subnets")
            details = [{"name": "privateIPv4Address", "value": address}]
            if subnets:
                details.insert(0, {"name": "subnetId", "value": subnets[0]})
            task.attachments = [
                {
                    "id": str(uuid.uuid4()),
                    "type": "ElasticNetworkInterface",
                    "status": "ATTACHED",
                    "details": details,
                }
            ]
        task.created_at = now()
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        containers = definition.container_definitions or [{}]
        container = next((c for c in containers if c.get("essential", True)), containers[0])
        task.last_status = "PENDING"
        run = TaskRun(task, revision, deployment, None, group)
        record.tasks.append(run)
        try:
            env = task_environment(record.account, record.region, task, container)
        except SecretError as err:
            self.task_stopped(record, run, f"ResourceInitializationError: {err}", failed=True)
            return
        env.update(self.faults.env_for(revision.version))
        log = self.log_dir / f"{task.id}.log" if self.log_dir else None
        groups = tuple(awsvpc.get("securityGroups") or ())
        network = TaskNetwork(record.account, record.region, groups, container_port(container))
        run.proc = TaskProcess(env, revision.version, log, address=address, network=network)
        task.pid = run.proc.pid
        record.event(f"has started 1 tasks: (task {task.id}).")

    def stop_task(self, record: ServiceRecord, run: TaskRun, reason: str) -> None:
        """Deregister (the target drains for the group's deregistration delay), then SIGTERM."""
        if run.state in ("DRAINING", "STOPPING", "STOPPED"):
            return
        run.stop_reason = reason
        run.task.desired_status = "STOPPED"
        run.task.stopping_at = now()
        if run.registered and run.group_arn and run.proc:
            elbv2.REGISTRY.deregister(run.group_arn, run.proc.ip, run.proc.port)
            run.state = "DRAINING"
            run.task.last_status = "DEACTIVATING"
            record.event(f"deregistered 1 targets in (target-group {run.group_arn})")
        else:
            run.state = "STOPPING"
            run.task.last_status = "STOPPING"
            if run.proc:
                run.proc.terminate()

    def task_stopped(self, record: ServiceRecord, run: TaskRun, reason: str, failed: bool) -> None:
        if run.registered and run.group_arn and run.proc:
            target = elbv2.REGISTRY.get(run.group_arn, run.proc.ip, run.proc.port)
            if target is not None:
                target.group.targets.pop(target.key, None)
            with elbv2.REGISTRY.lock:
                elbv2.REGISTRY.targets.pop((run.group_arn, run.proc.ip, run.proc.port), None)
        run.state = "STOPPED"
        run.stop_reason = run.stop_reason or reason
        task = run.task
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = run.stop_reason
        task.stop_code = "EssentialContainerExited" if failed else "ServiceSchedulerInitiated"
        task.stopped_at = task.execution_stopped_at = now()
        if failed:
            run.deployment.task_failed()
            record.event(f"has stopped 1 running tasks: (task {task.id}). Reason: {run.stop_reason}")

    def poll_task(self, record: ServiceRecord, run: TaskRun) -> None:
        proc = run.proc
        if run.state == "STOPPED" or proc is None:
            return
        code = proc.exit_code()
        if run.state in ("PENDING", "RUNNING") and code is not None:
            self.task_stopped(
                record, run, f"Essential container in task exited (exit code {code})", failed=True
            )
            return
        if (
            run.state in ("PENDING", "RUNNING") and run.task.desired_status == "STOPPED"
        ):  # StopTask via the API
            self.stop_task(record, run, run.task.stopped_reason or "Task stopped by user")
            return
        if run.state == "PENDING":
            if _accepts(proc.ip, proc.port):
                run.state = "RUNNING"
                run.task.last_status = "RUNNING"
                run.task.started_at = run.task.connectivity_at = now()
                if run.group_arn:
                    group = self._group(record, run.group_arn)
                    if group is not None:
                        elbv2.REGISTRY.register(group, proc.ip, proc.port)
                        run.registered = True
                        record.event(f"registered 1 targets in (target-group {run.group_arn})")
            elif time.monotonic() - run.created > PENDING_BOUND:
                proc.terminate()
                run.stop_reason = "Task did not start listening in time"
                self.task_stopped(record, run, run.stop_reason, failed=True)
            return
        if run.state == "RUNNING" and run.registered and run.group_arn:
            state = elbv2.REGISTRY.state(run.group_arn, proc.ip, proc.port)
            grace = scaled(getattr(record.service, "health_check_grace_period_seconds", 0) or 0)
            if state == "unhealthy" and time.monotonic() - run.created >= grace:
                self.stop_task(
                    record, run, f"Task failed ELB health checks in (target-group {run.group_arn})"
                )
                run.deployment.task_failed()
                record.event(f"has stopped 1 running tasks: (task {run.task.id}). Reason: {run.stop_reason}")
            elif state == "healthy":
                run.deployment.task_healthy()
            return
        if run.state == "DRAINING":
            if elbv2.REGISTRY.get(run.group_arn or "", proc.ip, proc.port) is None:
                run.state = "STOPPING"
                run.task.last_status = "STOPPING"
                proc.terminate()
            return
        if run.state == "STOPPING" and proc.poll_stop():
            self.task_stopped(record, run, run.stop_reason, failed=False)

    def _group(self, record: ServiceRecord, arn: str) -> Any | None:
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[record.account][record.region].target_groups.get(arn)

    def maintain(
        self,
        record: ServiceRecord,
        deployment: Deployment,
        revision: Revision,
        group: str | None,
        count: int,
        limit: int | None = None,
    ) -> None:
        """Start or stop tasks of ``revision`` so that ``count`` are live (starts capped by ``limit``)."""
        live = [t for t in record.tasks if t.live and t.revision is revision]
        missing = count - len(live)
        if limit is not None:
            missing = min(missing, limit)
        if missing > 0 and time.monotonic() >= deployment.next_start:
            for _ in range(missing):
                self.start_task(record, deployment, revision, group)
        elif missing < 0 and limit is None:
            for run in sorted(live, key=lambda t: t.created, reverse=True)[:-missing]:
                self.stop_task(record, run, f"Scaling activity initiated by (deployment {deployment.id})")

    # -- weights -------------------------------------------------------------------------------
    def rule(self, record: ServiceRecord, key: str) -> Any | None:
        arn = record.advanced().get(key)
        return elbv2.find_rule(record.account, record.region, arn) if arn else None

    def live_group(self, record: ServiceRecord) -> str | None:
        balancer = record.load_balancer()
        if not balancer:
            return None
        primary_group = balancer.get("targetGroupArn")
        alternate = record.advanced().get("alternateTargetGroupArn")
        rule = self.rule(record, "productionListenerRule")
        if rule is not None and alternate:
            table = elbv2.weights(rule)
            a, b = table.get(primary_group, 0), table.get(alternate, 0)
            if a != b:
                return primary_group if a > b else alternate
        return record.live_group or primary_group

    def shift(self, record: ServiceRecord, deployment: Deployment, key: str, green_percent: int) -> None:
        rule = self.rule(record, key)
        if rule is None or not deployment.green_group or not deployment.blue_group:
            return
        elbv2.set_weights(
            rule, {deployment.green_group: green_percent, deployment.blue_group: 100 - green_percent}
        )

    # -- the state machines -------------------------------------------------------------------
    def tick(self) -> None:
        self.one_off.tick()
        for record in list(self.services.values()):
            try:
                for run in list(record.tasks):
                    self.poll_task(record, run)
                record.tasks = [t for t in record.tasks if t.alive or time.monotonic() - t.created < 600]
                deployment = record.active
                if record.service.status != "ACTIVE":
                    continue
                if deployment is not None and not deployment.done:
                    self.advance(record, deployment)
                elif record.primary is not None:
                    self.steady(record)
                self.mirror(record)
            except Exception:  # one broken service must not stop the others
                traceback.print_exc()

    def steady(self, record: ServiceRecord) -> None:
        primary = record.primary
        assert primary is not None
        desired = int(record.service.desired_count or 0)
        self.maintain(record, primary, primary.target, record.live_group, desired)
        for run in record.tasks:
            if run.live and run.revision is not primary.target:
                self.stop_task(record, run, "Task of a previous deployment")

    def advance(self, record: ServiceRecord, deployment: Deployment) -> None:
        if deployment.status == "PENDING":
            deployment.status, deployment.started_at = "IN_PROGRESS", now()
            deployment.set_stage("PRE_SCALE_UP")
        if deployment.status == "ROLLBACK_REQUESTED":
            self.begin_rollback(record, deployment, deployment.reason or "rollback requested")
        if deployment.status == "ROLLBACK_IN_PROGRESS":
            self.continue_rollback(record, deployment)
            return
        if deployment.status != "IN_PROGRESS":
            return
        if self.check_alarms(record, deployment) or self.check_failures(record, deployment):
            return
        if deployment.strategy in TRAFFIC_STRATEGIES and record.load_balancer():
            self.advance_traffic(record, deployment)
        else:
            self.advance_rolling(record, deployment)

    def check_alarms(self, record: ServiceRecord, deployment: Deployment) -> bool:
        alarms = deployment.config.get("alarms") or {}
        if not alarms.get("enable") or deployment.stage == "CLEAN_UP":
            return False
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[record.account][record.region]
        firing = [
            name
            for name in alarms.get("alarmNames") or []
            if getattr(backend.alarms.get(name), "state_value", "") == "ALARM"
        ]
        if not firing:
            return False
        deployment.triggered_alarms = firing
        reason = f"alarm {', '.join(firing)} in ALARM"
        if alarms.get("rollback"):
            self.begin_rollback(record, deployment, f"Service deployment rolled back because {reason}.")
        else:
            self.fail(record, deployment, f"Service deployment failed because {reason}.")
        return True

    def check_failures(self, record: ServiceRecord, deployment: Deployment) -> bool:
        """The deployment circuit breaker (AWS's guide: deployment-circuit-breaker.html and
        deployment-failure-detection.html): at the threshold a deployment fails, and with rollback goes back
        to the last deployment that completed ("The rollback method requires a previous deployment in
        COMPLETED state"). A BLUE_GREEN, LINEAR or CANARY deployment behind a load balancer rolls back at the
        threshold whatever the breaker says (green never took production traffic); its first deployment has
        nothing to roll back to and behaves as a rolling one."""
        if deployment.breaker_failures < deployment.threshold() or deployment.stage == "CLEAN_UP":
            return False
        breaker = deployment.config.get("deploymentCircuitBreaker") or {}
        reason = (
            f"Service deployment rolled back because the circuit breaker threshold was met: "
            f"{deployment.breaker_failures} tasks failed to start or failed health checks"
        )
        can_roll_back = self.can_roll_back(record, deployment)
        if deployment.strategy in TRAFFIC_STRATEGIES and record.load_balancer() and can_roll_back:
            self.begin_rollback(record, deployment, reason + ".")
            return True
        if not breaker.get("enable"):
            return False  # as AWS without a circuit breaker: keep trying (with backoff)
        if breaker.get("rollback") and can_roll_back:
            self.begin_rollback(record, deployment, reason + ".")
        else:
            self.fail(record, deployment, f"Service deployment failed: {deployment.failures} tasks failed.")
        return True

    @staticmethod
    def can_roll_back(record: ServiceRecord, deployment: Deployment) -> bool:
        primary = record.primary
        return not deployment.first and primary is not None and primary.rollout_state == "COMPLETED"

    def advance_rolling(self, record: ServiceRecord, deployment: Deployment) -> None:
        group = self.live_group(record) if record.load_balancer() else None
        record.live_group = group
        if deployment.stage == "PRE_SCALE_UP":
            deployment.set_stage("SCALE_UP")
        desired = deployment.desired = int(record.service.desired_count or 0)
        config = deployment.config
        max_total = math.floor(desired * int(config.get("maximumPercent", 200)) / 100)
        min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)
        if max_total <= min_healthy and desired:
            max_total = min_healthy + 1
        new = [t for t in record.tasks if t.live and t.revision is deployment.target]
        new_ready = [t for t in new if t.ready()]
        old = [t for t in record.tasks if t.live and t.revision is not deployment.target]
        room = max(0, max_total - len(new) - len(old))
        self.maintain(record, deployment, deployment.target, group, desired, limit=room)
        old_ready = [t for t in old if t.ready()]
        can_stop = len(new_ready) + len(old_ready) - min_healthy
        for run in sorted(old, key=lambda t: (t.ready(), t.created))[: max(0, min(can_stop, len(old)))]:
            self.stop_task(record, run, f"Task replaced by (deployment {deployment.id})")
        if len(new_ready) >= desired and not any(
            t.alive and t.revision is not deployment.target for t in record.tasks
        ):
            self.succeed(record, deployment)
        elif not old and deployment.stage == "SCALE_UP" and len(new_ready) >= desired:
            deployment.set_stage("CLEAN_UP")

    def advance_traffic(self, record: ServiceRecord, deployment: Deployment) -> None:
        """One tick of a traffic-shifting deployment: its stage's step (TRAFFIC_STEPS), which moves on to the
        next stage once its own is done."""
        stage = deployment.stage or "PRE_SCALE_UP"
        if stage in GREEN_RUNS:
            self.maintain(record, deployment, deployment.target, deployment.green_group, deployment.desired)
        step = TRAFFIC_STEPS.get(stage)
        if step is not None:
            getattr(self, step)(record, deployment)

    def pre_scale_up(self, record: ServiceRecord, deployment: Deployment) -> None:
        """Pick blue (the group production reaches) and green (the other); zero green's weights.

        A first deployment has no blue: its revision scales up in the group production reaches, and the
        weights stay as they are (there is nothing to shift from)."""
        live = self.live_group(record)
        balancer = record.load_balancer() or {}
        groups = [balancer.get("targetGroupArn"), record.advanced().get("alternateTargetGroupArn")]
        if deployment.first:
            deployment.blue_group, deployment.green_group = None, live
        else:
            deployment.blue_group = live
            deployment.green_group = next((g for g in groups if g != live), None)
        # The infrastructure role must let ECS change the listener rules (sandbox/aws/iam.py; AWS's guide).
        denial = infrastructure_denial(record, groups)
        if denial is not None:
            self.roll_back_or_fail(record, deployment, f"Service deployment rolled back: {denial}")
            return
        if not self.rule_forwards_to(record, groups):
            # AWS's guide (alb-resources-for-blue-green.html): the production listener rule forwards to both
            # target groups, else the deployment fails.
            self.roll_back_or_fail(
                record,
                deployment,
                "Service deployment rolled back: the production listener rule "
                f"{record.advanced().get('productionListenerRule')} must forward to both target groups.",
            )
            return
        for key in ("productionListenerRule", "testListenerRule"):
            self.shift(record, deployment, key, 0)
        for run in record.tasks:  # leftovers of a superseded deployment in the group about to be green
            if run.live and run.group_arn == deployment.green_group and run.revision is not deployment.target:
                self.stop_task(record, run, "Task of a superseded deployment")
        deployment.set_stage("SCALE_UP")

    def rule_forwards_to(self, record: ServiceRecord, groups: list[str | None]) -> bool:
        rule = self.rule(record, "productionListenerRule")
        return rule is not None and set(groups) <= set(elbv2.weights(rule))

    def roll_back_or_fail(self, record: ServiceRecord, deployment: Deployment, reason: str) -> None:
        if self.can_roll_back(record, deployment):
            self.begin_rollback(record, deployment, reason)
        else:
            self.fail(record, deployment, reason.replace("rolled back", "failed", 1))

    def scale_up(self, record: ServiceRecord, deployment: Deployment) -> None:
        green = [t for t in record.tasks if t.live and t.revision is deployment.target]
        if len(green) >= deployment.desired and all(t.ready() for t in green):
            deployment.set_stage("POST_SCALE_UP")
        elif not deployment.first and time.monotonic() - deployment.stage_started > max(30.0, scaled(600)):
            # A first deployment keeps trying, as a rolling one does (check_failures decides when it fails).
            self.begin_rollback(
                record,
                deployment,
                "Service deployment rolled back: tasks failed health checks "
                "(not healthy within the deployment's bound).",
            )

    @staticmethod
    def post_scale_up(record: ServiceRecord, deployment: Deployment) -> None:
        deployment.set_stage("TEST_TRAFFIC_SHIFT")

    def test_traffic_shift(self, record: ServiceRecord, deployment: Deployment) -> None:
        self.shift(record, deployment, "testListenerRule", 100)
        deployment.set_stage("POST_TEST_TRAFFIC_SHIFT")

    @staticmethod
    def post_test_traffic_shift(record: ServiceRecord, deployment: Deployment) -> None:
        deployment.set_stage("PRODUCTION_TRAFFIC_SHIFT")

    def production_traffic_shift(self, record: ServiceRecord, deployment: Deployment) -> None:
        """One step of production traffic per call: BLUE_GREEN all at once, LINEAR in stepPercent steps with
        stepBakeTimeInMinutes between them, CANARY canaryPercent, then the rest after
        canaryBakeTimeInMinutes."""
        if deployment.step_until is not None and time.monotonic() < deployment.step_until:
            return
        if deployment.green_weight >= 100:
            deployment.set_stage("POST_PRODUCTION_TRAFFIC_SHIFT")
            return
        weight, bake_minutes = self.next_weight(deployment)
        deployment.green_weight = weight
        self.shift(record, deployment, "productionListenerRule", weight)
        record.event(f"(deployment {deployment.id}) production traffic: {weight}% to the new revision.")
        deployment.step_until = time.monotonic() + scaled(bake_minutes * 60) if weight < 100 else None

    @staticmethod
    def next_weight(deployment: Deployment) -> tuple[int, float]:
        """(green's next production weight, minutes to bake at it). Defaults are the model's: LINEAR steps of
        10.0% with 6-minute bakes, CANARY 5.0% for 10 minutes. A first deployment has nothing to step from."""
        if deployment.first:
            return 100, 0.0
        if deployment.strategy == "LINEAR":
            linear = deployment.config.get("linearConfiguration") or {}
            step = max(1, round(float(linear.get("stepPercent") or 10.0)))
            return min(100, deployment.green_weight + step), float(
                linear.get("stepBakeTimeInMinutes", 6) or 0
            )
        if deployment.strategy == "CANARY" and deployment.green_weight == 0:
            canary = deployment.config.get("canaryConfiguration") or {}
            weight = max(1, round(float(canary.get("canaryPercent") or 5.0)))
            return weight, float(canary.get("canaryBakeTimeInMinutes", 10) or 0)
        return 100, 0.0

    def post_production_traffic_shift(self, record: ServiceRecord, deployment: Deployment) -> None:
        record.live_group = deployment.green_group
        deployment.set_stage("BAKE_TIME")

    def bake_time(self, record: ServiceRecord, deployment: Deployment) -> None:
        bake = scaled(float(deployment.config.get("bakeTimeInMinutes") or 0) * 60)
        if time.monotonic() - deployment.stage_started >= bake:
            deployment.set_stage("CLEAN_UP")

    def clean_up(self, record: ServiceRecord, deployment: Deployment) -> None:
        for run in record.tasks:
            if run.live and run.revision is not deployment.target:
                self.stop_task(record, run, f"Task replaced by (deployment {deployment.id})")
        if not any(t.alive and t.revision is not deployment.target for t in record.tasks):
            self.succeed(record, deployment)

    def begin_rollback(self, record: ServiceRecord, deployment: Deployment, reason: str) -> None:
        deployment.status, deployment.reason, deployment.updated_at = "ROLLBACK_IN_PROGRESS", reason, now()
        source = deployment.sources[0] if deployment.sources else None
        deployment.rollback = {
            "reason": reason,
            "startedAt": now(),
            "serviceRevisionArn": source.arn if source else None,
        }
        deployment.rollout_state, deployment.rollout_reason = "FAILED", reason
        if deployment.blue_group and deployment.green_group:
            for key in ("productionListenerRule", "testListenerRule"):
                self.shift(record, deployment, key, 0)
            record.live_group = deployment.blue_group
        for run in record.tasks:
            if run.live and run.revision is deployment.target:
                self.stop_task(record, run, f"Rolled back: {reason}")
        if record.primary is not None:
            record.service.task_definition = record.primary.target.task_definition
        record.event(f"(deployment {deployment.id}) rolling back: {reason}")

    def continue_rollback(self, record: ServiceRecord, deployment: Deployment) -> None:
        primary = record.primary
        if primary is not None:
            desired = int(record.service.desired_count or 0)
            self.maintain(record, primary, primary.target, record.live_group, desired)
        green_gone = not any(t.alive and t.revision is deployment.target for t in record.tasks)
        blue_ready = primary is None or (
            sum(1 for t in record.tasks if t.revision is primary.target and t.ready())
            >= int(record.service.desired_count or 0)
        )
        if green_gone and blue_ready:
            self.finish(deployment, "ROLLBACK_SUCCESSFUL", deployment.reason)
            record.active = None
            record.event(f"(deployment {deployment.id}) rollback completed.")

    def succeed(self, record: ServiceRecord, deployment: Deployment) -> None:
        self.finish(deployment, "SUCCESSFUL", "Service deployment completed successfully.")
        deployment.rollout_state = "COMPLETED"
        deployment.rollout_reason = f"ECS deployment {deployment.id} completed."
        if deployment.green_group:
            record.live_group = deployment.green_group
        record.primary, record.active = deployment, None
        record.event(f"(deployment {deployment.id}) deployment completed.")
        record.event("has reached a steady state.")

    def fail(self, record: ServiceRecord, deployment: Deployment, reason: str) -> None:
        self.finish(deployment, "STOPPED", reason)
        deployment.rollout_state, deployment.rollout_reason = "FAILED", reason
        record.event(f"(deployment {deployment.id}) deployment failed: {reason}")
        # as AWS without rollback: the failed deployment's tasks keep being scheduled as primary
        record.primary, record.active = deployment, None

    @staticmethod
    def finish(deployment: Deployment, status: str, reason: str | None) -> None:
        deployment.status, deployment.reason = status, reason
        deployment.finished_at = deployment.updated_at = now()
        if status == "STOPPED":
            deployment.stopped_at = deployment.finished_at

    # -- mirror into moto's model ---------------------------------------------------------------
    def counts(self, record: ServiceRecord, revision: Revision) -> tuple[int, int]:
        running = sum(1 for t in record.tasks if t.revision is revision and t.state in ("RUNNING",))
        pending = sum(1 for t in record.tasks if t.revision is revision and t.state == "PENDING")
        return running, pending

    def deployment_entry(
        self, record: ServiceRecord, deployment: Deployment, status: str, desired: int
    ) -> dict[str, Any]:
        running, pending = self.counts(record, deployment.target)
        service = record.service
        return {
            "id": deployment.id,
            "status": status,
            "taskDefinition": deployment.target.task_definition,
            "desiredCount": desired,
            "pendingCount": pending,
            "runningCount": running,
            "failedTasks": deployment.failures,
            "createdAt": deployment.created_at,
            "updatedAt": deployment.updated_at,
            "launchType": service.launch_type,
            "platformFamily": "Linux" if service.launch_type == "FARGATE" else None,
            "networkConfiguration": service.network_configuration or None,
            "rolloutState": deployment.rollout_state,
            "rolloutStateReason": deployment.rollout_reason or f"ECS deployment {deployment.id} in progress.",
        }

    def mirror(self, record: ServiceRecord) -> None:
        service = record.service
        desired = int(service.desired_count or 0)
        entries = []
        active, primary = record.active, record.primary
        if active is not None and active.status in ("PENDING", "IN_PROGRESS"):
            entries.append(self.deployment_entry(record, active, "PRIMARY", desired))
            if primary is not None:
                entries.append(
                    self.deployment_entry(record, primary, "ACTIVE", self.counts(record, primary.target)[0])
                )
        else:
            if primary is not None:
                entry = self.deployment_entry(record, primary, "PRIMARY", desired)
                if active is not None:  # rolling back to primary
                    entry["rolloutState"] = "IN_PROGRESS"
                entries.append(entry)
            if active is not None:
                entries.append(self.deployment_entry(record, active, "ACTIVE", 0))
            for other in {t.deployment.id: t.deployment for t in record.tasks if t.alive}.values():
                if other is not primary and other is not active:
                    entries.append(self.deployment_entry(record, other, "ACTIVE", 0))
        service.deployments = entries
        service.running_count = sum(1 for t in record.tasks if t.state in ("RUNNING", "DRAINING"))
        service.pending_count = sum(1 for t in record.tasks if t.state == "PENDING")
        service.events = record.events
        service.deployment_configuration = record.config
        current = active or primary
        service.current_service_deployment = current.arn if current else None
        summaries = []
        for revision in {t.revision.arn: t.revision for t in record.tasks if t.alive}.values():
            running, pending = self.counts(record, revision)
            requested = desired if current is not None and revision is current.target else running
            summaries.append(
                {
                    "arn": revision.arn,
                    "requestedTaskCount": requested,
                    "runningTaskCount": running,
                    "pendingTaskCount": pending,
                }
            )
        service.current_service_revisions = summaries

    # -- descriptions ---------------------------------------------------------------------------
    def revision_summary(self, deployment: Deployment, revision: Revision, target: bool) -> dict[str, Any]:
        running, pending = self.counts(deployment.service, revision)
        summary: dict[str, Any] = {
            "arn": revision.arn,
            "requestedTaskCount": deployment.desired if target else running,
            "runningTaskCount": running,
            "pendingTaskCount": pending,
        }
        if deployment.strategy in TRAFFIC_STRATEGIES and deployment.green_group:
            green = 0 if deployment.status.startswith("ROLLBACK") else deployment.green_weight
            summary["requestedProductionTrafficWeight"] = float(green if target else 100 - green)
            tested = 100 if deployment.stage not in (None, "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP") else 0
            if deployment.status.startswith("ROLLBACK"):
                tested = 0
            summary["requestedTestTrafficWeight"] = float(tested if target else 100 - tested)
        return summary

    def describe(self, deployment: Deployment) -> dict[str, Any]:
        record = deployment.service
        alarms = deployment.config.get("alarms") or {}
        breaker = deployment.config.get("deploymentCircuitBreaker") or {}
        result: dict[str, Any] = {
            "serviceDeploymentArn": deployment.arn,
            "serviceArn": record.arn,
            "clusterArn": record.service.cluster_arn,
            "createdAt": epoch(deployment.created_at),
            "startedAt": epoch(deployment.started_at),
            "finishedAt": epoch(deployment.finished_at),
            "stoppedAt": epoch(deployment.stopped_at),
            "updatedAt": epoch(deployment.updated_at),
            "sourceServiceRevisions": [
                self.revision_summary(deployment, r, False) for r in deployment.sources
            ],
            "targetServiceRevision": self.revision_summary(deployment, deployment.target, True),
            "status": deployment.status,
            "statusReason": deployment.reason,
            "lifecycleStage": deployment.stage,
            "deploymentConfiguration": deployment.config,
            "rollback": {**deployment.rollback, "startedAt": epoch(deployment.rollback["startedAt"])}
            if deployment.rollback
            else None,
            "deploymentCircuitBreaker": {
                "status": (
                    "TRIGGERED"
                    if deployment.breaker_failures >= deployment.threshold()
                    else "MONITORING"
                    if not deployment.done
                    else "MONITORING_COMPLETE"
                )
                if breaker.get("enable")
                else "DISABLED",
                "failureCount": deployment.breaker_failures,
                "threshold": deployment.threshold(),
            },
            "alarms": {
                "status": (
                    "TRIGGERED"
                    if deployment.triggered_alarms
                    else "MONITORING"
                    if not deployment.done
                    else "MONITORING_COMPLETE"
                )
                if alarms.get("enable")
                else "DISABLED",
                "alarmNames": list(alarms.get("alarmNames") or []),
                "triggeredAlarmNames": list(deployment.triggered_alarms),
            },
        }
        return {key: value for key, value in result.items() if value is not None}

    def brief(self, deployment: Deployment) -> dict[str, Any]:
        full = self.describe(deployment)
        keys = (
            "serviceDeploymentArn",
            "serviceArn",
            "clusterArn",
            "startedAt",
            "createdAt",
            "finishedAt",
            "status",
            "statusReason",
        )
        brief = {key: full[key] for key in keys if key in full}
        brief["targetServiceRevisionArn"] = deployment.target.arn
        return brief

    def describe_revision(self, record: ServiceRecord, revision: Revision) -> dict[str, Any]:
        service = record.service
        backend = self.backend(record.account, record.region)
        definition = backend.describe_task_definition(revision.task_definition)
        return {
            "serviceRevisionArn": revision.arn,
            "serviceArn": record.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": revision.task_definition,
            "launchType": service.launch_type,
            "loadBalancers": service.load_balancers or [],
            "networkConfiguration": service.network_configuration or None,
            "containerImages": [
                {"containerName": c.get("name"), "image": c.get("image")}
                for c in definition.container_definitions
            ],
            "createdAt": epoch(revision.created_at),
        }

    def tasks(self) -> list[dict[str, Any]]:
        return [
            {
                "service": record.name,
                "cluster": record.service.cluster_name,
                "task_arn": run.task.task_arn,
                "task_definition": run.revision.task_definition,
                "version": run.revision.version,
                "state": run.state,
                "pid": run.proc.pid if run.proc else None,
                "ip": run.proc.ip if run.proc else None,
                "port": run.proc.port if run.proc else None,
                "target_group": run.group_arn if run.registered else None,
                "stopped_reason": run.stop_reason or None,
            }
            for record in self.services.values()
            for run in record.tasks
        ] + self.one_off.listing()

    def shutdown(self) -> None:
        """Stop every task process now (SIGTERM all, then SIGKILL the stragglers)."""
        stop_processes(
            [run.proc for record in self.services.values() for run in record.tasks if run.proc], 2.0
        )
        self.services.clear()
        self.by_arn.clear()
        self.one_off.shutdown()


def _accepts(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.05)
        return sock.connect_ex((ip, port)) == 0


# -- the WSGI overlay ------------------------------------------------------------------------------
def _account_region(environ: dict[str, Any]) -> tuple[str, str]:
    from moto.iam.models import get_account_id_from

    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = auth.partition("Credential=")[2].split(",", 1)[0]
    parts = credential.split("/")
    access_key = parts[0] if parts else ""
    region = parts[2] if len(parts) > 2 else "us-east-1"
    return get_account_id_from(access_key), region


class ECSOverlay:
    """WSGI middleware: the ECS operations in :data:`OWNED` here, everything else to moto."""

    def __init__(self, aws_app: WSGIApp, engine: Deployments) -> None:
        self.aws_app = aws_app
        self.engine = engine

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return self.aws_app(environ, start_response)
        # The reconciler changes moto's ECS model (tasks, deployments) under the engine's lock, so every ECS
        # request reads it under that lock too: moto iterating a dict the reconciler resizes answers 500.
        # No deadlock: the reconciler never waits on a request thread, and ECS requests take the ELBv2
        # registry's lock only inside this one, in the reconciler's order.
        with self.engine.lock:
            return self.dispatch(environ, start_response, target[len(TARGET_PREFIX) :])

    def dispatch(
        self, environ: dict[str, Any], start_response: Callable[..., Any], operation: str
    ) -> Iterable[bytes]:
        if operation not in OWNED:
            return self.passthrough(environ, start_response)
        stream = environ["wsgi.input"]
        body = stream.read()
        environ["wsgi.input"] = BytesIO(body)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return self.aws_app(environ, start_response)
        try:
            status, payload = getattr(self, "op_" + operation)(environ, params)
        except ApiError as err:
            status, payload = err.status, {"__type": err.code, "message": err.message}
        data = payload if isinstance(payload, bytes) else json.dumps(payload, default=_json_default).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(data))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [data]

    # -- helpers ---------------------------------------------------------------------------------
    def passthrough(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """moto's answer, read in full here, so that it is built under the caller's lock."""
        chunks = self.aws_app(environ, start_response)
        try:
            return [b"".join(chunks)]
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    def moto(self, environ: dict[str, Any], operation: str, params: dict[str, Any]) -> tuple[int, Any]:
        body = json.dumps(params).encode()
        env = dict(environ)
        env["HTTP_X_AMZ_TARGET"] = TARGET_PREFIX + operation
        env["wsgi.input"] = BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        status = [500]

        def capture(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(line.split(" ", 1)[0])
            return lambda data: None

        chunks = self.aws_app(env, capture)
        try:
            raw = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        try:
            return status[0], json.loads(raw or b"{}")
        except ValueError:
            return status[0], raw

    def describe_one(self, environ: dict[str, Any], cluster: str | None, service: str) -> dict[str, Any]:
        status, payload = self.moto(
            environ, "DescribeServices", {"cluster": cluster or "default", "services": [service]}
        )
        services = payload.get("services") if isinstance(payload, dict) else None
        if status != 200 or not services:
            raise ApiError("ServerException", f"could not describe service {service} after the change", 500)
        return services[0]

    def record(self, environ: dict[str, Any], cluster: str | None, service: str) -> ServiceRecord | None:
        from moto.ecs.exceptions import ClusterNotFoundException, ServiceNotFoundException

        account, region = _account_region(environ)
        try:
            moto_service = Deployments.backend(account, region)._get_service(cluster or "default", service)
        except (ClusterNotFoundException, ServiceNotFoundException):
            return None
        return self.engine.services.get(moto_service.arn)

    # -- operations --------------------------------------------------------------------------------
    def op_ListTaskDefinitions(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        """moto ignores ``sort``; AWS lists by family, then revision, ascending, and DESC reverses both (a
        family's newest revision first: what a caller looking for "the newest" asks for)."""
        status, payload = self.moto(environ, "ListTaskDefinitions", params)
        if status == 200 and isinstance(payload, dict):
            payload["taskDefinitionArns"] = sorted(
                payload.get("taskDefinitionArns") or [],
                key=_family_and_revision,
                reverse=str(params.get("sort") or "ASC").upper() == "DESC",
            )
        return status, payload

    def op_CreateCluster(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        if params.get("clusterName") is not None:
            self.check(rules.check_name, params["clusterName"], "Cluster name")
        return self.moto(environ, "CreateCluster", params)

    def op_RegisterTaskDefinition(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        self.check(rules.check_task_definition, params)
        return self.moto(environ, "RegisterTaskDefinition", params)

    def op_CreateService(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        controller = (params.get("deploymentController") or {}).get("type", "ECS")
        config = merge_config(None, params.get("deploymentConfiguration"))
        validate(config, params.get("loadBalancers"), params.get("deploymentConfiguration"), controller)
        refuse_infrastructure_roles(environ, params.get("cluster"), params["serviceName"], params)
        self.check(rules.check_name, params.get("serviceName"), "Service name")
        account, region = _account_region(environ)
        backend = Deployments.backend(account, region)
        cluster = _cluster(backend, params.get("cluster"))
        if cluster is not None:
            self.check(rules.check_launch_type_or_strategy, params, cluster.capacity_providers or [])
        self.check_containers(backend, params.get("taskDefinition"), params.get("loadBalancers"))
        status, payload = self.moto(environ, "CreateService", params)
        if status != 200 or controller != "ECS":
            return status, payload
        with self.engine.lock:
            service = backend._get_service(params.get("cluster") or "default", params["serviceName"])
            service.health_check_grace_period_seconds = params.get("healthCheckGracePeriodSeconds")
            # moto drops the strategy; DescribeServices must echo it, or every later run sees a difference.
            service.capacity_provider_strategy = params.get("capacityProviderStrategy") or []
            self.engine.adopt(account, region, service, config)
        answer = self.describe_one(environ, params.get("cluster"), params["serviceName"])
        # The answer describes the service as created; its first service deployment is not in it (AWS does not
        # promise currentServiceDeployment in CreateService's answer; ListServiceDeployments lists it).
        answer.pop("currentServiceDeployment", None)
        return 200, {"service": answer}

    def op_UpdateService(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        record = self.record(environ, params.get("cluster"), params.get("service", ""))
        if record is None:
            return self.moto(environ, "UpdateService", params)
        config = merge_config(record.config, params.get("deploymentConfiguration"))
        controller = (record.service.deployment_controller or {}).get("type", "ECS")
        balancers = params.get("loadBalancers") or record.service.load_balancers
        validate(config, balancers, params.get("deploymentConfiguration"), controller)
        refuse_infrastructure_roles(environ, params.get("cluster"), record.name, params)
        backend = Deployments.backend(record.account, record.region)
        cluster = _cluster(backend, record.service.cluster_name)
        self.check(
            rules.check_capacity_update,
            params,
            record.service.capacity_provider_strategy,
            (cluster.capacity_providers if cluster is not None else None) or [],
        )
        if params.get("taskDefinition") or params.get("loadBalancers"):
            self.check_containers(
                backend, params.get("taskDefinition") or record.service.task_definition, balancers
            )
        before = getattr(record.service, "current_service_deployment", None)
        with self.engine.lock:
            status, payload = self.moto(environ, "UpdateService", params)
            if status != 200:
                return status, payload
            if "healthCheckGracePeriodSeconds" in params:
                record.service.health_check_grace_period_seconds = params["healthCheckGracePeriodSeconds"]
            if params.get("capacityProviderStrategy") is not None:
                record.service.capacity_provider_strategy = params["capacityProviderStrategy"]
            self.engine.update(record, params)
        answer = self.describe_one(environ, params.get("cluster"), record.name)
        # The service deployment an update starts shows in DescribeServices from the next call on, not in this
        # answer: AWS does not promise currentServiceDeployment there (ListServiceDeployments lists the new
        # one).
        if before:
            answer["currentServiceDeployment"] = before
        else:
            answer.pop("currentServiceDeployment", None)
        return 200, {"service": answer}

    @staticmethod
    def check(rule: Callable[..., None], *args: Any) -> None:
        try:
            rule(*args)
        except rules.RuleError as err:
            raise ApiError(err.code, err.message) from err

    @staticmethod
    def check_containers(
        backend: Any, task_definition: str | None, balancers: list[dict[str, Any]] | None
    ) -> None:
        """model: CreateServiceRequest.loadBalancers: "The container name must be as it appears in a container
        definition"; the container port is one of its port mappings."""
        from moto.ecs.exceptions import TaskDefinitionNotFoundException

        if not task_definition or not balancers:
            return
        try:
            definition = backend.describe_task_definition(task_definition)
        except (TaskDefinitionNotFoundException, ValueError, KeyError):
            return  # moto answers for a task definition it does not know
        containers = {c.get("name"): c for c in definition.container_definitions or []}
        for balancer in balancers:
            name, port = balancer.get("containerName"), balancer.get("containerPort")
            if name is None:
                continue
            if name not in containers:
                raise ApiError(
                    "InvalidParameterException",
                    f"The container {name} does not exist in the task definition.",
                )
            ports = {m.get("containerPort") for m in containers[name].get("portMappings") or []}
            if port is not None and port not in ports:
                raise ApiError(
                    "InvalidParameterException",
                    f"The container {name} did not have a container port {port} defined.",
                )

    def op_DeleteService(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        record = self.record(environ, params.get("cluster"), params.get("service", ""))
        with self.engine.lock:
            status, payload = self.moto(environ, "DeleteService", params)
            if status == 200 and record is not None:
                self.engine.delete(record)
                self.engine.mirror(record)
                if isinstance(payload, dict) and isinstance(payload.get("service"), dict):
                    payload["service"]["runningCount"] = record.service.running_count
        return status, payload

    def op_ListTasks(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        service_name = params.pop("serviceName", None)
        desired = params.get("desiredStatus") or "RUNNING"
        params.pop("desiredStatus", None)
        status, payload = self.moto(environ, "ListTasks", params)
        if status != 200 or not isinstance(payload, dict):
            return status, payload
        account, region = _account_region(environ)
        backend = Deployments.backend(account, region)
        tasks = {t.task_arn: t for per_cluster in backend.tasks.values() for t in per_cluster.values()}
        arns = []
        for arn in payload.get("taskArns", []):
            task = tasks.get(arn)
            if task is None or task.desired_status != desired:
                continue
            if service_name and task.group != f"service:{service_name.split('/')[-1]}":
                continue
            arns.append(arn)
        return 200, {"taskArns": arns}

    def op_RunTask(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        """A one-off task as a local process (sandbox.aws.ecs_run_task); the answer is moto's description."""
        account, region = _account_region(environ)
        cluster = _cluster(Deployments.backend(account, region), params.get("cluster"))
        if cluster is not None:
            self.check(rules.check_launch_type_or_strategy, params, cluster.capacity_providers or [])
        try:
            tasks = self.engine.one_off.run(account, region, params)
        except RunTaskError as err:
            raise ApiError(err.code, err.message) from err
        status, payload = self.moto(
            environ,
            "DescribeTasks",
            {"cluster": params.get("cluster") or "default", "tasks": [t.task_arn for t in tasks]},
        )
        if status != 200 or not isinstance(payload, dict):
            return status, payload
        return 200, {"tasks": payload.get("tasks", []), "failures": []}

    def op_StopTask(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        run = self.engine.one_off.owns(params.get("task") or "")
        if run is None:
            return self.moto(environ, "StopTask", params)
        self.engine.one_off.stop(run, params.get("reason"))
        status, payload = self.moto(
            environ,
            "DescribeTasks",
            {"cluster": params.get("cluster") or "default", "tasks": [run.task.task_arn]},
        )
        if status != 200 or not isinstance(payload, dict) or not payload.get("tasks"):
            return status, payload
        return 200, {"task": payload["tasks"][0]}

    def op_ListServiceDeployments(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        record = self.record(environ, params.get("cluster"), params.get("service", ""))
        if record is None:
            raise ApiError("ServiceNotFoundException", "Service not found.")
        statuses = set(params.get("status") or [])
        created = params.get("createdAt") or {}
        with self.engine.lock:
            found = []
            for deployment in reversed(record.deployments):
                if statuses and deployment.status not in statuses:
                    continue
                stamp = deployment.created_at.timestamp()
                if created.get("after") is not None and stamp < float(created["after"]):
                    continue
                if created.get("before") is not None and stamp > float(created["before"]):
                    continue
                found.append(self.engine.brief(deployment))
        start = int(params.get("nextToken") or 0)
        size = int(params.get("maxResults") or 20)
        page = found[start : start + size]
        result: dict[str, Any] = {"serviceDeployments": page}
        if start + size < len(found):
            result["nextToken"] = str(start + size)
        return 200, result

    def op_DescribeServiceDeployments(
        self, environ: dict[str, Any], params: dict[str, Any]
    ) -> tuple[int, Any]:
        found, failures = [], []
        with self.engine.lock:
            for arn in params.get("serviceDeploymentArns") or []:
                deployment = self.engine.by_arn.get(arn)
                if deployment is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(self.engine.describe(deployment))
        return 200, {"serviceDeployments": found, "failures": failures}

    def op_StopServiceDeployment(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        arn = params.get("serviceDeploymentArn", "")
        with self.engine.lock:
            deployment = self.engine.by_arn.get(arn)
            if deployment is None:
                raise ApiError("ServiceDeploymentNotFoundException", f"Service deployment {arn} not found.")
            self.engine.stop_deployment(deployment, params.get("stopType") or "ROLLBACK")
        return 200, {"serviceDeploymentArn": arn}

    def op_DescribeServiceRevisions(self, environ: dict[str, Any], params: dict[str, Any]) -> tuple[int, Any]:
        found, failures = [], []
        with self.engine.lock:
            index = {
                arn: (record, revision)
                for record in self.engine.services.values()
                for arn, revision in record.revisions.items()
            }
            for arn in params.get("serviceRevisionArns") or []:
                if arn in index:
                    found.append(self.engine.describe_revision(*index[arn]))
                else:
                    failures.append({"arn": arn, "reason": "MISSING"})
        return 200, {"serviceRevisions": found, "failures": failures}


def _cluster(backend: Any, name: str | None) -> Any | None:
    return backend.clusters.get((name or "default").split("/")[-1])


def _family_and_revision(arn: str) -> tuple[str, int]:
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision) if revision.isdigit() else 0


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return epoch(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
