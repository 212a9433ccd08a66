"""The front door: one threaded WSGI server on 127.0.0.1 in front of moto.

Each request goes: admin routes (``/_sandbox/...``) | identify the AWS call -> fault rules -> moto -> log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from io import BytesIO
from types import FrameType
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.faults import FaultRule, FaultSet, RuleError
from sandbox.postgres import Postgres
from sandbox.protocols import Call, identify, render_error
from sandbox.requestlog import RequestLog
from sandbox.state import HOST, State, free_port

# moto reads its settings when its backends are created; set them before anything imports moto.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

ADMIN_PREFIX = "/_sandbox/"
NEON_PREFIX = "/neon/"
# "manual" progression with an unreachable tick count: tasks stay RUNNING until stopped.
ECS_TASK_TRANSITION = {"progression": "manual", "times": 10**9}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]


def keep_ecs_tasks_running() -> None:
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", ECS_TASK_TRANSITION)


def build_iam_backends() -> None:
    """Build the default account's IAM backends now rather than on the first request.

    Every signed request looks its access key up in each partition's IAM backend, and moto builds a
    backend (loading AWS's managed policies: about a second) on first use; a request that meets one still
    being built fails with a 500. Building them before requests arrive closes that window.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    for partition in PARTITION_NAMES:
        iam_backends[DEFAULT_ACCOUNT_ID][partition]  # noqa: B018 (building is the point)


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    keep_ecs_tasks_running()
    build_iam_backends()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back as a fresh stream for moto."""
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length.isdigit():
        body = stream.read(int(length))
    elif environ.get(
        "wsgi.input_terminated"
    ):  # chunked: the server de-chunks, we set the length moto expects
        body = stream.read()
        environ["CONTENT_LENGTH"] = str(len(body))
    else:
        body = b""
    environ["wsgi.input"] = BytesIO(body)
    return body


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes")


class SandboxApp:
    def __init__(
        self,
        aws_app: WSGIApp,
        info: dict[str, Any],
        postgres: Postgres | None = None,
        faults: FaultSet | None = None,
        log: RequestLog | None = None,
        reset_aws: Callable[[], None] = reset_moto,
        dataplane: Any = None,
        amplify: Any = None,
    ) -> None:
        self.aws_app = aws_app
        self.info = info
        self.postgres = postgres
        self.faults = faults or FaultSet()
        self.log = log or RequestLog()
        self.reset_aws = reset_aws
        self.dataplane = dataplane  # sandbox.dataplane.reconciler.DataPlane: tasks, listeners, target health
        self.amplify = amplify  # sandbox.aws.amplify.Amplify: the Amplify API, its uploads, faults and sites
        self.neon: Any = None  # sandbox.neon.NeonApp: the Neon API under /neon/api/v2
        self.rds: Any = None  # sandbox.aws.rds.RdsStandIn: RDS instances' real databases

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self.admin(Request(environ))(environ, start_response)
        if self.neon is not None and path.startswith(NEON_PREFIX):
            return self.neon(environ, start_response)
        body = _buffer_body(environ)
        call = identify(
            environ["REQUEST_METHOD"], path, _headers(environ), environ.get("QUERY_STRING", ""), body
        )
        if call is None:  # moto's own API (/moto-api), unsigned calls: pass through, unlogged
            return self.aws_app(environ, start_response)
        return self.aws(call, environ, start_response)

    def aws(self, call: Call, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started, clock = time.time(), time.perf_counter()
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")

        def record(status: int, faulted: bool) -> None:
            duration_ms = round((time.perf_counter() - clock) * 1000, 3)
            self.log.record(
                service=call.service,
                api=call.api,
                operation=call.operation,
                write=call.write,
                status=status,
                time=started,
                duration_ms=duration_ms,
                faulted=faulted,
                method=method,
                path=path,
            )

        rule = self.faults.pick(call.names(), call.operation)
        if rule is not None:
            headers, body = render_error(call, rule.code, rule.describe(), rule.status)
            if method == "HEAD":
                body = b""
            start_response(_status_line(rule.status), [*headers, ("Content-Length", str(len(body)))])
            record(rule.status, faulted=True)
            return [body]

        status = [500]  # stays 500 if moto raises

        def capture(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            chunks = self.aws_app(environ, capture)
            try:
                content = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()
        finally:
            record(status[0], faulted=False)
        return [content]

    def admin(self, request: Request) -> Response:
        route = request.path[len(ADMIN_PREFIX) :].strip("/")
        method = request.method
        if route == "health" and method == "GET":
            return _json({"ok": True, **self.info})
        if route == "requests" and method == "GET":
            since = request.args.get("since")
            return _json(
                self.log.query(
                    service=request.args.get("service") or None,
                    write=_flag(request.args.get("write")),
                    since=float(since) if since else None,
                )
            )
        if route == "requests" and method == "DELETE":
            self.log.clear()
            return _json({"cleared": True})
        if route == "faults":
            return self.admin_faults(request)
        if route.startswith("faults/") and method == "DELETE":
            return self.admin_delete_fault(route.partition("/")[2])
        if route == "reset" and method == "POST":
            return _json(self.reset())
        if self.amplify is not None:
            response = self.amplify.admin(request, route)
            if response is not None:
                return response
        if self.dataplane is not None:
            response = self.dataplane.admin(request, route)
            if response is not None:
                return response
        if route == "rds" and method == "GET" and self.rds is not None:
            return _json(self.rds.listing())
        return _json({"error": f"no admin route {method} {request.path}"}, status=404)

    def admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return _json(self.faults.list())
        if request.method == "DELETE":
            self.faults.clear()
            return _json({"cleared": True})
        if request.method == "POST":
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                return _json(
                    {"error": "POST a JSON object: service, code, [action, status, rate, count]"}, 400
                )
            try:
                rule = self.faults.add(FaultRule.from_dict(data))
            except RuleError as err:
                return _json({"error": str(err)}, status=400)
            return _json(rule.to_dict(), status=201)
        return _json({"error": f"method {request.method} not allowed"}, status=405)

    def admin_delete_fault(self, rule_id: str) -> Response:
        if not rule_id.isdigit() or not self.faults.remove(int(rule_id)):
            return _json({"error": f"no fault rule {rule_id}"}, status=404)
        return _json({"removed": int(rule_id)})

    def reset(self) -> dict[str, Any]:
        if self.dataplane is not None:
            self.dataplane.reset(then=self.reset_aws)  # stop tasks and proxies, then reset moto
        else:
            self.reset_aws()
        if self.amplify is not None:
            self.amplify.reset()  # apps, jobs, uploads, job faults; stops the sites
        self.faults.clear()
        self.log.clear()
        dropped = self.postgres.drop_user_databases() if self.postgres else []
        if self.rds is not None:
            self.rds.cleanup()  # its bookkeeping and roles (its databases are dropped above)
            from sandbox.aws import elasticache

            elasticache.reset()
        neon = {"neon": self.neon.reset()} if self.neon is not None else {}  # re-seeds its project
        return {"reset": True, "dropped_databases": dropped, **neon}


def serve(state: State) -> int:
    """Run the sandbox in the foreground until SIGTERM/SIGINT (``up`` runs this detached)."""
    state.ensure()
    pg_port = int(os.environ.get("SANDBOX_PG_PORT") or free_port())
    postgres = Postgres(state.pg_data, pg_port, state.pg_log)
    dataplane = None
    amplify = None
    rds_standin = None
    try:
        postgres.init()
        postgres.start()
        # Import moto while Postgres starts.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        keep_ecs_tasks_running()
        build_iam_backends()
        postgres.wait_ready()
        info = {
            "pid": os.getpid(),
            "port": state.port,
            "postgres_pid": postgres.pid,
            "endpoints": {"aws": f"http://{HOST}:{state.port}", "postgres": postgres.dsn},
        }
        from sandbox.aws import budgets
        from sandbox.aws.amplify import Amplify
        from sandbox.dataplane.reconciler import DataPlane

        dataplane = DataPlane(state.root / "tasks")
        amplify = Amplify()
        amplify.sites.upstream = dataplane.listeners.loopback_address  # a site's rewrite to a load balancer
        app = SandboxApp(
            amplify.wrap(dataplane.wrap(budgets.wrap(DomainDispatcherApplication(create_backend_app)))),
            info,
            postgres=postgres,
            dataplane=dataplane,
            amplify=amplify,
        )
        from sandbox.neon import PREFIX as NEON_API
        from sandbox.neon import SEED_PROJECT_ID
        from sandbox.neon import build as build_neon

        app.neon = build_neon(postgres.dsn, postgres.port, faults=app.faults, log=app.log)
        from sandbox.aws import elasticache, rds
        from sandbox.neon import PostgresBackend

        rds_standin = rds.RdsStandIn(PostgresBackend(postgres.dsn, postgres.port), proxied=True)
        rds_standin.cleanup()  # databases left by a sandbox that was killed outright
        rds.install(rds_standin)
        elasticache.install()
        app.rds = rds_standin
        info["endpoints"]["neon"] = f"http://{HOST}:{state.port}{NEON_API}"
        info["endpoints"]["neon_project_id"] = SEED_PROJECT_ID
        dataplane.start()
        httpd = make_server(HOST, state.port, app, threaded=True, request_handler=MotoRequestHandler)

        def stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() waits for serve_forever to return, so it cannot run on serve_forever's own thread.
            threading.Thread(target=httpd.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        state.pid_file.write_text(str(os.getpid()))
        state.write_info(info)
        print(f"sandbox serving on {info['endpoints']['aws']}, postgres {postgres.dsn}", flush=True)
        httpd.serve_forever(poll_interval=0.1)  # shutdown() waits up to one poll interval
    except Exception:
        # A start-up step's "server closed the connection unexpectedly" says nothing of why PostgreSQL
        # went away: its log does (`up` shows the tail of this output when start-up fails).
        with contextlib.suppress(Exception):
            cause = postgres.diagnose()
            if cause:
                print(f"postgres ({state.pg_log}):\n{cause}", file=sys.stderr, flush=True)
        raise
    finally:
        if dataplane is not None:
            dataplane.stop()  # task processes and listener proxies
        if amplify is not None:
            amplify.stop()  # the branches' site servers
        if rds_standin is not None:
            with contextlib.suppress(Exception):  # best effort: the next up drops what is left
                rds_standin.cleanup()
        postgres.stop()
        if state.read_pid() == os.getpid():
            state.forget()
    print("sandbox stopped", file=sys.stderr, flush=True)
    return 0
