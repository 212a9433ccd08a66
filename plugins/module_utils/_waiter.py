# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One poll-until helper for every wait in the collection.

Plain Python, no Ansible. The clock and the sleep are parameters so unit tests run a wait over a fake
sequence of observations in no time.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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


@dataclass(frozen=True)
class WaitSettings:
    """Whether to wait for what a run started, for how long (seconds) and how often to look."""

    wait: bool = True
    timeout: float = 900
    interval: float = 10


@dataclass(frozen=True)
class Step:
    """One observed change of a followed deployment or job.

    ``state`` is what the service reports (ECS: a deployment's stage and status; Amplify: a job's status and
    step); its fields read as attributes too (``step.status``).
    """

    state: Mapping[str, str | None]
    at: str
    elapsed_s: float

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["state"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return {**self.state, "at": self.at, "elapsed_s": self.elapsed_s}


@dataclass
class Outcome:
    """How a followed deployment or job ended (or stood when the wait ended): each service adds its fields."""

    status: str | None = None
    steps: list[Step] = field(default_factory=list)
    elapsed_s: float = 0.0
    timed_out: bool = False


@dataclass
class Followed(Generic[Observation]):
    """What :func:`follow` saw: the last observation, each change of state, whether the wait timed out."""

    last: Observation | None = None
    steps: list[Step] = field(default_factory=list)
    elapsed_s: float = 0.0
    timed_out: bool = False


def follow(
    fetch: Callable[[], Observation],
    state: Callable[[Observation], Mapping[str, str | None]],
    done: Callable[[Observation], bool],
    settings: WaitSettings,
    clock: Clock = SYSTEM_CLOCK,
    progress: Callable[[Step], None] | None = None,
) -> Followed[Observation]:
    """Poll ``fetch`` until ``done`` or the timeout; record a :class:`Step` each time ``state`` changes.

    ``progress`` sees each step. A timeout is not an error here: ``timed_out`` says so and the caller decides;
    the service carries on server-side either way.
    """
    followed: Followed[Observation] = Followed()

    def observe(poll: Poll[Observation]) -> None:
        followed.last, followed.elapsed_s = poll.value, round(poll.elapsed, 3)
        now = dict(state(poll.value))
        if not followed.steps or followed.steps[-1].state != now:
            step = Step(now, clock.now().isoformat(timespec="seconds"), followed.elapsed_s)
            followed.steps.append(step)
            if progress is not None:
                progress(step)

    try:
        wait_until(fetch, done, settings.timeout, settings.interval, observe, clock.monotonic, clock.sleep)
    except WaitTimeout:
        followed.timed_out = True
    return followed
