"""Identifying AWS calls from raw requests, and errors that botocore parses back."""

from __future__ import annotations

import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from sandbox.protocols import (
    Call,
    identify,
    is_write,
    match_rest_operation,
    render_error,
    scope_service,
    service_model,
)

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20261127/eu-west-2/{service}/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _headers(service: str, **extra: str) -> dict[str, str]:
    return {"authorization": AUTH.format(service=service), **extra}


def test_scope_service_from_header_and_presigned_query() -> None:
    assert scope_service(AUTH.format(service="ec2"), {}) == "ec2"
    assert scope_service(None, {"X-Amz-Credential": ["AKID/20261127/eu-west-2/s3/aws4_request"]}) == "s3"
    assert scope_service(None, {}) is None
    assert scope_service("Bearer xyz", {}) is None


def test_unsigned_request_is_not_an_aws_call() -> None:
    assert identify("GET", "/moto-api/reset", {}, "", b"") is None


def test_ec2_query_action_from_body() -> None:
    headers = _headers("ec2", **{"content-type": FORM})
    call = identify("POST", "/", headers, "", b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16")
    assert call == Call(service="ec2", api="ec2", operation="CreateVpc", protocol="ec2", write=True)


def test_query_action_from_url_query() -> None:
    call = identify("GET", "/", _headers("iam"), "Action=ListRoles&Version=2010-05-08", b"")
    assert call is not None
    assert (call.api, call.operation, call.protocol, call.write) == ("iam", "ListRoles", "query", False)


def test_elb_signing_name_split_by_api_version() -> None:
    headers = _headers("elasticloadbalancing", **{"content-type": FORM})
    v2 = identify("POST", "/", headers, "", b"Action=DescribeLoadBalancers&Version=2015-12-01")
    classic = identify("POST", "/", headers, "", b"Action=DescribeLoadBalancers&Version=2012-06-01")
    assert v2 is not None and classic is not None
    assert (v2.service, v2.api, classic.api) == ("elasticloadbalancing", "elbv2", "elb")
    assert v2.names() == {"elasticloadbalancing", "elbv2"}


def test_json_operation_from_target() -> None:
    headers = _headers(
        "ecs",
        **{
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "AmazonEC2ContainerServiceV20141113.CreateCluster",
        },
    )
    call = identify("POST", "/", headers, "", b"{}")
    assert call is not None
    assert (call.operation, call.protocol, call.write) == ("CreateCluster", "json", True)


def test_monitoring_is_cloudwatch() -> None:
    headers = _headers("monitoring", **{"content-type": FORM})
    call = identify("POST", "/", headers, "", b"Action=DescribeAlarms&Version=2010-08-01")
    assert call is not None
    assert (call.service, call.api, call.operation, call.protocol) == (
        "monitoring",
        "cloudwatch",
        "DescribeAlarms",
        "query",
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "expected"),
    [
        ("PUT", "/bucket/a/b.txt", "", {}, "PutObject"),
        ("PUT", "/bucket/a/b.txt", "", {"x-amz-copy-source": "/other/key"}, "CopyObject"),
        ("DELETE", "/bucket/key", "", {}, "DeleteObject"),
        ("DELETE", "/bucket/key", "uploadId=1", {}, "AbortMultipartUpload"),
        ("GET", "/bucket", "", {}, "ListObjects"),
        ("GET", "/bucket", "list-type=2", {}, "ListObjectsV2"),
        ("PUT", "/bucket", "versioning", {}, "PutBucketVersioning"),
        ("PUT", "/bucket", "", {}, "CreateBucket"),
        ("HEAD", "/bucket/key", "", {}, "HeadObject"),
        ("GET", "/", "", {}, "ListBuckets"),
    ],
)
def test_s3_rest_operations(
    method: str, path: str, query: str, headers: dict[str, str], expected: str
) -> None:
    call = identify(method, path, _headers("s3", **headers), query, b"")
    assert call is not None
    assert (call.api, call.protocol, call.operation) == ("s3", "rest-xml", expected)


def test_route53_rest_operations_with_trailing_slash() -> None:
    assert (
        match_rest_operation("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset", {})
        == "ChangeResourceRecordSets"
    )
    assert (
        match_rest_operation("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset/", {})
        == "ChangeResourceRecordSets"
    )
    assert match_rest_operation("route53", "GET", "/2013-04-01/hostedzone", {}) == "ListHostedZones"


def test_unmatched_rest_call_falls_back_to_method_and_path() -> None:
    call = identify("PATCH", "/nowhere", _headers("route53"), "", b"")
    assert call is not None
    assert (call.operation, call.write) == ("PATCH /nowhere", True)
    assert is_write("GET /nowhere") is False


@pytest.mark.parametrize(
    ("operation", "write"),
    [
        ("CreateVpc", True),
        ("DescribeVpcs", False),
        ("ListClusters", False),
        ("GetPolicy", False),
        ("HeadObject", False),
        ("BatchGetItem", False),
        ("BatchWriteItem", True),
        ("SimulatePrincipalPolicy", False),
        ("UpdateService", True),
        ("DeleteBucket", True),
        ("PutObject", True),
    ],
)
def test_write_classification(operation: str, write: bool) -> None:
    assert is_write(operation) is write


@pytest.mark.parametrize(
    ("api", "protocol", "operation"),
    [
        ("ec2", "ec2", "DescribeVpcs"),
        ("iam", "query", "ListRoles"),
        ("ecs", "json", "ListClusters"),
        ("amplify", "rest-json", "ListApps"),
        ("s3", "rest-xml", "ListBuckets"),
        ("route53", "rest-xml", "ListHostedZones"),
        ("cloudwatch", "smithy-rpc-v2-cbor", "DescribeAlarms"),
    ],
)
def test_rendered_error_parses_in_botocore(api: str, protocol: str, operation: str) -> None:
    call = Call(service=api, api=api, operation=operation, protocol=protocol, write=False)
    headers, body = render_error(call, "ThrottlingException", "slow <down>", 400, request_id="rid-1")
    response = {
        "status_code": 400,
        "headers": HeadersDict(headers),
        "body": body,
        "context": {"operation_name": operation},
    }
    model = service_model(api)
    assert model is not None
    parsed = create_parser(protocol).parse(response, model.operation_model(operation).output_shape)
    assert parsed["Error"]["Code"] == "ThrottlingException"
    assert parsed["Error"]["Message"] == "slow <down>"


def test_json_error_carries_error_type_header() -> None:
    call = Call(service="logs", api="logs", operation="DescribeLogGroups", protocol="json", write=False)
    headers, _ = render_error(call, "ThrottlingException", "m", 400)
    assert ("x-amzn-ErrorType", "ThrottlingException") in headers


def test_query_error_type_depends_on_status() -> None:
    call = Call(service="iam", api="iam", operation="ListRoles", protocol="query", write=False)
    assert b"<Type>Sender</Type>" in render_error(call, "Throttling", "m", 400)[1]
    assert b"<Type>Receiver</Type>" in render_error(call, "ServiceUnavailable", "m", 503)[1]
