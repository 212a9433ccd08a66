"""Each Amplify branch's deployed site, served by a loopback HTTP server on its own port.

A branch gets its server when it is created (404 until a job succeeds). A job that succeeds swaps the
server's content in one assignment, so a request sees either the old artifact or the new one, never a mix.
Requests honour the app's ``customRules`` as Amplify Hosting does, in order, first match wins:

- ``200``: rewrite (serve the target file with 200, or proxy to an ``http(s)://`` target);
- ``301`` / ``302``: redirect to the target;
- ``404``: serve the target with 404;
- ``404-200`` (and ``404-<status>``): apply only when no file matches the path.

Sources are paths with ``<*>`` and ``<name>`` placeholders (substituted into the target), or a regular
expression written ``</.../>``. Rules with a country ``condition`` never match (there is no country here).
:func:`resolve` is pure, so the rules are unit-tested without a server.

A proxy rewrite to a load balancer (``/api/<*>`` to ``http://<its DNS name>/api/<*>``, as roles/edge writes
it) cannot resolve that name here: ``Sites.upstream`` maps a (host, port) to the loopback address of the
sandbox's proxy for that listener (the server wires it to ``Listeners.loopback_address``), and
:func:`proxy_target` uses it. Any other host is opened as it is, and fails as it would.
"""

from __future__ import annotations

import contextlib
import mimetypes
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from sandbox.state import HOST

PROXY_TIMEOUT = 30.0
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "host", "te", "trailers"}
)

# (host, port) of a URL -> the loopback (host, port) serving it instead, or None to open the URL as it is.
Upstream = Callable[[str, int], tuple[str, int] | None]


def no_upstream(host: str, port: int) -> tuple[str, int] | None:
    return None


@dataclass(frozen=True)
class Deployment:
    """One job's artifact: relative path -> bytes."""

    job_id: str
    source_url: str | None
    files: Mapping[str, bytes]


@dataclass(frozen=True)
class Outcome:
    """What to answer: a file (``path``), a redirect or proxy (``location``), or nothing (404)."""

    status: int
    path: str | None = None
    location: str | None = None
    proxy: bool = False


def lookup(path: str, files: Mapping[str, bytes]) -> str | None:
    """The file a URL path names: ``/`` and ``/dir/`` mean their ``index.html``; ``/dir`` tries it too."""
    name = unquote(path).lstrip("/")
    if name == "" or name.endswith("/"):
        name += "index.html"
    if name in files:
        return name
    if f"{name}/index.html" in files:
        return f"{name}/index.html"
    return None


@lru_cache(maxsize=256)
def _compile(source: str) -> tuple[re.Pattern[str], bool] | None:
    """(pattern, is_regex) for a rule's source, or None for sources that cannot match a path."""
    if source.startswith("</") and source.endswith("/>"):
        try:
            return re.compile(source[2:-2]), True
        except re.error:
            return None
    if not source.startswith("/"):
        return None  # full URLs (domain redirects) are not served here
    regex = ""
    for piece in re.split(r"(<[^>]+>)", source):
        if piece == "<*>":
            regex += "(?P<_star>.*)"
        elif piece.startswith("<") and piece.endswith(">") and re.fullmatch(r"<\w+>", piece):
            regex += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            regex += re.escape(piece)
    return re.compile(regex), False


def match_rule(rule: Mapping[str, Any], path: str) -> dict[str, str] | None:
    """The placeholder values when ``rule``'s source matches ``path``, else None."""
    if rule.get("condition"):
        return None
    compiled = _compile(str(rule.get("source") or ""))
    if compiled is None:
        return None
    pattern, is_regex = compiled
    if is_regex:
        return {} if pattern.search(path) else None
    found = pattern.fullmatch(path)
    return None if found is None else {key: value or "" for key, value in found.groupdict().items()}


def substitute(target: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        target = target.replace("<*>" if name == "_star" else f"<{name}>", value)
    return target


def resolve(path: str, query: str, files: Mapping[str, bytes], rules: Sequence[Mapping[str, Any]]) -> Outcome:
    """How Amplify answers ``path`` given the deployed ``files`` and the app's ``rules``."""
    direct = lookup(path, files)
    for rule in rules:
        values = match_rule(rule, path)
        if values is None:
            continue
        status = str(rule.get("status") or "200")
        if status.startswith("404-"):
            if direct is not None:
                return Outcome(200, path=direct)
            status = status[4:]
        target = substitute(str(rule.get("target") or "/"), values)
        if status in ("301", "302", "307", "308"):
            return Outcome(
                int(status), location=target + (f"?{query}" if query and "?" not in target else "")
            )
        if target.startswith(("http://", "https://")):
            return Outcome(int(status), location=target + (f"?{query}" if query else ""), proxy=True)
        found = lookup(target.split("?", 1)[0], files)
        if found is None:
            return Outcome(404)
        return Outcome(int(status) if status.isdigit() else 200, path=found)
    if direct is not None:
        return Outcome(200, path=direct)
    return Outcome(404, path="404.html" if "404.html" in files else None)


def proxy_target(url: str, upstream: Upstream) -> tuple[str, str | None]:
    """The URL to open for a proxy rewrite to ``url``, and the Host header to send (None: the URL's own).

    When ``upstream`` knows the URL's host and port (default 80, or 443 for https), the request goes to that
    loopback address over plain HTTP, as the sandbox's listeners serve even for HTTPS, carrying the original
    Host so the listener's host-header rules see what a load balancer would.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number: let urllib report it
        return url, None
    address = upstream(parts.hostname, port) if parts.hostname else None
    if address is None:
        return url, None
    loopback = f"{address[0]}:{address[1]}"
    return urlunsplit(("http", loopback, parts.path, parts.query, "")), parts.netloc.rpartition("@")[2]


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"  # what Amplify's CloudFront origin answers as
    server: SiteServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with contextlib.suppress(Exception):  # the emulator's bookkeeping must never break serving
            self.server.refresh()
        deployment = self.server.deployment
        if deployment is None:
            text = f"No deployment on branch {self.server.branch} yet".encode()
            self._reply(404, text, [("Content-Type", "text/plain")])
            return
        path, _, query = self.path.partition("?")
        outcome = resolve(path, query, deployment.files, self.server.rules())
        if outcome.proxy and outcome.location:
            self._proxy(outcome.location, body)
        elif outcome.location:
            self._reply(outcome.status, b"", [("Location", outcome.location)])
        elif outcome.path is not None:
            content_type = mimetypes.guess_type(outcome.path)[0] or "application/octet-stream"
            headers = [
                ("Content-Type", content_type),
                ("Cache-Control", "no-cache"),
                ("x-amz-job-id", deployment.job_id),
            ]
            self._reply(outcome.status, deployment.files[outcome.path], headers)
        else:
            self._reply(404, b"404 Not Found", [("Content-Type", "text/plain")])

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = handle_any

    def _proxy(self, url: str, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        url, host = proxy_target(url, self.server.upstream)
        if host is not None:
            headers["Host"] = host
        request = urllib.request.Request(url, data=body or None, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=PROXY_TIMEOUT) as response:
                status, payload, answer = response.status, response.read(), response.getheaders()
        except urllib.error.HTTPError as err:
            status, payload, answer = err.code, err.read(), list(err.headers.items())
        except (urllib.error.URLError, OSError) as err:
            self._reply(502, f"Bad Gateway: {err}".encode(), [("Content-Type", "text/plain")])
            return
        self._reply(status, payload, [(k, v) for k, v in answer if k.lower() not in HOP_BY_HOP])


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        app_id: str,
        app_name: str,
        branch: str,
        rules: Callable[[], Sequence[Mapping[str, Any]]],
        refresh: Callable[[], None],
        upstream: Upstream = no_upstream,
    ) -> None:
        super().__init__((HOST, 0), SiteHandler)
        self.app_id, self.app_name, self.branch = app_id, app_name, branch
        self.rules, self.refresh, self.upstream = rules, refresh, upstream
        self.deployment: Deployment | None = None
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="sandbox-site"
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def describe(self) -> dict[str, Any]:
        deployment = self.deployment
        return {
            "app_id": self.app_id,
            "app_name": self.app_name,
            "branch": self.branch,
            "url": self.url,
            "job_id": deployment.job_id if deployment else None,
            "source_url": deployment.source_url if deployment else None,
        }

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@dataclass
class Sites:
    """One :class:`SiteServer` per (app, branch).

    ``rules(app_id)`` gives an app's current custom rules; ``refresh()`` lets the Amplify emulator advance
    its jobs before a request is answered; ``upstream`` resolves a proxy rewrite's host and port (see
    :func:`proxy_target`), read at each request so it can be wired after the sites exist. Lock order: the
    emulator's lock, then this one, never the reverse.
    """

    rules: Callable[[str], Sequence[Mapping[str, Any]]]
    refresh: Callable[[], None]
    upstream: Upstream = no_upstream
    servers: dict[tuple[str, str], SiteServer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure(self, app_id: str, app_name: str, branch: str) -> SiteServer:
        with self.lock:
            server = self.servers.get((app_id, branch))
            if server is None:
                server = SiteServer(
                    app_id,
                    app_name,
                    branch,
                    lambda: self.rules(app_id),
                    self.refresh,
                    lambda host, port: self.upstream(host, port),
                )
                self.servers[(app_id, branch)] = server
            server.app_name = app_name
            return server

    def activate(self, app_id: str, app_name: str, branch: str, deployment: Deployment) -> None:
        self.ensure(app_id, app_name, branch).deployment = deployment  # one assignment: atomic switch

    def rename(self, app_id: str, app_name: str) -> None:
        with self.lock:
            for (owner, _branch), server in self.servers.items():
                if owner == app_id:
                    server.app_name = app_name

    def remove(self, app_id: str, branch: str | None = None) -> None:
        with self.lock:
            keys = [key for key in self.servers if key[0] == app_id and branch in (None, key[1])]
            doomed = [self.servers.pop(key) for key in keys]
        for server in doomed:
            with contextlib.suppress(OSError):
                server.stop()

    def list(self) -> list[dict[str, Any]]:
        with self.lock:
            servers = list(self.servers.values())
        return [server.describe() for server in servers]

    def stop_all(self) -> None:
        with self.lock:
            servers, self.servers = list(self.servers.values()), {}
        for server in servers:
            with contextlib.suppress(OSError):
                server.stop()
