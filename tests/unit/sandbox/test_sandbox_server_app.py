"""The front door's WSGI app, in front of a fake AWS app (no moto, no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from sandbox.server import SandboxApp

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261127/eu-west-2/{service}/aws4_request, Signature=x"
FORM = "application/x-www-form-urlencoded"


class FakeAws:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.resets = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # moto must still see the whole body after we read it.
        self.bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<ok/>"]

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
def fake() -> FakeAws:
    return FakeAws()


@pytest.fixture
def client(fake: FakeAws) -> Client:
    return Client(SandboxApp(fake, {"pid": 1, "port": 4599}, reset_aws=fake.reset))


def _ec2(client: Client, action: str) -> Any:
    return client.post(
        "/",
        data=f"Action={action}&Version=2016-11-15",
        headers={"Authorization": AUTH.format(service="ec2"), "Content-Type": FORM},
    )


def test_health(client: Client) -> None:
    response = client.get("/_sandbox/health")
    assert response.status_code == 200
    assert response.json == {"ok": True, "pid": 1, "port": 4599}


def test_aws_call_passes_body_through_and_is_logged(client: Client, fake: FakeAws) -> None:
    assert _ec2(client, "CreateVpc").status_code == 200
    assert fake.bodies == [b"Action=CreateVpc&Version=2016-11-15"]
    _ec2(client, "DescribeVpcs")
    entries = client.get("/_sandbox/requests?service=ec2").json
    assert [(e["operation"], e["write"], e["status"], e["faulted"]) for e in entries] == [
        ("CreateVpc", True, 200, False),
        ("DescribeVpcs", False, 200, False),
    ]
    assert [e["operation"] for e in client.get("/_sandbox/requests?write=false").json] == ["DescribeVpcs"]
    assert client.get(f"/_sandbox/requests?since={entries[1]['time']}").json[0]["operation"] == "DescribeVpcs"
    client.delete("/_sandbox/requests")
    assert client.get("/_sandbox/requests").json == []


def test_unsigned_calls_pass_through_unlogged(client: Client, fake: FakeAws) -> None:
    assert client.get("/moto-api/").status_code == 200
    assert client.get("/_sandbox/requests").json == []


def test_fault_admin_and_injection(client: Client, fake: FakeAws) -> None:
    created = client.post(
        "/_sandbox/faults", json={"service": "ec2", "code": "RequestLimitExceeded", "count": 1}
    )
    assert created.status_code == 201
    assert created.json["id"] == 1
    faulted = _ec2(client, "DescribeVpcs")
    assert faulted.status_code == 400
    assert b"<Code>RequestLimitExceeded</Code>" in faulted.data
    assert _ec2(client, "DescribeVpcs").status_code == 200
    assert len(fake.bodies) == 1  # the faulted call never reached moto
    assert [e["faulted"] for e in client.get("/_sandbox/requests").json] == [True, False]
    assert client.get("/_sandbox/faults").json[0]["fired"] == 1
    assert client.delete("/_sandbox/faults/1").status_code == 200
    assert client.delete("/_sandbox/faults/1").status_code == 404
    assert client.get("/_sandbox/faults").json == []


def test_bad_fault_rule_is_400(client: Client) -> None:
    response = client.post("/_sandbox/faults", json={"service": "ec2", "rate": 2})
    assert response.status_code == 400
    assert "code" in response.json["error"]
    assert client.post("/_sandbox/faults", data="not json").status_code == 400


def test_reset_clears_everything(client: Client, fake: FakeAws) -> None:
    client.post("/_sandbox/faults", json={"service": "s3", "code": "SlowDown", "status": 503})
    _ec2(client, "CreateVpc")
    response = client.post("/_sandbox/reset")
    assert json.loads(response.data) == {"reset": True, "dropped_databases": []}
    assert fake.resets == 1
    assert client.get("/_sandbox/faults").json == []
    assert client.get("/_sandbox/requests").json == []


def test_unknown_admin_route_is_404(client: Client) -> None:
    assert client.get("/_sandbox/nope").status_code == 404
