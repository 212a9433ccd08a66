"""Frontend rollback in the sandbox: how long from the rollback command's start until the site serves v1.

    .venv/bin/python benchmarks/frontend_rollback.py [--runs 3]

Starts its own sandbox (free port, temporary state dir, default time scale), creates an Amplify app (with
the single-page-app rewrite rule), a branch and a release bucket with boto3, builds client v1 and v2 from
``examples/app/client``, and releases v1 then v2 with ``macroai.deploy.amplify_release`` through
ansible-playbook. Then, per run:

- ours: ``ansible-playbook`` running ``amplify_release`` with ``artifact_url`` = v1's recorded artifact;
  timed from the command's start until the branch's site URL serves v1 (a thread polls ``/version.json``
  every 20 ms), and until the command exits;
- peer: the same rollback with boto3 calls alone, in this process: one ``StartDeployment`` with v1's
  ``sourceUrl``, then ``GetJob`` every 0.2 s until it ends; no ansible-playbook start-up, no lookups, no
  idempotence check. Timed from its first call until the site serves v1.

Between rollbacks v2 is deployed again (boto3) so each rollback is a real change. Prints each figure, the
median, and ours/peer. Target: ours under 5 s. The sandbox's jobs take about 1 s (PENDING 15 s + RUNNING
45 s of AWS time at scale 60); the rest of "ours" is ansible-playbook's start-up and the module's reads.
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
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.state import free_port  # noqa: E402  (the repo root is not on sys.path when run as a script)

REGION = "eu-west-2"
SERVE_TIMEOUT = 60.0
SPA_RULE = {
    "source": "</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|woff2|ttf|map|json|webp)$)([^.]+$)/>",
    "target": "/index.html",
    "status": "200",
}


def _sandbox(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"sandbox {command} failed:\n{result.stdout}\n{result.stderr}")


def served_version(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url + "/version.json", timeout=2) as response:
            return json.loads(response.read())["version"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


class Watch:
    """Polls the site every 20 ms from ``start()``; ``seen``: the monotonic time ``version`` first served."""

    def __init__(self, url: str, version: str) -> None:
        self.url, self.version = url, version
        self.seen: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while not self._stop.is_set() and time.monotonic() < deadline:
            if served_version(self.url) == self.version:
                self.seen = time.monotonic()
                return
            time.sleep(0.02)

    def wait(self) -> float | None:
        self._thread.join(SERVE_TIMEOUT)
        self._stop.set()
        return self.seen


def playbook(tmp: Path, base_url: str, args: dict[str, Any]) -> list[str]:
    connection = {"endpoint_url": base_url, "access_key": "testing", "secret_key": "testing"}
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "module_defaults": {"group/macroai.deploy.aws": connection},
            "tasks": [{"name": "release", "macroai.deploy.amplify_release": args, "register": "out"}],
        }
    ]
    path = tmp / f"play-{time.monotonic_ns()}.yml"
    path.write_text(json.dumps(play))
    return [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(path)]


def run_ours(tmp: Path, base_url: str, site: str, version: str, args: dict[str, Any]) -> tuple[float, float]:
    """(seconds until ``version`` is served, seconds until the command exits), from the command's start."""
    env = {
        **os.environ,
        "AWS_REGION": REGION,
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
    }
    command = playbook(tmp, base_url, args)
    started = time.monotonic()
    watch = Watch(site, version).start()
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    exited = time.monotonic() - started
    if completed.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-2000:]}")
    seen = watch.wait()
    if seen is None:
        raise SystemExit(f"the site never served {version}")
    return seen - started, exited


def deploy_with_boto3(amplify: Any, app_id: str, source_url: str) -> None:
    job = amplify.start_deployment(appId=app_id, branchName="main", sourceUrl=source_url, sourceUrlType="ZIP")
    job_id = job["jobSummary"]["jobId"]
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        status = amplify.get_job(appId=app_id, branchName="main", jobId=job_id)["job"]["summary"]["status"]
        if status not in ("PENDING", "RUNNING", "CANCELLING", "CREATED", "PROVISIONING"):
            if status != "SUCCEED":
                raise SystemExit(f"boto3 deployment ended {status}")
            return
        time.sleep(0.2)
    raise SystemExit("boto3 deployment did not finish")


def run_peer(amplify: Any, app_id: str, site: str, source_url: str, version: str) -> float:
    started = time.monotonic()
    watch = Watch(site, version).start()
    deploy_with_boto3(amplify, app_id, source_url)
    seen = watch.wait()
    if seen is None:
        raise SystemExit(f"the site never served {version}")
    return seen - started


def build(tmp: Path, version: str) -> Path:
    target = tmp / f"client-{version}"
    shutil.copytree(REPO_ROOT / "examples" / "app" / "client", target)
    (target / "version.json").write_text(json.dumps({"version": version}) + "\n")
    return target


def measure(base_url: str, runs: int) -> None:
    import boto3

    from sandbox.client import SandboxClient

    kwargs = {
        "endpoint_url": base_url,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    amplify, s3 = boto3.client("amplify", **kwargs), boto3.client("s3", **kwargs)
    app = amplify.create_app(name="bench-client", platform="WEB", customRules=[SPA_RULE])["app"]
    amplify.create_branch(appId=app["appId"], branchName="main", stage="PRODUCTION", enableAutoBuild=False)
    s3.create_bucket(Bucket="bench-releases", CreateBucketConfiguration={"LocationConstraint": REGION})
    site = next(s["url"] for s in SandboxClient(base_url).sites() if s["app_id"] == app["appId"])
    common = {"app_name": "bench-client", "branch": "main", "poll_interval": 0.2, "wait_timeout": 60}
    release = {**common, "release_bucket": "bench-releases", "release_prefix": "client"}

    with tempfile.TemporaryDirectory(prefix="bench-amplify-") as folder:
        tmp = Path(folder)
        urls = {}
        for version in ("v1", "v2"):
            args = {**release, "source": str(build(tmp, version))}
            served, exited = run_ours(tmp, base_url, site, version, args)
            urls[version] = amplify.list_jobs(appId=app["appId"], branchName="main")["jobSummaries"][0][
                "sourceUrl"
            ]
            print(
                f"release {version} (ansible-playbook): served after {served:.2f}s, "
                f"command exited {exited:.2f}s"
            )

        ours, ours_exit, peers = [], [], []
        for run in range(runs):
            if run:
                deploy_with_boto3(amplify, app["appId"], urls["v2"])
            served, exited = run_ours(tmp, base_url, site, "v1", {**common, "artifact_url": urls["v1"]})
            ours.append(served)
            ours_exit.append(exited)
            deploy_with_boto3(amplify, app["appId"], urls["v2"])
            peers.append(run_peer(amplify, app["appId"], site, urls["v1"], "v1"))
            print(
                f"run {run + 1}: rollback to v1 served after {served:.2f}s (command exited {exited:.2f}s); "
                f"peer {peers[-1]:.2f}s"
            )

    ours_median, peer_median = statistics.median(ours), statistics.median(peers)
    print()
    print(f"rollback, command start -> v1 served (median of {runs}): {ours_median:.2f}s  (target < 5 s)")
    print(f"rollback, command start -> command exit (median):     {statistics.median(ours_exit):.2f}s")
    print(
        f"peer: boto3 StartDeployment(sourceUrl=v1) + GetJob polling, in-process (median): {peer_median:.2f}s"
    )
    print(f"ratio ours/peer: {ours_median / peer_median:.2f}x  (the difference is ansible-playbook start-up)")
    print(f"verdict: {'PASS' if ours_median < 5 else 'FAIL'} (under 5 s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="rollbacks to time (default %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as state_dir:
        port = free_port()
        env = dict(os.environ, SANDBOX_PORT=str(port), SANDBOX_STATE_DIR=state_dir)
        env.pop("SANDBOX_TIME_SCALE", None)  # the default scale, as the done-when figure assumes
        base_url = f"http://127.0.0.1:{port}"
        _sandbox("up", env)
        try:
            measure(base_url, max(args.runs, 1))
        finally:
            _sandbox("down", env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
