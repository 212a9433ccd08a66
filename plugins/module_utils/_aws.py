# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this collection's AWS modules share: clients that retry only what is safe to repeat, and tag diffs.

A read (``Describe*``, ``List*``, ``Get*``, ...) is retried on throttling and on server errors (5xx). A write
is retried on a server error only when repeating it cannot do the work twice: the operations in
:data:`RETRY_SAFE_WRITES`, each with the reason. Every other write is sent once to AWS (botocore's own retries
off), and repeated only when AWS throttled it: a throttled request was refused before AWS acted on it. So a
500 on RegisterTaskDefinition, StartDeployment or CreateRule, where the first attempt may have landed, is
reported instead of making a second revision, job or rule.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

READ_PREFIXES: tuple[str, ...] = ("Describe", "List", "Get", "Head", "BatchGet", "Query", "Scan")

# Error codes AWS services answer a throttled request with (botocore's retry handler knows the same set).
THROTTLING_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "EC2ThrottledException",
    }
)

# botocore's own retries off: the only repeats of a write are the ones decided here.
SINGLE_ATTEMPT: dict[str, Any] = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@dataclass(frozen=True)
class RetrySafeWrite:
    """A write that may be repeated after a server error, and why that cannot do the work twice.

    ``token``: the request parameter that makes a repeat the same request (set once here when the caller has
    not). ``condition``: the parameter that makes it a conditional write; without it the call is not safe.
    """

    why: str
    token: str | None = None
    condition: str | None = None


_TAGS = RetrySafeWrite("sets (or removes) the given tag keys: a repeat leaves the same tags")
_WHOLE = RetrySafeWrite("replaces the setting with the value given: a repeat leaves the same value")

RETRY_SAFE_WRITES: Mapping[str, Mapping[str, RetrySafeWrite]] = {
    "ecs": {
        "TagResource": _TAGS,
        "UntagResource": _TAGS,
        "RunTask": RetrySafeWrite(
            "ECS answers a repeated clientToken with the first attempt's task (ECS_Idempotency)",
            token="clientToken",
        ),
        "CreateService": RetrySafeWrite(
            "ECS answers a repeated clientToken with the service the first attempt created",
            token="clientToken",
        ),
    },
    "amplify": {
        "TagResource": _TAGS,
        "UntagResource": _TAGS,
        "UpdateApp": _WHOLE,
        "UpdateBranch": _WHOLE,
    },
    "s3": {
        "PutObject": RetrySafeWrite(
            "writes the whole object; the collection's only PutObject is a release artifact whose key is its "
            "SHA-256, so a repeat writes the same bytes to the same key"
        ),
    },
    "dynamodb": {
        "PutItem": RetrySafeWrite(
            "conditional: a repeat after a landed first attempt fails its condition, and the caller re-reads "
            "the item (deploy_lock finds its own lock)",
            condition="ConditionExpression",
        ),
        "DeleteItem": RetrySafeWrite(
            "conditional: a repeat after a landed first attempt fails its condition, and the caller re-reads",
            condition="ConditionExpression",
        ),
        "TransactWriteItems": RetrySafeWrite(
            "DynamoDB treats a repeated ClientRequestToken (within 10 minutes) as the same transaction",
            token="ClientRequestToken",
        ),
    },
    "acm": {
        "RequestCertificate": RetrySafeWrite(
            "ACM answers a repeated IdempotencyToken (within an hour) with the same certificate",
            token="IdempotencyToken",
        ),
    },
    "ecr": {
        "TagResource": _TAGS,
        "UntagResource": _TAGS,
        "PutLifecyclePolicy": _WHOLE,
        "PutImageTagMutability": _WHOLE,
        "PutImageScanningConfiguration": _WHOLE,
    },
    "elasticache": {"AddTagsToResource": _TAGS, "RemoveTagsFromResource": _TAGS},
    "budgets": {"UpdateBudget": _WHOLE},
}


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


def retry_safe_write(service: str, operation: str, kwargs: Mapping[str, Any]) -> RetrySafeWrite | None:
    """The reason this call may be repeated after a server error, or None: it is sent once."""
    safe = RETRY_SAFE_WRITES.get(service, {}).get(operation)
    if safe is None or (safe.condition is not None and not kwargs.get(safe.condition)):
        return None
    return safe


def _error(error: Any) -> tuple[str, int]:
    response = getattr(error, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code") or "")
    return code, int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)


class ReadRetry(AWSRetry):
    """amazon.aws's retry, for calls safe to repeat: throttling, and any server error (5xx)."""

    @staticmethod
    def status_code_from_exception(error: Any) -> tuple[str, int]:
        return _error(error)

    @staticmethod
    def found(response_code: Any, catch_extra_error_codes: Any = None) -> bool:
        code, status = response_code
        return code in THROTTLING_CODES or status == 429 or status >= 500 or AWSRetry.found(code)


class ThrottlingRetry(ReadRetry):
    """For writes that are not safe to repeat: only a throttled request, which AWS refused before acting."""

    @staticmethod
    def found(response_code: Any, catch_extra_error_codes: Any = None) -> bool:
        code, status = response_code
        return (code in THROTTLING_CODES or status == 429) and status < 500


class RetryingClient:
    """A boto3 client (amazon.aws's retrying wrapper) that passes ``aws_retry=True`` where a retry is safe.

    Reads and :data:`RETRY_SAFE_WRITES` go to ``client`` (retried on throttling and 5xx); a token they need is
    set once, so every attempt carries the same. Other writes go to ``single_attempt()`` (made on first use:
    botocore's retries off, retried on throttling only); without it (unit tests' fakes) to ``client`` without
    ``aws_retry``. Everything that is not an API operation (``exceptions``, ``meta``, ``get_paginator``,
    ``get_waiter``, ...) passes through unchanged. The logic in module_utils stays plain boto3.
    """

    def __init__(self, client: Any, single_attempt: Callable[[], Any] | None = None) -> None:
        self._client = client
        self._single_attempt = single_attempt
        self._writer: Any = None

    def _writes(self) -> Any:
        if self._writer is None and self._single_attempt is not None:
            self._writer = self._single_attempt()
        return self._writer

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_client", "_single_attempt", "_writer"):
            raise AttributeError(name)  # copy and pickle look these up before __init__ ran
        attribute = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return attribute
        if is_read(operation):
            return functools.partial(attribute, aws_retry=True)
        service = self._client.meta.service_model.service_name

        def write(**kwargs: Any) -> Any:
            safe = retry_safe_write(service, operation, kwargs)
            if safe is not None:
                if safe.token and not kwargs.get(safe.token):
                    kwargs[safe.token] = uuid.uuid4().hex  # 32 characters: within every token's bounds
                return attribute(aws_retry=True, **kwargs)
            writer = self._writes()
            if writer is None:
                return attribute(**kwargs)
            return getattr(writer, name)(aws_retry=True, **kwargs)

        return write


def retrying_clients(module: Any, *services: str) -> list[RetryingClient]:
    """One client per service name: reads retried with jittered backoff, writes only where safe."""
    reads = ReadRetry.jittered_backoff()
    throttled = ThrottlingRetry.jittered_backoff()
    return [
        RetryingClient(
            module.client(service, retry_decorator=reads),
            lambda service=service: module.client(service, retry_decorator=throttled, config=SINGLE_ATTEMPT),
        )
        for service in services
    ]


def tag_changes(
    current: Mapping[str, str], desired: Mapping[str, Any] | None, purge: bool
) -> tuple[dict[str, str], list[str]]:
    """amazon.aws's ``compare_aws_tags``: (tags to set, keys to remove, sorted); ``desired`` None leaves tags
    alone. Values are compared as the strings AWS stores; AWS's own ``aws:`` tags are never removed."""
    if desired is None:
        return {}, []
    wanted = {str(key): "" if value is None else str(value) for key, value in desired.items()}
    to_set, to_remove = compare_aws_tags(dict(current), wanted, purge)
    return dict(to_set), sorted(to_remove)
