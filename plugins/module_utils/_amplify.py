# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Manual deployments of a built web client to an Amplify Hosting branch, from immutable artifacts.

Plain Python, no Ansible: ``plugins/modules/amplify_release.py`` is a thin shell over :func:`release`.

- :func:`pack` turns a build directory or zip into a deterministic zip: the same files give the same
  bytes and the same SHA-256, whatever their timestamps, permissions or order on disk.
- The zip is stored once, write-once, at ``s3://<release_bucket>/<release_prefix>/<sha256>.zip``; the
  branch is deployed from that URL (``StartDeployment`` with ``sourceUrl``), so every release stays
  addressable and a rollback is a deployment of an earlier URL.
- A branch whose newest successful job deployed that URL is left alone (``changed=false``). A job of the
  same URL still running is followed, not duplicated.
- Amplify refuses a deployment while the branch's last job is unfinished: that job is waited for, or
  stopped when it has sat in PENDING longer than ``stuck_job_timeout``.

Functions take boto3 clients (``amplify``, ``s3``) and a ``check_mode`` flag and raise
:class:`AmplifyReleaseError` with a message that says what to do next; botocore's errors pass through.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.macroai.deploy.plugins.module_utils._errors import ModuleError
from ansible_collections.macroai.deploy.plugins.module_utils._module import AsDict
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import (
    SYSTEM_CLOCK,
    Clock,
    Outcome,
    Step,
    WaitTimeout,
    follow,
    wait_until,
)
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitSettings as _WaitSettings

INDEX = "index.html"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
FILE_ATTRIBUTES = (stat.S_IFREG | 0o644) << 16
UNIX = 3  # zip "made by" system
COMPRESS_LEVEL = 6
UNFINISHED: frozenset[str] = frozenset({"CREATED", "PENDING", "PROVISIONING", "RUNNING", "CANCELLING"})
JOB_PAGES = 5  # pages of ListJobs (50 jobs each) searched for the live artifact


class AmplifyReleaseError(ModuleError):
    """A release cannot go on, or ended badly; ``message`` says what to do, ``details`` go to the result."""


@dataclass(frozen=True)
class Artifact:
    data: bytes
    sha256: str
    file_count: int

    @property
    def size(self) -> int:
        return len(self.data)


def _clean_name(name: str) -> str | None:
    """A zip entry's path relative to the site root, or None for entries to drop (directories)."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    if not name or name.endswith("/"):
        return None
    if ".." in name.split("/"):
        raise AmplifyReleaseError(f"source: the zip holds an unsafe path {name!r}; rebuild it without '..'")
    return name


def directory_files(root: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                with open(path, "rb") as handle:
                    files[relative] = handle.read()
            except OSError as err:
                raise AmplifyReleaseError(
                    f"source: cannot read {path} ({err.strerror}); fix or remove it and run again"
                ) from err
    return files


def zip_files(path: str) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            files = {}
            for info in archive.infolist():
                name = _clean_name(info.filename)
                if name is not None:
                    files[name] = archive.read(info)
            return files
    except (zipfile.BadZipFile, OSError) as err:
        raise AmplifyReleaseError(
            f"source: {path} is not a readable zip file ({err}); give the build directory or a valid zip"
        ) from err


def read_source(source: str) -> dict[str, bytes]:
    """The site's files from a directory or a zip, validated before anything is uploaded."""
    if not source:
        raise AmplifyReleaseError("source: no build given; set source to the client's build directory or zip")
    if not os.path.exists(source):
        raise AmplifyReleaseError(
            f"source: {source} does not exist; build the client first (for example `npm run build`) "
            "and point source at its output directory"
        )
    if os.path.isdir(source):
        files = directory_files(source)
        kind = "directory"
    else:
        files = zip_files(source)
        kind = "zip"
    if not files:
        raise AmplifyReleaseError(f"source: the {kind} {source} is empty; build the client into it first")
    if INDEX not in files:
        nested = sorted(name for name in files if name.endswith("/" + INDEX))
        hint = (
            f" (there is {nested[0]}: point source at {nested[0].rsplit('/', 1)[0]} inside it instead)"
            if nested
            else ""
        )
        raise AmplifyReleaseError(
            f"source: the {kind} {source} has no {INDEX} at its top level{hint}; Amplify serves {INDEX} "
            "from the artifact's root"
        )
    return files


def pack_files(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` that depends on names and contents only: sorted entries, one timestamp
    (1980-01-01), one mode (0644), no directory entries, fixed compression."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = FILE_ATTRIBUTES
            info.create_system = UNIX
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def pack(source: str) -> Artifact:
    files = read_source(source)
    data = pack_files(files)
    return Artifact(data=data, sha256=hashlib.sha256(data).hexdigest(), file_count=len(files))


def artifact_key(prefix: str | None, sha256: str) -> str:
    prefix = (prefix or "").strip("/")
    return f"{prefix}/{sha256}.zip" if prefix else f"{sha256}.zip"


def parse_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url or "")
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or not key:
        raise AmplifyReleaseError(
            f"artifact_url: {url!r} is not an S3 object URL; give a recorded artifact such as "
            "s3://my-releases/client/<sha256>.zip (the artifact_url of an earlier release)"
        )
    return parsed.netloc, key


def sha256_from_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    stem = name[: -len(".zip")] if name.endswith(".zip") else name
    return stem if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem) else None


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except is_boto3_error_code(["404", "NoSuchKey", "NotFound"]):
        return None


def find_app(amplify: Any, app_name: str | None, app_id: str | None) -> dict[str, Any]:
    if app_id:
        try:
            return amplify.get_app(appId=app_id)["app"]
        except is_boto3_error_code("NotFoundException") as err:
            raise AmplifyReleaseError(
                f"app_id: there is no Amplify app {app_id} in this region; check app_id and the region, "
                "or create the app first (roles/edge)"
            ) from err
    found: list[dict[str, Any]] = []
    token = None
    for _page in range(20):
        page = amplify.list_apps(maxResults=100, **({"nextToken": token} if token else {}))
        found += [app for app in page.get("apps", []) if app.get("name") == app_name]
        token = page.get("nextToken")
        if not token:
            break
    if not found:
        raise AmplifyReleaseError(
            f"app_name: there is no Amplify app named {app_name!r} in this region; check the name and the "
            "region, or create the app first (roles/edge)"
        )
    if len(found) > 1:
        ids = ", ".join(sorted(app["appId"] for app in found))
        raise AmplifyReleaseError(
            f"app_name: {len(found)} Amplify apps are named {app_name!r} ({ids}); give app_id instead"
        )
    return found[0]


def get_branch(amplify: Any, app: Mapping[str, Any], branch: str) -> dict[str, Any]:
    try:
        return amplify.get_branch(appId=app["appId"], branchName=branch)["branch"]
    except is_boto3_error_code("NotFoundException") as err:
        raise AmplifyReleaseError(
            f"branch: app {app.get('name')} ({app['appId']}) has no branch {branch!r}; create it first "
            "(roles/edge) or check the name"
        ) from err


def recent_jobs(amplify: Any, app_id: str, branch: str, pages: int = JOB_PAGES) -> list[dict[str, Any]]:
    """Job summaries, newest first, until a successful one is found (or ``pages`` pages)."""
    jobs: list[dict[str, Any]] = []
    token = None
    for _page in range(pages):
        kwargs: dict[str, Any] = {"appId": app_id, "branchName": branch, "maxResults": 50}
        if token:
            kwargs["nextToken"] = token
        page = amplify.list_jobs(**kwargs)
        jobs += page.get("jobSummaries", [])
        token = page.get("nextToken")
        if not token or any(job.get("status") == "SUCCEED" for job in jobs):
            break
    return sorted(jobs, key=lambda job: int(job["jobId"]) if str(job["jobId"]).isdigit() else 0, reverse=True)


def live_job(jobs: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest successful job: its artifact is what the branch serves."""
    return next((job for job in jobs if job.get("status") == "SUCCEED"), None)


def unfinished_job(jobs: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((job for job in jobs if job.get("status") in UNFINISHED), None)


def site_url(app: Mapping[str, Any], branch: str) -> str | None:
    domain = app.get("defaultDomain")
    return f"https://{branch.replace('/', '-')}.{domain}" if domain else None


@dataclass(frozen=True)
class WaitSettings(_WaitSettings):
    """How long to follow a job, and after how long in PENDING another release's job counts as stuck."""

    timeout: float = 600
    interval: float = 5
    stuck_job_timeout: float = 600


@dataclass(frozen=True)
class ReleaseRequest:
    branch: str
    app_name: str | None = None
    app_id: str | None = None
    source: str | None = None
    artifact_url: str | None = None
    release_bucket: str | None = None
    release_prefix: str = "releases"
    wait: WaitSettings = WaitSettings()


@dataclass
class JobOutcome(Outcome):
    job_id: str = ""
    reason: str | None = None
    source_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "status": self.status,
            "reason": self.reason,
            "source_url": self.source_url,
            "elapsed_s": self.elapsed_s,
            "timed_out": self.timed_out,
        }


@dataclass
class Plan(AsDict):
    upload: bool = False
    deploy: bool = False
    follow_job: str | None = None
    wait_for_jobs: list[str] = field(default_factory=list)
    stop_jobs: list[str] = field(default_factory=list)


@dataclass
class ReleaseResult:
    plan: Plan
    app_id: str | None = None
    app_name: str | None = None
    branch: str | None = None
    artifact_url: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    file_count: int | None = None
    previous_artifact_url: str | None = None
    previous_job_id: str | None = None
    job: JobOutcome | None = None
    site_url: str | None = None

    @property
    def changed(self) -> bool:
        plan = self.plan
        followed_change = plan.follow_job is not None and self.previous_artifact_url != self.artifact_url
        return bool(plan.upload or plan.deploy or plan.stop_jobs or followed_change)

    def diff(self) -> dict[str, Any]:
        before = {"artifact_url": self.previous_artifact_url, "job_id": self.previous_job_id}
        deploys = self.plan.deploy or self.plan.follow_job
        after = {
            "artifact_url": self.artifact_url if deploys else self.previous_artifact_url,
            "job_id": (self.job.job_id if self.job else None) if deploys else self.previous_job_id,
        }
        return {"before": before, "after": after}

    def as_dict(self) -> dict[str, Any]:
        job = self.job
        return {
            "changed": self.changed,
            "plan": self.plan.as_dict(),
            "app_id": self.app_id,
            "app_name": self.app_name,
            "branch": self.branch,
            "artifact_url": self.artifact_url,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "file_count": self.file_count,
            "previous_artifact_url": self.previous_artifact_url,
            "job_id": job.job_id if job else None,
            "job": job.as_dict() if job else None,
            "steps": [step.as_dict() for step in job.steps] if job else [],
            "site_url": self.site_url,
        }


def get_job(amplify: Any, app_id: str, branch: str, job_id: str) -> dict[str, Any]:
    return amplify.get_job(appId=app_id, branchName=branch, jobId=job_id)["job"]


def job_reason(job: Mapping[str, Any]) -> str | None:
    reasons = [step.get("statusReason") for step in job.get("steps") or [] if step.get("statusReason")]
    return "; ".join(dict.fromkeys(reasons)) or None


def current_step(job: Mapping[str, Any]) -> str | None:
    steps = job.get("steps") or []
    return steps[-1].get("stepName") if steps else None


def wait_for_job(
    amplify: Any,
    app_id: str,
    branch: str,
    job_id: str,
    settings: WaitSettings,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> JobOutcome:
    """Poll GetJob until the job ends or the timeout; record each change of status or step.

    A timeout is not an error here: the outcome says ``timed_out`` and the caller decides.
    """
    followed = follow(
        lambda: get_job(amplify, app_id, branch, job_id),
        lambda job: {
            "status": (job.get("summary") or {}).get("status") or "UNKNOWN",
            "step": current_step(job),
        },
        lambda job: (job.get("summary") or {}).get("status") not in UNFINISHED,
        settings,
        clock,
        progress,
    )
    last = followed.last or {}
    summary = last.get("summary") or {}
    return JobOutcome(
        job_id=job_id,
        status=summary.get("status"),
        reason=job_reason(last),
        source_url=summary.get("sourceUrl"),
        steps=followed.steps,
        elapsed_s=followed.elapsed_s,
        timed_out=followed.timed_out,
    )


def _age_seconds(summary: Mapping[str, Any], clock: Clock) -> float:
    started = summary.get("startTime")
    if not isinstance(started, datetime.datetime):
        return 0.0
    if started.tzinfo is None:
        started = started.replace(tzinfo=datetime.timezone.utc)  # noqa: UP017 (Python 3.8 nodes)
    return max((clock.now() - started).total_seconds(), 0.0)


def is_stuck(summary: Mapping[str, Any], settings: WaitSettings, clock: Clock) -> bool:
    return (
        settings.stuck_job_timeout > 0
        and summary.get("status") == "PENDING"
        and _age_seconds(summary, clock) > settings.stuck_job_timeout
    )


def clear_unfinished(
    amplify: Any,
    app_id: str,
    branch: str,
    blocking: Mapping[str, Any],
    settings: WaitSettings,
    plan: Plan,
    clock: Clock,
) -> None:
    """Wait for another release's unfinished job to end; stop it if it sits in PENDING too long."""
    job_id = str(blocking["jobId"])
    plan.wait_for_jobs.append(job_id)

    def settled(job: Mapping[str, Any]) -> bool:
        summary = job.get("summary") or {}
        return summary.get("status") not in UNFINISHED or is_stuck(summary, settings, clock)

    try:
        seen = wait_until(
            lambda: get_job(amplify, app_id, branch, job_id),
            settled,
            timeout=settings.timeout,
            interval=settings.interval,
            clock=clock.monotonic,
            sleep=clock.sleep,
        ).value
    except WaitTimeout as err:
        status = ((err.last or {}).get("summary") or {}).get("status")  # type: ignore[union-attr]
        raise AmplifyReleaseError(
            f"branch {branch}: job {job_id} of an earlier release is still {status} after "
            f"{err.elapsed:.0f}s, "
            "and Amplify runs one job per branch at a time. Wait for it and run again, lower "
            f"stuck_job_timeout (now {settings.stuck_job_timeout:g}s) to stop it sooner if it is PENDING, or "
            f"stop it: aws amplify stop-job --app-id {app_id} --branch-name {branch} --job-id {job_id}",
            blocking_job={"id": job_id, "status": status},
        ) from err
    if (seen.get("summary") or {}).get("status") != "PENDING":
        return
    plan.stop_jobs.append(job_id)
    amplify.stop_job(appId=app_id, branchName=branch, jobId=job_id)
    try:
        wait_until(
            lambda: get_job(amplify, app_id, branch, job_id),
            lambda job: (job.get("summary") or {}).get("status") not in UNFINISHED,
            timeout=settings.timeout,
            interval=settings.interval,
            clock=clock.monotonic,
            sleep=clock.sleep,
        )
    except WaitTimeout as err:
        raise AmplifyReleaseError(
            f"branch {branch}: job {job_id} was stuck in PENDING and was stopped, but it has not ended after "
            f"{err.elapsed:.0f}s; check it in the Amplify console and run again"
        ) from err


def validate_request(request: ReleaseRequest) -> Artifact | None:
    """Everything that can be checked without AWS; the packed artifact when ``source`` is given."""
    if request.wait.timeout <= 0 or request.wait.interval <= 0:
        raise AmplifyReleaseError("wait_timeout and poll_interval must be greater than 0")
    if request.wait.stuck_job_timeout < 0:
        raise AmplifyReleaseError("stuck_job_timeout must be 0 (never stop a job) or more")
    if request.artifact_url:
        parse_s3_url(request.artifact_url)
        return None
    if not request.release_bucket:
        raise AmplifyReleaseError("release_bucket: required with source; name the bucket that keeps releases")
    return pack(request.source or "")


def _store(
    s3: Any, request: ReleaseRequest, artifact: Artifact, check_mode: bool, result: ReleaseResult
) -> None:
    bucket = request.release_bucket or ""
    key = artifact_key(request.release_prefix, artifact.sha256)
    result.artifact_url = f"s3://{bucket}/{key}"
    existing = head_object(s3, bucket, key)
    if existing is not None:
        recorded = (existing.get("Metadata") or {}).get("sha256")
        if existing.get("ContentLength") != artifact.size or recorded not in (None, artifact.sha256):
            raise AmplifyReleaseError(
                f"{result.artifact_url} already exists with other content "
                f"(size {existing.get('ContentLength')}, sha256 {recorded}); release artifacts are "
                "write-once and this one is never overwritten. Find out who wrote it, or use another "
                "release_prefix"
            )
        return
    result.plan.upload = True
    if not check_mode:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=artifact.data,
            ContentType="application/zip",
            Metadata={"sha256": artifact.sha256},
        )


def _recorded(s3: Any, url: str, result: ReleaseResult) -> None:
    bucket, key = parse_s3_url(url)
    existing = head_object(s3, bucket, key)
    if existing is None:
        raise AmplifyReleaseError(
            f"artifact_url: there is no object at {url}; give the artifact_url of an earlier release as the "
            "ledger recorded it (release artifacts are never deleted by this module)"
        )
    result.artifact_url = url
    result.sha256 = (existing.get("Metadata") or {}).get("sha256") or sha256_from_key(key)
    result.size_bytes = existing.get("ContentLength")


def _failure_message(result: ReleaseResult, outcome: JobOutcome, app_label: str) -> str:
    serving = result.previous_artifact_url or "nothing deployed before"
    where = f"branch {result.branch} of app {app_label}"
    if outcome.timed_out:
        return (
            f"Amplify job {outcome.job_id} on {where} is still {outcome.status} after "
            f"{outcome.elapsed_s:.0f}s; "
            "Amplify carries on. Run the task again with the same input to wait for the same job (no new job "
            "is started), or raise wait_timeout."
        )
    if outcome.status == "CANCELLED":
        return (
            f"Amplify job {outcome.job_id} on {where} was cancelled before it finished (someone stopped it); "
            f"the site still serves {serving}. Run the task again to deploy {result.artifact_url}."
        )
    return (
        f"Amplify job {outcome.job_id} on {where} failed: {outcome.reason or 'no reason given'}. The site "
        f"still serves {serving}. Check the artifact {result.artifact_url} ({INDEX} at its root) and that "
        "the release bucket's policy lets amplify.amazonaws.com read it, then run again; to go back, deploy "
        "an earlier release with artifact_url."
    )


def release(
    amplify: Any,
    s3: Any,
    request: ReleaseRequest,
    check_mode: bool,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> ReleaseResult:
    """Make ``request``'s artifact the one the branch serves; see the module's documentation."""
    artifact = validate_request(request)  # before any AWS call: bad input fails without side effects
    result = ReleaseResult(plan=Plan(), branch=request.branch)
    app = find_app(amplify, request.app_name, request.app_id)
    app_id = app["appId"]
    result.app_id, result.app_name = app_id, app.get("name")
    get_branch(amplify, app, request.branch)
    result.site_url = site_url(app, request.branch)
    if artifact is not None:
        result.sha256, result.size_bytes, result.file_count = (
            artifact.sha256,
            artifact.size,
            artifact.file_count,
        )
        _store(s3, request, artifact, check_mode, result)
    else:
        _recorded(s3, request.artifact_url or "", result)
    target = result.artifact_url

    jobs = recent_jobs(amplify, app_id, request.branch)
    live = live_job(jobs)
    if live is not None:
        result.previous_artifact_url, result.previous_job_id = live.get("sourceUrl"), str(live["jobId"])

    job_id: str | None = None
    for _attempt in range(3):
        blocking = unfinished_job(jobs)
        stuck = blocking is not None and is_stuck(blocking, request.wait, clock)
        if blocking is not None and blocking.get("sourceUrl") == target and not stuck:
            job_id = result.plan.follow_job = str(blocking["jobId"])
            break
        if blocking is not None:
            if check_mode:
                (result.plan.stop_jobs if stuck else result.plan.wait_for_jobs).append(str(blocking["jobId"]))
                result.plan.deploy = True
                break
            clear_unfinished(amplify, app_id, request.branch, blocking, request.wait, result.plan, clock)
            jobs = recent_jobs(amplify, app_id, request.branch)
            continue
        live = live_job(jobs)
        if live is not None and live.get("sourceUrl") == target:
            break
        result.plan.deploy = True
        if check_mode:
            break
        try:
            started = amplify.start_deployment(
                appId=app_id, branchName=request.branch, sourceUrl=target, sourceUrlType="ZIP"
            )
        except is_boto3_error_code("BadRequestException") as err:
            if "not finished" not in str(err):
                raise
            jobs = recent_jobs(amplify, app_id, request.branch)  # another release started one meanwhile
            continue
        job_id = str(started["jobSummary"]["jobId"])
        break
    else:
        raise AmplifyReleaseError(
            f"branch {request.branch}: other releases kept starting jobs on it; run again when they are done"
        )

    if job_id is None:
        return result
    result.job = JobOutcome(job_id=job_id, source_url=target)
    if check_mode:  # following a job of this artifact already running: predicted, not waited for
        return result
    if not request.wait.wait:
        summary = get_job(amplify, app_id, request.branch, job_id).get("summary") or {}
        result.job.status = summary.get("status")
        return result
    result.job = wait_for_job(amplify, app_id, request.branch, job_id, request.wait, clock, progress)
    if result.job.timed_out or result.job.status != "SUCCEED":
        label = f"{result.app_name} ({app_id})"
        raise AmplifyReleaseError(_failure_message(result, result.job, label), **result.as_dict())
    return result
