"""The data plane's one thread: every 100 ms it advances ECS deployments, probes targets and keeps one
proxy per listener; plus the admin routes (``/_sandbox/listeners``, ``/_sandbox/tasks``,
``/_sandbox/task-faults``) and what ``reset`` and shutdown must undo."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.aws import elbv2, security_groups
from sandbox.aws.ecs import Deployments, ECSOverlay, WSGIApp
from sandbox.dataplane.listeners import Listeners
from sandbox.dataplane.tasks import TaskFault

TICK = 0.1
LISTENER_SYNC = 0.3


def _json(data: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(data), status=status, mimetype="application/json")


class DataPlane:
    def __init__(self, log_dir: Path | None = None) -> None:
        elbv2.install()
        self.engine = Deployments(log_dir)
        self.listeners = Listeners()
        self.registry = elbv2.REGISTRY
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sync = 0.0

    def wrap(self, aws_app: WSGIApp) -> WSGIApp:
        """moto's WSGI app behind the ECS overlay."""
        return ECSOverlay(aws_app, self.engine)

    # -- the thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-reconciler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()

    def tick(self) -> None:
        try:
            with self.engine.lock:
                self.engine.tick()
                self.registry.tick()
            now = time.monotonic()
            if now - self._last_sync >= LISTENER_SYNC:
                self._last_sync = now
                self.listeners.sync()
        except Exception:  # the reconciler must outlive any one bug
            traceback.print_exc()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.engine.lock:
            self.engine.shutdown()
            self.registry.clear()
        self.listeners.stop_all()
        self.registry.shutdown()

    def reset(self, then: Callable[[], None] | None = None) -> None:
        """Stop every task and proxy and forget them (``then``, e.g. moto's reset, runs under the lock)."""
        with self.engine.lock:
            self.engine.shutdown()
            self.registry.clear()
            self.engine.faults.clear()
            self.listeners.stop_all()
            security_groups.ADDRESSES.clear()  # the tasks are gone (their addresses are not handed out again)
            if then is not None:
                then()

    # -- admin routes -------------------------------------------------------------------------------
    def admin(self, request: Request, route: str) -> Response | None:
        method = request.method
        if route == "listeners" and method == "GET":
            self.listeners.sync()
            return _json(self.listeners.list())
        if route == "tasks" and method == "GET":
            with self.engine.lock:
                return _json(self.engine.tasks())
        if route == "task-faults":
            if method == "GET":
                return _json(self.engine.faults.list())
            if method == "DELETE":
                self.engine.faults.clear()
                return _json({"cleared": True})
            if method == "POST":
                data = request.get_json(silent=True)
                if not isinstance(data, dict):
                    return _json({"error": 'POST a JSON object: {"image_tag", "mode", ["slow_ms"]}'}, 400)
                try:
                    fault = self.engine.faults.add(TaskFault.from_dict(data))
                except ValueError as err:
                    return _json({"error": str(err)}, 400)
                return _json(fault.to_dict(), 201)
            return _json({"error": f"method {method} not allowed"}, 405)
        return None
