# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-field rules for the compute role's settings, and the names and shapes it derives from them.

Plain Python, no AWS and no AnsibleModule: ``validate_inputs`` returns every problem found, each naming the
inventory variable (``compute_*``, ``networking_*``) and saying what would be valid; ``plan_compute``
returns the derived names and settings (JSON-safe) or raises ComputePlanError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Fargate's task sizes: CPU units -> the memory values (MiB) allowed with them.
FARGATE_MEMORY: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}
STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
LOAD_BALANCER_PORTS = (80, 443)  # what the networking role's load balancer security group lets in
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&()!,;=?%*]*$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
# Environment names that hold credentials by convention: those go in compute_secrets, by reference.
SECRET_LOOKING = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|ACCESS_KEY|CREDENTIAL|DSN|_URL$)"
)
NON_SECRET_URLS = frozenset(
    {"PUBLIC_URL", "BASE_URL", "APP_URL", "CLIENT_URL", "FRONTEND_URL", "CORS_ORIGIN_URL"}
)
ELB_NAME_MAX = 32
IAM_ROLE_NAME_MAX = 64


class ComputePlanError(ValueError):
    """Invalid compute settings; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ComputeInputs:
    """The compute role's settings, under their inventory names without the ``compute_`` prefix."""

    project: str
    environment: str
    task_cpu: int
    task_memory: int
    desired_count: int
    task_az_count: int
    autoscaling_min: int
    autoscaling_max: int
    autoscaling_target_cpu: int = 70
    fargate_spot: bool = False
    network_az_count: int = 2
    app_port: int = 3000
    image_tag: str = "v1"
    container_name: str = "api"
    container_port: int = 3000
    container_ports: list[int] = field(default_factory=lambda: [3000])
    container_environment: dict[str, Any] = field(default_factory=dict)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    health_check_path: str = "/health"
    health_check_interval_seconds: int = 15
    health_check_timeout_seconds: int = 5
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    health_check_grace_seconds: int = 30
    deregistration_delay_seconds: int = 30
    deployment_strategy: str = "BLUE_GREEN"
    bake_time_minutes: int = 5
    linear_step_percent: float | None = None
    linear_step_bake_minutes: int | None = None
    canary_percent: float | None = None
    canary_bake_minutes: int | None = None
    test_listener_port: int = 8080
    certificate_arn: str = ""
    alarms_enabled: bool = False
    alarm_cpu_percent: float = 80
    alarm_memory_percent: float = 85
    alarm_response_time_seconds: float = 2
    alarm_target_5xx_count: int = 10
    ecr_keep_images: int = 30


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range(value: Any, variable: str, low: float, high: float, what: str = "an integer") -> list[str]:
    check = _is_int if what == "an integer" else _is_number
    if not check(value) or not low <= value <= high:
        return [f"{variable}={value!r} is not valid: use {what} from {low:g} to {high:g}"]
    return []


def fargate_size_errors(cpu: Any, memory: Any) -> list[str]:
    """The task size against Fargate's CPU and memory pairs."""
    if cpu not in FARGATE_MEMORY or not _is_int(cpu):
        return [
            f"compute_task_cpu={cpu!r} is not a Fargate size: "
            f"use one of {', '.join(map(str, FARGATE_MEMORY))}"
        ]
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed or not _is_int(memory):
        shown = (
            ", ".join(map(str, allowed))
            if len(allowed) <= 4
            else f"{allowed[0]} to {allowed[-1]} in steps of {allowed[1] - allowed[0]}"
        )
        return [
            f"compute_task_memory={memory!r} is not valid with compute_task_cpu={cpu}: "
            f"Fargate allows {shown} (MiB)"
        ]
    return []


def health_check_errors(inputs: ComputeInputs) -> list[str]:
    errors = []
    path = inputs.health_check_path
    if not isinstance(path, str) or not path.startswith("/"):
        errors.append(
            f"compute_health_check_path={path!r} is not valid: "
            "use a path with a leading slash, such as '/health'"
        )
    elif len(path) > 1024 or not HEALTH_PATH.match(path):
        errors.append(
            f"compute_health_check_path={path!r} is not valid: "
            "at most 1024 characters of letters, digits and "
            "-_.$/~\"'@:+&()!,;=?%*"
        )
    errors += _range(inputs.health_check_interval_seconds, "compute_health_check_interval_seconds", 5, 300)
    errors += _range(inputs.health_check_timeout_seconds, "compute_health_check_timeout_seconds", 2, 120)
    if (
        _is_int(inputs.health_check_timeout_seconds)
        and _is_int(inputs.health_check_interval_seconds)
        and inputs.health_check_timeout_seconds >= inputs.health_check_interval_seconds
    ):
        errors.append(
            f"compute_health_check_timeout_seconds={inputs.health_check_timeout_seconds} must be less than "
            f"compute_health_check_interval_seconds={inputs.health_check_interval_seconds}"
        )
    errors += _range(inputs.healthy_threshold, "compute_healthy_threshold", 2, 10)
    errors += _range(inputs.unhealthy_threshold, "compute_unhealthy_threshold", 2, 10)
    errors += _range(inputs.health_check_grace_seconds, "compute_health_check_grace_seconds", 0, 2147483647)
    errors += _range(inputs.deregistration_delay_seconds, "compute_deregistration_delay_seconds", 0, 3600)
    return errors


def port_errors(inputs: ComputeInputs) -> list[str]:
    errors = []
    ports = inputs.container_ports
    if not isinstance(ports, list) or not ports or not all(_is_int(p) and 1 <= p <= 65535 for p in ports):
        return [
            f"compute_container_ports={ports!r} is not valid: use a non-empty list of ports from 1 to 65535"
        ]
    if len(set(ports)) != len(ports):
        errors.append(f"compute_container_ports={ports!r} lists a port twice")
    port = inputs.container_port
    if port not in ports:
        errors.append(
            f"compute_container_port={port!r} matches no port mapping: use one of compute_container_ports "
            f"({', '.join(map(str, ports))})"
        )
    elif port != inputs.app_port:
        errors.append(
            f"compute_container_port={port} differs from networking_app_port={inputs.app_port}, "
            "the only port the "
            "tasks' security group accepts from the load balancer: set both to the same port"
        )
    test = inputs.test_listener_port
    if not _is_int(test) or not 1 <= test <= 65535 or test in LOAD_BALANCER_PORTS:
        errors.append(
            f"compute_test_listener_port={test!r} is not valid: use a port from 1 to 65535 other than "
            f"{' and '.join(map(str, LOAD_BALANCER_PORTS))} (the production listeners)"
        )
    return errors


def capacity_errors(inputs: ComputeInputs) -> list[str]:
    errors = []
    errors += _range(inputs.autoscaling_min, "compute_autoscaling_min", 1, 1000)
    errors += _range(inputs.autoscaling_max, "compute_autoscaling_max", 1, 1000)
    errors += _range(inputs.desired_count, "compute_desired_count", 1, 1000)
    errors += _range(inputs.autoscaling_target_cpu, "compute_autoscaling_target_cpu", 10, 95)
    if errors:
        return errors
    if inputs.autoscaling_min > inputs.autoscaling_max:
        errors.append(
            f"compute_autoscaling_min={inputs.autoscaling_min} is above compute_autoscaling_max="
            f"{inputs.autoscaling_max}: the minimum must not exceed the maximum"
        )
    elif not inputs.autoscaling_min <= inputs.desired_count <= inputs.autoscaling_max:
        errors.append(
            f"compute_desired_count={inputs.desired_count} is outside the autoscaling bounds: use "
            f"compute_autoscaling_min ({inputs.autoscaling_min}) to "
            f"compute_autoscaling_max ({inputs.autoscaling_max})"
        )
    if _is_int(inputs.network_az_count):
        errors += _range(inputs.task_az_count, "compute_task_az_count", 1, inputs.network_az_count)
        if errors and errors[-1].startswith("compute_task_az_count"):
            errors[-1] += f" (networking_az_count={inputs.network_az_count})"
    return errors


def deployment_errors(inputs: ComputeInputs) -> list[str]:
    errors = []
    strategy = inputs.deployment_strategy
    if strategy not in STRATEGIES:
        return [f"compute_deployment_strategy={strategy!r} is not valid: use one of {', '.join(STRATEGIES)}"]
    errors += _range(inputs.bake_time_minutes, "compute_bake_time_minutes", 0, 1440)
    if strategy == "LINEAR":
        errors += _range(inputs.linear_step_percent, "compute_linear_step_percent", 3, 100, "a number")
        errors += _range(inputs.linear_step_bake_minutes, "compute_linear_step_bake_minutes", 0, 1440)
    if strategy == "CANARY":
        errors += _range(inputs.canary_percent, "compute_canary_percent", 0.1, 100, "a number")
        errors += _range(inputs.canary_bake_minutes, "compute_canary_bake_minutes", 0, 1440)
    return errors


def container_errors(inputs: ComputeInputs) -> list[str]:
    errors = []
    tag = inputs.image_tag
    if not isinstance(tag, str) or not IMAGE_TAG.match(tag):
        errors.append(
            f"compute_image_tag={tag!r} is not a valid image tag: "
            "up to 128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-' (for example a git SHA or v1.2.3)"
        )
    if not isinstance(inputs.container_name, str) or not re.match(
        r"^[A-Za-z0-9_-]{1,255}$", inputs.container_name
    ):
        errors.append(
            f"compute_container_name={inputs.container_name!r} is not valid: letters, digits, '_' and '-'"
        )
    environment = inputs.container_environment
    if not isinstance(environment, dict):
        return [
            *errors,
            f"compute_environment must be a mapping of variable names to values, not {environment!r}",
        ]
    for name in environment:
        if not ENV_NAME.match(str(name)):
            errors.append(f"compute_environment.{name} is not a valid variable name: letters, digits and '_'")
        elif SECRET_LOOKING.search(str(name).upper()) and str(name).upper() not in NON_SECRET_URLS:
            errors.append(
                f"compute_environment.{name} looks like a credential: "
                "pass it by reference in compute_secrets "
                "(an SSM parameter or Secrets Manager secret), never as plain environment"
            )
    seen: set[str] = set()
    secrets = inputs.secrets
    if not isinstance(secrets, list):
        return [*errors, f"compute_secrets must be a list of {{name, parameter | secret}}, not {secrets!r}"]
    for index, secret in enumerate(secrets):
        where = f"compute_secrets[{index}]"
        if not isinstance(secret, dict):
            errors.append(f"{where} must be a mapping with name and parameter or secret")
            continue
        name = secret.get("name")
        if not isinstance(name, str) or not ENV_NAME.match(name):
            errors.append(f"{where}.name={name!r} is not a valid variable name: letters, digits and '_'")
        elif name in seen or name in environment:
            errors.append(f"{where}.name={name!r} is set twice (in compute_secrets or compute_environment)")
        else:
            seen.add(name)
        sources = [key for key in ("parameter", "secret") if secret.get(key)]
        if len(sources) != 1:
            errors.append(
                f"{where} needs exactly one of parameter (an SSM parameter name under /{inputs.project}/"
                f"{inputs.environment}/) or secret (a Secrets Manager name under "
                f"{inputs.project}/{inputs.environment}/)"
            )
            continue
        reference = str(secret[sources[0]])
        if reference.startswith("arn:") or reference.startswith("/") or not SECRET_NAME.match(reference):
            errors.append(
                f"{where}.{sources[0]}={reference!r} is not valid: "
                "give the name relative to this app's prefix "
                f"(for example 'database-url'); the role reads only /{inputs.project}/{inputs.environment}/* "
                f"parameters and {inputs.project}/{inputs.environment}/* secrets"
            )
        unknown = set(secret) - {"name", "parameter", "secret", "json_key"}
        if unknown:
            errors.append(
                f"{where} has unknown keys {sorted(unknown)}: use name, parameter or secret, json_key"
            )
    return errors


def alarm_errors(inputs: ComputeInputs) -> list[str]:
    errors = []
    errors += _range(inputs.alarm_cpu_percent, "compute_alarm_cpu_percent", 1, 100, "a number")
    errors += _range(inputs.alarm_memory_percent, "compute_alarm_memory_percent", 1, 100, "a number")
    errors += _range(
        inputs.alarm_response_time_seconds, "compute_alarm_response_time_seconds", 0.001, 4000, "a number"
    )
    errors += _range(inputs.alarm_target_5xx_count, "compute_alarm_target_5xx_count", 1, 1000000)
    return errors


def name_errors(prefix: str) -> list[str]:
    longest = f"{prefix}-green"
    if len(longest) > ELB_NAME_MAX:
        return [
            f"deploy_project and deploy_environment make the target group name {longest!r}, "
            f"longer than AWS's {ELB_NAME_MAX} characters: "
            f"shorten them to {ELB_NAME_MAX - 6} characters together with the hyphen"
        ]
    return []


def validate_inputs(inputs: ComputeInputs) -> list[str]:
    """Every problem with the settings, each naming its variable; empty when they are valid."""
    errors = fargate_size_errors(inputs.task_cpu, inputs.task_memory)
    errors += health_check_errors(inputs)
    errors += port_errors(inputs)
    errors += capacity_errors(inputs)
    errors += deployment_errors(inputs)
    errors += container_errors(inputs)
    errors += alarm_errors(inputs)
    errors += _range(inputs.ecr_keep_images, "compute_ecr_keep_images", 1, 10000)
    if inputs.certificate_arn and not CERTIFICATE_ARN.match(str(inputs.certificate_arn)):
        errors.append(
            f"compute_certificate_arn={inputs.certificate_arn!r} is not an ACM certificate ARN "
            "(arn:aws:acm:REGION:ACCOUNT:certificate/ID), or leave it empty for HTTP only"
        )
    errors += name_errors(f"{inputs.project}-{inputs.environment}")
    return errors


def alarm_names(prefix: str) -> dict[str, str]:
    return {
        purpose: f"{prefix}-api-{purpose}"
        for purpose in ("cpu-high", "memory-high", "response-time-high", "target-5xx", "no-healthy-hosts")
    }


def plan_compute(inputs: ComputeInputs) -> dict[str, Any]:
    """Validate, then derive the names and shapes the compute role uses. Raises ComputePlanError."""
    errors = validate_inputs(inputs)
    if errors:
        raise ComputePlanError(errors)
    prefix = f"{inputs.project}-{inputs.environment}"
    https = bool(inputs.certificate_arn)
    autoscaling = inputs.autoscaling_max > inputs.autoscaling_min
    return {
        "name_prefix": prefix,
        "cluster": prefix,
        "service": f"{prefix}-api",
        "family": f"{prefix}-api",
        "repository": f"{inputs.project}/{inputs.environment}/api",
        "log_group": f"/ecs/{prefix}/api",
        "load_balancer": prefix,
        "target_groups": {"blue": f"{prefix}-blue", "green": f"{prefix}-green"},
        "roles": {
            "execution": f"{prefix}-api-execution",
            "task": f"{prefix}-api-task",
            "infrastructure": f"{prefix}-ecs-infrastructure",
        },
        "parameter_path": f"/{inputs.project}/{inputs.environment}/",
        "secret_prefix": f"{inputs.project}/{inputs.environment}/",
        "listeners": {
            "production": {"protocol": "HTTPS" if https else "HTTP", "port": 443 if https else 80},
            "test": {"protocol": "HTTP", "port": inputs.test_listener_port},
            "http_redirect": https,
        },
        # On demand, the service uses the FARGATE launch type; Spot is a capacity provider strategy.
        "capacity_provider_strategy": (
            [{"capacity_provider": "FARGATE_SPOT", "weight": 1}] if inputs.fargate_spot else []
        ),
        "autoscaling": {
            "enabled": autoscaling,
            "min": inputs.autoscaling_min,
            "max": inputs.autoscaling_max,
            "target_cpu": inputs.autoscaling_target_cpu,
        },
        "alarms": alarm_names(prefix) if inputs.alarms_enabled else {},
        "alarm_topic": f"{prefix}-alarms",
        "port_mappings": [{"containerPort": port, "protocol": "tcp"} for port in inputs.container_ports],
        "environment": [
            {"name": str(k), "value": str(v)} for k, v in sorted(inputs.container_environment.items())
        ],
        "secrets": [
            {
                "name": secret["name"],
                "source": "ssm" if secret.get("parameter") else "secretsmanager",
                "path": (
                    f"/{inputs.project}/{inputs.environment}/{secret['parameter'].strip('/')}"
                    if secret.get("parameter")
                    else f"{inputs.project}/{inputs.environment}/{secret['secret']}"
                ),
                "json_key": secret.get("json_key") or "",
            }
            for secret in inputs.secrets
        ],
    }
