"""A deployment released through playbooks/deploy.yml and rollback.yml with change detection, from a temporary
git repository laid out like the seed's monorepo (apps/express-api: the sample API, apps/client-ui: the static
client, infrastructure/). Shared by the release-flow and release-recovery tests."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from support import BIN_DIR, REPO_ROOT, ansible_env, aws_client, deploy, play_module, run_playbook

from sandbox.client import SandboxClient

FAST = ("-e", "compute_release_poll_seconds=1", "-e", "edge_release_poll_seconds=1")
GIT = ("git", "-c", "user.email=release@test", "-c", "user.name=release-test")


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make_app_repo(root: Path) -> Path:
    """A git repository shaped like the seed's monorepo, from the collection's sample app."""
    repo = root / "app"
    (repo / "apps" / "express-api").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "examples" / "app" / "app.py", repo / "apps" / "express-api" / "app.py")
    shutil.copytree(REPO_ROOT / "examples" / "app" / "client", repo / "apps" / "client-ui")
    (repo / "infrastructure").mkdir()
    (repo / "infrastructure" / "README.md").write_text("infrastructure\n")
    (repo / "package.json").write_text('{"name": "app", "private": true}\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    return repo


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@dataclass
class Flow:
    sandbox: SandboxClient
    repo: Path
    scratch: Path
    environment: str
    seconds: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    client_bucket: str = ""
    # -e settings every later deploy passes: a test that changes a setting keeps it for the releases after it.
    settings: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        return f"macroai-{self.environment}"

    def commit(self, path: str, text: str, subject: str) -> str:
        target = self.repo / path
        target.write_text(target.read_text() + text)
        git(self.repo, "commit", "-qam", subject)
        return git(self.repo, "rev-parse", "--short=7", "HEAD")

    def deploy(self, label: str, *extra: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        run = deploy(
            self.sandbox,
            "hobby",
            *("-e", f"deploy_environment={self.environment}", "-e", f"deploy_app_repo={self.repo}"),
            *("-e", f"edge_client_source={self.repo / 'apps' / 'client-ui'}"),
            *FAST,
            *self.settings,
            *extra,
        )
        self.seconds[label] = time.monotonic() - started
        return run

    def deploy_arguments(self, *extra: str) -> list[str]:
        return [
            str(BIN_DIR / "ansible-playbook"),
            "playbooks/deploy.yml",
            *("-i", "inventories/hobby", "-i", "inventories/sandbox", "-e", "approve=true"),
            *("-e", f"deploy_environment={self.environment}", "-e", f"deploy_app_repo={self.repo}"),
            *("-e", f"edge_client_source={self.repo / 'apps' / 'client-ui'}"),
            *FAST,
            *self.settings,
            *extra,
        ]

    def wait_for_bake(self, timeout: float = 180) -> None:
        ecs = aws_client(self.sandbox, "ecs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for summary in ecs.list_service_deployments(
                cluster=self.prefix, service=f"{self.prefix}-api", status=["IN_PROGRESS"]
            )["serviceDeployments"]:
                arn = summary["serviceDeploymentArn"]
                (deployment,) = ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
                    "serviceDeployments"
                ]
                if deployment.get("lifecycleStage") == "BAKE_TIME":
                    return
            time.sleep(0.3)
        raise AssertionError(f"no deployment of {self.prefix}-api reached BAKE_TIME in {timeout}s")

    def rollback(self, label: str, *extra: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        run = run_playbook(
            "rollback.yml",
            ("inventories/hobby", "inventories/sandbox"),
            ("-e", f"deploy_environment={self.environment}", *FAST, *extra),
            env=ansible_env(self.sandbox.base_url),
        )
        self.seconds[label] = time.monotonic() - started
        return run

    def production_url(self) -> str:
        (listener,) = [
            item
            for item in self.sandbox.listeners()
            if item["load_balancer"] == self.prefix and int(item["port"]) == 80
        ]
        return listener["url"].rstrip("/")

    def site_url(self) -> str:
        (site,) = [s for s in self.sandbox.sites() if s["app_name"] == f"{self.prefix}-client"]
        return site["url"].rstrip("/")

    def backend_version(self) -> str:
        return json.loads(fetch(f"{self.production_url()}/version")[1])["version"]

    def client_text(self) -> str:
        return fetch(f"{self.site_url()}/app.js")[1]

    def revisions(self) -> list[str]:
        ecs = aws_client(self.sandbox, "ecs")
        return ecs.list_task_definitions(familyPrefix=f"{self.prefix}-api")["taskDefinitionArns"]

    def ledger(self, **query: object) -> dict:
        args = {"table": f"{self.prefix}-releases", "state": "query", **query}
        return play_module(self.sandbox, self.scratch, "macroai.deploy.release_ledger", args)

    def lock(self, *flags: str, **args: object) -> dict:
        return play_module(
            self.sandbox,
            self.scratch,
            "macroai.deploy.deploy_lock",
            {"table": f"{self.prefix}-releases", **args},
            *flags,
        )

    def lock_is_free(self) -> bool:
        """Whether a new owner could take the lock now (asked in check mode: nothing is written)."""
        probe = self.lock("--check", state="acquired", owner="probe")
        return not probe.get("failed") and probe["previous"]["held"] is False


def ok(run: subprocess.CompletedProcess[str]) -> str:
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    return output


def release_id(output: str) -> str:
    ids = re.findall(r"Summary - (\S+) (?:succeeded|failed)", output)
    assert ids, output[-3000:]
    return ids[-1]
