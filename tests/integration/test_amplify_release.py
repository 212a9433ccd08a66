"""macroai.deploy.amplify_release through ansible-playbook against the sandbox's Amplify emulator.

The tests run in file order and share one app (with the single-page-app rewrite rule), one branch and one
release bucket, made with boto3 under a unique name prefix (roles/edge will make them later) and deleted
at the end. Client builds v1, v2, v3 are copies of ``examples/app/client`` with their version file written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support import REGION, REPO_ROOT, aws_client, play_module

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

CLIENT = REPO_ROOT / "examples" / "app" / "client"
PREFIX = f"amp{uuid.uuid4().hex[:6]}"
SPA_RULE = {
    "source": "</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|woff2|ttf|map|json|webp)$)([^.]+$)/>",
    "target": "/index.html",
    "status": "200",
}


def build_client(root: Path, version: str) -> Path:
    """A copy of the example client whose version file says ``version``."""
    target = root / f"client-{version}-{uuid.uuid4().hex[:4]}"
    shutil.copytree(CLIENT, target)
    (target / "version.json").write_text(json.dumps({"version": version}) + "\n")
    return target


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("builds")
    return {version: build_client(root, version) for version in ("v1", "v2", "v3")}


@pytest.fixture(scope="module")
def infra(sandbox: SandboxClient) -> Iterator[dict[str, Any]]:
    amplify, s3 = aws_client(sandbox, "amplify"), aws_client(sandbox, "s3")
    app = amplify.create_app(name=f"{PREFIX}-client", platform="WEB", customRules=[SPA_RULE])["app"]
    branch = amplify.create_branch(
        appId=app["appId"], branchName="main", stage="PRODUCTION", enableAutoBuild=False
    )["branch"]
    bucket = f"{PREFIX}-releases"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    # Amplify reads the artifacts only as the bucket policy allows (roles/edge writes such a policy): the
    # account, and the branch ARN URL-encoded, as AWS's Amplify guide for deployments from S3 says.
    read = {
        "Effect": "Allow",
        "Principal": {"Service": "amplify.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {
            "StringEquals": {
                "aws:SourceAccount": branch["branchArn"].split(":")[4],
                "aws:SourceArn": urllib.parse.quote(branch["branchArn"], safe=""),
            }
        },
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [read]}))
    yield {"app_id": app["appId"], "app_name": app["name"], "bucket": bucket, "amplify": amplify, "s3": s3}
    with contextlib.suppress(ClientError):
        amplify.delete_app(appId=app["appId"])
    with contextlib.suppress(ClientError):
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def job_faults(sandbox: SandboxClient) -> Iterator[SandboxClient]:
    sandbox.clear_amplify_faults()
    yield sandbox
    sandbox.clear_amplify_faults()


def release_args(infra: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    args = {
        "app_name": infra["app_name"],
        "branch": "main",
        "release_bucket": infra["bucket"],
        "release_prefix": "client",
        "wait_timeout": 60,
        "poll_interval": 0.2,
    }
    args.update(overrides)
    return {key: value for key, value in args.items() if value is not None}


def play(sandbox: SandboxClient, tmp_path: Path, args: dict[str, Any], *flags: str) -> dict[str, Any]:
    """Run the module once through ansible-playbook; its result, with ``failed`` and ``changed``."""
    return play_module(sandbox, tmp_path, "macroai.deploy.amplify_release", args, *flags)


def site_url(sandbox: SandboxClient, infra: dict[str, Any]) -> str:
    return next(s["url"] for s in sandbox.sites() if s["app_id"] == infra["app_id"] and s["branch"] == "main")


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def served_version(sandbox: SandboxClient, infra: dict[str, Any]) -> str | None:
    status, body = fetch(site_url(sandbox, infra) + "/version.json")
    return json.loads(body)["version"] if status == 200 else None


def jobs(infra: dict[str, Any]) -> list[dict[str, Any]]:
    return infra["amplify"].list_jobs(appId=infra["app_id"], branchName="main")["jobSummaries"]


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s")


RELEASES: dict[str, str] = {}  # version -> artifact_url, filled as the tests release


@pytest.mark.parametrize("case", ["missing", "empty", "no-index"])
def test_bad_source_fails_before_any_call(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path, case: str
) -> None:
    source = tmp_path / "dist"
    if case != "missing":
        source.mkdir()
    if case == "no-index":
        (source / "build").mkdir()
        (source / "build" / "index.html").write_text("<html></html>")
    started = time.time()
    result = play(sandbox, tmp_path, release_args(infra, source=str(source)))
    assert result.get("failed"), result
    assert result["msg"].startswith("source:"), result["msg"]
    if case == "no-index":
        assert "build" in result["msg"] and "index.html" in result["msg"]
    assert sandbox.requests(since=started) == []  # not even a read


def test_check_mode_predicts_and_writes_nothing(
    sandbox: SandboxClient, infra: dict[str, Any], builds: dict[str, Path], tmp_path: Path
) -> None:
    started = time.time()
    result = play(sandbox, tmp_path, release_args(infra, source=str(builds["v1"])), "--check", "--diff")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["plan"]["upload"] and result["plan"]["deploy"]
    assert result["artifact_url"] == f"s3://{infra['bucket']}/client/{result['sha256']}.zip"
    assert result["job_id"] is None
    assert sandbox.requests(write=True, since=started) == []
    assert jobs(infra) == []


def test_release_v1(
    sandbox: SandboxClient, infra: dict[str, Any], builds: dict[str, Path], tmp_path: Path
) -> None:
    result = play(sandbox, tmp_path, release_args(infra, source=str(builds["v1"])), "--diff")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["plan"]["upload"] and result["plan"]["deploy"]
    assert result["job"]["status"] == "SUCCEED"
    assert [step["status"] for step in result["steps"]][-1] == "SUCCEED"
    assert result["previous_artifact_url"] is None
    assert result["diff"]["after"]["artifact_url"] == result["artifact_url"]
    assert result["site_url"] == f"https://main.{infra['app_id']}.amplifyapp.com"
    RELEASES["v1"] = result["artifact_url"]
    assert served_version(sandbox, infra) == "v1"
    status, body = fetch(site_url(sandbox, infra) + "/some/deep/link")
    assert status == 200 and b"client-version" in body  # the SPA rewrite serves index.html
    assert fetch(site_url(sandbox, infra) + "/missing.css")[0] == 404


def test_same_artifact_again_is_unchanged(
    sandbox: SandboxClient, infra: dict[str, Any], builds: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "v1-again"
    shutil.copytree(builds["v1"], copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # other timestamps: the same artifact all the same
    before = len(jobs(infra))
    for flags in (("--check",), ()):
        started = time.time()
        result = play(sandbox, tmp_path, release_args(infra, source=str(copy)), *flags)
        assert not result.get("failed"), result.get("msg")
        assert result["changed"] is False, result["plan"]
        assert result["artifact_url"] == RELEASES["v1"]
        assert result["job_id"] is None
        assert sandbox.requests(write=True, since=started) == []
    assert len(jobs(infra)) == before


def test_release_v2(
    sandbox: SandboxClient, infra: dict[str, Any], builds: dict[str, Path], tmp_path: Path
) -> None:
    result = play(sandbox, tmp_path, release_args(infra, source=str(builds["v2"])), "--diff")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["job"]["status"] == "SUCCEED"
    assert result["previous_artifact_url"] == RELEASES["v1"]
    assert result["diff"]["before"]["artifact_url"] == RELEASES["v1"]
    RELEASES["v2"] = result["artifact_url"]
    assert served_version(sandbox, infra) == "v2"


def test_rollback_to_v1_by_artifact_url(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    started = time.monotonic()
    result = play(sandbox, tmp_path, release_args(infra, artifact_url=RELEASES["v1"], release_bucket=None))
    elapsed = time.monotonic() - started
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and not result["plan"]["upload"]
    assert result["previous_artifact_url"] == RELEASES["v2"]
    assert served_version(sandbox, infra) == "v1"
    print(f"rollback to v1 served after {elapsed:.2f}s")
    again = play(sandbox, tmp_path, release_args(infra, artifact_url=RELEASES["v1"], release_bucket=None))
    assert again["changed"] is False


def test_rollback_to_an_unknown_artifact_fails(
    sandbox: SandboxClient, infra: dict[str, Any], tmp_path: Path
) -> None:
    url = f"s3://{infra['bucket']}/client/{'0' * 64}.zip"
    result = play(sandbox, tmp_path, release_args(infra, artifact_url=url, release_bucket=None))
    assert result.get("failed") and result["msg"].startswith("artifact_url:"), result


def test_waits_for_an_unfinished_job(
    sandbox: SandboxClient, infra: dict[str, Any], job_faults: SandboxClient, tmp_path: Path
) -> None:
    # Slow enough (10 min of AWS time, 10 s at the default scale) to outlast ansible-playbook's start.
    job_faults.add_amplify_fault("slow", seconds=600, app_id=infra["app_id"])
    running = infra["amplify"].start_deployment(
        appId=infra["app_id"], branchName="main", sourceUrl=RELEASES["v2"], sourceUrlType="ZIP"
    )["jobSummary"]["jobId"]
    result = play(sandbox, tmp_path, release_args(infra, artifact_url=RELEASES["v1"], release_bucket=None))
    assert not result.get("failed"), result.get("msg")
    assert result["plan"]["wait_for_jobs"] == [running] and result["plan"]["stop_jobs"] == []
    assert result["previous_artifact_url"] == RELEASES["v1"]
    assert result["job"]["status"] == "SUCCEED"
    assert served_version(sandbox, infra) == "v1"


def test_failed_job_fails_the_task_with_its_reason(
    sandbox: SandboxClient,
    infra: dict[str, Any],
    builds: dict[str, Path],
    job_faults: SandboxClient,
    tmp_path: Path,
) -> None:
    job_faults.add_amplify_fault("fail", reason="CDN invalidation failed", app_id=infra["app_id"])
    result = play(sandbox, tmp_path, release_args(infra, source=str(builds["v3"])))
    assert result.get("failed")
    assert "CDN invalidation failed" in result["msg"] and RELEASES["v1"] in result["msg"]
    assert result["job"]["status"] == "FAILED"
    assert served_version(sandbox, infra) == "v1"


def test_stuck_pending_job_is_stopped(
    sandbox: SandboxClient,
    infra: dict[str, Any],
    job_faults: SandboxClient,
    tmp_path: Path,
) -> None:
    job_faults.add_amplify_fault("stuck", app_id=infra["app_id"])
    stuck = infra["amplify"].start_deployment(
        appId=infra["app_id"], branchName="main", sourceUrl=RELEASES["v1"], sourceUrlType="ZIP"
    )["jobSummary"]["jobId"]
    args = release_args(infra, artifact_url=RELEASES["v2"], release_bucket=None, stuck_job_timeout=1)
    result = play(sandbox, tmp_path, args)
    assert not result.get("failed"), result.get("msg")
    assert result["plan"]["stop_jobs"] == [stuck]
    statuses = {job["jobId"]: job["status"] for job in jobs(infra)}
    assert statuses[stuck] == "CANCELLED" and statuses[result["job_id"]] == "SUCCEED"
    assert served_version(sandbox, infra) == "v2"
