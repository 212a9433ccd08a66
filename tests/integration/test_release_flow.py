"""The release and the rollback end to end (playbooks/deploy.yml, rollback.yml) with change detection, in the
sandbox, on one deployment and one temporary git repository laid out like the seed's monorepo
(apps/express-api: the sample API, apps/client-ui: the static client, infrastructure/).

The tests run in file order against that one deployment, each leaving it as the next expects: the first
release (everything: backend and client side by side), a client-only commit, an infrastructure-only commit, a
mixed commit (API, client and infrastructure), ``--check --diff`` of a backend commit, that backend commit
(which reuses the recorded infrastructure), a controller killed (SIGKILL) during a release's bake then that
release rerun, a run with nothing changed, a settings change alone, a run refused by a held lock, a backend
and client release whose backend fails under load (the client is put back), then rollback.yml to the
previous release and to a named one. Bad release inputs are refused first, on a deployment of their own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flow import Flow, fetch, git, make_app_repo, ok, release_id
from support import REPO_ROOT, LoadProbe, ansible_env, aws_client, recap, run_playbook

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


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
    "edge-domain": (
        ("-e", "approve=true", "-e", "edge_domain_name=https://Example.com/"),
        ("edge_domain_name='https://Example.com/' must be a bare domain name",),
    ),
    "client-source": (
        ("-e", "approve=true", "-e", "edge_client_source=/nonexistent/dist"),
        ("edge_client_source='/nonexistent/dist' does not exist",),
    ),
    "app-repo": (
        ("-e", "approve=true", "-e", "deploy_app_repo=/proc"),
        ("deploy_app_repo='/proc' is not a git repository",),
    ),
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
    assert f"client_artifact: s3://{flow.prefix}-client-releases-" in output
    site = flow.site_url()
    index = (flow.repo / "apps" / "client-ui" / "index.html").read_text()
    assert fetch(f"{site}/some/deep/route") == (200, index)  # the single-page-app rewrite
    # /api/<*> reaches the backend through the load balancer's listener, as the client's app.js calls it.
    status, body = fetch(f"{site}/api/version")
    assert (status, json.loads(body)) == (200, {"version": first})


def test_the_client_release_bucket_is_versioned_private_encrypted_and_readable_by_the_branch_only(
    flow: Flow,
) -> None:
    s3 = aws_client(flow.sandbox, "s3")
    app_name = f"{flow.prefix}-client"
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(app_name + "-")]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    amplify = aws_client(flow.sandbox, "amplify")
    (app,) = [a for a in amplify.list_apps()["apps"] if a["name"] == app_name]
    branch_arn = amplify.get_branch(appId=app["appId"], branchName="main")["branch"]["branchArn"]
    assert statement["Principal"] == {"Service": "amplify.amazonaws.com"}
    # As AWS's Amplify guide for deployments from S3 has it: the branch ARN URL-encoded, and the account.
    assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == urllib.parse.quote(branch_arn, safe="")
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == branch_arn.split(":")[4]
    # /api/<*> goes to the load balancer's production listener (no CORS); then the single-page-app rule.
    assert app["customRules"][0]["source"] == "/api/<*>"
    assert app["customRules"][0]["target"].startswith(f"http://{flow.prefix}-")
    flow.client_bucket = bucket


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
    objects = aws_client(flow.sandbox, "s3").list_objects_v2(Bucket=flow.client_bucket)["Contents"]
    assert len(objects) == 2  # the first release's artifact is kept for a rollback


def deployments_and_jobs(flow: Flow) -> tuple[int, int]:
    """How many deployments the API's service and jobs the client's branch have had: what a release adds."""
    ecs, amplify = aws_client(flow.sandbox, "ecs"), aws_client(flow.sandbox, "amplify")
    deployments = ecs.list_service_deployments(cluster=flow.prefix, service=f"{flow.prefix}-api")
    (app,) = [a for a in amplify.list_apps()["apps"] if a["name"] == f"{flow.prefix}-client"]
    jobs = amplify.list_jobs(appId=app["appId"], branchName="main")["jobSummaries"]
    return len(deployments["serviceDeployments"]), len(jobs)


def commit_files(flow: Flow, subject: str, files: dict[str, str]) -> str:
    """One commit that appends ``text`` to each of ``files`` (created when missing)."""
    for path, text in files.items():
        target = flow.repo / path
        target.write_text((target.read_text() if target.exists() else "") + text)
        git(flow.repo, "add", path)
    git(flow.repo, "commit", "-qm", subject)
    return git(flow.repo, "rev-parse", "--short=7", "HEAD")


def test_an_infrastructure_only_change_converges_the_infrastructure_and_releases_nothing(flow: Flow) -> None:
    version, revisions, client = flow.backend_version(), flow.revisions(), flow.client_text()
    released_before = deployments_and_jobs(flow)
    commit_files(flow, "infrastructure: compose file", {"docker-compose.yml": "services: {}\n"})
    output = ok(flow.deploy("infrastructure-only change"))
    for phase in ("networking", "data", "compute"):
        assert f"TASK [Run the phase - {phase}]" in output, phase
    # The seed's matrix: no backend deploy, no frontend deploy, no migration.
    assert deployments_and_jobs(flow) == released_before
    assert flow.revisions() == revisions and flow.backend_version() == version
    assert flow.client_text() == client
    entry = flow.ledger(query="last_successful")["release"]
    assert {k: entry["scope"][k] for k in ("backend", "frontend", "infrastructure", "migrations")} == {
        "backend": False,
        "frontend": False,
        "infrastructure": True,
        "migrations": False,
    }
    assert "docker-compose.yml" in entry["reasons"]["infrastructure"], entry["reasons"]


def test_a_mixed_change_releases_backend_client_and_infrastructure(flow: Flow) -> None:
    revisions = len(flow.revisions())
    deployments, jobs = deployments_and_jobs(flow)
    tag = commit_files(
        flow,
        "mixed: api, client and compose file",
        {
            "apps/express-api/app.py": "# backend mixed\n",
            "apps/client-ui/app.js": "// client mixed\n",
            "docker-compose.yml": "# mixed\n",
        },
    )
    output = ok(flow.deploy("mixed change"))
    for phase in ("networking", "data", "compute", "client", "backend"):
        assert f"TASK [Run the phase - {phase}]" in output, phase
    assert flow.backend_version() == tag and "// client mixed" in flow.client_text()
    assert len(flow.revisions()) == revisions + 1
    assert deployments_and_jobs(flow) == (deployments + 1, jobs + 1)
    entry = flow.ledger(query="last_successful")["release"]
    assert entry["scope"]["backend"] and entry["scope"]["frontend"] and entry["scope"]["infrastructure"]
    assert not entry["scope"]["migrations"]


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
    # The infrastructure is not in scope: the facts the first release recorded, not its three phases.
    assert "Reuse the infrastructure the last successful release recorded - " in output
    for phase in ("networking", "data", "compute"):
        assert f"TASK [Run the phase - {phase}]" not in output, phase
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


def test_a_settings_change_alone_converges_the_infrastructure_and_applies_it(flow: Flow) -> None:
    before = flow.ledger(query="last_successful")["release"]
    version, revisions, client = flow.backend_version(), flow.revisions(), flow.client_text()
    flow.settings = ("-e", "compute_log_retention_days=30")  # no new commit; the releases after keep it
    output = ok(flow.deploy("settings change (log retention)"))
    reason = f"settings changed since {before['release_id']}: compute_log_retention_days"
    assert "Run the phase - networking" in output and "Run the phase - compute" in output
    assert f"infrastructure: yes - {reason}" in " ".join(output.split()), output[-3000:]  # YAML folds lines
    logs = aws_client(flow.sandbox, "logs")
    (group,) = logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{flow.prefix}/api")["logGroups"]
    assert group["retentionInDays"] == 30
    assert flow.revisions() == revisions  # no new task definition revision
    assert flow.backend_version() == version and flow.client_text() == client
    entry = flow.ledger(query="last_successful")["release"]
    assert entry["release_id"] == release_id(output) and entry["scope"]["infrastructure"] is True
    assert entry["reasons"]["infrastructure"].startswith(reason)
    changed = set(entry["settings"]) - set(before["settings"])
    assert [item.split("=")[0] for item in changed] == ["compute_log_retention_days"]
    assert entry["task_definition_arn"] == before["task_definition_arn"]


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
        with LoadProbe(f"{flow.production_url()}/version", rate=20, max_seconds=300) as load:
            run = flow.deploy("failing backend release (client put back)")
    finally:
        flow.sandbox.clear_task_faults()
    output = run.stdout + run.stderr
    assert run.returncode != 0
    # Production never answered with an error nor with the unhealthy version while ECS rolled it back.
    assert load.failures == [] and set(load.versions) == {version_before}, (load.failures[:5], load.versions)
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
