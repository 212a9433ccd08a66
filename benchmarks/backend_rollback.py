"""Backend rollback during the bake: wall time from the rollback command's start to the first response
from the old version on the production listener (target: under 5 s in the sandbox).

    .venv/bin/python benchmarks/backend_rollback.py [--scale hobby] [--runs 1]

Starts its own sandbox (free port, temporary state dir), releases v1 with playbooks/deploy.yml, then per
run: starts the release of the next version with a 30-minute bake (30 s in the sandbox), waits until ECS
reports BAKE_TIME and production answers the new version, runs the rollback (``ecs_bluegreen
state=rolled_back``, one ad-hoc ``ansible`` command), and polls production every 20 ms until it answers
the old version. Prints the figures and stops the sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from support import BIN_DIR, ansible_env, aws_client, get_version, listener_url  # noqa: E402

from sandbox.client import SandboxClient  # noqa: E402  (the repo root is not on sys.path when run as a script)
from sandbox.state import free_port  # noqa: E402

TARGET_SECONDS = 5.0
ENVIRONMENT = "bench"


def sandbox_command(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"sandbox {command} failed:\n{result.stdout}\n{result.stderr}")


def playbook(scale: str, env: dict[str, str], *extra: str) -> list[str]:
    return [
        str(BIN_DIR / "ansible-playbook"),
        "playbooks/deploy.yml",
        *("-i", f"inventories/{scale}", "-i", "inventories/sandbox"),
        *("-e", "approve=true", "-e", f"deploy_environment={ENVIRONMENT}"),
        *("-e", "compute_release_poll_seconds=1", *extra),
    ]


def wait_for_bake(sandbox: SandboxClient, cluster: str, service: str, timeout: float = 120) -> None:
    ecs = aws_client(sandbox, "ecs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for summary in ecs.list_service_deployments(cluster=cluster, service=service, status=["IN_PROGRESS"])[
            "serviceDeployments"
        ]:
            deployment = ecs.describe_service_deployments(
                serviceDeploymentArns=[summary["serviceDeploymentArn"]]
            )["serviceDeployments"][0]
            if deployment.get("lifecycleStage") == "BAKE_TIME":
                return
        time.sleep(0.2)
    raise SystemExit(f"no deployment of {service} reached BAKE_TIME in {timeout:.0f}s")


def first_answer(url: str, version: str, timeout: float = 60) -> float:
    """monotonic time of the first response from ``version``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/version", timeout=2) as response:
                if json.loads(response.read())["version"] == version:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"production never answered {version} within {timeout:.0f}s")


def run_once(sandbox: SandboxClient, scale: str, env: dict[str, str], old: str, new: str) -> dict[str, float]:
    prefix = f"macroai-{ENVIRONMENT}"
    cluster, service = prefix, f"{prefix}-api"
    release = subprocess.Popen(
        playbook(scale, env, "-e", f"compute_image_tag={new}", "-e", "compute_bake_time_minutes=30"),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_bake(sandbox, cluster, service)
        url = listener_url(sandbox, prefix, 80)
        first_answer(url, new)
        arguments = {
            "cluster": cluster,
            "service": service,
            "state": "rolled_back",
            "poll_interval": 1,
            "endpoint_url": sandbox.base_url,
            "access_key": "testing",
            "secret_key": "testing",
        }
        command = [
            str(BIN_DIR / "ansible"),
            "controller",
            *("-i", f"inventories/{scale}", "-i", "inventories/sandbox"),
            *("-m", "macroai.deploy.ecs_bluegreen", "-a", json.dumps(arguments)),
        ]
        started = time.monotonic()
        rollback = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        answered = first_answer(url, old)
        output, _ = rollback.communicate(timeout=120)
        finished = time.monotonic()
        if rollback.returncode != 0 or get_version(url) != old:
            raise SystemExit(f"rollback failed:\n{output[-3000:]}")
    finally:
        release.wait(timeout=120)
    return {"to_first_old_response": answered - started, "command": finished - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="hobby", choices=["hobby", "enhanced-hobby", "enterprise"])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    state_dir = tempfile.mkdtemp(prefix="sandbox-backend-rollback-")
    sandbox_env = dict(os.environ, SANDBOX_PORT=str(port), SANDBOX_STATE_DIR=state_dir)
    sandbox_env.pop("SANDBOX_AWS_URL", None)
    base_url = f"http://127.0.0.1:{port}"
    env = ansible_env(base_url)
    print(f"starting a sandbox on {base_url}; releasing v1 at {args.scale} scale", flush=True)
    sandbox_command("up", sandbox_env)
    results = []
    try:
        sandbox = SandboxClient(base_url)
        first = subprocess.run(
            playbook(args.scale, env, "-e", "compute_image_tag=v1"),
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if first.returncode != 0:
            raise SystemExit(f"the v1 release failed:\n{first.stdout[-3000:]}")
        for number in range(1, args.runs + 1):
            results.append(run_once(sandbox, args.scale, env, "v1", f"v{number + 1}"))
    finally:
        sandbox_command("down", sandbox_env)
        shutil.rmtree(state_dir, ignore_errors=True)
    for number, result in enumerate(results, 1):
        verdict = "met" if result["to_first_old_response"] < TARGET_SECONDS else "MISSED"
        print(
            f"run {number}: rolled_back during the bake: first v1 response "
            f"{result['to_first_old_response']:.2f}s "
            f"after the command started (target < {TARGET_SECONDS:.0f}s: {verdict}); command done in "
            f"{result['command']:.2f}s"
        )
    return 0 if all(r["to_first_old_response"] < TARGET_SECONDS for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
