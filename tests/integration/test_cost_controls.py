"""Cost controls against the sandbox: the budget (check, create, rerun), the tag audit, the scale advice and
the preflight cost gate of playbooks/deploy.yml.

The checks that need a whole deployment (the tag audit, the advice to move up, accept_cost, a release under
EC2 throttling) run on test_backend_release.py's deployment (tests/integration/cost.py): one first release
fewer. Here: the budget, the advice for a quiet service, the refusal over the ceiling.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from cost import advice, playbook, put_metrics, writes_since
from support import aws_client, deploy, recap

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

ENVIRONMENT = f"c{uuid.uuid4().hex[:6]}"
PREFIX = f"macroai-{ENVIRONMENT}"


def test_budget_check_then_create_then_rerun_unchanged(sandbox: SandboxClient):
    emails = ("-e", json.dumps({"cost_budget_notify_emails": ["ops@example.com"]}))
    started = time.time()
    check = playbook(sandbox, ENVIRONMENT, "budget.yml", *emails, "--check", "--diff")
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check.stdout)["changed"] == 1
    assert writes_since(sandbox, started) == [], "check mode wrote to AWS"

    created = playbook(sandbox, ENVIRONMENT, "budget.yml", *emails)
    assert created.returncode == 0, created.stdout + created.stderr
    assert recap(created.stdout)["changed"] == 1
    budgets = aws_client(sandbox, "budgets")
    account = aws_client(sandbox, "sts").get_caller_identity()["Account"]
    budget = budgets.describe_budget(AccountId=account, BudgetName=f"{PREFIX}-monthly")["Budget"]
    assert budget["BudgetLimit"] == {"Amount": "40.00", "Unit": "USD"}  # GBP 30 at 0.75
    assert budget["CostFilters"] == {"TagKeyValue": ["user:Project$macroai"]}
    name = f"{PREFIX}-monthly"
    notifications = budgets.describe_notifications_for_budget(AccountId=account, BudgetName=name)
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notifications["Notifications"]) == [
        ("ACTUAL", 80.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 100.0),
    ]

    started = time.time()
    rerun = playbook(sandbox, ENVIRONMENT, "budget.yml", *emails)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert recap(rerun.stdout)["changed"] == 0
    assert writes_since(sandbox, started) == []
    budgets.delete_budget(AccountId=account, BudgetName=f"{PREFIX}-monthly")


def test_scale_advice_hobby_below_the_thresholds(sandbox: SandboxClient):
    quiet = f"{ENVIRONMENT}q"  # a service with metrics and no load balancer: response time has no data
    put_metrics(sandbox, quiet, cpu=20, memory=40, response_time=None)
    low = advice(sandbox, quiet, users=40, revenue=300)
    assert low["recommended_scale"] == "hobby" and low["change"] == "stay"
    reasons = {r["trigger"]: r for r in low["reasons"]}
    assert reasons["cpu_percent"]["value"] == 20.0 and not reasons["cpu_percent"]["triggered"]
    assert "not found" in reasons["response_time_seconds"]["message"]
    assert "users: 40 (under 100) -> hobby" in low["summary"]


def test_preflight_refuses_a_release_over_the_ceiling_with_the_figures(sandbox: SandboxClient):
    started = time.time()
    refused = deploy(sandbox, "hobby", "-e", f"deploy_environment={ENVIRONMENT}x", "-e", "cost_ceiling_gbp=1")
    output = " ".join((refused.stdout + refused.stderr).split())  # the callback wraps long messages
    assert refused.returncode != 0, output[-3000:]
    assert "The monthly estimate is GBP 27.36 (USD 36.48" in output, output[-3000:]
    assert "over cost_ceiling_gbp=GBP 1.00" in output
    assert "Application Load Balancer USD 19.32" in output
    assert "-e accept_cost=true" in output
    assert writes_since(sandbox, started) == []
