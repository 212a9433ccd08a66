"""A third-party rolling deploy tool (fabfuel/ecs-deploy) against the sandbox: does it complete, how fast,
and does the load balancer drop anything meanwhile.

    .venv/bin/python benchmarks/ecs_deploy_peer.py [--ecs /path/to/ecs] [--runs 1]

Installs nothing: it needs ecs-deploy (pip package ``ecs-deploy``, e.g. 1.17.0, in a throwaway venv) as
an ``ecs`` executable given with ``--ecs`` or found on PATH, or importable here; otherwise it skips with a
message. It starts its own sandbox (free port, temporary state dir), builds a ROLLING service of two tasks
behind an ALB, runs ``ecs deploy CLUSTER SERVICE --tag v2 --timeout 120`` while a bounded load loop
(20 req/s) hits the production listener, prints the figures, and stops the sandbox. Against bare moto the
same command times out (deployments never progress there).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.state import free_port  # noqa: E402  (the repo root is not on sys.path when run as a script)

DEPLOY_TIMEOUT = 120


def _ecs_command(explicit: str | None) -> list[str] | None:
    if explicit:
        return [explicit]
    found = shutil.which("ecs")
    if found:
        return [found]
    if importlib.util.find_spec("ecs_deploy") is not None:
        return [sys.executable, "-c", "from ecs_deploy.cli import ecs; ecs()"]
    return None


def _sandbox(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"sandbox {command} failed:\n{result.stdout}\n{result.stderr}")


def _run_once(ecs: list[str], base_url: str) -> dict[str, Any]:
    import boto3

    from sandbox.client import SandboxClient
    from tests.integration.test_sandbox_ecs import Load, build_stack, teardown, wait_for

    sandbox = SandboxClient(base_url)

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=base_url,
            region_name="eu-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    stack = build_stack(client, sandbox, "ROLLING", {"minimumHealthyPercent": 50}, desired=2)
    try:
        wait_for(lambda: stack.version() == "v1", 30, "v1 to serve")
        env = dict(
            os.environ,
            AWS_ENDPOINT_URL=base_url,
            AWS_DEFAULT_REGION="eu-west-2",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
        command = [
            *ecs,
            "deploy",
            stack.cluster,
            stack.service,
            "--tag",
            "v2",
            "--timeout",
            str(DEPLOY_TIMEOUT),
        ]
        with Load(stack.prod_url + "/version", rate=20, max_seconds=DEPLOY_TIMEOUT + 10) as load:
            started = time.perf_counter()
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT + 30
            )
            elapsed = time.perf_counter() - started
        return {
            "exit_code": result.returncode,
            "seconds": elapsed,
            "sent": load.sent,
            "failed": len(load.failed),
            "version_after": stack.version(),
            "output_tail": result.stdout.strip().splitlines()[-3:] + result.stderr.strip().splitlines()[-3:],
        }
    finally:
        teardown(stack)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ecs", help="path to the ecs-deploy `ecs` executable (default: PATH, then import)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    ecs = _ecs_command(args.ecs)
    if ecs is None:
        print(
            "skipped: ecs-deploy is not installed (pip install ecs-deploy==1.17.0 in a throwaway venv, "
            "then pass --ecs /that/venv/bin/ecs)"
        )
        return 0
    port = free_port()
    state_dir = tempfile.mkdtemp(prefix="sandbox-ecs-peer-")
    env = dict(os.environ, SANDBOX_PORT=str(port), SANDBOX_STATE_DIR=state_dir)
    env.pop("SANDBOX_AWS_URL", None)
    _sandbox("up", env)
    results = []
    try:
        for _ in range(args.runs):
            results.append(_run_once(ecs, f"http://127.0.0.1:{port}"))
    finally:
        _sandbox("down", env)
        shutil.rmtree(state_dir, ignore_errors=True)
    for number, result in enumerate(results, 1):
        verdict = "completed" if result["exit_code"] == 0 and result["version_after"] == "v2" else "FAILED"
        print(
            f"run {number}: ecs deploy --tag v2 {verdict} in {result['seconds']:.2f}s "
            f"(exit {result['exit_code']}, serving {result['version_after']}); "
            f"load: {result['sent']} requests, {result['failed']} failed"
        )
        if verdict == "FAILED":
            print("  " + "\n  ".join(result["output_tail"]))
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
