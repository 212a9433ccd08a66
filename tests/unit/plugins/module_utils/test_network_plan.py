import ipaddress
from dataclasses import replace

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._network_plan import (
    NetworkInputs,
    NetworkPlanError,
    plan_network,
    validate_inputs,
)

EU_WEST_2 = ["eu-west-2a", "eu-west-2b", "eu-west-2c"]

HOBBY = NetworkInputs(
    project="macroai",
    environment="production",
    region="eu-west-2",
    vpc_cidr="10.0.0.0/16",
    az_count=2,
    nat_gateway_count=0,
    tasks_in_public_subnets=True,
    vpc_endpoints=[],
)
ENTERPRISE = replace(
    HOBBY,
    az_count=3,
    nat_gateway_count=3,
    tasks_in_public_subnets=False,
    vpc_endpoints=["s3", "ecr.api", "ecr.dkr", "logs", "secretsmanager"],
)


def cidrs(plan, tier):
    return [subnet["cidr"] for subnet in plan["subnets"][tier]]


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            HOBBY,
            {
                "public": ["10.0.0.0/21", "10.0.8.0/21"],
                "private": ["10.0.64.0/21", "10.0.72.0/21"],
                "isolated": ["10.0.128.0/21", "10.0.136.0/21"],
            },
        ),
        (
            ENTERPRISE,
            {
                "public": ["10.0.0.0/21", "10.0.8.0/21", "10.0.16.0/21"],
                "private": ["10.0.64.0/21", "10.0.72.0/21", "10.0.80.0/21"],
                "isolated": ["10.0.128.0/21", "10.0.136.0/21", "10.0.144.0/21"],
            },
        ),
        (
            replace(HOBBY, vpc_cidr="172.16.4.0/22"),
            {
                "public": ["172.16.4.0/27", "172.16.4.32/27"],
                "private": ["172.16.5.0/27", "172.16.5.32/27"],
                "isolated": ["172.16.6.0/27", "172.16.6.32/27"],
            },
        ),
    ],
    ids=["hobby-2-azs", "enterprise-3-azs", "smallest-vpc"],
)
def test_plan_cidrs(inputs, expected):
    plan = plan_network(inputs, EU_WEST_2)
    assert {tier: cidrs(plan, tier) for tier in expected} == expected
    assert plan["azs"] == EU_WEST_2[: inputs.az_count]
    all_subnets = [ipaddress.ip_network(c) for tier in expected for c in expected[tier]]
    vpc = ipaddress.ip_network(inputs.vpc_cidr)
    assert all(subnet.subnet_of(vpc) for subnet in all_subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(all_subnets) for b in all_subnets[i + 1 :])


@pytest.mark.parametrize("tier", ["public", "private", "isolated"])
def test_adding_an_az_keeps_existing_subnets(tier):
    two = plan_network(HOBBY, EU_WEST_2)
    three = plan_network(replace(HOBBY, az_count=3), EU_WEST_2)
    assert three["subnets"][tier][:2] == two["subnets"][tier]


def test_subnet_follows_its_zone_letter_not_its_position():
    # eu-west-2b unavailable: eu-west-2c keeps the slot it would have with all three zones.
    with_gap = plan_network(HOBBY, ["eu-west-2a", "eu-west-2c"])
    full = plan_network(replace(HOBBY, az_count=3), EU_WEST_2)
    assert with_gap["subnets"]["public"][1] == full["subnets"]["public"][2]


def test_plan_names_nat_routes_and_endpoints():
    plan = plan_network(ENTERPRISE, EU_WEST_2)
    assert plan["subnets"]["public"][0]["name"] == "macroai-production-public-a"
    assert plan["nat_gateway_azs"] == EU_WEST_2
    assert [t["name"] for t in plan["route_tables"]] == [
        "macroai-production-public",
        "macroai-production-private-a",
        "macroai-production-private-b",
        "macroai-production-private-c",
        "macroai-production-isolated",
    ]
    assert plan["vpc_endpoints"]["gateway"] == [
        {"service": "s3", "service_name": "com.amazonaws.eu-west-2.s3"}
    ]
    assert [e["service"] for e in plan["vpc_endpoints"]["interface"]] == [
        "ecr.api",
        "ecr.dkr",
        "logs",
        "secretsmanager",
    ]
    assert plan["task_subnet_tier"] == "private"


@pytest.mark.parametrize(
    ("nat_gateway_count", "private_tables"),
    [
        (0, [("macroai-production-private", None, ["eu-west-2a", "eu-west-2b", "eu-west-2c"])]),
        (1, [("macroai-production-private-a", "eu-west-2a", ["eu-west-2a", "eu-west-2b", "eu-west-2c"])]),
        (
            2,
            [
                ("macroai-production-private-a", "eu-west-2a", ["eu-west-2a", "eu-west-2c"]),
                ("macroai-production-private-b", "eu-west-2b", ["eu-west-2b"]),
            ],
        ),
    ],
)
def test_private_route_tables_follow_nat_gateways(nat_gateway_count, private_tables):
    plan = plan_network(replace(HOBBY, az_count=3, nat_gateway_count=nat_gateway_count), EU_WEST_2)
    private = [t for t in plan["route_tables"] if t["tier"] == "private"]
    assert [(t["name"], t["nat_gateway_az"], t["azs"]) for t in private] == private_tables


def test_private_tasks_without_nat_are_fine_with_endpoints():
    inputs = replace(ENTERPRISE, nat_gateway_count=0)
    assert plan_network(inputs, EU_WEST_2)["nat_gateway_azs"] == []


@pytest.mark.parametrize(
    ("change", "variable", "valid"),
    [
        ({"project": "MacroAI"}, "deploy_project", "lower-case"),
        ({"project": "macroai-"}, "deploy_project", "lower-case"),
        ({"project": "a" * 40}, "deploy_project", "2 to 32"),
        ({"environment": "prod env"}, "deploy_environment", "lower-case"),
        ({"region": None}, "aws_region", "eu-west-2"),
        ({"region": ""}, "aws_region", "eu-west-2"),
        ({"region": "London"}, "aws_region", "eu-west-2"),
        ({"vpc_cidr": "10.0.0.0"}, "networking_vpc_cidr", "/16 to /22"),
        ({"vpc_cidr": "10.0.0.300/16"}, "networking_vpc_cidr", "/16 to /22"),
        ({"vpc_cidr": "10.0.1.0/16"}, "networking_vpc_cidr", "10.0.0.0/16"),
        ({"vpc_cidr": "10.0.0.0/8"}, "networking_vpc_cidr", "/16 to /22"),
        ({"vpc_cidr": "10.0.0.0/24"}, "networking_vpc_cidr", "/16 to /22"),
        ({"vpc_cidr": "fd00::/56"}, "networking_vpc_cidr", "IPv4"),
        ({"az_count": 1}, "networking_az_count", "at least 2"),
        ({"az_count": "two"}, "networking_az_count", "whole number"),
        ({"az_count": True}, "networking_az_count", "whole number"),
        ({"az_count": 9}, "networking_az_count", "above 8"),
        ({"nat_gateway_count": -1}, "networking_nat_gateway_count", "0 (no NAT)"),
        ({"nat_gateway_count": 3}, "networking_nat_gateway_count", "use 0 to 2"),
        ({"nat_gateway_count": 1.5}, "networking_nat_gateway_count", "whole number"),
        ({"tasks_in_public_subnets": "yes"}, "networking_tasks_in_public_subnets", "true or false"),
        (
            {"tasks_in_public_subnets": False},
            "networking_tasks_in_public_subnets",
            "networking_nat_gateway_count >= 1",
        ),
        ({"vpc_endpoints": ["s3", "s4"]}, "networking_vpc_endpoints", "ecr.api"),
        ({"vpc_endpoints": ["com.amazonaws.eu-west-2.s3"]}, "networking_vpc_endpoints", "short names"),
        ({"vpc_endpoints": ["logs", "logs"]}, "networking_vpc_endpoints", "once"),
        ({"vpc_endpoints": "s3"}, "networking_vpc_endpoints", "list"),
    ],
)
def test_bad_input_names_the_variable(change, variable, valid):
    inputs = replace(HOBBY, **change)
    errors = validate_inputs(inputs)
    assert errors, f"{change} was accepted"
    assert any(variable in error and valid in error for error in errors), errors
    with pytest.raises(NetworkPlanError) as raised:
        plan_network(inputs, EU_WEST_2)
    assert variable in str(raised.value)


@pytest.mark.parametrize(
    ("zones", "valid"),
    [
        (["eu-west-2a", "eu-west-2b"], "use 2 to 2"),
        ([], "none"),
        (["eu-west-2a", "eu-west-2-lon-1a"], "use 2 to 1"),
    ],
)
def test_more_azs_than_the_region_has(zones, valid):
    with pytest.raises(NetworkPlanError) as raised:
        plan_network(replace(HOBBY, az_count=3), zones)
    message = str(raised.value)
    assert "networking_az_count=3" in message and "aws_region='eu-west-2'" in message and valid in message


def test_every_error_is_reported_at_once():
    errors = validate_inputs(replace(HOBBY, project="X", vpc_cidr="nope", nat_gateway_count=-1))
    assert [e.split("=")[0] for e in errors] == [
        "deploy_project",
        "networking_vpc_cidr",
        "networking_nat_gateway_count",
    ]
