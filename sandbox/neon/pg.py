"""What the Neon emulator asks of PostgreSQL: databases copied from templates, renamed, dropped; roles; LSNs.

Every call opens one short autocommit connection as the superuser to the ``postgres`` database.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import errors, sql

from sandbox.state import HOST

# Sessions can reconnect to a database between ending them and CREATE DATABASE ... TEMPLATE; try again.
IN_USE_ATTEMPTS = 5
IN_USE_PAUSE = 0.05


def _terminate(conn: psycopg.Connection, database: str) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    )


class PostgresBackend:
    """The sandbox's embedded PostgreSQL, as the emulator's storage."""

    def __init__(self, dsn: str, port: int) -> None:
        self.dsn = dsn
        self.port = port

    @property
    def host(self) -> str:
        """What an endpoint's ``host`` holds: usable as the host part of a DSN."""
        return f"{HOST}:{self.port}"

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True)

    def current_lsn(self) -> str:
        with self._connect() as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return str(row[0]) if row else "0/0"

    def create_database(self, name: str, owner: str) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
            )

    def copy_database(self, source: str, target: str, owner: str) -> None:
        """``CREATE DATABASE target TEMPLATE source``, ending the source's sessions first (Neon does not)."""
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
            sql.Identifier(target), sql.Identifier(source), sql.Identifier(owner)
        )
        with self._connect() as conn:
            for attempt in range(IN_USE_ATTEMPTS):
                _terminate(conn, source)
                try:
                    conn.execute(statement)
                    return
                except errors.ObjectInUse:
                    if attempt == IN_USE_ATTEMPTS - 1:
                        raise
                    time.sleep(IN_USE_PAUSE)

    def rename_database(self, old: str, new: str) -> None:
        statement = sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
        with self._connect() as conn:
            for attempt in range(IN_USE_ATTEMPTS):
                _terminate(conn, old)
                try:
                    conn.execute(statement)
                    return
                except errors.ObjectInUse:
                    if attempt == IN_USE_ATTEMPTS - 1:
                        raise
                    time.sleep(IN_USE_PAUSE)

    def drop_database(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def drop_databases_like(self, prefix: str) -> list[str]:
        """Drop every database whose name starts with ``prefix`` (leftovers of an earlier run)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND starts_with(datname, %s)",
                (prefix,),
            ).fetchall()
            names = [row[0] for row in rows]
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        return names

    def ensure_role(self, name: str, password: str) -> None:
        """Create a login role, or set its password when it exists (roles are cluster-wide here)."""
        with self._connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} WITH LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )

    def drop_role(self, name: str) -> bool:
        """Drop a role; False when something still depends on it (it is then kept)."""
        with self._connect() as conn:
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            except (errors.DependentObjectsStillExist, errors.ObjectInUse):
                return False
        return True
