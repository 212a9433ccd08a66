# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which scale a deployment needs, from the seed's scaling triggers: users, revenue and performance.

Plain Python (``plugins/modules/scale_advice.py`` reads the metrics and calls ``advise()``). Every trigger
gives a reason with its figure and threshold; the recommendation is the highest scale any reason points to.

The seed's thresholds ("Scaling Triggers"): under 100 users hobby, 100 to 500 enhanced hobby, 500 and more
enterprise; revenue under GBP 1,000 a month hobby, GBP 1,000 to 5,000 enhanced hobby, above GBP 5,000
enterprise; response time above 2 s, CPU above 80%, memory above 85% or database connections above 80% of
the maximum call for enterprise's resources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SCALES: tuple[str, ...] = ("hobby", "enhanced-hobby", "enterprise")

USERS_ENHANCED = 100
USERS_ENTERPRISE = 500
REVENUE_ENHANCED_GBP = 1000.0
REVENUE_ENTERPRISE_GBP = 5000.0


@dataclass(frozen=True)
class Trigger:
    """A performance trigger: above ``threshold`` (in ``unit``) the seed says to scale up."""

    name: str
    label: str
    threshold: float
    unit: str
    action: str


TRIGGERS: tuple[Trigger, ...] = (
    Trigger("response_time_seconds", "response time", 2.0, "s", "scale up compute"),
    Trigger("cpu_percent", "CPU utilisation", 80.0, "%", "scale up or out"),
    Trigger("memory_percent", "memory utilisation", 85.0, "%", "scale up memory"),
    Trigger(
        "database_connections_percent",
        "database connections",
        80.0,
        "% of the maximum",
        "scale up the database",
    ),
)

# RDS PostgreSQL's default max_connections is LEAST(DBInstanceClassMemory / 9531392, 5000); the class's
# nominal memory gives an upper bound (AWS reserves some memory, so the real figure is a little lower).
RDS_MEMORY_GIB: dict[str, float] = {
    "db.t4g.micro": 1,
    "db.t4g.small": 2,
    "db.t4g.medium": 4,
    "db.t4g.large": 8,
    "db.t4g.xlarge": 16,
    "db.m6g.large": 8,
    "db.m6g.xlarge": 16,
    "db.m7g.large": 8,
    "db.m7g.xlarge": 16,
    "db.r6g.large": 16,
    "db.r6g.xlarge": 32,
    "db.r7g.large": 16,
    "db.r7g.xlarge": 32,
}


def rds_max_connections(instance_class: str) -> int | None:
    """The default max_connections of an RDS PostgreSQL class, or None for a class not in the table."""
    gib = RDS_MEMORY_GIB.get(instance_class)
    if gib is None:
        return None
    return min(int(gib * 1024**3 / 9531392), 5000)


def summarise(values: Sequence[float], statistic: str) -> float | None:
    """The period's figure from the hourly values: ``max``, or ``p95`` (nearest rank), so that one spike is
    not a trend."""
    if not values:
        return None
    ordered = sorted(values)
    if statistic == "max":
        return ordered[-1]
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _scale_for(value: float, enhanced: float, enterprise: float, enterprise_inclusive: bool) -> str:
    if value >= enterprise if enterprise_inclusive else value > enterprise:
        return "enterprise"
    return "enhanced-hobby" if value >= enhanced else "hobby"


def _money(value: float) -> str:
    return f"GBP {value:,.0f}"


def user_reason(users: int) -> dict[str, Any]:
    scale = _scale_for(users, USERS_ENHANCED, USERS_ENTERPRISE, enterprise_inclusive=True)
    threshold = {
        "hobby": f"under {USERS_ENHANCED}",
        "enhanced-hobby": f"{USERS_ENHANCED} to {USERS_ENTERPRISE - 1}",
        "enterprise": f"{USERS_ENTERPRISE} or more",
    }[scale]
    return {
        "trigger": "users",
        "value": users,
        "threshold": threshold,
        "scale": scale,
        "triggered": scale != "hobby",
        "message": f"users: {users:,} ({threshold}) -> {scale}",
    }


def revenue_reason(revenue_gbp: float) -> dict[str, Any]:
    scale = _scale_for(revenue_gbp, REVENUE_ENHANCED_GBP, REVENUE_ENTERPRISE_GBP, enterprise_inclusive=False)
    threshold = {
        "hobby": f"under {_money(REVENUE_ENHANCED_GBP)} a month",
        "enhanced-hobby": f"{_money(REVENUE_ENHANCED_GBP)} to {_money(REVENUE_ENTERPRISE_GBP)} a month",
        "enterprise": f"above {_money(REVENUE_ENTERPRISE_GBP)} a month",
    }[scale]
    return {
        "trigger": "monthly_revenue_gbp",
        "value": revenue_gbp,
        "threshold": threshold,
        "scale": scale,
        "triggered": scale != "hobby",
        "message": f"revenue: {_money(revenue_gbp)} a month ({threshold}) -> {scale}",
    }


def _with_unit(figure: str, unit: str) -> str:
    return f"{figure}{unit}" if unit.startswith("%") else f"{figure} {unit}"


def metric_reason(trigger: Trigger, value: float | None, detail: str) -> dict[str, Any]:
    """A performance trigger's reason; ``detail`` says how the figure was measured (or why there is none)."""
    limit = _with_unit(f"{trigger.threshold:g}", trigger.unit)
    if value is None:
        return {
            "trigger": trigger.name,
            "value": None,
            "threshold": f"above {limit}",
            "scale": None,
            "triggered": False,
            "message": f"{trigger.label}: no data ({detail}); not counted",
        }
    triggered = value > trigger.threshold
    figure = _with_unit(f"{value:.2f}", trigger.unit)
    if triggered:
        message = f"{trigger.label}: {figure} {detail}, above {limit} -> enterprise ({trigger.action})"
    else:
        message = f"{trigger.label}: {figure} {detail}, within {limit} -> no change"
    return {
        "trigger": trigger.name,
        "value": round(value, 4),
        "threshold": f"above {limit}",
        "scale": "enterprise" if triggered else "hobby",
        "triggered": triggered,
        "message": message,
    }


def advise(
    users: int,
    monthly_revenue_gbp: float,
    metrics: dict[str, tuple[float | None, str]],
    current_scale: str | None = None,
) -> dict[str, Any]:
    """The recommended scale and every reason. ``metrics`` maps a trigger name to (figure, how measured)."""
    reasons = [user_reason(users), revenue_reason(monthly_revenue_gbp)]
    for trigger in TRIGGERS:
        value, detail = metrics.get(trigger.name, (None, "not measured"))
        reasons.append(metric_reason(trigger, value, detail))
    counted = [SCALES.index(r["scale"]) for r in reasons if r["scale"] is not None]
    recommended = SCALES[max(counted)]
    if current_scale is None:
        change = None
    elif current_scale == recommended:
        change = "stay"
    else:
        change = "up" if SCALES.index(recommended) > SCALES.index(current_scale) else "down"
    deciding = [
        r["message"]
        for r in reasons
        if r["scale"] == recommended and (r["triggered"] or recommended == "hobby")
    ]
    summary = f"Recommended scale: {recommended}"
    if current_scale is not None:
        summary += f" (now {current_scale}: {'stay' if change == 'stay' else 'move ' + change})"
    return {
        "recommended_scale": recommended,
        "current_scale": current_scale,
        "change": change,
        "reasons": reasons,
        "summary": "\n".join([summary, *("  because " + m for m in deciding)]),
    }
