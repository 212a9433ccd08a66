"""Who is calling what: service, operation and wire protocol of an AWS request, and errors in that protocol.

Everything here is pure (no I/O beyond botocore's bundled service models), so it is unit-tested directly.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import ServiceModel

# SigV4 signing names that differ from botocore's service names.
SIGNING_ALIASES: dict[str, str] = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "states": "stepfunctions",
    "elasticloadbalancing": "elbv2",
    "execute-api": "apigateway",
    "es": "opensearch",
    "tagging": "resourcegroupstaggingapi",
    "elasticfilesystem": "efs",
    "aps": "amp",
}

# Classic ELB and ELBv2 share the signing name; the API version in the body tells them apart.
_ELB_CLASSIC_VERSION = "2012-06-01"

READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Head",
    "Search",
    "Lookup",
    "Check",
    "Validate",
    "Query",
    "Scan",
    "BatchGet",
    "Estimate",
    "Preview",
    "Simulate",
    "Test",
    "Poll",
)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_CREDENTIAL_RE = re.compile(r"Credential=([^,\s]+)")


@dataclass(frozen=True)
class Call:
    """One identified AWS call."""

    service: str  # the SigV4 signing name, as in the credential scope ("ec2", "monitoring")
    api: str  # botocore's service name ("ec2", "cloudwatch"); equals service for most
    operation: str
    protocol: str
    write: bool

    def names(self) -> frozenset[str]:
        return frozenset({self.service, self.api})


def is_write(operation: str) -> bool:
    """False for operations that only read, by AWS's naming convention."""
    if " " in operation:  # an unmatched REST call, "METHOD /path"
        return operation.split(" ", 1)[0] not in READ_METHODS
    return not operation.startswith(READ_PREFIXES)


def scope_service(authorization: str | None, query: Mapping[str, list[str]]) -> str | None:
    """The service from a SigV4 credential scope: ``AKID/date/region/SERVICE/aws4_request``."""
    credential = None
    if authorization:
        match = _CREDENTIAL_RE.search(authorization)
        credential = match.group(1) if match else None
    elif query.get("X-Amz-Credential"):
        credential = query["X-Amz-Credential"][0]
    if not credential:
        return None
    parts = credential.split("/")
    return parts[-2].lower() if len(parts) >= 5 else None


@cache
def service_model(api: str) -> ServiceModel | None:
    try:
        return _session().get_service_model(api)
    except UnknownServiceError:
        return None


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def model_protocol(api: str) -> str | None:
    """The protocol botocore's clients speak to this service (resolved, as clients do)."""
    model = service_model(api)
    if model is None:
        return None
    resolved = getattr(model, "resolved_protocol", None)
    return resolved or model.metadata.get("protocol")


def api_name(service: str, form: Mapping[str, list[str]]) -> str:
    if service == "elasticloadbalancing" and form.get("Version", [""])[0] == _ELB_CLASSIC_VERSION:
        return "elb"
    return SIGNING_ALIASES.get(service, service)


def wire_protocol(api: str, headers: Mapping[str, str], form: Mapping[str, list[str]]) -> str:
    """The protocol of this very request: what the client will expect its error in.

    The request shows it more reliably than the model when a service offers several protocols.
    """
    content_type = headers.get("content-type", "")
    if headers.get("smithy-protocol") == "rpc-v2-cbor":
        return "smithy-rpc-v2-cbor"
    if headers.get("x-amz-target") and "json" in content_type:
        return "json"
    if "Action" in form:
        return "ec2" if api == "ec2" else "query"
    return model_protocol(api) or "rest-json"


def operation_name(
    api: str,
    protocol: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    form: Mapping[str, list[str]],
    query: Mapping[str, list[str]],
) -> str:
    if protocol == "json":
        return headers.get("x-amz-target", "").rpartition(".")[2] or f"{method} {path}"
    if protocol in ("query", "ec2"):
        return form.get("Action", [f"{method} {path}"])[0]
    if protocol == "smithy-rpc-v2-cbor":
        return path.rstrip("/").rpartition("/")[2]
    return match_rest_operation(api, method, path, query, headers) or f"{method} {path}"


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # (key, value or None for "any value")
    headers: tuple[str, ...]  # required header members, lower case
    operation: str
    weight: int


def _required_members(model: ServiceModel, name: str) -> tuple[list[str], list[str]]:
    """Required input members bound to the query string and to headers (their wire names)."""
    shape = model.operation_model(name).input_shape
    if shape is None:
        return [], []
    query, headers = [], []
    for member in shape.required_members:
        serialization = shape.members[member].serialization
        wire = serialization.get("name", member)
        if serialization.get("location") == "querystring":
            query.append(wire)
        elif serialization.get("location") == "header":
            headers.append(wire.lower())
    return query, headers


def _route(model: ServiceModel, name: str) -> _Route:
    http = model.operation_model(name).http
    path, _, query = http.get("requestUri", "/").partition("?")
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path.rstrip("/")):
        if piece.startswith("{"):
            regex += ".+" if piece.endswith("+}") else "[^/]+"
        else:
            regex += re.escape(piece)
    pairs = (part.partition("=") for part in query.split("&") if part)
    required_query = [(key, value or None) for key, _, value in pairs]
    member_query, member_headers = _required_members(model, name)
    required_query += [(key, None) for key in member_query]
    literal = len(re.sub(r"\{[^}]+\}", "", path))
    return _Route(
        method=http.get("method", "POST"),
        pattern=re.compile(regex + "/?"),
        query=tuple(required_query),
        headers=tuple(member_headers),
        operation=name,
        # Most specific first: more required query keys and headers, then more literal path.
        weight=literal + 100 * (len(required_query) + len(member_headers)),
    )


@cache
def _rest_routes(api: str) -> tuple[_Route, ...]:
    model = service_model(api)
    if model is None:
        return ()
    routes = [_route(model, name) for name in model.operation_names]
    return tuple(sorted(routes, key=lambda r: -r.weight))


def match_rest_operation(
    api: str,
    method: str,
    path: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str] | None = None,
) -> str | None:
    """The model operation whose HTTP binding fits best, if any."""
    headers = headers or {}
    for route in _rest_routes(api):
        if route.method != method or not route.pattern.fullmatch(path):
            continue
        if not all(header in headers for header in route.headers):
            continue
        if all(key in query and (value is None or value in query[key]) for key, value in route.query):
            return route.operation
    return None


def identify(
    method: str,
    path: str,
    headers: Mapping[str, str],
    query_string: str,
    body: bytes,
) -> Call | None:
    """Name the AWS call, or None when the request is not a signed AWS call."""
    query = parse_qs(query_string, keep_blank_values=True)
    service = scope_service(headers.get("authorization"), query)
    if service is None:
        return None
    form = dict(query)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    api = api_name(service, form)
    protocol = wire_protocol(api, headers, form)
    operation = operation_name(api, protocol, method, path, headers, form, query)
    return Call(service=service, api=api, operation=operation, protocol=protocol, write=is_write(operation))


def render_error(
    call: Call, code: str, message: str, status: int, request_id: str | None = None
) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an error the way ``call``'s protocol spells it, so botocore parses ``code``."""
    request_id = request_id or str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    code_x, message_x, rid_x = escape(code), escape(message), escape(request_id)
    if call.protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code_x}</Code><Message>{message_x}</Message></Error>"
            f"</Errors><RequestID>{rid_x}</RequestID></Response>"
        )
        return [*headers, ("Content-Type", "text/xml")], _xml(body)
    if call.protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code_x}</Code><Message>{message_x}</Message>"
            f"</Error><RequestId>{rid_x}</RequestId></ErrorResponse>"
        )
        return [*headers, ("Content-Type", "text/xml")], _xml(body)
    if call.protocol == "rest-xml":
        error = (
            f"<Error><Code>{code_x}</Code><Message>{message_x}</Message>"
            f"<RequestId>{rid_x}</RequestId></Error>"
        )
        # route53 and cloudfront wrap the error; s3 does not.
        body = (
            error
            if call.api == "s3"
            else f"<ErrorResponse>{error}<RequestId>{rid_x}</RequestId></ErrorResponse>"
        )
        return [*headers, ("Content-Type", "application/xml")], _xml(body)
    payload: dict[str, Any] = {"__type": code, "message": message}
    if call.protocol == "smithy-rpc-v2-cbor":
        return [
            *headers,
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ], _cbor_text_map({"__type": code, "message": message})
    content_type = "application/json" if call.protocol == "rest-json" else "application/x-amz-json-1.1"
    return [*headers, ("Content-Type", content_type), ("x-amzn-ErrorType", code)], json.dumps(
        payload
    ).encode()


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


def _cbor_text_map(values: Mapping[str, str]) -> bytes:
    """The few bytes of CBOR a text-only map needs (RFC 8949 major types 3 and 5)."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        if length < 256:
            return bytes([major << 5 | 24, length])
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")

    out = head(5, len(values))
    for key, value in values.items():
        for text in (key, value):
            raw = text.encode()
            out += head(3, len(raw)) + raw
    return out
