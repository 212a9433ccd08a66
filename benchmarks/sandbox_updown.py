"""Time `python -m sandbox up` / `down` against a plain `moto_server` start, in a throwaway state dir.

    .venv/bin/python benchmarks/sandbox_updown.py [--runs 3]

The first up runs initdb (cold); later ups reuse the Postgres data (warm). The peer is moto's own server
console script, from spawn until it answers HTTP. Prints figures only; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.state import free_port  # noqa: E402  (the repo root is not on sys.path when run as a script)

ANSWER_TIMEOUT = 60.0


def _sandbox(command: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"sandbox {command} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer counts: the server is up
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _moto_server_start(port: int) -> float:
    """Seconds from spawning moto_server until it answers HTTP; the server is stopped afterwards."""
    binary = Path(sys.executable).with_name("moto_server")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = started + ANSWER_TIMEOUT
        while not _answers(f"http://127.0.0.1:{port}/moto-api/"):
            if process.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit("moto_server did not answer")
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"mean {statistics.mean(values):.2f}s (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="up/down cycles (default %(default)s)")
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="sbx-bench-"))
    env = dict(os.environ, SANDBOX_STATE_DIR=str(state_dir / "state"), SANDBOX_PORT=str(free_port()))
    ups: list[float] = []
    downs: list[float] = []
    try:
        for run in range(args.runs):
            ups.append(_sandbox("up", env))
            downs.append(_sandbox("down", env))
            kind = "cold, initdb" if run == 0 else "warm"
            print(f"run {run + 1}: up {ups[-1]:.2f}s ({kind}), down {downs[-1]:.2f}s")
    finally:
        subprocess.run([sys.executable, "-m", "sandbox", "down"], cwd=REPO_ROOT, env=env, capture_output=True)
        shutil.rmtree(state_dir, ignore_errors=True)

    peer = [_moto_server_start(free_port()) for _ in range(args.runs)]
    for run, seconds in enumerate(peer, 1):
        print(f"peer run {run}: moto_server answers after {seconds:.2f}s")

    warm = ups[1:]
    print()
    print(f"sandbox cold up (initdb): {ups[0]:.2f}s")
    print(f"sandbox warm up:          {_summary(warm)}")
    print(f"sandbox down:             {_summary(downs)}")
    print(f"moto_server start (peer): {_summary(peer)}")
    if warm:
        ratio = statistics.mean(warm) / statistics.mean(peer)
        print(
            f"ratio warm up / moto_server start: {ratio:.2f}x (moto + PostgreSQL + our layer vs moto alone)"
        )
    print(f"ratio cold up / moto_server start: {ups[0] / statistics.mean(peer):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
