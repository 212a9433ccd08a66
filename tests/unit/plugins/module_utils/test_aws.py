"""RetryingClient against a fake client shaped like amazon.aws's retrying wrapper: no network."""

from __future__ import annotations

import contextlib
import copy
from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.macroai.deploy.plugins.module_utils._aws import (
    RETRY_SAFE_WRITES,
    SINGLE_ATTEMPT,
    ReadRetry,
    RetryingClient,
    ThrottlingRetry,
    is_read,
    retrying_clients,
    tag_changes,
)
from botocore.exceptions import ClientError
from botocore.stub import Stubber


class FakeClient:
    """An API operation that records its arguments, and the non-operations boto3 clients carry."""

    exceptions = SimpleNamespace(ClientException=type("ClientException", (Exception,), {}))
    meta = SimpleNamespace(
        method_to_api_mapping={"describe_services": "DescribeServices", "update_service": "UpdateService"},
        service_model=SimpleNamespace(service_name="ecs"),
    )

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_services(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_services", kwargs))
        return {"services": []}

    def update_service(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("update_service", kwargs))
        return {"service": {}}

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


# What is retried: a real botocore client answered by botocore's Stubber (no network), behind amazon.aws's
# retrying wrapper with the decorators retrying_clients uses (no delay, so the test does not sleep).


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        service, region_name="eu-west-2", aws_access_key_id="test", aws_secret_access_key="test"
    )
    return client, Stubber(client)


def retrying(client: Any) -> RetryingClient:
    reads = RetryingBotoClientWrapper(client, ReadRetry.jittered_backoff(retries=5, delay=0))
    writes = RetryingBotoClientWrapper(client, ThrottlingRetry.jittered_backoff(retries=5, delay=0))
    return RetryingClient(reads, lambda: writes)


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("ServerException", 500), ("ServiceUnavailable", 503)]
)
def test_a_read_is_retried_on_throttling_and_server_errors(code: str, status: int) -> None:
    client, stubber = stubbed("ecs")
    stubber.add_client_error("describe_services", service_error_code=code, http_status_code=status)
    stubber.add_response("describe_services", {"services": []})
    with stubber:
        assert retrying(client).describe_services(cluster="c", services=["api"]) == {"services": []}
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("service", "method", "kwargs", "answer"),
    [
        ("ecs", "register_task_definition", {"family": "api", "containerDefinitions": [{"name": "api"}]}, {}),
        (
            "amplify",
            "start_deployment",
            {"appId": "a1", "branchName": "main", "sourceUrl": "s3://b/k.zip"},
            {
                "jobSummary": {
                    "jobArn": "arn",
                    "jobId": "2",
                    "commitId": "c",
                    "commitMessage": "m",
                    "commitTime": "2026-01-01T00:00:00Z",
                    "startTime": "2026-01-01T00:00:00Z",
                    "status": "PENDING",
                    "jobType": "MANUAL",
                }
            },
        ),
        ("dynamodb", "put_item", {"TableName": "t", "Item": {"pk": {"S": "x"}}}, {}),  # unconditional
    ],
)
def test_a_write_that_is_not_idempotent_is_not_retried_after_a_500(
    service: str, method: str, kwargs: dict[str, Any], answer: dict[str, Any]
) -> None:
    client, stubber = stubbed(service)
    stubber.add_client_error(method, service_error_code="InternalFailure", http_status_code=500)
    stubber.add_response(method, answer)  # what a retry would get: it must not be asked for
    with stubber, pytest.raises(ClientError, match="InternalFailure"):
        getattr(retrying(client), method)(**kwargs)
    assert len(stubber._queue) == 1  # the second answer is still there: one call was made


def test_a_throttled_write_is_retried_aws_refused_it_before_acting() -> None:
    client, stubber = stubbed("ecs")
    kwargs = {"family": "api", "containerDefinitions": [{"name": "api"}]}
    stubber.add_client_error("register_task_definition", service_error_code="ThrottlingException")
    stubber.add_response("register_task_definition", {"taskDefinition": {"family": "api"}})
    with stubber:
        assert retrying(client).register_task_definition(**kwargs)["taskDefinition"]["family"] == "api"
        stubber.assert_no_pending_responses()


def test_a_write_with_a_client_token_is_retried_with_the_same_token() -> None:
    client, stubber = stubbed("ecs")
    seen: list[str] = []
    client.meta.events.register(
        "before-parameter-build.ecs.RunTask", lambda params, **_: seen.append(params["clientToken"])
    )
    stubber.add_client_error("run_task", service_error_code="ServerException", http_status_code=500)
    stubber.add_response("run_task", {"tasks": []})
    with stubber:
        retrying(client).run_task(cluster="c", taskDefinition="api:1")
        stubber.assert_no_pending_responses()
    assert len(seen) == 2 and seen[0] == seen[1] and len(seen[0]) == 32


@pytest.mark.parametrize(("condition", "calls"), [("attribute_not_exists(pk)", 2), (None, 1)])
def test_a_conditional_write_is_retried_an_unconditional_one_is_not(
    condition: str | None, calls: int
) -> None:
    client, stubber = stubbed("dynamodb")
    kwargs: dict[str, Any] = {"TableName": "t", "Item": {"pk": {"S": "lock"}}}
    if condition:
        kwargs["ConditionExpression"] = condition
    stubber.add_client_error("put_item", service_error_code="InternalServerError", http_status_code=500)
    stubber.add_response("put_item", {})
    with stubber, contextlib.suppress(ClientError):
        retrying(client).put_item(**kwargs)
    assert 2 - len(stubber._queue) == calls


def test_every_listed_write_names_a_real_operation_and_its_token() -> None:
    session = botocore.session.get_session()
    for service, writes in RETRY_SAFE_WRITES.items():
        model = session.get_service_model(service)
        for operation, safe in writes.items():
            assert not is_read(operation) and safe.why
            members = model.operation_model(operation).input_shape.members
            for parameter in (safe.token, safe.condition):
                assert parameter is None or parameter in members, (service, operation, parameter)


def test_retrying_clients_send_writes_through_a_single_attempt_client() -> None:
    made: list[tuple[str, dict[str, Any]]] = []

    class Module:
        def client(self, service: str, **kwargs: Any) -> Any:
            made.append((service, kwargs))
            return RetryingBotoClientWrapper(FakeClient(), kwargs["retry_decorator"])

    (ecs,) = retrying_clients(Module(), "ecs")
    ecs.describe_services(cluster="c", services=[])
    assert len(made) == 1  # the write client is made on the first write only
    ecs.update_service(cluster="c", service="api")
    assert [kwargs.get("config") for _, kwargs in made] == [None, SINGLE_ATTEMPT]
    assert SINGLE_ATTEMPT["retries"]["total_max_attempts"] == 1


@pytest.mark.parametrize(
    ("current", "desired", "purge", "expected"),
    [
        ({"a": "1", "b": "2", "aws:x": "y"}, {"a": "1", "c": 3}, True, ({"c": "3"}, ["b"])),
        ({"a": "1", "b": "2"}, {"a": "9"}, False, ({"a": "9"}, [])),
        ({"a": "1"}, None, True, ({}, [])),
        ({"b": "1", "a": "1"}, {}, True, ({}, ["a", "b"])),
    ],
)
def test_tag_changes_are_amazon_aws_compare_aws_tags(
    current: dict, desired: Any, purge: bool, expected: tuple
) -> None:
    assert tag_changes(current, desired, purge) == expected


def test_ecr_tag_changes_set_changed_values_and_purge_the_rest_but_not_aws_tags():
    """Moved from test_ecr.py with _ecr's own tag_changes, which this one replaced."""
    current = {
        "Project": "macroai",
        "Environment": "staging",
        "Owner": "ops",
        "aws:cloudformation:stack": "s",
    }
    to_set, to_remove = tag_changes(current, {"Project": "macroai", "Environment": "production"}, purge=True)
    assert to_set == {"Environment": "production"}
    assert to_remove == ["Owner"]
    assert tag_changes(current, {"Environment": "production"}, purge=False) == (
        {"Environment": "production"},
        [],
    )
    assert tag_changes(current, None, purge=True) == ({}, [])
