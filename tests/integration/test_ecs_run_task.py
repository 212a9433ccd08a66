"""macroai.deploy.ecs_run_task through ansible-playbook against the sandbox, where a one-off task is a real
local process (examples/app/migrate.py here) on the sandbox's real PostgreSQL, its output in CloudWatch Logs.

One module-scoped setup (a cluster, a log group, a database and its URL in Secrets Manager); the tests run
in file order: check mode registers and runs nothing; the migrations run and their output comes back; a
second run reuses the revision; a failing migration fails the task with its exit code and log tail; a task
outliving its bound is stopped; StopTask stops a one-off task (boto3).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support import REGION, aws_client, create_execution_role, delete_role, play_module

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"rt{uuid.uuid4().hex[:6]}"
MIGRATE = ["python", "migrate.py"]


@dataclass
class Setup:
    sandbox: SandboxClient
    scratch: Path
    database_url: str
    spec: dict[str, Any]
    network: dict[str, Any]

    def run(self, *flags: str, **args: Any) -> dict[str, Any]:
        merged = {"cluster": PREFIX, "network_configuration": self.network, "poll_interval": 0.2, **args}
        if "task_definition" not in merged:
            merged.setdefault("task_definition_spec", self.spec)
        return play_module(self.sandbox, self.scratch, "macroai.deploy.ecs_run_task", merged, *flags)


@pytest.fixture(scope="module")
def setup(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    admin_url = sandbox.health()["endpoints"]["postgres"]
    database = f"{PREFIX}_db"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    database_url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    ecs, logs, secrets = (aws_client(sandbox, s) for s in ("ecs", "logs", "secretsmanager"))
    ecs.create_cluster(clusterName=PREFIX)
    logs.create_log_group(logGroupName=f"/{PREFIX}/api")
    secret_arn = secrets.create_secret(Name=f"{PREFIX}/database-url", SecretString=database_url)["ARN"]
    # ECS reads the container's secrets as the execution role: it must trust ecs-tasks and allow the read.
    execution_role = create_execution_role(sandbox, f"{PREFIX}-execution", [secret_arn])
    spec = {
        "family": f"{PREFIX}-api",
        "execution_role_arn": execution_role,
        "cpu": "256",
        "memory": "512",
        "container_definitions": [
            {
                "name": "api",
                "image": f"{PREFIX}/api:v1",
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
        ],
    }
    network = {"subnets": ["subnet-0a"], "security_groups": ["sg-0a"], "assign_public_ip": True}
    yield Setup(sandbox, tmp_path_factory.mktemp(PREFIX), database_url, spec, network)
    ecs.delete_cluster(cluster=PREFIX)
    logs.delete_log_group(logGroupName=f"/{PREFIX}/api")
    secrets.delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)
    delete_role(sandbox, f"{PREFIX}-execution")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def revisions(setup: Setup) -> list[str]:
    ecs = aws_client(setup.sandbox, "ecs")
    return ecs.list_task_definitions(familyPrefix=setup.spec["family"])["taskDefinitionArns"]


def test_check_mode_predicts_and_runs_nothing(setup: Setup) -> None:
    result = setup.run("--check", command=MIGRATE)
    assert result["changed"] is True and result["task_arn"] is None, result
    assert result["task_definition_registered"] is True and result["task_definition_arn"] is None
    assert result["command"] == MIGRATE
    assert revisions(setup) == []
    assert not [t for t in setup.sandbox.tasks() if t["cluster"] == PREFIX]


def test_migrations_run_and_their_output_comes_back(setup: Setup) -> None:
    result = setup.run(command=MIGRATE, started_by="migrate-r1")
    assert result["changed"] is True and result["exit_code"] == 0, result
    assert result["statuses"][-1] == "STOPPED" and result["stop_code"] == "EssentialContainerExited"
    assert result["stopped_reason"] == "Essential container in task exited"
    assert result["log_tail"][-1] == "applied 2 migrations; the database is at 0002_seed_items.sql"
    assert result["log_stream"] == f"api/api/{result['task_arn'].rsplit('/', 1)[-1]}"
    assert revisions(setup) == [result["task_definition_arn"]]
    task = aws_client(setup.sandbox, "ecs").describe_tasks(cluster=PREFIX, tasks=[result["task_arn"]])[
        "tasks"
    ][0]
    assert task["lastStatus"] == "STOPPED" and task["containers"][0]["exitCode"] == 0
    assert task["startedBy"] == "migrate-r1"
    with psycopg.connect(setup.database_url) as conn:
        rows = conn.execute("SELECT name, quantity FROM items ORDER BY id").fetchall()
        applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert rows == [("anvil", 3), ("bucket", 12), ("compass", 1)]
    assert applied == ["0001_create_items.sql", "0002_seed_items.sql"]


def test_a_second_run_reuses_the_revision_and_applies_nothing(setup: Setup) -> None:
    before = revisions(setup)
    result = setup.run(command=MIGRATE)
    assert result["changed"] is True and result["exit_code"] == 0, result
    assert result["task_definition_registered"] is False
    assert [result["task_definition_arn"]] == before == revisions(setup)
    assert result["log_tail"] == ["nothing to apply: 2 migrations already applied"]
    by_reference = setup.run(task_definition=f"{setup.spec['family']}:1", command=MIGRATE)
    assert by_reference["exit_code"] == 0 and by_reference["task_definition_arn"] == before[0]


def test_a_failing_migration_fails_with_exit_code_and_log_tail(setup: Setup, tmp_path: Path) -> None:
    migrations = Path(__file__).resolve().parents[2] / "examples" / "app" / "migrations"
    for path in migrations.glob("*.sql"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "0003_break.sql").write_text("ALTER TABLE items ADD COLUMN price numeric;\nSELECT 1/0;\n")
    result = setup.run(command=MIGRATE, environment={"APP_MIGRATIONS_DIR": str(tmp_path)})
    assert result.get("failed") and result["changed"] is True, result
    assert result["exit_code"] == 1
    assert "exited with code 1 (Essential container in task exited)" in result["msg"]
    assert "migration 0003_break.sql failed: division by zero" in result["msg"]
    assert "migration 0003_break.sql failed: division by zero" in result["log_tail"]
    with psycopg.connect(setup.database_url) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'items'"
            )
        ]
    assert "price" not in columns


def test_a_task_outliving_its_bound_is_stopped(setup: Setup) -> None:
    result = setup.run(command=["python", "-c", "import time; time.sleep(60)"], wait_timeout=2)
    assert result.get("failed"), result
    assert "did not stop within 2s" in result["msg"] and "it was stopped" in result["msg"]
    ecs = aws_client(setup.sandbox, "ecs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = ecs.describe_tasks(cluster=PREFIX, tasks=[result["task_arn"]])["tasks"][0]
        if task["lastStatus"] == "STOPPED":
            break
        time.sleep(0.2)
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "ecs_run_task: the task did not stop within wait_timeout"


def test_stop_task_stops_a_one_off_server_task(setup: Setup) -> None:
    ecs = aws_client(setup.sandbox, "ecs")
    started = ecs.run_task(
        cluster=PREFIX,
        taskDefinition=f"{setup.spec['family']}:1",
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a"]}},
    )["tasks"][0]
    assert started["lastStatus"] == "PROVISIONING"
    arn = started["taskArn"]
    deadline = time.monotonic() + 10
    while ecs.describe_tasks(cluster=PREFIX, tasks=[arn])["tasks"][0]["lastStatus"] != "RUNNING":
        assert time.monotonic() < deadline, "the task never ran"
        time.sleep(0.1)
    assert (
        ecs.stop_task(cluster=PREFIX, task=arn, reason="no longer needed")["task"]["desiredStatus"]
        == "STOPPED"
    )
    while (task := ecs.describe_tasks(cluster=PREFIX, tasks=[arn])["tasks"][0])["lastStatus"] != "STOPPED":
        assert time.monotonic() < deadline + 10, task
        time.sleep(0.1)
    assert task["stoppedReason"] == "no longer needed" and task["stopCode"] == "UserInitiated"
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.run_task(cluster=PREFIX, taskDefinition="no-such-family:3", launchType="FARGATE")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(cluster=PREFIX, taskDefinition=f"{setup.spec['family']}:1", launchType="FARGATE")
