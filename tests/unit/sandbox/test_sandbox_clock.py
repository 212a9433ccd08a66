"""sandbox.clock: every AWS-configured duration divided by SANDBOX_TIME_SCALE."""

from __future__ import annotations

import pytest

from sandbox.clock import DEFAULT_SCALE, scale, scaled


def test_default_scale_turns_minutes_into_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_TIME_SCALE", raising=False)
    assert scale() == DEFAULT_SCALE == 60
    assert scaled(300) == 5.0
    assert scaled(None) == 0.0


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", 1.0), ("600", 600.0), ("zero", 60.0), ("-3", 60.0), ("", 60.0)]
)
def test_scale_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, expected: float) -> None:
    monkeypatch.setenv("SANDBOX_TIME_SCALE", raw)
    assert scale() == expected


def test_negative_durations_are_zero() -> None:
    assert scaled(-5) == 0.0
