"""follow(): one helper that follows a deployment or job and records each change of state."""

from __future__ import annotations

import copy
import datetime
from typing import Any

from ansible_collections.macroai.deploy.plugins.module_utils._waiter import Clock, Step, WaitSettings, follow


def fake_clock() -> tuple[Clock, list[float]]:
    now = [0.0]
    start = datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc)  # noqa: UP017 (as the modules)
    clock = Clock(
        monotonic=lambda: now[0],
        sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
        now=lambda: start + datetime.timedelta(seconds=now[0]),
    )
    return clock, now


def test_follow_records_each_change_of_state_once_and_stops_when_done() -> None:
    observations = iter(["PENDING", "PENDING", "RUNNING", "RUNNING", "SUCCEED"])
    clock, _ = fake_clock()
    seen: list[Step] = []
    followed = follow(
        lambda: {"status": next(observations)},
        lambda job: {"status": job["status"]},
        lambda job: job["status"] == "SUCCEED",
        WaitSettings(timeout=100, interval=5),
        clock,
        seen.append,
    )
    assert [step.status for step in followed.steps] == ["PENDING", "RUNNING", "SUCCEED"]
    assert [step.elapsed_s for step in followed.steps] == [0, 10, 20]
    assert followed.steps[1].at == "2026-05-01T00:00:10+00:00"
    assert seen == followed.steps and followed.last == {"status": "SUCCEED"} and not followed.timed_out


def test_follow_times_out_without_raising_and_keeps_the_last_observation() -> None:
    clock, now = fake_clock()
    followed = follow(
        lambda: {"status": "IN_PROGRESS", "stage": "BAKE_TIME"},
        lambda d: {"stage": d["stage"], "status": d["status"]},
        lambda d: False,
        WaitSettings(timeout=30, interval=10),
        clock,
    )
    assert followed.timed_out and followed.elapsed_s == 30 and now[0] == 30
    assert [step.as_dict() for step in followed.steps] == [
        {"stage": "BAKE_TIME", "status": "IN_PROGRESS", "at": "2026-05-01T00:00:00+00:00", "elapsed_s": 0}
    ]


def test_a_step_reads_its_state_as_attributes_and_copies() -> None:
    step = Step({"stage": None, "status": "PENDING"}, "t", 1.0)
    assert step.stage is None and step.status == "PENDING"
    assert copy.deepcopy(step) == step
    try:
        step.missing  # noqa: B018
    except AttributeError as err:
        assert str(err) == "missing"
    else:
        raise AssertionError("an unknown field is an AttributeError")


def test_state_changes_of_any_field_make_a_step() -> None:
    stages: list[dict[str, Any]] = [
        {"status": "RUNNING", "step": "DEPLOY"},
        {"status": "RUNNING", "step": "VERIFY"},
        {"status": "SUCCEED", "step": "VERIFY"},
    ]
    clock, _ = fake_clock()
    followed = follow(
        lambda: stages.pop(0),
        dict,
        lambda job: job["status"] == "SUCCEED",
        WaitSettings(timeout=60, interval=1),
        clock,
    )
    assert [(step.status, step.step) for step in followed.steps] == [
        ("RUNNING", "DEPLOY"),
        ("RUNNING", "VERIFY"),
        ("SUCCEED", "VERIFY"),
    ]
