"""AWS Budgets calls moto 5.2 does not implement, on moto's own budget models.

moto keeps budgets and their notifications (with subscribers) but answers only CreateBudget,
DescribeBudget(s), DeleteBudget, CreateNotification, DeleteNotification and DescribeNotificationsForBudget.
This middleware adds UpdateBudget, DescribeSubscribersForNotification, CreateSubscriber, DeleteSubscriber and
UpdateNotification, so ``macroai.deploy.cost_budget`` can compare and converge in the sandbox as on AWS.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TARGET_PREFIX = "AWSBudgetServiceGateway."
NOTIFICATION_KEYS = ("NotificationType", "ComparisonOperator", "Threshold", "ThresholdType")


class BudgetsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _same_notification(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def key(notification: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            float(notification.get(name, 0)) if name == "Threshold" else notification.get(name, "PERCENTAGE")
            for name in NOTIFICATION_KEYS
        )

    return key(stored) == key(wanted)


def _budget(account_id: str, name: str) -> Any:
    from moto.budgets.models import budgets_backends

    budgets = budgets_backends[account_id]["aws"].budgets[account_id]
    if name not in budgets:
        raise BudgetsError("NotFoundException", f"Unable to get budget: {name} - the budget doesn't exist.")
    return budgets[name]


def _notification(budget: Any, wanted: dict[str, Any]) -> Any:
    for notification in budget.notifications:
        if _same_notification(notification.details, wanted):
            return notification
    raise BudgetsError("NotFoundException", "Unable to find the notification: it doesn't exist.")


def _subscribers(notification: Any) -> list[dict[str, Any]]:
    return list(notification.subscribers)


def update_budget(request: dict[str, Any]) -> dict[str, Any]:
    new = dict(request["NewBudget"])
    budget = _budget(request["AccountId"], new["BudgetName"])
    if "BudgetLimit" not in new and "PlannedBudgetLimits" not in new:
        raise BudgetsError(
            "InvalidParameterException", "Unable to update budget - please provide a Budget Limit"
        )
    new.setdefault("TimePeriod", budget.budget.get("TimePeriod"))
    from moto.core.utils import unix_time

    new["LastUpdatedTime"] = unix_time()
    budget.budget = new
    return {}


def describe_subscribers(request: dict[str, Any]) -> dict[str, Any]:
    budget = _budget(request["AccountId"], request["BudgetName"])
    return {"Subscribers": _subscribers(_notification(budget, request["Notification"]))}


def create_subscriber(request: dict[str, Any]) -> dict[str, Any]:
    notification = _notification(
        _budget(request["AccountId"], request["BudgetName"]), request["Notification"]
    )
    subscriber = request["Subscriber"]
    if subscriber in notification.subscribers:
        raise BudgetsError("DuplicateRecordException", "Error creating subscriber: it already exists.")
    notification.subscribers = [*notification.subscribers, subscriber]
    return {}


def delete_subscriber(request: dict[str, Any]) -> dict[str, Any]:
    notification = _notification(
        _budget(request["AccountId"], request["BudgetName"]), request["Notification"]
    )
    subscriber = request["Subscriber"]
    if subscriber not in notification.subscribers:
        raise BudgetsError("NotFoundException", "Unable to delete subscriber: it doesn't exist.")
    notification.subscribers = [s for s in notification.subscribers if s != subscriber]
    return {}


def update_notification(request: dict[str, Any]) -> dict[str, Any]:
    notification = _notification(
        _budget(request["AccountId"], request["BudgetName"]), request["OldNotification"]
    )
    notification.details = dict(request["NewNotification"])
    return {}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "UpdateBudget": update_budget,
    "DescribeSubscribersForNotification": describe_subscribers,
    "CreateSubscriber": create_subscriber,
    "DeleteSubscriber": delete_subscriber,
    "UpdateNotification": update_notification,
}


def wrap(aws_app: WSGIApp) -> WSGIApp:
    """Answer the operations above; pass every other call to ``aws_app``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = OPERATIONS.get(target[len(TARGET_PREFIX) :]) if target.startswith(TARGET_PREFIX) else None
        if operation is None:
            return aws_app(environ, start_response)
        length = environ.get("CONTENT_LENGTH") or "0"
        request = json.loads(environ["wsgi.input"].read(int(length)) or b"{}")
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", secrets.token_hex(16)),
        ]
        try:
            status, payload = "200 OK", operation(request)
        except BudgetsError as e:
            status, payload = "400 Bad Request", {"__type": e.code, "message": e.message}
            headers.append(("x-amzn-ErrorType", e.code))
        except KeyError as e:
            status, payload = (
                "400 Bad Request",
                {"__type": "InvalidParameterException", "message": f"missing {e}"},
            )
        body = json.dumps(payload).encode()
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app
