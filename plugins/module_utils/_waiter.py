# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One poll-until helper for every wait in the collection.

Plain Python, no Ansible. The clock and the sleep are parameters so unit tests run a wait over a fake
sequence of observations in no time.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

Observation = TypeVar("Observation")


class WaitTimeout(Exception):
    """The condition did not hold before the deadline; ``last`` is the final observation."""

    def __init__(self, last: object, elapsed: float) -> None:
        self.last = last
        self.elapsed = elapsed
        super().__init__(f"condition not met after {elapsed:.0f}s")


@dataclass(frozen=True)
class Clock:
    """The time sources a wait uses, replaceable in tests: ``monotonic`` and ``sleep`` for the wait,
    ``now`` (aware UTC) for timestamps and for ages of things AWS dates."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (Python 3.8 nodes)


SYSTEM_CLOCK = Clock()


@dataclass(frozen=True)
class Poll(Generic[Observation]):
    """One observation and the seconds since the wait began."""

    value: Observation
    elapsed: float


def wait_until(
    fetch: Callable[[], Observation],
    done: Callable[[Observation], bool],
    timeout: float,
    interval: float,
    progress: Callable[[Poll[Observation]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Poll[Observation]:
    """Call ``fetch`` every ``interval`` seconds until ``done`` holds for its result.

    ``progress`` sees every observation, the last one included. Raises :class:`WaitTimeout` once
    ``timeout`` seconds have passed without ``done``; the final fetch happens at the deadline, never after.
    """
    start = clock()
    while True:
        observed = Poll(fetch(), clock() - start)
        if progress is not None:
            progress(observed)
        if done(observed.value):
            return observed
        remaining = timeout - (clock() - start)
        if remaining <= 0:
            raise WaitTimeout(observed.value, clock() - start)
        sleep(min(interval, remaining))
