# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The edge's AWS pieces that amazon.aws and community.aws do not cover idempotently.

- An ACM certificate requested with DNS validation, found again by its domain names on later runs
  (community.aws.acm_certificate only imports certificates).
- The association of a regional WAF web ACL with a load balancer, written only when the resource has
  another ACL or none (community.aws.wafv2_resources re-associates on every run).

Plain Python over boto3 clients (``acm``, ``wafv2``); each function compares before it writes and writes
nothing in check mode. botocore's errors pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitTimeout, wait_until

CERTIFICATE_STATES = ["PENDING_VALIDATION", "ISSUED"]


def tag_changes(
    current: Mapping[str, str], wanted: Mapping[str, str] | None, purge: bool
) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove); ``wanted`` None leaves tags alone."""
    if wanted is None:
        return {}, []
    to_set = {key: value for key, value in wanted.items() if current.get(key) != value}
    to_remove = sorted(key for key in current if key not in wanted) if purge else []
    return to_set, to_remove


def validation_records(certificate: Mapping[str, Any]) -> list[dict[str, str]]:
    """The DNS records that prove control of each name, one per distinct record (names share them)."""
    records: dict[str, dict[str, str]] = {}
    for option in certificate.get("DomainValidationOptions") or []:
        record = option.get("ResourceRecord")
        if record:
            records[record["Name"]] = {
                "name": record["Name"],
                "type": record["Type"],
                "value": record["Value"],
            }
    return [records[name] for name in sorted(records)]


def records_published(certificate: Mapping[str, Any], names: set[str]) -> bool:
    options = certificate.get("DomainValidationOptions") or []
    return {option.get("DomainName") for option in options if option.get("ResourceRecord")} >= names


def find_certificate(acm: Any, domain_name: str, alternative_names: Sequence[str]) -> dict[str, Any] | None:
    """The newest pending or issued Amazon-issued certificate for exactly these names."""
    wanted = {domain_name, *alternative_names}
    matches = []
    paginator_token = None
    for _page in range(20):
        kwargs: dict[str, Any] = {"CertificateStatuses": CERTIFICATE_STATES}
        if paginator_token:
            kwargs["NextToken"] = paginator_token
        page = acm.list_certificates(**kwargs)
        for summary in page.get("CertificateSummaryList", []):
            if (
                summary.get("DomainName") != domain_name
                or summary.get("Type", "AMAZON_ISSUED") != "AMAZON_ISSUED"
            ):
                continue
            certificate = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            if set(certificate.get("SubjectAlternativeNames") or [domain_name]) | {domain_name} == wanted:
                matches.append(certificate)
        paginator_token = page.get("NextToken")
        if not paginator_token:
            break
    matches.sort(key=lambda cert: (cert.get("Status") == "ISSUED", str(cert.get("CreatedAt") or "")))
    return matches[-1] if matches else None


def ensure_certificate(
    acm: Any,
    domain_name: str,
    alternative_names: Sequence[str],
    tags: Mapping[str, str] | None,
    purge_tags: bool,
    check_mode: bool,
    record_timeout: float = 60,
    sleep: Callable[[float], None] | None = None,
) -> tuple[bool, dict[str, Any] | None]:
    """(changed, certificate). A new certificate is read again until ACM has published its validation
    records (a few seconds), so the caller can write them at once."""
    certificate = find_certificate(acm, domain_name, alternative_names)
    changed = False
    if certificate is None:
        if check_mode:
            return True, None
        request: dict[str, Any] = {"DomainName": domain_name, "ValidationMethod": "DNS"}
        if alternative_names:
            request["SubjectAlternativeNames"] = [domain_name, *alternative_names]
        if tags:
            request["Tags"] = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
        arn = acm.request_certificate(**request)["CertificateArn"]

        def describe() -> dict[str, Any]:
            return acm.describe_certificate(CertificateArn=arn)["Certificate"]

        names = {domain_name, *alternative_names}
        waits: dict[str, Any] = {"sleep": sleep} if sleep else {}
        try:
            certificate = wait_until(
                describe, lambda cert: records_published(cert, names), record_timeout, 2, **waits
            ).value
        except WaitTimeout as err:
            certificate = err.last
        return True, certificate
    current = {
        tag["Key"]: tag.get("Value", "")
        for tag in acm.list_tags_for_certificate(CertificateArn=certificate["CertificateArn"]).get("Tags", [])
    }
    to_set, to_remove = tag_changes(current, tags, purge_tags)
    if to_set or to_remove:
        changed = True
        if not check_mode:
            arn = certificate["CertificateArn"]
            if to_set:
                acm.add_tags_to_certificate(
                    CertificateArn=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(to_set.items())]
                )
            if to_remove:
                acm.remove_tags_from_certificate(
                    CertificateArn=arn, Tags=[{"Key": k, "Value": current[k]} for k in to_remove]
                )
    return changed, certificate


def ensure_web_acl_association(
    wafv2: Any, resource_arn: str, web_acl_arn: str | None, check_mode: bool
) -> tuple[bool, str | None, str | None]:
    """(changed, ACL before, ACL after) for ``resource_arn``; ``web_acl_arn`` None disassociates."""
    current = (wafv2.get_web_acl_for_resource(ResourceArn=resource_arn).get("WebACL") or {}).get("ARN")
    if current == web_acl_arn:
        return False, current, current
    if not check_mode:
        if web_acl_arn:
            wafv2.associate_web_acl(WebACLArn=web_acl_arn, ResourceArn=resource_arn)
        else:
            wafv2.disassociate_web_acl(ResourceArn=resource_arn)
    return True, current, web_acl_arn
