"""A release with nothing changed: wall time of ``playbooks/deploy.yml`` when change detection finds no change
(target: under 15 s; the seed's pipeline takes about 2 minutes for it), against the full first release of
the same deployment, measured in the same run.

    .venv/bin/python benchmarks/noop_release.py [--runs 3]

Starts its own sandbox (free port, temporary state dir) and a temporary git repository laid out like the
seed's monorepo (apps/express-api, apps/client-ui, infrastructure/). Releases it once (everything: the first
release), then runs the release again ``--runs`` times with no new commit: preflight, change detection, lock,
the HTTP checks, the ledger, and nothing else. Prints each figure, the AWS write calls of the no-change runs
(only the ledger's and the lock's are expected) and the ratios; stops the sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from flow import make_app_repo  # noqa: E402
from support import BIN_DIR, ansible_env  # noqa: E402

from sandbox.client import SandboxClient  # noqa: E402  (the repo root is not on sys.path when run as a script)
from sandbox.state import free_port  # noqa: E402

TARGET_SECONDS = 15.0
SEED_SECONDS = 120.0  # the seed's "No changes detected: ~2 minutes (validation only)"
ENVIRONMENT = "bench"


def sandbox_command(command: str, env: dict[str, str], root: Path = REPO_ROOT) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", command], cwd=root, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"sandbox {command} failed:\n{result.stdout}\n{result.stderr}")


@contextmanager
def own_sandbox(
    name: str, port: int = 0, root: Path = REPO_ROOT
) -> Iterator[tuple[SandboxClient, dict[str, str]]]:
    """A sandbox of its own (``port`` or a free one, temporary state) and the environment for ansible; the
    sandbox of the checkout at ``root`` (another version's, for a comparison), this one's by default."""
    port = port or free_port()
    state_dir = tempfile.mkdtemp(prefix=f"sandbox-{name}-")
    sandbox_env = dict(os.environ, SANDBOX_PORT=str(port), SANDBOX_STATE_DIR=state_dir)
    sandbox_env.pop("SANDBOX_AWS_URL", None)
    base_url = f"http://127.0.0.1:{port}"
    print(f"starting a sandbox on {base_url}", flush=True)
    sandbox_command("up", sandbox_env, root)
    try:
        yield SandboxClient(base_url), ansible_env(base_url)
    finally:
        sandbox_command("down", sandbox_env, root)
        shutil.rmtree(state_dir, ignore_errors=True)


def timed(playbook: str, repo: Path, env: dict[str, str], *extra: str) -> float:
    """Seconds ``playbook`` takes for the benchmark's deployment of ``repo``; exits on a failure."""
    command = [
        str(BIN_DIR / "ansible-playbook"),
        playbook,
        *("-i", "inventories/hobby", "-i", "inventories/sandbox"),
        *("-e", "approve=true", "-e", f"deploy_environment={ENVIRONMENT}", "-e", f"deploy_app_repo={repo}"),
        *("-e", f"edge_client_source={repo / 'apps' / 'client-ui'}"),
        *("-e", "compute_release_poll_seconds=1", "-e", "edge_release_poll_seconds=1", *extra),
    ]
    started = time.monotonic()
    run = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if run.returncode != 0:
        raise SystemExit(f"{playbook} failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}")
    return seconds


def production_version(sandbox: SandboxClient) -> str:
    """The version production answers with, through the benchmark deployment's production listener."""
    (listener,) = [
        item
        for item in sandbox.listeners()
        if item["load_balancer"] == f"macroai-{ENVIRONMENT}" and int(item["port"]) == 80
    ]
    with urllib.request.urlopen(f"{listener['url']}/version", timeout=5) as response:
        return json.loads(response.read())["version"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="the sandbox's port (default: a free one)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="noop-release-") as scratch,
        own_sandbox("noop", args.port) as (sandbox, env),
    ):
        repo = make_app_repo(Path(scratch))
        first = timed("playbooks/deploy.yml", repo, env)
        print(
            f"first release (everything: network, data, compute, backend, client): {first:.1f}s", flush=True
        )
        since = time.time()
        runs = [timed("playbooks/deploy.yml", repo, env) for _ in range(args.runs)]
        writes = sandbox.requests(write=True, since=since)
    median = statistics.median(runs)
    operations = sorted({f"{w['service']}:{w['operation']}" for w in writes})
    verdict = "met" if median < TARGET_SECONDS else "MISSED"
    print(f"no-change release, {args.runs} run(s): " + ", ".join(f"{r:.1f}s" for r in runs))
    print(
        f"median {median:.1f}s (target < {TARGET_SECONDS:.0f}s: {verdict}); "
        f"the seed's ~{SEED_SECONDS:.0f}s is "
        f"{SEED_SECONDS / median:.1f}x longer; the full first release is {first / median:.1f}x longer"
    )
    print(f"AWS write calls during the no-change runs: {len(writes)} ({', '.join(operations) or 'none'})")
    return 0 if median < TARGET_SECONDS and {w["service"] for w in writes} <= {"dynamodb"} else 1


if __name__ == "__main__":
    sys.exit(main())
