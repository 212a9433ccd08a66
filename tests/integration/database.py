"""The sample app's migrations and a checksum of a database's schema and rows, for the migration tests."""

from __future__ import annotations

from pathlib import Path

import psycopg
from support import REPO_ROOT

MIGRATIONS = REPO_ROOT / "examples" / "app" / "migrations"
SEEDED = [("anvil", 3), ("bucket", 12), ("compass", 1)]


def database_checksum(uri: str) -> dict[str, str]:
    """Schema (tables, columns, constraints, indexes) and every row of every table in ``public``, hashed."""
    with psycopg.connect(uri) as conn:
        schema = conn.execute(
            "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM ("
            " SELECT concat_ws(' ', table_name, column_name, data_type, is_nullable, column_default) AS line"
            " FROM information_schema.columns WHERE table_schema = 'public'"
            " UNION ALL SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace"
            " UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public') AS lines"
        ).fetchone()
        sums = {"schema": str(schema[0] if schema else "")}
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            rows = "md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"
            row = conn.execute(f'SELECT count(*), {rows} FROM "{table}" t').fetchone()
            sums[table] = f"{row[0]}:{row[1]}" if row else ""
    return sums


def failing_migrations(folder: Path) -> Path:
    """The shipped migrations, then 0003 (commits: only a restore can undo it) and 0004 (fails)."""
    for path in MIGRATIONS.glob("*.sql"):
        (folder / path.name).write_text(path.read_text())
    (folder / "0003_zero_quantities.sql").write_text(
        "UPDATE items SET quantity = 0;\nCREATE TABLE audit (id integer);\nINSERT INTO audit VALUES (1);\n"
    )
    (folder / "0004_price.sql").write_text("ALTER TABLE items ADD COLUMN price numeric NOT NULL;\n")
    return folder
