"""roles/edge against the sandbox: the Amplify app and branch, the domain's certificate and records, the
load balancer's WAF; check mode writes nothing and a second run changes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT, ansible_env, aws_client, run_playbook

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PROJECT = "edgetest"
DOMAIN = "edgetest.example.com"


def load_balancer(sandbox: SandboxClient) -> dict[str, Any]:
    ec2 = aws_client(sandbox, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    zones = [zone["ZoneName"] for zone in ec2.describe_availability_zones()["AvailabilityZones"][:2]]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{index}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for index, zone in enumerate(zones)
    ]
    elbv2 = aws_client(sandbox, "elbv2")
    return elbv2.create_load_balancer(Name=f"{PROJECT}-alb", Subnets=subnets, Type="application")[
        "LoadBalancers"
    ][0]


def write_playbook(tmp_path: Path, sandbox: SandboxClient, role_vars: dict[str, Any]) -> Path:
    connection = {"endpoint_url": sandbox.base_url, "access_key": "testing", "secret_key": "testing"}
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", **role_vars},
        "module_defaults": {"group/amazon.aws.aws": connection, "group/macroai.deploy.aws": connection},
        "roles": [{"role": str(REPO_ROOT / "roles" / "edge")}],
        "post_tasks": [{"name": "show edge", "ansible.builtin.debug": {"var": "edge"}}],
    }
    path = tmp_path / "edge.yml"
    path.write_text(json.dumps([play]))
    return path


def recap(output: str) -> dict[str, int]:
    line = next(
        line for line in reversed(output.splitlines()) if line.startswith("localhost") and "ok=" in line
    )
    return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[2:])}


def test_enterprise_edge_converges_once_and_checks_without_writing(
    clean_sandbox: SandboxClient, tmp_path: Path
) -> None:
    route53 = aws_client(clean_sandbox, "route53")
    zone_id = route53.create_hosted_zone(Name=DOMAIN, CallerReference=f"{PROJECT}-{time.time()}")[
        "HostedZone"
    ]["Id"].split("/")[-1]
    alb = load_balancer(clean_sandbox)
    playbook = write_playbook(
        tmp_path,
        clean_sandbox,
        {
            "deploy_project": PROJECT,
            "deploy_environment": "production",
            "deploy_scale": "enterprise",
            "edge_domain_name": DOMAIN,
            "edge_api_url": f"https://api.{DOMAIN}",
            "edge_waf_enabled": True,
            "edge_load_balancer_arn": alb["LoadBalancerArn"],
            "edge_load_balancer_dns_name": alb["DNSName"],
            "edge_load_balancer_zone_id": alb["CanonicalHostedZoneId"],
        },
    )
    env = ansible_env(clean_sandbox.base_url)

    started = time.time()
    check = run_playbook(playbook, extra_args=["--check"], env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check.stdout)["changed"] >= 3
    assert clean_sandbox.requests(write=True, since=started) == []

    first = run_playbook(playbook, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["changed"] >= 5

    second = run_playbook(playbook, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout)["changed"] == 0, second.stdout

    amplify = aws_client(clean_sandbox, "amplify")
    (app,) = [app for app in amplify.list_apps()["apps"] if app["name"] == f"{PROJECT}-production-client"]
    assert app["platform"] == "WEB" and app["enableBranchAutoBuild"] is False
    assert [rule["target"] for rule in app["customRules"]] == [f"https://api.{DOMAIN}/api/<*>", "/index.html"]
    assert "X-Frame-Options" in app["customHeaders"] and app["tags"]["Component"] == "edge"
    branch = amplify.get_branch(appId=app["appId"], branchName="main")["branch"]
    assert (branch["stage"], branch["enableAutoBuild"]) == ("PRODUCTION", False)
    domain = amplify.get_domain_association(appId=app["appId"], domainName=DOMAIN)["domainAssociation"]
    assert sorted(sub["subDomainSetting"]["prefix"] for sub in domain["subDomains"]) == ["", "www"]

    acm = aws_client(clean_sandbox, "acm")
    (summary,) = acm.list_certificates()["CertificateSummaryList"]
    certificate = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
    assert certificate["DomainName"] == f"api.{DOMAIN}"
    records = {
        (record["Name"], record["Type"]): record
        for record in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    }
    validation = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    assert (validation["Name"], "CNAME") in records
    alias = records[(f"api.{DOMAIN}.", "A")]["AliasTarget"]
    assert alias["DNSName"].rstrip(".").lower() == alb["DNSName"].lower()

    wafv2 = aws_client(clean_sandbox, "wafv2")
    acl = wafv2.get_web_acl_for_resource(ResourceArn=alb["LoadBalancerArn"])["WebACL"]
    assert acl["Name"] == f"{PROJECT}-production-alb"
    statements = [rule["Statement"] for rule in acl["Rules"]]
    assert [s["ManagedRuleGroupStatement"]["Name"] for s in statements[:3]] == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ]
    assert statements[3]["RateBasedStatement"]["Limit"] == 2000
    # The edge fact carries the outputs later phases use.
    for output in (summary["CertificateArn"], acl["ARN"], f"site_url: https://{DOMAIN}", app["appId"]):
        assert output in second.stdout


def test_hobby_edge_without_domain_or_waf_is_just_the_app(
    clean_sandbox: SandboxClient, tmp_path: Path
) -> None:
    role_vars = {"deploy_project": PROJECT, "deploy_environment": "staging", "deploy_scale": "hobby"}
    playbook = write_playbook(tmp_path, clean_sandbox, role_vars)
    env = ansible_env(clean_sandbox.base_url)
    first = run_playbook(playbook, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["changed"] == 1
    second = run_playbook(playbook, env=env)
    assert recap(second.stdout)["changed"] == 0, second.stdout
    (app,) = aws_client(clean_sandbox, "amplify").list_apps()["apps"]
    assert [rule["target"] for rule in app["customRules"]] == ["/index.html"]
    assert f"site_url: https://main.{app['defaultDomain']}" in second.stdout
    assert aws_client(clean_sandbox, "acm").list_certificates()["CertificateSummaryList"] == []
