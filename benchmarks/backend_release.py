"""Our blue/green release against a third-party rolling deploy (fabfuel/ecs-deploy) of the same image
change (v1 to v2, two tasks), in the same run and the same sandbox, under the same bounded load.

    .venv/bin/python benchmarks/backend_release.py [--ecs /path/to/ecs] [--no-install]

ecs-deploy is not a dependency of this project. Without ``--ecs`` (or an ``ecs`` on PATH) the benchmark
installs ecs-deploy 1.17.0 from PyPI with pip into a throwaway virtualenv under the system's temporary
directory, saying so; with ``--no-install``, or when that fails, it skips with a message.

Prints, for each: wall time, failed requests under 20 requests a second, the version served after; and
the ratios. Ours is timed twice: the whole ``playbooks/deploy.yml`` (preflight, networking and compute
convergence included) and its release step alone (``ecs_bluegreen``: test traffic, production shift and
the 5-minute bake, 5 s in the sandbox). ecs-deploy's rolling deploy has no test traffic and no bake, so
the release step is the closer comparison and the whole play is what a user waits for.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from support import LoadProbe, ansible_env, get_version, listener_url  # noqa: E402

from benchmarks.backend_rollback import ENVIRONMENT, playbook, sandbox_command  # noqa: E402
from benchmarks.ecs_deploy_peer import _ecs_command, _run_once  # noqa: E402  (run as a script)
from sandbox.client import SandboxClient  # noqa: E402
from sandbox.state import free_port  # noqa: E402

ECS_DEPLOY = "ecs-deploy==1.17.0"
# Two tasks like ecs-deploy's service: over hobby's cost ceiling, hence accept_cost.
TWO_TASKS = tuple(
    f"--extra-vars={setting}"
    for setting in (
        "compute_desired_count=2",
        "compute_autoscaling_min=2",
        "compute_autoscaling_max=2",
        "accept_cost=true",
    )
)


def install_ecs_deploy() -> list[str] | None:
    venv = Path(tempfile.gettempdir()) / "macroai-bench-ecs-deploy"
    ecs = venv / "bin" / "ecs"
    if ecs.exists():
        print(f"using ecs-deploy from {venv}")
        return [str(ecs)]
    print(f"installing {ECS_DEPLOY} from PyPI into a throwaway virtualenv: {venv}", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", ECS_DEPLOY],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        print(f"could not install {ECS_DEPLOY}: {err}")
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return [str(ecs)]


def release_step_seconds(output: str) -> float | None:
    """The release task's own time, from the profile_tasks callback's summary."""
    for line in reversed(output.splitlines()):
        match = re.search(r"Release the image with ECS.*?(\d+\.\d+)s\s*$", line)
        if match:
            return float(match.group(1))
    return None


def our_release(base_url: str) -> dict[str, object]:
    env = ansible_env(base_url, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    first = subprocess.run(
        playbook("hobby", env, "-e", "compute_image_tag=v1", *TWO_TASKS),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if first.returncode != 0:
        raise SystemExit(f"our v1 release failed:\n{first.stdout[-3000:]}")
    url = listener_url(SandboxClient(base_url), f"macroai-{ENVIRONMENT}", 80)
    with LoadProbe(f"{url}/version", rate=20, max_seconds=300) as load:
        started = time.perf_counter()
        second = subprocess.run(
            playbook("hobby", env, "-e", "compute_image_tag=v2", *TWO_TASKS),
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
    return {
        "exit_code": second.returncode,
        "seconds": elapsed,
        "release_step": release_step_seconds(second.stdout),
        "sent": load.sent,
        "failed": len(load.failures),
        "version_after": get_version(url),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ecs", help="path to ecs-deploy's `ecs` executable (default: PATH, then install)")
    parser.add_argument("--no-install", action="store_true", help="skip rather than install ecs-deploy")
    args = parser.parse_args()
    ecs = _ecs_command(args.ecs)
    if ecs is None and not args.no_install:
        ecs = install_ecs_deploy()
    if ecs is None:
        print(
            f"skipped: ecs-deploy is not available (pip install {ECS_DEPLOY} in a throwaway venv, --ecs PATH)"
        )
        return 0
    port = free_port()
    state_dir = tempfile.mkdtemp(prefix="sandbox-backend-release-")
    sandbox_env = dict(os.environ, SANDBOX_PORT=str(port), SANDBOX_STATE_DIR=state_dir)
    sandbox_env.pop("SANDBOX_AWS_URL", None)
    base_url = f"http://127.0.0.1:{port}"
    print(f"starting a sandbox on {base_url}", flush=True)
    sandbox_command("up", sandbox_env)
    try:
        print("ecs-deploy: rolling deploy of v2 to a two-task service", flush=True)
        peer = _run_once(ecs, base_url)
        print("macroai.deploy: playbooks/deploy.yml v1, then v2 timed (hobby, two tasks)", flush=True)
        ours = our_release(base_url)
    finally:
        sandbox_command("down", sandbox_env)
        shutil.rmtree(state_dir, ignore_errors=True)
    print(
        f"ecs-deploy (ROLLING): {peer['seconds']:.2f}s, exit {peer['exit_code']}, "
        f"serving {peer['version_after']}; "
        f"load {peer['sent']} requests, {peer['failed']} failed"
    )
    step = ours["release_step"]
    print(
        f"macroai.deploy (BLUE_GREEN, 5 s bake): whole play {ours['seconds']:.2f}s, release step "
        f"{step if step is None else f'{step:.2f}s'}, exit {ours['exit_code']}, "
        f"serving {ours['version_after']}; "
        f"load {ours['sent']} requests, {ours['failed']} failed"
    )
    print(f"ratio whole play / ecs-deploy: {ours['seconds'] / peer['seconds']:.2f}")
    if step:
        print(f"ratio release step / ecs-deploy: {step / peer['seconds']:.2f}")
    return 0 if peer["exit_code"] == 0 and ours["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
