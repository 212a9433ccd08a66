"""The scale advice against the seed's scaling triggers."""

from __future__ import annotations

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._scale_advice import (
    advise,
    rds_max_connections,
    summarise,
)

QUIET = {
    "cpu_percent": (20.0, "(p95)"),
    "memory_percent": (40.0, "(p95)"),
    "response_time_seconds": (0.3, "(p95)"),
}


@pytest.mark.parametrize(
    ("users", "revenue", "expected"),
    [
        (40, 0, "hobby"),
        (99, 999, "hobby"),
        (100, 0, "enhanced-hobby"),
        (10, 1000, "enhanced-hobby"),
        (499, 5000, "enhanced-hobby"),
        (500, 0, "enterprise"),
        (10, 5000.01, "enterprise"),
        (1200, 30000, "enterprise"),
    ],
)
def test_users_and_revenue_bands(users, revenue, expected):
    assert advise(users, revenue, QUIET)["recommended_scale"] == expected


@pytest.mark.parametrize(
    ("trigger", "value", "triggered"),
    [
        ("response_time_seconds", 2.5, True),
        ("response_time_seconds", 2.0, False),
        ("cpu_percent", 80.1, True),
        ("cpu_percent", 80.0, False),
        ("memory_percent", 86.0, True),
        ("memory_percent", 85.0, False),
        ("database_connections_percent", 81.0, True),
    ],
)
def test_each_performance_trigger_recommends_enterprise_above_its_threshold(trigger, value, triggered):
    advice = advise(20, 0, {**QUIET, trigger: (value, "(p95 of 168 hourly values)")}, current_scale="hobby")
    assert advice["recommended_scale"] == ("enterprise" if triggered else "hobby")
    reason = next(r for r in advice["reasons"] if r["trigger"] == trigger)
    assert reason["triggered"] is triggered
    assert f"{value:.2f}" in reason["message"] and "above" in reason["threshold"]
    assert advice["change"] == ("up" if triggered else "stay")


def test_every_reason_is_shown_and_missing_data_is_not_counted():
    advice = advise(600, 200, {"cpu_percent": (None, "AWS/ECS CPUUtilization has no data")}, "enterprise")
    assert [r["trigger"] for r in advice["reasons"]] == [
        "users",
        "monthly_revenue_gbp",
        "response_time_seconds",
        "cpu_percent",
        "memory_percent",
        "database_connections_percent",
    ]
    cpu = next(r for r in advice["reasons"] if r["trigger"] == "cpu_percent")
    assert cpu["scale"] is None and "no data" in cpu["message"]
    assert advice["change"] == "stay"
    assert "users: 600 (500 or more) -> enterprise" in advice["summary"]


def test_moving_down_is_advised_too():
    assert advise(30, 100, QUIET, current_scale="enterprise")["change"] == "down"


def test_summary_of_hourly_values():
    hours = [10.0] * 95 + [99.0] * 5
    assert summarise(hours, "p95") == 10.0
    assert summarise(hours, "max") == 99.0
    assert summarise([], "p95") is None


def test_rds_max_connections_from_the_class():
    assert rds_max_connections("db.t4g.micro") == 112
    assert rds_max_connections("db.r6g.large") == 1802
    assert rds_max_connections("db.x9.huge") is None
