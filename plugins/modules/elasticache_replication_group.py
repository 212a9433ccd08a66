#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: elasticache_replication_group
short_description: Create, modify or delete an ElastiCache (Valkey or Redis OSS) replication group
version_added: 0.1.0
description:
  - Converges one ElastiCache replication group with cluster mode disabled (one node group of a primary and
    O(num_nodes) minus one replicas), with Multi-AZ, automatic failover, encryption in transit and at rest,
    an auth token, a cache subnet group, security groups and tags. C(community.aws.elasticache) manages
    single cache clusters only.
  - Options left unset are never changed. Settings ElastiCache fixes at creation (encryption, KMS key,
    subnet group, port) are warned about, not changed, when they differ.
  - The auth token is set when the group is created and changed only when O(auth_token_update_strategy) is
    given, so a rerun never rotates it.
  - Waits (O(wait)) until the group is C(available) again after each change, at most O(wait_timeout)
    seconds.
author:
  - Macro AI maintainers (@macroai)
options:
  replication_group_id:
    description:
      - Name of the replication group, 1 to 40 lower-case letters, digits and single hyphens, starting with
        a letter.
    type: str
    required: true
    aliases: [name]
  state:
    description:
      - V(present) creates the group or brings it to the options given; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  description:
    description:
      - Description of the group. Defaults to O(replication_group_id) on creation.
    type: str
  engine:
    description:
      - V(valkey) or V(redis) (Redis OSS). Defaults to V(valkey) on creation. A redis group can move to
        valkey; the other way is refused by ElastiCache (the module warns).
    type: str
    choices: [valkey, redis]
  engine_version:
    description:
      - Engine version, for example V(8.0). Unset takes ElastiCache's default on creation.
    type: str
  node_type:
    description:
      - Node type, for example V(cache.t4g.micro). Required to create.
    type: str
  num_nodes:
    description:
      - Nodes in the group, the primary included (1 to 6). Defaults to V(2) on creation; changing it adds or
        removes replicas.
    type: int
  multi_az:
    description:
      - Keep the replicas in other Availability Zones than the primary and fail over across zones. Needs
        O(num_nodes) of at least 2 and O(automatic_failover).
    type: bool
  automatic_failover:
    description:
      - Promote a replica when the primary fails. Defaults to O(multi_az) on creation.
    type: bool
  transit_encryption:
    description:
      - TLS between clients and nodes (clients then connect with C(rediss://)). Fixed at creation.
    type: bool
  at_rest_encryption:
    description:
      - Encrypt data on disk and in backups. Fixed at creation.
    type: bool
  kms_key_id:
    description:
      - KMS key for encryption at rest; unset uses the AWS-managed key. Fixed at creation.
    type: str
  auth_token:
    description:
      - The Redis AUTH password clients must send (16 to 128 printable characters without spaces, C(@),
        C(") or C(/)). Needs O(transit_encryption).
      - Sent only when the group is created, or when O(auth_token_update_strategy) is given.
    type: str
  auth_token_update_strategy:
    description:
      - Change the auth token of an existing group to O(auth_token). V(rotate) keeps the old token valid
        alongside the new one (until a later V(set)); V(set) makes the new one the only token.
      - Every run with this option changes the group, so give it for the rotation only.
    type: str
    choices: [rotate, set]
  subnet_group:
    description:
      - Cache subnet group to place the nodes in. Fixed at creation.
    type: str
  security_group_ids:
    description:
      - VPC security groups of the nodes. The list given is the whole list.
    type: list
    elements: str
  port:
    description:
      - Port the nodes listen on. Defaults to 6379. Fixed at creation.
    type: int
  snapshot_retention_limit:
    description:
      - Days automatic snapshots are kept (0 turns them off, at most 35).
    type: int
  final_snapshot_identifier:
    description:
      - With O(state=absent), the name of a snapshot to take before deleting.
    type: str
  wait_timeout:
    default: 1800
  poll_interval:
    default: 15
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - macroai.deploy.wait
  - macroai.deploy.wait.optional
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Only reads, and reports what would change.
  diff_mode:
    support: full
    details:
      - Shows the group's settings before and after.
  idempotent:
    support: full
    details:
      - A second run with the same options reports C(changed=false).
notes:
  - It waits until the group is C(available) after creating or changing it (or gone after deleting);
    creating a group takes 5 to 15 minutes on AWS. On O(wait_timeout) the task fails but ElastiCache carries
    on with the change.
  - The security groups and subnet group are read from the group's first cache cluster; where that cannot
    be read they are not compared.
"""

EXAMPLES = r"""
- name: A highly available Valkey cache in the isolated subnets, encrypted, with an auth token
  macroai.deploy.elasticache_replication_group:
    replication_group_id: myapp-production
    engine: valkey
    node_type: cache.t4g.micro
    num_nodes: 2
    multi_az: true
    transit_encryption: true
    at_rest_encryption: true
    auth_token: "{{ cache_auth_token }}"
    subnet_group: myapp-production-cache
    security_group_ids: ["{{ networking.security_group_ids.cache }}"]
    tags:
      Project: myapp
  no_log: true
  register: cache

- name: Rotate the auth token (the old one stays valid until a later set)
  macroai.deploy.elasticache_replication_group:
    replication_group_id: myapp-production
    auth_token: "{{ new_cache_auth_token }}"
    auth_token_update_strategy: rotate
  no_log: true

- name: Delete the group, keeping a final snapshot
  macroai.deploy.elasticache_replication_group:
    replication_group_id: myapp-production
    state: absent
    final_snapshot_identifier: myapp-production-final
"""

RETURN = r"""
replication_group:
  description:
    - The group after the run (predicted in check mode, with null ARN and endpoints when it would be
      created); null when absent.
  returned: always
  type: dict
  contains:
    replication_group_id:
      description: Name of the group.
      type: str
    arn:
      description: ARN of the group.
      type: str
    status:
      description: V(available) once the module has waited, else V(creating), V(modifying) or V(deleting).
      type: str
    description:
      description: Description.
      type: str
    engine:
      description: V(valkey) or V(redis).
      type: str
    engine_version:
      description: Engine version of the first node, when it can be read.
      type: str
    node_type:
      description: Node type.
      type: str
    num_nodes:
      description: Nodes, the primary included.
      type: int
    member_clusters:
      description: The cache clusters (nodes) of the group.
      type: list
      elements: str
    multi_az:
      description: Whether Multi-AZ is on.
      type: bool
    automatic_failover:
      description: Whether automatic failover is on.
      type: bool
    transit_encryption:
      description: Whether TLS is on.
      type: bool
    at_rest_encryption:
      description: Whether encryption at rest is on.
      type: bool
    kms_key_id:
      description: KMS key of encryption at rest, when not the AWS-managed one.
      type: str
    auth_token_enabled:
      description: Whether clients must send an auth token (the token itself is never returned).
      type: bool
    subnet_group:
      description: Cache subnet group, when it can be read.
      type: str
    security_group_ids:
      description: Security groups of the nodes, when they can be read.
      type: list
      elements: str
    port:
      description: Port of the nodes.
      type: int
    snapshot_retention_limit:
      description: Days automatic snapshots are kept.
      type: int
    primary_endpoint:
      description: Host name of the primary (writes go here).
      type: str
    reader_endpoint:
      description: Host name that balances reads over the replicas.
      type: str
    tags:
      description: Tags of the group.
      type: dict
primary_endpoint:
  description: Host name of the primary; empty before the group exists (check mode).
  returned: always
  type: str
  sample: master.myapp-production.abc123.euw2.cache.amazonaws.com
port:
  description: Port of the primary.
  returned: always
  type: int
  sample: 6379
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._elasticache import (  # noqa: E402
    ElastiCacheGroups,
    GroupSpec,
    GroupWaitError,
    SpecError,
    diff_view,
    ensure_absent,
    ensure_present,
)
from ansible_collections.macroai.deploy.plugins.module_utils._module import run_module  # noqa: E402


def build_spec(params):
    return GroupSpec(
        replication_group_id=params["replication_group_id"],
        description=params["description"],
        engine=params["engine"],
        engine_version=params["engine_version"],
        node_type=params["node_type"],
        num_nodes=params["num_nodes"],
        multi_az=params["multi_az"],
        automatic_failover=params["automatic_failover"],
        transit_encryption=params["transit_encryption"],
        at_rest_encryption=params["at_rest_encryption"],
        kms_key_id=params["kms_key_id"],
        auth_token=params["auth_token"],
        auth_token_update_strategy=params["auth_token_update_strategy"],
        subnet_group=params["subnet_group"],
        security_group_ids=params["security_group_ids"],
        port=params["port"],
        snapshot_retention_limit=params["snapshot_retention_limit"],
        tags=params["tags"],
        purge_tags=params["purge_tags"],
    )


def main():
    argument_spec = dict(
        replication_group_id=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        description=dict(type="str"),
        engine=dict(type="str", choices=["valkey", "redis"]),
        engine_version=dict(type="str"),
        node_type=dict(type="str"),
        num_nodes=dict(type="int"),
        multi_az=dict(type="bool"),
        automatic_failover=dict(type="bool"),
        transit_encryption=dict(type="bool"),
        at_rest_encryption=dict(type="bool"),
        kms_key_id=dict(type="str"),
        auth_token=dict(type="str", no_log=True),
        auth_token_update_strategy=dict(type="str", choices=["rotate", "set"], no_log=False),
        subnet_group=dict(type="str"),
        security_group_ids=dict(type="list", elements="str"),
        port=dict(type="int"),
        snapshot_retention_limit=dict(type="int"),
        final_snapshot_identifier=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=15.0),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    (client,) = retrying_clients(module, "elasticache")
    groups = ElastiCacheGroups(
        client, wait_timeout=params["wait_timeout"], poll_interval=params["poll_interval"]
    )

    def perform():
        if params["state"] == "present":
            result = ensure_present(groups, build_spec(params), module.check_mode, params["wait"])
        else:
            result = ensure_absent(
                groups,
                params["replication_group_id"],
                module.check_mode,
                params["wait"],
                params["final_snapshot_identifier"],
            )
        for warning in result.warnings:
            module.warn(warning)
        after = result.after or {}
        return {
            "changed": result.changed,
            "replication_group": result.after,
            "primary_endpoint": after.get("primary_endpoint") or "",
            "port": after.get("port") or params["port"] or 6379,
            "diff": {"before": diff_view(result.before), "after": diff_view(result.after)},
        }

    run_module(
        module,
        perform,
        (SpecError, GroupWaitError),
        f"ElastiCache refused a call for replication group {params['replication_group_id']}: check "
        "the options named in the error, and that the credentials may call "
        "elasticache:*ReplicationGroup*, DescribeCacheClusters and the tagging calls",
    )


if __name__ == "__main__":
    main()
