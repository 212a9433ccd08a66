"""``python -m sandbox up | down | status [--json] | reset | fault add|list|remove|clear``."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from sandbox.client import SandboxClient, SandboxError
from sandbox.state import HOST, REPO_ROOT, State, family, is_alive, port_in_use

EXIT_NOT_RUNNING = 3
UP_TIMEOUT = 120.0  # the very first up runs initdb
STOP_TIMEOUT = 15.0
KILL_TIMEOUT = 5.0


def _client(state: State, timeout: float = 10.0) -> SandboxClient:
    info = state.read_info() or {}
    base = info.get("endpoints", {}).get("aws") or f"http://{HOST}:{state.port}"
    return SandboxClient(base, timeout=timeout)


def _healthy(state: State, pid: int) -> dict[str, Any] | None:
    try:
        health = _client(state, timeout=2.0).health()
    except SandboxError:
        return None
    return health if health.get("pid") == pid else None


def _print_endpoints(info: dict[str, Any]) -> None:
    for name, url in info.get("endpoints", {}).items():
        if name == "listeners":
            for listener in url:
                print(f"  listener  {listener['url']}  ({listener['load_balancer']}:{listener['port']})")
        elif name == "sites":
            for site in url:
                where = f"{site['app_name']}/{site['branch']}, app {site['app_id']}"
                print(f"  site      {site['url']}  ({where})")
        elif name == "rds":
            for db in url:
                where = f"{db['region']}/{db['id']}, {db['status']}" + (", replica" if db["replica"] else "")
                url_ = f"postgresql://{db['master_username']}@{db['host']}:{db['port']}/{db['database']}"
                print(f"  rds       {url_}  ({where})")
        else:
            print(f"  {name:<9} {url}")


def _tail(path: os.PathLike[str], lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except FileNotFoundError:
        return ""


def _spawn(state: State) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SANDBOX_STATE_DIR=str(state.root), SANDBOX_PORT=str(state.port))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with state.log_file.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: down kills the server and all its children
        )


def cmd_up(state: State, args: argparse.Namespace) -> int:
    state.ensure()
    # Serialise concurrent ups (parallel test sessions): the second one finds the first's server.
    with (state.root / "up.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _up(state, args)


def _up(state: State, args: argparse.Namespace) -> int:
    started = time.monotonic()
    pid = state.running_pid()
    if pid is not None:
        info = _wait_healthy(state, pid, None, args.timeout)
        if info:
            print(f"sandbox already up (pid {pid})")
            _print_endpoints(info)
            return 0
        print(f"sandbox pid {pid} is alive but not answering; run `python -m sandbox down`", file=sys.stderr)
        return 1
    if port_in_use(state.port):
        print(f"port {state.port} is taken by another program; set SANDBOX_PORT", file=sys.stderr)
        return 1
    state.info_file.unlink(missing_ok=True)
    process = _spawn(state)
    state.pid_file.write_text(str(process.pid))
    info = _wait_healthy(state, process.pid, process, args.timeout)
    if info is None:
        print(
            f"sandbox failed to start; last lines of {state.log_file}:\n{_tail(state.log_file)}",
            file=sys.stderr,
        )
        _stop_group(process.pid)
        state.forget()
        return 1
    print(f"sandbox up (pid {process.pid}) in {time.monotonic() - started:.2f}s")
    _print_endpoints(info)
    return 0


def _wait_healthy(
    state: State, pid: int, process: subprocess.Popen[bytes] | None, timeout: float
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return None
        info = _healthy(state, pid)
        if info:
            return info
        time.sleep(0.05)
    return None


def _stop_group(pgid: int) -> bool:
    """SIGTERM the server (it stops Postgres), then SIGKILL whatever of its family remains. True: all gone."""
    snapshot = family(pgid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pgid, signal.SIGTERM)
    if _wait_gone(pgid, snapshot, STOP_TIMEOUT):
        return True
    for pid in _survivors(pgid, snapshot):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return _wait_gone(pgid, snapshot, KILL_TIMEOUT)


def _survivors(pgid: int, snapshot: set[int]) -> set[int]:
    return {pid for pid in snapshot if is_alive(pid)} | family(pgid)


def _wait_gone(pgid: int, snapshot: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _survivors(pgid, snapshot):
            return True
        time.sleep(0.05)
    return not _survivors(pgid, snapshot)


def cmd_down(state: State, args: argparse.Namespace) -> int:
    pid = state.running_pid()
    if pid is None:
        from sandbox.postgres import stop_orphan  # imports psycopg: only on this rare path

        orphan = stop_orphan(state.pg_data)
        print(
            "sandbox is not running" + (f"; stopped its orphaned postgres (pid {orphan})" if orphan else "")
        )
        return 0
    started = time.monotonic()
    gone = _stop_group(pid)
    state.forget()
    if not gone:
        print(f"processes of the sandbox survived SIGKILL: {sorted(family(pid))}", file=sys.stderr)
        return 1
    print(f"sandbox down (pid {pid}) in {time.monotonic() - started:.2f}s")
    return 0


def status(state: State) -> dict[str, Any]:
    pid = state.running_pid()
    info = _healthy(state, pid) if pid is not None else None
    if info is None:
        return {"running": False, "pid": pid, "port": state.port, "endpoints": {}}
    endpoints = dict(info["endpoints"])
    try:  # the load balancers' listeners, each a loopback proxy
        endpoints["listeners"] = _client(state, timeout=5.0).listeners()
    except SandboxError:
        endpoints["listeners"] = []
    try:  # the Amplify branches' deployed sites, each on a loopback port
        endpoints["sites"] = [
            {key: site[key] for key in ("app_id", "app_name", "branch", "url")}
            for site in _client(state, timeout=5.0).sites()
        ]
    except SandboxError:
        endpoints["sites"] = []
    try:  # RDS instances: each a real database on the sandbox's PostgreSQL
        endpoints["rds"] = _client(state, timeout=5.0).rds_instances()
    except SandboxError:
        endpoints["rds"] = []
    return {"running": True, "pid": pid, "port": info["port"], "endpoints": endpoints}


def cmd_status(state: State, args: argparse.Namespace) -> int:
    current = status(state)
    if args.json:
        print(json.dumps(current))
    elif current["running"]:
        print(f"sandbox running (pid {current['pid']}, port {current['port']}, state {state.root})")
        _print_endpoints(current)
    else:
        print(f"sandbox not running (state {state.root})")
    return 0 if current["running"] else EXIT_NOT_RUNNING


def cmd_reset(state: State, args: argparse.Namespace) -> int:
    result = _client(state).reset()
    dropped = ", ".join(result.get("dropped_databases", [])) or "none"
    print(f"sandbox reset: AWS state, faults and request log cleared; databases dropped: {dropped}")
    return 0


def cmd_fault(state: State, args: argparse.Namespace) -> int:
    if args.fault_command == "add":
        rule = _client(state).add_fault(
            service=args.service,
            code=args.code,
            status=args.status,
            rate=args.rate,
            action=args.action,
            count=args.count,
            message=args.message,
        )
        print(json.dumps(rule))
    elif args.fault_command == "list":
        print(json.dumps(_client(state).faults(), indent=2))
    elif args.fault_command == "remove":
        _client(state).remove_fault(args.id)
        print(f"fault rule {args.id} removed")
    else:
        _client(state).clear_faults()
        print("fault rules cleared")
    return 0


def cmd_serve(state: State, args: argparse.Namespace) -> int:
    from sandbox.server import serve  # imports moto: only the server process pays for it

    return serve(state)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="The offline AWS (moto) + PostgreSQL sandbox. "
        "Env: SANDBOX_PORT (default 4599), SANDBOX_STATE_DIR (default <repo>/.sandbox).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="start detached and wait until it answers (no-op if up)")
    up.add_argument("--timeout", type=float, default=UP_TIMEOUT, help="seconds to wait (default %(default)s)")
    up.set_defaults(func=cmd_up)
    commands.add_parser("down", help="stop the server and all its children").set_defaults(func=cmd_down)
    stat = commands.add_parser("status", help="exit 0 when running, 3 when not")
    stat.add_argument("--json", action="store_true", help="print JSON")
    stat.set_defaults(func=cmd_status)
    commands.add_parser("reset", help="clear AWS state, faults, request log, databases").set_defaults(
        func=cmd_reset
    )
    fault = commands.add_parser("fault", help="fault injection rules")
    fault.set_defaults(func=cmd_fault)
    fault_commands = fault.add_subparsers(dest="fault_command", required=True, metavar="ACTION")
    add = fault_commands.add_parser("add", help="add a rule; prints it as JSON")
    add.add_argument("--service", required=True, help='SigV4 service name, e.g. "ec2" (or botocore name)')
    add.add_argument("--code", required=True, help='error code, e.g. "ThrottlingException"')
    add.add_argument("--action", help="operation name, e.g. DescribeVpcs (default: all)")
    add.add_argument("--status", type=int, default=400, help="HTTP status (default %(default)s)")
    add.add_argument("--rate", type=float, default=1.0, help="probability 0..1 (default %(default)s)")
    add.add_argument("--count", type=int, help="fire at most this many times (default: unlimited)")
    add.add_argument("--message", help="error message")
    fault_commands.add_parser("list", help="print the rules as JSON")
    remove = fault_commands.add_parser("remove", help="remove one rule")
    remove.add_argument("id", type=int)
    fault_commands.add_parser("clear", help="remove all rules")
    commands.add_parser("serve").set_defaults(func=cmd_serve)  # internal: what `up` runs detached
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state = State.from_env()
    try:
        return int(args.func(state, args))
    except SandboxError as err:
        print(f"{err}\n(is the sandbox up? `python -m sandbox up`)", file=sys.stderr)
        return EXIT_NOT_RUNNING
