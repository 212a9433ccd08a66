"""sandbox.aws.security_groups: the rule evaluator and the address book (no moto, no network)."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

import pytest

from sandbox.aws.security_groups import (
    INTERNET_ADDRESS,
    TASK_NETWORK,
    AddressBook,
    Endpoint,
    Ingress,
    admits,
    ingress_rules,
)

LB = "sg-0lb"
APP = "sg-0app"
HTTP_ANYWHERE = Ingress("tcp", 80, 80, cidr="0.0.0.0/0")
TEST_FROM_OPERATOR = Ingress("tcp", 8080, 8080, cidr="127.0.0.1/32")
APP_FROM_LB = Ingress("tcp", 3000, 3000, source_group=LB)


@pytest.mark.parametrize(
    ("rules", "port", "address", "groups", "admitted"),
    [
        ([HTTP_ANYWHERE], 80, INTERNET_ADDRESS, (), True),
        ([HTTP_ANYWHERE], 8080, INTERNET_ADDRESS, (), False),  # the test port, not in the group
        ([HTTP_ANYWHERE, TEST_FROM_OPERATOR], 8080, INTERNET_ADDRESS, (), True),
        ([TEST_FROM_OPERATOR], 8080, "127.10.0.7", (), False),  # a /32 holds one address
        ([APP_FROM_LB], 3000, "", (LB,), True),
        ([APP_FROM_LB], 3000, "", (APP,), False),  # another group than the one the rule names
        ([APP_FROM_LB], 3001, "", (LB,), False),
        ([Ingress("tcp", 3000, 3000, cidr="10.0.0.0/16")], 3000, "10.0.1.4", (), True),
        ([Ingress("tcp", 3000, 3000, cidr="10.0.0.0/16")], 3000, INTERNET_ADDRESS, (), False),
        ([Ingress("tcp", 1000, 4000, cidr="0.0.0.0/0")], 3000, INTERNET_ADDRESS, (), True),  # a range
        ([Ingress("-1", None, None, source_group=APP)], 5432, "", (APP,), True),  # all traffic
        ([Ingress("udp", 0, 65535, cidr="0.0.0.0/0")], 80, INTERNET_ADDRESS, (), False),  # not TCP
        ([Ingress("tcp", 80, 80, cidr="::/0")], 80, INTERNET_ADDRESS, (), False),  # IPv6 only
        ([], 80, INTERNET_ADDRESS, (), False),  # no inbound rule: nothing is admitted
    ],
)
def test_admits(
    rules: list[Ingress], port: int, address: str, groups: tuple[str, ...], admitted: bool
) -> None:
    assert admits(rules, port, address, groups) is admitted


def test_ingress_rules_read_moto_rules_one_source_each() -> None:
    group = SimpleNamespace(
        ingress_rules=[
            SimpleNamespace(
                ip_protocol="tcp", from_port=80, to_port=80, ip_range={"CidrIp": "0.0.0.0/0"}, source_group={}
            ),
            SimpleNamespace(
                ip_protocol="tcp", from_port=3000, to_port=3000, ip_range={}, source_group={"GroupId": LB}
            ),
            SimpleNamespace(ip_protocol="-1", from_port=None, to_port=None, ip_range={}, source_group={}),
        ]
    )
    assert ingress_rules(group) == [HTTP_ANYWHERE, APP_FROM_LB]


def test_address_book_hands_out_distinct_task_addresses_never_the_controllers() -> None:
    book = AddressBook()
    addresses = [book.allocate() for _ in range(300)]
    assert len(set(addresses)) == 300
    assert all(ipaddress.ip_address(a) in TASK_NETWORK for a in addresses)
    assert INTERNET_ADDRESS not in addresses
    assert not any(a.endswith((".0", ".255")) for a in addresses)


def test_address_book_attributes_an_address_to_its_groups_and_container_port() -> None:
    book = AddressBook()
    address = book.allocate()
    book.claim(Endpoint(address, "123456789012", "eu-west-2", (APP,), {41234: 3000}))
    found = book.lookup(address)
    assert found is not None and found.groups == (APP,)
    assert found.aws_port(41234) == 3000 and found.aws_port(5000) == 5000
    assert book.lookup(INTERNET_ADDRESS) is None  # the controller: outside the VPC
    book.clear()
    assert book.lookup(address) is None
