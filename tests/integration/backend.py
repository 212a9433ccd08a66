"""A deployment of playbooks/deploy.yml in the sandbox, and the checks every scale's release must pass.

Shared by test_backend_release.py (hobby: every scenario) and test_backend_release_enterprise.py.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flow import git, make_app_repo
from support import (
    BIN_DIR,
    REPO_ROOT,
    LoadProbe,
    ansible_env,
    aws_client,
    deploy,
    get_version,
    listener_url,
    recap,
)

from sandbox.client import SandboxClient

FAST = ("-e", "compute_release_poll_seconds=1")
LONG_BAKE = ("-e", "compute_bake_time_minutes=30")  # 30 s in the sandbox: room to act during the bake


@dataclass
class Release:
    """A deployment released from a git repository laid out like the seed's monorepo (flow.py): each release
    after the first commits a change to the API, so change detection puts the backend alone in scope and the
    release reuses the infrastructure the first one recorded, as a CI release of a backend change does.
    ``compute_image_tag`` picks the version the sandbox's tasks answer with."""

    sandbox: SandboxClient
    scale: str
    environment: str
    repo: Path
    first: subprocess.CompletedProcess[str]
    first_seconds: float

    @property
    def prefix(self) -> str:
        return f"macroai-{self.environment}"

    @property
    def cluster(self) -> str:
        return self.prefix

    @property
    def service(self) -> str:
        return f"{self.prefix}-api"

    @property
    def production_url(self) -> str:
        return listener_url(self.sandbox, self.prefix, 80)

    def arguments(self, tag: str) -> tuple[str, ...]:
        return (
            *("-e", f"deploy_environment={self.environment}", "-e", f"deploy_app_repo={self.repo}"),
            *("-e", f"compute_image_tag={tag}", *FAST),
        )

    def commit(self, tag: str, files: dict[str, str] | None = None) -> None:
        """A commit of the API (and ``files``, path: text appended) for the release of ``tag``."""
        for path, text in {"apps/express-api/app.py": f"# {tag}\n", **(files or {})}.items():
            target = self.repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((target.read_text() if target.exists() else "") + text)
            git(self.repo, "add", path)
        git(self.repo, "commit", "-qm", f"release {tag}")

    def deploy(
        self, tag: str, *extra: str, files: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.commit(tag, files)
        return deploy(self.sandbox, self.scale, *self.arguments(tag), *extra)

    def start_deploy(self, tag: str, *extra: str) -> subprocess.Popen[str]:
        """The same release in the background (to act on it while it bakes)."""
        self.commit(tag)
        command = [
            str(BIN_DIR / "ansible-playbook"),
            "playbooks/deploy.yml",
            *("-i", f"inventories/{self.scale}", "-i", "inventories/sandbox", "-e", "approve=true"),
            *self.arguments(tag),
            *extra,
        ]
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=_env(self.sandbox),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_for_bake(self, timeout: float = 300) -> str:
        """The ARN of the service's deployment once it is in BAKE_TIME."""
        ecs = aws_client(self.sandbox, "ecs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            arns = ecs.list_service_deployments(
                cluster=self.cluster, service=self.service, status=["IN_PROGRESS"]
            ).get("serviceDeployments", [])
            for summary in arns:
                arn = summary["serviceDeploymentArn"]
                deployment = ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
                    "serviceDeployments"
                ][0]
                if deployment.get("lifecycleStage") == "BAKE_TIME":
                    return arn
            time.sleep(0.3)
        raise AssertionError(f"no deployment of {self.service} reached BAKE_TIME in {timeout}s")

    def versions_running(self) -> set[str]:
        return {
            task["version"]
            for task in self.sandbox.tasks()
            if task["service"] == self.service and task["state"] == "RUNNING"
        }


def _env(sandbox: SandboxClient) -> dict[str, str]:
    return ansible_env(sandbox.base_url)


def roll_back(release: Release) -> subprocess.CompletedProcess[str]:
    """``ecs_bluegreen state=rolled_back`` as one ad-hoc command (what rollback.yml runs for the backend)."""
    arguments = {
        "cluster": release.cluster,
        "service": release.service,
        "state": "rolled_back",
        "poll_interval": 1,
        "endpoint_url": release.sandbox.base_url,
        "access_key": "testing",
        "secret_key": "testing",
    }
    return subprocess.run(
        [
            str(BIN_DIR / "ansible"),
            "controller",
            *("-i", f"inventories/{release.scale}", "-i", "inventories/sandbox"),
            *("-m", "macroai.deploy.ecs_bluegreen", "-a", json.dumps(arguments)),
        ],
        cwd=REPO_ROOT,
        env=_env(release.sandbox),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def released(sandbox: SandboxClient, scale: str, root: Path, *extra: str) -> Iterator[Release]:
    """Release v1 of a fresh deployment (its own ``deploy_environment``) at ``scale`` from a new repository in
    ``root``: the first release, so everything, the migrations included; ``extra`` arguments on that first run
    only; reset afterwards."""
    environment = f"t{uuid.uuid4().hex[:6]}"
    repo = make_app_repo(root)
    release = Release(sandbox, scale, environment, repo, subprocess.CompletedProcess([], 0), 0.0)
    started = time.monotonic()
    release.first = deploy(sandbox, scale, *release.arguments("v1"), *extra)
    release.first_seconds = time.monotonic() - started
    yield release
    sandbox.clear_task_faults()
    sandbox.reset()


def check_v1_released_with_the_infrastructure(release: Release) -> None:
    output = release.first.stdout + release.first.stderr
    assert release.first.returncode == 0, output[-5000:]
    assert recap(output)["failed"] == 0
    assert get_version(release.production_url) == "v1"
    assert "production_url: http://" in output and "live_target_group: arn:" in output
    print(f"\n{release.scale}: first release (network + compute + v1) {release.first_seconds:.1f}s")


def check_v2_under_load_drops_nothing_and_old_tasks_go(release: Release) -> None:
    with LoadProbe(f"{release.production_url}/version", rate=25, max_seconds=240) as load:
        run = release.deploy("v2")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert load.failures == [], load.failures[:5]
    assert load.achieved_rate >= 20, f"{load.sent} requests in {load.elapsed:.1f}s"
    assert load.versions[0] == "v1" and load.versions[-1] == "v2", load.versions
    assert get_version(release.production_url) == "v2"
    # ecs_bluegreen waited for the bake and clean-up: the v1 tasks are gone.
    assert release.versions_running() == {"v2"}
    print(f"\n{release.scale}: v2 under load: {load.sent} requests in {load.elapsed:.1f}s, 0 failed")
