"""Apply the sample app's pending SQL migrations (what the release runs as a one-off ECS task).

``python migrate.py`` reads ``DATABASE_URL``, takes every ``NNNN_name.sql`` file of the migrations folder
(``migrations/`` next to this file, or ``APP_MIGRATIONS_DIR``) in name order, and applies each one not yet
recorded in the ``schema_migrations`` table, one transaction per file, recording it in the same
transaction. A session advisory lock keeps two runs from applying the same files at once.

Exit codes: 0 when every file is applied (or nothing was pending); 1 when a file failed (that file is rolled
back; the files before it stay applied; the message names the file and the database's error); 2 when it
could not start (no ``DATABASE_URL``, no migrations folder, the database unreachable).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

FILE_PATTERN = re.compile(r"^(\d{4})_[A-Za-z0-9_.-]+\.sql$")
LOCK_KEY = 0x6D6967726174  # pg_advisory_lock key: "migrat" in hex; any constant shared by all runs
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: str  # the file's name, e.g. 0002_seed_items.sql
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    """The migrations cannot run; the message says why and what to do."""


def discover(directory: Path) -> list[Migration]:
    """Every migration file of ``directory`` in order; other files are ignored, duplicate numbers refused."""
    if not directory.is_dir():
        raise MigrationError(f"migrations folder {directory} does not exist (set APP_MIGRATIONS_DIR)")
    found = sorted(path for path in directory.iterdir() if FILE_PATTERN.match(path.name))
    numbers: dict[str, str] = {}
    for path in found:
        number = FILE_PATTERN.match(path.name).group(1)  # type: ignore[union-attr]
        if number in numbers:
            raise MigrationError(
                f"{path.name} and {numbers[number]} share the number {number}: renumber one of them"
            )
        numbers[number] = path.name
    return [Migration(path.name, path.read_text()) for path in found]


def pending(migrations: list[Migration], applied: dict[str, str]) -> list[Migration]:
    """The migrations not yet applied, in order."""
    return [migration for migration in migrations if migration.version not in applied]


def edited(migrations: list[Migration], applied: dict[str, str]) -> list[str]:
    """Applied files whose text changed since (never re-applied: a change needs a new file)."""
    return [m.version for m in migrations if m.version in applied and applied[m.version] != m.checksum]


def run(database_url: str, directory: Path, out=sys.stdout) -> int:
    """Apply what is pending; the exit code (see the module's docstring)."""
    import psycopg

    migrations = discover(directory)
    try:
        conn = psycopg.connect(database_url, connect_timeout=10)
    except psycopg.OperationalError as err:
        raise MigrationError(f"cannot connect to the database: {err}") from err
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        conn.execute(CREATE_TABLE)
        conn.commit()
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        conn.commit()
        for version in edited(migrations, applied):
            print(f"warning: {version} changed after it was applied; add a new file instead", file=out)
        todo = pending(migrations, applied)
        if not todo:
            print(f"nothing to apply: {len(applied)} migrations already applied", file=out, flush=True)
            return 0
        for number, migration in enumerate(todo, 1):
            print(f"applying {migration.version} ({number}/{len(todo)})", file=out, flush=True)
            try:
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                        (migration.version, migration.checksum),
                    )
            except psycopg.Error as err:
                print(
                    f"migration {migration.version} failed: {str(err).strip()}\n"
                    f"{migration.version} was rolled back; "
                    f"{number - 1} of {len(todo)} pending migrations were applied before it",
                    file=out,
                    flush=True,
                )
                return 1
        print(f"applied {len(todo)} migrations; the database is at {todo[-1].version}", file=out, flush=True)
    return 0


def main() -> int:
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        print("DATABASE_URL is not set: give the task the database secret", file=sys.stdout, flush=True)
        return 2
    directory = Path(os.environ.get("APP_MIGRATIONS_DIR") or Path(__file__).resolve().parent / "migrations")
    try:
        return run(database_url, directory)
    except MigrationError as err:
        print(f"migrations cannot run: {err}", flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
