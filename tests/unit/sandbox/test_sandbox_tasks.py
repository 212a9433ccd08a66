"""sandbox.dataplane.tasks: image tags, task faults, and a real sample-app process (start, serve, stop)."""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.request

import pytest

from sandbox.aws.security_groups import TASK_NETWORK
from sandbox.dataplane.tasks import TaskFault, TaskFaults, TaskProcess, image_tag


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("example/app:v2", "v2"),
        ("example/app", "latest"),
        ("localhost:5000/app", "latest"),
        ("localhost:5000/app:1.4", "1.4"),
        ("123.dkr.ecr.eu-west-2.amazonaws.com/api:sha-abc@sha256:ff", "sha-abc"),
        (None, "latest"),
    ],
)
def test_image_tag(image: str | None, tag: str) -> None:
    assert image_tag(image) == tag


def test_faults_by_tag() -> None:
    faults = TaskFaults()
    faults.add(TaskFault.from_dict({"image_tag": "v3", "mode": "unhealthy"}))
    faults.add(TaskFault.from_dict({"image_tag": "v4", "mode": "slow", "slow_ms": 250}))
    assert faults.env_for("v3") == {"APP_HEALTH": "fail"}
    assert faults.env_for("v4") == {"APP_SLOW_MS": "250"}
    assert faults.env_for("v1") == {}
    assert TaskFault("v5", "crash").env() == {"APP_CRASH_AT_START": "1"}
    faults.clear()
    assert faults.list() == []


@pytest.mark.parametrize(
    "data", [{"mode": "crash"}, {"image_tag": "v1", "mode": "explode"}, {"image_tag": "v1", "mode": "slow"}]
)
def test_bad_faults_are_refused(data: dict) -> None:
    with pytest.raises(ValueError):
        TaskFault.from_dict(data)


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _wait_listening(proc: TaskProcess) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            _get(f"http://{proc.ip}:{proc.port}/version")
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the sample app did not start")


def test_sample_app_process_serves_version_health_env_and_stops_on_sigterm() -> None:
    proc = TaskProcess({"APP_HEALTH": "fail", "SECRET": "x", "APP_EXPOSE_ENV": "SECRET"}, "v7")
    try:
        _wait_listening(proc)
        assert ipaddress.ip_address(proc.ip) in TASK_NETWORK  # its own private IP, not the controller's
        base = f"http://{proc.ip}:{proc.port}"
        assert _get(base + "/version") == (200, {"version": "v7"})
        assert _get(base + "/health")[0] == 500
        assert _get(base + "/env/SECRET") == (200, {"name": "SECRET", "value": "x"})
        assert _get(base + "/env/PATH")[0] == 404
        proc.terminate()
        deadline = time.monotonic() + 5
        while not proc.poll_stop() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.exit_code() == 0
    finally:
        proc.kill_now()


def test_crash_at_start_exits_1() -> None:
    proc = TaskProcess({"APP_CRASH_AT_START": "1"}, "v1")
    try:
        assert proc.popen.wait(10) == 1
    finally:
        proc.kill_now()
