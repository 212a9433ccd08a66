"""The sandbox against real boto3 calls: logging, faults in each protocol, IAM policies, Postgres, reset,
and a separate lifecycle test (own state dir and port) proving `down` leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.client import SandboxClient
from sandbox.state import is_alive
from tests.integration.conftest import run_sandbox, sandbox_status

pytestmark = pytest.mark.integration

REGION = "eu-west-2"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
# Its own port; SANDBOX_LIFECYCLE_PORT moves it (parallel runs on one machine).
LIFECYCLE_PORT = os.environ.get("SANDBOX_LIFECYCLE_PORT") or "4611"


@pytest.fixture
def aws(sandbox: SandboxClient) -> Callable[..., Any]:
    def make(service: str, config: Config = NO_RETRIES) -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.base_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    return make


@pytest.fixture
def faults(sandbox: SandboxClient) -> Iterator[SandboxClient]:
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


def _error_code(call: Callable[[], Any]) -> str | None:
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    return None


def test_up_is_idempotent(sandbox: SandboxClient) -> None:
    before = sandbox_status()
    again = run_sandbox("up")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout
    assert sandbox_status()["pid"] == before["pid"]


def test_status_json(sandbox: SandboxClient) -> None:
    result = run_sandbox("status", "--json")
    assert result.returncode == 0
    status = sandbox_status()
    assert status["running"] is True
    assert isinstance(status["pid"], int)
    assert status["endpoints"]["aws"] == f"http://127.0.0.1:{status['port']}"
    assert status["endpoints"]["postgres"].startswith("postgresql://postgres@127.0.0.1:")
    assert sandbox.health()["ok"] is True


def test_calls_are_logged_with_write_flag(sandbox: SandboxClient, aws: Callable[..., Any]) -> None:
    since = time.time()
    ec2 = aws("ec2")
    ec2.create_vpc(CidrBlock="10.1.0.0/16")
    ec2.describe_vpcs()
    entries = [
        (e["service"], e["operation"], e["write"]) for e in sandbox.requests(service="ec2", since=since)
    ]
    assert ("ec2", "CreateVpc", True) in entries
    assert ("ec2", "DescribeVpcs", False) in entries
    reads = sandbox.requests(service="ec2", write=False, since=since)
    assert reads and all(not e["write"] for e in reads)
    logged = sandbox.requests(service="ec2", since=since)
    assert all(e["status"] == 200 and not e["faulted"] and e["duration_ms"] >= 0 for e in logged)


def test_fault_count_then_success(faults: SandboxClient, aws: Callable[..., Any]) -> None:
    ec2 = aws("ec2")
    rule = faults.add_fault("ec2", "ThrottlingException", rate=1.0, count=2)
    assert rule["count"] == 2
    assert _error_code(ec2.describe_vpcs) == "ThrottlingException"
    assert _error_code(ec2.describe_vpcs) == "ThrottlingException"
    assert _error_code(ec2.describe_vpcs) is None
    assert faults.faults()[0]["fired"] == 2


def test_botocore_retries_injected_throttling(faults: SandboxClient, aws: Callable[..., Any]) -> None:
    """A 400 is retried by botocore's standard mode only when it classifies the code as throttling."""
    ec2 = aws("ec2", Config(retries={"mode": "standard", "total_max_attempts": 3}))
    faults.add_fault("ec2", "RequestLimitExceeded", action="DescribeSubnets", count=2)
    since = time.time()
    ec2.describe_subnets()
    calls = [
        e["faulted"]
        for e in faults.requests(service="ec2", since=since)
        if e["operation"] == "DescribeSubnets"
    ]
    assert calls == [True, True, False]


def test_fault_rate_is_bounded(faults: SandboxClient, aws: Callable[..., Any]) -> None:
    ec2 = aws("ec2")
    faults.add_fault("ec2", "ThrottlingException", rate=0.2, action="DescribeVpcs")
    failed = sum(_error_code(ec2.describe_vpcs) == "ThrottlingException" for _ in range(200))
    assert 15 <= failed <= 70
    assert faults.faults()[0]["fired"] == failed


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("logs", lambda c: c.describe_log_groups(), "ThrottlingException", 400),
        ("ecs", lambda c: c.list_clusters(), "ThrottlingException", 400),
        ("dynamodb", lambda c: c.list_tables(), "ProvisionedThroughputExceededException", 400),
        ("iam", lambda c: c.list_roles(), "Throttling", 400),
        ("elbv2", lambda c: c.describe_load_balancers(), "Throttling", 400),
        ("cloudwatch", lambda c: c.describe_alarms(), "Throttling", 400),
        ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
        ("route53", lambda c: c.list_hosted_zones(), "Throttling", 400),
    ],
)
def test_fault_code_parses_in_each_protocol(
    faults: SandboxClient,
    aws: Callable[..., Any],
    service: str,
    call: Callable[[Any], Any],
    code: str,
    status: int,
) -> None:
    client = aws(service)
    faults.add_fault(service, code, status=status, count=1)
    try:
        call(client)
    except ClientError as err:
        assert err.response["Error"]["Code"] == code
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    else:
        pytest.fail(f"{service}: the fault did not fire")
    call(client)  # count=1: the next call reaches moto


def test_action_filter(faults: SandboxClient, aws: Callable[..., Any]) -> None:
    route53 = aws("route53")
    faults.add_fault("route53", "Throttling", action="ListHostedZones")
    assert _error_code(route53.list_hosted_zones) == "Throttling"
    assert _error_code(route53.list_health_checks) is None


def test_iam_managed_policies_loaded(aws: Callable[..., Any]) -> None:
    arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    assert aws("iam").get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "AmazonECSTaskExecutionRolePolicy"


def test_postgres_dsn(sandbox: SandboxClient) -> None:
    dsn = sandbox.health()["endpoints"]["postgres"]
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_ecs_tasks_stay_running(aws: Callable[..., Any]) -> None:
    ec2, ecs = aws("ec2"), aws("ecs")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ecs.create_cluster(clusterName="keep-running")
    ecs.register_task_definition(
        family="sleeper",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )
    ecs.register_container_instance(
        cluster="keep-running",
        instanceIdentityDocument=json.dumps({"instanceId": instance, "region": REGION}),
    )
    task = ecs.run_task(cluster="keep-running", taskDefinition="sleeper")["tasks"][0]["taskArn"]
    # It starts (on a busy machine it can be PROVISIONING for a moment), then stays RUNNING.
    deadline = time.monotonic() + 30
    while ecs.describe_tasks(cluster="keep-running", tasks=[task])["tasks"][0]["lastStatus"] != "RUNNING":
        assert time.monotonic() < deadline, "the task never reached RUNNING"
        time.sleep(0.2)
    for _ in range(3):
        described = ecs.describe_tasks(cluster="keep-running", tasks=[task])["tasks"][0]
        assert described["lastStatus"] == "RUNNING"


def test_reset(clean_sandbox: SandboxClient, aws: Callable[..., Any]) -> None:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    dsn = clean_sandbox.health()["endpoints"]["postgres"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE reset_me")
    clean_sandbox.add_fault("s3", "SlowDown", status=503)
    result = clean_sandbox.reset()
    assert "reset_me" in result["dropped_databases"]
    assert clean_sandbox.requests() == []
    assert clean_sandbox.faults() == []
    assert vpc not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert [e["operation"] for e in clean_sandbox.requests()] == ["DescribeVpcs"]
    reset_cli = run_sandbox("reset")
    assert reset_cli.returncode == 0, reset_cli.stderr


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if text.encode() in (entry / "cmdline").read_bytes() and is_alive(int(entry.name)):
                found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            children.append(int(entry.name))
    return children


@pytest.fixture
def lifecycle_state_dir() -> Iterator[Path]:
    """A state dir in a folder of its own (the test closes it): not under ``/tmp/pytest-of-<user>``, which
    every pytest session that starts sets back to 0700."""
    root = Path(tempfile.mkdtemp(prefix="sandbox-lifecycle-"))
    yield root / "state"
    env = dict(os.environ, SANDBOX_STATE_DIR=str(root / "state"), SANDBOX_PORT=LIFECYCLE_PORT)
    run_sandbox("down", env=env)  # a no-op unless the test failed half-way
    shutil.rmtree(root, ignore_errors=True)


def test_down_leaves_nothing_and_up_again_works(lifecycle_state_dir: Path) -> None:
    """Its own state dir and port: the shared sandbox is not touched."""
    state_dir = lifecycle_state_dir
    env = dict(os.environ, SANDBOX_STATE_DIR=str(state_dir), SANDBOX_PORT=LIFECYCLE_PORT)
    env.pop("SANDBOX_AWS_URL", None)

    assert run_sandbox("status", "--json", env=env).returncode == 3
    assert run_sandbox("down", env=env).returncode == 0  # no-op when down

    for attempt in ("cold", "warm"):
        up = run_sandbox("up", env=env)
        assert up.returncode == 0, f"{attempt} up: {up.stdout}\n{up.stderr}"
        status = sandbox_status(env)
        assert status["running"] and status["port"] == int(LIFECYCLE_PORT), status
        server_pid = status["pid"]
        postgres_pid = SandboxClient(status["endpoints"]["aws"]).health()["postgres_pid"]
        if os.geteuid() == 0:  # PostgreSQL runs as another user: close a parent as pytest does to its root
            state_dir.parent.chmod(0o700)
        with psycopg.connect(status["endpoints"]["postgres"], autocommit=True) as conn:
            conn.execute("CREATE DATABASE lifecycle")
            conn.execute("DROP DATABASE lifecycle WITH (FORCE)")
            conn.execute("CHECKPOINT")  # opens pg_control by absolute path: PANICked before /proc/self/cwd
        tracked = {server_pid, postgres_pid, *_children(postgres_pid), *_processes_mentioning(str(state_dir))}
        assert len(tracked) > 3, tracked  # server, postmaster and its workers

        down = run_sandbox("down", env=env)
        assert down.returncode == 0, down.stderr
        assert [pid for pid in tracked if is_alive(pid)] == []
        assert _processes_mentioning(str(state_dir)) == []
        assert run_sandbox("status", "--json", env=env).returncode == 3

    # A stale pid file (a dead pid) is cleaned up, not trusted.
    (state_dir / "server.pid").write_text("999999")
    assert sandbox_status(env)["running"] is False
    assert not (state_dir / "server.pid").exists()
