"""Release preflight: each bad setting stops playbooks/deploy.yml before any AWS write, naming the variable
and what would be valid.

All cases run concurrently once per module (each is an ansible-playbook process of a few seconds); each
test then checks its own run, and that the sandbox's request log holds no write from any of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    extra_vars: tuple[str, ...]
    expected: tuple[str, ...]  # the variable's name, then what would be valid
    drop_from_inventory: str | None = None  # a variable to delete from a copy of inventories/hobby


CASES: dict[str, Case] = {
    "unknown-scale": Case(("deploy_scale=huge",), ("deploy_scale", "hobby, enhanced-hobby, enterprise")),
    "missing-region": Case((), ("aws_region is not set", "eu-west-2"), drop_from_inventory="aws_region"),
    "region-not-a-region": Case(("aws_region=London",), ("aws_region='London'", "eu-west-2")),
    "az-count-not-int": Case(("networking_az_count=two",), ("networking_az_count", "int")),
    "az-count-below-two": Case(("networking_az_count=1",), ("networking_az_count=1", "at least 2")),
    "az-count-above-region": Case(("networking_az_count=4",), ("networking_az_count=4", "use 2 to 3")),
    "nat-negative": Case(
        ("networking_nat_gateway_count=-1",), ("networking_nat_gateway_count=-1", "0 (no NAT)")
    ),
    "nat-above-azs": Case(
        ("networking_nat_gateway_count=3",), ("networking_nat_gateway_count=3", "use 0 to 2")
    ),
    "cidr-invalid": Case(("networking_vpc_cidr=10.0.0.0",), ("networking_vpc_cidr", "/16 to /22")),
    "cidr-host-bits": Case(("networking_vpc_cidr=10.0.1.0/16",), ("networking_vpc_cidr", "'10.0.0.0/16'")),
    "cidr-too-small": Case(("networking_vpc_cidr=10.0.0.0/24",), ("networking_vpc_cidr", "/16 to /22")),
    "private-tasks-no-egress": Case(
        ("networking_tasks_in_public_subnets=false",),
        ("networking_tasks_in_public_subnets", "networking_nat_gateway_count >= 1"),
    ),
    "unknown-endpoint": Case(
        ('{"networking_vpc_endpoints": ["s3", "s4"]}',), ("networking_vpc_endpoints", "ecr.api")
    ),
    "project-not-name-safe": Case(("deploy_project=Macro_AI",), ("deploy_project", "lower-case")),
    "bool-wrong-type": Case(
        ('{"networking_tasks_in_public_subnets": "maybe"}',), ("networking_tasks_in_public_subnets", "bool")
    ),
    "unknown-database-provider": Case(
        ("data_database_provider=mysql",), ("data_database_provider", "neon, rds")
    ),
    "neon-retention-over-plan": Case(
        ("data_neon_history_retention_hours=24",),
        ("data_neon_history_retention_hours=24", "free plan's maximum of 6 hours"),
    ),
    "backup-retention-out-of-range": Case(
        ("data_database_provider=rds", "data_backup_retention_days=36"),
        ("data_backup_retention_days=36", "0 to 35"),
    ),
    "unknown-rds-instance-class": Case(
        ("data_database_provider=rds", "data_rds_instance_class=db.x9.huge"),
        ("data_rds_instance_class=db.x9.huge", "db.t4g.micro"),
    ),
    "neon-branch-name-invalid": Case(
        ('{"data_neon_branch_name": " production"}',),
        ("data_neon_branch_name", "no leading or trailing spaces"),
    ),
    "bad-elasticache-node-type": Case(
        ("data_cache_provider=elasticache", "data_elasticache_node_type=m5.large"),
        ("data_elasticache_node_type=m5.large", "cache.t4g.micro"),
    ),
    "upstash-without-redis-url": Case(("data_redis_url=",), ("data_redis_url is empty", "vault")),
}


def inventory_without(variable: str, root: Path) -> Path:
    """A copy of inventories/hobby with ``variable`` removed from its group_vars."""
    copy = root / "hobby"
    shutil.copytree(REPO_ROOT / "inventories" / "hobby", copy)
    pattern = re.compile(rf"^{re.escape(variable)}:.*\n", re.MULTILINE)
    for path in (copy / "group_vars").rglob("*.yml"):
        path.write_text(pattern.sub("", path.read_text()))
    return copy


def run_deploy(case: Case, endpoint: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    inventory = inventory_without(case.drop_from_inventory, scratch) if case.drop_from_inventory else None
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        # JSON results keep each message on one line (YAML would fold long ones).
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "SANDBOX_AWS_URL": endpoint,
    }
    command = [str(bin_dir / "ansible-playbook"), "playbooks/deploy.yml"]
    command += ["-i", str(inventory or REPO_ROOT / "inventories" / "hobby"), "-i", "inventories/sandbox"]
    for extra in case.extra_vars:
        command += ["-e", extra]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def preflight_runs(
    sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, subprocess.CompletedProcess[str]], list[dict], list[dict]]]:
    """Every case's run, and the write and read calls the sandbox saw while they ran."""
    sandbox.clear_requests()
    with ThreadPoolExecutor(max_workers=min(8, len(CASES))) as pool:
        futures = {
            name: pool.submit(run_deploy, case, sandbox.base_url, tmp_path_factory.mktemp(name))
            for name, case in CASES.items()
        }
        runs = {name: future.result() for name, future in futures.items()}
    yield runs, sandbox.requests(write=True), sandbox.requests(write=False)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_setting_fails_before_any_write(name: str, preflight_runs) -> None:
    runs, writes, _reads = preflight_runs
    run = runs[name]
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    for expected in CASES[name].expected:
        assert expected in output, f"{expected!r} not in the output:\n{output}"
    assert "macroai.deploy.networking : Create the VPC" not in output
    assert writes == []


def test_preflight_reads_the_region_zones_from_the_sandbox(preflight_runs) -> None:
    """The runs did reach the sandbox (so 'no writes' means something): network_plan read the zones."""
    _runs, _writes, reads = preflight_runs
    assert "DescribeAvailabilityZones" in {read["operation"] for read in reads}
