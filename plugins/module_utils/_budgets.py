# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An AWS Budgets monthly cost budget with its alerts: desired state, comparison, and converging calls.

Plain Python over a boto3 ``budgets`` client (``plugins/modules/cost_budget.py`` is the shell), so unit tests
drive it with a fake client. Compare, then act: nothing is called when the budget already matches, and in
check mode the changes are reported without being made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DEFAULT_ALERTS: tuple[tuple[str, float], ...] = (("actual", 80.0), ("actual", 100.0), ("forecasted", 100.0))
MAX_EMAIL_SUBSCRIBERS = 10  # AWS Budgets: at most 10 email subscribers and 1 SNS topic per notification


class BudgetError(ValueError):
    """Settings that cannot make a budget; ``errors`` name the option and what would be valid."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


def money(amount: float | str | Decimal) -> str:
    """The amount as AWS Budgets stores it after an update: two decimals, e.g. ``'40.00'``."""
    return str(Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def limit_in_usd(limit_usd: float | None, limit_gbp: float | None, usd_to_gbp: float) -> Decimal:
    """The budget limit in USD: given directly, or converted from GBP at ``usd_to_gbp`` pounds per dollar."""
    if limit_usd is not None:
        return Decimal(money(limit_usd))
    if limit_gbp is None:
        raise BudgetError(["give limit_usd or limit_gbp"])
    if usd_to_gbp <= 0:
        raise BudgetError([f"usd_to_gbp={usd_to_gbp} must be above 0 (pounds per dollar, about 0.75)"])
    return Decimal(money(Decimal(str(limit_gbp)) / Decimal(str(usd_to_gbp))))


@dataclass(frozen=True)
class Alert:
    """One notification: ``kind`` is ``actual`` or ``forecasted``; fires above ``percent`` of the limit."""

    kind: str
    percent: float

    @property
    def notification(self) -> dict[str, Any]:
        return {
            "NotificationType": self.kind.upper(),
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": float(self.percent),
            "ThresholdType": "PERCENTAGE",
        }

    @classmethod
    def from_notification(cls, notification: dict[str, Any]) -> Alert:
        return cls(kind=notification["NotificationType"].lower(), percent=float(notification["Threshold"]))

    @staticmethod
    def is_ours(notification: dict[str, Any]) -> bool:
        """Percentage, greater-than notifications are the shape this module manages; others are left alone."""
        return (
            notification.get("ComparisonOperator") == "GREATER_THAN"
            and notification.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE"
        )


@dataclass(frozen=True)
class Subscriber:
    kind: str  # EMAIL or SNS
    address: str

    @property
    def api(self) -> dict[str, str]:
        return {"SubscriptionType": self.kind, "Address": self.address}


@dataclass
class DesiredBudget:
    name: str
    limit_usd: Decimal
    project: str | None = None
    alerts: list[Alert] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)

    @property
    def cost_filters(self) -> dict[str, list[str]]:
        # Cost allocation tags are filtered as "user:<key>$<value>"; the tag must be activated in Billing.
        return {"TagKeyValue": [f"user:Project${self.project}"]} if self.project else {}

    def api_budget(self) -> dict[str, Any]:
        budget: dict[str, Any] = {
            "BudgetName": self.name,
            "BudgetLimit": {"Amount": str(self.limit_usd), "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        }
        if self.project:
            budget["CostFilters"] = self.cost_filters
        return budget


def desired_budget(
    name: str,
    limit_usd: Decimal,
    project: str | None,
    alerts: Sequence[dict[str, Any]],
    emails: Sequence[str],
    sns_topic_arn: str | None,
) -> DesiredBudget:
    """Validate the settings and build the desired budget; raises BudgetError naming each bad option."""
    errors = []
    if not name or len(name) > 100 or any(c in name for c in ":\\"):
        errors.append(f"name={name!r} must be 1 to 100 characters without ':' or '\\'")
    if limit_usd <= 0:
        errors.append(f"the limit must be above 0 USD, not {limit_usd}")
    parsed = []
    for index, alert in enumerate(alerts):
        kind, percent = str(alert.get("type", "")).lower(), alert.get("percent")
        if kind not in ("actual", "forecasted"):
            errors.append(f"alerts[{index}].type={alert.get('type')!r}: use actual or forecasted")
            continue
        if not isinstance(percent, (int, float)) or not 0 < float(percent) <= 1000:
            errors.append(f"alerts[{index}].percent={percent!r}: a percentage of the limit above 0, e.g. 80")
            continue
        parsed.append(Alert(kind, float(percent)))
    if len(set(parsed)) != len(parsed):
        errors.append("alerts lists the same type and percent twice")
    if len(emails) > MAX_EMAIL_SUBSCRIBERS:
        errors.append(
            f"notify_emails has {len(emails)} addresses; AWS Budgets takes at most {MAX_EMAIL_SUBSCRIBERS}"
        )
    errors += [f"notify_emails: {email!r} is not an email address" for email in emails if "@" not in email]
    if sns_topic_arn and not (sns_topic_arn.startswith("arn:") and ":sns:" in sns_topic_arn):
        errors.append(
            f"sns_topic_arn={sns_topic_arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
        )
    if parsed and not emails and not sns_topic_arn:
        errors.append(
            "the alerts have nobody to tell: set notify_emails (cost_budget_notify_emails) or sns_topic_arn "
            "(cost_budget_sns_topic_arn), or alerts: [] for a budget without alerts"
        )
    if errors:
        raise BudgetError(errors)
    subscribers = [Subscriber("EMAIL", email) for email in dict.fromkeys(emails)]
    if sns_topic_arn:
        subscribers.append(Subscriber("SNS", sns_topic_arn))
    return DesiredBudget(name, limit_usd, project or None, sorted(set(parsed), key=_alert_order), subscribers)


def _alert_order(alert: Alert) -> tuple[str, float]:
    return (alert.kind, alert.percent)


def budget_summary(budget: dict[str, Any] | None, alerts: dict[Alert, list[Subscriber]]) -> dict[str, Any]:
    """What the module returns, and the before/after of its diff: snake_case, amounts as strings."""
    if budget is None:
        return {}
    return {
        "name": budget["BudgetName"],
        "limit_usd": money(budget["BudgetLimit"]["Amount"]),
        "time_unit": budget.get("TimeUnit"),
        "budget_type": budget.get("BudgetType"),
        "cost_filters": budget.get("CostFilters") or {},
        "alerts": [
            {
                "type": alert.kind,
                "percent": alert.percent,
                "subscribers": sorted(f"{s.kind.lower()}:{s.address}" for s in subscribers),
            }
            for alert, subscribers in sorted(alerts.items(), key=lambda pair: _alert_order(pair[0]))
        ],
    }


def budget_differs(current: dict[str, Any], desired: DesiredBudget) -> bool:
    """Whether UpdateBudget is needed: the limit, period, type or cost filters differ."""
    return (
        money(current["BudgetLimit"]["Amount"]) != str(desired.limit_usd)
        or current["BudgetLimit"].get("Unit") != "USD"
        or current.get("TimeUnit") != "MONTHLY"
        or current.get("BudgetType") != "COST"
        or (current.get("CostFilters") or {}) != desired.cost_filters
    )


class Budgets:
    """Reads and converges one budget through a boto3 ``budgets`` client; ``check_mode`` only reports."""

    def __init__(self, client: Any, account_id: str, check_mode: bool = False) -> None:
        self.client = client
        self.account_id = account_id
        self.check_mode = check_mode

    def read(self, name: str) -> tuple[dict[str, Any] | None, dict[Alert, list[Subscriber]]]:
        """The budget (None when it does not exist) and its alerts with their subscribers."""
        budget = self._find(name)
        if budget is None:
            return None, {}
        notifications = self.client.describe_notifications_for_budget(
            AccountId=self.account_id, BudgetName=name
        )
        alerts = {}
        for notification in notifications.get("Notifications", []):
            if not Alert.is_ours(notification):
                continue
            subscribers = self.client.describe_subscribers_for_notification(
                AccountId=self.account_id, BudgetName=name, Notification=notification
            ).get("Subscribers", [])
            alerts[Alert.from_notification(notification)] = [
                Subscriber(s["SubscriptionType"], s["Address"]) for s in subscribers
            ]
        return budget, alerts

    def _find(self, name: str) -> dict[str, Any] | None:
        # DescribeBudgets rather than DescribeBudget: "not found" is then an answer, not an error to parse.
        request: dict[str, Any] = {"AccountId": self.account_id}
        while True:
            page = self.client.describe_budgets(**request)
            for budget in page.get("Budgets", []):
                if budget["BudgetName"] == name:
                    return budget
            if not page.get("NextToken"):
                return None
            request["NextToken"] = page["NextToken"]

    def present(
        self,
        desired: DesiredBudget,
        current: tuple[dict[str, Any] | None, dict[Alert, list[Subscriber]]] | None = None,
    ) -> tuple[bool, list[str]]:
        """Create or update the budget and its alerts; returns (changed, what changed).

        ``current`` is what read() returned, when the caller has read it already."""
        budget, alerts = current if current is not None else self.read(desired.name)
        if budget is None:
            if not self.check_mode:
                self.client.create_budget(
                    AccountId=self.account_id,
                    Budget=desired.api_budget(),
                    NotificationsWithSubscribers=[
                        {
                            "Notification": alert.notification,
                            "Subscribers": [s.api for s in desired.subscribers],
                        }
                        for alert in desired.alerts
                    ],
                )
            return True, [f"created budget {desired.name} at {desired.limit_usd} USD a month"]
        actions = []
        if budget_differs(budget, desired):
            actions.append(f"updated the limit or filters of {desired.name}")
            if not self.check_mode:
                self.client.update_budget(AccountId=self.account_id, NewBudget=desired.api_budget())
        actions += self._converge_alerts(desired, alerts)
        return bool(actions), actions

    def _converge_alerts(self, desired: DesiredBudget, current: dict[Alert, list[Subscriber]]) -> list[str]:
        actions = []
        call = dict(AccountId=self.account_id, BudgetName=desired.name)
        for alert in current:
            if alert not in desired.alerts:
                actions.append(f"deleted the {alert.kind} {alert.percent:g}% alert")
                if not self.check_mode:
                    self.client.delete_notification(**call, Notification=alert.notification)
        for alert in desired.alerts:
            if alert not in current:
                actions.append(f"created the {alert.kind} {alert.percent:g}% alert")
                if not self.check_mode:
                    self.client.create_notification(
                        **call,
                        Notification=alert.notification,
                        Subscribers=[s.api for s in desired.subscribers],
                    )
                continue
            have, want = set(current[alert]), set(desired.subscribers)
            # Add before removing: a notification must keep at least one subscriber.
            for subscriber in [s for s in desired.subscribers if s not in have]:
                actions.append(
                    f"subscribed {subscriber.address} to the {alert.kind} {alert.percent:g}% alert"
                )
                if not self.check_mode:
                    self.client.create_subscriber(
                        **call, Notification=alert.notification, Subscriber=subscriber.api
                    )
            for subscriber in [s for s in current[alert] if s not in want]:
                actions.append(
                    f"unsubscribed {subscriber.address} from the {alert.kind} {alert.percent:g}% alert"
                )
                if not self.check_mode:
                    self.client.delete_subscriber(
                        **call, Notification=alert.notification, Subscriber=subscriber.api
                    )
        return actions

    def absent(self, name: str, exists: bool | None = None) -> bool:
        if not (exists if exists is not None else self._find(name) is not None):
            return False
        if not self.check_mode:
            self.client.delete_budget(AccountId=self.account_id, BudgetName=name)
        return True


def desired_summary(desired: DesiredBudget) -> dict[str, Any]:
    """budget_summary() of the budget as it will be once converged."""
    return budget_summary(desired.api_budget(), {alert: desired.subscribers for alert in desired.alerts})
