"""The release checks' logic over fake answers: expectations, retries, the failure message."""

from __future__ import annotations

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._release_check import (
    Check,
    FetchError,
    failure_message,
    mismatch,
    reach,
    run_check,
    run_checks,
)


@pytest.mark.parametrize(
    ("check", "status", "body", "problem"),
    [
        (Check("health", "u"), 200, "{}", None),
        (Check("health", "u"), 503, "", "status 503, expected 200"),
        (Check("v", "u", expect_json={"version": "abc1234"}), 200, '{"version": "abc1234"}', None),
        (Check("v", "u", expect_json={"version": "abc1234"}), 200, '{"version": "v1"}', "version is 'v1'"),
        (Check("v", "u", expect_json={"version": "1"}), 200, '{"version": 1}', None),
        (Check("v", "u", expect_json={"version": "x"}), 200, "<html>", "not JSON"),
        (Check("v", "u", expect_json={"version": "x"}), 200, "[1]", "not an object"),
        (Check("v", "u", expect_json={"version": "x"}), 200, "{}", "no 'version'"),
        (Check("page", "u", expect_text="<div id"), 200, "<html><div id=app>", None),
        (Check("page", "u", expect_text="<div id"), 200, "<html>", "does not contain"),
        (Check("gone", "u", expect_status=404), 404, "", None),
    ],
)
def test_mismatch(check: Check, status: int, body: str, problem: str | None) -> None:
    found = mismatch(check, status, body)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


class Answers:
    """A fetch that gives the listed answers in turn (an exception instance is raised)."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, url: str, timeout: float) -> tuple[int, str]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def test_a_check_is_retried_until_it_holds() -> None:
    sleeps: list[float] = []
    fetch = Answers(FetchError("no answer: refused"), (503, ""), (200, '{"version": "b"}'))
    result = run_check(
        Check("version", "http://x/version", expect_json={"version": "b"}),
        fetch,
        5,
        2.0,
        1.0,
        sleep=sleeps.append,
    )
    assert result["passed"] and result["attempts"] == 3 and result["status"] == 200
    assert sleeps == [2.0, 2.0]


def test_a_check_gives_up_after_its_attempts_with_the_last_problem() -> None:
    fetch = Answers((200, '{"version": "a"}'))
    result = run_check(
        Check("version", "http://x/version", expect_json={"version": "b"}),
        fetch,
        3,
        0,
        1.0,
        sleep=lambda s: None,
    )
    assert not result["passed"] and result["attempts"] == 3 and fetch.calls == 3
    assert result["problem"] == "version is 'a', expected 'b'"


def test_no_answer_leaves_the_status_empty() -> None:
    result = run_check(Check("h", "u"), Answers(FetchError("no answer: refused")), 1, 0, 1.0)
    assert result["status"] is None and result["problem"] == "no answer: refused"


def test_run_checks_keeps_the_order_and_the_message_names_each_failure() -> None:
    def fetch(url: str, timeout: float) -> tuple[int, str]:
        return (200, "ok") if url.endswith("/health") else (500, "")

    results = run_checks(
        [Check("health", "http://x/health"), Check("client", "http://site/")],
        fetch,
        2,
        0,
        1.0,
        sleep=lambda s: None,
    )
    assert [result["name"] for result in results] == ["health", "client"]
    message = failure_message(results)
    assert message is not None
    assert message.startswith("1 of 2 release check(s) failed: client (http://site/): status 500")
    assert "health" not in message
    assert failure_message(results[:1]) is None
    assert run_checks([], fetch, 1, 0, 1.0) == []


@pytest.mark.parametrize(
    ("url", "reached"),
    [
        ("http://lb.example/health", "http://127.0.0.1:4001/health"),
        ("http://lb.example", "http://127.0.0.1:4001"),
        ("http://lb.example:8080/health", "http://127.0.0.1:4002/health"),
        ("http://lb.example.org/health", "http://lb.example.org/health"),
        ("https://main.d1.amplifyapp.com/", "http://127.0.0.1:4003/"),
        ("https://main.d1.amplifyapp.com/api/version?x=1", "http://127.0.0.1:4004/version?x=1"),
        ("http://elsewhere/", "http://elsewhere/"),
    ],
)
def test_reach_maps_the_longest_prefix_at_a_boundary(url: str, reached: str) -> None:
    url_map = {
        "http://lb.example": "http://127.0.0.1:4001",
        "http://lb.example:8080/": "http://127.0.0.1:4002/",
        "https://main.d1.amplifyapp.com": "http://127.0.0.1:4003",
        "https://main.d1.amplifyapp.com/api": "http://127.0.0.1:4004",
    }
    assert reach(url, url_map) == reached


def test_a_mapped_check_reports_the_url_and_where_it_went() -> None:
    seen: list[str] = []

    def fetch(url: str, timeout: float) -> tuple[int, str]:
        seen.append(url)
        return 200, "ok"

    result = run_check(
        Check("h", "http://lb.example/health"), fetch, 1, 0, 1.0, {"http://lb.example": "http://l:1"}
    )
    assert seen == ["http://l:1/health"]
    assert result["url"] == "http://lb.example/health" and result["reached_at"] == "http://l:1/health"
