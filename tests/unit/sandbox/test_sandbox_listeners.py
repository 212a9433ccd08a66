"""sandbox.dataplane.listeners and sandbox.aws.elbv2: rule matching, weights, health matcher (no moto)."""

from __future__ import annotations

import http.client
from types import SimpleNamespace
from typing import Any

import pytest

from sandbox.aws.elbv2 import matches_code, set_weights, weights
from sandbox.dataplane.listeners import condition_matches, pick_group, pick_rule


def action(data: dict[str, Any]) -> SimpleNamespace:
    ns = SimpleNamespace(data=data, type=data["Type"])
    ns.__dict__.update(data)
    return ns


def rule(priority: Any, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]) -> SimpleNamespace:
    return SimpleNamespace(
        priority=priority,
        conditions=conditions,
        actions=[action(a) for a in actions],
        is_default=priority == "default",
    )


FORWARD = {
    "Type": "forward",
    "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": "blue", "Weight": 100}, {"TargetGroupArn": "green", "Weight": 0}]
    },
}


@pytest.mark.parametrize(
    ("matcher", "status", "ok"),
    [
        (None, 200, True),
        ({"HttpCode": "200"}, 204, False),
        ({"HttpCode": "200-299"}, 204, True),
        ({"HttpCode": "200,302"}, 302, True),
        ({"HttpCode": "200,302"}, 500, False),
    ],
)
def test_matcher(matcher: dict | None, status: int, ok: bool) -> None:
    assert matches_code(matcher, status) is ok


def test_conditions() -> None:
    headers = {"Host": "api.example.com:80", "X-Env": "beta"}
    assert condition_matches({"Field": "path-pattern", "Values": ["/api/*"]}, "GET", "/api/x", headers)
    assert not condition_matches(
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}, "GET", "/", headers
    )
    assert condition_matches(
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.EXAMPLE.com"]}}, "GET", "/", headers
    )
    assert not condition_matches(
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}, "GET", "/", headers
    )
    header = {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["be*"]}}
    assert condition_matches(header, "GET", "/", headers)


def test_rules_by_priority_then_default() -> None:
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
    listener = SimpleNamespace(
        rules={
            "b": rule(20, [{"Field": "path-pattern", "Values": ["/*"]}], [FORWARD]),
            "a": rule(10, [{"Field": "path-pattern", "Values": ["/admin*"]}], [fixed]),
            "d": rule("default", [], [fixed]),
        }
    )
    assert pick_rule(listener, "GET", "/admin/x", {}).priority == 10
    assert pick_rule(listener, "GET", "/x", {}).priority == 20
    listener.rules.pop("b")
    assert pick_rule(listener, "GET", "/x", {}).is_default


def test_weights_read_write_and_pick() -> None:
    r = rule(1, [], [json_copy(FORWARD)])
    assert weights(r) == {"blue": 100, "green": 0}
    assert {pick_group(r) for _ in range(50)} == {"blue"}
    set_weights(r, {"blue": 0, "green": 100})
    assert weights(r) == {"blue": 0, "green": 100}
    assert r.actions[0].ForwardConfig["TargetGroups"][1]["Weight"] == 100  # the attribute moto serialises
    set_weights(r, {"blue": 50, "green": 50})
    assert {pick_group(r) for _ in range(200)} == {"blue", "green"}
    single = rule(1, [], [{"Type": "forward", "TargetGroupArn": "blue"}])
    assert weights(single) == {"blue": 1}
    set_weights(single, {"blue": 100, "green": 0})
    assert weights(single) == {"blue": 100, "green": 0}


def test_set_weights_swaps_in_a_new_action_and_leaves_the_old_one_whole() -> None:
    """Proxy threads holding the old action keep reading consistent weights while the rule changes."""
    r = rule(1, [], [{"Type": "forward", "TargetGroupArn": "blue"}])
    old = r.actions[0]
    before = json_copy(old.data)
    set_weights(r, {"blue": 90, "green": 10})
    assert r.actions[0] is not old
    assert old.data == before and old.TargetGroupArn == "blue"
    assert weights(r) == {"blue": 90, "green": 10}
    assert "TargetGroupArn" not in r.actions[0].data


def json_copy(data: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(data))


def test_a_client_the_groups_do_not_admit_is_dropped_and_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy never answers a refused client (AWS drops the packets), and answers an admitted one."""
    from sandbox.aws import security_groups
    from sandbox.dataplane.listeners import ListenerServer

    admitted: set[str] = set()
    monkeypatch.setattr(
        security_groups,
        "listener_admits",
        lambda account, region, balancer, port, client: client in admitted,
    )
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "ok"}}
    listener = SimpleNamespace(
        arn="listener", port=8080, protocol="HTTP", rules={"d": rule("default", [], [fixed])}
    )
    balancer = SimpleNamespace(name="lb", dns_name="lb-1.example", security_groups=["sg-0lb"])
    server = ListenerServer(listener, balancer, "123456789012", "eu-west-2")
    try:
        host, port = server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), int(port), timeout=1.0)
        with pytest.raises(TimeoutError):
            conn.request("GET", "/health")
            conn.getresponse()
        conn.close()
        admitted.add("127.0.0.1")
        conn = http.client.HTTPConnection(str(host), int(port), timeout=5.0)
        conn.request("GET", "/health")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"ok")
        conn.close()
    finally:
        server.stop()
