"""sandbox.aws.amplify behind the front door (S3 reads stubbed, but for the bucket-policy tests, which use
moto in-process) and sandbox.dataplane.sites' rules; one test serves a site on loopback."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from sandbox.aws import amplify as amplify_module
from sandbox.aws.amplify import Amplify, parse_source_url, route, unzip
from sandbox.dataplane.sites import Deployment, Sites, SiteServer, resolve
from sandbox.server import SandboxApp

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261127/eu-west-2/amplify/aws4_request, Signature=x"
SPA = {
    "source": "</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|ttf|map|json)$)([^.]+$)/>",
    "target": "/index.html",
    "status": "200",
}
FILES = {
    "index.html": b"<html>index</html>",
    "app.js": b"js",
    "docs/index.html": b"docs",
    "version.json": b"{}",
}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class FakeSites:
    """Records what the emulator asks of the data plane; no sockets."""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], Deployment] = {}
        self.branches: set[tuple[str, str]] = set()

    def ensure(self, app_id: str, app_name: str, branch: str) -> None:
        self.branches.add((app_id, branch))

    def activate(self, app_id: str, app_name: str, branch: str, deployment: Deployment) -> None:
        self.active[(app_id, branch)] = deployment

    def rename(self, app_id: str, app_name: str) -> None:
        pass

    def remove(self, app_id: str, branch: str | None = None) -> None:
        self.branches = {key for key in self.branches if key[0] != app_id or branch not in (None, key[1])}

    def list(self) -> list[dict[str, Any]]:
        return [{"app_id": a, "branch": b} for a, b in sorted(self.branches)]

    def stop_all(self) -> None:
        self.branches.clear()


def not_aws(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
    return [b"moto"]


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Amplify:
    objects = {("releases", "v1.zip"): zipped(FILES)}

    def read(url: str, url_type: str, branch_arn: str) -> dict[str, bytes]:
        assert branch_arn.startswith("arn:aws:amplify:eu-west-2:123456789012:apps/d")
        bucket, key = parse_source_url(url)
        if (bucket, key) not in objects:
            raise amplify_module.ArtifactError(f"Unable to access the artifact: {url} does not exist")
        return unzip(objects[(bucket, key)])

    monkeypatch.setattr(amplify_module, "read_s3_artifact", read)
    return Amplify(sites=FakeSites())  # type: ignore[arg-type]


@pytest.fixture
def client(emulator: Amplify) -> Client:
    return Client(SandboxApp(emulator.wrap(not_aws), {"pid": 1, "port": 4599}, amplify=emulator))


def call(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = client.open(
        path,
        method=method,
        data=json.dumps(body) if body is not None else None,
        headers={"Authorization": AUTH, "Content-Type": "application/json"},
    )
    return response.status_code, response.json


def later(emulator: Amplify, seconds: float) -> None:
    emulator.tick(time.time() + seconds)


@pytest.fixture
def branch(client: Client) -> str:
    status, app = call(client, "POST", "/apps", {"name": "web", "customRules": [SPA]})
    assert status == 200 and app["app"]["appId"].startswith("d")
    app_id = app["app"]["appId"]
    status, created = call(
        client, "POST", f"/apps/{app_id}/branches", {"branchName": "main", "stage": "PRODUCTION"}
    )
    assert status == 200 and created["branch"]["activeJobId"] == ""
    return f"/apps/{app_id}/branches/main"


def test_routes_follow_botocore_paths() -> None:
    assert route("POST", "/apps/d1/branches/feature%2Fx/deployments/start") == (
        "StartDeployment",
        {"appId": "d1", "branchName": "feature/x"},
    )
    assert route("DELETE", "/apps/d1/branches/main/jobs/3/stop") == (
        "StopJob",
        {"appId": "d1", "branchName": "main", "jobId": "3"},
    )
    assert route("GET", "/apps/d1/nothing") is None


def test_unsigned_or_other_services_pass_through(client: Client) -> None:
    assert client.get("/apps").status_code == 418


def test_job_progresses_by_the_clock_and_becomes_the_site(
    client: Client, emulator: Amplify, branch: str
) -> None:
    status, started = call(
        client,
        "POST",
        f"{branch}/deployments/start",
        {"sourceUrl": "s3://releases/v1.zip", "sourceUrlType": "ZIP"},
    )
    assert status == 200 and started["jobSummary"]["status"] == "PENDING"
    job = f"{branch}/jobs/{started['jobSummary']['jobId']}"
    later(emulator, 0.5)
    assert call(client, "GET", job)[1]["job"]["summary"]["status"] == "RUNNING"
    later(emulator, 5)
    body = call(client, "GET", job)[1]["job"]
    assert body["summary"]["status"] == "SUCCEED" and body["steps"][0]["stepName"] == "DEPLOY"
    deployment = next(iter(emulator.sites.active.values()))  # type: ignore[attr-defined]
    assert deployment.files["index.html"] == FILES["index.html"]
    summaries = call(client, "GET", f"{branch}/jobs")[1]["jobSummaries"]
    assert summaries[0]["sourceUrl"] == "s3://releases/v1.zip"


def test_one_unfinished_job_per_branch(client: Client, emulator: Amplify, branch: str) -> None:
    source = {"sourceUrl": "s3://releases/v1.zip", "sourceUrlType": "ZIP"}
    assert call(client, "POST", f"{branch}/deployments/start", source)[0] == 200
    status, error = call(client, "POST", f"{branch}/deployments/start", source)
    assert status == 400 and error["__type"] == "BadRequestException" and "not finished" in error["message"]
    assert call(client, "POST", f"{branch}/deployments", {})[0] == 400
    later(emulator, 5)
    assert call(client, "POST", f"{branch}/deployments/start", source)[0] == 200


def test_missing_artifact_fails_the_job(client: Client, emulator: Amplify, branch: str) -> None:
    missing = {"sourceUrl": "s3://releases/nope.zip", "sourceUrlType": "ZIP"}
    job_id = call(client, "POST", f"{branch}/deployments/start", missing)[1]["jobSummary"]["jobId"]
    later(emulator, 5)
    job = call(client, "GET", f"{branch}/jobs/{job_id}")[1]["job"]
    assert job["summary"]["status"] == "FAILED" and "does not exist" in job["steps"][0]["statusReason"]


def test_upload_url_then_start(client: Client, emulator: Amplify, branch: str) -> None:
    created = call(client, "POST", f"{branch}/deployments", {})[1]
    url = created["zipUploadUrl"]
    assert "/_sandbox/amplify-upload/" in url
    path = url.split("localhost", 1)[-1]
    assert client.put(path, data=zipped({"index.html": b"uploaded"})).status_code == 200
    assert call(client, "POST", f"{branch}/deployments/start", {"jobId": created["jobId"]})[0] == 200
    later(emulator, 5)
    assert (
        call(client, "GET", f"{branch}/jobs/{created['jobId']}")[1]["job"]["summary"]["status"] == "SUCCEED"
    )
    deployment = next(iter(emulator.sites.active.values()))  # type: ignore[attr-defined]
    assert deployment.files == {"index.html": b"uploaded"}
    assert client.put(path, data=b"again").status_code == 403  # the URL expires with its job


@pytest.mark.parametrize("mode", ["fail", "stuck"])
def test_job_faults(client: Client, emulator: Amplify, branch: str, mode: str) -> None:
    fault = client.post("/_sandbox/amplify-faults", json={"mode": mode, "reason": "CDN down", "count": 1})
    assert fault.status_code == 201
    source = {"sourceUrl": "s3://releases/v1.zip", "sourceUrlType": "ZIP"}
    job_id = call(client, "POST", f"{branch}/deployments/start", source)[1]["jobSummary"]["jobId"]
    later(emulator, 60)
    job = call(client, "GET", f"{branch}/jobs/{job_id}")[1]["job"]
    if mode == "fail":
        assert job["summary"]["status"] == "FAILED" and job["steps"][0]["statusReason"] == "CDN down"
        return
    assert job["summary"]["status"] == "PENDING"
    assert call(client, "POST", f"{branch}/deployments/start", source)[0] == 400
    assert call(client, "DELETE", f"{branch}/jobs/{job_id}/stop")[1]["jobSummary"]["status"] == "CANCELLING"
    later(emulator, 61)
    assert call(client, "GET", f"{branch}/jobs/{job_id}")[1]["job"]["summary"]["status"] == "CANCELLED"
    assert call(client, "POST", f"{branch}/deployments/start", source)[0] == 200  # count 1: this one is fine


def test_bad_fault_is_refused(client: Client) -> None:
    assert client.post("/_sandbox/amplify-faults", json={"mode": "explode"}).status_code == 400


def test_reset_forgets_everything(client: Client, emulator: Amplify, branch: str) -> None:
    assert client.post("/_sandbox/reset").status_code == 200
    assert call(client, "GET", "/apps")[1]["apps"] == []
    assert client.get("/_sandbox/sites").json == []


def test_domains_and_tags(client: Client, branch: str) -> None:
    app_path = branch.rsplit("/branches", 1)[0]
    settings = {"domainName": "example.com", "subDomainSettings": [{"prefix": "www", "branchName": "main"}]}
    status, domain = call(client, "POST", f"{app_path}/domains", settings)
    assert status == 200 and domain["domainAssociation"]["subDomains"][0]["verified"] is True
    assert call(client, "GET", f"{app_path}/domains/example.com")[0] == 200
    arn = call(client, "GET", app_path)[1]["app"]["appArn"]
    encoded = urllib.request.quote(arn, safe="")
    assert call(client, "POST", f"/tags/{encoded}", {"tags": {"team": "web"}})[0] == 200
    assert call(client, "GET", f"/tags/{encoded}")[1]["tags"] == {"team": "web"}


@pytest.mark.parametrize(
    ("path", "rules", "expected"),
    [
        ("/", [], (200, "index.html", None)),
        ("/docs/", [], (200, "docs/index.html", None)),
        ("/docs", [], (200, "docs/index.html", None)),
        ("/deep/link", [], (404, None, None)),
        ("/deep/link", [SPA], (200, "index.html", None)),
        ("/app.js", [SPA], (200, "app.js", None)),
        ("/missing.css", [SPA], (404, None, None)),
        (
            "/anything",
            [{"source": "/<*>", "target": "/index.html", "status": "404-200"}],
            (200, "index.html", None),
        ),
        (
            "/app.js",
            [{"source": "/<*>", "target": "/index.html", "status": "404-200"}],
            (200, "app.js", None),
        ),
        ("/old/a", [{"source": "/old/<*>", "target": "/new/<*>", "status": "301"}], (301, None, "/new/a")),
        ("/u/7", [{"source": "/u/<id>", "target": "/p?id=<id>", "status": "302"}], (302, None, "/p?id=7")),
        ("/gone", [{"source": "/gone", "target": "/index.html", "status": "404"}], (404, "index.html", None)),
        (
            "/x",
            [{"source": "/x", "target": "/index.html", "status": "200", "condition": "<US>"}],
            (404, None, None),
        ),
    ],
)
def test_resolve_honours_custom_rules(path: str, rules: list, expected: tuple) -> None:
    outcome = resolve(path, "", FILES, rules)
    assert (outcome.status, outcome.path, outcome.location) == expected


def test_proxy_rule() -> None:
    rule = {"source": "/api/<*>", "target": "http://127.0.0.1:9/<*>", "status": "200"}
    outcome = resolve("/api/version", "a=1", FILES, [rule])
    assert outcome.proxy and outcome.location == "http://127.0.0.1:9/version?a=1"


def test_site_server_switches_atomically() -> None:
    sites = Sites(rules=lambda app_id: [SPA], refresh=lambda: None)
    try:
        server: SiteServer = sites.ensure("dapp", "web", "main")

        def get(path: str) -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(server.url + path, timeout=5) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as err:
                return err.code, err.read()

        assert get("/")[0] == 404  # nothing deployed yet
        sites.activate("dapp", "web", "main", Deployment("1", "s3://b/v1.zip", {"index.html": b"v1"}))
        assert get("/deep/link") == (200, b"v1")
        sites.activate("dapp", "web", "main", Deployment("2", "s3://b/v2.zip", {"index.html": b"v2"}))
        assert get("/") == (200, b"v2")
        assert sites.list()[0]["job_id"] == "2"
    finally:
        sites.stop_all()


BRANCH_ARN = "arn:aws:amplify:eu-west-2:123456789012:apps/d123/branches/main"
ENCODED_BRANCH_ARN = "arn%3Aaws%3Aamplify%3Aeu-west-2%3A123456789012%3Aapps%2Fd123%2Fbranches%2Fmain"


def amplify_read_policy(bucket: str, **condition: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "amplify.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": condition},
            }
        ],
    }


def test_amplify_sends_the_url_encoded_branch_arn_and_the_account() -> None:
    assert amplify_module.amplify_source(BRANCH_ARN) == {
        "aws:SourceAccount": "123456789012",
        "aws:SourceArn": ENCODED_BRANCH_ARN,
    }


@pytest.mark.parametrize(
    ("condition", "readable"),
    [
        ({"aws:SourceArn": ENCODED_BRANCH_ARN, "aws:SourceAccount": "123456789012"}, True),
        ({"aws:SourceArn": BRANCH_ARN, "aws:SourceAccount": "123456789012"}, False),  # as the ARN reads
        ({"aws:SourceArn": ENCODED_BRANCH_ARN, "aws:SourceAccount": "444455556666"}, False),
        ({"aws:SourceArn": ENCODED_BRANCH_ARN.replace("main", "preview")}, False),  # another branch
        (None, False),  # no bucket policy at all
    ],
)
def test_artifacts_are_read_through_the_bucket_policy(
    condition: dict[str, str] | None, readable: bool
) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="releases")
        s3.put_object(Bucket="releases", Key="client/v1.zip", Body=zipped(FILES))
        if condition is not None:
            s3.put_bucket_policy(
                Bucket="releases", Policy=json.dumps(amplify_read_policy("releases", **condition))
            )
        url = "s3://releases/client/v1.zip"
        if readable:
            assert amplify_module.read_s3_artifact(url, "ZIP", BRANCH_ARN) == FILES
            missing = "s3://releases/client/v2.zip"  # GetObject without ListBucket: 403, as S3 answers
            with pytest.raises(amplify_module.ArtifactError, match="AccessDenied"):
                amplify_module.read_s3_artifact(missing, "ZIP", BRANCH_ARN)
        else:
            with pytest.raises(amplify_module.ArtifactError, match="AccessDenied: Access Denied"):
                amplify_module.read_s3_artifact(url, "ZIP", BRANCH_ARN)
