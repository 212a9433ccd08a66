"""One loopback HTTP proxy per load-balancer listener, routing as the listener's rules say.

Rules are read from moto's model on every request (so weights ECS writes take effect at once): by
priority, path-pattern / host-header / http-request-method / http-header conditions, default rule last.
A forward action picks a target group by weight, then a routable target (from the ELBv2 overlay's health
registry) round-robin, retrying another target on a connection error as an ALB does; no routable target
gives 503. fixed-response and redirect actions are answered here. HTTPS listeners serve plain HTTP.

Security groups (sandbox/aws/security_groups.py) govern both hops, read from moto's EC2 model on every
connection. A client reaches the listener's port only if the load balancer's groups admit that port from a
CIDR holding the client's address (the controller connects from 127.0.0.1, outside the VPC); otherwise the
connection is accepted by the kernel and never answered, so the client times out, as when AWS drops the
packets (ELB's "Security groups for your Application Load Balancer": the groups must allow the listener
ports from the clients). The load balancer reaches a target only if the target's groups admit the load
balancer's group (or a CIDR holding its subnets) on the target's container port; otherwise its connection
times out and the client gets ELB's 504, after ELB's 10-second connection timeout (scaled by the sandbox
clock).
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.client
import itertools
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.aws import security_groups
from sandbox.aws.elbv2 import REGISTRY, backends, weights
from sandbox.clock import scaled
from sandbox.state import HOST

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
UPSTREAM_TIMEOUT = 30.0
# ELB's connection timeout to a target ("HTTP 504: Gateway timeout" in ELB's troubleshooting guide).
TARGET_CONNECT_TIMEOUT = 10.0
DROPPED_HOLD = 900.0  # seconds a dropped connection is held open (unanswered) before it is closed
_counters: dict[str, itertools.count[int]] = {}


def _values(condition: dict[str, Any], config_key: str) -> list[str]:
    config = condition.get(config_key) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def condition_matches(condition: dict[str, Any], method: str, path: str, headers: Any) -> bool:
    field = condition.get("Field")
    if field == "path-pattern":
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in _values(condition, "PathPatternConfig"))
    if field == "host-header":
        host = (headers.get("Host") or "").split(":", 1)[0].lower()
        return any(fnmatch.fnmatchcase(host, p.lower()) for p in _values(condition, "HostHeaderConfig"))
    if field == "http-request-method":
        return method.upper() in {m.upper() for m in _values(condition, "HttpRequestMethodConfig")}
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = headers.get(config.get("HttpHeaderName") or "")
        return value is not None and any(
            fnmatch.fnmatch(value.lower(), p.lower()) for p in config.get("Values") or []
        )
    return True  # query-string, source-ip: not evaluated in the sandbox


def ordered_rules(listener: Any) -> list[Any]:
    rules = list(listener.rules.values())
    normal = sorted((r for r in rules if not r.is_default), key=lambda r: int(r.priority))
    return normal + [r for r in rules if r.is_default]


def pick_rule(listener: Any, method: str, path: str, headers: Any) -> Any | None:
    for rule in ordered_rules(listener):
        if rule.is_default or all(condition_matches(c, method, path, headers) for c in rule.conditions or []):
            return rule
    return None


def pick_group(rule: Any) -> str | None:
    table = {arn: weight for arn, weight in weights(rule).items() if weight > 0}
    if not table:
        return None
    arns = list(table)
    return random.choices(arns, weights=[table[a] for a in arns])[0]


def round_robin(group_arn: str) -> list[Any]:
    """Routable targets of a group, rotated so successive requests start at successive targets."""
    targets = REGISTRY.routable(group_arn)
    if not targets:
        return []
    start = next(_counters.setdefault(group_arn, itertools.count())) % len(targets)
    return targets[start:] + targets[:start]


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awselb/2.0"
    server: ListenerServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        body = f"<html><body><h1>{status}</h1><p>{message}</p></body></html>".encode()
        self._reply(status, body, [("Content-Type", "text/html")])

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        listener = self.server.listener
        path = self.path.split("?", 1)[0]
        try:
            rule = pick_rule(listener, self.command, path, self.headers)
        except (RuntimeError, ValueError, TypeError):  # the model changed under us: try once more
            rule = pick_rule(listener, self.command, path, self.headers)
        if rule is None:
            self._error(503, "Service Temporarily Unavailable")
            return
        for action in sorted(rule.actions, key=lambda a: int(a.data.get("Order") or 0)):
            if action.type == "forward":
                self._forward(rule, body)
                return
            if action.type == "fixed-response":
                self._fixed(action.data.get("FixedResponseConfig") or {})
                return
            if action.type == "redirect":
                self._redirect(action.data.get("RedirectConfig") or {})
                return
        self._error(503, "Service Temporarily Unavailable")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

    def _fixed(self, config: dict[str, Any]) -> None:
        status = int(config.get("StatusCode") or 200)
        content_type = config.get("ContentType") or "text/plain"
        self._reply(status, (config.get("MessageBody") or "").encode(), [("Content-Type", content_type)])

    def _redirect(self, config: dict[str, Any]) -> None:
        host = config.get("Host") or "#{host}"
        path = config.get("Path") or "/#{path}"
        query = config.get("Query") or "#{query}"
        request_path, _, request_query = self.path.partition("?")
        values = {
            "#{host}": (self.headers.get("Host") or HOST).split(":", 1)[0],
            "#{port}": str(self.server.server_address[1]),
            "#{path}": request_path.lstrip("/"),
            "#{query}": request_query,
            "#{protocol}": "http",
        }
        port = config.get("Port") or "#{port}"
        for token, value in values.items():
            host, path, query, port = (s.replace(token, value) for s in (host, path, query, port))
        location = f"http://{host}:{port}{path if path.startswith('/') else '/' + path}"
        if query:
            location += "?" + query
        status = 301 if config.get("StatusCode") == "HTTP_301" else 302
        self._reply(status, b"", [("Location", location)])

    def _forward(self, rule: Any, body: bytes) -> None:
        group_arn = pick_group(rule)
        targets = round_robin(group_arn) if group_arn else []
        if not targets:
            self._error(503, "Service Temporarily Unavailable")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        client_ip = self.client_address[0]
        forwarded = self.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {client_ip}" if forwarded else client_ip
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(self.server.listener_port)
        headers["Connection"] = "close"
        for target in targets:
            if not self.server.reaches(target.ip, target.port):
                time.sleep(scaled(TARGET_CONNECT_TIMEOUT))  # the target's group drops the connection
                self._error(504, "Gateway Time-out")
                return
            conn = http.client.HTTPConnection(target.ip, target.port, timeout=UPSTREAM_TIMEOUT)
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (
                ConnectionRefusedError,
                ConnectionResetError,
                http.client.RemoteDisconnected,
                BrokenPipeError,
            ):
                conn.close()
                continue  # as an ALB: try another target
            except TimeoutError:
                conn.close()
                self._error(504, "Gateway Time-out")
                return
            except OSError:
                conn.close()
                continue
            conn.close()
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            self._reply(response.status, payload, out)
            return
        self._error(502, "Bad Gateway")


class ListenerServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, listener: Any, load_balancer: Any, account: str = "", region: str = "") -> None:
        super().__init__((HOST, 0), ProxyHandler)
        self.listener = listener
        self.load_balancer = load_balancer
        self.account, self.region = account, region
        self.dropped: list[tuple[float, socket.socket]] = []
        self.dropped_lock = threading.Lock()
        self.load_balancer_name = load_balancer.name
        self.dns_name = str(load_balancer.dns_name).lower()
        self.listener_port = listener.port
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="sandbox-listener"
        )
        self.thread.start()

    def admits(self, client: str) -> bool:
        """Whether the load balancer's groups admit ``client`` on this listener's port (no account: a
        listener built outside the sandbox's moto, as in unit tests, is not governed)."""
        if not self.account:
            return True
        return security_groups.listener_admits(
            self.account, self.region, self.load_balancer, int(self.listener_port), client
        )

    def reaches(self, ip: str, port: int) -> bool:
        """Whether this load balancer may open a connection to the target ``ip:port``."""
        if not self.account:
            return True
        return security_groups.target_admits(self.account, self.region, [self.load_balancer], ip, port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.admits(str(client_address[0])):
            super().process_request(request, client_address)
            return
        now = time.monotonic()
        with self.dropped_lock:  # hold it open, unread and unanswered: the client times out
            expired = [sock for since, sock in self.dropped if now - since > DROPPED_HOLD]
            self.dropped = [(since, sock) for since, sock in self.dropped if now - since <= DROPPED_HOLD]
            self.dropped.append((now, request))
        for sock in expired:
            self.shutdown_request(sock)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def describe(self) -> dict[str, Any]:
        return {
            "arn": self.listener.arn,
            "load_balancer": self.load_balancer_name,
            "dns_name": self.dns_name,
            "port": int(self.listener_port),
            "protocol": self.listener.protocol,
            "url": self.url,
        }

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with self.dropped_lock:
            dropped, self.dropped = self.dropped, []
        for _, sock in dropped:
            self.shutdown_request(sock)


class Listeners:
    """Keeps one proxy per listener of every application load balancer in moto's model."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.servers: dict[str, ListenerServer] = {}

    def sync(self) -> None:
        present: dict[str, tuple[Any, Any, str, str]] = {}
        for backend in backends("elbv2"):
            for balancer in list(backend.load_balancers.values()):
                if getattr(balancer, "type", "application") != "application":
                    continue
                for listener in list(balancer.listeners.values()):
                    present[listener.arn] = (listener, balancer, backend.account_id, backend.region_name)
        with self.lock:
            for arn in [arn for arn in self.servers if arn not in present]:
                self.servers.pop(arn).stop()
            for arn, (listener, balancer, account, region) in present.items():
                server = self.servers.get(arn)
                if server is not None and server.listener is not listener:  # replaced in the model
                    server.listener = listener
                if server is not None:
                    server.load_balancer = balancer  # SetSecurityGroups may replace its groups
                if server is None:
                    self.servers[arn] = ListenerServer(listener, balancer, account, region)

    def list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [server.describe() for server in self.servers.values()]

    def loopback_address(self, host: str, port: int) -> tuple[str, int] | None:
        """The loopback (host, port) of the proxy for the listener at a load balancer's ``host:port``.

        A load balancer's DNS name does not resolve here; whatever must reach it (an Amplify site's
        rewrite) asks this instead. None for any other address. A listener made since the last sync is
        found by syncing once more.
        """
        host = host.lower().rstrip(".")
        for attempt in range(2):
            if attempt:
                self.sync()
            with self.lock:
                for server in self.servers.values():
                    if server.dns_name == host and int(server.listener_port) == port:
                        return server.server_address[0], server.server_address[1]
        return None

    def stop_all(self) -> None:
        with self.lock:
            servers, self.servers = list(self.servers.values()), {}
        for server in servers:
            with contextlib.suppress(OSError):
                server.stop()
