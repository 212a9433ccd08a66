# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ElastiCache replication groups (Redis OSS or Valkey, cluster mode disabled): what community.aws's
elasticache module cannot make.

One node group: a primary and ``num_nodes - 1`` replicas, with Multi-AZ, automatic failover, encryption
and an auth token. Plain Python over a boto3 ``elasticache`` client; it compares before it writes, writes
nothing in check mode, and waits on one helper. botocore's errors pass through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.macroai.deploy.plugins.module_utils._aws import tag_changes
from ansible_collections.macroai.deploy.plugins.module_utils._waiter import WaitTimeout, wait_until

ENGINES = ("valkey", "redis")
MAX_NODES = 6  # a primary and up to five replicas in one node group
_GROUP_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_NODE_TYPE = re.compile(r"^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
# Printable ASCII except the three characters ElastiCache refuses in a token.
_AUTH_TOKEN = re.compile(r"^[!#-.0-?A-~]{16,128}$")
# Settings ElastiCache fixes when the group is made; changing one needs a new group.
CREATE_ONLY = ("transit_encryption", "at_rest_encryption", "kms_key_id", "subnet_group", "port")
COMPARED = (
    "description",
    "engine",
    "node_type",
    "num_nodes",
    "multi_az",
    "automatic_failover",
    "security_group_ids",
    "snapshot_retention_limit",
) + CREATE_ONLY


class SpecError(ValueError):
    """A setting that cannot work, naming the option and what would."""


class GroupWaitError(Exception):
    """The group did not reach the state waited for in time; the message says which state it is in."""


@dataclass(frozen=True)
class GroupSpec:
    """The replication group asked for; None leaves a setting as it is (or to AWS's default on create)."""

    replication_group_id: str
    description: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    node_type: str | None = None
    num_nodes: int | None = None
    multi_az: bool | None = None
    automatic_failover: bool | None = None
    transit_encryption: bool | None = None
    at_rest_encryption: bool | None = None
    kms_key_id: str | None = None
    auth_token: str | None = None
    auth_token_update_strategy: str | None = None
    subnet_group: str | None = None
    security_group_ids: Sequence[str] | None = None
    port: int | None = None
    snapshot_retention_limit: int | None = None
    tags: Mapping[str, str] | None = None
    purge_tags: bool = True


def validate(spec: GroupSpec, exists: bool = False) -> None:
    """Raise SpecError for settings AWS would refuse (or that would not give a highly available group)."""
    group_id = spec.replication_group_id
    if not (1 <= len(group_id) <= 40 and _GROUP_ID.match(group_id)):
        raise SpecError(
            f"replication_group_id: {group_id!r} is not valid: 1 to 40 lower-case letters, digits and single "
            "hyphens, starting with a letter and not ending with a hyphen"
        )
    if spec.node_type is not None and not _NODE_TYPE.match(spec.node_type):
        raise SpecError(
            f"node_type: {spec.node_type!r} is not an ElastiCache node type; use one such as cache.t4g.micro "
            "or cache.r7g.large"
        )
    if spec.engine is not None and spec.engine not in ENGINES:
        raise SpecError(f"engine: {spec.engine!r} is not supported; use one of {', '.join(ENGINES)}")
    if spec.num_nodes is not None and not 1 <= spec.num_nodes <= MAX_NODES:
        raise SpecError(
            f"num_nodes: {spec.num_nodes} is outside 1 to {MAX_NODES} (a primary and up to five replicas)"
        )
    nodes = spec.num_nodes
    if spec.automatic_failover and nodes is not None and nodes < 2:
        raise SpecError("automatic_failover needs a replica to fail over to: set num_nodes to 2 or more")
    if spec.multi_az:
        if spec.automatic_failover is False:
            raise SpecError("multi_az needs automatic_failover: set automatic_failover to true")
        if nodes is not None and nodes < 2:
            raise SpecError("multi_az needs a replica in another zone: set num_nodes to 2 or more")
    if spec.auth_token is not None:
        if not _AUTH_TOKEN.match(spec.auth_token):
            raise SpecError(
                "auth_token: must be 16 to 128 printable ASCII characters without spaces, '@', '\"' or '/'"
            )
        if spec.transit_encryption is False:
            raise SpecError("auth_token needs transit_encryption: set transit_encryption to true")
    if spec.auth_token_update_strategy and spec.auth_token is None:
        raise SpecError("auth_token_update_strategy: give the new token in auth_token")
    if spec.snapshot_retention_limit is not None and not 0 <= spec.snapshot_retention_limit <= 35:
        raise SpecError(f"snapshot_retention_limit: {spec.snapshot_retention_limit} is outside 0 to 35 days")
    if not exists and spec.node_type is None:
        raise SpecError("node_type: required to create the replication group")


def _sorted(values: Sequence[str] | None) -> list[str] | None:
    return sorted(values) if values is not None else None


def _enabled(value: Any) -> bool:
    return str(value).lower() in ("enabled", "enabling", "true")


def view(
    group: Mapping[str, Any] | None,
    member: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The group in this module's snake_case terms; ``member`` (its first cache cluster) gives the security
    groups and subnet group, which DescribeReplicationGroups does not."""
    if group is None:
        return None
    node_group = (group.get("NodeGroups") or [{}])[0]
    primary = node_group.get("PrimaryEndpoint") or {}
    reader = node_group.get("ReaderEndpoint") or {}
    return {
        "replication_group_id": group["ReplicationGroupId"],
        "arn": group.get("ARN"),
        "status": group.get("Status"),
        "description": group.get("Description"),
        "engine": group.get("Engine"),
        "engine_version": (member or {}).get("EngineVersion"),
        "node_type": group.get("CacheNodeType"),
        "num_nodes": len(group.get("MemberClusters") or []),
        "member_clusters": list(group.get("MemberClusters") or []),
        "multi_az": _enabled(group.get("MultiAZ")),
        "automatic_failover": _enabled(group.get("AutomaticFailover")),
        "transit_encryption": bool(group.get("TransitEncryptionEnabled")),
        "at_rest_encryption": bool(group.get("AtRestEncryptionEnabled")),
        "kms_key_id": group.get("KmsKeyId"),
        "auth_token_enabled": bool(group.get("AuthTokenEnabled")),
        "subnet_group": member.get("CacheSubnetGroupName") if member else None,
        "security_group_ids": (
            sorted(sg["SecurityGroupId"] for sg in member.get("SecurityGroups") or []) if member else None
        ),
        "port": primary.get("Port") or (group.get("ConfigurationEndpoint") or {}).get("Port"),
        "snapshot_retention_limit": group.get("SnapshotRetentionLimit"),
        "primary_endpoint": primary.get("Address"),
        "reader_endpoint": reader.get("Address"),
        "tags": dict(tags or {}),
    }


def differences(spec: GroupSpec, current: Mapping[str, Any]) -> dict[str, Any]:
    """Settings asked for that differ from ``current`` (unknown current values, None, are not compared)."""
    wanted: dict[str, Any] = {
        "description": spec.description,
        "engine": spec.engine,
        "node_type": spec.node_type,
        "num_nodes": spec.num_nodes,
        "multi_az": spec.multi_az,
        "automatic_failover": spec.automatic_failover,
        "security_group_ids": _sorted(spec.security_group_ids),
        "snapshot_retention_limit": spec.snapshot_retention_limit,
        "transit_encryption": spec.transit_encryption,
        "at_rest_encryption": spec.at_rest_encryption,
        "kms_key_id": spec.kms_key_id,
        "subnet_group": spec.subnet_group,
        "port": spec.port,
    }
    return {
        key: value
        for key, value in wanted.items()
        if value is not None and current.get(key) is not None and current[key] != value
    }


@dataclass
class Plan:
    """What converging an existing group takes: one ModifyReplicationGroup, a replica change, tags."""

    modify: dict[str, Any] = field(default_factory=dict)
    replica_count: int | None = None
    tags_to_set: dict[str, str] = field(default_factory=dict)
    tags_to_remove: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.modify or self.replica_count is not None or self.tags_to_set or self.tags_to_remove)


def plan_update(spec: GroupSpec, current: Mapping[str, Any]) -> Plan:
    """The calls that bring ``current`` to ``spec``; settings fixed at creation only warn."""
    plan = Plan()
    diff = differences(spec, current)
    for key in CREATE_ONLY:
        if key in diff:
            plan.warnings.append(
                f"{key} is {current[key]!r} on {spec.replication_group_id}, not {diff[key]!r}: ElastiCache "
                "fixes it when the group is made; leaving it (make a new group and move the application to "
                "change it)"
            )
    if "engine" in diff:
        if current.get("engine") == "redis" and diff["engine"] == "valkey":
            plan.modify["Engine"] = "valkey"
            if spec.engine_version:
                plan.modify["EngineVersion"] = spec.engine_version
        else:
            plan.warnings.append(
                f"engine: ElastiCache upgrades redis to valkey but not {current.get('engine')} to "
                f"{diff['engine']}; leaving {spec.replication_group_id} on {current.get('engine')}"
            )
    simple = {
        "description": "ReplicationGroupDescription",
        "node_type": "CacheNodeType",
        "multi_az": "MultiAZEnabled",
        "automatic_failover": "AutomaticFailoverEnabled",
        "security_group_ids": "SecurityGroupIds",
        "snapshot_retention_limit": "SnapshotRetentionLimit",
    }
    for key, api_name in simple.items():
        if key in diff:
            plan.modify[api_name] = diff[key]
    if spec.auth_token is not None:
        if spec.auth_token_update_strategy:
            plan.modify["AuthToken"] = spec.auth_token
            plan.modify["AuthTokenUpdateStrategy"] = spec.auth_token_update_strategy.upper()
        elif not current.get("auth_token_enabled"):
            plan.warnings.append(
                f"{spec.replication_group_id} has no auth token; set auth_token_update_strategy=rotate to "
                "add it"
            )
    if "num_nodes" in diff:
        plan.replica_count = diff["num_nodes"] - 1
    plan.tags_to_set, plan.tags_to_remove = tag_changes(current.get("tags") or {}, spec.tags, spec.purge_tags)
    if plan.modify:
        plan.modify["ApplyImmediately"] = True
    return plan


def create_request(spec: GroupSpec) -> dict[str, Any]:
    """CreateReplicationGroup's arguments (cluster mode disabled: one node group of num_nodes nodes)."""
    nodes = spec.num_nodes if spec.num_nodes is not None else 2
    failover = spec.automatic_failover if spec.automatic_failover is not None else bool(spec.multi_az)
    request: dict[str, Any] = {
        "ReplicationGroupId": spec.replication_group_id,
        "ReplicationGroupDescription": spec.description or spec.replication_group_id,
        "Engine": spec.engine or "valkey",
        "CacheNodeType": spec.node_type,
        "NumCacheClusters": nodes,
        "MultiAZEnabled": bool(spec.multi_az),
        "AutomaticFailoverEnabled": failover,
        "TransitEncryptionEnabled": bool(spec.transit_encryption),
        "AtRestEncryptionEnabled": bool(spec.at_rest_encryption),
    }
    optional = {
        "EngineVersion": spec.engine_version,
        "KmsKeyId": spec.kms_key_id,
        "AuthToken": spec.auth_token,
        "CacheSubnetGroupName": spec.subnet_group,
        "SecurityGroupIds": list(spec.security_group_ids) if spec.security_group_ids is not None else None,
        "Port": spec.port,
        "SnapshotRetentionLimit": spec.snapshot_retention_limit,
    }
    request.update({key: value for key, value in optional.items() if value is not None})
    if spec.tags:
        request["Tags"] = [{"Key": key, "Value": value} for key, value in sorted(spec.tags.items())]
    return request


def predicted(spec: GroupSpec, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """The group as it will be after the run (in check mode: what it would be)."""
    if current is None:
        request = create_request(spec)
        after: dict[str, Any] = {
            "replication_group_id": spec.replication_group_id,
            "arn": None,
            "status": "creating",
            "description": request["ReplicationGroupDescription"],
            "engine": request["Engine"],
            "engine_version": spec.engine_version,
            "node_type": spec.node_type,
            "num_nodes": request["NumCacheClusters"],
            "member_clusters": [],
            "multi_az": request["MultiAZEnabled"],
            "automatic_failover": request["AutomaticFailoverEnabled"],
            "transit_encryption": request["TransitEncryptionEnabled"],
            "at_rest_encryption": request["AtRestEncryptionEnabled"],
            "kms_key_id": spec.kms_key_id,
            "auth_token_enabled": spec.auth_token is not None,
            "subnet_group": spec.subnet_group,
            "security_group_ids": _sorted(spec.security_group_ids),
            "port": spec.port or 6379,
            "snapshot_retention_limit": spec.snapshot_retention_limit or 0,
            "primary_endpoint": None,
            "reader_endpoint": None,
            "tags": dict(spec.tags or {}),
        }
        return after
    after = dict(current)
    diff = differences(spec, current)
    for key, value in diff.items():
        if key not in CREATE_ONLY and not (key == "engine" and value != "valkey"):
            after[key] = value
    tags = dict(current.get("tags") or {})
    to_set, to_remove = tag_changes(tags, spec.tags, spec.purge_tags)
    tags.update(to_set)
    for key in to_remove:
        tags.pop(key, None)
    after["tags"] = tags
    return after


def diff_view(group: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings part of a view, for --diff (no status, endpoints or member ids)."""
    if group is None:
        return {}
    keys = ("replication_group_id", "auth_token_enabled", "tags") + COMPARED
    return {key: group.get(key) for key in keys}


@dataclass
class GroupResult:
    changed: bool
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)


class ElastiCacheGroups:
    """Reads and writes one account's replication groups through a boto3 ``elasticache`` client."""

    def __init__(
        self,
        client: Any,
        wait_timeout: float = 1800,
        poll_interval: float = 15,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = client
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.timing: dict[str, Any] = {}
        if clock is not None:
            self.timing["clock"] = clock
        if sleep is not None:
            self.timing["sleep"] = sleep

    def describe(self, group_id: str) -> dict[str, Any] | None:
        try:
            groups = self.client.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"]
        except self.client.exceptions.ReplicationGroupNotFoundFault:
            return None
        return groups[0] if groups else None

    def member(self, group: Mapping[str, Any]) -> dict[str, Any] | None:
        members = group.get("MemberClusters") or []
        if not members:
            return None
        try:
            clusters = self.client.describe_cache_clusters(CacheClusterId=members[0])["CacheClusters"]
        except self.client.exceptions.CacheClusterNotFoundFault:
            return None
        return clusters[0] if clusters else None

    def tags(self, group: Mapping[str, Any]) -> dict[str, str]:
        if not group.get("ARN"):
            return {}
        tag_list = self.client.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList") or []
        return {tag["Key"]: tag["Value"] for tag in tag_list}

    def read(self, group_id: str) -> dict[str, Any] | None:
        group = self.describe(group_id)
        if group is None:
            return None
        return view(group, self.member(group), self.tags(group))

    def wait_available(self, group_id: str) -> dict[str, Any]:
        try:
            poll = wait_until(
                lambda: self.describe(group_id),
                lambda group: group is not None and group.get("Status") == "available",
                self.wait_timeout,
                self.poll_interval,
                **self.timing,
            )
        except WaitTimeout as timeout:
            status = (timeout.last or {}).get("Status", "not found")
            raise GroupWaitError(
                f"replication group {group_id} is still {status} after {timeout.elapsed:.0f}s "
                "(raise wait_timeout, or check its events in the ElastiCache console)"
            ) from None
        return poll.value

    def wait_gone(self, group_id: str) -> None:
        try:
            wait_until(
                lambda: self.describe(group_id),
                lambda group: group is None,
                self.wait_timeout,
                self.poll_interval,
                **self.timing,
            )
        except WaitTimeout as timeout:
            raise GroupWaitError(
                f"replication group {group_id} is still {(timeout.last or {}).get('Status')} after "
                f"{timeout.elapsed:.0f}s of deleting (raise wait_timeout)"
            ) from None


def ensure_present(
    groups: ElastiCacheGroups, spec: GroupSpec, check_mode: bool, wait: bool = True
) -> GroupResult:
    before = groups.read(spec.replication_group_id)
    validate(spec, exists=before is not None)
    if before is None:
        if check_mode:
            return GroupResult(True, None, predicted(spec, None))
        groups.client.create_replication_group(**create_request(spec))
        if wait:
            groups.wait_available(spec.replication_group_id)
        return GroupResult(True, None, groups.read(spec.replication_group_id))
    plan = plan_update(spec, before)
    if not plan.changes:
        return GroupResult(False, before, before, plan.warnings)
    if check_mode:
        return GroupResult(True, before, predicted(spec, before), plan.warnings)
    group_id = spec.replication_group_id
    # ElastiCache refuses a change while another is being applied: wait between them.
    if plan.modify:
        groups.wait_available(group_id)
        groups.client.modify_replication_group(ReplicationGroupId=group_id, **plan.modify)
    if plan.replica_count is not None:
        groups.wait_available(group_id)
        change = (
            groups.client.increase_replica_count
            if plan.replica_count > before["num_nodes"] - 1
            else groups.client.decrease_replica_count
        )
        change(ReplicationGroupId=group_id, NewReplicaCount=plan.replica_count, ApplyImmediately=True)
    if plan.tags_to_set:
        groups.client.add_tags_to_resource(
            ResourceName=before["arn"],
            Tags=[{"Key": key, "Value": value} for key, value in sorted(plan.tags_to_set.items())],
        )
    if plan.tags_to_remove:
        groups.client.remove_tags_from_resource(ResourceName=before["arn"], TagKeys=plan.tags_to_remove)
    if wait:
        groups.wait_available(group_id)
    return GroupResult(True, before, groups.read(group_id), plan.warnings)


def ensure_absent(
    groups: ElastiCacheGroups,
    group_id: str,
    check_mode: bool,
    wait: bool = True,
    final_snapshot: str | None = None,
) -> GroupResult:
    before = groups.read(group_id)
    if before is None or (before.get("status") == "deleting" and not wait):
        return GroupResult(False, before, None)
    if check_mode:
        return GroupResult(True, before, None)
    if before.get("status") != "deleting":
        groups.wait_available(group_id)
        request: dict[str, Any] = {"ReplicationGroupId": group_id, "RetainPrimaryCluster": False}
        if final_snapshot:
            request["FinalSnapshotIdentifier"] = final_snapshot
        groups.client.delete_replication_group(**request)
    if wait:
        groups.wait_gone(group_id)
    return GroupResult(True, before, None)
