"""The RDS stand-in's bookkeeping on moto's in-process RDS backend, over a fake PostgreSQL.

The real PostgreSQL side (connections, copies, the endpoint): tests/integration/test_sandbox_rds.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.aws import rds
from sandbox.aws.rds import RdsStandIn, fit, free_name, wanted_database

PG_PORT = 5999


class FakePostgres:
    """Databases are dicts of rows; roles a dict of passwords."""

    dsn = "postgresql://postgres@127.0.0.1:5999/postgres"
    port = PG_PORT

    def __init__(self) -> None:
        self.databases: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, str] = {}

    def create_database(self, name: str, owner: str) -> None:
        assert name not in self.databases
        self.databases[name] = {"owner": owner, "rows": []}

    def copy_database(self, source: str, target: str, owner: str) -> None:
        assert target not in self.databases
        self.databases[target] = {"owner": owner, "rows": copy.deepcopy(self.databases[source]["rows"])}

    def drop_database(self, name: str) -> None:
        self.databases.pop(name, None)

    def ensure_role(self, name: str, password: str) -> None:
        self.roles[name] = password

    def drop_role(self, name: str) -> bool:
        if any(db["owner"] == name for db in self.databases.values()):
            return False
        self.roles.pop(name, None)
        return True


class FakeStandIn(RdsStandIn):
    def __init__(self, pg: FakePostgres) -> None:
        super().__init__(pg)  # type: ignore[arg-type]
        self.marked: set[tuple[str, str]] = set()
        self.closed: set[str] = set()

    def _databases(self) -> set[str]:
        return set(self.pg.databases) | {"postgres"}  # type: ignore[attr-defined]

    def _mark(self, kind: str, name: str) -> None:
        self.marked.add((kind.lower(), name))

    def _refuse_connections(self, name: str) -> None:
        self.closed.add(name)

    def _ensure_role(self, name: str, password: str) -> None:
        if name not in self.pg.roles:  # type: ignore[attr-defined]
            self._mark("ROLE", name)
        self.pg.ensure_role(name, password)

    def _marked(self, catalog: str) -> list[str]:
        present = self.pg.databases if catalog == "database" else self.pg.roles  # type: ignore[attr-defined]
        return [name for kind, name in self.marked if kind == catalog and name in present]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One moto for the module (starting one costs about a second); each test uses identifiers of its own."""
    with mock_aws():
        yield boto3.client("rds", region_name="eu-west-2")


@pytest.fixture
def world(
    client: Any, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, FakePostgres, FakeStandIn, str]]:
    """moto's RDS client, a fresh fake PostgreSQL and stand-in, and this test's instance identifier."""
    pg = FakePostgres()
    standin = FakeStandIn(pg)
    rds.install(standin)
    try:
        yield (
            client,
            pg,
            standin,
            f"db-{request.node.name.removeprefix('test_').replace('_', '-')}"[:30].rstrip("-"),
        )
    finally:
        rds.install(None)


def create(client: Any, identifier: str, **extra: Any) -> dict[str, Any]:
    params = {
        "DBInstanceIdentifier": identifier,
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "MasterUsername": "app",
        "MasterUserPassword": "secret-1",
        "AllocatedStorage": 20,
        **extra,
    }
    return client.create_db_instance(**params)["DBInstance"]


def describe(client: Any, identifier: str) -> dict[str, Any]:
    return client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def test_names_fit_postgres_and_avoid_taken_ones() -> None:
    assert fit("a" * 63) == "a" * 63
    long = fit("snapshot-" + "x" * 100)
    assert len(long) == 63 and long.startswith("snapshot-x")
    assert fit("snapshot-" + "x" * 100) == long and fit("snapshot-" + "x" * 101) != long
    assert free_name("app", set()) == "app"
    assert free_name("app", {"app", "app_2"}) == "app_3"
    assert free_name("postgres", set()) == "postgres_2"
    assert len(free_name("y" * 70, {fit("y" * 70)})) == 63
    assert wanted_database("app-db", None) == "app-db"
    assert wanted_database("app-db", "postgres") == "app-db"
    assert wanted_database("app-db", "shop") == "shop"


def test_create_gives_a_real_database_and_a_loopback_endpoint(world: Any) -> None:
    client, pg, _, db = world
    created = create(
        client, db, DBName="shop", MultiAZ=True, EnablePerformanceInsights=True, DeletionProtection=True
    )
    assert created["DBInstanceStatus"] == "creating"
    assert pg.databases["shop"]["owner"] == "app" and pg.roles["app"] == "secret-1"
    instance = describe(client, db)
    assert instance["DBInstanceStatus"] == "available"
    assert instance["Endpoint"] == {"Address": "127.0.0.1", "Port": PG_PORT}
    assert instance["DBName"] == "shop"
    assert instance["MultiAZ"] is True and instance["DeletionProtection"] is True
    assert instance["PerformanceInsightsEnabled"] is True
    assert instance["PerformanceInsightsRetentionPeriod"] == 7
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == "default"


def test_a_second_instance_with_the_same_dbname_gets_a_free_name(world: Any) -> None:
    client, pg, _, db = world
    create(client, f"{db}-1", DBName="shop")
    create(client, f"{db}-2", DBName="shop")
    assert describe(client, f"{db}-2")["DBName"] == "shop_2"
    assert {"shop", "shop_2"} <= set(pg.databases)


def test_gp3_reads_back_its_baseline(world: Any) -> None:
    client, _, _, db = world
    create(client, db, StorageType="gp3")
    instance = describe(client, db)
    assert (instance["Iops"], instance["StorageThroughput"]) == (3000, 125)


def test_snapshot_then_restore_copies_the_data_as_it_was(world: Any) -> None:
    client, pg, standin, db = world
    create(client, db)
    pg.databases[db]["rows"] = [1, 2, 3]
    snapshot = client.create_db_snapshot(DBSnapshotIdentifier=f"{db}-before", DBInstanceIdentifier=db)
    assert snapshot["DBSnapshot"]["Status"] == "creating"
    assert (
        client.describe_db_snapshots(DBSnapshotIdentifier=f"{db}-before")["DBSnapshots"][0]["Status"]
        == "available"
    )
    assert pg.databases[f"rds_snapshot_{db}-before"]["rows"] == [1, 2, 3]
    assert f"rds_snapshot_{db}-before" in standin.closed
    pg.databases[db]["rows"].append(4)
    client.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=f"{db}-restored", DBSnapshotIdentifier=f"{db}-before"
    )
    restored = describe(client, f"{db}-restored")
    assert restored["DBName"] == f"{db}-restored"
    assert pg.databases[f"{db}-restored"]["rows"] == [1, 2, 3]
    client.delete_db_snapshot(DBSnapshotIdentifier=f"{db}-before")
    assert f"rds_snapshot_{db}-before" not in pg.databases


def test_restore_in_place_keeps_the_dbname(world: Any) -> None:
    client, pg, _, db = world
    create(client, db, DBName="shop")
    pg.databases["shop"]["rows"] = ["kept"]
    client.create_db_snapshot(DBSnapshotIdentifier=f"{db}-before", DBInstanceIdentifier=db)
    pg.databases["shop"]["rows"] = ["broken"]
    client.delete_db_instance(DBInstanceIdentifier=db, SkipFinalSnapshot=True)
    client.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=f"{db}-before")
    assert describe(client, db)["DBName"] == "shop"
    assert pg.databases["shop"]["rows"] == ["kept"]


def test_replica_shares_the_database_and_outlives_its_source(world: Any) -> None:
    client, pg, standin, db = world
    create(client, db)
    replica = client.create_db_instance_read_replica(
        DBInstanceIdentifier=f"{db}-r1", SourceDBInstanceIdentifier=db
    )["DBInstance"]
    assert replica["DBInstanceStatus"] == "creating"
    assert describe(client, f"{db}-r1")["DBName"] == db
    assert [r["replica"] for r in standin.listing()] == [False, True]
    client.delete_db_instance(DBInstanceIdentifier=db, SkipFinalSnapshot=True)
    assert db in pg.databases  # the replica still points at it
    client.delete_db_instance(DBInstanceIdentifier=f"{db}-r1", SkipFinalSnapshot=True)
    assert db not in pg.databases and "app" not in pg.roles


def test_deletion_protection_refuses_and_keeps_the_database(world: Any) -> None:
    client, pg, _, db = world
    create(client, db, DeletionProtection=True)
    with pytest.raises(ClientError) as caught:
        client.delete_db_instance(DBInstanceIdentifier=db, SkipFinalSnapshot=True)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert db in pg.databases
    client.modify_db_instance(DBInstanceIdentifier=db, DeletionProtection=False, ApplyImmediately=True)
    client.delete_db_instance(DBInstanceIdentifier=db, FinalDBSnapshotIdentifier=f"{db}-final")
    assert db not in pg.databases and f"rds_snapshot_{db}-final" in pg.databases
    assert "app" in pg.roles  # the final snapshot's copy still belongs to it
    client.delete_db_snapshot(DBSnapshotIdentifier=f"{db}-final")
    assert f"rds_snapshot_{db}-final" not in pg.databases and "app" not in pg.roles


def test_modify_sets_the_password_and_performance_insights(world: Any) -> None:
    client, pg, _, db = world
    create(client, db)
    assert describe(client, db)["PerformanceInsightsEnabled"] is False
    client.modify_db_instance(
        DBInstanceIdentifier=db, MasterUserPassword="secret-2", EnablePerformanceInsights=True
    )
    assert pg.roles["app"] == "secret-2"
    assert describe(client, db)["PerformanceInsightsEnabled"] is True


def test_cleanup_forgets_everything_it_made(world: Any) -> None:
    client, pg, standin, db = world
    create(client, db)
    client.create_db_snapshot(DBSnapshotIdentifier=f"{db}-s1", DBInstanceIdentifier=db)
    assert sorted(standin.cleanup()) == [db, f"rds_snapshot_{db}-s1"]
    assert pg.databases == {} and pg.roles == {} and standin.listing() == []


def test_other_engines_stay_records(world: Any) -> None:
    client, pg, _, db = world
    create(client, db, Engine="mysql")
    assert pg.databases == {}
    assert describe(client, db)["Endpoint"]["Address"].endswith(".rds.amazonaws.com")


def test_proxied_each_instance_answers_on_its_own_port_and_keeps_it_when_restored_in_place(
    client: Any,
) -> None:
    """With proxies on (the sandbox's server), the endpoint is the instance's security-group proxy; the
    identifier keeps its port across a delete and a restore in place (sandbox/dataplane/firewall.py)."""
    pg = FakePostgres()
    standin = FakeStandIn(pg)
    standin.proxied = True
    rds.install(standin)
    try:
        create(client, "db-proxied-a", DBName="proxied_a")
        create(client, "db-proxied-b", DBName="proxied_b")
        first, second = describe(client, "db-proxied-a"), describe(client, "db-proxied-b")
        ports = {first["Endpoint"]["Port"], second["Endpoint"]["Port"]}
        assert len(ports) == 2 and PG_PORT not in ports
        assert {r.proxy.guard.port for r in standin.instances.values() if r.proxy} == {5432}
        client.create_db_snapshot(
            DBSnapshotIdentifier="db-proxied-a-snap", DBInstanceIdentifier="db-proxied-a"
        )
        client.delete_db_instance(DBInstanceIdentifier="db-proxied-a", SkipFinalSnapshot=True)
        client.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="db-proxied-a", DBSnapshotIdentifier="db-proxied-a-snap"
        )
        restored = describe(client, "db-proxied-a")
        assert restored["Endpoint"]["Port"] == first["Endpoint"]["Port"]
        (record,) = [r for r in standin.instances.values() if r.identifier == "db-proxied-a"]
        assert record.proxy is not None and record.proxy.guard.port == 5432  # not the copied proxy port
    finally:
        standin.cleanup()
        rds.install(None)
