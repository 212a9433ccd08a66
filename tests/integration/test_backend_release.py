"""The backend release of playbooks/deploy.yml (networking, then compute) at hobby scale, in the sandbox
(test_backend_release_enterprise.py: the same release at enterprise scale).

One module-scoped deployment (a unique ``deploy_environment``): v1 is released once, then the
scenarios run in file order against it, each leaving production on v2: v2 under load; a re-run that
changes nothing; ``--check`` with a new image that writes nothing; an unhealthy v3 that rolls back by
itself; an alarm forced into ALARM during a bake; ``state: rolled_back`` during a bake. A bounded load
generator (25 requests a second) hits the production listener through each release.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from backend import (
    LONG_BAKE,
    Release,
    check_rerun_of_the_release_changes_nothing,
    check_v1_released_with_the_infrastructure,
    check_v2_under_load_drops_nothing_and_old_tasks_go,
    released,
    roll_back,
)
from support import LoadProbe, aws_client, deploy, get_version, recap

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


BAD_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cpu-memory-pair": (("compute_task_memory=4096",), ("compute_task_memory=4096", "512, 1024, 2048")),
    "cpu-not-fargate": (("compute_task_cpu=300",), ("compute_task_cpu", "256")),
    "health-path-no-slash": (
        ("compute_health_check_path=health",),
        ("compute_health_check_path", "leading slash"),
    ),
    "port-without-mapping": (
        ("compute_container_port=8080",),
        ("compute_container_port=8080", "port mapping"),
    ),
    "desired-above-max": (
        ("compute_desired_count=2",),
        ("compute_desired_count=2", "compute_autoscaling_max (1)"),
    ),
    "secret-in-environment": (
        ('{"compute_environment": {"DB_PASSWORD": "x"}}',),
        ("compute_environment.DB_PASSWORD", "compute_secrets"),
    ),
    "unknown-strategy": (
        ("compute_deployment_strategy=ROLLING",),
        ("compute_deployment_strategy", "BLUE_GREEN"),
    ),
}


@dataclass
class PreflightRuns:
    runs: dict[str, subprocess.CompletedProcess[str]]
    writes: list[dict]


@pytest.fixture(scope="module")
def preflight(sandbox: SandboxClient) -> PreflightRuns:
    """Every bad input's release, concurrently, and the AWS writes made meanwhile (there must be none)."""
    since = time.time()

    def run(extra: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        arguments = [item for value in extra for item in ("-e", value)]
        return deploy(sandbox, "hobby", "-e", "deploy_environment=preflight", *arguments)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(BAD_INPUTS, pool.map(run, (extra for extra, _ in BAD_INPUTS.values())), strict=True))
    return PreflightRuns(runs, sandbox.requests(write=True, since=since))


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_compute_input_fails_in_preflight_naming_the_variable(
    case: str, preflight: PreflightRuns
) -> None:
    run = preflight.runs[case]
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "TASK [macroai.deploy.networking" not in output, "failed after preflight"
    for fragment in BAD_INPUTS[case][1]:
        assert fragment in output, output[-3000:]
    assert preflight.writes == []


@pytest.fixture(scope="module")
def release(sandbox: SandboxClient) -> Iterator[Release]:
    yield from released(sandbox, "hobby")


def test_v1_is_released_with_the_infrastructure(release: Release) -> None:
    check_v1_released_with_the_infrastructure(release)


def test_v2_under_load_drops_nothing_and_old_tasks_go(release: Release) -> None:
    check_v2_under_load_drops_nothing_and_old_tasks_go(release)


def test_rerun_of_the_release_changes_nothing(release: Release) -> None:
    check_rerun_of_the_release_changes_nothing(release)


def test_check_mode_with_a_new_image_reports_and_writes_nothing(release: Release) -> None:
    since = time.time()
    run = release.deploy("v9", "--check", "--diff")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert recap(output)["changed"] >= 1
    assert ":v2" in output and ":v9" in output  # the task definition diff
    assert release.sandbox.requests(write=True, since=since) == []
    assert get_version(release.production_url) == "v2"


def test_unhealthy_v3_rolls_back_by_itself(release: Release) -> None:
    release.sandbox.add_task_fault("v3", "unhealthy")
    try:
        with LoadProbe(f"{release.production_url}/version", rate=25, max_seconds=240) as load:
            run = release.deploy("v3")
    finally:
        release.sandbox.clear_task_faults()
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert load.failures == [], load.failures[:5]
    assert set(load.versions) == {"v2"}, load.versions
    assert get_version(release.production_url) == "v2"
    assert "ROLLBACK" in output and f"service-deployment/{release.cluster}/{release.service}/" in output
    assert "health" in output.lower(), output[-3000:]


def test_alarm_in_alarm_during_the_bake_rolls_back(release: Release) -> None:
    # Hobby has no alarms by default: turn them on for this release, as enhanced-hobby has them.
    alarms_on = ("-e", "compute_alarms_enabled=true")
    with LoadProbe(f"{release.production_url}/version", rate=25, max_seconds=240) as load:
        process = release.start_deploy("v4", *LONG_BAKE, *alarms_on)
        try:
            release.wait_for_bake()
            alarm = f"{release.service}-target-5xx"
            cloudwatch = aws_client(release.sandbox, "cloudwatch")
            cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test: forced")
            output, _ = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test: reset")
    assert process.returncode != 0, output[-3000:]
    assert load.failures == [], load.failures[:5]
    assert get_version(release.production_url) == "v2"
    assert alarm in output and "ROLLBACK" in output, output[-3000:]
    assert f"service-deployment/{release.cluster}/{release.service}/" in output


def test_rolled_back_during_the_bake_restores_v2_in_seconds(release: Release) -> None:
    with LoadProbe(f"{release.production_url}/version", rate=25, max_seconds=240) as load:
        process = release.start_deploy("v5", *LONG_BAKE)
        try:
            release.wait_for_bake()
            assert get_version(release.production_url) == "v5"
            started = time.monotonic()
            rollback = roll_back(release)
            seconds = time.monotonic() - started
            output, _ = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
    assert rollback.returncode == 0, rollback.stdout[-3000:] + rollback.stderr[-2000:]
    assert "ROLLBACK_SUCCESSFUL" in rollback.stdout
    assert get_version(release.production_url) == "v2"
    assert load.failures == [], load.failures[:5]
    assert load.versions[-1] == "v2" and "v5" in load.versions, load.versions
    # The interrupted release fails, naming its deployment.
    assert process.returncode != 0 and "ROLLBACK" in output, output[-3000:]
    print(f"\n{release.scale}: rolled_back during the bake took {seconds:.1f}s (command start to done)")
