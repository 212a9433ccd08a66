"""sandbox.postgres: which process serves a data dir, and what a PostgreSQL that went away left in its log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sandbox.postgres import CWD_DATA_DIR, Postgres, _serves, serious_lines

# The CI failure's log: pytest set /tmp/pytest-of-root back to 0700 while the sandbox ran (as root).
CRASH_LOG = """\
2026-11-27 11:35:36.013 UTC [16452] LOG:  database system is ready to accept connections
2026-11-27 11:35:39.188 UTC [16456] PANIC:  could not open file "/tmp/x/global/pg_control": Permission denied
2026-11-27 11:35:39.188 UTC [16452] LOG:  checkpointer process (PID 16456) was terminated by signal 6: Aborted
2026-11-27 11:35:39.189 UTC [16460] FATAL:  the database system is in recovery mode
"""


def test_serious_lines_are_panics_and_fatals() -> None:
    lines = serious_lines(CRASH_LOG)
    assert [line.split("]")[1].split(":")[0].strip() for line in lines] == ["PANIC", "FATAL"]
    assert "pg_control" in lines[0]


def test_diagnose_reads_only_this_starts_lines(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    log.write_text(CRASH_LOG)
    pg = Postgres(tmp_path / "data", 1, log)
    assert "pg_control" in pg.diagnose()
    pg.log_offset = len(CRASH_LOG.encode())  # a later start: the old crash is not this one's cause
    assert pg.diagnose() == ""


def test_serves_knows_a_postmaster_by_its_working_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    other = tmp_path / "other"
    data_dir.mkdir()
    other.mkdir()
    # A stand-in for `postgres -D /proc/self/cwd` (its command line as root), run in the data dir.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", CWD_DATA_DIR], cwd=data_dir)
    try:
        # Until the child has exec'd, /proc shows the parent's command line (seen on a loaded machine).
        deadline = time.monotonic() + 10
        while CWD_DATA_DIR.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline, "the stand-in postmaster did not start in 10 s"
            time.sleep(0.01)
        assert _serves(proc.pid, data_dir)
        assert not _serves(proc.pid, other)
        assert not _serves(os.getpid(), data_dir)
    finally:
        proc.kill()
        proc.wait()
