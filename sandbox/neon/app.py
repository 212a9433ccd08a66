"""The Neon API v2 subset as a WSGI app, mounted on the sandbox's front door under ``/neon/api/v2``.

The sandbox's own admin route, outside Neon's API: ``PUT /neon/_sandbox/projects/<id>/plan`` with
``{"plan": "free" | "launch" | "scale"}`` moves a project to that plan (sandbox.neon.plans).

Each request: route -> Bearer key (401) -> fault rules (service ``neon``, action = the operation name, e.g.
``CreateProjectBranch``) -> the model -> the request log. Errors are Neon's ``{request_id, code, message}``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.faults import FaultSet
from sandbox.neon.model import NeonApiError, NeonModel
from sandbox.requestlog import RequestLog

PREFIX = "/neon/api/v2"
ADMIN_PREFIX = "/neon/_sandbox"
SERVICE = "neon"
# When set, the only API key accepted; otherwise any non-empty Bearer key is.
API_KEY_ENV = "SANDBOX_NEON_API_KEY"

_P = "/projects/<project_id>"
_B = _P + "/branches/<branch_id>"
URL_MAP = Map(
    [
        Rule("/projects", methods=["GET"], endpoint="ListProjects"),
        Rule("/projects", methods=["POST"], endpoint="CreateProject"),
        Rule(_P, methods=["GET"], endpoint="GetProject"),
        Rule(_P, methods=["PATCH"], endpoint="UpdateProject"),
        Rule(_P, methods=["DELETE"], endpoint="DeleteProject"),
        Rule(_P + "/branches", methods=["GET"], endpoint="ListProjectBranches"),
        Rule(_P + "/branches", methods=["POST"], endpoint="CreateProjectBranch"),
        Rule(_B, methods=["GET"], endpoint="GetProjectBranch"),
        Rule(_B, methods=["PATCH"], endpoint="UpdateProjectBranch"),
        Rule(_B, methods=["DELETE"], endpoint="DeleteProjectBranch"),
        Rule(_B + "/restore", methods=["POST"], endpoint="RestoreProjectBranch"),
        Rule(_B + "/endpoints", methods=["GET"], endpoint="ListProjectBranchEndpoints"),
        Rule(_B + "/roles", methods=["GET"], endpoint="ListProjectBranchRoles"),
        Rule(_B + "/roles", methods=["POST"], endpoint="CreateProjectBranchRole"),
        Rule(_B + "/roles/<role_name>", methods=["GET"], endpoint="GetProjectBranchRole"),
        Rule(
            _B + "/roles/<role_name>/reveal_password",
            methods=["GET"],
            endpoint="GetProjectBranchRolePassword",
        ),
        Rule(_B + "/databases", methods=["GET"], endpoint="ListProjectBranchDatabases"),
        Rule(_B + "/databases", methods=["POST"], endpoint="CreateProjectBranchDatabase"),
        Rule(_P + "/endpoints", methods=["GET"], endpoint="ListProjectEndpoints"),
        Rule(_P + "/endpoints", methods=["POST"], endpoint="CreateProjectEndpoint"),
        Rule(_P + "/endpoints/<endpoint_id>", methods=["GET"], endpoint="GetProjectEndpoint"),
        Rule(_P + "/endpoints/<endpoint_id>", methods=["PATCH"], endpoint="UpdateProjectEndpoint"),
        Rule(_P + "/connection_uri", methods=["GET"], endpoint="GetConnectionURI"),
        Rule(_P + "/operations", methods=["GET"], endpoint="ListProjectOperations"),
        Rule(_P + "/operations/<operation_id>", methods=["GET"], endpoint="GetProjectOperation"),
    ],
    strict_slashes=False,
)


def error_body(message: str, code: str = "") -> dict[str, str]:
    return {"request_id": str(uuid.uuid4()), "code": code, "message": message}


def _response(status: int, data: Any) -> Response:
    if status == 204 or data is None:
        return Response(status=status)
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _limit(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise NeonApiError(400, "limit must be an integer") from None


class NeonApp:
    def __init__(
        self,
        model: NeonModel,
        faults: FaultSet | None = None,
        log: RequestLog | None = None,
        api_key: str | None = None,
    ) -> None:
        self.model = model
        self.faults = faults or FaultSet()
        self.log = log or RequestLog()
        configured = os.environ.get(API_KEY_ENV) if api_key is None else api_key
        self.api_key = configured or None  # None or "": any non-empty key is accepted

    def reset(self) -> dict[str, Any]:
        return self.model.reset()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(ADMIN_PREFIX + "/"):
            return self.admin(request)(environ, start_response)
        started, clock = time.time(), time.perf_counter()
        path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        operation = f"{request.method} {request.path}"
        faulted = False
        try:
            try:
                operation, values = URL_MAP.bind("neon.sandbox").match(path, method=request.method)
            except NotFound:
                raise NeonApiError(404, f"no such API route: {request.method} {request.path}") from None
            except MethodNotAllowed:
                raise NeonApiError(405, f"method {request.method} not allowed on {request.path}") from None
            self._authorise(request)
            rule = self.faults.pick({SERVICE}, operation)
            if rule is not None:
                faulted = True
                raise NeonApiError(rule.status, rule.describe(), rule.code)
            status, data = self.handle(operation, values, request)
            response = _response(status, data)
        except NeonApiError as err:
            response = _response(err.status, error_body(err.message, err.code))
        self.log.record(
            service=SERVICE,
            api=SERVICE,
            operation=operation,
            write=write,
            status=response.status_code,
            time=started,
            duration_ms=round((time.perf_counter() - clock) * 1000, 3),
            faulted=faulted,
            method=request.method,
            path=request.path,
        )
        return response(environ, start_response)

    def admin(self, request: Request) -> Response:
        parts = request.path[len(ADMIN_PREFIX) :].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "projects" or parts[2] != "plan" or request.method != "PUT":
            return _response(404, {"error": f"no admin route {request.method} {request.path}"})
        body = request.get_json(silent=True, force=True)
        if not isinstance(body, dict) or not isinstance(body.get("plan"), str):
            return _response(400, {"error": 'PUT a JSON object: {"plan": "free" | "launch" | "scale"}'})
        try:
            return _response(200, self.model.set_plan(parts[1], body["plan"]))
        except ValueError as err:
            return _response(400, {"error": str(err)})
        except NeonApiError as err:
            return _response(err.status, error_body(err.message, err.code))

    def _authorise(self, request: Request) -> None:
        scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise NeonApiError(
                401, "authentication required: send the header 'Authorization: Bearer <API key>'"
            )
        if self.api_key is not None and key != self.api_key:
            raise NeonApiError(401, "the API key is not valid")

    def handle(self, operation: str, values: dict[str, str], request: Request) -> tuple[int, Any]:
        model = self.model
        project = values.get("project_id", "")
        branch = values.get("branch_id", "")
        body: Any = None
        if request.method in ("POST", "PATCH"):
            body = request.get_json(silent=True, force=True)
            if body is None and request.get_data():
                raise NeonApiError(400, "the body is not valid JSON")
            body = body if body is not None else {}
        args = request.args
        if operation == "ListProjects":
            return 200, model.list_projects()
        if operation == "CreateProject":
            return 201, model.create_project(body)
        if operation == "GetProject":
            return 200, model.get_project(project)
        if operation == "UpdateProject":
            return 200, model.update_project(project, body)
        if operation == "DeleteProject":
            status, data = model.delete_project(project)
            if status == 404:
                raise NeonApiError(404, f"project {project} not found")
            return status, data
        if operation == "ListProjectBranches":
            return 200, model.list_branches(
                project, args.get("search"), _limit(args.get("limit")), args.get("cursor")
            )
        if operation == "CreateProjectBranch":
            return 201, model.create_branch(project, body)
        if operation == "GetProjectBranch":
            return 200, model.get_branch(project, branch)
        if operation == "UpdateProjectBranch":
            return 200, model.update_branch(project, branch, body)
        if operation == "DeleteProjectBranch":
            return model.delete_branch(project, branch)
        if operation == "RestoreProjectBranch":
            return 200, model.restore_branch(project, branch, body)
        if operation == "ListProjectBranchEndpoints":
            return 200, model.list_endpoints(project, branch)
        if operation == "ListProjectBranchRoles":
            return 200, model.list_roles(project, branch)
        if operation == "CreateProjectBranchRole":
            return 201, model.create_role(project, branch, body)
        if operation == "GetProjectBranchRole":
            return 200, model.get_role(project, branch, values["role_name"])
        if operation == "GetProjectBranchRolePassword":
            return 200, model.reveal_password(project, branch, values["role_name"])
        if operation == "ListProjectBranchDatabases":
            return 200, model.list_databases(project, branch)
        if operation == "CreateProjectBranchDatabase":
            return 201, model.create_database(project, branch, body)
        if operation == "ListProjectEndpoints":
            return 200, model.list_endpoints(project)
        if operation == "CreateProjectEndpoint":
            return 201, model.create_endpoint(project, body)
        if operation == "GetProjectEndpoint":
            return 200, model.get_endpoint(project, values["endpoint_id"])
        if operation == "UpdateProjectEndpoint":
            return 200, model.update_endpoint(project, values["endpoint_id"], body)
        if operation == "GetConnectionURI":
            return 200, model.connection_uri(
                project, args.get("branch_id"), args.get("database_name"), args.get("role_name")
            )
        if operation == "ListProjectOperations":
            return 200, model.list_operations(project)
        if operation == "GetProjectOperation":
            return 200, model.get_operation(project, values["operation_id"])
        raise NeonApiError(404, f"no handler for {operation}")
