"""The cost estimate against figures worked out by hand from shared/reference/prices.md (eu-west-2, 730 h)."""

from __future__ import annotations

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._cost import (
    CATEGORIES,
    CostEstimateError,
    CostInputs,
    estimate,
    line_items,
)

ENTERPRISE_ENDPOINTS = ("s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager")


def approx(value: float):
    """Line amounts are returned rounded to 4 decimals."""
    return pytest.approx(value, abs=1e-4)


def monthly(result: dict, item_prefix: str) -> float:
    """The monthly USD of the one line whose item starts with ``item_prefix``."""
    matches = [line for line in result["line_items"] if line["item"].startswith(item_prefix)]
    assert len(matches) == 1, [line["item"] for line in result["line_items"]]
    return matches[0]["monthly_usd"]


def test_seed_hobby():
    """The seed's hobby configuration: the module's defaults.

    Fargate 0.25 vCPU x 730 h x $0.04656            =  $8.4972
    Fargate 0.5 GB x 730 h x $0.00511               =  $1.86515
    ALB 730 h x $0.02646                            = $19.3158
    ALB 1 LCU x 730 h x $0.0084                     =  $6.132
    IPv4 (2 ALB + 1 task) x 730 h x $0.005          = $10.95
    Neon Free, Upstash Free                         =  $0
    Amplify 1 GB x $0.023 + 5 GB served x $0.15     =  $0.023 + $0.75
    Logs 1 GB ingested (5 GB free)                  =  $0
    Logs stored 1 GB x 14/30 x $0.0315              =  $0.0147
    Secrets 3 x $0.40 + Route 53 zone $0.50         =  $1.20 + $0.50
    Total $49.24785 -> $49.25; x 0.75 = GBP 36.9359 -> 36.94; / 100 users = GBP 0.3694
    """
    result = estimate(CostInputs(region="eu-west-2"))
    assert monthly(result, "Fargate vCPU") == approx(8.4972)
    assert monthly(result, "Fargate memory") == approx(1.86515)
    assert monthly(result, "Application Load Balancer") == approx(19.3158)
    assert monthly(result, "Load balancer capacity") == approx(6.132)
    assert monthly(result, "Public IPv4 (2 ALB + 1 task + 0 NAT)") == approx(10.95)
    assert monthly(result, "Neon Free compute") == 0
    assert monthly(result, "Upstash Redis Free") == 0
    assert monthly(result, "Amplify Hosting data served") == approx(0.75)
    assert monthly(result, "CloudWatch Logs stored") == approx(0.0147)
    assert monthly(result, "Secrets Manager") == approx(1.20)
    assert result["total_usd"] == 49.25
    assert result["total_gbp"] == 36.94
    assert result["per_user_gbp"] == pytest.approx(0.3694)
    # 0.25 CU awake 730 h = 182.5 CU-hours, over Neon Free's 100.
    assert any("Neon Free covers 100 CU-hours" in warning for warning in result["warnings"])


def test_budget_hobby_meets_30_gbp_with_an_alb():
    """The cheapest honest hobby configuration that keeps the ALB (docs/cost.md).

    Fargate Spot 0.25 vCPU x 730 h x $0.013968      =  $2.54916
    Fargate Spot 0.5 GB x 730 h x $0.001533         =  $0.559545
    ALB 730 h x $0.02646                            = $19.3158
    ALB 0.1 LCU x 730 h x $0.0084                   =  $0.6132
    IPv4 3 x 730 h x $0.005                         = $10.95
    Amplify $0.023 + $0.75, logs $0.0147, secrets $1.20, zone $0.50
    Total $36.475405 -> $36.48; x 0.75 = GBP 27.3566 -> 27.36, under the GBP 30 ceiling
    Neon 0.25 CU x 360 h = 90 CU-hours: inside the free 100, so no warning.
    """
    result = estimate(
        CostInputs(
            region="eu-west-2",
            fargate_spot=True,
            load_balancer_lcu=0.1,
            neon_active_hours=360,
            ceiling_gbp=30,
        )
    )
    assert monthly(result, "Fargate vCPU (x86_64, Spot") == approx(2.54916)
    assert monthly(result, "Fargate memory (x86_64, Spot") == approx(0.559545)
    assert monthly(result, "Load balancer capacity") == approx(0.6132)
    assert result["total_usd"] == 36.48
    assert result["total_gbp"] == 27.36
    assert result["within_ceiling"] is True
    assert result["warnings"] == []


def test_enhanced_hobby():
    """Two 0.5 vCPU / 1 GB tasks behind one NAT, Neon Launch, Upstash pay as you go.

    Fargate 0.5 vCPU x 2 x 730 h x $0.04656         = $33.9888
    Fargate 1 GB x 2 x 730 h x $0.00511             =  $7.4606
    ALB $19.3158 + 0.5 LCU x 730 h x $0.0084        = $19.3158 + $3.066
    IPv4 (2 ALB + 0 task + 1 NAT) x 730 h x $0.005  = $10.95
    NAT 730 h x $0.05 + 10 GB x $0.05               = $36.50 + $0.50
    Neon Launch 0.25 CU x 730 h x $0.14             = $25.55
    Neon storage 2 GB x $0.35                       =  $0.70
    Upstash 1,000,000 / 100,000 x $0.20             =  $2.00
    Amplify $0.023 + 25 GB x $0.15                  =  $0.023 + $3.75
    Logs 5 GB ingested (5 free) $0; stored 5 x 90/30 = 15 GB x $0.0315 = $0.4725
    8 alarms (10 free) $0; secrets $1.20; zone $0.50
    Total $145.9767 -> $145.98; x 0.75 = GBP 109.4825 -> 109.48; / 500 users = GBP 0.219
    """
    result = estimate(
        CostInputs(
            region="eu-west-2",
            task_cpu=512,
            task_memory=1024,
            task_count=2,
            nat_gateway_count=1,
            tasks_public_ip=False,
            neon_plan="launch",
            neon_storage_gb=2,
            upstash_plan="payg",
            upstash_commands=1_000_000,
            log_ingest_gb=5,
            log_retention_days=90,
            alarms=8,
            load_balancer_lcu=0.5,
            users=500,
            frontend_gb_served=25,
        )
    )
    assert monthly(result, "Fargate vCPU") == approx(33.9888)
    assert monthly(result, "Fargate memory") == approx(7.4606)
    assert monthly(result, "Public IPv4 (2 ALB + 0 task + 1 NAT)") == approx(10.95)
    assert monthly(result, "NAT gateways") == approx(36.50)
    assert monthly(result, "Neon Launch compute") == approx(25.55)
    assert monthly(result, "Upstash Redis pay as you go") == approx(2.00)
    assert monthly(result, "CloudWatch Logs stored") == approx(0.4725)
    assert monthly(result, "CloudWatch alarms") == 0
    assert result["total_usd"] == 145.98
    assert result["total_gbp"] == 109.48
    assert result["per_user_gbp"] == pytest.approx(0.219)


def test_seed_enterprise():
    """The seed's enterprise configuration, priced as prices.md does (about $1,146).

    Fargate 1 vCPU x 3 x 730 h x $0.04656           = $101.9664
    Fargate 2 GB x 3 x 730 h x $0.00511             =  $22.3818
    ALB $19.3158 + 2 LCU x 730 h x $0.0084          =  $19.3158 + $12.264
    IPv4 (3 ALB + 3 NAT) x 730 h x $0.005           =  $21.90
    NAT 3 x 730 h x $0.05 + 10 GB x $0.05           = $109.50 + $0.50
    Interface endpoints 4 x 3 AZ x 730 h x $0.011   =  $96.36 (s3 is a free gateway endpoint)
    RDS db.r6g.large Multi-AZ 2 x 730 h x $0.264    = $385.44
    RDS storage 100 GB x 2 x $0.133                 =  $26.60
    RDS backup (150 - 100 free) GB x $0.10          =   $5.00
    ElastiCache 2 x 730 h x $0.206                  = $300.76
    Amplify $0.023 + 100 GB x $0.15                 =   $0.023 + $15.00
    WAF $5 + 3 rules x $1 + 10 M x $0.60            =  $14.00
    Secrets $1.20, zone $0.50
    Logs (20 - 5 free) GB x $0.5985 = $8.9775; stored 20 x 180/30 = 120 GB x $0.0315 = $3.78
    12 alarms - 10 free = 2 x $0.10 = $0.20; 1 dashboard (3 free) $0
    Total $1,145.6685 -> $1,145.67; x 0.75 = GBP 859.2514 -> 859.25; / 1,000 users = GBP 0.8593
    """
    result = estimate(
        CostInputs(
            region="eu-west-2",
            task_cpu=1024,
            task_memory=2048,
            task_count=3,
            az_count=3,
            nat_gateway_count=3,
            tasks_public_ip=False,
            vpc_endpoints=ENTERPRISE_ENDPOINTS,
            database_provider="rds",
            rds_instance_class="db.r6g.large",
            rds_multi_az=True,
            rds_storage_gb=100,
            rds_backup_storage_gb=150,
            cache_provider="elasticache",
            elasticache_node_type="cache.r6g.large",
            elasticache_nodes=2,
            waf_enabled=True,
            waf_requests_millions=10,
            alarms=12,
            dashboards=1,
            log_ingest_gb=20,
            log_retention_days=180,
            load_balancer_lcu=2,
            users=1000,
            frontend_gb_served=100,
        )
    )
    assert monthly(result, "Fargate vCPU") == approx(101.9664)
    assert monthly(result, "Public IPv4 (3 ALB + 0 task + 3 NAT)") == approx(21.90)
    assert monthly(result, "Interface endpoints (4 x 3 AZ)") == approx(96.36)
    assert monthly(result, "Gateway endpoints (s3)") == 0
    assert monthly(result, "RDS PostgreSQL db.r6g.large (Multi-AZ)") == approx(385.44)
    assert monthly(result, "RDS storage") == approx(26.60)
    assert monthly(result, "RDS backup") == approx(5.00)
    assert monthly(result, "ElastiCache 2 x cache.r6g.large") == approx(300.76)
    assert monthly(result, "CloudWatch Logs ingested") == approx(8.9775)
    assert monthly(result, "CloudWatch alarms") == approx(0.20)
    assert result["by_category_usd"]["WAF"] == 14.00
    assert result["total_usd"] == 1145.67
    assert result["total_gbp"] == 859.25
    assert result["per_user_gbp"] == pytest.approx(0.8593)
    assert list(result["by_category_usd"]) == list(CATEGORIES)


def test_arm64_and_valkey_prices():
    """Graviton: 0.25 vCPU x 730 h x $0.03725 = $6.798125. Valkey: 730 h x $0.018 x 0.8 = $10.512."""
    result = estimate(
        CostInputs(
            region="eu-west-2",
            cpu_architecture="arm64",
            cache_provider="elasticache",
            cache_engine="valkey",
            elasticache_node_type="cache.t4g.micro",
        )
    )
    assert monthly(result, "Fargate vCPU (arm64") == approx(6.798125)
    assert monthly(result, "ElastiCache 1 x cache.t4g.micro (Valkey)") == approx(10.512)


def test_every_line_is_quantity_times_price_and_has_a_source():
    result = estimate(CostInputs(region="us-east-1"))
    for line in result["line_items"]:
        assert line["monthly_usd"] == pytest.approx(line["quantity"] * line["unit_price_usd"], abs=1e-3)
        assert line["source"] and line["date"]
    assert sum(line["monthly_usd"] for line in result["line_items"]) == pytest.approx(
        result["total_usd"], abs=0.01
    )
    assert f"{result['total_usd']:,.2f}" in result["table"].splitlines()[-3]


def test_rds_class_is_not_checked_when_the_database_is_neon():
    lines = line_items(CostInputs(region="eu-west-2", rds_instance_class="db.nonsense"))
    assert not any(line.item.startswith("RDS") for line in lines)


@pytest.mark.parametrize(
    ("overrides", "option", "hint"),
    [
        ({"region": "eu-west-1"}, "region", "eu-west-2, us-east-1"),
        (
            {"database_provider": "rds", "rds_instance_class": "db.m5.large"},
            "rds_instance_class",
            "db.t4g.micro",
        ),
        (
            {"cache_provider": "elasticache", "elasticache_node_type": "cache.m5.large"},
            "elasticache_node_type",
            "cache.t4g.micro",
        ),
        ({"task_count": -1}, "task_count", "negative"),
        ({"nat_gateway_count": -1}, "nat_gateway_count", "negative"),
        ({"secrets": -2}, "secrets", "negative"),
        ({"load_balancer_lcu": -0.5}, "load_balancer_lcu", "negative"),
        ({"users": 0}, "users", "1 or more"),
        ({"task_memory": 4096}, "task_memory", "512 to 2048"),
        ({"task_cpu": 300}, "task_cpu", "256, 512"),
        ({"fargate_spot": True, "cpu_architecture": "arm64"}, "fargate_spot", "x86_64"),
        ({"az_count": 1}, "az_count", "2 Availability Zones"),
        ({"nat_gateway_count": 3}, "nat_gateway_count", "az_count=2"),
        ({"neon_plan": "scale"}, "neon_plan", "free, launch"),
    ],
)
def test_bad_settings_name_the_option(overrides, option, hint):
    with pytest.raises(CostEstimateError) as raised:
        estimate(CostInputs(**{"region": "eu-west-2", **overrides}))
    assert any(error.startswith(f"{option}:") and hint in error for error in raised.value.errors), (
        raised.value.errors
    )
