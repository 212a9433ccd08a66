# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Published prices used by ``_cost.py``, in USD, as data: one entry per price, each with its date and source.

A Python literal rather than a YAML file because module_utils travel with the modules that import them;
a data file beside them would not reach the controller's module runner.

``GLOBAL`` holds prices that are the same in every region (or that AWS bills globally); ``REGIONAL`` holds
per-region prices and instance classes; ``PROVIDERS`` holds Neon and Upstash, which are priced outside AWS.
A region's price table is ``GLOBAL`` overlaid with ``REGIONAL[region]["prices"]``.

Re-check a line against AWS's price list files (``offers/v1.0/aws/<service>/current/<region>``) when it
matters, and update its ``date`` and ``source`` with its price.
"""

from __future__ import annotations

from typing import Any

HOURS_PER_MONTH = 730

_LATE_2026 = "2026-09"
_REF = "shared/reference/prices.md"
_RECHECK = "; not in prices.md, re-check"

GLOBAL: dict[str, dict[str, Any]] = {
    "public_ipv4_hour": {
        "usd": 0.005,
        "unit": "IPv4-hour",
        "date": "2024-02-01",
        "source": "AWS VPC pricing: public IPv4 address, in use or idle (since Feb 2024); " + _REF,
    },
    "waf_web_acl_month": {
        "usd": 5.0,
        "unit": "ACL-month",
        "date": _LATE_2026,
        "source": "AWS WAF pricing; " + _REF,
    },
    "waf_rule_month": {
        "usd": 1.0,
        "unit": "rule-month",
        "date": _LATE_2026,
        "source": "AWS WAF pricing (a rule or rule group; baseline managed groups no extra fee); " + _REF,
    },
    "waf_million_requests": {
        "usd": 0.60,
        "unit": "M requests",
        "date": _LATE_2026,
        "source": "AWS WAF pricing; " + _REF,
    },
    "secret_month": {
        "usd": 0.40,
        "unit": "secret-month",
        "date": _LATE_2026,
        "source": "AWS Secrets Manager pricing; " + _REF,
    },
    "route53_zone_month": {
        "usd": 0.50,
        "unit": "zone-month",
        "date": _LATE_2026,
        "source": "Amazon Route 53 pricing (alias queries to AWS resources free); " + _REF,
    },
    "amplify_storage_gb_month": {
        "usd": 0.023,
        "unit": "GB-month",
        "date": _LATE_2026,
        "source": "AWS Amplify Hosting pricing; " + _REF,
    },
    "amplify_gb_served": {
        "usd": 0.15,
        "unit": "GB",
        "date": _LATE_2026,
        "source": "AWS Amplify Hosting pricing; " + _REF,
    },
    "amplify_build_minute": {
        "usd": 0.01,
        "unit": "build-minute",
        "date": _LATE_2026,
        "source": "AWS Amplify Hosting pricing; " + _REF,
    },
    "cloudwatch_alarm_month": {
        "usd": 0.10,
        "unit": "alarm-month",
        "date": _LATE_2026,
        "source": "Amazon CloudWatch pricing (standard-resolution metric alarm); " + _REF,
    },
    "cloudwatch_dashboard_month": {
        "usd": 3.0,
        "unit": "dashboard-month",
        "date": _LATE_2026,
        "source": "Amazon CloudWatch pricing; " + _REF,
    },
}

REGIONAL: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "eu-west-2": {
        "prices": {
            "fargate_x86_vcpu_hour": {
                "usd": 0.04656,
                "unit": "vCPU-hour",
                "date": "2026-08-31",
                "source": "AWS price list AmazonECS eu-west-2 (Fargate Linux x86); " + _REF,
            },
            "fargate_x86_gb_hour": {
                "usd": 0.00511,
                "unit": "GB-hour",
                "date": "2026-08-31",
                "source": "AWS price list AmazonECS eu-west-2 (Fargate Linux x86); " + _REF,
            },
            "fargate_arm_vcpu_hour": {
                "usd": 0.03725,
                "unit": "vCPU-hour",
                "date": "2026-08-31",
                "source": "AWS price list AmazonECS eu-west-2 (Fargate Linux ARM); " + _REF,
            },
            "fargate_arm_gb_hour": {
                "usd": 0.00409,
                "unit": "GB-hour",
                "date": "2026-08-31",
                "source": "AWS price list AmazonECS eu-west-2 (Fargate Linux ARM); " + _REF,
            },
            "fargate_spot_vcpu_hour": {
                "usd": 0.013968,
                "unit": "vCPU-hour",
                "date": "2026-08-31",
                "source": "AWS Fargate Spot eu-west-2 (x86 only; 30% of on-demand here, varies); " + _REF,
            },
            "fargate_spot_gb_hour": {
                "usd": 0.001533,
                "unit": "GB-hour",
                "date": "2026-08-31",
                "source": "AWS Fargate Spot eu-west-2 (x86 only; 30% of on-demand here, varies); " + _REF,
            },
            "alb_hour": {
                "usd": 0.02646,
                "unit": "ALB-hour",
                "date": _LATE_2026,
                "source": "Elastic Load Balancing pricing eu-west-2; " + _REF,
            },
            "alb_lcu_hour": {
                "usd": 0.0084,
                "unit": "LCU-hour",
                "date": _LATE_2026,
                "source": "Elastic Load Balancing pricing eu-west-2; " + _REF,
            },
            "nat_gateway_hour": {
                "usd": 0.05,
                "unit": "NAT-hour",
                "date": _LATE_2026,
                "source": "Amazon VPC pricing eu-west-2 (NAT gateway); " + _REF,
            },
            "nat_gateway_gb": {
                "usd": 0.05,
                "unit": "GB",
                "date": _LATE_2026,
                "source": "Amazon VPC pricing eu-west-2 (NAT gateway data processed); " + _REF,
            },
            "vpc_interface_endpoint_az_hour": {
                "usd": 0.011,
                "unit": "endpoint-AZ-hour",
                "date": _LATE_2026,
                "source": "AWS PrivateLink pricing eu-west-2 (interface endpoint); " + _REF,
            },
            "vpc_interface_endpoint_gb": {
                "usd": 0.01,
                "unit": "GB",
                "date": _LATE_2026,
                "source": "AWS PrivateLink pricing eu-west-2 (interface endpoint data); " + _REF,
            },
            "rds_storage_gb_month": {
                "usd": 0.133,
                "unit": "GB-month",
                "date": "2026-09-04",
                "source": "AWS price list AmazonRDS eu-west-2 (gp2/gp3 Single-AZ; Multi-AZ doubles); " + _REF,
            },
            "rds_backup_gb_month": {
                "usd": 0.10,
                "unit": "GB-month",
                "date": "2026-09-04",
                "source": "AWS price list AmazonRDS eu-west-2 (backup beyond the free allowance); " + _REF,
            },
            "cloudwatch_logs_ingest_gb": {
                "usd": 0.5985,
                "unit": "GB",
                "date": _LATE_2026,
                "source": "Amazon CloudWatch pricing eu-west-2 (logs ingested); " + _REF,
            },
            "cloudwatch_logs_storage_gb_month": {
                "usd": 0.0315,
                "unit": "GB-month",
                "date": _LATE_2026,
                "source": "Amazon CloudWatch pricing eu-west-2 (logs stored); " + _REF,
            },
            "cloudfront_gb": {
                "usd": 0.085,
                "unit": "GB",
                "date": _LATE_2026,
                "source": "Amazon CloudFront pricing, Europe edge; " + _REF,
            },
            "cloudfront_10k_requests": {
                "usd": 0.012,
                "unit": "10K requests",
                "date": _LATE_2026,
                "source": "Amazon CloudFront pricing, Europe edge (HTTPS); " + _REF,
            },
        },
        # Single-AZ hourly prices of RDS for PostgreSQL; Multi-AZ is billed at twice this.
        "rds_instance_classes": {
            "db.t4g.micro": {
                "usd": 0.018,
                "unit": "instance-hour",
                "date": "2026-09-04",
                "source": "AWS price list AmazonRDS eu-west-2 (PostgreSQL); " + _REF,
            },
            "db.t4g.small": {
                "usd": 0.036,
                "unit": "instance-hour",
                "date": "2026-09-04",
                "source": "AWS price list AmazonRDS eu-west-2 (PostgreSQL); " + _REF,
            },
            "db.r6g.large": {
                "usd": 0.264,
                "unit": "instance-hour",
                "date": "2026-09-04",
                "source": "AWS price list AmazonRDS eu-west-2 (PostgreSQL; Multi-AZ listed $0.529); " + _REF,
            },
        },
        # Redis OSS node prices; Valkey nodes are billed at 80% of these.
        "elasticache_node_types": {
            "cache.t4g.micro": {
                "usd": 0.018,
                "unit": "node-hour",
                "date": _LATE_2026,
                "source": "Amazon ElastiCache pricing eu-west-2 (Redis OSS; Valkey $0.0144); " + _REF,
            },
            "cache.r7g.large": {
                "usd": 0.256,
                "unit": "node-hour",
                "date": _LATE_2026,
                "source": "Amazon ElastiCache pricing eu-west-2 (Redis OSS; Valkey $0.2048); " + _REF,
            },
            "cache.r6g.large": {
                "usd": 0.206,
                "unit": "node-hour",
                "date": _LATE_2026,
                "source": "us-east-1 price, a floor: London price not found for cache.r6g.large; " + _REF,
            },
        },
    },
    "us-east-1": {
        "prices": {
            "fargate_x86_vcpu_hour": {
                "usd": 0.04048,
                "unit": "vCPU-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/fargate/pricing us-east-1 (Linux x86)" + _RECHECK,
            },
            "fargate_x86_gb_hour": {
                "usd": 0.004445,
                "unit": "GB-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/fargate/pricing us-east-1 (Linux x86)" + _RECHECK,
            },
            "fargate_arm_vcpu_hour": {
                "usd": 0.03238,
                "unit": "vCPU-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/fargate/pricing us-east-1 (Linux ARM)" + _RECHECK,
            },
            "fargate_arm_gb_hour": {
                "usd": 0.00356,
                "unit": "GB-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/fargate/pricing us-east-1 (Linux ARM)" + _RECHECK,
            },
            "fargate_spot_vcpu_hour": {
                "usd": 0.012144,
                "unit": "vCPU-hour",
                "date": "2026-06",
                "source": "30% of on-demand assumed as in eu-west-2 (Spot varies, x86)" + _RECHECK,
            },
            "fargate_spot_gb_hour": {
                "usd": 0.0013335,
                "unit": "GB-hour",
                "date": "2026-06",
                "source": "30% of on-demand assumed as in eu-west-2 (Spot varies, x86)" + _RECHECK,
            },
            "alb_hour": {
                "usd": 0.0225,
                "unit": "ALB-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/elasticloadbalancing/pricing us-east-1" + _RECHECK,
            },
            "alb_lcu_hour": {
                "usd": 0.008,
                "unit": "LCU-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/elasticloadbalancing/pricing us-east-1" + _RECHECK,
            },
            "nat_gateway_hour": {
                "usd": 0.045,
                "unit": "NAT-hour",
                "date": _LATE_2026,
                "source": "Amazon VPC pricing us-east-1 (NAT gateway); " + _REF,
            },
            "nat_gateway_gb": {
                "usd": 0.045,
                "unit": "GB",
                "date": "2026-06",
                "source": "aws.amazon.com/vpc/pricing us-east-1 (NAT gateway data processed)" + _RECHECK,
            },
            "vpc_interface_endpoint_az_hour": {
                "usd": 0.01,
                "unit": "endpoint-AZ-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/privatelink/pricing us-east-1 (interface endpoint)" + _RECHECK,
            },
            "vpc_interface_endpoint_gb": {
                "usd": 0.01,
                "unit": "GB",
                "date": "2026-06",
                "source": "aws.amazon.com/privatelink/pricing us-east-1 (interface endpoint data)" + _RECHECK,
            },
            "rds_storage_gb_month": {
                "usd": 0.115,
                "unit": "GB-month",
                "date": "2026-06",
                "source": "aws.amazon.com/rds/postgresql/pricing us-east-1 (gp3, Multi-AZ x2)" + _RECHECK,
            },
            "rds_backup_gb_month": {
                "usd": 0.095,
                "unit": "GB-month",
                "date": "2026-06",
                "source": "aws.amazon.com/rds/postgresql/pricing us-east-1 (backup beyond free)" + _RECHECK,
            },
            "cloudwatch_logs_ingest_gb": {
                "usd": 0.50,
                "unit": "GB",
                "date": "2026-06",
                "source": "aws.amazon.com/cloudwatch/pricing us-east-1 (logs ingested)" + _RECHECK,
            },
            "cloudwatch_logs_storage_gb_month": {
                "usd": 0.03,
                "unit": "GB-month",
                "date": "2026-06",
                "source": "aws.amazon.com/cloudwatch/pricing us-east-1 (logs stored)" + _RECHECK,
            },
            "cloudfront_gb": {
                "usd": 0.085,
                "unit": "GB",
                "date": "2026-06",
                "source": "aws.amazon.com/cloudfront/pricing, United States edge" + _RECHECK,
            },
            "cloudfront_10k_requests": {
                "usd": 0.01,
                "unit": "10K requests",
                "date": "2026-06",
                "source": "aws.amazon.com/cloudfront/pricing, US edge (HTTPS)" + _RECHECK,
            },
        },
        "rds_instance_classes": {
            "db.t4g.micro": {
                "usd": 0.016,
                "unit": "instance-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/rds/postgresql/pricing us-east-1" + _RECHECK,
            },
            "db.t4g.small": {
                "usd": 0.032,
                "unit": "instance-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/rds/postgresql/pricing us-east-1" + _RECHECK,
            },
        },
        "elasticache_node_types": {
            "cache.t4g.micro": {
                "usd": 0.016,
                "unit": "node-hour",
                "date": "2026-06",
                "source": "aws.amazon.com/elasticache/pricing us-east-1 (Redis OSS)" + _RECHECK,
            },
            "cache.r6g.large": {
                "usd": 0.206,
                "unit": "node-hour",
                "date": _LATE_2026,
                "source": "Amazon ElastiCache pricing us-east-1 (Redis OSS); " + _REF,
            },
        },
    },
}

PROVIDERS: dict[str, dict[str, Any]] = {
    "neon_free_cu_hours": {
        "usd": 0.0,
        "quantity": 100,
        "unit": "CU-hour",
        "date": _LATE_2026,
        "source": "neon.com/pricing: Free plan, 100 CU-hours per project a month, 0.5 GB; " + _REF,
    },
    "neon_free_storage_gb": {
        "usd": 0.0,
        "quantity": 0.5,
        "unit": "GB",
        "date": _LATE_2026,
        "source": "neon.com/pricing: Free plan storage; " + _REF,
    },
    "neon_launch_cu_hour": {
        "usd": 0.14,
        "unit": "CU-hour",
        "date": _LATE_2026,
        "source": "neon.com/pricing: Launch plan, $0.106-0.14 per CU-hour, upper end used; " + _REF,
    },
    "neon_launch_storage_gb_month": {
        "usd": 0.35,
        "unit": "GB-month",
        "date": _LATE_2026,
        "source": "neon.com/pricing: Launch plan storage; " + _REF,
    },
    "upstash_free_commands": {
        "usd": 0.0,
        "quantity": 500_000,
        "unit": "commands",
        "date": _LATE_2026,
        "source": "upstash.com/pricing/redis: Free plan, 256 MB, 500K commands a month; " + _REF,
    },
    "upstash_100k_commands": {
        "usd": 0.20,
        "unit": "100K commands",
        "date": _LATE_2026,
        "source": "upstash.com/pricing/redis: pay as you go; " + _REF,
    },
}

# The always-free allowances applied when ``free_tier`` is on (per account, shared with anything else in it).
FREE_TIER: dict[str, float] = {
    "cloudwatch_logs_ingest_gb": 5,
    "cloudwatch_alarms": 10,
    "cloudwatch_dashboards": 3,
    "cloudfront_gb": 1024,
    "cloudfront_requests": 10_000_000,
}

VALKEY_NODE_DISCOUNT = 0.8  # ElastiCache Valkey nodes cost 20% less than Redis OSS nodes of the same type


def known_regions() -> list[str]:
    return sorted(REGIONAL)


def region_prices(region: str) -> dict[str, dict[str, Any]]:
    """The price table of ``region``: global prices overlaid with the region's own. KeyError if unknown."""
    return {**GLOBAL, **REGIONAL[region]["prices"]}
