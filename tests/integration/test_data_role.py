"""roles/data against the sandbox, at both scales: what exists after a run, that a rerun (at -vvv) changes
nothing and prints no secret, and that the DATABASE_URL secret reaches a real PostgreSQL.

Hobby: a Neon project of its own (made through the emulator's API, deleted at the end) and a Redis URL given
as an extra variable. Enterprise: a VPC, isolated subnets and security groups made with boto3 stand in for the
networking fact; RDS is the sandbox's stand-in (a real database) and ElastiCache its replication-group
emulation. Each scale runs the role three times: in check mode on the empty account (it must write nothing),
for real, and again at -vvv.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support import ansible_env, aws_client, recap, run_playbook

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


def data_playbook(scratch: Path) -> Path:
    """The data role alone, as deploy.yml runs it (same module_defaults), writing the data fact to a file."""
    connection = {
        "endpoint_url": "{{ aws_endpoint_url | default(omit) }}",
        "access_key": "{{ aws_access_key | default(omit) }}",
        "secret_key": "{{ aws_secret_key | default(omit) }}",
    }
    play = {
        "name": "The data role",
        "hosts": "controller",
        "gather_facts": False,
        "environment": {"AWS_REGION": "{{ aws_region }}"},
        "module_defaults": {"group/amazon.aws.aws": connection, "group/macroai.deploy.aws": connection},
        "tasks": [
            {"name": "Data", "ansible.builtin.import_role": {"name": "macroai.deploy.data"}},
            {
                "name": "Keep the data fact",
                "ansible.builtin.copy": {
                    "content": "{{ data | to_json }}",
                    "dest": str(scratch / "data.json"),
                },
            },
        ],
    }
    path = scratch / "data.yml"
    path.write_text(json.dumps([play]))
    return path


@dataclass
class Runs:
    check_writes: list[dict[str, Any]]  # what a --check run on the empty account wrote (nothing)
    first: Any
    rerun: Any
    fact: dict[str, Any]
    project: str
    secrets: list[str]  # values that must never be printed


def converge(sandbox: SandboxClient, scratch: Path, scale: str, extra_vars: dict[str, Any]) -> Runs:
    playbook = data_playbook(scratch)
    (scratch / "vars.json").write_text(json.dumps(extra_vars))
    args = ("-e", f"@{scratch / 'vars.json'}")
    inventories = (f"inventories/{scale}", "inventories/sandbox")
    env = ansible_env(sandbox.base_url)
    since = time.time()
    check = run_playbook(playbook, inventories, (*args, "--check"), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    check_writes = sandbox.requests(write=True, since=since)
    first = run_playbook(playbook, inventories, args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    rerun = run_playbook(playbook, inventories, (*args, "-vvv"), env=env)
    assert rerun.returncode == 0, rerun.stdout[-5000:] + rerun.stderr
    fact = json.loads((scratch / "data.json").read_text())
    return Runs(check_writes, first, rerun, fact, extra_vars["deploy_project"], [])


def secret_value(sandbox: SandboxClient, arn: str) -> str:
    return aws_client(sandbox, "secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def delete_secrets(sandbox: SandboxClient, project: str) -> None:
    secrets = aws_client(sandbox, "secretsmanager")
    for secret in secrets.list_secrets()["SecretList"]:
        if secret["Name"].startswith(f"{project}/"):
            secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


def neon_call(sandbox: SandboxClient, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        sandbox.neon_url() + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": "Bearer test-data-role", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def assert_quiet_and_unchanged(runs: Runs) -> None:
    assert runs.check_writes == []
    counts = recap(runs.rerun.stdout)
    assert counts["changed"] == 0 and counts["failed"] == 0, runs.rerun.stdout[-5000:]
    output = runs.rerun.stdout + runs.rerun.stderr + runs.first.stdout + runs.first.stderr
    for secret in runs.secrets:
        assert secret and secret not in output


def assert_container_secrets(sandbox: SandboxClient, fact: dict[str, Any]) -> None:
    assert fact["container_secrets"] == [
        {"name": "DATABASE_URL", "valueFrom": fact["database_url_secret_arn"]},
        {"name": "REDIS_URL", "valueFrom": fact["redis_url_secret_arn"]},
    ]
    tags = aws_client(sandbox, "secretsmanager").describe_secret(SecretId=fact["database_url_secret_arn"])[
        "Tags"
    ]
    assert {"Key": "Component", "Value": "data"} in tags


@pytest.fixture(scope="module")
def hobby(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    project = f"h{uuid.uuid4().hex[:7]}"
    neon_project = neon_call(sandbox, "POST", "/projects", {"project": {"name": project}})["project"]["id"]
    api_key = f"napi_{uuid.uuid4().hex}"
    redis_url = f"rediss://default:{uuid.uuid4().hex}@upstash.example:6379"
    try:
        runs = converge(
            sandbox,
            tmp_path_factory.mktemp("hobby"),
            "hobby",
            {
                "deploy_project": project,
                "data_neon_project_id": neon_project,
                "data_neon_api_key": api_key,
                "data_redis_url": redis_url,
                "data_neon_autoscaling_max_cu": 0.5,
            },
        )
        runs.secrets = [api_key, redis_url, secret_value(sandbox, runs.fact["database_url_secret_arn"])]
        yield runs
    finally:
        delete_secrets(sandbox, project)
        neon_call(sandbox, "DELETE", f"/projects/{neon_project}")


def test_hobby_neon_branch_is_unprotected_on_free_sized_and_retained(
    sandbox: SandboxClient, hobby: Runs
) -> None:
    neon = hobby.fact["neon"]
    assert hobby.fact["database_provider"] == "neon" and hobby.fact["rds"] == {}
    assert neon["branch_name"] == "production" and neon["api_url"] == sandbox.neon_url()
    project = f"/projects/{neon['project_id']}"
    branch = neon_call(sandbox, "GET", f"{project}/branches/{neon['branch_id']}")["branch"]
    # Neon's Free plan has no protected branches (hobby's data_neon_plan): the flag is not sent.
    assert branch["name"] == "production" and branch["protected"] is False
    endpoints = neon_call(sandbox, "GET", f"{project}/branches/{neon['branch_id']}/endpoints")["endpoints"]
    assert [(e["type"], e["autoscaling_limit_min_cu"], e["autoscaling_limit_max_cu"]) for e in endpoints] == [
        ("read_write", 0.25, 0.5)
    ]
    assert neon_call(sandbox, "GET", project)["project"]["history_retention_seconds"] == 6 * 3600


def test_hobby_secrets_hold_urls_that_work(sandbox: SandboxClient, hobby: Runs) -> None:
    assert_container_secrets(sandbox, hobby.fact)
    assert hobby.fact["cache_provider"] == "upstash" and hobby.fact["elasticache"] == {}
    assert secret_value(sandbox, hobby.fact["redis_url_secret_arn"]) == hobby.secrets[1]
    with psycopg.connect(secret_value(sandbox, hobby.fact["database_url_secret_arn"])) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_hobby_check_writes_nothing_and_rerun_changes_nothing_or_prints_a_secret(hobby: Runs) -> None:
    assert_quiet_and_unchanged(hobby)


def networking_fact(sandbox: SandboxClient, name: str) -> dict[str, Any]:
    ec2 = aws_client(sandbox, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{n}.0/24", AvailabilityZone=f"eu-west-2{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in enumerate("abc")
    ]
    groups = {
        purpose: ec2.create_security_group(GroupName=f"{name}-{purpose}", Description=purpose, VpcId=vpc)[
            "GroupId"
        ]
        for purpose in ("app", "database", "cache")
    }
    return {"vpc_id": vpc, "subnets": {"isolated": subnets}, "security_group_ids": groups}


@pytest.fixture(scope="module")
def enterprise(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    project = f"e{uuid.uuid4().hex[:7]}"
    networking = networking_fact(sandbox, project)
    rds = aws_client(sandbox, "rds")
    try:
        runs = converge(
            sandbox,
            tmp_path_factory.mktemp("enterprise"),
            "enterprise",
            {"deploy_project": project, "networking": networking, "data_rds_read_replicas": 1},
        )
        runs.fact["networking"] = networking
        secrets = aws_client(sandbox, "secretsmanager")
        runs.secrets = [
            secrets.get_secret_value(SecretId=f"{project}/production/{name}")["SecretString"]
            for name in ("rds-master-password", "cache-auth-token", "DATABASE_URL", "REDIS_URL")
        ]
        yield runs
    finally:
        for instance in (f"{project}-production-db-replica-1", f"{project}-production-db"):
            try:
                rds.modify_db_instance(
                    DBInstanceIdentifier=instance, DeletionProtection=False, ApplyImmediately=True
                )
                rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
            except rds.exceptions.DBInstanceNotFoundFault:
                pass
        cache = aws_client(sandbox, "elasticache")
        with contextlib.suppress(cache.exceptions.ReplicationGroupNotFoundFault):
            cache.delete_replication_group(ReplicationGroupId=f"{project}-production-cache")
        delete_secrets(sandbox, project)


def test_enterprise_rds_is_as_the_inventory_says(sandbox: SandboxClient, enterprise: Runs) -> None:
    fact = enterprise.fact
    assert fact["database_provider"] == "rds" and fact["neon"] == {}
    rds = aws_client(sandbox, "rds")
    instance = rds.describe_db_instances(DBInstanceIdentifier=fact["rds"]["instance_id"])["DBInstances"][0]
    assert instance["DBInstanceClass"] == "db.t4g.small" and instance["AllocatedStorage"] == 100
    assert instance["MultiAZ"] and instance["DeletionProtection"] and instance["StorageEncrypted"]
    assert instance["BackupRetentionPeriod"] == 30 and instance["PerformanceInsightsEnabled"]
    assert instance["PubliclyAccessible"] is False
    networking = fact["networking"]
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [
        networking["security_group_ids"]["database"]
    ]
    subnets = {s["SubnetIdentifier"] for s in instance["DBSubnetGroup"]["Subnets"]}
    assert subnets == set(networking["subnets"]["isolated"])
    assert fact["rds"]["address"] == instance["Endpoint"]["Address"]
    assert (
        fact["rds"]["port"] == instance["Endpoint"]["Port"] and fact["rds"]["database"] == instance["DBName"]
    )
    replica = rds.describe_db_instances(DBInstanceIdentifier=f"{fact['rds']['instance_id']}-replica-1")
    assert replica["DBInstances"][0]["ReadReplicaSourceDBInstanceIdentifier"] == fact["rds"]["instance_id"]


def test_enterprise_replication_group_is_as_the_inventory_says(
    sandbox: SandboxClient, enterprise: Runs
) -> None:
    cache = enterprise.fact["elasticache"]
    group = aws_client(sandbox, "elasticache").describe_replication_groups(
        ReplicationGroupId=cache["replication_group_id"]
    )["ReplicationGroups"][0]
    assert len(group["MemberClusters"]) == 2 and group["CacheNodeType"] == "cache.t4g.micro"
    assert (
        group["Engine"] == "valkey"
        and group["MultiAZ"] == "enabled"
        and group["AutomaticFailover"] == "enabled"
    )
    assert (
        group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"] and group["AuthTokenEnabled"]
    )
    assert cache["primary_endpoint"] == group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    _password, token, _database_url, redis_url = enterprise.secrets
    assert redis_url == f"rediss://:{token}@{cache['primary_endpoint']}:{cache['port']}"


def test_enterprise_database_url_reaches_the_database(sandbox: SandboxClient, enterprise: Runs) -> None:
    assert_container_secrets(sandbox, enterprise.fact)
    with psycopg.connect(secret_value(sandbox, enterprise.fact["database_url_secret_arn"])) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row == ("app", enterprise.fact["rds"]["database"])


def test_enterprise_check_writes_nothing_and_rerun_changes_nothing_or_prints_a_secret(
    enterprise: Runs,
) -> None:
    assert_quiet_and_unchanged(enterprise)
