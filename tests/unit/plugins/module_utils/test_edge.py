"""_edge: the DNS-validated certificate and the web ACL association over fake ACM and WAFv2 clients."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._edge import (
    ensure_certificate,
    ensure_web_acl_association,
    tag_changes,
    validation_records,
)

ARN = "arn:aws:acm:eu-west-2:1:certificate/1"


class FakeAcm:
    def __init__(self, published_after: int = 0) -> None:
        self.certificates: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.writes: list[str] = []
        self.describes = 0
        self.published_after = published_after

    def list_certificates(self, CertificateStatuses: list[str]) -> dict[str, Any]:
        return {
            "CertificateSummaryList": [
                {"CertificateArn": arn, "DomainName": cert["DomainName"], "Type": "AMAZON_ISSUED"}
                for arn, cert in self.certificates.items()
            ]
        }

    def describe_certificate(self, CertificateArn: str) -> dict[str, Any]:
        self.describes += 1
        certificate = dict(self.certificates[CertificateArn])
        if self.describes <= self.published_after:
            certificate["DomainValidationOptions"] = [{"DomainName": certificate["DomainName"]}]
        return {"Certificate": certificate}

    def request_certificate(self, DomainName: str, ValidationMethod: str, Tags: list | None = None) -> dict:
        self.writes.append("request_certificate")
        record = {"Name": f"_x.{DomainName}.", "Type": "CNAME", "Value": "_y.acm-validations.aws."}
        self.certificates[ARN] = {
            "CertificateArn": ARN,
            "DomainName": DomainName,
            "SubjectAlternativeNames": [DomainName],
            "Status": "PENDING_VALIDATION",
            "DomainValidationOptions": [{"DomainName": DomainName, "ResourceRecord": record}],
        }
        self.tags[ARN] = {tag["Key"]: tag["Value"] for tag in Tags or []}
        return {"CertificateArn": ARN}

    def list_tags_for_certificate(self, CertificateArn: str) -> dict[str, Any]:
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.tags[CertificateArn].items()]}

    def add_tags_to_certificate(self, CertificateArn: str, Tags: list) -> None:
        self.writes.append("add_tags_to_certificate")
        self.tags[CertificateArn].update({tag["Key"]: tag["Value"] for tag in Tags})

    def remove_tags_from_certificate(self, CertificateArn: str, Tags: list) -> None:
        self.writes.append("remove_tags_from_certificate")


@pytest.mark.parametrize(
    ("current", "wanted", "purge", "expected"),
    [
        ({"a": "1"}, None, True, ({}, [])),
        ({"a": "1", "b": "2"}, {"a": "1"}, True, ({}, ["b"])),
        ({"a": "1", "b": "2"}, {"a": "2"}, False, ({"a": "2"}, [])),
    ],
)
def test_tag_changes(current: dict, wanted: dict | None, purge: bool, expected: tuple) -> None:
    assert tag_changes(current, wanted, purge) == expected


def test_certificate_is_requested_once_and_waits_for_its_records() -> None:
    acm = FakeAcm(published_after=2)
    changed, certificate = ensure_certificate(
        acm, "api.example.com", [], {"P": "x"}, True, False, sleep=lambda s: None
    )
    assert changed and acm.writes == ["request_certificate"]
    assert validation_records(certificate) == [
        {"name": "_x.api.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."}
    ]
    changed, again = ensure_certificate(acm, "api.example.com", [], {"P": "x"}, True, False)
    assert not changed and again["CertificateArn"] == ARN and acm.writes == ["request_certificate"]


def test_certificate_check_mode_and_tag_drift() -> None:
    acm = FakeAcm()
    assert ensure_certificate(acm, "api.example.com", [], None, True, True) == (True, None)
    assert acm.writes == []
    ensure_certificate(acm, "api.example.com", [], {"P": "x"}, True, False)
    changed, _cert = ensure_certificate(acm, "api.example.com", [], {"P": "y"}, True, False)
    assert changed and acm.writes[-1] == "add_tags_to_certificate"


class FakeWaf:
    def __init__(self, current: str | None) -> None:
        self.current = current
        self.writes: list[tuple[str, ...]] = []

    def get_web_acl_for_resource(self, ResourceArn: str) -> dict[str, Any]:
        return {"WebACL": {"ARN": self.current}} if self.current else {}

    def associate_web_acl(self, WebACLArn: str, ResourceArn: str) -> None:
        self.writes.append(("associate", WebACLArn))
        self.current = WebACLArn

    def disassociate_web_acl(self, ResourceArn: str) -> None:
        self.writes.append(("disassociate",))
        self.current = None


@pytest.mark.parametrize(
    ("current", "wanted", "check_mode", "changed", "writes"),
    [
        (None, "acl-1", False, True, [("associate", "acl-1")]),
        ("acl-1", "acl-1", False, False, []),
        ("acl-0", "acl-1", True, True, []),
        ("acl-0", None, False, True, [("disassociate",)]),
        (None, None, False, False, []),
    ],
)
def test_web_acl_association_writes_only_a_difference(
    current: str | None, wanted: str | None, check_mode: bool, changed: bool, writes: list
) -> None:
    waf = FakeWaf(current)
    result = ensure_web_acl_association(waf, "alb-arn", wanted, check_mode)
    assert result == (changed, current, wanted)
    assert waf.writes == writes
