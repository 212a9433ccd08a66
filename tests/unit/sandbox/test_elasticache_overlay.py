"""The ElastiCache overlay on moto's in-process replication groups: statuses, node counts, AWS's checks and
the ModifyReplicationGroup parameters moto ignores. (The same through the running sandbox:
tests/integration/test_sandbox_rds.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.aws import elasticache

TOKEN = "an-auth-token-of-20+chars"


@pytest.fixture(scope="module")
def cache() -> Iterator[Any]:
    with mock_aws():
        elasticache.install()
        try:
            yield boto3.client("elasticache", region_name="eu-west-2")
        finally:
            elasticache.install(False)
            elasticache.reset()


def create(cache: Any, group_id: str, **extra: Any) -> dict[str, Any]:
    params = {
        "ReplicationGroupId": group_id,
        "ReplicationGroupDescription": "app cache",
        "Engine": "valkey",
        "CacheNodeType": "cache.t4g.small",
        "NumCacheClusters": 2,
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True,
        "AuthToken": TOKEN,
        **extra,
    }
    return cache.create_replication_group(**params)["ReplicationGroup"]


def describe(cache: Any, group_id: str) -> dict[str, Any]:
    return cache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]


def test_create_answers_creating_then_available_with_every_node(cache: Any) -> None:
    created = create(cache, "rg-create")
    assert created["Status"] == "creating" and created["NodeGroups"][0]["Status"] == "creating"
    group = describe(cache, "rg-create")
    assert group["Status"] == "available" and group["NodeGroups"][0]["Status"] == "available"
    assert group["MemberClusters"] == ["rg-create-001", "rg-create-002"]
    members = group["NodeGroups"][0]["NodeGroupMembers"]
    assert [member["CurrentRole"] for member in members] == ["primary", "replica"]
    assert group["NodeGroups"][0]["ReaderEndpoint"]["Address"].startswith("replica.rg-create.")
    assert (group["MultiAZ"], group["AutomaticFailover"], group["AuthTokenEnabled"]) == (
        "enabled",
        "enabled",
        True,
    )
    assert (group["Engine"], group["TransitEncryptionEnabled"], group["AtRestEncryptionEnabled"]) == (
        "valkey",
        True,
        True,
    )


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"AutomaticFailoverEnabled": False}, "InvalidParameterCombination"),  # Multi-AZ needs failover
        (
            {"NumCacheClusters": 1, "MultiAZEnabled": False},
            "InvalidParameterCombination",
        ),  # failover: 2 nodes
        ({"TransitEncryptionEnabled": False}, "InvalidParameterValue"),  # AUTH needs TLS
    ],
)
def test_create_refuses_what_aws_refuses(cache: Any, extra: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        create(cache, "rg-refused", **extra)
    assert caught.value.response["Error"]["Code"] == code


def test_modify_applies_what_moto_ignores_then_settles(cache: Any) -> None:
    create(cache, "rg-modify")
    modified = cache.modify_replication_group(
        ReplicationGroupId="rg-modify",
        CacheNodeType="cache.t4g.medium",
        SnapshotWindow="03:00-04:00",
        SecurityGroupIds=["sg-1234"],
        AuthToken="another-token-of-20+chars",
        AuthTokenUpdateStrategy="ROTATE",
        ApplyImmediately=True,
    )["ReplicationGroup"]
    assert modified["Status"] == "modifying"
    group = describe(cache, "rg-modify")
    assert (group["Status"], group["CacheNodeType"], group["SnapshotWindow"]) == (
        "available",
        "cache.t4g.medium",
        "03:00-04:00",
    )
    with pytest.raises(ClientError) as caught:
        cache.modify_replication_group(
            ReplicationGroupId="rg-modify", AutomaticFailoverEnabled=False, MultiAZEnabled=True
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"


def test_delete_answers_deleting_then_the_group_is_gone(cache: Any) -> None:
    group = create(cache, "rg-delete", Tags=[{"Key": "app", "Value": "demo"}])
    assert cache.list_tags_for_resource(ResourceName=group["ARN"])["TagList"] == [
        {"Key": "app", "Value": "demo"}
    ]
    assert (
        cache.delete_replication_group(ReplicationGroupId="rg-delete")["ReplicationGroup"]["Status"]
        == "deleting"
    )
    with pytest.raises(ClientError) as caught:
        describe(cache, "rg-delete")
    assert caught.value.response["Error"]["Code"] == "ReplicationGroupNotFoundFault"


def test_auth_token_strategies() -> None:
    group = SimpleNamespace(
        transit_encryption_enabled=True, auth_token_enabled=True, auth_token_last_modified_date=1
    )
    elasticache.apply_modifications(group, {"AuthTokenUpdateStrategy": "DELETE"})
    assert group.auth_token_enabled is False and group.auth_token_last_modified_date is None
    elasticache.apply_modifications(group, {"AuthToken": TOKEN, "AuthTokenUpdateStrategy": "SET"})
    assert group.auth_token_enabled is True
    group.transit_encryption_enabled = False
    with pytest.raises(Exception, match="in-transit"):
        elasticache.apply_modifications(group, {"AuthToken": TOKEN})
    elasticache.apply_modifications(
        group, {"TransitEncryptionEnabled": "true", "AutoMinorVersionUpgrade": "false"}
    )
    assert group.transit_encryption_enabled is True and group.auto_minor_version_upgrade is False


def test_each_node_is_a_cache_cluster_of_the_group(cache: Any) -> None:
    create(cache, "rg-members", SecurityGroupIds=["sg-1"])
    cluster = cache.describe_cache_clusters(CacheClusterId="rg-members-002")["CacheClusters"][0]
    assert cluster["ReplicationGroupId"] == "rg-members"
    assert cluster["SecurityGroups"] == [{"SecurityGroupId": "sg-1", "Status": "active"}]
    assert (cluster["Engine"], cluster["EngineVersion"]) == ("valkey", "8.0")
    describe(cache, "rg-members")
    cache.modify_replication_group(
        ReplicationGroupId="rg-members", SecurityGroupIds=["sg-2"], ApplyImmediately=True
    )
    cluster = cache.describe_cache_clusters(CacheClusterId="rg-members-001")["CacheClusters"][0]
    assert [sg["SecurityGroupId"] for sg in cluster["SecurityGroups"]] == ["sg-2"]


def test_replica_count_goes_up_and_down(cache: Any) -> None:
    create(cache, "rg-count")
    describe(cache, "rg-count")
    grown = cache.increase_replica_count(
        ReplicationGroupId="rg-count", NewReplicaCount=3, ApplyImmediately=True
    )
    assert grown["ReplicationGroup"]["Status"] == "modifying"
    group = describe(cache, "rg-count")
    assert group["MemberClusters"] == [f"rg-count-00{n}" for n in (1, 2, 3, 4)]
    assert cache.describe_cache_clusters(CacheClusterId="rg-count-004")["CacheClusters"]
    cache.decrease_replica_count(ReplicationGroupId="rg-count", NewReplicaCount=1, ApplyImmediately=True)
    assert describe(cache, "rg-count")["MemberClusters"] == ["rg-count-001", "rg-count-002"]
    with pytest.raises(ClientError) as caught:
        cache.describe_cache_clusters(CacheClusterId="rg-count-004")
    assert caught.value.response["Error"]["Code"] == "CacheClusterNotFound"
    with pytest.raises(ClientError) as refused:  # automatic failover keeps one replica
        cache.decrease_replica_count(ReplicationGroupId="rg-count", NewReplicaCount=0, ApplyImmediately=True)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
