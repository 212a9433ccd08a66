"""sandbox.postgres's diagnosis of a PostgreSQL that went away: its PANIC lines, a parent folder it lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import postgres
from sandbox.postgres import Postgres, serious_lines, untraversable_parent

# The CI failure's log: pytest set /tmp/pytest-of-root back to 0700 while the sandbox ran (as root).
CRASH_LOG = """\
2026-11-27 11:35:36.013 UTC [16452] LOG:  database system is ready to accept connections
2026-11-27 11:35:39.188 UTC [16456] PANIC:  could not open file "/tmp/x/global/pg_control": Permission denied
2026-11-27 11:35:39.188 UTC [16452] LOG:  checkpointer process (PID 16456) was terminated by signal 6: Aborted
2026-11-27 11:35:39.189 UTC [16460] FATAL:  the database system is in recovery mode
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another user only as root")


def _open_parents(path: Path) -> None:
    """What the sandbox's start-up does (ensure_prefix_permissions): o+x on every parent."""
    for folder in (path, *path.parents):
        folder.chmod(folder.stat().st_mode | 0o011)


def test_serious_lines_are_panics_and_fatals() -> None:
    lines = serious_lines(CRASH_LOG)
    assert [line.split("]")[1].split(":")[0].strip() for line in lines] == ["PANIC", "FATAL"]
    assert "pg_control" in lines[0]


@needs_root
def test_untraversable_parent_names_the_closed_folder(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    data_dir = closed / "state" / "postgres"
    data_dir.mkdir(parents=True)
    _open_parents(tmp_path)
    closed.chmod(0o755)
    assert untraversable_parent(data_dir, postgres.SYSTEM_USER) is None
    closed.chmod(0o700)  # what pytest does to /tmp/pytest-of-<user> at every session start
    assert untraversable_parent(data_dir, postgres.SYSTEM_USER) == closed


def test_diagnose_reads_only_this_starts_lines(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    log.write_text(CRASH_LOG)
    pg = Postgres(tmp_path / "data", 1, log)
    pg.system_user = None
    assert "pg_control" in pg.diagnose()
    pg.log_offset = len(CRASH_LOG.encode())  # a later start: the old crash is not this one's cause
    assert pg.diagnose() == ""


@needs_root
def test_diagnose_names_a_folder_the_postgres_user_lost(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "data").mkdir(parents=True)
    _open_parents(tmp_path)
    closed.chmod(0o700)
    pg = Postgres(closed / "data", 1, tmp_path / "missing.log")
    assert f"{closed} is no longer enterable by {postgres.SYSTEM_USER}" in pg.diagnose()
