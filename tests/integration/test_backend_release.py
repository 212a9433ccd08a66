"""The backend release of playbooks/deploy.yml (networking, then compute) at hobby scale, in the sandbox
(test_backend_release_enterprise.py: the same release at enterprise scale).

One module-scoped deployment (a unique ``deploy_environment``, released from a git repository: backend.py): v1
is released once with its migrations (the Neon branch is migrated, production serves the rows), over the cost
ceiling with accept_cost and with a fifth of its EC2 calls throttled; the tag audit and the scale advice run
on it (tests/integration/cost.py); then the scenarios run in file order against it: a v2
whose migration fails restores the database (schema and every row identical, by checksum) and stops before
traffic moves (production stays on v1); then v2 under load, and ``state: rolled_back`` during a v5's bake
(back to v2 in seconds). Proven elsewhere, not repeated here: a re-run that changes nothing (the molecule
scenarios' idempotence), ``--check --diff`` of a new image and an unhealthy release that ECS rolls back by
itself under load (test_release_flow.py), an alarm in ALARM during a bake (test_ecs_bluegreen.py). A bounded
load generator (25 requests a second) hits the production listener through each release.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from backend import (
    LONG_BAKE,
    Release,
    check_v1_released_with_the_infrastructure,
    check_v2_under_load_drops_nothing_and_old_tasks_go,
    released,
    roll_back,
)
from cost import (
    OVER_THE_CEILING,
    check_preflight_accepted_the_cost,
    check_scale_advice_enterprise_above_the_thresholds,
    check_tag_audit_names_the_planted_subnet_and_only_it,
    check_the_release_completed_with_a_fifth_of_ec2_calls_throttled,
)
from database import SEEDED, database_checksum, failing_migrations
from support import LoadProbe, aws_client, deploy, get_version

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

NEON_API_KEY = "sandbox-neon-key"  # inventories/sandbox: the Neon emulator takes any key


BAD_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cpu-memory-pair": (("compute_task_memory=4096",), ("compute_task_memory=4096", "512, 1024, 2048")),
    "cpu-not-fargate": (("compute_task_cpu=300",), ("compute_task_cpu", "256")),
    "health-path-no-slash": (
        ("compute_health_check_path=health",),
        ("compute_health_check_path", "leading slash"),
    ),
    "port-without-mapping": (
        ("compute_container_port=8080",),
        ("compute_container_port=8080", "port mapping"),
    ),
    "desired-above-max": (
        ("compute_desired_count=2",),
        ("compute_desired_count=2", "compute_autoscaling_max (1)"),
    ),
    "secret-in-environment": (
        ('{"compute_environment": {"DB_PASSWORD": "x"}}',),
        ("compute_environment.DB_PASSWORD", "compute_secrets"),
    ),
    "unknown-strategy": (
        ("compute_deployment_strategy=ROLLING",),
        ("compute_deployment_strategy", "BLUE_GREEN"),
    ),
}


@dataclass
class PreflightRuns:
    runs: dict[str, subprocess.CompletedProcess[str]]
    writes: list[dict]


@pytest.fixture(scope="module")
def preflight(sandbox: SandboxClient) -> PreflightRuns:
    """Every bad input's release, concurrently, and the AWS writes made meanwhile (there must be none)."""
    since = time.time()

    def run(extra: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        arguments = [item for value in extra for item in ("-e", value)]
        return deploy(sandbox, "hobby", "-e", "deploy_environment=preflight", *arguments)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(BAD_INPUTS, pool.map(run, (extra for extra, _ in BAD_INPUTS.values())), strict=True))
    return PreflightRuns(runs, sandbox.requests(write=True, since=since))


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_compute_input_fails_in_preflight_naming_the_variable(
    case: str, preflight: PreflightRuns
) -> None:
    run = preflight.runs[case]
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "TASK [macroai.deploy.networking" not in output, "failed after preflight"
    for fragment in BAD_INPUTS[case][1]:
        assert fragment in output, output[-3000:]
    assert preflight.writes == []


@pytest.fixture(scope="module")
def release(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    # The first release also serves the cost controls: over the cost ceiling with accept_cost, and with a
    # fifth of its EC2 calls throttled (the networking phase's retries).
    started = time.time()
    releases = released(sandbox, "hobby", tmp_path_factory.mktemp("backend-release"), *OVER_THE_CEILING)
    # EC2 throttles with RequestLimitExceeded, HTTP 503 (EC2 API reference, "Error codes"), which botocore and
    # amazon.aws's AWSRetry both retry; ThrottlingException is other services' code (AWSRetry ignores it).
    sandbox.add_fault(service="ec2", code="RequestLimitExceeded", status=503, rate=0.2)
    try:
        first = next(releases)
    finally:
        sandbox.clear_faults()
    FIRST_RELEASE_EC2_CALLS.extend(sandbox.requests(service="ec2", since=started))
    yield first
    next(releases, None)


FIRST_RELEASE_EC2_CALLS: list[dict] = []


def test_v1_is_released_with_the_infrastructure(release: Release) -> None:
    check_v1_released_with_the_infrastructure(release)


def test_v1_completed_with_a_fifth_of_ec2_calls_throttled(release: Release) -> None:
    check_the_release_completed_with_a_fifth_of_ec2_calls_throttled(release.first, FIRST_RELEASE_EC2_CALLS)


def test_v1_was_over_the_cost_ceiling_and_accepted(release: Release) -> None:
    check_preflight_accepted_the_cost(release.first)


def test_tag_audit_names_the_planted_subnet_and_only_it(release: Release) -> None:
    check_tag_audit_names_the_planted_subnet_and_only_it(release.sandbox, release.environment)


def test_scale_advice_says_move_up_above_the_thresholds(release: Release) -> None:
    check_scale_advice_enterprise_above_the_thresholds(release.sandbox, release.environment)


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def database_url(release: Release) -> str:
    secrets = aws_client(release.sandbox, "secretsmanager")
    return secrets.get_secret_value(SecretId=f"macroai/{release.environment}/DATABASE_URL")["SecretString"]


def test_v1_migrated_the_neon_branch_and_production_serves_the_rows(release: Release) -> None:
    output = release.first.stdout + release.first.stderr
    assert "Migrate" in output and "Run the migrations as a one-off task" in output, output[-3000:]
    served = get_json(f"{release.production_url}/items")
    assert [(item["name"], item["quantity"]) for item in served["items"]] == SEEDED
    assert served["version"] == "v1"
    assert get_json(f"{release.production_url}/api/items")["items"] == served["items"]
    with psycopg.connect(database_url(release)) as conn:
        applied = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert applied == ["0001_create_items.sql", "0002_seed_items.sql"]


def test_a_failing_migration_restores_the_database_before_traffic_moves(
    release: Release, tmp_path: Path
) -> None:
    url = database_url(release)
    before = database_checksum(url)
    started = time.monotonic()
    migrations = {"data_migration_environment": {"APP_MIGRATIONS_DIR": str(failing_migrations(tmp_path))}}
    # A migration file in the commit puts the migrations in scope (and the backend: they run from its image).
    run = release.deploy("v2", "-e", json.dumps(migrations), files={"db/0004_price.sql": "-- price\n"})
    seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-5000:]
    assert database_checksum(url) == before
    assert get_version(release.production_url) == "v1"
    served = get_json(f"{release.production_url}/items")["items"]
    assert [(item["name"], item["quantity"]) for item in served] == SEEDED
    service = aws_client(release.sandbox, "ecs").describe_services(
        cluster=release.cluster, services=[release.service]
    )
    assert service["services"][0]["taskDefinition"].endswith(":1"), "the service was never moved to v2"
    assert "The migration failed, so the release stopped before any traffic moved" in output
    assert (
        'migration 0004_price.sql failed: column "price" of relation "items" contains null values' in output
    )
    assert "exited with code 1 (Essential container in task exited)" in output
    assert "The database was restored to the restore point" in output and "then release again" in output
    # The state the failed migration left is kept for inspection, beside the two backup branches.
    neon_url, project = release.sandbox.neon_url(), release.sandbox.neon_project_id()
    request = urllib.request.Request(
        f"{neon_url}/projects/{project}/branches", headers={"Authorization": f"Bearer {NEON_API_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        names = [branch["name"] for branch in json.loads(response.read())["branches"]]
    assert [n for n in names if n.startswith("production-failed-migrate-")], names
    assert len([n for n in names if n.startswith("production-pre-migrate-")]) == 2, names
    print(f"\nhobby: failed migration, restored and stopped, {seconds:.1f}s")


def test_v2_under_load_drops_nothing_and_old_tasks_go(release: Release) -> None:
    check_v2_under_load_drops_nothing_and_old_tasks_go(release)


def test_rolled_back_during_the_bake_restores_v2_in_seconds(release: Release) -> None:
    with LoadProbe(f"{release.production_url}/version", rate=25, max_seconds=240) as load:
        process = release.start_deploy("v5", *LONG_BAKE)
        try:
            release.wait_for_bake()
            assert get_version(release.production_url) == "v5"
            started = time.monotonic()
            rollback = roll_back(release)
            seconds = time.monotonic() - started
            output, _ = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
    assert rollback.returncode == 0, rollback.stdout[-3000:] + rollback.stderr[-2000:]
    assert "ROLLBACK_SUCCESSFUL" in rollback.stdout
    assert get_version(release.production_url) == "v2"
    assert load.failures == [], load.failures[:5]
    assert load.versions[-1] == "v2" and "v5" in load.versions, load.versions
    # The interrupted release fails, naming its deployment.
    assert process.returncode != 0 and "ROLLBACK" in output, output[-3000:]
    print(f"\n{release.scale}: rolled_back during the bake took {seconds:.1f}s (command start to done)")
