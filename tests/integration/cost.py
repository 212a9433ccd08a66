"""The cost controls' checks (tag audit, scale advice, the preflight cost gate, a release under EC2
throttling), for test_cost_controls.py and for the deployment of test_backend_release.py, which runs them on
its first release (over a cost ceiling with accept_cost, with a fifth of its EC2 calls throttled)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from support import ansible_env, aws_client, json_result, recap, run_playbook

from sandbox.client import SandboxClient

SCALE = ("inventories/hobby", "inventories/sandbox")
# The arguments that put a hobby release over its cost ceiling and accept it.
OVER_THE_CEILING = ("-e", "cost_ceiling_gbp=1", "-e", "accept_cost=true")


def playbook(
    sandbox: SandboxClient, environment: str, name: str, *extra_args: str, json_output: bool = False
) -> subprocess.CompletedProcess[str]:
    extra_env = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    return run_playbook(
        f"playbooks/{name}",
        SCALE,
        ("-e", f"deploy_environment={environment}", *extra_args),
        env=ansible_env(sandbox.base_url, **extra_env),
    )


def writes_since(sandbox: SandboxClient, started: float) -> list[str]:
    return [f"{r['service']}:{r['operation']}" for r in sandbox.requests(write=True, since=started)]


def check_the_release_completed_with_a_fifth_of_ec2_calls_throttled(
    completed: subprocess.CompletedProcess[str], ec2_calls: list[dict]
) -> None:
    """A release run while the sandbox answered a fifth of EC2 calls with RequestLimitExceeded."""
    assert recap(completed.stdout)["failed"] == 0
    throttled = [call for call in ec2_calls if call["faulted"]]
    # The faults really fired, at roughly the rate asked for (bounds wide enough for chance).
    assert len(ec2_calls) >= 50
    assert 0.05 * len(ec2_calls) <= len(throttled) <= 0.4 * len(ec2_calls)
    vpcs = [call for call in ec2_calls if call["operation"] == "CreateVpc" and not call["faulted"]]
    assert len(vpcs) == 1, "a retried create must not make a second VPC"


def check_preflight_accepted_the_cost(completed: subprocess.CompletedProcess[str]) -> None:
    """A hobby release run with cost_ceiling_gbp=1 and accept_cost=true."""
    output = " ".join((completed.stdout + completed.stderr).split())
    assert "GBP 27.36 a month (USD 36.48, before VAT), over the ceiling of GBP 1.00: accepted" in output


def check_tag_audit_names_the_planted_subnet_and_only_it(sandbox: SandboxClient, environment: str) -> None:
    """playbooks/tag_audit.yml over a whole deployment with one untagged subnet planted in its VPC."""
    ec2 = aws_client(sandbox, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": [environment]}])["Vpcs"][0]
    planted = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.250.0/24")["Subnet"]["SubnetId"]
    try:
        audit = playbook(sandbox, environment, "tag_audit.yml", json_output=True)
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


def check_scale_advice_enterprise_above_the_thresholds(sandbox: SandboxClient, environment: str) -> None:
    """A day of high figures for a deployed hobby service: the advice is to move up, naming each trigger."""
    put_metrics(sandbox, environment, cpu=95, memory=90, response_time=3.0)
    high = advice(sandbox, environment, users=40, revenue=300)
    assert high["recommended_scale"] == "enterprise" and high["change"] == "up"
    triggered = {r["trigger"]: r for r in high["reasons"] if r["triggered"]}
    assert set(triggered) == {"cpu_percent", "memory_percent", "response_time_seconds"}
    cpu = triggered["cpu_percent"]["message"]
    assert "95.00%" in cpu and "above 80%" in cpu
    assert "3.00 s" in triggered["response_time_seconds"]["message"]
    assert "Recommended scale: enterprise (now hobby: move up)" in high["summary"]
