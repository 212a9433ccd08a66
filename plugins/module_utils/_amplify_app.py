# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An Amplify Hosting app for a single-page client, its production branch and its custom domain.

Plain Python, no Ansible: ``plugins/modules/amplify_app.py`` is a thin shell over :func:`ensure_app`.
Each part is read, compared with what is wanted, and written only when it differs (never in check mode).
Functions take a boto3 ``amplify`` client; botocore's errors pass through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.macroai.deploy.plugins.module_utils._amplify import site_url
from ansible_collections.macroai.deploy.plugins.module_utils._aws import tag_changes

# Paths without a file extension, or with one a static build does not hold, are the client's routes.
SPA_SOURCE = "</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|woff2|ttf|map|json|webp)$)([^.]+$)/>"
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)


def custom_rules(api_url: str | None) -> list[dict[str, str]]:
    """The rewrites, in the order Amplify evaluates them: ``/api/*`` to the API first (the SPA rule would
    otherwise take those extension-less paths), then every client route to ``/index.html``."""
    rules = []
    if api_url:
        rules.append({"source": "/api/<*>", "target": f"{api_url.rstrip('/')}/api/<*>", "status": "200"})
    rules.append({"source": SPA_SOURCE, "target": "/index.html", "status": "200"})
    return rules


def custom_headers(headers: Sequence[tuple[str, str]] = SECURITY_HEADERS) -> str:
    """Amplify's customHeaders YAML applying ``headers`` to every path."""
    lines = ["customHeaders:", "  - pattern: '**'", "    headers:"]
    for key, value in headers:
        lines += [f"      - key: '{key}'", f"        value: '{value}'"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class AppRequest:
    name: str
    branch: str = "main"
    api_url: str | None = None
    description: str = ""
    tags: Mapping[str, str] | None = None
    purge_tags: bool = True
    domain_name: str | None = None
    subdomains: Sequence[str] = ("", "www")

    def app_settings(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "platform": "WEB",
            "customRules": custom_rules(self.api_url),
            "customHeaders": custom_headers(),
            "enableBranchAutoBuild": False,
        }

    def subdomain_settings(self) -> list[dict[str, str]]:
        return [{"prefix": prefix, "branchName": self.branch} for prefix in self.subdomains]


BRANCH_SETTINGS: dict[str, Any] = {"stage": "PRODUCTION", "enableAutoBuild": False}


def differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The wanted fields whose current value differs (rules compared without Amplify's empty
    ``condition``)."""
    changed = {}
    for key, value in wanted.items():
        have = current.get(key)
        if key == "customRules":
            have = [{k: v for k, v in rule.items() if v not in (None, "")} for rule in have or []]
        if have != value:
            changed[key] = value
    return changed


def subdomain_view(source: Mapping[str, Any] | Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Prefix and branch of each subdomain, sorted, from a domain association or subDomainSettings."""
    if isinstance(source, Mapping):
        source = [sub.get("subDomainSetting") or {} for sub in source.get("subDomains") or []]
    pairs = sorted((s.get("prefix") or "", s.get("branchName") or "") for s in source)
    return [{"prefix": prefix, "branch": branch} for prefix, branch in pairs]


@dataclass
class AppResult:
    changed: bool = False
    app: dict[str, Any] = field(default_factory=dict)
    branch: dict[str, Any] = field(default_factory=dict)
    domain: dict[str, Any] | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, request: AppRequest) -> dict[str, Any]:
        app = self.app
        domain = self.domain
        return {
            "changed": self.changed,
            "app_id": app.get("appId"),
            "app_arn": app.get("appArn"),
            "app_name": request.name,
            "default_domain": app.get("defaultDomain"),
            "branch": request.branch,
            "branch_arn": self.branch.get("branchArn"),
            "site_url": site_url(app, request.branch) if app.get("appId") else None,
            "domain": None
            if domain is None
            else {
                "name": domain.get("domainName"),
                "status": domain.get("domainStatus"),
                "subdomains": subdomain_view(domain),
                "certificate_verification_dns_record": domain.get("certificateVerificationDNSRecord"),
            },
        }


def find_app(amplify: Any, name: str) -> dict[str, Any] | None:
    found: list[dict[str, Any]] = []
    token = None
    for _page in range(20):
        page = amplify.list_apps(maxResults=100, **({"nextToken": token} if token else {}))
        found += [app for app in page.get("apps", []) if app.get("name") == name]
        token = page.get("nextToken")
        if not token:
            break
    if len(found) > 1:
        ids = ", ".join(sorted(app["appId"] for app in found))
        raise ValueError(f"name: {len(found)} Amplify apps are named {name!r} ({ids}); delete the extras")
    return found[0] if found else None


def _get_or_none(call: Any, key: str, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return call(**kwargs)[key]
    except is_boto3_error_code("NotFoundException"):
        return None


def _sync_tags(
    amplify: Any, arn: str, current: Mapping[str, str], request: AppRequest, check_mode: bool
) -> bool:
    to_set, to_remove = tag_changes(current, request.tags, request.purge_tags)
    if not (to_set or to_remove):
        return False
    if not check_mode:
        if to_set:
            amplify.tag_resource(resourceArn=arn, tags=to_set)
        if to_remove:
            amplify.untag_resource(resourceArn=arn, tagKeys=to_remove)
    return True


def ensure_app(amplify: Any, request: AppRequest, check_mode: bool) -> AppResult:
    result = AppResult()
    wanted_app = request.app_settings()
    app = find_app(amplify, request.name)
    result.before["app"] = (
        None if app is None else {**{k: app.get(k) for k in wanted_app}, "tags": app.get("tags")}
    )
    result.after["app"] = {
        **wanted_app,
        "tags": dict(request.tags or {}) if request.tags is not None else (app or {}).get("tags"),
    }
    if app is None:
        result.changed = True
        if check_mode:
            result.after["branch"] = dict(BRANCH_SETTINGS)
            if request.domain_name:
                result.after["domain"] = {
                    "domainName": request.domain_name,
                    "subdomains": subdomain_view(request.subdomain_settings()),
                }
            return result
        tags = {"tags": dict(request.tags)} if request.tags else {}
        app = amplify.create_app(name=request.name, **tags, **wanted_app)["app"]
    else:
        update = differences(app, wanted_app)
        if update:
            result.changed = True
            if not check_mode:
                app = amplify.update_app(appId=app["appId"], **update)["app"]
        result.changed |= _sync_tags(amplify, app["appArn"], app.get("tags") or {}, request, check_mode)
    result.app = app
    result.changed |= ensure_branch(amplify, app["appId"], request, check_mode, result)
    if request.domain_name:
        result.changed |= ensure_domain(amplify, app["appId"], request, check_mode, result)
    return result


def ensure_branch(
    amplify: Any, app_id: str, request: AppRequest, check_mode: bool, result: AppResult
) -> bool:
    branch = _get_or_none(amplify.get_branch, "branch", appId=app_id, branchName=request.branch)
    result.before["branch"] = None if branch is None else {k: branch.get(k) for k in BRANCH_SETTINGS}
    result.after["branch"] = dict(BRANCH_SETTINGS)
    if branch is None:
        tags = {"tags": dict(request.tags)} if request.tags else {}
        if not check_mode:
            result.branch = amplify.create_branch(
                appId=app_id, branchName=request.branch, **tags, **BRANCH_SETTINGS
            )["branch"]
        return True
    changed = False
    update = differences(branch, BRANCH_SETTINGS)
    if update:
        changed = True
        if not check_mode:
            branch = amplify.update_branch(appId=app_id, branchName=request.branch, **update)["branch"]
    changed |= _sync_tags(amplify, branch["branchArn"], branch.get("tags") or {}, request, check_mode)
    result.branch = branch
    return changed


def ensure_domain(
    amplify: Any, app_id: str, request: AppRequest, check_mode: bool, result: AppResult
) -> bool:
    wanted = request.subdomain_settings()
    domain = _get_or_none(
        amplify.get_domain_association, "domainAssociation", appId=app_id, domainName=request.domain_name
    )
    result.before["domain"] = (
        None if domain is None else {"domainName": request.domain_name, "subdomains": subdomain_view(domain)}
    )
    result.after["domain"] = {
        "domainName": request.domain_name,
        "subdomains": subdomain_view(wanted),
    }
    if domain is None:
        if not check_mode:
            result.domain = amplify.create_domain_association(
                appId=app_id, domainName=request.domain_name, subDomainSettings=wanted
            )["domainAssociation"]
        return True
    result.domain = domain
    if subdomain_view(domain) == result.after["domain"]["subdomains"]:
        return False
    if not check_mode:
        result.domain = amplify.update_domain_association(
            appId=app_id, domainName=request.domain_name, subDomainSettings=wanted
        )["domainAssociation"]
    return True
