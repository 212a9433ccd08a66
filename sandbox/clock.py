"""Time compression: every AWS-configured duration goes through :func:`scaled`.

``SANDBOX_TIME_SCALE`` (default 60) divides durations: at 60 a 5-minute bake takes 5 s, a 30 s
health-check interval 0.5 s and a 300 s deregistration delay 5 s. The ordering stays real.
"""

from __future__ import annotations

import os

DEFAULT_SCALE = 60.0


def scale() -> float:
    """The current compression factor (read each time, so tests can change it per process)."""
    raw = os.environ.get("SANDBOX_TIME_SCALE") or ""
    try:
        value = float(raw) if raw else DEFAULT_SCALE
    except ValueError:
        value = DEFAULT_SCALE
    return value if value > 0 else DEFAULT_SCALE


def scaled(seconds: float | int | None) -> float:
    """Real seconds the sandbox waits for an AWS-configured duration of ``seconds``."""
    return max(float(seconds or 0), 0.0) / scale()
