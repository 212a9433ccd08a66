# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Network planning for roles/networking: validation and a stable subnet layout.

Plain Python, no Ansible: ``plugins/modules/network_plan.py`` is a thin shell over this module.

Layout (stable: adding an Availability Zone never renumbers an existing subnet)
-------------------------------------------------------------------------------
The VPC CIDR (a /16 to /22) is cut into four equal quarters, one per tier::

    quarter 0  public    (load balancer, NAT gateways, tasks when there is no NAT)
    quarter 1  private   (tasks behind NAT, interface endpoints)
    quarter 2  isolated  (databases and caches: no default route)
    quarter 3  reserved  (never allocated, room for a later tier)

Each quarter is cut into eight equal slots (subnet prefix = VPC prefix + 5: a /16 gives /21 subnets of
2,048 addresses, a /22 gives /27 subnets of 32 addresses, the smallest an ALB accepts). An AZ's slot is
fixed by its zone letter (``eu-west-2a`` -> slot 0, ``eu-west-2c`` -> slot 2), not by its position in the
list, so a subnet keeps its CIDR whichever other zones are added, removed or unavailable.

Errors name the inventory variable that holds the bad value (``networking_*``, ``deploy_*``,
``aws_region``) and say what would be valid.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

TIERS: tuple[str, ...] = ("public", "private", "isolated")
SLOTS_PER_TIER = 8
SUBNET_PREFIX_DELTA = 5  # 2 bits pick the tier quarter, 3 bits pick the zone slot within it
MIN_VPC_PREFIX = 16  # AWS does not accept a larger VPC block
MAX_VPC_PREFIX = 22  # /22 + 5 = /27, the smallest subnet an Application Load Balancer accepts
MIN_AZ_COUNT = 2  # an Application Load Balancer needs subnets in two Availability Zones

GATEWAY_ENDPOINT_SERVICES: frozenset[str] = frozenset({"s3", "dynamodb"})
INTERFACE_ENDPOINT_SERVICES: frozenset[str] = frozenset(
    {
        "ecr.api",
        "ecr.dkr",
        "logs",
        "secretsmanager",
        "ssm",
        "ssmmessages",
        "ec2messages",
        "kms",
        "sts",
        "monitoring",
        "ecs",
        "ecs-agent",
        "ecs-telemetry",
        "elasticloadbalancing",
        "sqs",
        "sns",
        "xray",
    }
)
KNOWN_ENDPOINT_SERVICES: frozenset[str] = GATEWAY_ENDPOINT_SERVICES | INTERFACE_ENDPOINT_SERVICES
# What a Fargate task needs to start without internet egress: pull its image (ECR API, registry, layers
# in S3) and ship its logs.
PRIVATE_TASK_ENDPOINTS: frozenset[str] = frozenset({"s3", "ecr.api", "ecr.dkr", "logs"})

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
ZONE_LETTERS = "abcdefgh"


class NetworkPlanError(ValueError):
    """Raised with every validation error found, each naming its variable."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class NetworkInputs:
    """The networking role's inputs, already converted to their types by the module."""

    project: str
    environment: str
    region: str | None
    vpc_cidr: str
    az_count: int
    nat_gateway_count: int
    tasks_in_public_subnets: bool
    vpc_endpoints: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class SubnetPlan:
    tier: str
    az: str
    cidr: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"tier": self.tier, "az": self.az, "cidr": self.cidr, "name": self.name}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_name(value: Any, variable: str) -> list[str]:
    """Names go into resource names and tags: lower-case letters, digits and hyphens, 2 to 32 long."""
    if isinstance(value, str) and NAME_PATTERN.match(value) and "--" not in value:
        return []
    return [
        f"{variable}={value!r} is not name-safe: use 2 to 32 lower-case letters, digits and single hyphens, "
        "starting with a letter and not ending with a hyphen (e.g. 'macroai')"
    ]


def validate_region(region: Any) -> list[str]:
    if region is None or region == "":
        return ["aws_region is not set: set it to an AWS region name such as 'eu-west-2'"]
    if not isinstance(region, str) or not REGION_PATTERN.match(region):
        return [
            f"aws_region={region!r} is not an AWS region name: use one such as 'eu-west-2' or 'us-east-1'"
        ]
    return []


def parse_vpc_cidr(value: Any) -> tuple[ipaddress.IPv4Network | None, list[str]]:
    variable = "networking_vpc_cidr"
    valid = f"an IPv4 network address with a prefix /{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX}, e.g. 10.0.0.0/16"
    if not isinstance(value, str) or "/" not in value:
        return None, [f"{variable}={value!r} is not a CIDR block: use {valid}"]
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None, [f"{variable}={value!r} is not a CIDR block: use {valid}"]
    if network.version != 4:
        return None, [f"{variable}={value!r} is IPv6: use {valid}"]
    if str(network) != value:
        return None, [f"{variable}={value!r} has host bits set: its network address is '{network}'"]
    if network.prefixlen < MIN_VPC_PREFIX:
        return None, [f"{variable}={value!r} is larger than AWS allows for a VPC: use {valid}"]
    if network.prefixlen > MAX_VPC_PREFIX:
        return None, [
            f"{variable}={value!r} is too small for three tiers of subnets in up to {SLOTS_PER_TIER} zones: "
            f"use {valid}"
        ]
    return network, []


def endpoint_errors(vpc_endpoints: Any) -> list[str]:
    variable = "networking_vpc_endpoints"
    if not isinstance(vpc_endpoints, (list, tuple)) or not all(isinstance(s, str) for s in vpc_endpoints):
        return [f"{variable}={vpc_endpoints!r} must be a list of service names such as ['s3', 'ecr.api']"]
    errors = []
    unknown = [s for s in vpc_endpoints if s not in KNOWN_ENDPOINT_SERVICES]
    if unknown:
        errors.append(
            f"{variable} has unknown service name(s) {', '.join(unknown)}: valid are "
            f"{', '.join(sorted(KNOWN_ENDPOINT_SERVICES))} (short names, without 'com.amazonaws.REGION.')"
        )
    duplicates = sorted({s for s in vpc_endpoints if list(vpc_endpoints).count(s) > 1})
    if duplicates:
        errors.append(f"{variable} lists {', '.join(duplicates)} more than once: list each service once")
    return errors


def validate_inputs(inputs: NetworkInputs) -> list[str]:
    """Every error in the inputs that does not need the region's zones."""
    errors = validate_name(inputs.project, "deploy_project")
    errors += validate_name(inputs.environment, "deploy_environment")
    errors += validate_region(inputs.region)
    errors += parse_vpc_cidr(inputs.vpc_cidr)[1]
    errors += endpoint_errors(inputs.vpc_endpoints)

    az_count_ok = _is_int(inputs.az_count)
    if not az_count_ok:
        errors.append(
            f"networking_az_count={inputs.az_count!r} must be a whole number from {MIN_AZ_COUNT} up"
        )
    elif inputs.az_count < MIN_AZ_COUNT:
        errors.append(
            f"networking_az_count={inputs.az_count} is below {MIN_AZ_COUNT}: an Application Load Balancer "
            f"needs subnets in at least {MIN_AZ_COUNT} Availability Zones (to run tasks in one zone, set "
            "compute_task_az_count instead)"
        )
    elif inputs.az_count > SLOTS_PER_TIER:
        errors.append(
            f"networking_az_count={inputs.az_count} is above {SLOTS_PER_TIER}, the most this layout holds"
        )

    if not _is_int(inputs.nat_gateway_count):
        errors.append(
            f"networking_nat_gateway_count={inputs.nat_gateway_count!r} must be a whole number from 0 to "
            "networking_az_count"
        )
    elif inputs.nat_gateway_count < 0:
        errors.append(
            f"networking_nat_gateway_count={inputs.nat_gateway_count} is negative: use 0 (no NAT) up to "
            "networking_az_count (one per zone)"
        )
    elif az_count_ok and inputs.nat_gateway_count > inputs.az_count:
        errors.append(
            f"networking_nat_gateway_count={inputs.nat_gateway_count} is above networking_az_count="
            f"{inputs.az_count}: use 0 to {inputs.az_count} (at most one NAT gateway per zone)"
        )

    if not isinstance(inputs.tasks_in_public_subnets, bool):
        errors.append(
            f"networking_tasks_in_public_subnets={inputs.tasks_in_public_subnets!r} must be true or false"
        )
    elif (
        not inputs.tasks_in_public_subnets
        and _is_int(inputs.nat_gateway_count)
        and inputs.nat_gateway_count == 0
        and isinstance(inputs.vpc_endpoints, (list, tuple))
    ):
        missing = sorted(PRIVATE_TASK_ENDPOINTS - set(inputs.vpc_endpoints))
        if missing:
            errors.append(
                "networking_tasks_in_public_subnets=false with networking_nat_gateway_count=0 leaves tasks "
                "in private subnets with no way to pull images or ship logs: set "
                "networking_tasks_in_public_subnets=true, or networking_nat_gateway_count >= 1, or add "
                f"{', '.join(missing)} to networking_vpc_endpoints"
            )
    return errors


def zone_slot(zone_name: str, region: str) -> int | None:
    """The zone's fixed slot from its letter: ``eu-west-2a`` -> 0; None for names outside the layout."""
    suffix = zone_name[len(region) :] if zone_name.startswith(region) else ""
    if len(suffix) == 1 and suffix in ZONE_LETTERS:
        return ZONE_LETTERS.index(suffix)
    return None


def select_azs(available_azs: Iterable[str], region: str, az_count: int) -> tuple[list[str], list[str]]:
    """The first ``az_count`` usable zones by name, and the errors if the region has too few."""
    usable = sorted(z for z in set(available_azs) if zone_slot(z, region) is not None)
    if az_count > len(usable):
        listed = ", ".join(usable) or "none"
        return [], [
            f"networking_az_count={az_count} is above the {len(usable)} available Availability Zones of "
            f"aws_region={region!r} ({listed}): use {MIN_AZ_COUNT} to {len(usable)}"
        ]
    return usable[:az_count], []


def subnet_cidr(vpc: ipaddress.IPv4Network, tier: str, slot: int) -> str:
    subnets = list(vpc.subnets(new_prefix=vpc.prefixlen + SUBNET_PREFIX_DELTA))
    return str(subnets[TIERS.index(tier) * SLOTS_PER_TIER + slot])


def subnet_name(name_prefix: str, region: str, tier: str, az: str) -> str:
    """``macroai-production-public-a``: the zone letter, as in the AWS console's short zone names."""
    return f"{name_prefix}-{tier}-{az[len(region) :]}"


def route_tables(
    name_prefix: str, region: str, azs: Sequence[str], private_nat_az: dict[str, str | None]
) -> list[dict[str, Any]]:
    """One table for the public tier, one per private egress path, one for the isolated tier.

    Private subnets that leave through the same NAT gateway (or have no NAT at all) share a table, so a
    scale with one NAT gateway or none has a single private table, and one with a gateway per zone has one
    per zone (named after the NAT gateway's zone).
    """

    def table(name: str, tier: str, table_azs: Sequence[str], nat_az: str | None) -> dict[str, Any]:
        return {
            "name": name,
            "tier": tier,
            "azs": list(table_azs),
            "subnet_names": [subnet_name(name_prefix, region, tier, az) for az in table_azs],
            "internet_gateway": tier == "public",
            "nat_gateway_az": nat_az,
        }

    tables = [table(f"{name_prefix}-public", "public", azs, None)]
    for nat_az in dict.fromkeys(private_nat_az[az] for az in azs):
        suffix = f"-{nat_az[len(region) :]}" if nat_az else ""
        nat_azs = [az for az in azs if private_nat_az[az] == nat_az]
        tables.append(table(f"{name_prefix}-private{suffix}", "private", nat_azs, nat_az))
    tables.append(table(f"{name_prefix}-isolated", "isolated", azs, None))
    return tables


def plan_network(inputs: NetworkInputs, available_azs: Iterable[str]) -> dict[str, Any]:
    """Validate ``inputs`` and lay out the network in the region's ``available_azs``.

    Raises NetworkPlanError listing every problem found. Returns plain data (JSON-safe).
    """
    errors = validate_inputs(inputs)
    if errors:
        raise NetworkPlanError(errors)
    azs, errors = select_azs(available_azs, str(inputs.region), inputs.az_count)
    if errors:
        raise NetworkPlanError(errors)

    vpc = ipaddress.ip_network(inputs.vpc_cidr)  # validate_inputs accepted it
    name_prefix = f"{inputs.project}-{inputs.environment}"
    subnets: dict[str, list[dict[str, str]]] = {}
    for tier in TIERS:
        subnets[tier] = [
            SubnetPlan(
                tier=tier,
                az=az,
                cidr=subnet_cidr(vpc, tier, zone_slot(az, inputs.region) or 0),
                name=f"{name_prefix}-{tier}-{az[len(inputs.region) :]}",
            ).as_dict()
            for az in azs
        ]

    nat_gateway_azs = azs[: inputs.nat_gateway_count]
    # Each zone's private subnet sends internet traffic to the NAT gateway in its own zone or, with fewer
    # gateways than zones, to one of them (round robin); without NAT it has no default route.
    private_nat_az = {
        az: (az if az in nat_gateway_azs else nat_gateway_azs[i % len(nat_gateway_azs)])
        if nat_gateway_azs
        else None
        for i, az in enumerate(azs)
    }
    planned_route_tables = route_tables(name_prefix, inputs.region, azs, private_nat_az)
    gateway_endpoints = [s for s in inputs.vpc_endpoints if s in GATEWAY_ENDPOINT_SERVICES]
    interface_endpoints = [s for s in inputs.vpc_endpoints if s in INTERFACE_ENDPOINT_SERVICES]
    return {
        "name_prefix": name_prefix,
        "vpc_cidr": str(vpc),
        "azs": azs,
        "subnets": subnets,
        "nat_gateway_azs": nat_gateway_azs,
        "private_route_nat_az": private_nat_az,
        "route_tables": planned_route_tables,
        "tasks_in_public_subnets": inputs.tasks_in_public_subnets,
        "task_subnet_tier": "public" if inputs.tasks_in_public_subnets else "private",
        "vpc_endpoints": {
            "gateway": [
                {"service": s, "service_name": f"com.amazonaws.{inputs.region}.{s}"}
                for s in gateway_endpoints
            ],
            "interface": [
                {"service": s, "service_name": f"com.amazonaws.{inputs.region}.{s}"}
                for s in interface_endpoints
            ],
        },
    }
