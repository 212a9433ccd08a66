"""RDS stand-in: a PostgreSQL DB instance is a real database on the sandbox's PostgreSQL.

moto keeps DB instances and snapshots as records only. Here, on moto's own models (its RDS backend's
methods are wrapped once, in the server process, by :func:`install`), an instance with engine ``postgres``
also gets a real database, so the app and its migrations run against it:

- CreateDBInstance: a database named ``DBName`` (the instance identifier when ``DBName`` is absent or
  ``postgres``; a free variant ``<name>_2``, ... when another instance already holds the name), owned by a
  login role named ``MasterUsername`` (created if missing, its password set to ``MasterUserPassword``). The
  instance reads back ``Endpoint`` = 127.0.0.1 and the sandbox PostgreSQL's port, and ``DBName`` = the real
  database's name, so ``postgresql://<master>:<password>@<Address>:<Port>/<DBName>`` connects.
  The sandbox's PostgreSQL trusts every local connection: passwords are set but not checked.
- Status: the Create*/Restore* answer says ``creating``; the next Describe says ``available`` (the database
  exists before the answer). One look, not a timer: amazon.aws's waiters poll every 60 s, so any creating
  window longer than the gap between two calls would cost a minute of real time.
- CreateDBInstanceReadReplica: the replica points at its source's database. A stand-in: no replication,
  writes through the "replica" land in the primary's database.
- CreateDBSnapshot (and a final snapshot on DeleteDBInstance): ``CREATE DATABASE <copy> TEMPLATE <db>``,
  after ending the other sessions on the instance's database (PostgreSQL cannot copy a database in use):
  clients see their connections dropped once and must reconnect. The copy refuses connections.
  moto's automated snapshots stay records only: restoring from one gives an empty database.
- RestoreDBInstanceFromDBSnapshot: the new instance's database is a copy of the snapshot's copy, named
  ``DBName`` when that is free (an in-place restore: the source was deleted first), else after the instance.
  RestoreDBInstanceToPointInTime: a copy of the source's database as it is now (no history).
- DeleteDBInstance (moto refuses a deletion-protected instance with AWS's InvalidParameterCombination) and
  DeleteDBSnapshot drop the database. A role the stand-in created is dropped once nothing uses it.
- moto drops EnablePerformanceInsights; here PerformanceInsightsEnabled, PerformanceInsightsRetentionPeriod
  and PerformanceInsightsKMSKeyId read back as set (CreateDBInstance and ModifyDBInstance), so
  ``amazon.aws.rds_instance`` reruns report no change.
- Other engines go to moto unchanged (records only).
- Security groups (sandbox/dataplane/firewall.py): with proxies on (the sandbox's server), each instance's
  ``Endpoint`` port is a TCP proxy of its own in front of the PostgreSQL, which admits a task only if the
  instance's VPC security groups admit the task's groups or address on the instance's port (as AWS sees
  it: ``Port``, 5432 by default); a refused connection is dropped (the client times out). Without groups
  the instance has its VPC's default group, as on AWS.

Every database and role the stand-in creates carries the comment ``sandbox-rds``; ``reset``, ``down`` and the
next ``up`` drop them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from sandbox.dataplane.firewall import DatabaseProxy, Guard
from sandbox.neon.pg import PostgresBackend
from sandbox.state import HOST

MARK = "sandbox-rds"
ENGINE = "postgres"
MAX_NAME = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)
RESERVED = frozenset({"postgres", "template0", "template1"})
SNAPSHOT_PREFIX = "rds_snapshot_"
PI_DEFAULT_RETENTION = 7
DEFAULT_PORT = 5432  # PostgreSQL's port on RDS when CreateDBInstance names none


def instance_groups(backend: Any, db: Any) -> list[str]:
    """An instance's VPC security groups; without any, its VPC's default group (RDS's "Controlling access
    with security groups": an instance created without a group gets the VPC's default security group)."""
    groups = list(getattr(db, "vpc_security_group_ids", None) or [])
    if groups:
        return groups
    from moto.ec2.models import ec2_backends

    subnet_group = getattr(db, "db_subnet_group", None)
    vpc_id = getattr(subnet_group, "vpc_id", None)
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    default = ec2.get_security_group_from_name("default", vpc_id=vpc_id)
    return [default.id] if default is not None else []


def fit(name: str) -> str:
    """``name`` within PostgreSQL's 63 bytes: a long name keeps its start and gains a short hash."""
    if len(name.encode()) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name.encode()[: MAX_NAME - 9].decode(errors="ignore") + "_" + digest


def free_name(wanted: str, taken: set[str]) -> str:
    """``wanted`` (fitted) if no database has it, else the first free ``wanted_2``, ``wanted_3``, ..."""
    base = fit(wanted)
    if base not in taken and base not in RESERVED:
        return base
    number = 2
    while True:
        suffix = f"_{number}"
        candidate = base[: MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def wanted_database(identifier: str, db_name: str | None) -> str:
    """The database an instance asks for: ``DBName``, or its identifier when absent or ``postgres``."""
    return db_name if db_name and db_name != "postgres" else identifier


@dataclass
class InstanceRecord:
    account: str
    region: str
    identifier: str
    database: str
    role: str
    owns: bool  # False for a read replica: it points at its source's database
    model: Any  # moto's DBInstance
    proxy: DatabaseProxy | None = None  # the endpoint's port, when the stand-in guards its instances


class RdsStandIn:
    """The real databases behind moto's RDS records, and the bookkeeping between the two."""

    def __init__(self, pg: PostgresBackend, proxied: bool = False) -> None:
        self.pg = pg
        self.proxied = proxied  # a security-group proxy per instance (sandbox/dataplane/firewall.py)
        self.handed_out: set[int] = set()  # endpoint ports given so far (a restore copies its source's)
        # An identifier keeps its endpoint port: a restore in place answers where its source did, as on AWS
        # (same identifier, same DNS name and port), so the app's DATABASE_URL still reaches it.
        self.ports: dict[tuple[str, str, str], int] = {}
        self.lock = threading.RLock()
        self.instances: dict[tuple[str, str, str], InstanceRecord] = {}
        self.pending: list[Any] = []  # models answered "creating": "available" on the next look
        self.local = threading.local()  # copy_from: the database a CreateDBInstance copies (restores)

    # -- PostgreSQL --------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.pg.dsn, autocommit=True)

    def _databases(self) -> set[str]:
        with self._connect() as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}

    def _mark(self, kind: str, name: str) -> None:
        statement = sql.SQL("COMMENT ON " + kind + " {} IS {}").format(
            sql.Identifier(name), sql.Literal(MARK)
        )
        with self._connect() as conn:
            conn.execute(statement)

    def _refuse_connections(self, name: str) -> None:
        statement = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        with self._connect() as conn:
            conn.execute(statement)

    def _ensure_role(self, name: str, password: str) -> None:
        with self._connect() as conn:
            existed = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        self.pg.ensure_role(name, password)
        if not existed:
            self._mark("ROLE", name)

    def _marked(self, catalog: str) -> list[str]:
        """Databases or roles carrying the stand-in's comment."""
        column, table = ("datname", "pg_database") if catalog == "database" else ("rolname", "pg_authid")
        query = (
            f"SELECT o.{column} FROM {table} o JOIN pg_shdescription d"
            f" ON d.objoid = o.oid AND d.classoid = '{table}'::regclass WHERE d.description = %s"
        )
        with self._connect() as conn:
            return [row[0] for row in conn.execute(query, (MARK,)).fetchall()]

    def _drop_role_if_unused(self, role: str) -> None:
        if role in self._marked("role") and not any(r.role == role for r in self.instances.values()):
            self.pg.drop_role(role)  # kept (False) while a database, e.g. a snapshot's copy, still needs it

    def cleanup(self) -> list[str]:
        """Drop every database and role the stand-in made (after a reset, at down, at the next up)."""
        with self.lock:
            for record in self.instances.values():
                if record.proxy is not None:
                    record.proxy.close()
            self.instances.clear()
            self.pending.clear()
            dropped = self._marked("database")
            for name in dropped:
                self.pg.drop_database(name)
            for role in self._marked("role"):
                self.pg.drop_role(role)
            return dropped

    # -- the bookkeeping moto's methods call -------------------------------------------------------
    def attach(self, backend: Any, db: Any, db_kwargs: dict[str, Any]) -> None:
        """Give a new postgres instance its database (a copy when restoring) and its endpoint."""
        with self.lock:
            copy_from = getattr(self.local, "copy_from", None)
            role = db.master_username or "postgres"
            taken = self._databases()
            wanted = wanted_database(db.db_instance_identifier, db.db_name)
            if getattr(self.local, "restoring", False) and wanted in taken:
                # Restored beside its source: the snapshot's DBName is taken, so it is named after itself.
                # Restored in place (the source deleted first, as on AWS), it keeps its DBName.
                wanted = db.db_instance_identifier
            name = free_name(wanted, taken)
            password = db_kwargs.get("master_user_password") or secrets.token_urlsafe(16)
            self._ensure_role(role, password)
            if copy_from:
                self.pg.copy_database(copy_from, name, role)
            else:
                self.pg.create_database(name, role)
            self._mark("DATABASE", name)
            self._track(backend, db, name, role, owns=True, port=db_kwargs.get("port"))
            db.db_name = name
            set_performance_insights(db, db_kwargs)

    def attach_replica(self, backend: Any, replica: Any) -> None:
        with self.lock:
            self._track(backend, replica, replica.sandbox_database, replica.master_username, owns=False)

    def _track(self, backend: Any, db: Any, database: str, role: str, owns: bool, port: Any = None) -> None:
        db.sandbox_database = database
        db.status = "creating"
        self.pending.append(db)
        key = (backend.account_id, backend.region_name, db.db_instance_identifier)
        record = InstanceRecord(key[0], key[1], db.db_instance_identifier, database, role, owns, db)
        if self.proxied:
            aws_port = int(port or DEFAULT_PORT)
            if aws_port in self.handed_out or aws_port == self.pg.port:
                aws_port = int(getattr(db, "sandbox_aws_port", None) or DEFAULT_PORT)
            db.sandbox_aws_port = aws_port
            guard = Guard(key[0], key[1], lambda: instance_groups(backend, db), aws_port)
            record.proxy = DatabaseProxy((HOST, self.pg.port), guard, self.ports.get(key, 0))
            self.handed_out.add(record.proxy.port)
            self.ports[key] = record.proxy.port
        db.port = record.proxy.port if record.proxy else self.pg.port
        self.instances[key] = record

    def detach(self, backend: Any, db: Any) -> None:
        """The instance is gone: drop its database unless a replica still points at it."""
        with self.lock:
            record = self.instances.pop(
                (backend.account_id, backend.region_name, db.db_instance_identifier), None
            )
            if record is None:
                return
            if record.proxy is not None:
                record.proxy.close()
            if record.owns:
                heir = next((r for r in self.instances.values() if r.database == record.database), None)
                if heir is not None:
                    heir.owns = True  # like AWS promoting the replicas of a deleted source
                else:
                    self.pg.drop_database(record.database)
            self._drop_role_if_unused(record.role)

    def rename(self, backend: Any, old: str, new: str) -> None:
        with self.lock:
            record = self.instances.pop((backend.account_id, backend.region_name, old), None)
            if record is not None:
                record.identifier = new
                self.instances[(backend.account_id, backend.region_name, new)] = record
                if record.proxy is not None:
                    self.ports[(backend.account_id, backend.region_name, new)] = record.proxy.port

    def snapshot(self, snapshot: Any, source: Any) -> None:
        """Copy the instance's database as the snapshot's (sessions on the source are ended first)."""
        with self.lock:
            name = free_name(SNAPSHOT_PREFIX + snapshot.db_snapshot_identifier, self._databases())
            role = source.master_username or "postgres"
            self.pg.copy_database(source.sandbox_database, name, role)
            self._refuse_connections(name)
            self._mark("DATABASE", name)
            snapshot.sandbox_database = name
            snapshot.status = "creating"
            self.pending.append(snapshot)

    def drop_snapshot(self, snapshot: Any) -> None:
        name = getattr(snapshot, "sandbox_database", None)
        if name:
            with self.lock:
                self.pg.drop_database(name)
                self._drop_role_if_unused(snapshot.master_username or "postgres")

    def settle(self) -> None:
        """What was answered "creating" is "available" from the next look on."""
        with self.lock:
            for model in self.pending:
                if model.status == "creating":
                    model.status = "available"
            self.pending.clear()

    def listing(self) -> list[dict[str, Any]]:
        """The instances and their real databases, for ``status --json``."""
        with self.lock:
            return [
                {
                    "id": r.identifier,
                    "region": r.region,
                    "status": r.model.status,
                    "host": HOST,
                    "port": r.proxy.port if r.proxy else self.pg.port,
                    "database": r.database,
                    "master_username": r.role,
                    "replica": not r.owns,
                }
                for r in sorted(self.instances.values(), key=lambda r: (r.region, r.identifier))
            ]


def set_performance_insights(db: Any, db_kwargs: dict[str, Any]) -> None:
    """Keep what moto drops: PerformanceInsights* read back as set."""
    if db_kwargs.get("enable_performance_insights") is not None:
        db.performance_insights_enabled = bool(db_kwargs["enable_performance_insights"])
    enabled = bool(getattr(db, "performance_insights_enabled", False))
    if db_kwargs.get("performance_insights_retention_period") is not None:
        db.performance_insights_retention_period = int(db_kwargs["performance_insights_retention_period"])
    elif enabled and not getattr(db, "performance_insights_retention_period", None):
        db.performance_insights_retention_period = PI_DEFAULT_RETENTION
    if db_kwargs.get("performance_insights_kms_key_id") is not None:
        db.performance_insights_kms_key_id = db_kwargs["performance_insights_kms_key_id"]


def fill_gp3_defaults(db: Any) -> None:
    """gp3's baseline IOPS and throughput, which AWS answers and moto leaves out (amazon.aws.rds_instance
    reads both on a rerun): 3000 IOPS and 125 MiB/s below 400 GiB, 12000 and 500 from 400 GiB."""
    if getattr(db, "storage_type", None) != "gp3":
        return
    large = (db.allocated_storage or 0) >= 400
    if not db.iops:
        db.iops = 12000 if large else 3000
    if not db.storage_throughput:
        db.storage_throughput = 500 if large else 125


def default_subnet_group(backend: Any) -> dict[str, Any]:
    """What AWS answers as DBSubnetGroup for an instance created without one (moto answers nothing, and
    amazon.aws.rds_instance then fails on a rerun): the default VPC's ``default`` group."""
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[backend.account_id][backend.region_name]
    vpc = ec2.default_vpc
    subnets = [
        {
            "SubnetIdentifier": subnet.id,
            "SubnetAvailabilityZone": {"Name": subnet.availability_zone},
            "SubnetStatus": "Active",
        }
        for zone in ec2.subnets.values()
        for subnet in zone.values()
        if vpc is not None and subnet.vpc_id == vpc.id
    ]
    return {
        "DBSubnetGroupName": "default",
        "DBSubnetGroupDescription": "default",
        "VpcId": vpc.id if vpc else None,
        "SubnetGroupStatus": "Complete",
        "Subnets": subnets,
    }


# -- wrapping moto's RDS backend ---------------------------------------------------------------------
_ACTIVE: RdsStandIn | None = None
_ORIGINAL: dict[str, Any] = {}


def _tracked(model: Any) -> bool:
    return _ACTIVE is not None and bool(getattr(model, "sandbox_database", None))


def install(standin: RdsStandIn | None) -> None:
    """Route moto's RDS calls through ``standin`` (None: plain moto again). Wraps moto's methods once."""
    global _ACTIVE
    _ACTIVE = standin
    if _ORIGINAL:
        return
    from moto.rds.models import DBInstance, RDSBackend

    original = {name: getattr(RDSBackend, name) for name in _WRAPPERS}
    original["address"] = DBInstance.address
    _ORIGINAL.update(original)
    for name, wrapper in _WRAPPERS.items():
        setattr(RDSBackend, name, wrapper)

    def address(self: Any) -> str:
        return HOST if _tracked(self) else original["address"].fget(self)

    DBInstance.address = property(address)
    DBInstance.performance_insights_enabled = False  # AWS always answers it; moto never sets it


def _create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
    db = _ORIGINAL["create_db_instance"](self, db_kwargs)
    if _ACTIVE is None:
        return db
    if getattr(db, "db_subnet_group", None) is None and not db.db_cluster_identifier:
        db.db_subnet_group = default_subnet_group(self)
    fill_gp3_defaults(db)
    if db.engine != ENGINE or db.db_cluster_identifier:
        return db
    try:
        _ACTIVE.attach(self, db, db_kwargs)
    except Exception:
        self.databases.pop(db.db_instance_identifier, None)
        raise
    return db


def _create_db_instance_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
    replica = _ORIGINAL["create_db_instance_read_replica"](self, db_kwargs)
    if _tracked(replica):
        _ACTIVE.attach_replica(self, replica)  # type: ignore[union-attr]
    return replica


def _create_db_snapshot(
    self: Any, db_instance_identifier: str, db_snapshot_identifier: str, *args: Any, **kwargs: Any
) -> Any:
    snapshot = _ORIGINAL["create_db_snapshot"](
        self, db_instance_identifier, db_snapshot_identifier, *args, **kwargs
    )
    source = self.databases.get(db_instance_identifier)
    if snapshot.snapshot_type == "manual" and _tracked(source):
        try:
            _ACTIVE.snapshot(snapshot, source)  # type: ignore[union-attr]
        except Exception:
            self.database_snapshots.pop(db_snapshot_identifier, None)
            raise
    return snapshot


def _delete_db_snapshot(self: Any, db_snapshot_identifier: str) -> Any:
    snapshot = _ORIGINAL["delete_db_snapshot"](self, db_snapshot_identifier)
    if _ACTIVE is not None:
        _ACTIVE.drop_snapshot(snapshot)
    return snapshot


def _restore_db_instance_from_db_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
    if _ACTIVE is None:
        return _ORIGINAL["restore_db_instance_from_db_snapshot"](self, from_snapshot_id, overrides)
    snapshot_id = from_snapshot_id
    if snapshot_id.startswith("arn:"):
        snapshot_id = self.extract_snapshot_name_from_arn(snapshot_id)
    snapshot = self.database_snapshots.get(snapshot_id)
    _ACTIVE.local.copy_from = getattr(snapshot, "sandbox_database", None)
    _ACTIVE.local.restoring = True
    try:
        return _ORIGINAL["restore_db_instance_from_db_snapshot"](self, from_snapshot_id, overrides)
    finally:
        _ACTIVE.local.copy_from = None
        _ACTIVE.local.restoring = False


def _restore_db_instance_to_point_in_time(
    self: Any, source: str, target: str, overrides: dict[str, Any]
) -> Any:
    if _ACTIVE is None:
        return _ORIGINAL["restore_db_instance_to_point_in_time"](self, source, target, overrides)
    _ACTIVE.local.copy_from = getattr(self.databases.get(source), "sandbox_database", None)
    _ACTIVE.local.restoring = True
    try:
        return _ORIGINAL["restore_db_instance_to_point_in_time"](self, source, target, overrides)
    finally:
        _ACTIVE.local.copy_from = None
        _ACTIVE.local.restoring = False


def _delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
    source = self.databases.get(db_instance_identifier)
    replicas = list(source.replicas) if _ACTIVE is not None and source is not None else []
    db = _ORIGINAL["delete_db_instance"](self, db_instance_identifier, *args, **kwargs)
    if _ACTIVE is not None:
        for replica_id in replicas:  # AWS promotes the replicas of a deleted source; moto would later fail
            replica = self.databases.get(replica_id)
            if replica is not None:
                replica.is_replica = False
                replica.source_db_instance_identifier = None
        _ACTIVE.detach(self, db)
    return db


def _modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
    db = _ORIGINAL["modify_db_instance"](self, db_instance_identifier, db_kwargs)
    if _tracked(db):
        new = db.db_instance_identifier
        if new != db_instance_identifier:
            _ACTIVE.rename(self, db_instance_identifier, new)  # type: ignore[union-attr]
        if db_kwargs.get("master_user_password"):
            _ACTIVE.pg.ensure_role(db.master_username, db_kwargs["master_user_password"])  # type: ignore[union-attr]
        set_performance_insights(db, db_kwargs)
    if _ACTIVE is not None:
        fill_gp3_defaults(db)
    return db


def _describe_db_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
    if _ACTIVE is not None:
        _ACTIVE.settle()
    return _ORIGINAL["describe_db_instances"](self, *args, **kwargs)


def _describe_db_snapshots(self: Any, *args: Any, **kwargs: Any) -> Any:
    if _ACTIVE is not None:
        _ACTIVE.settle()
    return _ORIGINAL["describe_db_snapshots"](self, *args, **kwargs)


_WRAPPERS = {
    "create_db_instance": _create_db_instance,
    "create_db_instance_read_replica": _create_db_instance_read_replica,
    "create_db_snapshot": _create_db_snapshot,
    "delete_db_snapshot": _delete_db_snapshot,
    "restore_db_instance_from_db_snapshot": _restore_db_instance_from_db_snapshot,
    "restore_db_instance_to_point_in_time": _restore_db_instance_to_point_in_time,
    "delete_db_instance": _delete_db_instance,
    "modify_db_instance": _modify_db_instance,
    "describe_db_instances": _describe_db_instances,
    "describe_db_snapshots": _describe_db_snapshots,
}
