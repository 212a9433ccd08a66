"""ElastiCache replication groups: what moto 5.2 lacks, on moto's own models. Records only: no Redis runs.

moto answers CreateReplicationGroup, DescribeReplicationGroups, ModifyReplicationGroup,
DeleteReplicationGroup, ListTagsForResource, AddTagsToResource and RemoveTagsFromResource with AWS's shapes
(AutomaticFailover, MultiAZ, TransitEncryptionEnabled, AtRestEncryptionEnabled, AuthTokenEnabled,
NodeGroups with PrimaryEndpoint and NodeGroupMembers, MemberClusters, CacheNodeType, Engine). Where it falls
short, :func:`install` wraps its methods once, in the server process:

- Status: a new group answers ``creating``, a modified one ``modifying``, and the next Describe says
  ``available`` (one look, not a timer, as for RDS: waiters poll every 15 s). A deleted group answers
  ``deleting`` and is gone from the next Describe on (moto keeps it ``deleting`` for ever).
- NumCacheClusters (cluster mode disabled): moto makes one node whatever the number; here it makes that many
  (the primary and ``NumCacheClusters - 1`` replicas, in ``MemberClusters`` and ``NodeGroupMembers``).
- NodeGroups gain ``ReaderEndpoint`` (moto computes it but does not answer it).
- Checks AWS makes: Multi-AZ needs automatic failover; automatic failover needs at least two nodes; an AUTH
  token needs encryption in transit (InvalidParameterCombination / InvalidParameterValue).
- Each node is also a cache cluster (DescribeCacheClusters answers it with the group's ReplicationGroupId,
  SecurityGroups, CacheSubnetGroupName and EngineVersion), as on AWS; deleting the group deletes them.
- IncreaseReplicaCount and DecreaseReplicaCount (moto has neither), cluster mode disabled: nodes are
  added or removed (``NewReplicaCount`` or ``ReplicasToRemove``), status ``modifying`` until the next look.
- ModifyReplicationGroup also applies TransitEncryptionEnabled, TransitEncryptionMode, AuthToken with
  AuthTokenUpdateStrategy (ROTATE, SET, DELETE), SecurityGroupIds, SnapshotWindow, PreferredMaintenanceWindow,
  CacheParameterGroupName, EngineVersion and AutoMinorVersionUpgrade (moto applies only the description,
  engine, node type, failover, Multi-AZ and snapshot retention).
"""

from __future__ import annotations

import threading
from typing import Any

_ORIGINAL: dict[str, Any] = {}
_LOCK = threading.RLock()
_PENDING: list[Any] = []  # groups answered creating/modifying: available on the next look
_DELETING: list[tuple[Any, str]] = []  # (backend, group id) answered deleting: gone on the next look
_ACTIVE = False
DEFAULT_ENGINE_VERSION = {"valkey": "8.0", "redis": "7.1"}  # what AWS picks when none is asked for


def _errors() -> tuple[type[Exception], type[Exception]]:
    from moto.elasticache.exceptions import (
        InvalidParameterCombinationException,
        InvalidParameterValueException,
    )

    return InvalidParameterCombinationException, InvalidParameterValueException


def _invalid_state(message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException

    class InvalidReplicationGroupState(ElastiCacheException):
        code = "InvalidReplicationGroupState"

    return InvalidReplicationGroupState(message)


def check_create(kwargs: dict[str, Any]) -> None:
    """AWS's checks on CreateReplicationGroup that moto skips."""
    combination, value = _errors()
    nodes = int(kwargs.get("num_cache_clusters") or 0) or int(kwargs.get("replicas_per_node_group") or 0) + 1
    if kwargs.get("multi_az_enabled") and not kwargs.get("automatic_failover_enabled"):
        raise combination("Multi-AZ can be enabled only when automatic failover is enabled.")
    if kwargs.get("automatic_failover_enabled") and kwargs.get("cluster_mode") != "enabled" and nodes < 2:
        raise combination(
            "Automatic failover requires at least 2 nodes: set NumCacheClusters (or ReplicasPerNodeGroup)."
        )
    if kwargs.get("auth_token") and not kwargs.get("transit_encryption_enabled"):
        raise value("The AUTH token is only supported when encryption in-transit is enabled.")


def _add_reader_endpoints(group: Any) -> None:
    for node_group in group.node_groups:
        address = node_group.get("reader_endpoint_address")
        if address and "reader_endpoint" not in node_group:
            node_group["reader_endpoint"] = {"address": address, "port": group.port}


def _add_cache_cluster(backend: Any, group: Any, cluster_id: str) -> None:
    """The node ``cluster_id`` of ``group`` as moto's cache cluster, as DescribeCacheClusters shows it."""
    import inspect

    names = [name for name in inspect.signature(backend.create_cache_cluster).parameters if name != "self"]
    arguments: dict[str, Any] = dict.fromkeys(names)
    arguments.update(
        cache_cluster_id=cluster_id,
        replication_group_id=group.replication_group_id,
        cache_node_type=group.cache_node_type,
        engine=group.engine,
        engine_version=group.engine_version,
        cache_subnet_group_name=group.cache_subnet_group_name,
        security_group_ids=list(group.security_group_ids or []),
        port=group.port,
        transit_encryption_enabled=group.transit_encryption_enabled,
        log_delivery_configurations=[],
    )
    backend.cache_clusters.pop(cluster_id, None)
    cluster = backend.create_cache_cluster(**arguments)
    _sync_cluster(group, cluster)


def _sync_cluster(group: Any, cluster: Any) -> None:
    """What a node shares with its group (moto keeps none of it for a non-redis engine)."""
    cluster.replication_group_id = group.replication_group_id
    cluster.num_cache_nodes = 1
    cluster.engine = group.engine
    cluster.engine_version = group.engine_version or DEFAULT_ENGINE_VERSION.get(group.engine or "")
    cluster.cache_node_type = group.cache_node_type
    cluster.cache_subnet_group_name = group.cache_subnet_group_name
    cluster.security_group_ids = list(group.security_group_ids or [])
    cluster.security_groups = [
        {"SecurityGroupId": sg, "Status": "active"} for sg in cluster.security_group_ids
    ]
    cluster.transit_encryption_enabled = bool(group.transit_encryption_enabled)
    cluster.at_rest_encryption_enabled = bool(group.at_rest_encryption_enabled)
    cluster.auth_token_enabled = bool(group.auth_token_enabled)


def _sync_members(backend: Any, group: Any) -> None:
    for cluster_id in group.member_clusters:
        cluster = backend.cache_clusters.get(cluster_id)
        if cluster is not None:
            _sync_cluster(group, cluster)


def set_replica_count(backend: Any, group: Any, replicas: int, remove: list[str] | None = None) -> None:
    """Cluster mode disabled: add or remove replica nodes until the group has ``replicas`` of them."""
    _, value = _errors()
    if group.cluster_mode == "enabled":
        raise value("The sandbox changes replica counts of cluster-mode-disabled groups only.")
    node_group = group.node_groups[0]
    members = node_group["node_group_members"]
    if remove:
        unknown = [cid for cid in remove if cid not in group.member_clusters]
        if unknown:
            raise value(
                f"ReplicasToRemove: {', '.join(unknown)} are not nodes of {group.replication_group_id}"
            )
        replicas = len(members) - 1 - len(remove)
    if replicas < 0 or replicas > 5:
        raise value("NewReplicaCount must be between 0 and 5.")
    if replicas < 1 and group.automatic_failover == "enabled":
        combination, _ = _errors()
        raise combination(
            "Automatic failover needs at least one replica: disable it before removing the last."
        )
    doomed = list(remove or [])
    replica_ids = [m["cache_cluster_id"] for m in members if m.get("current_role") != "primary"]
    while len(replica_ids) - len(doomed) > replicas:
        doomed.append(next(cid for cid in reversed(replica_ids) if cid not in doomed))
    for cluster_id in doomed:
        node_group["node_group_members"] = [
            m for m in node_group["node_group_members"] if m["cache_cluster_id"] != cluster_id
        ]
        group.member_clusters.remove(cluster_id)
        backend.cache_clusters.pop(cluster_id, None)
    domain = node_group["primary_endpoint"]["address"].partition(".")[2]
    number = 1
    while len(node_group["node_group_members"]) - 1 < replicas:
        number += 1
        cluster_id = f"{group.replication_group_id}-{number:03d}"
        if cluster_id in group.member_clusters:
            continue
        node_group["node_group_members"].append(
            {
                "cache_cluster_id": cluster_id,
                "cache_node_id": node_group["node_group_id"],
                "read_endpoint": {"address": f"{cluster_id}.{domain}", "port": group.port},
                "preferred_availability_zone": "us-east-1b",
                "current_role": "replica",
            }
        )
        group.member_clusters.append(cluster_id)
        _add_cache_cluster(backend, group, cluster_id)
    with _LOCK:
        group.status = "modifying"
        _PENDING.append(group)


def _replica_count_response(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.elasticache.exceptions import ReplicationGroupNotFound

    group_id = self._get_param("ReplicationGroupId")
    backend = self.elasticache_backend
    if _ACTIVE:
        settle()
    group = backend.replication_groups.get(group_id)
    if group is None:
        raise ReplicationGroupNotFound(group_id)
    if group.status != "available":
        raise _invalid_state(f"Replication group {group_id} is {group.status}, not available.")
    count = self._get_int_param("NewReplicaCount")
    remove = self._get_param("ReplicasToRemove") or None
    if count is None and not remove:
        _, value = _errors()
        raise value("Give NewReplicaCount (or, to decrease, ReplicasToRemove).")
    set_replica_count(backend, group, count if count is not None else 0, remove)
    return ActionResult({"ReplicationGroup": group})


def _create_replication_group(self: Any, **kwargs: Any) -> Any:
    if not _ACTIVE:
        return _ORIGINAL["create_replication_group"](self, **kwargs)
    check_create(kwargs)
    # moto sizes a cluster-mode-disabled group from ReplicasPerNodeGroup only.
    if kwargs.get("num_cache_clusters") and not kwargs.get("replicas_per_node_group"):
        kwargs["replicas_per_node_group"] = int(kwargs["num_cache_clusters"]) - 1
    group = _ORIGINAL["create_replication_group"](self, **kwargs)
    _add_reader_endpoints(group)
    for cluster_id in group.member_clusters:
        _add_cache_cluster(self, group, cluster_id)
    with _LOCK:
        group.status = "creating"
        for node_group in group.node_groups:
            node_group["status"] = "creating"
        _PENDING.append(group)
    return group


def settle() -> None:
    """What was answered creating/modifying is available, and what was answered deleting is gone."""
    with _LOCK:
        for group in _PENDING:
            if group.status in ("creating", "modifying"):
                group.status = "available"
                for node_group in group.node_groups:
                    node_group["status"] = "available"
        _PENDING.clear()
        for backend, group_id in _DELETING:
            group = backend.replication_groups.pop(group_id, None)
            if group is not None:
                backend.tagging_service.delete_all_tags_for_resource(group.arn)
                for cluster_id in group.member_clusters:
                    backend.cache_clusters.pop(cluster_id, None)
        _DELETING.clear()


def _describe_replication_groups(self: Any, *args: Any, **kwargs: Any) -> Any:
    if _ACTIVE:
        settle()
    return _ORIGINAL["describe_replication_groups"](self, *args, **kwargs)


def _delete_replication_group(self: Any, replication_group_id: str, *args: Any, **kwargs: Any) -> Any:
    if _ACTIVE:
        settle()
        group = self.replication_groups.get(replication_group_id)
        if group is not None and group.status == "deleting":
            raise _invalid_state(
                f"Replication group {replication_group_id} has status deleting, not valid for deletion."
            )
    group = _ORIGINAL["delete_replication_group"](self, replication_group_id, *args, **kwargs)
    if _ACTIVE:
        with _LOCK:
            _DELETING.append((self, replication_group_id))
    return group


def apply_modifications(group: Any, params: dict[str, Any]) -> None:
    """The ModifyReplicationGroup parameters moto ignores, onto moto's group (``params``: AWS's names)."""
    _, value = _errors()
    transit = params.get("TransitEncryptionEnabled")
    if transit is not None:
        group.transit_encryption_enabled = str(transit).lower() == "true"
    if params.get("TransitEncryptionMode"):
        group.transit_encryption_mode = params["TransitEncryptionMode"]
    strategy = params.get("AuthTokenUpdateStrategy")
    if params.get("AuthToken") or strategy:
        if not group.transit_encryption_enabled:
            raise value("The AUTH token is only supported when encryption in-transit is enabled.")
        if (strategy or "ROTATE") == "DELETE":
            group.auth_token_enabled = False
            group.auth_token_last_modified_date = None
        else:
            from moto.core.utils import utcnow

            if not params.get("AuthToken"):
                raise value(f"AuthToken is required with AuthTokenUpdateStrategy {strategy}.")
            group.auth_token_enabled = True
            group.auth_token_last_modified_date = utcnow()
    simple = {
        "SecurityGroupIds": "security_group_ids",
        "SnapshotWindow": "snapshot_window",
        "PreferredMaintenanceWindow": "preferred_maintenance_window",
        "CacheParameterGroupName": "cache_parameter_group_name",
        "EngineVersion": "engine_version",
        "NotificationTopicArn": "notification_topic_arn",
        "SnapshottingClusterId": "snapshotting_cluster_id",
        "IpDiscovery": "ip_discovery",
    }
    for name, attribute in simple.items():
        if params.get(name) is not None:
            setattr(group, attribute, params[name])
    if params.get("AutoMinorVersionUpgrade") is not None:
        group.auto_minor_version_upgrade = str(params["AutoMinorVersionUpgrade"]).lower() == "true"


def _modify_replication_group_response(self: Any) -> Any:
    if not _ACTIVE:
        return _ORIGINAL["modify_replication_group_response"](self)
    group_id = self._get_param("ReplicationGroupId")
    groups = self.elasticache_backend.replication_groups
    if group_id in groups:
        multi_az = self._get_bool_param("MultiAZEnabled")
        failover = self._get_bool_param("AutomaticFailoverEnabled")
        group = groups[group_id]
        failover_on = group.automatic_failover == "enabled" if failover is None else failover
        if multi_az and not failover_on:
            combination, _ = _errors()
            raise combination("Multi-AZ can be enabled only when automatic failover is enabled.")
        names = (
            "TransitEncryptionEnabled",
            "TransitEncryptionMode",
            "AuthToken",
            "AuthTokenUpdateStrategy",
            "SecurityGroupIds",
            "SnapshotWindow",
            "PreferredMaintenanceWindow",
            "CacheParameterGroupName",
            "EngineVersion",
            "NotificationTopicArn",
            "SnapshottingClusterId",
            "IpDiscovery",
            "AutoMinorVersionUpgrade",
        )
        apply_modifications(group, {name: self._get_param(name) for name in names})
    result = _ORIGINAL["modify_replication_group_response"](self)
    group = groups.get(group_id)
    if group is not None:
        _sync_members(self.elasticache_backend, group)
        with _LOCK:
            group.status = "modifying"
            _PENDING.append(group)
    return result


def reset() -> None:
    with _LOCK:
        _PENDING.clear()
        _DELETING.clear()


def install(active: bool = True) -> None:
    """Turn the overlay on (or off: plain moto); wraps moto's methods once."""
    global _ACTIVE
    _ACTIVE = active
    if _ORIGINAL:
        return
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    for name, wrapper in (
        ("create_replication_group", _create_replication_group),
        ("describe_replication_groups", _describe_replication_groups),
        ("delete_replication_group", _delete_replication_group),
    ):
        _ORIGINAL[name] = getattr(ElastiCacheBackend, name)
        setattr(ElastiCacheBackend, name, wrapper)
    _ORIGINAL["modify_replication_group_response"] = ElastiCacheResponse.modify_replication_group
    ElastiCacheResponse.modify_replication_group = _modify_replication_group_response
    ElastiCacheResponse.increase_replica_count = _replica_count_response
    ElastiCacheResponse.decrease_replica_count = _replica_count_response
