"""playbooks/deploy.yml releases the web client through roles/edge: one hobby deployment in the sandbox,
client v1 then v2 (copies of ``examples/app/client`` with their version file written, never the example
itself), then v2 again, which releases nothing (it writes only the lock and the ledger). Three deploy runs."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from support import REPO_ROOT, aws_client, deploy, recap

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

CLIENT = REPO_ROOT / "examples" / "app" / "client"
FAST = ("-e", "compute_release_poll_seconds=1", "-e", "edge_release_poll_seconds=1")


def build_client(root: Path, version: str) -> Path:
    """A copy of the example client whose version.json says ``version``."""
    target = root / f"client-{version}"
    shutil.copytree(CLIENT, target)
    (target / "version.json").write_text(json.dumps({"version": version}) + "\n")
    return target


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported a change, from default-callback output."""
    names, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") : line.rindex("]")]
        elif line.startswith("changed:"):
            names.append(task)
    return names


def site_url(sandbox: SandboxClient, app_name: str) -> str:
    (site,) = [s for s in sandbox.sites() if s["app_name"] == app_name and s["branch"] == "main"]
    return site["url"].rstrip("/")


def test_deploy_releases_the_client_then_a_new_version_then_nothing(
    sandbox: SandboxClient, tmp_path: Path
) -> None:
    environment = f"cli{uuid.uuid4().hex[:6]}"
    app_name = f"macroai-{environment}-client"
    v1, v2 = build_client(tmp_path, "v1"), build_client(tmp_path, "v2")

    def run(client: Path) -> tuple[dict[str, int], str, float]:
        started = time.monotonic()
        completed = deploy(
            sandbox,
            "hobby",
            "-e",
            f"deploy_environment={environment}",
            "-e",
            "compute_image_tag=v1",
            "-e",
            f"edge_client_source={client}",
            *FAST,
        )
        elapsed = time.monotonic() - started
        assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
        return recap(completed.stdout), completed.stdout, elapsed

    first, first_out, first_seconds = run(v1)
    url = site_url(sandbox, app_name)
    assert json.loads(fetch(f"{url}/version.json")[1]) == {"version": "v1"}
    index = (CLIENT / "index.html").read_text()
    assert fetch(f"{url}/some/deep/route") == (200, index)  # the single-page-app rewrite
    # /api/<*> reaches the backend through the load balancer's listener, as the client's app.js calls it.
    status, body = fetch(f"{url}/api/version")
    assert (status, json.loads(body)) == (200, {"version": "v1"})
    assert f"client_artifact: s3://macroai-{environment}-client-releases-" in first_out

    # The release bucket: versioned, private, encrypted, readable by Amplify for this branch only.
    s3 = aws_client(sandbox, "s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(app_name + "-")]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    amplify = aws_client(sandbox, "amplify")
    (app,) = [a for a in amplify.list_apps()["apps"] if a["name"] == app_name]
    branch_arn = amplify.get_branch(appId=app["appId"], branchName="main")["branch"]["branchArn"]
    assert statement["Principal"] == {"Service": "amplify.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == branch_arn
    # /api/<*> goes to the load balancer's production listener (no CORS); then the single-page-app rule.
    assert app["customRules"][0]["source"] == "/api/<*>"
    assert app["customRules"][0]["target"].startswith(f"http://macroai-{environment}-")

    second, _, second_seconds = run(v2)
    assert second["changed"] >= 1
    assert json.loads(fetch(f"{url}/version.json")[1]) == {"version": "v2"}
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 2  # v1 kept for a rollback

    third, third_out, third_seconds = run(v2)
    # Nothing to release: only the release's bookkeeping is written (the deploy lock and the ledger entry).
    assert all("lock" in task or "ledger" in task for task in changed_tasks(third_out)), third_out
    assert json.loads(fetch(f"{url}/version.json")[1]) == {"version": "v2"}
    print(f"first {first_seconds:.1f}s, v2 {second_seconds:.1f}s, no-op {third_seconds:.1f}s")
