"""RetryingClient against a fake client shaped like amazon.aws's retrying wrapper: no network."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._aws import RetryingClient


class FakeClient:
    """An API operation that records its arguments, and the non-operations boto3 clients carry."""

    exceptions = SimpleNamespace(ClientException=type("ClientException", (Exception,), {}))
    meta = SimpleNamespace(method_to_api_mapping={"describe_services": "DescribeServices"})

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_services(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_services", kwargs))
        return {"services": []}

    def get_paginator(self, operation_name: str, **kwargs: Any) -> str:
        assert not kwargs, "get_paginator takes no aws_retry"
        return f"paginator:{operation_name}"

    def can_paginate(self, operation_name: str, **kwargs: Any) -> bool:
        assert not kwargs, "can_paginate takes no aws_retry"
        return True

    def get_waiter(self, waiter_name: str, **kwargs: Any) -> str:
        assert not kwargs, "get_waiter takes no aws_retry"
        return f"waiter:{waiter_name}"


def test_api_operations_pass_aws_retry() -> None:
    client = FakeClient()
    RetryingClient(client).describe_services(cluster="c", services=["api"])
    assert client.calls == [("describe_services", {"cluster": "c", "services": ["api"], "aws_retry": True})]


@pytest.mark.parametrize("name", ["exceptions", "meta"])
def test_attributes_that_are_not_operations_pass_through(name: str) -> None:
    client = FakeClient()
    assert getattr(RetryingClient(client), name) is getattr(client, name)


@pytest.mark.parametrize(
    ("name", "argument", "expected"),
    [
        ("get_paginator", "list_services", "paginator:list_services"),
        ("can_paginate", "list_services", True),
        ("get_waiter", "services_stable", "waiter:services_stable"),
    ],
)
def test_helper_methods_are_called_without_aws_retry(name: str, argument: str, expected: Any) -> None:
    assert getattr(RetryingClient(FakeClient()), name)(argument) == expected


def test_errors_can_be_caught_through_the_wrapper() -> None:
    retrying = RetryingClient(FakeClient())
    with pytest.raises(retrying.exceptions.ClientException):
        raise FakeClient.exceptions.ClientException("boom")


def test_copy_does_not_recurse() -> None:
    retrying = RetryingClient(FakeClient())
    assert copy.copy(retrying).meta is FakeClient.meta
