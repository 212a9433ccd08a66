"""sandbox.dataplane.sites' proxy rewrites to a load balancer: its DNS name and port are mapped to the
sandbox's loopback proxy for that listener (sandbox.dataplane.listeners.Listeners.loopback_address); any other
host is left alone. One test serves a site and an upstream on loopback."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from sandbox.dataplane.listeners import Listeners
from sandbox.dataplane.sites import Deployment, Sites, no_upstream, proxy_target

ALB = "macroai-prod-alb-1234567890.eu-west-2.elb.amazonaws.com"
LISTENERS = {
    (ALB, 80): ("127.0.0.1", 41001),
    (ALB, 443): ("127.0.0.1", 41002),
    (ALB, 8080): ("127.0.0.1", 41003),
}


def known(host: str, port: int) -> tuple[str, int] | None:
    return LISTENERS.get((host, port))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://{ALB}/api/version", ("http://127.0.0.1:41001/api/version", ALB)),
        (f"http://{ALB}/api/items?page=2", ("http://127.0.0.1:41001/api/items?page=2", ALB)),
        (f"http://{ALB.upper()}/api/", ("http://127.0.0.1:41001/api/", ALB.upper())),
        (f"https://{ALB}/api/version", ("http://127.0.0.1:41002/api/version", ALB)),
        (f"http://{ALB}:8080/api/version", ("http://127.0.0.1:41003/api/version", f"{ALB}:8080")),
        (f"http://user@{ALB}/x", ("http://127.0.0.1:41001/x", ALB)),
        (f"http://{ALB}:9999/api/version", (f"http://{ALB}:9999/api/version", None)),  # no such listener
        ("https://api.example.com/api/version", ("https://api.example.com/api/version", None)),
        ("http://127.0.0.1:41001/version", ("http://127.0.0.1:41001/version", None)),
        (f"http://{ALB}:notaport/x", (f"http://{ALB}:notaport/x", None)),
    ],
)
def test_proxy_target_maps_listeners_and_leaves_other_hosts(url: str, expected: tuple) -> None:
    assert proxy_target(url, known) == expected


def test_without_a_resolver_every_url_is_opened_as_it_is() -> None:
    assert proxy_target(f"http://{ALB}/api/version", no_upstream) == (f"http://{ALB}/api/version", None)


def listener_server(dns_name: str, port: int, loopback_port: int) -> SimpleNamespace:
    return SimpleNamespace(
        dns_name=dns_name, listener_port=port, server_address=("127.0.0.1", loopback_port), stop=lambda: None
    )


def test_listeners_resolve_a_load_balancer_name_and_port() -> None:
    listeners = Listeners()
    syncs: list[int] = []
    listeners.sync = lambda: syncs.append(1)  # type: ignore[method-assign]
    listeners.servers = {
        "arn:80": listener_server(ALB, 80, 41001),  # type: ignore[dict-item]
        "arn:443": listener_server(ALB, 443, 41002),  # type: ignore[dict-item]
    }
    assert listeners.loopback_address(ALB, 80) == ("127.0.0.1", 41001)
    assert listeners.loopback_address(ALB.upper() + ".", 443) == ("127.0.0.1", 41002)
    assert syncs == []  # found without walking moto's model
    assert listeners.loopback_address(ALB, 8080) is None
    assert listeners.loopback_address("example.com", 80) is None
    assert len(syncs) == 2  # a miss syncs once, in case the listener is new


def test_a_listener_made_since_the_last_sync_is_found() -> None:
    listeners = Listeners()

    def sync() -> None:
        listeners.servers["arn:new"] = listener_server(ALB, 80, 41009)  # type: ignore[assignment]

    listeners.sync = sync  # type: ignore[method-assign]
    assert listeners.loopback_address(ALB, 80) == ("127.0.0.1", 41009)


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "host": self.headers.get("Host")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_site_proxies_api_paths_to_the_listener_of_the_load_balancer(upstream: ThreadingHTTPServer) -> None:
    rule = {"source": "/api/<*>", "target": f"http://{ALB}/api/<*>", "status": "200"}
    address = ("127.0.0.1", upstream.server_address[1])
    sites = Sites(rules=lambda app_id: [rule], refresh=lambda: None)
    try:
        server = sites.ensure("app1", "web", "main")
        sites.upstream = lambda host, port: address if (host, port) == (ALB, 80) else None  # wired late
        sites.activate("app1", "web", "main", Deployment("1", None, {"index.html": b"index"}))
        with urllib.request.urlopen(f"{server.url}/api/version?x=1", timeout=5) as response:
            assert json.loads(response.read()) == {"path": "/api/version?x=1", "host": ALB}
    finally:
        sites.stop_all()
