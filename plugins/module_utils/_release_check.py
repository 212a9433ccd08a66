# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTP checks of a release: one URL each, an expected status, JSON fields and text, retried until they
hold or the attempts run out.

Plain Python, no Ansible. ``fetch`` (url, timeout) -> (status, body) and the clock are parameters so unit
tests run checks over fake answers in no time. Checks run side by side in threads: a release's checks
cost the slowest one, not their sum.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


class FetchError(Exception):
    """No HTTP answer at all (refused, reset, timed out, bad URL)."""


@dataclass(frozen=True)
class Check:
    name: str
    url: str
    expect_status: int = 200
    expect_json: Mapping[str, Any] = field(default_factory=dict)
    expect_text: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Check:
        return cls(
            name=params["name"],
            url=params["url"],
            expect_status=int(params.get("expect_status") or 200),
            expect_json=dict(params.get("expect_json") or {}),
            expect_text=params.get("expect_text"),
        )


def reach(url: str, url_map: Mapping[str, str]) -> str:
    """The address to send ``url``'s request to: the longest prefix of ``url_map`` that ``url`` starts with
    (at a boundary: the end, ``/`` or ``?``) replaced by its value; ``url`` itself when none matches."""
    best = ""
    for prefix in (key.rstrip("/") for key in url_map):
        boundary = url[len(prefix) : len(prefix) + 1]
        if prefix and url.startswith(prefix) and boundary in ("", "/", "?") and len(prefix) > len(best):
            best = prefix
    if not best:
        return url
    replacement = url_map[best] if best in url_map else url_map[best + "/"]
    return replacement.rstrip("/") + url[len(best) :]


def mismatch(check: Check, status: int, body: str) -> str | None:
    """Why one answer does not meet the check's expectations; None when it does."""
    if status != check.expect_status:
        return f"status {status}, expected {check.expect_status}"
    if check.expect_json:
        try:
            document = json.loads(body)
        except ValueError:
            return f"the body is not JSON: {body[:80]!r}"
        if not isinstance(document, dict):
            return f"the body is JSON but not an object: {body[:80]!r}"
        for key, wanted in check.expect_json.items():
            if key not in document:
                return f"no {key!r} in {body[:120]}"
            if str(document[key]) != str(wanted):
                return f"{key} is {document[key]!r}, expected {wanted!r}"
    if check.expect_text is not None and check.expect_text not in body:
        return f"the body does not contain {check.expect_text!r}"
    return None


def run_check(
    check: Check,
    fetch: Callable[[str, float], tuple[int, str]],
    attempts: int,
    delay: float,
    timeout: float,
    url_map: Mapping[str, str] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Try ``check`` up to ``attempts`` times, ``delay`` seconds apart; the result the module returns."""
    started = monotonic()
    address = reach(check.url, url_map or {})
    status: int | None = None
    problem = "not tried"
    tried = 0
    for tried in range(1, max(attempts, 1) + 1):
        try:
            status, body = fetch(address, timeout)
        except FetchError as error:
            status, problem = None, str(error)
        else:
            problem = mismatch(check, status, body)
            if problem is None:
                break
        if tried < attempts:
            sleep(delay)
    return {
        "name": check.name,
        "url": check.url,
        "reached_at": address,
        "passed": problem is None,
        "status": status,
        "attempts": tried,
        "elapsed_s": round(monotonic() - started, 3),
        "problem": problem,
    }


def run_checks(
    checks: Sequence[Check],
    fetch: Callable[[str, float], tuple[int, str]],
    attempts: int,
    delay: float,
    timeout: float,
    url_map: Mapping[str, str] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Every check, side by side; the results in the checks' order."""
    if not checks:
        return []
    with ThreadPoolExecutor(max_workers=min(len(checks), 8)) as pool:
        futures = [
            pool.submit(run_check, check, fetch, attempts, delay, timeout, url_map, monotonic, sleep)
            for check in checks
        ]
        return [future.result() for future in futures]


def failure_message(results: Sequence[Mapping[str, Any]]) -> str | None:
    """One sentence naming each failing check and why; None when all passed."""
    failed = [result for result in results if not result["passed"]]
    if not failed:
        return None
    parts = [
        f"{result['name']} ({result['url']}): {result['problem']} after {result['attempts']} attempt(s)"
        for result in failed
    ]
    return f"{len(failed)} of {len(results)} release check(s) failed: " + "; ".join(parts)
