"""Cost controls against the sandbox: the budget (check, create, rerun), the tag audit, the scale advice and
the preflight cost gate of playbooks/deploy.yml.

One hobby deployment for the module (under a unique environment name) serves the tag audit and the advice. It
is released over a cost ceiling with accept_cost, and with a fifth of its EC2 calls throttled: the networking
phase's retries are proven on the same run.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from support import ansible_env, aws_client, deploy, json_result, recap, run_playbook

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

ENVIRONMENT = f"c{uuid.uuid4().hex[:6]}"
PREFIX = f"macroai-{ENVIRONMENT}"
SCALE = ("inventories/hobby", "inventories/sandbox")


def playbook(sandbox: SandboxClient, name: str, *extra_args: str, json_output: bool = False):
    extra_env = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    return run_playbook(
        f"playbooks/{name}",
        SCALE,
        ("-e", f"deploy_environment={ENVIRONMENT}", *extra_args),
        env=ansible_env(sandbox.base_url, **extra_env),
    )


def writes_since(sandbox: SandboxClient, started: float) -> list[str]:
    return [f"{r['service']}:{r['operation']}" for r in sandbox.requests(write=True, since=started)]


@dataclass
class Hobby:
    completed: subprocess.CompletedProcess[str]
    ec2_calls: list[dict]


@pytest.fixture(scope="module")
def hobby(sandbox: SandboxClient) -> Iterator[Hobby]:
    started = time.time()
    sandbox.add_fault(service="ec2", code="ThrottlingException", status=400, rate=0.2)
    try:
        completed = deploy(
            sandbox,
            "hobby",
            *(
                "-e",
                f"deploy_environment={ENVIRONMENT}",
                "-e",
                "cost_ceiling_gbp=1",
                "-e",
                "accept_cost=true",
            ),
        )
    finally:
        sandbox.clear_faults()
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-5000:]
    yield Hobby(completed, sandbox.requests(service="ec2", since=started))
    sandbox.reset()


def test_the_release_completes_with_a_fifth_of_ec2_calls_throttled(hobby: Hobby) -> None:
    assert recap(hobby.completed.stdout)["failed"] == 0
    throttled = [call for call in hobby.ec2_calls if call["faulted"]]
    # The faults really fired, at roughly the rate asked for (bounds wide enough for chance).
    assert len(hobby.ec2_calls) >= 50
    assert 0.05 * len(hobby.ec2_calls) <= len(throttled) <= 0.4 * len(hobby.ec2_calls)
    vpcs = [call for call in hobby.ec2_calls if call["operation"] == "CreateVpc" and not call["faulted"]]
    assert len(vpcs) == 1, "a retried create must not make a second VPC"


def test_budget_check_then_create_then_rerun_unchanged(sandbox: SandboxClient):
    emails = ("-e", json.dumps({"cost_budget_notify_emails": ["ops@example.com"]}))
    started = time.time()
    check = playbook(sandbox, "budget.yml", *emails, "--check", "--diff")
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check.stdout)["changed"] == 1
    assert writes_since(sandbox, started) == [], "check mode wrote to AWS"

    created = playbook(sandbox, "budget.yml", *emails)
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
    rerun = playbook(sandbox, "budget.yml", *emails)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert recap(rerun.stdout)["changed"] == 0
    assert writes_since(sandbox, started) == []
    budgets.delete_budget(AccountId=account, BudgetName=f"{PREFIX}-monthly")


def test_tag_audit_names_the_planted_subnet_and_only_it(sandbox: SandboxClient, hobby):
    ec2 = aws_client(sandbox, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": [ENVIRONMENT]}])["Vpcs"][0]
    planted = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.250.0/24")["Subnet"]["SubnetId"]
    try:
        audit = playbook(sandbox, "tag_audit.yml", json_output=True)
        assert audit.returncode == 0, audit.stdout[-3000:] + audit.stderr
        result = json_result(audit, task=0, host="controller")
    finally:
        ec2.delete_subnet(SubnetId=planted)
    assert result["by_type"]["ec2:subnet"] >= 5  # the deployment's four plus the planted one
    # Every type the audit checks took part: an untagged cluster, service, load balancer, target group, log
    # group, image repository or IAM role of the release would be a finding below.
    for kind in (
        "ec2:vpc",
        "ec2:security-group",
        "ecs:cluster",
        "ecs:service",
        "elasticloadbalancing:loadbalancer",
        "elasticloadbalancing:targetgroup",
        "logs:log-group",
        "ecr:repository",
        "iam:role",
    ):
        assert kind in result["by_type"], (kind, result["by_type"])
    assert result["by_type"]["iam:role"] == 3  # execution, task and ECS infrastructure, all tagged
    # Across all of them, the planted subnet is the only resource without the tags.
    assert result["untagged"] == [
        {
            "resource_id": planted,
            "arn": None,
            "type": "ec2:subnet",
            "name": None,
            "missing": ["Project", "Environment", "Scale", "Component", "ManagedBy"],
        }
    ]


def put_metrics(
    sandbox: SandboxClient, environment: str, cpu: float, memory: float, response_time: float | None
):
    """A day of hourly figures for the service of ``environment`` (and its load balancer, when given)."""
    cloudwatch = aws_client(sandbox, "cloudwatch")
    prefix = f"macroai-{environment}"
    service = [{"Name": "ClusterName", "Value": prefix}, {"Name": "ServiceName", "Value": f"{prefix}-api"}]
    hours = [datetime.now(UTC) - timedelta(hours=h, minutes=5) for h in range(24)]
    for name, value in (("CPUUtilization", cpu), ("MemoryUtilization", memory)):
        cloudwatch.put_metric_data(
            Namespace="AWS/ECS",
            MetricData=[
                {"MetricName": name, "Dimensions": service, "Timestamp": t, "Value": value, "Unit": "Percent"}
                for t in hours
            ],
        )
    if response_time is None:
        return
    balancers = aws_client(sandbox, "elbv2").describe_load_balancers(Names=[prefix])["LoadBalancers"]
    dimension = balancers[0]["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": [{"Name": "LoadBalancer", "Value": dimension}],
                "Timestamp": t,
                "Value": response_time,
                "Unit": "Seconds",
            }
            for t in hours
        ],
    )


def advice(sandbox: SandboxClient, environment: str, users: int, revenue: float) -> dict:
    # moto answers GetMetricData's percentile statistics (p95) with a server error: the sandbox reads Average.
    completed = run_playbook(
        "playbooks/scale_advice.yml",
        SCALE,
        (
            *("-e", f"deploy_environment={environment}", "-e", f"users={users}"),
            *("-e", f"monthly_revenue_gbp={revenue}", "-e", "scale_advice_response_time_statistic=Average"),
        ),
        env=ansible_env(sandbox.base_url, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"),
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    return json_result(completed, task=0, host="controller")


def test_scale_advice_hobby_below_the_thresholds(sandbox: SandboxClient):
    quiet = f"{ENVIRONMENT}q"  # a service with metrics and no load balancer: response time has no data
    put_metrics(sandbox, quiet, cpu=20, memory=40, response_time=None)
    low = advice(sandbox, quiet, users=40, revenue=300)
    assert low["recommended_scale"] == "hobby" and low["change"] == "stay"
    reasons = {r["trigger"]: r for r in low["reasons"]}
    assert reasons["cpu_percent"]["value"] == 20.0 and not reasons["cpu_percent"]["triggered"]
    assert "not found" in reasons["response_time_seconds"]["message"]
    assert "users: 40 (under 100) -> hobby" in low["summary"]


def test_scale_advice_enterprise_above_the_thresholds(sandbox: SandboxClient, hobby):
    put_metrics(sandbox, ENVIRONMENT, cpu=95, memory=90, response_time=3.0)
    high = advice(sandbox, ENVIRONMENT, users=40, revenue=300)
    assert high["recommended_scale"] == "enterprise" and high["change"] == "up"
    triggered = {r["trigger"]: r for r in high["reasons"] if r["triggered"]}
    assert set(triggered) == {"cpu_percent", "memory_percent", "response_time_seconds"}
    cpu = triggered["cpu_percent"]["message"]
    assert "95.00%" in cpu and "above 80%" in cpu
    assert "3.00 s" in triggered["response_time_seconds"]["message"]
    assert "Recommended scale: enterprise (now hobby: move up)" in high["summary"]


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


def test_preflight_accepts_it_with_accept_cost(hobby: Hobby):
    # The module's deployment ran over cost_ceiling_gbp=1 with accept_cost: preflight passed and said so.
    output = " ".join((hobby.completed.stdout + hobby.completed.stderr).split())
    assert "GBP 27.36 a month (USD 36.48, before VAT), over the ceiling of GBP 1.00: accepted" in output
