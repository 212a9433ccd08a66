"""_elasticache: validation, the update plan and create/modify/delete over a fake ElastiCache client."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._elasticache import (
    ElastiCacheGroups,
    GroupSpec,
    GroupWaitError,
    SpecError,
    create_request,
    ensure_absent,
    ensure_present,
    plan_update,
    validate,
)

TOKEN = "s3cret-token-0123456789"
SPEC = GroupSpec(
    replication_group_id="app-cache",
    engine="valkey",
    node_type="cache.t4g.micro",
    num_nodes=2,
    multi_az=True,
    automatic_failover=True,
    transit_encryption=True,
    at_rest_encryption=True,
    auth_token=TOKEN,
    subnet_group="app-cache",
    security_group_ids=["sg-1"],
    tags={"Project": "app"},
)


class NotFound(Exception):
    pass


class FakeElastiCache:
    """Replication groups as AWS describes them; each write is recorded; statuses step through ``pending``."""

    class exceptions:  # noqa: N801 (boto3's attribute name)
        ReplicationGroupNotFoundFault = NotFound
        CacheClusterNotFoundFault = NotFound

    def __init__(self, pending: int = 0) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.pending = pending
        self.describes = 0

    def _settle(self, group: dict[str, Any]) -> None:
        if group["Status"] != "available" and self.describes > self.pending:
            group["Status"] = "available"

    def describe_replication_groups(self, ReplicationGroupId: str) -> dict[str, Any]:
        self.describes += 1
        group = self.groups.get(ReplicationGroupId)
        if group is None:
            raise NotFound(ReplicationGroupId)
        if group["Status"] == "deleting" and self.describes > self.pending:
            del self.groups[ReplicationGroupId]
            raise NotFound(ReplicationGroupId)
        self._settle(group)
        return {"ReplicationGroups": [copy.deepcopy(group)]}

    def describe_cache_clusters(self, CacheClusterId: str) -> dict[str, Any]:
        if CacheClusterId not in self.clusters:
            raise NotFound(CacheClusterId)
        return {"CacheClusters": [self.clusters[CacheClusterId]]}

    def list_tags_for_resource(self, ResourceName: str) -> dict[str, Any]:
        return {"TagList": [{"Key": k, "Value": v} for k, v in self.tags.get(ResourceName, {}).items()]}

    def add_tags_to_resource(self, ResourceName: str, Tags: list[dict[str, str]]) -> None:
        self.writes.append(("add_tags", {"Tags": Tags}))
        self.tags.setdefault(ResourceName, {}).update({t["Key"]: t["Value"] for t in Tags})

    def remove_tags_from_resource(self, ResourceName: str, TagKeys: list[str]) -> None:
        self.writes.append(("remove_tags", {"TagKeys": TagKeys}))
        for key in TagKeys:
            self.tags[ResourceName].pop(key)

    def _members(self, group_id: str, count: int, security_groups: list[str], subnet_group: str) -> list[str]:
        members = [f"{group_id}-{n:03d}" for n in range(1, count + 1)]
        for member in members:
            self.clusters[member] = {
                "CacheClusterId": member,
                "CacheSubnetGroupName": subnet_group,
                "SecurityGroups": [{"SecurityGroupId": sg, "Status": "active"} for sg in security_groups],
            }
        return members

    def create_replication_group(self, **request: Any) -> None:
        self.writes.append(("create", request))
        group_id = request["ReplicationGroupId"]
        arn = f"arn:aws:elasticache:eu-west-2:1:replicationgroup:{group_id}"
        self.groups[group_id] = {
            "ReplicationGroupId": group_id,
            "ARN": arn,
            "Status": "creating",
            "Description": request["ReplicationGroupDescription"],
            "Engine": request["Engine"],
            "CacheNodeType": request["CacheNodeType"],
            "MemberClusters": self._members(
                group_id,
                request["NumCacheClusters"],
                request.get("SecurityGroupIds", []),
                request.get("CacheSubnetGroupName", "default"),
            ),
            "MultiAZ": "enabled" if request["MultiAZEnabled"] else "disabled",
            "AutomaticFailover": "enabled" if request["AutomaticFailoverEnabled"] else "disabled",
            "TransitEncryptionEnabled": request["TransitEncryptionEnabled"],
            "AtRestEncryptionEnabled": request["AtRestEncryptionEnabled"],
            "AuthTokenEnabled": "AuthToken" in request,
            "SnapshotRetentionLimit": request.get("SnapshotRetentionLimit", 0),
            "NodeGroups": [
                {
                    "PrimaryEndpoint": {
                        "Address": f"master.{group_id}.cache",
                        "Port": request.get("Port", 6379),
                    },
                    "ReaderEndpoint": {"Address": f"replica.{group_id}.cache", "Port": 6379},
                }
            ],
        }
        self.tags[arn] = {t["Key"]: t["Value"] for t in request.get("Tags", [])}

    def modify_replication_group(self, ReplicationGroupId: str, **changes: Any) -> None:
        self.writes.append(("modify", changes))
        group = self.groups[ReplicationGroupId]
        group["Status"] = "modifying"
        if "CacheNodeType" in changes:
            group["CacheNodeType"] = changes["CacheNodeType"]
        if "MultiAZEnabled" in changes:
            group["MultiAZ"] = "enabled" if changes["MultiAZEnabled"] else "disabled"
        if "SecurityGroupIds" in changes:
            for member in group["MemberClusters"]:
                self.clusters[member]["SecurityGroups"] = [
                    {"SecurityGroupId": sg} for sg in changes["SecurityGroupIds"]
                ]

    def increase_replica_count(
        self, ReplicationGroupId: str, NewReplicaCount: int, ApplyImmediately: bool
    ) -> None:
        self.writes.append(("increase", {"NewReplicaCount": NewReplicaCount}))
        group = self.groups[ReplicationGroupId]
        group["MemberClusters"] = self._members(
            ReplicationGroupId, NewReplicaCount + 1, ["sg-1"], "app-cache"
        )

    def decrease_replica_count(
        self, ReplicationGroupId: str, NewReplicaCount: int, ApplyImmediately: bool
    ) -> None:
        self.writes.append(("decrease", {"NewReplicaCount": NewReplicaCount}))
        group = self.groups[ReplicationGroupId]
        group["MemberClusters"] = group["MemberClusters"][: NewReplicaCount + 1]

    def delete_replication_group(self, **request: Any) -> None:
        self.writes.append(("delete", request))
        self.groups[request["ReplicationGroupId"]]["Status"] = "deleting"


def groups_over(client: FakeElastiCache, timeout: float = 60) -> ElastiCacheGroups:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return ElastiCacheGroups(client, wait_timeout=timeout, poll_interval=5, clock=lambda: now[0], sleep=sleep)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"replication_group_id": "App_Cache"}, "replication_group_id"),
        ({"replication_group_id": "app--cache"}, "replication_group_id"),
        ({"replication_group_id": "a" * 41}, "replication_group_id"),
        ({"node_type": "t4g.micro"}, "node_type"),
        ({"num_nodes": 7}, "num_nodes: 7"),
        ({"num_nodes": 1}, "automatic_failover needs a replica"),
        ({"automatic_failover": False}, "multi_az needs automatic_failover"),
        ({"auth_token": "short"}, "auth_token: must be 16 to 128"),
        ({"auth_token": "has/slash-0123456789"}, "auth_token"),
        ({"transit_encryption": False}, "auth_token needs transit_encryption"),
        ({"snapshot_retention_limit": 36}, "snapshot_retention_limit"),
        ({"node_type": None}, "node_type: required"),
    ],
)
def test_validate_refuses_what_aws_would(changes: dict[str, Any], message: str) -> None:
    spec = GroupSpec(**{**SPEC.__dict__, **changes})
    with pytest.raises(SpecError, match=message):
        validate(spec)


def test_create_request_is_one_node_group_with_the_token_and_tags() -> None:
    request = create_request(SPEC)
    assert request["NumCacheClusters"] == 2
    assert request["AuthToken"] == TOKEN
    assert request["MultiAZEnabled"] and request["AutomaticFailoverEnabled"]
    assert request["Tags"] == [{"Key": "Project", "Value": "app"}]
    assert "Port" not in request


def test_create_waits_for_available_and_returns_the_endpoint() -> None:
    client = FakeElastiCache(pending=2)
    result = ensure_present(groups_over(client), SPEC, check_mode=False)
    assert result.changed and result.before is None
    after = result.after
    assert after["status"] == "available"
    assert after["primary_endpoint"] == "master.app-cache.cache" and after["port"] == 6379
    assert after["num_nodes"] == 2 and after["security_group_ids"] == ["sg-1"]
    assert after["subnet_group"] == "app-cache" and after["auth_token_enabled"]
    assert TOKEN not in repr(after)


def test_check_mode_predicts_without_writing() -> None:
    client = FakeElastiCache()
    result = ensure_present(groups_over(client), SPEC, check_mode=True)
    assert result.changed and result.after["status"] == "creating"
    assert client.writes == []


def test_rerun_changes_nothing_and_never_sends_the_token() -> None:
    client = FakeElastiCache()
    ensure_present(groups_over(client), SPEC, check_mode=False)
    client.writes.clear()
    for check_mode in (True, False):
        result = ensure_present(groups_over(client), SPEC, check_mode=check_mode)
        assert not result.changed and result.before == result.after
    assert client.writes == []


def test_modify_node_type_multi_az_security_groups_and_tags() -> None:
    client = FakeElastiCache()
    ensure_present(groups_over(client), SPEC, check_mode=False)
    client.writes.clear()
    wanted = GroupSpec(
        **{
            **SPEC.__dict__,
            "node_type": "cache.t4g.small",
            "security_group_ids": ["sg-2"],
            "tags": {"Team": "x"},
        }
    )
    predicted = ensure_present(groups_over(client), wanted, check_mode=True)
    assert predicted.changed and client.writes == []
    assert predicted.after["node_type"] == "cache.t4g.small" and predicted.after["tags"] == {"Team": "x"}
    result = ensure_present(groups_over(client), wanted, check_mode=False)
    assert result.changed
    modify = dict(client.writes)["modify"]
    assert modify == {
        "CacheNodeType": "cache.t4g.small",
        "SecurityGroupIds": ["sg-2"],
        "ApplyImmediately": True,
    }
    assert "AuthToken" not in modify
    assert result.after["node_type"] == "cache.t4g.small" and result.after["security_group_ids"] == ["sg-2"]
    assert result.after["tags"] == {"Team": "x"}
    assert not ensure_present(groups_over(client), wanted, check_mode=False).changed


def test_token_rotates_only_when_asked() -> None:
    client = FakeElastiCache()
    ensure_present(groups_over(client), SPEC, check_mode=False)
    client.writes.clear()
    rotate = GroupSpec(
        **{**SPEC.__dict__, "auth_token": "another-token-0123456789", "auth_token_update_strategy": "rotate"}
    )
    assert ensure_present(groups_over(client), rotate, check_mode=False).changed
    assert dict(client.writes)["modify"]["AuthTokenUpdateStrategy"] == "ROTATE"


def test_node_count_changes_through_replica_calls() -> None:
    client = FakeElastiCache()
    ensure_present(groups_over(client), SPEC, check_mode=False)
    three = GroupSpec(**{**SPEC.__dict__, "num_nodes": 3})
    assert ensure_present(groups_over(client), three, check_mode=False).after["num_nodes"] == 3
    assert ("increase", {"NewReplicaCount": 2}) in client.writes


def test_settings_fixed_at_creation_warn_and_are_left() -> None:
    client = FakeElastiCache()
    ensure_present(groups_over(client), SPEC, check_mode=False)
    client.writes.clear()
    other = GroupSpec(**{**SPEC.__dict__, "subnet_group": "elsewhere", "engine": "redis"})
    result = ensure_present(groups_over(client), other, check_mode=False)
    assert not result.changed and client.writes == []
    assert any("subnet_group" in w for w in result.warnings)
    assert any("engine" in w for w in result.warnings)


def test_plan_moves_redis_to_valkey() -> None:
    current = {"engine": "redis", "tags": {}, "auth_token_enabled": True}
    plan = plan_update(GroupSpec(replication_group_id="x", engine="valkey"), current)
    assert plan.modify == {"Engine": "valkey", "ApplyImmediately": True}


def test_wait_gives_up_naming_the_status() -> None:
    client = FakeElastiCache(pending=1000)
    with pytest.raises(GroupWaitError, match="still creating"):
        ensure_present(groups_over(client, timeout=30), SPEC, check_mode=False)


def test_delete_waits_until_gone_and_is_idempotent() -> None:
    client = FakeElastiCache()
    ensure_present(groups_over(client), SPEC, check_mode=False)
    assert ensure_absent(groups_over(client), "app-cache", check_mode=True).changed
    assert "app-cache" in client.groups
    result = ensure_absent(groups_over(client), "app-cache", check_mode=False, final_snapshot="final")
    assert result.changed and result.after is None
    assert dict(client.writes)["delete"]["FinalSnapshotIdentifier"] == "final"
    assert not ensure_absent(groups_over(client), "app-cache", check_mode=False).changed
