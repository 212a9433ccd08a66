"""The backend release at enterprise scale (3 AZs, LINEAR traffic steps): v1, with the migrations on the RDS
stand-in, then v2 under load with zero failed requests. The rollback paths, which do not depend on the scale,
and the failing migration are proven at hobby scale in test_backend_release.py; that a re-run changes nothing
at enterprise scale, by the molecule scenario `enterprise` (its idempotence step).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from backend import (
    Release,
    check_v1_released_with_the_infrastructure,
    check_v2_under_load_drops_nothing_and_old_tasks_go,
    released,
)
from support import aws_client

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def release(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    yield from released(sandbox, "enterprise", tmp_path_factory.mktemp("backend-release-enterprise"))


def test_v1_is_released_with_the_infrastructure(release: Release) -> None:
    check_v1_released_with_the_infrastructure(release)


def test_v1_migrated_the_rds_database_and_production_serves_the_rows(release: Release) -> None:
    output = release.first.stdout + release.first.stderr
    assert "Run the migrations as a one-off task" in output, output[-3000:]
    assert "Take the restore point, a manual RDS snapshot" in output
    with urllib.request.urlopen(f"{release.production_url}/items", timeout=5) as response:
        served = json.loads(response.read())
    assert [(item["name"], item["quantity"]) for item in served["items"]] == [
        ("anvil", 3),
        ("bucket", 12),
        ("compass", 1),
    ]
    snapshots = aws_client(release.sandbox, "rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert any(s["DBSnapshotIdentifier"].startswith(f"{release.prefix}-db-pre-migrate-") for s in snapshots)


def test_v2_under_load_drops_nothing_and_old_tasks_go(release: Release) -> None:
    check_v2_under_load_drops_nothing_and_old_tasks_go(release)
