# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Monthly cost estimate of one scale's settings, line by line, from the published prices in ``_prices``.

Plain Python, no Ansible and no AWS calls: ``plugins/modules/cost_estimate.py`` is a thin shell over
``estimate()``. Every line is ``quantity x unit price``, with the quantity already a monthly figure
(730 hours a month), so a reader can redo the arithmetic from the table alone.

Errors name the module option that holds the bad value and list what would be valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from ansible_collections.macroai.deploy.plugins.module_utils._prices import (
    FREE_TIER,
    HOURS_PER_MONTH,
    PROVIDERS,
    REGIONAL,
    VALKEY_NODE_DISCOUNT,
    known_regions,
    region_prices,
)

CATEGORIES: tuple[str, ...] = (
    "compute",
    "load balancer",
    "public IPv4",
    "NAT gateway",
    "VPC endpoints",
    "database",
    "cache",
    "frontend",
    "monitoring",
    "WAF",
    "secrets and DNS",
)

GATEWAY_ENDPOINT_SERVICES: frozenset[str] = frozenset({"s3", "dynamodb"})

# Fargate's valid task sizes: CPU units -> (lowest MiB, highest MiB, step MiB); 256 CPU is the odd one out.
FARGATE_MEMORY: dict[int, tuple[int, int, int]] = {
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
FARGATE_256_MEMORY: tuple[int, ...] = (512, 1024, 2048)

CHOICES: dict[str, tuple[str, ...]] = {
    "cpu_architecture": ("x86_64", "arm64"),
    "database_provider": ("neon", "rds"),
    "cache_provider": ("upstash", "elasticache"),
    "cache_engine": ("redis", "valkey"),
    "neon_plan": ("free", "launch"),
    "upstash_plan": ("free", "payg"),
}

NON_NEGATIVE: tuple[str, ...] = (
    "task_count",
    "load_balancer_lcu",
    "nat_gateway_count",
    "nat_data_gb",
    "vpc_endpoint_data_gb",
    "rds_storage_gb",
    "rds_backup_storage_gb",
    "neon_compute_units",
    "neon_active_hours",
    "neon_storage_gb",
    "elasticache_nodes",
    "upstash_commands",
    "frontend_storage_gb",
    "frontend_gb_served",
    "frontend_build_minutes",
    "cloudfront_gb",
    "cloudfront_requests",
    "waf_rules",
    "waf_requests_millions",
    "secrets",
    "hosted_zones",
    "log_ingest_gb",
    "alarms",
    "dashboards",
)


@dataclass(frozen=True)
class CostInputs:
    """One scale's settings, named as the module's options. Defaults are the seed's hobby configuration."""

    region: str
    users: int = 100
    usd_to_gbp: float = 0.75
    ceiling_gbp: float | None = None
    free_tier: bool = True
    task_cpu: int = 256
    task_memory: int = 512
    task_count: int = 1
    cpu_architecture: str = "x86_64"
    fargate_spot: bool = False
    load_balancer: bool = True
    load_balancer_lcu: float = 1.0
    az_count: int = 2
    nat_gateway_count: int = 0
    nat_data_gb: float = 10.0
    tasks_public_ip: bool = True
    vpc_endpoints: tuple[str, ...] = ()
    vpc_endpoint_data_gb: float = 0.0
    database_provider: str = "neon"
    rds_instance_class: str = "db.t4g.micro"
    rds_multi_az: bool = False
    rds_storage_gb: float = 20.0
    rds_backup_storage_gb: float = 0.0
    neon_plan: str = "free"
    neon_compute_units: float = 0.25
    neon_active_hours: float = 730.0
    neon_storage_gb: float = 0.5
    cache_provider: str = "upstash"
    cache_engine: str = "redis"
    elasticache_node_type: str = "cache.t4g.micro"
    elasticache_nodes: int = 1
    upstash_plan: str = "free"
    upstash_commands: int = 300_000
    frontend_storage_gb: float = 1.0
    frontend_gb_served: float = 5.0
    frontend_build_minutes: float = 0.0
    cloudfront_gb: float = 0.0
    cloudfront_requests: int = 0
    waf_enabled: bool = False
    waf_rules: int = 3
    waf_requests_millions: float = 1.0
    secrets: int = 3
    hosted_zones: int = 1
    log_ingest_gb: float = 1.0
    log_retention_days: int = 14
    alarms: int = 0
    dashboards: int = 0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CostInputs:
        """Build from a module's params (or any dict): keys that are not inputs are ignored."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in params.items() if k in names and v is not None}
        if "vpc_endpoints" in values:
            values["vpc_endpoints"] = tuple(values["vpc_endpoints"])
        return cls(**values)


@dataclass(frozen=True)
class LineItem:
    category: str
    item: str
    quantity: float
    unit: str
    unit_price_usd: float
    source: str
    date: str

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_price_usd

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "item": self.item,
            "quantity": round(self.quantity, 4),
            "unit": self.unit,
            "unit_price_usd": self.unit_price_usd,
            "monthly_usd": round(self.monthly_usd, 4),
            "source": self.source,
            "date": self.date,
        }


class CostEstimateError(ValueError):
    """Bad settings; ``errors`` holds one message per problem, each starting with the option's name."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def _known(values: Any) -> str:
    return ", ".join(sorted(values))


def fargate_memory_choices(cpu: int) -> list[int]:
    if cpu == 256:
        return list(FARGATE_256_MEMORY)
    low, high, step = FARGATE_MEMORY[cpu]
    return list(range(low, high + 1, step))


def validate_inputs(inputs: CostInputs) -> list[str]:
    """Every problem with ``inputs``, as messages naming the option; empty when they can be priced."""
    errors: list[str] = []
    if inputs.region not in REGIONAL:
        errors.append(f"region: no prices for {inputs.region!r}; known regions: {_known(known_regions())}")
    for name, choices in CHOICES.items():
        value = getattr(inputs, name)
        if value not in choices:
            errors.append(f"{name}: {value!r} is not one of {', '.join(choices)}")
    for name in NON_NEGATIVE:
        value = getattr(inputs, name)
        if value < 0:
            errors.append(f"{name}: {value} is negative; give 0 or more")
    if inputs.users < 1:
        errors.append(f"users: {inputs.users} must be 1 or more (the per-user cost divides by it)")
    if inputs.usd_to_gbp <= 0:
        errors.append(f"usd_to_gbp: {inputs.usd_to_gbp} must be more than 0")
    if inputs.ceiling_gbp is not None and inputs.ceiling_gbp <= 0:
        errors.append(f"ceiling_gbp: {inputs.ceiling_gbp} must be more than 0")
    if inputs.task_cpu != 256 and inputs.task_cpu not in FARGATE_MEMORY:
        errors.append(
            f"task_cpu: {inputs.task_cpu} is not a Fargate size; use one of 256, {_join_ints(FARGATE_MEMORY)}"
        )
    elif inputs.task_memory not in fargate_memory_choices(inputs.task_cpu):
        choices = fargate_memory_choices(inputs.task_cpu)
        errors.append(
            f"task_memory: {inputs.task_memory} MiB is not valid with task_cpu={inputs.task_cpu}; "
            f"use {choices[0]} to {choices[-1]} in steps of {choices[1] - choices[0]}"
        )
    if inputs.fargate_spot and inputs.cpu_architecture != "x86_64":
        errors.append(
            "fargate_spot: Fargate Spot runs x86_64 only; set cpu_architecture=x86_64 or fargate_spot=false"
        )
    if inputs.load_balancer and inputs.az_count < 2:
        errors.append(
            f"az_count: {inputs.az_count}; an Application Load Balancer needs 2 Availability Zones or more"
        )
    if inputs.nat_gateway_count > inputs.az_count:
        errors.append(
            f"nat_gateway_count: {inputs.nat_gateway_count} is more than az_count={inputs.az_count} "
            "(one per AZ at most)"
        )
    if inputs.neon_active_hours > HOURS_PER_MONTH:
        errors.append(
            f"neon_active_hours: {inputs.neon_active_hours} is more than the {HOURS_PER_MONTH} in a month"
        )
    if inputs.log_retention_days < 1:
        errors.append(f"log_retention_days: {inputs.log_retention_days} must be 1 or more")
    region = REGIONAL.get(inputs.region)
    if region is not None:
        if (
            inputs.database_provider == "rds"
            and inputs.rds_instance_class not in region["rds_instance_classes"]
        ):
            errors.append(
                f"rds_instance_class: no price for {inputs.rds_instance_class!r} in {inputs.region}; "
                f"known classes: {_known(region['rds_instance_classes'])}"
            )
        if (
            inputs.cache_provider == "elasticache"
            and inputs.elasticache_node_type not in region["elasticache_node_types"]
        ):
            errors.append(
                f"elasticache_node_type: no price for {inputs.elasticache_node_type!r} in {inputs.region}; "
                f"known node types: {_known(region['elasticache_node_types'])}"
            )
    return errors


def _join_ints(values: Any) -> str:
    return ", ".join(str(v) for v in sorted(values))


def _line(
    category: str, item: str, quantity: float, price: dict[str, Any], unit_price: float | None = None
) -> LineItem:
    return LineItem(
        category=category,
        item=item,
        quantity=quantity,
        unit=price["unit"],
        unit_price_usd=price["usd"] if unit_price is None else unit_price,
        source=price["source"],
        date=price["date"],
    )


def _free(line: LineItem, source: str) -> LineItem:
    """A line that costs nothing, shown so the reader sees it was counted."""
    return LineItem(line.category, line.item, line.quantity, line.unit, 0.0, source, line.date)


def compute_lines(inputs: CostInputs, prices: dict[str, dict[str, Any]]) -> list[LineItem]:
    hours = inputs.task_count * HOURS_PER_MONTH
    vcpu = inputs.task_cpu / 1024
    memory_gb = inputs.task_memory / 1024
    if inputs.fargate_spot:
        kind, label = "spot", "x86_64, Spot"
    elif inputs.cpu_architecture == "arm64":
        kind, label = "arm", "arm64"
    else:
        kind, label = "x86", "x86_64"
    size = f"{inputs.task_count} x {vcpu:g} vCPU / {memory_gb:g} GB"
    return [
        _line(
            "compute", f"Fargate vCPU ({label}, {size})", vcpu * hours, prices[f"fargate_{kind}_vcpu_hour"]
        ),
        _line(
            "compute",
            f"Fargate memory ({label}, {size})",
            memory_gb * hours,
            prices[f"fargate_{kind}_gb_hour"],
        ),
    ]


def network_lines(inputs: CostInputs, prices: dict[str, dict[str, Any]]) -> list[LineItem]:
    lines: list[LineItem] = []
    if inputs.load_balancer:
        lines.append(_line("load balancer", "Application Load Balancer", HOURS_PER_MONTH, prices["alb_hour"]))
        lines.append(
            _line(
                "load balancer",
                f"Load balancer capacity ({inputs.load_balancer_lcu:g} LCU average)",
                inputs.load_balancer_lcu * HOURS_PER_MONTH,
                prices["alb_lcu_hour"],
            )
        )
    alb_ips = inputs.az_count if inputs.load_balancer else 0
    task_ips = inputs.task_count if inputs.tasks_public_ip else 0
    addresses = alb_ips + task_ips + inputs.nat_gateway_count
    if addresses:
        lines.append(
            _line(
                "public IPv4",
                f"Public IPv4 ({alb_ips} ALB + {task_ips} task + {inputs.nat_gateway_count} NAT)",
                addresses * HOURS_PER_MONTH,
                prices["public_ipv4_hour"],
            )
        )
    if inputs.nat_gateway_count:
        lines.append(
            _line(
                "NAT gateway",
                f"NAT gateways ({inputs.nat_gateway_count})",
                inputs.nat_gateway_count * HOURS_PER_MONTH,
                prices["nat_gateway_hour"],
            )
        )
        lines.append(
            _line("NAT gateway", "NAT gateway data processed", inputs.nat_data_gb, prices["nat_gateway_gb"])
        )
    interface = sorted(s for s in inputs.vpc_endpoints if s not in GATEWAY_ENDPOINT_SERVICES)
    gateway = sorted(s for s in inputs.vpc_endpoints if s in GATEWAY_ENDPOINT_SERVICES)
    if interface:
        lines.append(
            _line(
                "VPC endpoints",
                f"Interface endpoints ({len(interface)} x {inputs.az_count} AZ)",
                len(interface) * inputs.az_count * HOURS_PER_MONTH,
                prices["vpc_interface_endpoint_az_hour"],
            )
        )
        if inputs.vpc_endpoint_data_gb:
            lines.append(
                _line(
                    "VPC endpoints",
                    "Interface endpoint data processed",
                    inputs.vpc_endpoint_data_gb,
                    prices["vpc_interface_endpoint_gb"],
                )
            )
    if gateway:
        lines.append(
            LineItem(
                "VPC endpoints",
                f"Gateway endpoints ({', '.join(gateway)})",
                len(gateway),
                "endpoint-month",
                0.0,
                "Amazon VPC pricing: gateway endpoints (S3, DynamoDB) carry no charge",
                prices["vpc_interface_endpoint_az_hour"]["date"],
            )
        )
    return lines


def database_lines(inputs: CostInputs, prices: dict[str, dict[str, Any]]) -> list[LineItem]:
    if inputs.database_provider == "neon":
        cu_hours = inputs.neon_compute_units * inputs.neon_active_hours
        label = f"{inputs.neon_compute_units:g} CU x {inputs.neon_active_hours:g} h"
        if inputs.neon_plan == "free":
            return [
                _line("database", f"Neon Free compute ({label})", cu_hours, PROVIDERS["neon_free_cu_hours"]),
                _line(
                    "database", "Neon Free storage", inputs.neon_storage_gb, PROVIDERS["neon_free_storage_gb"]
                ),
            ]
        return [
            _line("database", f"Neon Launch compute ({label})", cu_hours, PROVIDERS["neon_launch_cu_hour"]),
            _line(
                "database",
                "Neon Launch storage",
                inputs.neon_storage_gb,
                PROVIDERS["neon_launch_storage_gb_month"],
            ),
        ]
    copies = 2 if inputs.rds_multi_az else 1
    deployment = "Multi-AZ" if inputs.rds_multi_az else "Single-AZ"
    instance = REGIONAL[inputs.region]["rds_instance_classes"][inputs.rds_instance_class]
    billable_backup = max(0.0, inputs.rds_backup_storage_gb - inputs.rds_storage_gb)
    return [
        _line(
            "database",
            f"RDS PostgreSQL {inputs.rds_instance_class} ({deployment})",
            copies * HOURS_PER_MONTH,
            instance,
        ),
        _line(
            "database",
            f"RDS storage ({inputs.rds_storage_gb:g} GB, {deployment})",
            copies * inputs.rds_storage_gb,
            prices["rds_storage_gb_month"],
        ),
        _line(
            "database",
            "RDS backup storage beyond the free allowance",
            billable_backup,
            prices["rds_backup_gb_month"],
        ),
    ]


def cache_lines(inputs: CostInputs) -> list[LineItem]:
    if inputs.cache_provider == "upstash":
        if inputs.upstash_plan == "free":
            return [
                _line(
                    "cache", "Upstash Redis Free", inputs.upstash_commands, PROVIDERS["upstash_free_commands"]
                )
            ]
        return [
            _line(
                "cache",
                "Upstash Redis pay as you go",
                inputs.upstash_commands / 100_000,
                PROVIDERS["upstash_100k_commands"],
            )
        ]
    node = REGIONAL[inputs.region]["elasticache_node_types"][inputs.elasticache_node_type]
    discount = VALKEY_NODE_DISCOUNT if inputs.cache_engine == "valkey" else 1.0
    engine = "Valkey" if inputs.cache_engine == "valkey" else "Redis OSS"
    return [
        _line(
            "cache",
            f"ElastiCache {inputs.elasticache_nodes} x {inputs.elasticache_node_type} ({engine})",
            inputs.elasticache_nodes * HOURS_PER_MONTH,
            node,
            unit_price=round(node["usd"] * discount, 6),
        )
    ]


def edge_lines(inputs: CostInputs, prices: dict[str, dict[str, Any]]) -> list[LineItem]:
    lines = [
        _line(
            "frontend",
            "Amplify Hosting storage",
            inputs.frontend_storage_gb,
            prices["amplify_storage_gb_month"],
        ),
        _line(
            "frontend", "Amplify Hosting data served", inputs.frontend_gb_served, prices["amplify_gb_served"]
        ),
    ]
    if inputs.frontend_build_minutes:
        lines.append(
            _line(
                "frontend",
                "Amplify build minutes",
                inputs.frontend_build_minutes,
                prices["amplify_build_minute"],
            )
        )
    if inputs.cloudfront_gb or inputs.cloudfront_requests:
        free_gb = FREE_TIER["cloudfront_gb"] if inputs.free_tier else 0
        free_requests = FREE_TIER["cloudfront_requests"] if inputs.free_tier else 0
        lines.append(
            _line(
                "frontend",
                "CloudFront data out (beyond the free tier)",
                max(0.0, inputs.cloudfront_gb - free_gb),
                prices["cloudfront_gb"],
            )
        )
        lines.append(
            _line(
                "frontend",
                "CloudFront HTTPS requests (beyond the free tier)",
                max(0, inputs.cloudfront_requests - free_requests) / 10_000,
                prices["cloudfront_10k_requests"],
            )
        )
    if inputs.waf_enabled:
        lines.append(_line("WAF", "WAF web ACL", 1, prices["waf_web_acl_month"]))
        if inputs.waf_rules:
            lines.append(
                _line("WAF", f"WAF rules ({inputs.waf_rules})", inputs.waf_rules, prices["waf_rule_month"])
            )
        lines.append(
            _line("WAF", "WAF requests", inputs.waf_requests_millions, prices["waf_million_requests"])
        )
    if inputs.secrets:
        lines.append(
            _line("secrets and DNS", "Secrets Manager secrets", inputs.secrets, prices["secret_month"])
        )
    if inputs.hosted_zones:
        lines.append(
            _line(
                "secrets and DNS", "Route 53 hosted zones", inputs.hosted_zones, prices["route53_zone_month"]
            )
        )
    return lines


def monitoring_lines(inputs: CostInputs, prices: dict[str, dict[str, Any]]) -> list[LineItem]:
    free_logs = FREE_TIER["cloudwatch_logs_ingest_gb"] if inputs.free_tier else 0
    free_alarms = FREE_TIER["cloudwatch_alarms"] if inputs.free_tier else 0
    free_dashboards = FREE_TIER["cloudwatch_dashboards"] if inputs.free_tier else 0
    # At steady state the group holds retention_days of logs: ingest per month x retention in months.
    stored_gb = inputs.log_ingest_gb * inputs.log_retention_days / 30
    lines = [
        _line(
            "monitoring",
            f"CloudWatch Logs ingested ({inputs.log_ingest_gb:g} GB, {free_logs:g} free)",
            max(0.0, inputs.log_ingest_gb - free_logs),
            prices["cloudwatch_logs_ingest_gb"],
        ),
        _line(
            "monitoring",
            f"CloudWatch Logs stored ({inputs.log_retention_days} days)",
            stored_gb,
            prices["cloudwatch_logs_storage_gb_month"],
        ),
    ]
    if inputs.alarms:
        lines.append(
            _line(
                "monitoring",
                f"CloudWatch alarms ({inputs.alarms}, {free_alarms:g} free)",
                max(0, inputs.alarms - free_alarms),
                prices["cloudwatch_alarm_month"],
            )
        )
    if inputs.dashboards:
        lines.append(
            _line(
                "monitoring",
                f"CloudWatch dashboards ({inputs.dashboards}, {free_dashboards:g} free)",
                max(0, inputs.dashboards - free_dashboards),
                prices["cloudwatch_dashboard_month"],
            )
        )
    return lines


def line_items(inputs: CostInputs) -> list[LineItem]:
    """Every priced line of ``inputs``, in category order. Raises CostEstimateError on bad settings."""
    errors = validate_inputs(inputs)
    if errors:
        raise CostEstimateError(errors)
    prices = region_prices(inputs.region)
    lines = (
        compute_lines(inputs, prices)
        + network_lines(inputs, prices)
        + database_lines(inputs, prices)
        + cache_lines(inputs)
        + edge_lines(inputs, prices)
        + monitoring_lines(inputs, prices)
    )
    return sorted(lines, key=lambda line: CATEGORIES.index(line.category))


def warnings_for(inputs: CostInputs) -> list[str]:
    """Settings that price fine but will not work as priced."""
    warnings: list[str] = []
    if inputs.database_provider == "neon" and inputs.neon_plan == "free":
        cu_hours = inputs.neon_compute_units * inputs.neon_active_hours
        allowance = PROVIDERS["neon_free_cu_hours"]["quantity"]
        if cu_hours > allowance:
            launch = cu_hours * PROVIDERS["neon_launch_cu_hour"]["usd"]
            most_hours = allowance / inputs.neon_compute_units
            warnings.append(
                f"Neon Free covers {allowance} CU-hours a month; {inputs.neon_compute_units:g} CU awake "
                f"{inputs.neon_active_hours:g} h uses {cu_hours:g}, and the compute is suspended when the "
                f"allowance runs out. Let the database scale to zero (neon_active_hours <= {most_hours:g}) "
                f"or price neon_plan=launch (about ${launch:.2f} of compute)."
            )
        if inputs.neon_storage_gb > PROVIDERS["neon_free_storage_gb"]["quantity"]:
            warnings.append(
                f"Neon Free stores 0.5 GB; neon_storage_gb={inputs.neon_storage_gb:g} needs neon_plan=launch."
            )
    if inputs.cache_provider == "upstash" and inputs.upstash_plan == "free":
        allowance = PROVIDERS["upstash_free_commands"]["quantity"]
        if inputs.upstash_commands > allowance:
            warnings.append(
                f"Upstash Free covers {allowance:,} commands a month; "
                f"upstash_commands={inputs.upstash_commands:,} needs upstash_plan=payg."
            )
    return warnings


def assumptions_for(inputs: CostInputs) -> list[str]:
    alb_ips = inputs.az_count if inputs.load_balancer else 0
    task_ips = inputs.task_count if inputs.tasks_public_ip else 0
    notes = [
        f"{HOURS_PER_MONTH} hours a month; prices in USD for {inputs.region}, converted at "
        f"{inputs.usd_to_gbp:g} GBP per USD, before VAT or other sales tax.",
        f"Steady state: {inputs.task_count} task(s) running all month; autoscaling above that and the "
        "second set of tasks during a blue/green release (minutes) are not counted.",
        f"Load balancer averages {inputs.load_balancer_lcu:g} LCU (1 LCU = 25 new connections/s, "
        "3,000 active connections/min, 1 GB/h or 1,000 rule evaluations/s, whichever is highest).",
        f"Public IPv4 addresses: {alb_ips} for the load balancer (one per AZ), {task_ips} for tasks "
        f"with public IPs, {inputs.nat_gateway_count} for NAT gateways, at $0.005 an hour each.",
        "Interface VPC endpoints are billed in every AZ of the network; gateway endpoints (s3, dynamodb) "
        "are free.",
        f"CloudWatch Logs: {inputs.log_ingest_gb:g} GB ingested a month, stored uncompressed for "
        f"{inputs.log_retention_days} days (an upper bound: storage is billed compressed).",
        "Not counted: data transfer out to the internet (100 GB a month free), ECR image storage, the "
        "DynamoDB release ledger and lock (cents), KMS, Performance Insights at 7-day retention (free), "
        "CloudWatch metrics beyond the free ones, Secrets Manager API calls.",
    ]
    if inputs.free_tier:
        notes.append(
            "Always-free allowances applied (per account, shared with whatever else runs in it): 5 GB "
            "of logs ingested, 10 alarms, 3 dashboards, CloudFront 1 TB and 10 M requests."
        )
    if inputs.fargate_spot:
        notes.append(
            "Fargate Spot: a task can be stopped with 2 minutes' notice; with "
            f"{inputs.task_count} task(s) an interruption "
            + (
                "stops the service until a replacement starts."
                if inputs.task_count < 2
                else "reduces capacity."
            )
        )
    if inputs.database_provider == "rds":
        notes.append(
            "RDS backup storage up to the provisioned storage is free; rds_backup_storage_gb is the total "
            "kept for the retention period."
        )
    if (inputs.cache_provider, inputs.region, inputs.elasticache_node_type) == (
        "elasticache",
        "eu-west-2",
        "cache.r6g.large",
    ):
        notes.append(
            "cache.r6g.large has no London price in prices.md: the us-east-1 price is used as a floor."
        )
    return notes


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _price(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    whole, _sep, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def format_table(
    lines: Sequence[LineItem], total_usd: float, total_gbp: float, per_user_gbp: float, users: int
) -> str:
    """An aligned text table of the lines and totals, for printing."""
    header = ("item", "quantity", "unit", "USD/unit", "USD/month")
    rows = [
        (line.item, f"{line.quantity:,.2f}", line.unit, _price(line.unit_price_usd), _money(line.monthly_usd))
        for line in lines
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def render(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(widths[i]) if i in (0, 2) else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    footer = [
        ("total USD", _money(total_usd)),
        ("total GBP", _money(total_gbp)),
        (f"per user GBP ({users} users)", _money(per_user_gbp)),
    ]
    out = [render(header), "-" * width, *(render(row) for row in rows), "-" * width]
    out.extend(label + value.rjust(width - len(label)) for label, value in footer)
    return "\n".join(out)


def estimate(inputs: CostInputs) -> dict[str, Any]:
    """The monthly estimate of ``inputs``, as the module returns it. CostEstimateError on bad settings."""
    lines = line_items(inputs)
    total_usd = sum(line.monthly_usd for line in lines)
    total_gbp = total_usd * inputs.usd_to_gbp
    per_user_gbp = total_gbp / inputs.users
    by_category = {
        category: round(sum(line.monthly_usd for line in lines if line.category == category), 2)
        for category in CATEGORIES
    }
    return {
        "region": inputs.region,
        "line_items": [line.as_dict() for line in lines],
        "by_category_usd": by_category,
        "total_usd": round(total_usd, 2),
        "total_gbp": round(total_gbp, 2),
        "per_user_gbp": round(per_user_gbp, 4),
        "usd_to_gbp": inputs.usd_to_gbp,
        "users": inputs.users,
        "ceiling_gbp": inputs.ceiling_gbp,
        "within_ceiling": None if inputs.ceiling_gbp is None else round(total_gbp, 2) <= inputs.ceiling_gbp,
        "table": format_table(lines, total_usd, total_gbp, per_user_gbp, inputs.users),
        "assumptions": assumptions_for(inputs),
        "warnings": warnings_for(inputs),
    }
