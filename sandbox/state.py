"""The state folder (pid, port, logs, Postgres data) and the process bookkeeping around it."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 4599
HOST = "127.0.0.1"


@dataclass(frozen=True)
class State:
    root: Path
    port: int

    @classmethod
    def from_env(cls) -> State:
        root = Path(os.environ.get("SANDBOX_STATE_DIR") or REPO_ROOT / ".sandbox").resolve()
        return cls(root=root, port=int(os.environ.get("SANDBOX_PORT") or DEFAULT_PORT))

    @property
    def pid_file(self) -> Path:
        return self.root / "server.pid"

    @property
    def info_file(self) -> Path:
        """Written by the server once it answers: its pid, port and endpoints."""
        return self.root / "server.json"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def pg_data(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_log(self) -> Path:
        return self.root / "postgres.log"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def read_info(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.info_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write_info(self, info: dict[str, Any]) -> None:
        tmp = self.info_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        tmp.replace(self.info_file)

    def forget(self) -> None:
        for path in (self.pid_file, self.info_file):
            path.unlink(missing_ok=True)

    def running_pid(self) -> int | None:
        """The server's pid if the pid file names a live sandbox server; a stale pid file is removed."""
        pid = self.read_pid()
        if pid is None:
            return None
        if is_alive(pid) and is_sandbox_server(pid):
            return pid
        self.forget()
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.rpartition(")")[2].split()


def is_alive(pid: int) -> bool:
    """True for a running process; a zombie (which init may never reap in a container) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_sandbox_server(pid: int) -> bool:
    args = cmdline(pid)
    return "sandbox" in args and "serve" in args


def _processes() -> dict[int, tuple[int, int]]:
    """Live (non-zombie) processes: pid -> (ppid, pgrp)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # fields: state, ppid, pgrp, ...
        if fields and fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


def family(pgid: int) -> set[int]:
    """Process group ``pgid`` and every descendant of its members.

    Descendants matter because PostgreSQL's backends call setsid(): they leave the sandbox's group.
    """
    table = _processes()
    found = {pid for pid, (_, pgrp) in table.items() if pgrp == pgid}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
