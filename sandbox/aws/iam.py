"""IAM policy evaluation where the sandbox's ECS and Amplify act for the account.

AWS's IAM User Guide, "Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html), for one
account: every request starts denied; an explicit ``Deny`` in any applicable policy wins; otherwise an
``Allow`` in an identity-based policy (bounded by a permissions boundary when the role has one) or in a
resource-based policy that names the principal allows it; nothing allowing it is an implicit deny.

A statement applies when its ``Action`` (or ``NotAction``), ``Resource`` (or ``NotResource``), for
resource-based policies its ``Principal`` (or ``NotPrincipal``), and every one of its ``Condition``
operators match ("IAM JSON policy elements reference"). Actions match case-insensitively, resources and
string conditions case-sensitively, with ``*`` and ``?`` wildcards. Condition operators here are those
the collection's policies use: ``StringEquals``, ``StringLike``, ``ArnLike`` and ``ArnEquals`` ("IAM
JSON policy elements: Condition operators"): several keys under one operator and several operators in one
block must all match, several values of one key match when any does, and a key missing from the request's
context does not match ("If the key that you specify in a policy condition is not present in the request
context, the values do not match"). Any other operator makes the statement not apply: a policy the
sandbox cannot read grants nothing (and denies nothing: a Deny it cannot read is not enforced).

The readers at the end take policies from moto's in-process backends: a role's inline and attached
managed policies, its permissions boundary and trust policy, a bucket's policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import unquote

Document = Mapping[str, Any]


class Decision(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Principal:
    """Who makes the request: a service (``amplify.amazonaws.com``) or an AWS identity (an ARN)."""

    kind: str  # "Service" | "AWS"
    name: str

    @property
    def account(self) -> str | None:
        if self.kind == "AWS" and self.name.startswith("arn:"):
            return self.name.split(":")[4]
        return None


@dataclass(frozen=True)
class Request:
    action: str  # service:Operation
    resource: str  # an ARN
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys, e.g. aws:SourceAccount
    principal: Principal | None = None  # needed by resource-based policies

    def value(self, key: str) -> str | None:
        """A context key's value; condition key names are case-insensitive."""
        lowered = key.lower()
        return next((v for k, v in self.context.items() if k.lower() == lowered), None)


# -- matching --------------------------------------------------------------------------------------------


def _wildcard(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z",
        flags | re.DOTALL,
    )


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, re.IGNORECASE if ignore_case else 0).match(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """``s3:Get*`` matches ``s3:GetObject``; action names are case-insensitive."""
    return wildcard_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """ArnLike / ArnEquals: the six colon-separated parts match one by one, each with wildcards.

    AWS's Condition operators page: "Each of the six colon-delimited components of the ARN is checked
    separately and each can include multi-character match wildcards (*) or single-character match
    wildcards (?)." The resource part keeps its own colons.
    """
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if pattern == "*":
        return True
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _values(element: Any) -> list[str]:
    if element is None:
        return []
    if isinstance(element, str):
        return [element]
    return [str(item) for item in element]


def _string_equals(wanted: str, actual: str) -> bool:
    return wanted == actual


CONDITION_OPERATORS = {
    "StringEquals": _string_equals,
    "StringLike": wildcard_match,
    "ArnLike": arn_matches,
    "ArnEquals": arn_matches,
}


def conditions_match(block: Mapping[str, Any] | None, request: Request) -> bool:
    for operator, keys in (block or {}).items():
        if not isinstance(keys, Mapping):
            return False
        for key, wanted in keys.items():
            compare = CONDITION_OPERATORS.get(operator)
            if compare is None:
                return False  # an operator the sandbox does not model
            actual = request.value(key)
            if actual is None or not any(compare(value, actual) for value in _values(wanted)):
                return False
    return True


def principal_matches(element: Any, principal: Principal | None) -> bool:
    """A resource-based policy's ``Principal``: ``"*"``, ``{"Service": ...}`` or ``{"AWS": ...}``.

    ``{"AWS": "123456789012"}`` or ``arn:aws:iam::123456789012:root`` names the whole account.
    """
    if principal is None:
        return False
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for value in _values(element.get(principal.kind)):
        if value == "*" or value == principal.name:
            return True
        if principal.kind == "AWS" and value in (principal.account, f"arn:aws:iam::{principal.account}:root"):
            return True
    return False


def statement_applies(statement: Mapping[str, Any], request: Request, resource_based: bool) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _values(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, request.action) for p in _values(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(p == "*" or arn_matches(p, request.resource) for p in _values(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(p == "*" or arn_matches(p, request.resource) for p in _values(statement["NotResource"])):
            return False
    elif not resource_based:  # a trust policy names no resource: the role is the resource
        return False
    if resource_based:
        if "Principal" in statement:
            if not principal_matches(statement["Principal"], request.principal):
                return False
        elif "NotPrincipal" in statement:
            if principal_matches(statement["NotPrincipal"], request.principal):
                return False
        else:
            return False
    return conditions_match(statement.get("Condition"), request)


def statements(document: Document | None) -> list[Mapping[str, Any]]:
    if not document:
        return []
    found = document.get("Statement") or []
    return [found] if isinstance(found, Mapping) else [s for s in found if isinstance(s, Mapping)]


def evaluate(
    documents: Iterable[Document | None], request: Request, resource_based: bool = False
) -> Decision:
    """One set of policies: explicit Deny wins, then any Allow, else the implicit deny."""
    allowed = False
    for document in documents:
        for statement in statements(document):
            if not statement_applies(statement, request, resource_based):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def evaluate_access(
    identity: Sequence[Document | None],
    request: Request,
    boundary: Document | None = None,
    resource: Sequence[Document | None] = (),
) -> Decision:
    """Identity-based policies (within a permissions boundary), and resource-based ones, in one account.

    "Policy evaluation logic": a Deny in any of them is final; within one account an Allow in either
    the identity-based or the resource-based policies is enough, but a boundary must allow the action
    too for the identity-based Allow to count.
    """
    identity_decision = evaluate(identity, request)
    resource_decision = evaluate(resource, request, resource_based=True)
    boundary_decision = evaluate([boundary], request) if boundary is not None else Decision.ALLOW
    if Decision.EXPLICIT_DENY in (identity_decision, resource_decision, boundary_decision):
        return Decision.EXPLICIT_DENY
    if resource_decision is Decision.ALLOW:
        return Decision.ALLOW
    if identity_decision is Decision.ALLOW and boundary_decision is Decision.ALLOW:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def trusts(trust_policy: Document | None, service: str, role_arn: str, context: Mapping[str, str]) -> bool:
    """Whether a role's trust policy lets ``service`` call sts:AssumeRole, with the context it sends."""
    request = Request("sts:AssumeRole", role_arn, context, Principal("Service", service))
    return evaluate([trust_policy], request, resource_based=True) is Decision.ALLOW


def denied_message(caller: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied wording (IAM User Guide, "Troubleshooting access denied error messages")."""
    reason = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {caller} is not authorized to perform: {action} on resource: {resource} {reason}"


def assumed_role_arn(role_arn: str, session: str) -> str:
    """arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION for a role ARN (its path dropped, as STS does)."""
    parts = role_arn.split(":", 5)
    name = parts[5].rsplit("/", 1)[-1] if len(parts) == 6 else role_arn
    partition = parts[1] if len(parts) == 6 else "aws"
    account = parts[4] if len(parts) == 6 else ""
    return f"arn:{partition}:sts::{account}:assumed-role/{name}/{session}"


# -- moto's backends ---------------------------------------------------------------------------------------


def _document(text: Any) -> Document | None:
    """A policy document from moto: JSON text (sometimes URL-encoded, as IAM returns it) or a dict."""
    if isinstance(text, Mapping):
        return text
    if isinstance(text, bytes):
        text = text.decode()
    if not isinstance(text, str) or not text.strip():
        return None
    for candidate in (text, unquote(text)):
        try:
            loaded = json.loads(candidate)
        except ValueError:
            continue
        return loaded if isinstance(loaded, Mapping) else None
    return None


@dataclass(frozen=True)
class RolePolicies:
    arn: str
    trust: Document | None
    identity: list[Document | None]
    boundary: Document | None


def _managed_document(policy: Any) -> Document | None:
    versions = getattr(policy, "versions", None) or []
    default = next(
        (v for v in versions if getattr(v, "is_default", False)), versions[0] if versions else None
    )
    return _document(getattr(default, "document", None))


def find_role(role_arn: str) -> RolePolicies | None:
    """The role named by ``role_arn`` as moto holds it (None when it does not exist)."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    partition, account = parts[1], parts[4]
    if account not in iam_backends:
        return None
    backend = iam_backends[account][partition]
    role = next((r for r in list(backend.roles.values()) if r.arn == role_arn), None)
    if role is None:
        return None
    identity = [_document(doc) for doc in list(role.policies.values())]
    identity += [_managed_document(policy) for policy in list(role.managed_policies.values())]
    boundary = None
    if role.permissions_boundary_arn:
        policy = backend.managed_policies.get(role.permissions_boundary_arn)
        boundary = _managed_document(policy) if policy is not None else {"Statement": []}
    return RolePolicies(role.arn, _document(role.assume_role_policy_document), identity, boundary)


def role_allows(role: RolePolicies, request: Request) -> Decision:
    return evaluate_access(role.identity, request, boundary=role.boundary)


def bucket_policy(bucket: Any) -> Document | None:
    return _document(getattr(bucket, "policy", None))


# -- where ECS assumes a role -------------------------------------------------------------------------------

ECS = "ecs.amazonaws.com"
INFRASTRUCTURE_SESSION = "ECSInfrastructureSession"


def ecs_source(account: str, region: str, cluster: str | None, service: str) -> dict[str, str]:
    """The context ECS sends with sts:AssumeRole for a service: its account and the service's ARN."""
    cluster_name = (cluster or "default").rsplit("/", 1)[-1]
    return {
        "aws:SourceAccount": account,
        "aws:SourceArn": f"arn:aws:ecs:{region}:{account}:service/{cluster_name}/{service}",
    }


def infrastructure_roles(load_balancers: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [
        str(role)
        for balancer in load_balancers or []
        if (role := (balancer.get("advancedConfiguration") or {}).get("roleArn"))
    ]


def infrastructure_role_refusal(role_arn: str, context: Mapping[str, str]) -> str | None:
    """CreateService's InvalidParameterException when ECS cannot assume the infrastructure role: it does
    not exist, or its trust policy does not let ecs.amazonaws.com assume it with this context.

    The wording is ECS's (as CreateService answers it for an infrastructure role it cannot assume).
    """
    role = find_role(role_arn)
    if role is not None and trusts(role.trust, ECS, role.arn, context):
        return None
    return (
        f"ECS was unable to assume the configured ECS Infrastructure Role '{role_arn}'. "
        "Please verify that the role being passed has the proper trust relationship with Amazon ECS."
    )


def load_balancer_requests(advanced: Mapping[str, Any], target_groups: Sequence[str | None]) -> list[Request]:
    """What ECS does with the infrastructure role in a blue/green deployment (AWS's "Amazon ECS
    infrastructure IAM role for load balancers" and its managed policy
    AmazonECSInfrastructureRolePolicyForLoadBalancers): read the listeners, rules, target groups and
    their health, register and deregister the tasks, and move the weights of the production and test
    listener rules."""
    requests = [
        Request(f"elasticloadbalancing:{action}", "*")
        for action in ("DescribeListeners", "DescribeRules", "DescribeTargetGroups", "DescribeTargetHealth")
    ]
    for group in target_groups:
        if group:
            requests += [
                Request("elasticloadbalancing:RegisterTargets", group),
                Request("elasticloadbalancing:DeregisterTargets", group),
            ]
    for key in ("productionListenerRule", "testListenerRule"):
        if advanced.get(key):
            requests.append(Request("elasticloadbalancing:ModifyRule", str(advanced[key])))
    return requests


def infrastructure_role_denial(
    role_arn: str, context: Mapping[str, str], requests: Sequence[Request]
) -> str | None:
    """Why ECS cannot run a blue/green step with this role (None when it can)."""
    refusal = infrastructure_role_refusal(role_arn, context)
    role = find_role(role_arn)
    if refusal is not None or role is None:
        return refusal
    caller = assumed_role_arn(role.arn, INFRASTRUCTURE_SESSION)
    for request in requests:
        decision = role_allows(role, request)
        if decision is not Decision.ALLOW:
            return "AccessDenied: " + denied_message(caller, request.action, request.resource, decision)
    return None


__all__ = [
    "CONDITION_OPERATORS",
    "Decision",
    "Principal",
    "Request",
    "RolePolicies",
    "action_matches",
    "arn_matches",
    "assumed_role_arn",
    "bucket_policy",
    "conditions_match",
    "denied_message",
    "evaluate",
    "ecs_source",
    "evaluate_access",
    "find_role",
    "infrastructure_role_denial",
    "infrastructure_role_refusal",
    "infrastructure_roles",
    "load_balancer_requests",
    "role_allows",
    "statement_applies",
    "trusts",
    "wildcard_match",
]
