"""The release and the rollback end to end (playbooks/deploy.yml, rollback.yml) with change detection, in the
sandbox, on one deployment and one temporary git repository laid out like the seed's monorepo
(apps/express-api: the sample API, apps/client-ui: the static client, infrastructure/).

The tests run in file order against that one deployment, each leaving it as the next expects: the first
release (everything: backend and client side by side), a client-only commit, ``--check --diff`` of a backend
commit, that backend commit, a controller killed (SIGKILL) during a release's bake then that release rerun, a
run with nothing changed, a run refused by a held lock, a backend and client release whose backend fails (the
client is put back), then rollback.yml to the previous release and to a named one. Bad release inputs are
refused first, on a deployment of their own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import BIN_DIR, REPO_ROOT, ansible_env, aws_client, deploy, play_module, recap, run_playbook

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

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


@pytest.fixture(scope="module")
def flow(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    root = tmp_path_factory.mktemp("release-flow")
    yield Flow(sandbox, make_app_repo(root), root, f"rf{uuid.uuid4().hex[:6]}")
    sandbox.clear_task_faults()


BAD_INPUTS = {
    "deployment-type": (
        ("-e", "approve=true", "-e", "deployment_type=yolo"),
        ("deployment_type", "standard"),
    ),
    "force-rebuild": (("-e", "approve=true", "-e", "force_rebuild=maybe"), ("force_rebuild", "bool")),
    "rollback-type": (
        ("-e", "approve=true", "-e", "deployment_type=rollback"),
        ("rollback.yml", "to_release"),
    ),
    "no-approval": ((), ("was not approved", "-e approve=true")),
}


def test_bad_release_inputs_are_refused_before_any_write(sandbox: SandboxClient, tmp_path: Path) -> None:
    repo = make_app_repo(tmp_path)
    since = time.time()

    def run(extra: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return run_playbook(
            "playbooks/deploy.yml",
            ("inventories/hobby", "inventories/sandbox"),
            ("-e", "deploy_environment=refused", "-e", f"deploy_app_repo={repo}", *extra),
            env=ansible_env(sandbox.base_url),
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(BAD_INPUTS, pool.map(run, (extra for extra, _ in BAD_INPUTS.values())), strict=True))
    for case, (_, expected) in BAD_INPUTS.items():
        output = runs[case].stdout + runs[case].stderr
        assert runs[case].returncode != 0, f"{case}: {output[-3000:]}"
        for fragment in expected:
            assert fragment in output, f"{case}: {fragment!r} not in {output[-3000:]}"
    assert sandbox.requests(write=True, since=since) == []


def test_first_release_releases_everything(flow: Flow) -> None:
    output = ok(flow.deploy("first release (everything)"))
    first = git(flow.repo, "rev-parse", "--short=7", "HEAD")
    assert "no base release: everything" in output
    assert flow.backend_version() == first
    assert "// client" not in flow.client_text()
    entry = flow.ledger(query="last_successful")["release"]
    assert entry["release_id"] == release_id(output) and entry["outcome"] == "succeeded"
    assert entry["commit"].startswith(first) and entry["scope"]["everything"] is True
    assert entry["task_definition_arn"].endswith(":1") and entry["client_artifact_url"].startswith("s3://")
    assert {"preflight", "networking", "backend", "client", "validate"} <= set(entry["phases"])
    assert flow.lock_is_free()


def test_client_only_change_releases_only_the_client(flow: Flow) -> None:
    before_version, before_revisions = flow.backend_version(), flow.revisions()
    flow.commit("apps/client-ui/app.js", "// client v2\n", "client: v2")
    output = ok(flow.deploy("client-only change"))
    assert "TASK [Run the phase - client]" in output
    assert (
        "TASK [Run the phase - backend]" not in output and "TASK [Run the phase - networking]" not in output
    )
    assert flow.revisions() == before_revisions  # no new task definition revision
    assert flow.backend_version() == before_version
    assert "// client v2" in flow.client_text()


def test_check_mode_predicts_a_backend_release_and_writes_nothing(flow: Flow) -> None:
    tag = flow.commit("apps/express-api/app.py", "# backend v3\n", "api: v3")
    since = time.time()
    output = ok(flow.deploy("check mode (backend change)", "--check", "--diff"))
    assert flow.sandbox.requests(write=True, since=since) == []
    assert f":{tag}" in output and "CHECK MODE, nothing changed" in output  # the task definition diff
    assert flow.backend_version() != tag


def test_backend_only_change_releases_only_the_backend(flow: Flow) -> None:
    tag = git(flow.repo, "rev-parse", "--short=7", "HEAD")
    client_before = flow.client_text()
    output = ok(flow.deploy("backend-only change"))
    assert "TASK [Run the phase - backend]" in output and "TASK [Run the phase - client]" not in output
    assert flow.backend_version() == tag
    flow.tags["backend"] = tag
    assert flow.client_text() == client_before


def test_a_controller_killed_during_the_bake_is_completed_by_a_rerun_of_its_release(flow: Flow) -> None:
    tag = flow.commit("apps/express-api/app.py", "# backend v4\n", "api: v4")
    revisions = len(flow.revisions())
    bake = ("-e", "compute_bake_time_minutes=20")  # 20 s in the sandbox: time to kill the controller
    killed = subprocess.Popen(
        flow.deploy_arguments(*bake),
        cwd=REPO_ROOT,
        env=ansible_env(flow.sandbox.base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        flow.wait_for_bake()
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
    output = killed.communicate(timeout=30)[0]
    (killed_id,) = set(re.findall(r"Take the deploy lock - ([^\]\s]+)\]", output))
    # A new run is refused: the lock names the killed release; its own id takes the lock back and completes.
    refused = flow.deploy("refused: a killed release's lock")
    assert refused.returncode != 0 and killed_id in refused.stdout + refused.stderr
    rerun = ok(flow.deploy("rerun of the killed release", *bake, "-e", f"release_id={killed_id}"))
    assert flow.backend_version() == tag
    assert len(flow.revisions()) == revisions + 1  # the killed run's revision, reused: nothing duplicated
    entry = flow.ledger(query="get", release_id=killed_id)["release"]
    assert entry["outcome"] == "succeeded" and release_id(rerun) == killed_id
    assert flow.lock_is_free()


def test_no_change_only_validates_and_writes_only_the_ledger_and_the_lock(flow: Flow) -> None:
    since = time.time()
    version = flow.backend_version()
    # The optional integration tests get the release's facts in their environment; this one checks one.
    command = {"release_integration_test_command": f"sh -c 'test \"$RELEASE_VERSION\" = {version}'"}
    output = ok(flow.deploy("no change (validation only)", "-e", json.dumps(command)))
    writes = flow.sandbox.requests(write=True, since=since)
    assert writes and {write["service"] for write in writes} == {"dynamodb"}, writes
    assert "Run the phase - validate" in output and "Run the phase - networking" not in output
    tests_ran = r"Run the integration tests on the controller\] \**\n(ASYNC OK[^\n]*\n)?ok: "
    assert re.search(tests_ran, output), output[-3000:]
    assert recap(output)["changed"] == 0  # the lock's and the ledger's writes are the run's journal
    assert len(writes) == 4  # lock taken, ledger opened, ledger closed, lock given back
    print(f"\nno-change release: {flow.seconds['no change (validation only)']:.1f}s")


def test_a_second_deploy_while_the_lock_is_held_is_refused_naming_the_holder(flow: Flow) -> None:
    held = flow.lock(
        state="acquired", owner="other-release", lock_message="hotfix by alice", holder="alice@laptop:1"
    )
    assert held["lock"]["held"]
    try:
        run = flow.deploy("refused: lock held")
    finally:
        flow.lock(state="broken")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "alice@laptop:1" in output and "hotfix by alice" in output, output[-3000:]
    assert "Run the phase" not in output


def test_a_failing_backend_release_puts_the_client_back_and_records_the_failure(flow: Flow) -> None:
    client_before, version_before = flow.client_text(), flow.backend_version()
    flow.commit("apps/client-ui/app.js", "// client v5\n", "client: v5")
    tag = flow.commit("apps/express-api/app.py", "# backend v5\n", "api: v5")
    flow.sandbox.add_task_fault(tag, "unhealthy")  # ECS rolls the backend back; the client went out alongside
    try:
        run = flow.deploy("failing backend release (client put back)")
    finally:
        flow.sandbox.clear_task_faults()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "failed in the backend phase" in output, output[-3000:]
    assert "Wait for the client's release, if it still runs" in output
    assert flow.backend_version() == version_before
    assert flow.client_text() == client_before  # put back to the last successful release's artifact
    (latest,) = flow.ledger(query="list", limit=1)["releases"]
    assert latest["release_id"] == release_id(output) and latest["outcome"] == "failed"
    assert latest["failure"]["phase"] == "backend"
    assert flow.lock_is_free()


def test_rollback_returns_backend_and_client_to_the_previous_release(flow: Flow) -> None:
    current = flow.ledger(query="last_successful")["release"]
    output = ok(flow.rollback("rollback (previous release)"))
    # The previous release that runs something else: the backend-only one, before the killed and rerun one.
    assert flow.backend_version() == flow.tags["backend"]
    assert "// client v2" in flow.client_text()
    entry = flow.ledger(query="last_successful")["release"]
    assert entry["deployment_type"] == "rollback" and entry["release_id"] == release_id(output)
    rolled_back = flow.ledger(query="get", release_id=current["release_id"])["release"]
    assert (
        rolled_back["outcome"] == "rolled_back" and rolled_back["rolled_back_to"] == entry["rolled_back_to"]
    )
    print(f"\nrollback: {flow.seconds['rollback (previous release)']:.1f}s")


def test_rollback_to_a_named_release(flow: Flow) -> None:
    first = flow.ledger(query="list", limit=20)["releases"][-1]
    ok(flow.rollback("rollback (named)", "-e", f"to_release={first['release_id']}"))
    assert flow.backend_version() == first["commit"][:7]
    assert "// client v2" not in flow.client_text()
    entry = flow.ledger(query="last_successful")["release"]
    assert entry["rolled_back_to"] == first["release_id"]
    print("\n" + "\n".join(f"{label}: {seconds:.1f}s" for label, seconds in flow.seconds.items()))
