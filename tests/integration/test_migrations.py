"""The migration step (roles/data tasks_from: migrate) in the sandbox, on real PostgreSQL.

The step's own scenarios run it in a small play against a Neon project of their own in the emulator, with
the ``data`` and ``compute`` facts the earlier phases publish: the migrations run as a one-off ECS task and
the restore point is a backup branch at the production branch's LSN; release_migrate false skips it; check
mode runs nothing; on RDS a failing migration keeps the snapshot and the message gives the restore commands.

The whole hobby release with its migrations (playbooks/deploy.yml) is in test_backend_release.py, on that
file's deployment; the enterprise one (RDS) in test_backend_release_enterprise.py.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from database import SEEDED, database_checksum, failing_migrations
from support import (
    REGION,
    ansible_env,
    aws_client,
    create_execution_role,
    delete_role,
    run_playbook,
)

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"mg{uuid.uuid4().hex[:6]}"
API_KEY = f"napi_{uuid.uuid4().hex}"


class Neon:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.project_id = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {API_KEY}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path}: {err.code} {err.read().decode()}") from err

    def settle(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            operations = self.call("GET", f"/projects/{self.project_id}/operations")["operations"]
            if all(op["status"] == "finished" for op in operations):
                return
            time.sleep(0.1)
        raise AssertionError("the Neon project's operations did not finish")

    def branch(self, name: str) -> dict[str, Any] | None:
        branches = self.call("GET", f"/projects/{self.project_id}/branches")["branches"]
        return next((b for b in branches if b["name"] == name), None)

    def uri(self, branch_id: str) -> str:
        query = f"?branch_id={branch_id}&database_name=neondb&role_name=neondb_owner"
        return self.call("GET", f"/projects/{self.project_id}/connection_uri{query}")["uri"]


@dataclass
class Step:
    sandbox: SandboxClient
    scratch: Path
    neon: Neon
    database_url: str
    facts: dict[str, Any]

    def run(self, *flags: str, **extra_vars: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        """The migration step in one play; (the run, the migration fact it published)."""
        connection = {"endpoint_url": self.sandbox.base_url, "access_key": "testing", "secret_key": "testing"}
        play = {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                **self.facts,
                **extra_vars,
            },
            "module_defaults": {"group/macroai.deploy.aws": connection},
            "tasks": [
                {"ansible.builtin.import_role": {"name": "macroai.deploy.data", "tasks_from": "migrate"}},
            ],
        }
        path = self.scratch / f"migrate-{uuid.uuid4().hex[:6]}.yml"
        path.write_text(json.dumps([play]))
        completed = run_playbook(
            path, extra_args=flags, env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"), timeout=300
        )
        try:
            tasks = json.loads(completed.stdout)["plays"][0]["tasks"]
        except (ValueError, KeyError, IndexError):
            pytest.fail(f"ansible-playbook gave no result:\n{completed.stdout}\n{completed.stderr}")
        fact: dict[str, Any] = {}
        for task in tasks:
            fact = task["hosts"]["localhost"].get("ansible_facts", {}).get("migration", fact)
        return completed, fact


def failed_message(completed: subprocess.CompletedProcess[str]) -> str:
    tasks = json.loads(completed.stdout)["plays"][0]["tasks"]
    last = tasks[-1]["hosts"]["localhost"]
    assert last.get("failed"), last
    return str(last["msg"])


@pytest.fixture(scope="module")
def step(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Step]:
    neon = Neon(sandbox.neon_url())
    neon.project_id = neon.call("POST", "/projects", {"project": {"name": PREFIX}})["project"]["id"]
    neon.settle()
    production = neon.call(
        "POST",
        f"/projects/{neon.project_id}/branches",
        {"branch": {"name": "production"}, "endpoints": [{"type": "read_write"}]},
    )["branch"]
    neon.settle()
    database_url = neon.uri(production["id"])
    ecs, logs, secrets = (aws_client(sandbox, s) for s in ("ecs", "logs", "secretsmanager"))
    ecs.create_cluster(clusterName=PREFIX)
    logs.create_log_group(logGroupName=f"/{PREFIX}/api")
    secret_arn = secrets.create_secret(Name=f"{PREFIX}/DATABASE_URL", SecretString=database_url)["ARN"]
    # ECS reads the container's secrets as the execution role: it must trust ecs-tasks and allow the read
    # (of this secret and of the RDS test's, both under the prefix).
    execution_role = create_execution_role(
        sandbox, f"{PREFIX}-execution", [f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{PREFIX}/*"]
    )
    container = {
        "name": "api",
        "image": f"{PREFIX}/api:v2",
        "essential": True,
        "memory": 512,
        "portMappings": [{"containerPort": 3000}],
        "secrets": [{"name": "DATABASE_URL", "valueFrom": secret_arn}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/{PREFIX}/api",
                "awslogs-region": REGION,
                "awslogs-stream-prefix": "api",
            },
        },
    }
    facts = {
        "release_id": f"20260501T100000Z-{PREFIX}",
        "data_neon_api_key": API_KEY,
        "data": {
            "database_provider": "neon",
            "database_url_secret_arn": secret_arn,
            "neon": {
                "project_id": neon.project_id,
                "branch_id": production["id"],
                "branch_name": "production",
                "api_url": neon.base_url,
            },
            "rds": {},
        },
        "compute": {
            "cluster": PREFIX,
            "service": f"{PREFIX}-api",
            "container_name": "api",
            "task_definition": {
                "family": f"{PREFIX}-api",
                "execution_role_arn": execution_role,
                "cpu": "256",
                "memory": "512",
                "container_definitions": [container],
            },
            "network_configuration": {
                "subnets": ["subnet-0a"],
                "security_groups": ["sg-0a"],
                "assign_public_ip": True,
            },
            "launch_type": "FARGATE",
            "capacity_provider_strategy": [],
            "tags": {"Project": PREFIX},
        },
    }
    yield Step(sandbox, tmp_path_factory.mktemp(PREFIX), neon, database_url, facts)
    # Gone already when the whole-release fixture below has reset the sandbox.
    with contextlib.suppress(ClientError):
        ecs.delete_cluster(cluster=PREFIX)
        logs.delete_log_group(logGroupName=f"/{PREFIX}/api")
        secrets.delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)
    delete_role(sandbox, f"{PREFIX}-execution")
    with contextlib.suppress(AssertionError):
        neon.call("DELETE", f"/projects/{neon.project_id}")


def items(uri: str) -> list[tuple[str, int]]:
    with psycopg.connect(uri) as conn:
        return [(str(n), int(q)) for n, q in conn.execute("SELECT name, quantity FROM items ORDER BY id")]


def test_the_step_takes_a_restore_point_and_migrates(step: Step) -> None:
    started = time.monotonic()
    completed, migration = step.run()
    seconds = time.monotonic() - started
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert migration["outcome"] == "succeeded" and migration["ran"] is True, migration
    assert migration["exit_code"] == 0
    assert migration["log_tail"][-1] == "applied 2 migrations; the database is at 0002_seed_items.sql"
    point = migration["restore_point"]
    backup = step.neon.branch(f"production-pre-migrate-20260501t100000z-{PREFIX}")
    assert backup is not None and point["kind"] == "neon_branch"
    assert point["id"] == backup["id"] and point["lsn"] == backup["parent_lsn"]
    assert backup.get("expires_at"), backup
    assert items(step.database_url) == SEEDED
    print(f"\nmigration step (restore point + one-off task), hobby/Neon: {seconds:.1f}s")


def test_release_migrate_false_skips_the_step(step: Step) -> None:
    completed, migration = step.run("-e", "release_migrate=false")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert migration == {"ran": False, "restore_point": {}, "outcome": "skipped", "log_tail": []}


def test_check_mode_runs_nothing(step: Step) -> None:
    before = database_checksum(step.database_url)
    branches = len(step.neon.call("GET", f"/projects/{step.neon.project_id}/branches")["branches"])
    completed, migration = step.run("--check", "-e", "release_id=20260501T120000Z-check")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert migration["outcome"] == "predicted" and migration["ran"] is False, migration
    assert len(step.neon.call("GET", f"/projects/{step.neon.project_id}/branches")["branches"]) == branches
    assert database_checksum(step.database_url) == before


def test_on_rds_a_failing_migration_keeps_the_snapshot_and_says_how_to_restore(
    step: Step, tmp_path: Path
) -> None:
    rds, secrets = aws_client(step.sandbox, "rds"), aws_client(step.sandbox, "secretsmanager")
    # The sandbox enforces security groups: the migration task's group must be one the database's admits.
    ec2 = aws_client(step.sandbox, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    tasks_group, db_group = (
        ec2.create_security_group(GroupName=f"{PREFIX}-{name}", Description=name, VpcId=vpc)["GroupId"]
        for name in ("tasks", "db")
    )
    ec2.authorize_security_group_ingress(
        GroupId=db_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": tasks_group}],
            }
        ],
    )
    instance = f"{PREFIX}-db"
    rds.create_db_instance(
        DBInstanceIdentifier=instance,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="sandbox-password",
        DBName=f"{PREFIX}app",
        VpcSecurityGroupIds=[db_group],
    )
    described = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    endpoint = described["Endpoint"]
    url = f"postgresql://app:sandbox-password@{endpoint['Address']}:{endpoint['Port']}/{described['DBName']}"
    secret_arn = secrets.create_secret(Name=f"{PREFIX}/rds/DATABASE_URL", SecretString=url)["ARN"]
    facts = json.loads(json.dumps(step.facts))
    facts["data"] = {
        "database_provider": "rds",
        "database_url_secret_arn": secret_arn,
        "neon": {},
        "rds": {
            "instance_id": instance,
            "address": endpoint["Address"],
            "port": endpoint["Port"],
            "database": described["DBName"],
        },
    }
    facts["compute"]["task_definition"]["container_definitions"][0]["secrets"][0]["valueFrom"] = secret_arn
    facts["compute"]["network_configuration"]["security_groups"] = [tasks_group]
    facts.update(deploy_project="macroai", deploy_environment=PREFIX, deploy_scale="enterprise")
    rds_step = Step(step.sandbox, step.scratch, step.neon, url, facts)
    try:
        completed, migration = rds_step.run(
            "-e",
            "release_id=20260501T130000Z-rds",
            data_migration_environment={"APP_MIGRATIONS_DIR": str(failing_migrations(tmp_path))},
        )
        assert completed.returncode != 0
        snapshot = f"{instance}-pre-migrate-20260501t130000z-rds"
        assert migration["outcome"] == "failed_snapshot_kept", migration
        assert migration["restore_point"] == {
            "kind": "rds_snapshot",
            "name": snapshot,
            "id": snapshot,
            "lsn": None,
        }
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
        assert found and found[0]["Status"] == "available" and found[0]["DBInstanceIdentifier"] == instance
        message = failed_message(completed)
        assert "The migration failed, so the release stopped before any traffic moved" in message
        assert "The database was NOT restored" in message
        assert f"The pre-migration snapshot is {snapshot}" in message
        assert f"--db-instance-identifier {instance} --db-snapshot-identifier {snapshot}" in message
        assert (
            f"aws ecs update-service --cluster {PREFIX} --service {PREFIX}-api --force-new-deployment"
            in message
        )
        with psycopg.connect(url) as conn:  # not restored: 0003 stays applied, 0004 rolled back
            assert conn.execute("SELECT count(*) FROM audit").fetchone() == (1,)
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
        secrets.delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)


def test_twelve_migrations_on_free_keep_the_restore_points_within_the_branch_quota(step: Step) -> None:
    """Neon's Free plan allows 10 branches a project, the root branch included, and refuses the eleventh
    (neon.com/docs/introduction/plans, "Branches"); each migration takes a backup branch. Over more releases
    than the quota, the step keeps at most data_neon_keep_restore_points (3) of them, deleting the oldest
    first, and never the newest successful release's restore point (the one rollback_database restores
    from), here release 2's while releases 3 to 12 do not succeed."""
    neon = step.neon
    admin = urllib.request.Request(
        f"{step.sandbox.base_url}/neon/_sandbox/projects/{neon.project_id}/plan",
        data=json.dumps({"plan": "free"}).encode(),
        method="PUT",
    )
    with urllib.request.urlopen(admin, timeout=30) as answer:
        assert json.loads(answer.read())["project"]["owner"]["branches_limit"] == 10
    prefix = "production-pre-migrate-"
    target: dict[str, Any] = {}
    started = time.monotonic()
    for n in range(1, 13):
        extra: dict[str, Any] = {"release_id": f"20260601T{n:02d}0000Z-q{n}"}
        if target:
            extra["data_migration_retain_restore_points"] = [target["name"]]
        completed, migration = step.run(**extra)
        assert completed.returncode == 0, completed.stdout[-3000:]
        assert migration["outcome"] == "succeeded", migration
        if n == 2:
            target = migration["restore_point"]
        branches = neon.call("GET", f"/projects/{neon.project_id}/branches")["branches"]
        points = sorted((b for b in branches if b["name"].startswith(prefix)), key=lambda b: b["created_at"])
        assert len(points) <= 3 and len(branches) <= 10, [b["name"] for b in branches]
        assert points[-1]["name"] == migration["restore_point"]["name"]  # the newest is always kept
        if target:
            assert target["name"] in [p["name"] for p in points]
    seconds = time.monotonic() - started
    assert migration["pruned_restore_points"] == [f"{prefix}20260601t100000z-q10"]
    kept = neon.branch(target["name"])
    assert kept is not None and kept["id"] == target["id"] and kept["parent_lsn"] == target["lsn"]
    assert [p["name"] for p in points] == [
        target["name"],
        f"{prefix}20260601t110000z-q11",
        f"{prefix}20260601t120000z-q12",
    ]
    print(f"\n12 migrations on Neon Free (restore point, prune, one-off task each): {seconds:.1f}s")
