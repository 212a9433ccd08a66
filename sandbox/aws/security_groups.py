"""Security groups on the sandbox's data plane: who may open a TCP connection to whom.

Every connection the sandbox carries has a source it can attribute: each ECS task has its own loopback
address as its private IP (127.10.x.y: the whole of 127.0.0.0/8 reaches ``lo`` on Linux), recorded here with
the security groups of its network configuration; anything else, the controller included (tests, ansible,
a browser: they connect from 127.0.0.1), is outside the VPC, on the internet, and holds no group.

Rules are read from moto's EC2 model (in-process) on every connection, so a rule authorised or revoked
takes effect at the next connection, as on AWS. What is evaluated, from AWS's VPC guide ("Control traffic to
your AWS resources using security groups", "Security group rules"): a group's inbound rules only (groups
are stateful, replies are always allowed; outbound rules are not evaluated: the collection leaves them
open); a rule admits a connection when its protocol is ``tcp`` or ``-1`` (all), its port range holds the
destination port, and either its IPv4 CIDR holds the source's address or its source group is one of the
source's groups; several groups admit what any one of them admits. A load balancer created without groups
has its VPC's default group (ELB's "Security groups for your Application Load Balancer").

A refusal is a dropped connection, never an answer: the caller sees a timeout.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Tasks' private IPs: 127.10.0.1 onwards (never 127.0.0.1, the controller's address).
TASK_NETWORK = ipaddress.ip_network("127.10.0.0/16")
# The address of a connection from outside the VPC (the controller, the internet).
INTERNET_ADDRESS = "127.0.0.1"


@dataclass(frozen=True)
class Ingress:
    """One inbound rule: protocol, port range (None for all ports), and one source (a CIDR or a group)."""

    protocol: str
    from_port: int | None
    to_port: int | None
    cidr: str | None = None
    source_group: str | None = None

    def covers(self, port: int) -> bool:
        if self.protocol not in ("tcp", "-1", "6", "all"):
            return False
        if self.protocol in ("-1", "all") or self.from_port is None or self.to_port is None:
            return True
        return self.from_port <= port <= self.to_port

    def holds(self, address: str, groups: Iterable[str]) -> bool:
        if self.source_group is not None:
            return self.source_group in set(groups)
        if self.cidr is None:
            return False
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(self.cidr, strict=False)
        except ValueError:  # an IPv6 rule against an IPv4 source, or the reverse
            return False


def admits(rules: Iterable[Ingress], port: int, address: str, groups: Iterable[str] = ()) -> bool:
    """Whether inbound ``rules`` (of one or several groups) admit TCP to ``port`` from ``address``, a member
    of ``groups``."""
    members = tuple(groups)
    return any(rule.covers(port) and rule.holds(address, members) for rule in rules)


def ingress_rules(group: Any) -> list[Ingress]:
    """A moto SecurityGroup's inbound rules (moto keeps one rule per CIDR or source group)."""
    rules = []
    for rule in list(group.ingress_rules):
        protocol = str(rule.ip_protocol or "-1").lower()
        source = (rule.source_group or {}).get("GroupId")
        cidr = (rule.ip_range or {}).get("CidrIp") or (rule.ip_range or {}).get("CidrIpv6")
        if source is None and cidr is None:
            continue
        rules.append(Ingress(protocol, rule.from_port, rule.to_port, cidr, source))
    if getattr(group, "is_default", False):
        # A VPC's default group admits all traffic from its own members (AWS's VPC guide, "Default security
        # groups for your VPCs"); moto creates it without that rule.
        itself = Ingress("-1", None, None, source_group=group.id)
        if itself not in rules:
            rules.append(itself)
    return rules


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def group_rules(account: str, region: str, group_ids: Iterable[str]) -> list[Ingress]:
    """The inbound rules of the named groups (a group that no longer exists admits nothing)."""
    backend = _ec2(account, region)
    rules: list[Ingress] = []
    for group_id in group_ids:
        group = backend.get_security_group_from_id(group_id)
        if group is not None:
            rules += ingress_rules(group)
    return rules


def load_balancer_groups(account: str, region: str, balancer: Any) -> tuple[str, ...]:
    """A load balancer's groups; without any, its VPC's default group, as AWS assigns it."""
    groups = tuple(balancer.security_groups or ())
    if groups:
        return groups
    default = _ec2(account, region).get_security_group_from_name("default", vpc_id=balancer.vpc_id)
    return (default.id,) if default is not None else ()


@dataclass(frozen=True)
class Endpoint:
    """An address inside the VPC: a task's private IP, its groups, and its ports as AWS would see them
    (the loopback port a process listens on -> its container port)."""

    address: str
    account: str
    region: str
    groups: tuple[str, ...]
    ports: dict[int, int] = field(default_factory=dict, hash=False, compare=False)
    pid: int | None = None  # the task's process, whose sockets are the task's connections

    def aws_port(self, port: int) -> int:
        return self.ports.get(port, port)


class AddressBook:
    """Hands out tasks' private IPs and remembers each one's groups. Addresses are not reused within one
    sandbox process, so a late packet of a stopped task is never attributed to a new one."""

    def __init__(self, network: ipaddress.IPv4Network = TASK_NETWORK) -> None:
        self._lock = threading.Lock()
        self._hosts = network.hosts()
        self._endpoints: dict[str, Endpoint] = {}

    def allocate(self) -> str:
        with self._lock:
            for candidate in self._hosts:
                address = str(candidate)
                if address.endswith(".0") or address.endswith(".255"):
                    continue
                return address
        raise RuntimeError(f"no task address left in {TASK_NETWORK}")

    def claim(self, endpoint: Endpoint) -> Endpoint:
        with self._lock:
            self._endpoints[endpoint.address] = endpoint
        return endpoint

    def release(self, address: str) -> None:
        with self._lock:
            self._endpoints.pop(address, None)

    def lookup(self, address: str) -> Endpoint | None:
        with self._lock:
            return self._endpoints.get(address)

    def endpoints(self) -> list[Endpoint]:
        with self._lock:
            return list(self._endpoints.values())

    def clear(self) -> None:
        with self._lock:
            self._endpoints.clear()


ADDRESSES = AddressBook()


def source_groups(address: str) -> tuple[str, ...]:
    """The groups of the VPC address ``address`` (none: outside the VPC, or a stopped task)."""
    endpoint = ADDRESSES.lookup(address)
    return endpoint.groups if endpoint else ()


def listener_admits(account: str, region: str, balancer: Any, port: int, client: str) -> bool:
    """Whether the load balancer's groups admit ``client`` on its listener ``port``."""
    groups = load_balancer_groups(account, region, balancer)
    return admits(group_rules(account, region, groups), port, client, source_groups(client))


def target_admits(account: str, region: str, balancers: Iterable[Any], address: str, port: int) -> bool:
    """Whether the target at ``address:port`` admits connections from one of these load balancers.

    Only tasks the sandbox started are governed (a target registered by hand at some loopback address is
    not in the VPC model). The load balancer's nodes have private IPs in its subnets: a rule admits them
    through the load balancer's group, or through a CIDR (the VPC's, say) holding those subnets.
    """
    endpoint = ADDRESSES.lookup(address)
    if endpoint is None:
        return True
    rules = group_rules(endpoint.account, endpoint.region, endpoint.groups)
    aws_port = endpoint.aws_port(port)
    for balancer in balancers:
        groups = load_balancer_groups(account, region, balancer)
        if admits(rules, aws_port, "", groups):
            return True
        if any(admits(rules, aws_port, cidr) for cidr in _subnet_addresses(account, region, balancer)):
            return True
    return False


def health_check_admits(group: Any, address: str, port: int) -> bool:
    """Whether a target group's load balancers may reach ``address:port`` for a health check (they are
    the ones that probe; a group not in use by a load balancer is not governed)."""
    from moto.elbv2.models import elbv2_backends

    parts = str(group.arn).split(":")
    if len(parts) < 6:
        return True
    region, account = parts[3], parts[4]
    balancers_by_arn = elbv2_backends[account][region].load_balancers
    balancers = [balancers_by_arn[arn] for arn in list(group.load_balancer_arns) if arn in balancers_by_arn]
    if not balancers:
        return True
    return target_admits(account, region, balancers, address, port)


def _subnet_addresses(account: str, region: str, balancer: Any) -> list[str]:
    """One address in each of the load balancer's subnets (where its nodes' private IPs are)."""
    addresses = []
    for subnet in balancer.subnets or ():
        cidr = getattr(subnet, "cidr_block", None)
        if cidr:
            network = ipaddress.ip_network(cidr, strict=False)
            addresses.append(str(next(itertools.islice(network.hosts(), 3, None), network.network_address)))
    return addresses


__all__ = [
    "ADDRESSES",
    "INTERNET_ADDRESS",
    "TASK_NETWORK",
    "AddressBook",
    "Endpoint",
    "Ingress",
    "admits",
    "group_rules",
    "health_check_admits",
    "ingress_rules",
    "listener_admits",
    "load_balancer_groups",
    "source_groups",
    "target_admits",
]
