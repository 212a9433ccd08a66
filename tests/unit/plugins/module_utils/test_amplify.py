"""_amplify: deterministic packing, source validation, and the release logic over fake Amplify and S3."""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._amplify import (
    AmplifyReleaseError,
    ReleaseRequest,
    WaitSettings,
    artifact_key,
    pack,
    parse_s3_url,
    release,
    sha256_from_key,
)
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import Clock
from botocore.exceptions import ClientError

NOW = datetime.datetime(2026, 5, 1, 10, 0, tzinfo=datetime.UTC)


def write_site(root: Path, version: str = "v1") -> Path:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<html>app</html>")
    (root / "version.json").write_text(f'{{"version": "{version}"}}')
    (root / "assets" / "app.js").write_text("console.log(1)")
    return root


def test_same_content_same_bytes(tmp_path: Path) -> None:
    first = pack(str(write_site(tmp_path / "a")))
    second = pack(str(write_site(tmp_path / "a")))
    assert first.data == second.data and first.sha256 == second.sha256
    assert first.sha256 == hashlib.sha256(first.data).hexdigest()
    assert first.file_count == 3


def test_timestamps_permissions_and_place_do_not_matter(tmp_path: Path) -> None:
    one = write_site(tmp_path / "one")
    other = write_site(tmp_path / "elsewhere" / "two")
    for path in other.rglob("*"):
        os.utime(path, (1_600_000_000, 1_600_000_000))
    os.chmod(other / "index.html", 0o600)
    assert pack(str(one)).data == pack(str(other)).data


def test_different_content_different_checksum(tmp_path: Path) -> None:
    assert (
        pack(str(write_site(tmp_path / "a", "v1"))).sha256
        != pack(str(write_site(tmp_path / "b", "v2"))).sha256
    )


def test_entries_are_sorted_files_with_fixed_metadata(tmp_path: Path) -> None:
    artifact = pack(str(write_site(tmp_path / "a")))
    with zipfile.ZipFile(io.BytesIO(artifact.data)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ["assets/app.js", "index.html", "version.json"]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 & 0o777 for info in infos} == {0o644}


def test_a_zip_source_is_repacked_to_the_same_bytes(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site")
    archive_path = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:  # other order, a directory entry, "./" names
        archive.writestr("./version.json", (site / "version.json").read_text())
        archive.writestr("assets/", "")
        archive.writestr("assets/app.js", (site / "assets" / "app.js").read_text())
        archive.writestr("index.html", (site / "index.html").read_text())
    assert pack(str(archive_path)).data == pack(str(site)).data


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("no-index", "no index.html at its top level"),
        ("nested", "point source at build inside it"),
        ("bad-zip", "not a readable zip"),
    ],
)
def test_source_validation_names_the_option(tmp_path: Path, case: str, expected: str) -> None:
    source = tmp_path / "dist"
    if case in ("empty", "no-index", "nested"):
        source.mkdir()
    if case == "no-index":
        (source / "app.js").write_text("x")
    if case == "nested":
        write_site(source / "build")
    if case == "bad-zip":
        source = tmp_path / "dist.zip"
        source.write_bytes(b"not a zip")
    with pytest.raises(AmplifyReleaseError) as err:
        pack(str(source))
    assert err.value.message.startswith("source:") and expected in err.value.message


def test_locations() -> None:
    sha = "a" * 64
    assert artifact_key("client/", sha) == f"client/{sha}.zip"
    assert artifact_key("", sha) == f"{sha}.zip"
    assert parse_s3_url(f"s3://bucket/client/{sha}.zip") == ("bucket", f"client/{sha}.zip")
    assert sha256_from_key(f"client/{sha}.zip") == sha and sha256_from_key("client/x.zip") is None
    with pytest.raises(AmplifyReleaseError, match="^artifact_url:"):
        parse_s3_url("https://example.com/x.zip")


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}, "Op")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def now(self) -> datetime.datetime:
        return NOW + datetime.timedelta(seconds=self.t)

    def clock(self) -> Clock:
        return Clock(monotonic=self.monotonic, sleep=self.sleep, now=self.now)


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.writes: list[str] = []

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise client_error("404", "Not Found", 404)
        data = self.objects[(Bucket, Key)]
        return {"ContentLength": len(data), "Metadata": {"sha256": hashlib.sha256(data).hexdigest()}}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **kwargs: Any) -> dict[str, Any]:
        self.writes.append(Key)
        self.objects[(Bucket, Key)] = Body
        return {}


class FakeAmplify:
    """One app, one branch; a job goes PENDING -> RUNNING -> outcome as GetJob is called ``polls`` times."""

    def __init__(self, clock: FakeClock, outcome: str = "SUCCEED", polls: int = 2) -> None:
        self.clock, self.outcome, self.polls = clock, outcome, polls
        self.jobs: list[dict[str, Any]] = []
        self.reads: dict[str, int] = {}
        self.writes: list[str] = []
        self.stuck: set[str] = set()

    def list_apps(self, **kwargs: Any) -> dict[str, Any]:
        return {"apps": [{"appId": "dapp", "name": "web", "defaultDomain": "dapp.amplifyapp.com"}]}

    def get_app(self, appId: str) -> dict[str, Any]:
        if appId != "dapp":
            raise client_error("NotFoundException", "App not found", 404)
        return {"app": self.list_apps()["apps"][0]}

    def get_branch(self, appId: str, branchName: str) -> dict[str, Any]:
        if branchName != "main":
            raise client_error("NotFoundException", "Branch not found", 404)
        return {"branch": {"branchName": "main"}}

    def list_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return {"jobSummaries": [dict(job) for job in reversed(self.jobs)]}

    def add_job(self, source_url: str, status: str = "SUCCEED", age_s: float = 0.0) -> str:
        job_id = str(len(self.jobs) + 1)
        started = self.clock.now() - datetime.timedelta(seconds=age_s)
        self.jobs.append({"jobId": job_id, "status": status, "sourceUrl": source_url, "startTime": started})
        return job_id

    def start_deployment(
        self, appId: str, branchName: str, sourceUrl: str, sourceUrlType: str
    ) -> dict[str, Any]:
        if any(job["status"] in ("PENDING", "RUNNING") for job in self.jobs):
            raise client_error("BadRequestException", "The last job 1 was not finished.")
        self.writes.append(f"start {sourceUrl}")
        return {"jobSummary": {"jobId": self.add_job(sourceUrl, "PENDING")}}

    def stop_job(self, appId: str, branchName: str, jobId: str) -> dict[str, Any]:
        self.writes.append(f"stop {jobId}")
        self.job(jobId)["status"] = "CANCELLED"
        return {}

    def job(self, job_id: str) -> dict[str, Any]:
        return next(job for job in self.jobs if job["jobId"] == job_id)

    def get_job(self, appId: str, branchName: str, jobId: str) -> dict[str, Any]:
        job = self.job(jobId)
        count = self.reads[jobId] = self.reads.get(jobId, 0) + 1
        if job["status"] in ("PENDING", "RUNNING") and jobId not in self.stuck:
            job["status"] = "RUNNING" if count < self.polls else self.outcome
        steps = [] if job["status"] == "PENDING" else [{"stepName": "DEPLOY", "status": job["status"]}]
        if job["status"] == "FAILED":
            steps[0]["statusReason"] = "Access denied to the artifact"
        return {"job": {"summary": dict(job), "steps": steps}}


@pytest.fixture
def fakes() -> tuple[FakeClock, FakeAmplify, FakeS3]:
    clock = FakeClock()
    return clock, FakeAmplify(clock), FakeS3()


def request_for(source: Path | None = None, **overrides: Any) -> ReleaseRequest:
    values: dict[str, Any] = {
        "branch": "main",
        "app_name": "web",
        "source": str(source) if source else None,
        "release_bucket": "releases",
        "release_prefix": "client",
        "wait": WaitSettings(timeout=60, interval=1, stuck_job_timeout=30),
    }
    values.update(overrides)
    return ReleaseRequest(**values)


def test_release_then_same_artifact_is_unchanged(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    source = write_site(tmp_path / "v1")
    result = release(amplify, s3, request_for(source), False, clock.clock())
    assert result.changed and result.plan.upload and result.plan.deploy
    assert result.job.status == "SUCCEED" and [s.status for s in result.job.steps] == ["RUNNING", "SUCCEED"]
    assert result.artifact_url == f"s3://releases/client/{result.sha256}.zip"
    again = release(amplify, s3, request_for(source), False, clock.clock())
    assert not again.changed and again.job is None
    assert again.previous_artifact_url == result.artifact_url
    assert len(s3.writes) == 1 and len(amplify.writes) == 1


def test_check_mode_writes_nothing(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    result = release(amplify, s3, request_for(write_site(tmp_path / "v1")), True, clock.clock())
    assert result.changed and result.plan.upload and result.plan.deploy and result.job is None
    assert s3.writes == [] and amplify.writes == []


def test_existing_object_is_never_overwritten(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    source = write_site(tmp_path / "v1")
    artifact = pack(str(source))
    s3.objects[("releases", artifact_key("client", artifact.sha256))] = b"something else"
    with pytest.raises(AmplifyReleaseError, match="write-once"):
        release(amplify, s3, request_for(source), False, clock.clock())
    assert s3.writes == []


def test_rollback_deploys_the_recorded_artifact(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    v1 = release(amplify, s3, request_for(write_site(tmp_path / "v1", "v1")), False, clock.clock())
    release(amplify, s3, request_for(write_site(tmp_path / "v2", "v2")), False, clock.clock())
    back = release(
        amplify, s3, request_for(artifact_url=v1.artifact_url, release_bucket=None), False, clock.clock()
    )
    assert back.changed and not back.plan.upload and back.sha256 == v1.sha256
    assert amplify.writes[-1] == f"start {v1.artifact_url}"


def test_rollback_to_a_missing_artifact_fails(fakes: Any) -> None:
    clock, amplify, s3 = fakes
    missing = request_for(artifact_url=f"s3://releases/client/{'0' * 64}.zip", release_bucket=None)
    with pytest.raises(AmplifyReleaseError, match="^artifact_url: there is no object"):
        release(amplify, s3, missing, False, clock.clock())


def test_failed_job_reports_its_reason_and_what_is_served(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    amplify.add_job("s3://releases/client/old.zip")
    amplify.outcome = "FAILED"
    with pytest.raises(AmplifyReleaseError) as err:
        release(amplify, s3, request_for(write_site(tmp_path / "v1")), False, clock.clock())
    assert "Access denied to the artifact" in err.value.message
    assert "still serves s3://releases/client/old.zip" in err.value.message
    assert err.value.details["job"]["status"] == "FAILED"


def test_waits_for_another_release_job(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    other = amplify.add_job("s3://releases/client/other.zip", "RUNNING")
    result = release(amplify, s3, request_for(write_site(tmp_path / "v1")), False, clock.clock())
    assert result.plan.wait_for_jobs == [other] and result.plan.stop_jobs == []
    assert result.job.status == "SUCCEED"


def test_stops_a_job_stuck_in_pending(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    stuck = amplify.add_job("s3://releases/client/other.zip", "PENDING", age_s=5)
    amplify.stuck.add(stuck)
    result = release(amplify, s3, request_for(write_site(tmp_path / "v1")), False, clock.clock())
    assert result.plan.stop_jobs == [stuck]
    assert amplify.job(stuck)["status"] == "CANCELLED" and result.job.status == "SUCCEED"
    assert clock.t >= 25  # it waited until the job had been PENDING for stuck_job_timeout (30 s)


def test_check_mode_predicts_stopping_a_stuck_job(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    stuck = amplify.add_job("s3://releases/client/other.zip", "PENDING", age_s=300)
    result = release(amplify, s3, request_for(write_site(tmp_path / "v1")), True, clock.clock())
    assert result.plan.stop_jobs == [stuck] and result.plan.deploy and amplify.writes == []


def test_follows_a_running_job_of_the_same_artifact(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    source = write_site(tmp_path / "v1")
    url = f"s3://releases/client/{pack(str(source)).sha256}.zip"
    running = amplify.add_job(url, "RUNNING")
    result = release(amplify, s3, request_for(source), False, clock.clock())
    assert result.plan.follow_job == running and not result.plan.deploy and amplify.writes == []
    assert result.changed  # the branch now serves another artifact than before the run


def test_stuck_job_with_timeout_zero_is_never_stopped(tmp_path: Path, fakes: Any) -> None:
    clock, amplify, s3 = fakes
    stuck = amplify.add_job("s3://releases/client/other.zip", "PENDING", age_s=3600)
    amplify.stuck.add(stuck)
    waits = WaitSettings(timeout=10, interval=1, stuck_job_timeout=0)
    with pytest.raises(AmplifyReleaseError, match="stop-job"):
        release(amplify, s3, request_for(write_site(tmp_path / "v1"), wait=waits), False, clock.clock())
    assert amplify.writes == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"app_name": None, "app_id": "dnope"}, "^app_id: there is no Amplify app"),
        ({"app_name": "nope"}, "^app_name: there is no Amplify app named"),
        ({"branch": "dev"}, "^branch: app web"),
        ({"release_bucket": None}, "^release_bucket: required"),
    ],
)
def test_lookup_errors_say_what_to_do(tmp_path: Path, fakes: Any, overrides: dict, message: str) -> None:
    clock, amplify, s3 = fakes
    with pytest.raises(AmplifyReleaseError, match=message):
        release(amplify, s3, request_for(write_site(tmp_path / "v1"), **overrides), False, clock.clock())
    assert s3.writes == []
