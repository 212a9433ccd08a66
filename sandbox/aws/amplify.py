"""The Amplify Hosting API (moto has none): the subset in shared/reference/amplify-api.md.

A WSGI middleware: requests signed for ``amplify`` are answered here (rest-json, paths and shapes as in
botocore's ``amplify/2017-07-25`` model), everything else goes on to moto. It sits behind the front door,
so fault rules and the request log apply to Amplify calls as to any other.

- Apps, branches, domain associations and tags live in memory; ``reset`` forgets them.
- Jobs progress lazily, by the sandbox clock, whenever anything looks (an API call, a site request, the
  sites listing): PENDING -> RUNNING -> SUCCEED (or FAILED), ``PENDING_SECONDS`` then ``RUNNING_SECONDS`` of
  AWS time (1 s of real time at the default scale of 60). StopJob: CANCELLING, then CANCELLED.
- One unfinished job per branch: a new one is refused with AWS's BadRequestException; at most
  ``MAX_CONCURRENT_JOBS`` running jobs per account (LimitExceededException).
- Artifacts: CreateDeployment answers a ``zipUploadUrl`` on the sandbox itself
  (``PUT /_sandbox/amplify-upload/<token>``); StartDeployment with ``sourceUrl`` reads ``s3://bucket/key``
  (ZIP) or ``s3://bucket/prefix/`` (BUCKET_PREFIX) from moto's S3 backend, in-process, when the job deploys,
  only as far as the bucket policy lets ``amplify.amazonaws.com`` read it (``sandbox.aws.iam``), with the
  ``aws:SourceAccount`` and URL-encoded ``aws:SourceArn`` Amplify sends; otherwise the job fails.
- A job that succeeds becomes its branch's site (``sandbox.dataplane.sites``), honouring the app's
  ``customRules``.
- Faults (``POST /_sandbox/amplify-faults``): the next ``count`` jobs started ``fail`` with a reason,
  stay ``stuck`` in PENDING until stopped, or are ``slow`` (RUNNING for ``seconds`` of AWS time).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

from werkzeug.wrappers import Request, Response

from sandbox.aws import iam
from sandbox.clock import scaled
from sandbox.dataplane.sites import Deployment, Sites
from sandbox.protocols import scope_service

Params = dict[str, str]  # path parameters
Body = dict[str, Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"

# Durations in AWS seconds, compressed by sandbox.clock.
PENDING_SECONDS = 15.0
RUNNING_SECONDS = 45.0
CANCELLING_SECONDS = 6.0
START_WITHIN_SECONDS = 8 * 3600.0  # CreateDeployment must be followed by StartDeployment within 8 hours

UNFINISHED = frozenset({"CREATED", "PENDING", "PROVISIONING", "RUNNING", "CANCELLING"})
ACTIVE = frozenset({"PENDING", "PROVISIONING", "RUNNING", "CANCELLING"})  # count against the quota
MAX_CONCURRENT_JOBS = 5
MAX_APPS = 25
MAX_BRANCHES = 50
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024  # unpacked; AWS's limit is a 5 GB zip, the sandbox keeps it in memory
FAULT_MODES = ("fail", "stuck", "slow")


class AmplifyError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def bad_request(message: str) -> AmplifyError:
    return AmplifyError("BadRequestException", message, 400)


def not_found(message: str) -> AmplifyError:
    return AmplifyError("NotFoundException", message, 404)


class ArtifactError(Exception):
    """The job cannot deploy its artifact; the message becomes the job's failure reason."""


# -- artifacts -------------------------------------------------------------------------------------------


def unzip(data: bytes) -> dict[str, bytes]:
    """A zip's files by relative path (directories dropped, ``./`` stripped, ``..`` refused)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ArtifactError(f"The artifact is not a valid zip file ({err})") from err
    files: dict[str, bytes] = {}
    total = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            while name.startswith("./"):
                name = name[2:]
            name = name.lstrip("/")
            if ".." in name.split("/"):
                raise ArtifactError(f"The artifact holds an unsafe path: {info.filename}")
            total += info.file_size
            if total > MAX_ARTIFACT_BYTES:
                raise ArtifactError("The artifact is larger than the sandbox serves")
            files[name] = archive.read(info)
    return files


def parse_source_url(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key`` or a virtual-hosted / path-style S3 https URL."""
    parsed = urlparse(url)
    if parsed.scheme == "s3" and parsed.netloc:
        return parsed.netloc, unquote(parsed.path.lstrip("/"))
    host = parsed.hostname or ""
    if parsed.scheme in ("http", "https"):
        virtual = re.match(r"^(?P<bucket>.+)\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com$", host)
        if virtual:
            return virtual.group("bucket"), unquote(parsed.path.lstrip("/"))
        bucket, _, key = parsed.path.lstrip("/").partition("/")
        if bucket:
            return bucket, unquote(key)
    raise ArtifactError(f"Unsupported sourceUrl {url}: use s3://bucket/key")


def _s3_bucket(name: str) -> Any:
    from moto.backends import get_backend

    for per_account in list(dict.values(get_backend("s3"))):  # type: ignore[arg-type]
        for backend in list(dict.values(per_account)):
            bucket = backend.buckets.get(name)
            if bucket is not None:
                return bucket
    raise ArtifactError(f"Unable to access the artifact: bucket {name} does not exist")


AMPLIFY = "amplify.amazonaws.com"


def amplify_source(branch_arn: str) -> dict[str, str]:
    """The context Amplify sends with its S3 reads for a branch: the account, and the branch ARN
    URL-encoded (AWS's Amplify Hosting guide, "Creating a bucket policy to deploy a static website from S3
    using the AWS SDKs": "the aws:SourceArn must be a URL-encoded (percent-encoding) branch ARN")."""
    return {"aws:SourceAccount": branch_arn.split(":")[4], "aws:SourceArn": quote(branch_arn, safe="")}


def _bucket_allows(bucket: Any, action: str, resource: str, branch_arn: str) -> iam.Decision:
    """Amplify's service principal holds no identity policy: only the bucket policy can allow the read."""
    request = iam.Request(action, resource, amplify_source(branch_arn), iam.Principal("Service", AMPLIFY))
    return iam.evaluate([iam.bucket_policy(bucket)], request, resource_based=True)


def _read_object(bucket: Any, key: str, url: str, branch_arn: str) -> bytes:
    """One object, as S3 answers the amplify.amazonaws.com principal (GetObject API reference: without
    s3:ListBucket a missing key is 403 Access Denied, not 404 NoSuchKey)."""
    partition = branch_arn.split(":")[1] if branch_arn.count(":") >= 5 else "aws"
    resource = f"arn:{partition}:s3:::{bucket.name}/{key}"
    obj = bucket.keys.get(key)
    if _bucket_allows(bucket, "s3:GetObject", resource, branch_arn) is not iam.Decision.ALLOW or (
        obj is None
        and _bucket_allows(bucket, "s3:ListBucket", f"arn:{partition}:s3:::{bucket.name}", branch_arn)
        is not iam.Decision.ALLOW
    ):
        raise ArtifactError(
            f"Unable to access the artifact {url}: AccessDenied: Access Denied (s3:GetObject on {resource} "
            f"for {AMPLIFY}: the bucket policy must allow it with aws:SourceAccount and the URL-encoded "
            "branch ARN as aws:SourceArn)"
        )
    if obj is None:
        raise ArtifactError(f"Unable to access the artifact: {url} does not exist")
    return bytes(obj.value)


def read_s3_artifact(url: str, url_type: str, branch_arn: str) -> dict[str, bytes]:
    """The files of a ZIP object or of every object under a prefix, read from moto's S3 in-process as
    Amplify reads them for ``branch_arn``: through the bucket's policy."""
    bucket_name, key = parse_source_url(url)
    bucket = _s3_bucket(bucket_name)
    if url_type == "BUCKET_PREFIX":
        prefix = key.rstrip("/") + "/" if key else ""
        names = [
            name
            for name, obj in list(bucket.keys.items())
            if name.startswith(prefix) and not name.endswith("/") and obj is not None
        ]
        if not names:
            raise ArtifactError(f"Unable to access the artifact: no objects under {url}")
        return {name[len(prefix) :]: _read_object(bucket, name, url, branch_arn) for name in names}
    return unzip(_read_object(bucket, key, url, branch_arn))


# -- state -----------------------------------------------------------------------------------------------


@dataclass
class JobFault:
    mode: str
    reason: str = "Deployment failed (injected by the sandbox)"
    count: int = 1
    app_id: str | None = None
    branch: str | None = None
    seconds: float = RUNNING_SECONDS * 10
    fired: int = 0
    id: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobFault:
        unknown = set(data) - {"mode", "reason", "count", "app_id", "branch", "seconds"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        mode = str(data.get("mode") or "")
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}, got {mode!r}")
        count = int(data.get("count", 1))
        if count < 1:
            raise ValueError(f"count must be 1 or more, got {count}")
        fault = cls(mode=mode, count=count, app_id=data.get("app_id"), branch=data.get("branch"))
        if data.get("reason"):
            fault.reason = str(data["reason"])
        if data.get("seconds") is not None:
            fault.seconds = float(data["seconds"])
        return fault

    def applies(self, app_id: str, branch: str) -> bool:
        return self.fired < self.count and self.app_id in (None, app_id) and self.branch in (None, branch)


@dataclass
class Job:
    app_id: str
    branch: str
    job_id: str
    arn: str
    job_type: str
    status: str
    created: float
    source_url: str | None = None
    source_url_type: str | None = None
    upload_token: str | None = None
    started: float | None = None  # entered PENDING
    running: float | None = None
    ended: float | None = None
    cancel_requested: float | None = None
    fault: str | None = None
    fault_reason: str | None = None
    run_seconds: float = RUNNING_SECONDS
    status_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "jobArn": self.arn,
            "jobId": self.job_id,
            "commitId": "HEAD",
            "commitMessage": "Manual deployment" if self.job_type == "MANUAL" else "",
            "commitTime": self.created,
            "startTime": self.started or self.created,
            "status": self.status,
            "jobType": self.job_type,
        }
        if self.ended is not None:
            data["endTime"] = self.ended
        if self.source_url:
            data["sourceUrl"] = self.source_url
            data["sourceUrlType"] = self.source_url_type or "ZIP"
        return data

    def steps(self) -> list[dict[str, Any]]:
        if self.running is None:
            return []
        step: dict[str, Any] = {
            "stepName": "DEPLOY",
            "startTime": self.running,
            "status": self.status,
            "endTime": self.ended or time.time(),
            "logUrl": "",
        }
        if self.status_reason:
            step["statusReason"] = self.status_reason
        return [step]


@dataclass
class Branch:
    app_id: str
    name: str
    arn: str
    data: dict[str, Any]
    jobs: list[Job] = field(default_factory=list)
    next_job: int = 1

    def unfinished(self) -> Job | None:
        return next((job for job in reversed(self.jobs) if job.status in UNFINISHED), None)


@dataclass
class App:
    app_id: str
    region: str
    data: dict[str, Any]
    branches: dict[str, Branch] = field(default_factory=dict)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)


APP_FIELDS = (
    "name",
    "description",
    "repository",
    "platform",
    "computeRoleArn",
    "iamServiceRoleArn",
    "environmentVariables",
    "enableBranchAutoBuild",
    "enableBranchAutoDeletion",
    "enableBasicAuth",
    "basicAuthCredentials",
    "customRules",
    "buildSpec",
    "customHeaders",
    "enableAutoBranchCreation",
    "autoBranchCreationPatterns",
    "autoBranchCreationConfig",
    "jobConfig",
    "cacheConfig",
)
BRANCH_FIELDS = (
    "description",
    "framework",
    "stage",
    "enableNotification",
    "enableAutoBuild",
    "enableSkewProtection",
    "environmentVariables",
    "basicAuthCredentials",
    "enableBasicAuth",
    "enablePerformanceMode",
    "buildSpec",
    "ttl",
    "displayName",
    "enablePullRequestPreview",
    "pullRequestEnvironmentName",
    "backendEnvironmentArn",
    "backend",
    "computeRoleArn",
)
DOMAIN_FIELDS = ("enableAutoSubDomain", "autoSubDomainCreationPatterns", "autoSubDomainIAMRole")

# (method, path regex, operation): path parameters are named groups, matched against the raw path.
_SEG = r"[^/]+"
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern.replace("{", "(?P<").replace("}", f">{_SEG})") + "/?"), operation)
    for method, pattern, operation in (
        ("POST", "/apps", "CreateApp"),
        ("GET", "/apps", "ListApps"),
        ("GET", "/apps/{appId}", "GetApp"),
        ("POST", "/apps/{appId}", "UpdateApp"),
        ("DELETE", "/apps/{appId}", "DeleteApp"),
        ("POST", "/apps/{appId}/branches", "CreateBranch"),
        ("GET", "/apps/{appId}/branches", "ListBranches"),
        ("GET", "/apps/{appId}/branches/{branchName}", "GetBranch"),
        ("POST", "/apps/{appId}/branches/{branchName}", "UpdateBranch"),
        ("DELETE", "/apps/{appId}/branches/{branchName}", "DeleteBranch"),
        ("POST", "/apps/{appId}/branches/{branchName}/deployments", "CreateDeployment"),
        ("POST", "/apps/{appId}/branches/{branchName}/deployments/start", "StartDeployment"),
        ("GET", "/apps/{appId}/branches/{branchName}/jobs", "ListJobs"),
        ("GET", "/apps/{appId}/branches/{branchName}/jobs/{jobId}", "GetJob"),
        ("DELETE", "/apps/{appId}/branches/{branchName}/jobs/{jobId}/stop", "StopJob"),
        ("POST", "/apps/{appId}/domains", "CreateDomainAssociation"),
        ("GET", "/apps/{appId}/domains", "ListDomainAssociations"),
        ("GET", "/apps/{appId}/domains/{domainName}", "GetDomainAssociation"),
        ("POST", "/apps/{appId}/domains/{domainName}", "UpdateDomainAssociation"),
        ("DELETE", "/apps/{appId}/domains/{domainName}", "DeleteDomainAssociation"),
        ("POST", "/tags/{resourceArn}", "TagResource"),
        ("GET", "/tags/{resourceArn}", "ListTagsForResource"),
        ("DELETE", "/tags/{resourceArn}", "UntagResource"),
    )
)


def route(method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    for route_method, pattern, operation in ROUTES:
        if route_method == method:
            found = pattern.fullmatch(raw_path)
            if found:
                return operation, {key: unquote(value) for key, value in found.groupdict().items()}
    return None


def _region(environ: dict[str, Any]) -> str:
    parts = (environ.get("HTTP_AUTHORIZATION") or "").split("Credential=", 1)[-1].split("/")
    return parts[2] if len(parts) >= 5 else DEFAULT_REGION


def _page(items: list[Any], query: dict[str, list[str]], default: int = 100) -> tuple[list[Any], str | None]:
    try:
        start = int(query.get("nextToken", ["0"])[0] or 0)
        size = int(query.get("maxResults", [str(default)])[0] or default)
    except ValueError as err:
        raise bad_request("nextToken and maxResults must be numbers") from err
    if not 1 <= size <= 100:
        raise bad_request("maxResults must be between 1 and 100")
    page = items[start : start + size]
    return page, str(start + size) if start + size < len(items) else None


class Amplify:
    """The emulator's state and operations; thread-safe (one lock, taken before the sites' lock)."""

    def __init__(self, sites: Sites | None = None) -> None:
        self.lock = threading.RLock()
        self.apps: dict[str, App] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.uploads: dict[str, dict[str, bytes]] = {}  # token -> {"": zip} or {path: bytes}
        self.faults: list[JobFault] = []
        self._next_fault = 1
        self.sites = sites or Sites(rules=self.custom_rules, refresh=self.tick)

    # -- wiring ----------------------------------------------------------------------------------------
    def wrap(self, aws_app: WSGIApp) -> WSGIApp:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if scope_service(environ.get("HTTP_AUTHORIZATION"), query) != "amplify":
                return aws_app(environ, start_response)
            status, payload = self.handle(environ, query)
            body = json.dumps(payload).encode()
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", secrets.token_hex(16)),
            ]
            if status >= 400:
                headers.append(("x-amzn-ErrorType", payload.get("__type", "")))
            start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
            return [body]

        return app

    def handle(self, environ: dict[str, Any], query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        method = environ["REQUEST_METHOD"]
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
        raw_path = raw.split("?", 1)[0]
        found = route(method, raw_path)
        if found is None:
            return 400, {
                "__type": "BadRequestException",
                "message": f"The sandbox's Amplify emulator does not implement {method} {raw_path}",
            }
        operation, params = found
        try:
            body = json.loads(environ["wsgi.input"].read() or b"{}")
        except ValueError:
            return 400, {"__type": "BadRequestException", "message": "The request body is not valid JSON"}
        if not isinstance(body, dict):
            body = {}
        context = {
            "region": _region(environ),
            "host": environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}",
            "query": query,
        }
        try:
            with self.lock:
                self.tick()
                return 200, getattr(self, "op_" + operation)(params, body, context)
        except AmplifyError as err:
            return err.status, {"__type": err.code, "message": err.message}

    def reset(self) -> None:
        with self.lock:
            self.apps.clear()
            self.tags.clear()
            self.uploads.clear()
            self.faults.clear()
            self.sites.stop_all()

    def stop(self) -> None:
        self.sites.stop_all()

    # -- time ------------------------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> None:
        """Advance every unfinished job to where the clock says it is."""
        with self.lock:
            now = time.time() if now is None else now
            for app in list(self.apps.values()):
                for branch in list(app.branches.values()):
                    for job in branch.jobs:
                        if job.status in UNFINISHED:
                            self._advance(app, branch, job, now)

    def _advance(self, app: App, branch: Branch, job: Job, now: float) -> None:
        if job.status == "CREATED":
            if now - job.created > scaled(START_WITHIN_SECONDS):
                self._finish(
                    job,
                    "FAILED",
                    job.created + scaled(START_WITHIN_SECONDS),
                    "The deployment was not started within 8 hours of its creation",
                )
            return
        if job.status == "CANCELLING":
            if job.cancel_requested is not None and now >= job.cancel_requested + scaled(CANCELLING_SECONDS):
                self._finish(job, "CANCELLED", job.cancel_requested + scaled(CANCELLING_SECONDS), None)
            return
        pending = job.status == "PENDING" and job.fault != "stuck" and job.started is not None
        if pending and now >= job.started + scaled(PENDING_SECONDS):
            job.status, job.running = "RUNNING", job.started + scaled(PENDING_SECONDS)
        if job.status == "RUNNING" and job.running is not None:
            done_at = job.running + scaled(job.run_seconds)
            if now < done_at:
                return
            if job.fault == "fail":
                self._finish(job, "FAILED", done_at, job.fault_reason)
                return
            try:
                files = self._artifact(job)
            except ArtifactError as err:
                self._finish(job, "FAILED", done_at, str(err))
                return
            self._finish(job, "SUCCEED", done_at, None)
            self.sites.activate(
                app.app_id, app.data["name"], branch.name, Deployment(job.job_id, job.source_url, files)
            )
            app.data["updateTime"] = done_at
            if branch.data.get("stage") == "PRODUCTION":
                app.data["productionBranch"] = {
                    "branchName": branch.name,
                    "lastDeployTime": done_at,
                    "status": "SUCCEED",
                }

    def _finish(self, job: Job, status: str, at: float, reason: str | None) -> None:
        job.status, job.ended, job.status_reason = status, at, reason
        if job.running is None and status == "FAILED" and job.started is not None:
            job.running = job.started
        if job.upload_token:
            self.uploads.pop(job.upload_token, None)

    def _artifact(self, job: Job) -> dict[str, bytes]:
        if job.source_url:
            branch = self.apps[job.app_id].branches[job.branch]
            files = read_s3_artifact(job.source_url, job.source_url_type or "ZIP", branch.arn)
        else:
            upload = self.uploads.get(job.upload_token or "")
            if not upload:
                raise ArtifactError("No artifact was uploaded to the deployment's upload URL")
            files = unzip(upload[""]) if "" in upload else dict(upload)
        if not files:
            raise ArtifactError("The artifact is empty")
        return files

    # -- lookups ---------------------------------------------------------------------------------------
    def _app(self, app_id: str) -> App:
        app = self.apps.get(app_id)
        if app is None:
            raise not_found(f"App {app_id} not found.")
        return app

    def _branch(self, app_id: str, name: str) -> Branch:
        branch = self._app(app_id).branches.get(name)
        if branch is None:
            raise not_found(f"Branch {name} not found for app {app_id}.")
        return branch

    def _job(self, branch: Branch, job_id: str) -> Job:
        job = next((job for job in branch.jobs if job.job_id == job_id), None)
        if job is None:
            raise not_found(f"Job {job_id} not found for branch {branch.name}.")
        return job

    def custom_rules(self, app_id: str) -> list[dict[str, Any]]:
        with self.lock:
            app = self.apps.get(app_id)
            return list(app.data.get("customRules") or []) if app else []

    # -- apps ------------------------------------------------------------------------------------------
    def _app_view(self, app: App) -> dict[str, Any]:
        return {**app.data, "tags": dict(self.tags.get(app.data["appArn"], {}))}

    def op_CreateApp(self, params: Params, body: Body, ctx: Body) -> Body:
        name = body.get("name")
        if not name:
            raise bad_request("name is required")
        region = ctx["region"]
        if sum(1 for app in self.apps.values() if app.region == region) >= MAX_APPS:
            raise AmplifyError("LimitExceededException", f"Apps per account limit ({MAX_APPS}) reached", 429)
        app_id = "d" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(13))
        now = time.time()
        arn = f"arn:aws:amplify:{region}:{ACCOUNT_ID}:apps/{app_id}"
        data: dict[str, Any] = {
            "appId": app_id,
            "appArn": arn,
            "name": name,
            "description": "",
            "repository": "",
            "platform": "WEB",
            "createTime": now,
            "updateTime": now,
            "environmentVariables": {},
            "defaultDomain": f"{app_id}.amplifyapp.com",
            "enableBranchAutoBuild": False,
            "enableBranchAutoDeletion": False,
            "enableBasicAuth": False,
            "customRules": [],
            "enableAutoBranchCreation": False,
        }
        data.update(
            {key: body[key] for key in APP_FIELDS if key in body and key not in ("oauthToken", "accessToken")}
        )
        self.apps[app_id] = App(app_id=app_id, region=region, data=data)
        if body.get("tags"):
            self.tags[arn] = dict(body["tags"])
        return {"app": self._app_view(self.apps[app_id])}

    def op_ListApps(self, params: Params, body: Body, ctx: Body) -> Body:
        apps = [self._app_view(app) for app in self.apps.values() if app.region == ctx["region"]]
        page, token = _page(apps, ctx["query"])
        return {"apps": page, **({"nextToken": token} if token else {})}

    def op_GetApp(self, params: Params, body: Body, ctx: Body) -> Body:
        return {"app": self._app_view(self._app(params["appId"]))}

    def op_UpdateApp(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        app.data.update({key: body[key] for key in APP_FIELDS if key in body})
        app.data["updateTime"] = time.time()
        self.sites.rename(app.app_id, app.data["name"])
        return {"app": self._app_view(app)}

    def op_DeleteApp(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        del self.apps[app.app_id]
        self.tags.pop(app.data["appArn"], None)
        self.sites.remove(app.app_id)
        return {"app": self._app_view(app)}

    # -- branches --------------------------------------------------------------------------------------
    def _branch_view(self, branch: Branch) -> dict[str, Any]:
        latest = branch.jobs[-1].job_id if branch.jobs else ""
        return {
            **branch.data,
            "activeJobId": latest,
            "totalNumberOfJobs": str(len(branch.jobs)),
            "tags": dict(self.tags.get(branch.arn, {})),
        }

    def op_CreateBranch(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        name = body.get("branchName")
        if not name:
            raise bad_request("branchName is required")
        if name in app.branches:
            raise bad_request(f"Branch {name} already exists for app {app.app_id}.")
        if len(app.branches) >= MAX_BRANCHES:
            raise AmplifyError(
                "LimitExceededException", f"Branches per app limit ({MAX_BRANCHES}) reached", 429
            )
        now = time.time()
        arn = f"{app.data['appArn']}/branches/{quote(name, safe='')}"
        data: dict[str, Any] = {
            "branchArn": arn,
            "branchName": name,
            "description": "",
            "stage": "NONE",
            "displayName": name.replace("/", "-"),
            "enableNotification": False,
            "createTime": now,
            "updateTime": now,
            "environmentVariables": {},
            "enableAutoBuild": True,
            "customDomains": [],
            "framework": "",
            "enableBasicAuth": False,
            "ttl": "5",
            "enablePullRequestPreview": False,
        }
        data.update({key: body[key] for key in BRANCH_FIELDS if key in body})
        app.branches[name] = Branch(app_id=app.app_id, name=name, arn=arn, data=data)
        if body.get("tags"):
            self.tags[arn] = dict(body["tags"])
        self.sites.ensure(app.app_id, app.data["name"], name)
        return {"branch": self._branch_view(app.branches[name])}

    def op_ListBranches(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        page, token = _page([self._branch_view(b) for b in app.branches.values()], ctx["query"])
        return {"branches": page, **({"nextToken": token} if token else {})}

    def op_GetBranch(self, params: Params, body: Body, ctx: Body) -> Body:
        return {"branch": self._branch_view(self._branch(params["appId"], params["branchName"]))}

    def op_UpdateBranch(self, params: Params, body: Body, ctx: Body) -> Body:
        branch = self._branch(params["appId"], params["branchName"])
        branch.data.update({key: body[key] for key in BRANCH_FIELDS if key in body})
        branch.data["updateTime"] = time.time()
        return {"branch": self._branch_view(branch)}

    def op_DeleteBranch(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        branch = self._branch(app.app_id, params["branchName"])
        del app.branches[branch.name]
        self.tags.pop(branch.arn, None)
        self.sites.remove(app.app_id, branch.name)
        return {"branch": self._branch_view(branch)}

    # -- deployments and jobs --------------------------------------------------------------------------
    def _refuse_if_busy(self, branch: Branch, allowed: Job | None = None) -> None:
        unfinished = branch.unfinished()
        if unfinished is not None and unfinished is not allowed:
            raise bad_request(
                f"The last job {unfinished.job_id} was not finished on branch {branch.name}. "
                "Stop it or wait for it to finish, then try again."
            )

    def _new_job(self, branch: Branch, job_type: str, status: str) -> Job:
        job_id = str(branch.next_job)
        branch.next_job += 1
        job = Job(
            app_id=branch.app_id,
            branch=branch.name,
            job_id=job_id,
            arn=f"{branch.arn}/jobs/{job_id}",
            job_type=job_type,
            status=status,
            created=time.time(),
        )
        branch.jobs.append(job)
        return job

    def _start(self, branch: Branch, job: Job) -> None:
        active = sum(
            1
            for app in self.apps.values()
            for other in app.branches.values()
            for candidate in other.jobs
            if candidate.status in ACTIVE
        )
        if active >= MAX_CONCURRENT_JOBS:
            raise AmplifyError(
                "LimitExceededException", f"Concurrent jobs limit ({MAX_CONCURRENT_JOBS}) reached", 429
            )
        job.status, job.started = "PENDING", time.time()
        for fault in self.faults:
            if fault.applies(branch.app_id, branch.name):
                fault.fired += 1
                job.fault, job.fault_reason = fault.mode, fault.reason
                if fault.mode == "slow":
                    job.run_seconds = fault.seconds
                break

    def op_CreateDeployment(self, params: Params, body: Body, ctx: Body) -> Body:
        branch = self._branch(params["appId"], params["branchName"])
        self._refuse_if_busy(branch)
        job = self._new_job(branch, "MANUAL", "CREATED")
        token = secrets.token_urlsafe(16)
        job.upload_token = token
        self.uploads[token] = {}
        base = f"http://{ctx['host']}/_sandbox/amplify-upload/{token}"
        file_map = body.get("fileMap") or {}
        if file_map:
            urls = {path: f"{base}/{quote(path)}" for path in file_map}
            return {"jobId": job.job_id, "fileUploadUrls": urls, "zipUploadUrl": ""}
        return {"jobId": job.job_id, "fileUploadUrls": {}, "zipUploadUrl": base}

    def op_StartDeployment(self, params: Params, body: Body, ctx: Body) -> Body:
        branch = self._branch(params["appId"], params["branchName"])
        job_id, source_url = body.get("jobId"), body.get("sourceUrl")
        if bool(job_id) == bool(source_url):
            raise bad_request("Specify either jobId (after CreateDeployment) or sourceUrl, not both.")
        if job_id:
            job = self._job(branch, str(job_id))
            if job.status != "CREATED":
                raise bad_request(f"Job {job_id} has already been started ({job.status}).")
            self._refuse_if_busy(branch, allowed=job)
        else:
            url_type = body.get("sourceUrlType") or "ZIP"
            if url_type not in ("ZIP", "BUCKET_PREFIX"):
                raise bad_request(f"sourceUrlType must be ZIP or BUCKET_PREFIX, got {url_type}")
            try:
                parse_source_url(source_url)
            except ArtifactError as err:
                raise bad_request(str(err)) from err
            self._refuse_if_busy(branch)
            job = self._new_job(branch, "MANUAL", "CREATED")
            job.source_url, job.source_url_type = source_url, url_type
        try:
            self._start(branch, job)
        except AmplifyError:
            if not job_id:
                branch.jobs.remove(job)
                branch.next_job -= 1
            raise
        return {"jobSummary": job.summary()}

    def op_ListJobs(self, params: Params, body: Body, ctx: Body) -> Body:
        branch = self._branch(params["appId"], params["branchName"])
        summaries = [job.summary() for job in reversed(branch.jobs)]  # newest first, as AWS lists them
        page, token = _page(summaries, ctx["query"], default=50)
        return {"jobSummaries": page, **({"nextToken": token} if token else {})}

    def op_GetJob(self, params: Params, body: Body, ctx: Body) -> Body:
        job = self._job(self._branch(params["appId"], params["branchName"]), params["jobId"])
        return {"job": {"summary": job.summary(), "steps": job.steps()}}

    def op_StopJob(self, params: Params, body: Body, ctx: Body) -> Body:
        job = self._job(self._branch(params["appId"], params["branchName"]), params["jobId"])
        if job.status in ("PENDING", "PROVISIONING", "RUNNING"):
            job.status, job.cancel_requested = "CANCELLING", time.time()
        elif job.status == "CREATED":
            self._finish(job, "CANCELLED", time.time(), None)
        elif job.status != "CANCELLING":
            raise bad_request(f"Job {job.job_id} has already finished ({job.status}).")
        return {"jobSummary": job.summary()}

    # -- domains ---------------------------------------------------------------------------------------
    def _domain_view(self, app: App, domain: dict[str, Any]) -> dict[str, Any]:
        name = domain["domainName"]
        subs = [
            {
                "subDomainSetting": dict(setting),
                "verified": True,
                "dnsRecord": f"{setting.get('prefix') or ''} CNAME "
                f"{setting.get('branchName', '').replace('/', '-')}.{app.data['defaultDomain']}",
            }
            for setting in domain.get("subDomainSettings") or []
        ]
        certificate = dict(domain.get("certificateSettings") or {"type": "AMPLIFY_MANAGED"})
        verification = f"_{app.app_id}.{name}. CNAME _{app.app_id}.acm-validations.aws."
        certificate.setdefault("certificateVerificationDNSRecord", verification)
        return {
            "domainAssociationArn": domain["arn"],
            "domainName": name,
            "enableAutoSubDomain": bool(domain.get("enableAutoSubDomain")),
            "autoSubDomainCreationPatterns": list(domain.get("autoSubDomainCreationPatterns") or []),
            "autoSubDomainIAMRole": domain.get("autoSubDomainIAMRole") or "",
            "domainStatus": "AVAILABLE",
            "updateStatus": "UPDATE_COMPLETE",
            "statusReason": "",
            "certificateVerificationDNSRecord": verification,
            "subDomains": subs,
            "certificate": certificate,
        }

    def _check_subdomains(self, app: App, settings: list[dict[str, Any]]) -> None:
        for setting in settings:
            if setting.get("branchName") not in app.branches:
                raise bad_request(f"Branch {setting.get('branchName')} not found for app {app.app_id}.")

    def op_CreateDomainAssociation(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        name = body.get("domainName")
        if not name or "subDomainSettings" not in body:
            raise bad_request("domainName and subDomainSettings are required")
        if name in app.domains:
            raise bad_request(f"Domain {name} is already associated with app {app.app_id}.")
        self._check_subdomains(app, body["subDomainSettings"])
        domain = {key: body[key] for key in (*DOMAIN_FIELDS, "subDomainSettings") if key in body}
        domain["certificateSettings"] = body.get("certificateSettings")
        domain.update({"domainName": name, "arn": f"{app.data['appArn']}/domains/{name}"})
        app.domains[name] = domain
        return {"domainAssociation": self._domain_view(app, domain)}

    def _domain(self, app: App, name: str) -> dict[str, Any]:
        domain = app.domains.get(name)
        if domain is None:
            raise not_found(f"Domain {name} not found for app {app.app_id}.")
        return domain

    def op_GetDomainAssociation(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        return {"domainAssociation": self._domain_view(app, self._domain(app, params["domainName"]))}

    def op_ListDomainAssociations(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        views = [self._domain_view(app, domain) for domain in app.domains.values()]
        page, token = _page(views, ctx["query"], default=50)
        return {"domainAssociations": page, **({"nextToken": token} if token else {})}

    def op_UpdateDomainAssociation(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        domain = self._domain(app, params["domainName"])
        if "subDomainSettings" in body:
            self._check_subdomains(app, body["subDomainSettings"])
        domain.update(
            {
                key: body[key]
                for key in (*DOMAIN_FIELDS, "subDomainSettings", "certificateSettings")
                if key in body
            }
        )
        return {"domainAssociation": self._domain_view(app, domain)}

    def op_DeleteDomainAssociation(self, params: Params, body: Body, ctx: Body) -> Body:
        app = self._app(params["appId"])
        domain = self._domain(app, params["domainName"])
        view = self._domain_view(app, domain)
        del app.domains[params["domainName"]]
        return {"domainAssociation": view}

    # -- tags ------------------------------------------------------------------------------------------
    def _known_arn(self, arn: str) -> None:
        for app in self.apps.values():
            if arn == app.data["appArn"] or any(arn == branch.arn for branch in app.branches.values()):
                return
        raise not_found(f"Resource {arn} not found.")

    def op_TagResource(self, params: Params, body: Body, ctx: Body) -> Body:
        self._known_arn(params["resourceArn"])
        self.tags.setdefault(params["resourceArn"], {}).update(body.get("tags") or {})
        return {}

    def op_UntagResource(self, params: Params, body: Body, ctx: Body) -> Body:
        self._known_arn(params["resourceArn"])
        tags = self.tags.setdefault(params["resourceArn"], {})
        for key in ctx["query"].get("tagKeys", []):
            tags.pop(key, None)
        return {}

    def op_ListTagsForResource(self, params: Params, body: Body, ctx: Body) -> Body:
        self._known_arn(params["resourceArn"])
        return {"tags": dict(self.tags.get(params["resourceArn"], {}))}

    # -- admin routes ----------------------------------------------------------------------------------
    def admin(self, request: Request, route_name: str) -> Response | None:
        method = request.method
        if route_name.startswith("amplify-upload/") and method == "PUT":
            token, _, path = route_name[len("amplify-upload/") :].partition("/")
            with self.lock:
                upload = self.uploads.get(token)
                if upload is None:
                    return _json({"error": "unknown or expired upload URL"}, 403)
                upload[unquote(path)] = request.get_data()
            return Response(b"", status=200)
        if route_name == "sites" and method == "GET":
            self.tick()
            return _json(self.sites.list())
        if route_name == "amplify-faults":
            return self._admin_faults(request)
        if route_name == "amplify-jobs" and method == "GET":
            self.tick()
            with self.lock:
                jobs = [
                    {
                        "app_id": app.app_id,
                        "branch": branch.name,
                        **job.summary(),
                        "reason": job.status_reason,
                    }
                    for app in self.apps.values()
                    for branch in app.branches.values()
                    for job in branch.jobs
                ]
            return _json(jobs)
        return None

    def _admin_faults(self, request: Request) -> Response:
        with self.lock:
            if request.method == "GET":
                return _json([asdict(fault) for fault in self.faults])
            if request.method == "DELETE":
                self.faults.clear()
                return _json({"cleared": True})
            if request.method == "POST":
                data = request.get_json(silent=True)
                if not isinstance(data, dict):
                    return _json(
                        {
                            "error": 'POST a JSON object: {"mode": "fail"|"stuck"|"slow", '
                            '["reason", "count", "app_id", "branch", "seconds"]}'
                        },
                        400,
                    )
                try:
                    fault = JobFault.from_dict(data)
                except (TypeError, ValueError) as err:
                    return _json({"error": str(err)}, 400)
                fault.id, self._next_fault = self._next_fault, self._next_fault + 1
                self.faults.append(fault)
                return _json(asdict(fault), 201)
        return _json({"error": f"method {request.method} not allowed"}, 405)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")
