"""The sandbox's RDS stand-in (a real database on its PostgreSQL) and its ElastiCache replication groups.

boto3 and one amazon.aws.rds_instance play against the running sandbox; identifiers carry a prefix of this
run, and what the tests make is deleted at the end, so other tests' state is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError
from support import aws_client, play_module

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PREFIX = f"h{uuid.uuid4().hex[:6]}"
PASSWORD = "sandbox-secret-1"
CHECKSUM = "SELECT count(*), md5(coalesce(string_agg(id || ':' || note, ',' ORDER BY id), '')) FROM orders"


@pytest.fixture(scope="module")
def rds(sandbox: SandboxClient) -> Iterator[Any]:
    client = aws_client(sandbox, "rds")
    yield client
    for instance in client.describe_db_instances()["DBInstances"]:
        if instance["DBInstanceIdentifier"].startswith(PREFIX):
            client.modify_db_instance(
                DBInstanceIdentifier=instance["DBInstanceIdentifier"], DeletionProtection=False
            )
            client.delete_db_instance(
                DBInstanceIdentifier=instance["DBInstanceIdentifier"], SkipFinalSnapshot=True
            )
    for snapshot in client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
        if snapshot["DBSnapshotIdentifier"].startswith(PREFIX):
            client.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])


def url(instance: dict[str, Any]) -> str:
    """The DATABASE_URL an app builds from DescribeDBInstances and the master credentials."""
    endpoint = instance["Endpoint"]
    return (
        f"postgresql://{instance['MasterUsername']}:{PASSWORD}@{endpoint['Address']}:{endpoint['Port']}"
        f"/{instance['DBName']}"
    )


def available(rds: Any, identifier: str) -> dict[str, Any]:
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=identifier, WaiterConfig={"Delay": 1})
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def checksum(instance: dict[str, Any]) -> tuple[Any, ...]:
    with psycopg.connect(url(instance), connect_timeout=10) as conn:
        return tuple(conn.execute(CHECKSUM).fetchone() or ())


def test_snapshot_then_restore_gives_the_rows_as_they_were(rds: Any, sandbox: SandboxClient) -> None:
    created = rds.create_db_instance(
        DBInstanceIdentifier=f"{PREFIX}-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        DBName="shop",
        MasterUsername=f"{PREFIX}_app",
        MasterUserPassword=PASSWORD,
        DeletionProtection=True,
    )["DBInstance"]
    assert created["DBInstanceStatus"] == "creating"
    source = available(rds, f"{PREFIX}-db")
    assert source["Endpoint"]["Address"] == "127.0.0.1" and source["DBName"] == "shop"
    with psycopg.connect(url(source), autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 500) g")
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'").fetchone()
    assert owner == (f"{PREFIX}_app",)
    before = checksum(source)

    rds.create_db_snapshot(DBSnapshotIdentifier=f"{PREFIX}-before", DBInstanceIdentifier=f"{PREFIX}-db")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier=f"{PREFIX}-before", WaiterConfig={"Delay": 1}
    )
    with psycopg.connect(url(source), autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE id > 250")
        conn.execute("UPDATE orders SET note = 'changed' WHERE id = 1")
    assert checksum(source) != before

    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=f"{PREFIX}-restored", DBSnapshotIdentifier=f"{PREFIX}-before"
    )
    restored = available(rds, f"{PREFIX}-restored")
    assert restored["DBName"] == f"{PREFIX}-restored"
    assert checksum(restored) == before
    listed = {db["id"]: db for db in sandbox.rds_instances()}
    assert listed[f"{PREFIX}-restored"]["database"] == f"{PREFIX}-restored"
    assert listed[f"{PREFIX}-db"]["port"] == source["Endpoint"]["Port"]

    with pytest.raises(ClientError) as refused:
        rds.delete_db_instance(DBInstanceIdentifier=f"{PREFIX}-db", SkipFinalSnapshot=True)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert checksum(source)[0] == 250  # still there


def test_rds_instance_rerun_changes_nothing(sandbox: SandboxClient, tmp_path: Path) -> None:
    args = {
        "db_instance_identifier": f"{PREFIX}-ent",
        "engine": "postgres",
        "engine_version": "16.3",
        "db_instance_class": "db.m6g.large",
        "allocated_storage": 50,
        "storage_type": "gp3",
        "db_name": "app",
        "username": f"{PREFIX}_ent",
        "password": PASSWORD,
        "multi_az": True,
        "storage_encrypted": True,
        "backup_retention_period": 30,
        "enable_performance_insights": True,
        "performance_insights_retention_period": 7,
        "deletion_protection": True,
        "tags": {"app": "demo"},
    }
    first = play_module(sandbox, tmp_path, "amazon.aws.rds_instance", args)
    assert first["changed"] is True, first
    second = play_module(sandbox, tmp_path, "amazon.aws.rds_instance", args)
    assert second["changed"] is False, second
    assert second["endpoint"]["address"] == "127.0.0.1"
    assert (second["multi_az"], second["deletion_protection"], second["performance_insights_enabled"]) == (
        True,
        True,
        True,
    )


def test_replication_group_round_trip(sandbox: SandboxClient) -> None:
    cache = aws_client(sandbox, "elasticache")
    group_id = f"{PREFIX}-cache"
    created = cache.create_replication_group(
        ReplicationGroupId=group_id,
        ReplicationGroupDescription="app cache",
        Engine="valkey",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        TransitEncryptionEnabled=True,
        AtRestEncryptionEnabled=True,
        AuthToken="a-long-auth-token-0123",
        Tags=[{"Key": "app", "Value": "demo"}],
    )["ReplicationGroup"]
    assert created["Status"] == "creating"
    cache.get_waiter("replication_group_available").wait(
        ReplicationGroupId=group_id, WaiterConfig={"Delay": 1}
    )
    group = cache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    assert (group["Status"], group["MultiAZ"], group["AutomaticFailover"]) == (
        "available",
        "enabled",
        "enabled",
    )
    assert (
        group["TransitEncryptionEnabled"],
        group["AtRestEncryptionEnabled"],
        group["AuthTokenEnabled"],
    ) == (
        True,
        True,
        True,
    )
    assert group["MemberClusters"] == [f"{group_id}-001", f"{group_id}-002"]
    assert group["NodeGroups"][0]["PrimaryEndpoint"]["Port"] == 6379
    assert (group["Engine"], group["CacheNodeType"]) == ("valkey", "cache.t4g.small")

    modified = cache.modify_replication_group(
        ReplicationGroupId=group_id,
        CacheNodeType="cache.t4g.medium",
        SnapshotWindow="03:00-04:00",
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert modified["Status"] == "modifying"
    group = cache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    assert (group["Status"], group["CacheNodeType"], group["SnapshotWindow"]) == (
        "available",
        "cache.t4g.medium",
        "03:00-04:00",
    )
    cache.add_tags_to_resource(ResourceName=group["ARN"], Tags=[{"Key": "tier", "Value": "cache"}])
    tags = cache.list_tags_for_resource(ResourceName=group["ARN"])["TagList"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == {"app": "demo", "tier": "cache"}

    with pytest.raises(ClientError) as refused:
        cache.create_replication_group(
            ReplicationGroupId=f"{PREFIX}-bad", ReplicationGroupDescription="x", MultiAZEnabled=True
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"

    assert (
        cache.delete_replication_group(ReplicationGroupId=group_id)["ReplicationGroup"]["Status"]
        == "deleting"
    )
    cache.get_waiter("replication_group_deleted").wait(ReplicationGroupId=group_id, WaiterConfig={"Delay": 1})
