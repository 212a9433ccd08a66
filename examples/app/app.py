"""A minimal API: what the sandbox runs as an ECS task (stdlib only).

Routes: ``GET /health`` -> 200 {"status": "ok"}; ``GET /version`` -> {"version": APP_VERSION};
``GET /`` -> a small JSON document; ``GET /items`` -> the migrated ``items`` table's rows, read through
``DATABASE_URL`` (503 when it is unset or the database is unreachable); ``GET /env/<NAME>`` -> the
variable's value, only for names listed in ``APP_EXPOSE_ENV`` (comma-separated; a sandbox convenience to
check that secrets arrive).

Every route also answers under ``/api`` (``GET /api/version``, ...): the client's site rewrites
``/api/<*>`` to ``<load balancer>/api/<*>``, so the client calls the API on its own origin.

Environment: ``PORT`` (required), ``APP_VERSION`` (default "dev"), ``APP_HOST`` (default 127.0.0.1),
faults ``APP_HEALTH=fail`` (the health path answers 500), ``APP_CRASH_AT_START=1`` (exit 1 at once),
``APP_SLOW_MS=<n>`` (every response waits n ms). SIGTERM stops it gracefully.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "dev")
STARTED = time.time()


def _slow_seconds() -> float:
    try:
        return max(int(os.environ.get("APP_SLOW_MS") or 0), 0) / 1000.0
    except ValueError:
        return 0.0


def _items() -> tuple[int, dict]:
    """``GET /items``: the rows of the migrated ``items`` table, or a 503 that says what is missing."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return 503, {"error": "DATABASE_URL is not set: the task has no database secret"}
    try:
        import psycopg  # only this route needs a database driver
    except ImportError:
        return 503, {"error": "psycopg is not installed"}
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            rows = conn.execute("SELECT id, name, quantity FROM items ORDER BY id").fetchall()
    except psycopg.Error as err:
        return 503, {"error": f"database unavailable: {type(err).__name__}: {str(err).strip()}"}
    return 200, {"items": [{"id": i, "name": n, "quantity": q} for i, n, q in rows], "version": VERSION}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "example-app"

    def log_message(self, format: str, *args: object) -> None:  # quiet: the sandbox's log is shared
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        delay = _slow_seconds()
        if delay:
            time.sleep(delay)
        path = self.path.split("?", 1)[0]
        if path == "/api" or path.startswith("/api/"):  # the client's site proxies /api/<*> here as is
            path = path[len("/api") :] or "/"
        if path == "/health":
            if os.environ.get("APP_HEALTH", "").lower() == "fail":
                self._send(500, {"status": "failing"})
            else:
                self._send(200, {"status": "ok"})
        elif path == "/version":
            self._send(200, {"version": VERSION})
        elif path == "/items":
            self._send(*_items())
        elif path.startswith("/env/"):
            name = path[len("/env/") :]
            exposed = {
                item.strip() for item in os.environ.get("APP_EXPOSE_ENV", "").split(",") if item.strip()
            }
            if name in exposed and name in os.environ:
                self._send(200, {"name": name, "value": os.environ[name]})
            else:
                self._send(404, {"error": f"{name} is not exposed"})
        elif path == "/":
            self._send(
                200,
                {
                    "app": "example",
                    "version": VERSION,
                    "pid": os.getpid(),
                    "uptime": round(time.time() - STARTED, 3),
                },
            )
        else:
            self._send(404, {"error": "not found", "path": path})

    do_HEAD = do_GET


def main() -> int:
    if os.environ.get("APP_CRASH_AT_START") in ("1", "true", "yes"):
        print("APP_CRASH_AT_START set: exiting 1", file=sys.stderr, flush=True)
        return 1
    port = int(os.environ["PORT"])
    server = ThreadingHTTPServer((os.environ.get("APP_HOST", "127.0.0.1"), port), Handler)
    server.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
