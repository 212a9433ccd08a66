"""_amplify_app: rewrites, headers, comparisons, and get-or-create over a fake Amplify client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._amplify_app import (
    SPA_SOURCE,
    AppRequest,
    custom_headers,
    custom_rules,
    differences,
    ensure_app,
)
from botocore.exceptions import ClientError


def not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "NotFoundException", "Message": "not found"}}, operation)


class FakeAmplify:
    """Apps, branches and domains in dicts; records every write."""

    def __init__(self) -> None:
        self.apps: dict[str, dict[str, Any]] = {}
        self.branches: dict[tuple[str, str], dict[str, Any]] = {}
        self.domains: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes: list[str] = []

    def list_apps(self, maxResults: int, **kwargs: Any) -> dict[str, Any]:
        return {"apps": list(self.apps.values())}

    def create_app(self, name: str, tags: dict[str, str] | None = None, **settings: Any) -> dict[str, Any]:
        self.writes.append("create_app")
        app_id = f"d{len(self.apps)}"
        arn = f"arn:aws:amplify:eu-west-2:1:apps/{app_id}"
        app = {"appId": app_id, "appArn": arn, "name": name, "defaultDomain": f"{app_id}.amplifyapp.com"}
        self.apps[app_id] = {**app, **settings, "tags": dict(tags or {})}
        return {"app": self.apps[app_id]}

    def update_app(self, appId: str, **settings: Any) -> dict[str, Any]:
        self.writes.append("update_app")
        self.apps[appId].update(settings)
        return {"app": self.apps[appId]}

    def tag_resource(self, resourceArn: str, tags: dict[str, str]) -> None:
        self.writes.append("tag_resource")
        for app in self.apps.values():
            if app["appArn"] == resourceArn:
                app["tags"].update(tags)

    def untag_resource(self, resourceArn: str, tagKeys: list[str]) -> None:
        self.writes.append("untag_resource")

    def get_branch(self, appId: str, branchName: str) -> dict[str, Any]:
        if (appId, branchName) not in self.branches:
            raise not_found("GetBranch")
        return {"branch": self.branches[(appId, branchName)]}

    def create_branch(
        self, appId: str, branchName: str, tags: dict[str, str], **settings: Any
    ) -> dict[str, Any]:
        self.writes.append("create_branch")
        branch = {
            "branchArn": f"{appId}/branches/{branchName}",
            "branchName": branchName,
            "tags": tags,
            **settings,
        }
        self.branches[(appId, branchName)] = branch
        return {"branch": branch}

    def update_branch(self, appId: str, branchName: str, **settings: Any) -> dict[str, Any]:
        self.writes.append("update_branch")
        self.branches[(appId, branchName)].update(settings)
        return {"branch": self.branches[(appId, branchName)]}

    def get_domain_association(self, appId: str, domainName: str) -> dict[str, Any]:
        if (appId, domainName) not in self.domains:
            raise not_found("GetDomainAssociation")
        return {"domainAssociation": self.domains[(appId, domainName)]}

    def create_domain_association(
        self, appId: str, domainName: str, subDomainSettings: list
    ) -> dict[str, Any]:
        self.writes.append("create_domain_association")
        domain = {
            "domainName": domainName,
            "domainStatus": "AVAILABLE",
            "subDomains": [{"subDomainSetting": setting} for setting in subDomainSettings],
        }
        self.domains[(appId, domainName)] = domain
        return {"domainAssociation": domain}

    def update_domain_association(
        self, appId: str, domainName: str, subDomainSettings: list
    ) -> dict[str, Any]:
        self.writes.append("update_domain_association")
        return self.create_domain_association(appId, domainName, subDomainSettings)


def amplify_regex(source: str) -> re.Pattern[str]:
    return re.compile(source[2:-2])


@pytest.mark.parametrize(
    ("path", "rewritten"),
    [
        ("/", True),
        ("/dashboard/settings", True),
        ("/index.html", True),  # .html is not a static asset extension: served from index.html either way
        ("/assets/app.js", False),
        ("/favicon.ico", False),
        ("/fonts/a.woff2", False),
        ("/manifest.json", False),
    ],
)
def test_spa_rule_rewrites_routes_but_not_assets(path: str, rewritten: bool) -> None:
    assert bool(amplify_regex(SPA_SOURCE).search(path)) is rewritten


@pytest.mark.parametrize(
    ("api_url", "targets"),
    [
        (None, ["/index.html"]),
        ("https://api.example.com/", ["https://api.example.com/api/<*>", "/index.html"]),
    ],
)
def test_api_rewrite_comes_before_the_spa_rule(api_url: str | None, targets: list[str]) -> None:
    rules = custom_rules(api_url)
    assert [rule["target"] for rule in rules] == targets
    assert all(rule["status"] == "200" for rule in rules)


def test_headers_cover_every_path_with_the_security_headers() -> None:
    headers = custom_headers()
    assert headers.startswith("customHeaders:\n  - pattern: '**'")
    for key in ("Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert f"- key: '{key}'" in headers
    assert "value: 'DENY'" in headers and "value: 'nosniff'" in headers


def test_differences_ignore_amplify_empty_rule_condition() -> None:
    wanted = AppRequest(name="web").app_settings()
    current = {**wanted, "customRules": [{**rule, "condition": ""} for rule in wanted["customRules"]]}
    assert differences(current, wanted) == {}
    assert differences({**current, "enableBranchAutoBuild": True}, wanted) == {"enableBranchAutoBuild": False}


def test_check_mode_on_an_empty_account_predicts_without_writing() -> None:
    amplify = FakeAmplify()
    result = ensure_app(amplify, AppRequest(name="web", domain_name="example.com"), check_mode=True)
    assert result.changed and amplify.writes == []
    assert result.before["app"] is None and result.after["branch"]["stage"] == "PRODUCTION"


def test_create_then_rerun_changes_nothing() -> None:
    amplify = FakeAmplify()
    request = AppRequest(
        name="web", api_url="https://api.example.com", tags={"Component": "edge"}, domain_name="ex.com"
    )
    first = ensure_app(amplify, request, check_mode=False)
    assert first.changed
    assert amplify.writes == ["create_app", "create_branch", "create_domain_association"]
    output = first.as_dict(request)
    assert output["site_url"] == "https://main.d0.amplifyapp.com"
    assert output["domain"]["subdomains"] == [
        {"prefix": "", "branch": "main"},
        {"prefix": "www", "branch": "main"},
    ]
    amplify.writes.clear()
    assert not ensure_app(amplify, request, check_mode=False).changed
    assert amplify.writes == []


def test_drift_is_updated_only_where_it_differs() -> None:
    amplify = FakeAmplify()
    request = AppRequest(name="web", tags={"Component": "edge"})
    ensure_app(amplify, request, check_mode=False)
    amplify.apps["d0"]["customRules"] = []
    amplify.branches[("d0", "main")]["enableAutoBuild"] = True
    amplify.writes.clear()
    assert ensure_app(amplify, request, check_mode=True).changed and amplify.writes == []
    assert ensure_app(amplify, request, check_mode=False).changed
    assert amplify.writes == ["update_app", "update_branch"]
