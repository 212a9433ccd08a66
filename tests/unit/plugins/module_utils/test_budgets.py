"""The budget's desired state, comparison and converging calls, against a fake Budgets client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._budgets import (
    Alert,
    BudgetError,
    Budgets,
    desired_budget,
    desired_summary,
    limit_in_usd,
)

DEFAULT_ALERTS = [
    {"type": "actual", "percent": 80},
    {"type": "actual", "percent": 100},
    {"type": "forecasted", "percent": 100},
]


class FakeBudgets:
    """Keeps budgets like AWS Budgets and records every write."""

    def __init__(self) -> None:
        self.budgets: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[Alert, list[dict[str, str]]]] = {}
        self.writes: list[str] = []

    def describe_budgets(self, AccountId: str) -> dict[str, Any]:
        return {"Budgets": list(self.budgets.values())}

    def describe_notifications_for_budget(self, AccountId: str, BudgetName: str) -> dict[str, Any]:
        return {"Notifications": [alert.notification for alert in self.alerts[BudgetName]]}

    def describe_subscribers_for_notification(self, AccountId, BudgetName, Notification) -> dict[str, Any]:
        return {"Subscribers": self.alerts[BudgetName][Alert.from_notification(Notification)]}

    def create_budget(self, AccountId, Budget, NotificationsWithSubscribers) -> None:
        self.writes.append("CreateBudget")
        self.budgets[Budget["BudgetName"]] = Budget
        self.alerts[Budget["BudgetName"]] = {
            Alert.from_notification(n["Notification"]): list(n["Subscribers"])
            for n in NotificationsWithSubscribers
        }

    def update_budget(self, AccountId, NewBudget) -> None:
        self.writes.append("UpdateBudget")
        self.budgets[NewBudget["BudgetName"]] = NewBudget

    def create_notification(self, AccountId, BudgetName, Notification, Subscribers) -> None:
        self.writes.append("CreateNotification")
        self.alerts[BudgetName][Alert.from_notification(Notification)] = list(Subscribers)

    def delete_notification(self, AccountId, BudgetName, Notification) -> None:
        self.writes.append("DeleteNotification")
        del self.alerts[BudgetName][Alert.from_notification(Notification)]

    def create_subscriber(self, AccountId, BudgetName, Notification, Subscriber) -> None:
        self.writes.append("CreateSubscriber")
        self.alerts[BudgetName][Alert.from_notification(Notification)].append(Subscriber)

    def delete_subscriber(self, AccountId, BudgetName, Notification, Subscriber) -> None:
        self.writes.append("DeleteSubscriber")
        self.alerts[BudgetName][Alert.from_notification(Notification)].remove(Subscriber)

    def delete_budget(self, AccountId, BudgetName) -> None:
        self.writes.append("DeleteBudget")
        del self.budgets[BudgetName]


def budget(limit: str = "40.00", emails=("ops@example.com",), alerts=DEFAULT_ALERTS, project="macroai"):
    return desired_budget("macroai-production-monthly", Decimal(limit), project, alerts, list(emails), None)


@pytest.mark.parametrize(
    ("limit_usd", "limit_gbp", "rate", "expected"),
    [
        (None, 30, 0.75, "40.00"),
        (None, 100, 0.75, "133.33"),
        (55.5, None, 0.75, "55.50"),
        (None, 300, 0.8, "375.00"),
    ],
)
def test_limit_is_usd_converted_from_gbp(limit_usd, limit_gbp, rate, expected):
    assert str(limit_in_usd(limit_usd, limit_gbp, rate)) == expected


def test_create_then_rerun_writes_nothing():
    client = FakeBudgets()
    changed, actions = Budgets(client, "123456789012").present(budget())
    assert changed and client.writes == ["CreateBudget"]
    created = client.budgets["macroai-production-monthly"]
    assert created["CostFilters"] == {"TagKeyValue": ["user:Project$macroai"]}
    assert len(client.alerts["macroai-production-monthly"]) == 3
    client.writes.clear()
    assert Budgets(client, "123456789012").present(budget()) == (False, [])
    assert client.writes == []


def test_check_mode_reports_and_writes_nothing():
    client = FakeBudgets()
    changed, actions = Budgets(client, "123456789012", check_mode=True).present(budget())
    assert changed and actions == ["created budget macroai-production-monthly at 40.00 USD a month"]
    assert client.writes == [] and client.budgets == {}


def test_limit_change_updates_and_subscriber_change_adds_before_removing():
    client = FakeBudgets()
    Budgets(client, "1").present(budget())
    client.writes.clear()
    changed, actions = Budgets(client, "1").present(budget(limit="133.33", emails=["cto@example.com"]))
    assert changed
    assert client.writes == ["UpdateBudget"] + ["CreateSubscriber", "DeleteSubscriber"] * 3
    assert client.budgets["macroai-production-monthly"]["BudgetLimit"]["Amount"] == "133.33"


def test_alerts_not_wanted_are_deleted_and_new_ones_created():
    client = FakeBudgets()
    Budgets(client, "1").present(budget())
    client.writes.clear()
    Budgets(client, "1").present(budget(alerts=[{"type": "actual", "percent": 50}]))
    assert sorted(client.writes) == ["CreateNotification"] + ["DeleteNotification"] * 3
    assert list(client.alerts["macroai-production-monthly"]) == [Alert("actual", 50.0)]


def test_absent_deletes_once():
    client = FakeBudgets()
    Budgets(client, "1").present(budget())
    assert Budgets(client, "1").absent("macroai-production-monthly") is True
    assert Budgets(client, "1").absent("macroai-production-monthly") is False


def test_summary_lists_alerts_with_subscribers():
    summary = desired_summary(budget())
    assert summary["limit_usd"] == "40.00"
    first = {"type": "actual", "percent": 80.0, "subscribers": ["email:ops@example.com"]}
    assert summary["alerts"][0] == first
    assert [a["type"] for a in summary["alerts"]] == ["actual", "actual", "forecasted"]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"emails": []}, "cost_budget_notify_emails"),
        ({"emails": ["not-an-address"]}, "notify_emails"),
        ({"alerts": [{"type": "actual", "percent": 0}]}, "alerts[0].percent"),
        ({"alerts": [{"type": "actual", "percent": 80}] * 2}, "twice"),
        ({"limit": "0"}, "above 0 USD"),
    ],
)
def test_bad_settings_name_the_option(kwargs, named):
    with pytest.raises(BudgetError) as raised:
        budget(**kwargs)
    assert named in str(raised.value)


def test_no_alerts_needs_no_subscribers():
    assert budget(emails=[], alerts=[]).alerts == []
