#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: neon_branch
short_description: Create, update, delete or restore a Neon branch, waiting for Neon's operations
version_added: 0.1.0
description:
  - Gets or creates a branch of a Neon project by name (branch names are unique per project, so the name
    is the key), optionally with a read-write compute endpoint, and keeps its C(protected) flag, expiry and
    endpoint settings as asked. Options left unset are never changed.
  - Deletes a branch (O(state=absent)); a branch already gone is not a change.
  - Restores a branch (O(state=restored)) from itself at an LSN or a timestamp, or from another branch,
    keeping the state before the restore as a branch named O(preserve_under_name). That branch is also how
    a rerun knows the restore was done.
  - Waits for every operation Neon starts, and for the branch to leave C(init) or C(resetting), before it
    returns. Answers 423 (another operation runs), 429 and 503 are retried with backoff (see O(retries)).
  - Returns the branch's connection URI only when asked (O(return_connection_uri)), and then only to a task
    with C(no_log) set, because the URI holds a password.
author:
  - Macro AI maintainers (@macroai)
options:
  name:
    description:
      - Name of the branch, 1 to 256 characters, without leading or trailing whitespace or control
        characters.
    type: str
    required: true
  state:
    description:
      - V(present) creates the branch when no branch has this name, and updates it otherwise.
      - V(absent) deletes it. Neon refuses to delete the default branch, a protected branch and a branch
        with children.
      - V(restored) restores the existing branch O(name) from O(source_branch) (itself by default, which
        needs O(source_lsn) or O(source_timestamp), and O(preserve_under_name)). With O(preserve_under_name)
        a rerun finds that branch and changes nothing; without it (restoring from another branch) every run
        restores again.
    type: str
    choices: [present, absent, restored]
    default: present
  parent:
    description:
      - Name or ID of the branch to copy when creating. Defaults to the project's default branch.
      - A branch's parent cannot change; when an existing branch has another parent, the module warns and
        leaves it.
    type: str
  protected:
    description:
      - Whether the branch is protected. Unset leaves it as it is (new branches are not protected).
    type: bool
  expires_at:
    description:
      - When Neon deletes the branch, as an RFC 3339 timestamp with a time zone, in the future and at most
        30 days ahead, for example V(2030-01-31T12:00:00Z). An empty string removes the expiry.
      - Neon allows no expiry on protected or default branches, or on branches with children.
    type: str
  endpoint:
    description:
      - A read-write compute endpoint for the branch, created when it has none and updated when its settings
        differ. Unset leaves endpoints alone.
    type: dict
    suboptions:
      autoscaling_limit_min_cu:
        description:
          - Minimum compute units (0.25 to 56).
        type: float
      autoscaling_limit_max_cu:
        description:
          - Maximum compute units (0.25 to 56, at least the minimum).
        type: float
      suspend_timeout_seconds:
        description:
          - Seconds of inactivity before the compute suspends; V(0) is Neon's default, V(-1) never.
        type: int
  source_branch:
    description:
      - With O(state=restored), the name or ID of the branch to restore from. Defaults to O(name) itself.
    type: str
  source_lsn:
    description:
      - With O(state=restored), the LSN of O(source_branch) to restore to, for example V(0/1AA6408), the
        RV(lsn) returned when a restore point (backup branch) was made.
    type: str
  source_timestamp:
    description:
      - With O(state=restored), the moment of O(source_branch) to restore to (RFC 3339), inside the project's
        history retention window.
    type: str
  preserve_under_name:
    description:
      - With O(state=restored), the name under which Neon keeps the branch's state before the restore.
        Required when restoring a branch from itself or one with children.
      - When a branch with this name exists, the restore counts as done and nothing changes.
    type: str
  return_connection_uri:
    description:
      - Return the branch's PostgreSQL connection URI (with its password) in RV(connection_uri).
      - "The task must set C(no_log: true); the module fails before any change otherwise."
    type: bool
    default: false
  database_name:
    description:
      - With O(return_connection_uri), the database to connect to. Defaults to the branch's only database.
    type: str
  role_name:
    description:
      - With O(return_connection_uri), the role to connect as. Defaults to the database's owner.
    type: str
  wait_timeout:
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of an operation's status. Neon suggests 2 to 5.
    default: 2
  restore_points:
    description:
      - With O(state=present), treat the branches whose names start with O(restore_points.prefix) as restore
        points (backup branches taken before migrations) and keep at most O(restore_points.keep) of them,
        O(name) included, so that each new one fits in the plan's branch quota (10 branches on Neon's Free
        plan, the root branch included).
      - The oldest are deleted first, before O(name) is created. Never deleted are O(name), the branches named
        in O(restore_points.retain), the default branch, protected branches and branches with children; they
        still count.
      - In check mode the branches that would be deleted are returned and nothing is deleted.
    type: dict
    suboptions:
      prefix:
        description:
          - The name prefix every restore point has, for example V(production-pre-migrate-).
        type: str
        required: true
      keep:
        description:
          - How many restore points to keep, at least 1.
        type: int
        required: true
      retain:
        description:
          - Restore points never to delete, for example the one the newest successful release's rollback
            restores from.
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - macroai.deploy.neon
  - macroai.deploy.wait
  - macroai.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - Only reads, and reports what would change.
  diff_mode:
    support: full
    details:
      - Shows the branch's state, parent, C(protected) and C(expires_at) before and after.
  idempotent:
    support: partial
    details:
      - V(present) and V(absent) are; the branch is found again by its name, and a branch already gone is not
        a change.
      - V(restored) is with O(preserve_under_name), whose branch a rerun finds; without it every run restores
        again.
notes:
  - It waits for every operation Neon returns (and for the branch to be ready) after each change. On
    O(wait_timeout) the task fails; Neon finishes the operation, and running the task again with the same
    input finds the branch as it then is.
  - Restoring from itself works only inside the project's history retention window (6 hours on Neon's Free
    plan). The robust restore point before a migration is a backup branch whose RV(lsn) is recorded; to roll
    back, restore the production branch from itself at that LSN.
seealso:
  - name: Neon API reference
    description: The HTTP API this module calls.
    link: https://api-docs.neon.tech/reference/getting-started-with-neon-api
"""

EXAMPLES = r"""
- name: A pre-migration restore point of production
  macroai.deploy.neon_branch:
    project_id: "{{ neon_project_id }}"
    name: "pre-migrate-{{ release_id }}"
    parent: main
    expires_at: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() + 7 * 86400) }}"
  register: restore_point

- name: A preview branch with its own compute, and its connection URI
  macroai.deploy.neon_branch:
    project_id: "{{ neon_project_id }}"
    name: "preview/{{ git_branch }}"
    endpoint:
      autoscaling_limit_min_cu: 0.25
      autoscaling_limit_max_cu: 1
      suspend_timeout_seconds: 300
    return_connection_uri: true
  no_log: true
  register: preview

- name: Roll production back to the restore point
  macroai.deploy.neon_branch:
    project_id: "{{ neon_project_id }}"
    name: main
    state: restored
    source_lsn: "{{ restore_point.lsn }}"
    preserve_under_name: "main-before-rollback-{{ release_id }}"

- name: A restore point before a migration, keeping the three newest and the one rollback would use
  macroai.deploy.neon_branch:
    project_id: "{{ neon_project_id }}"
    name: "production-pre-migrate-{{ release_id }}"
    parent: production
    restore_points:
      prefix: production-pre-migrate-
      keep: 3
      retain: ["production-pre-migrate-{{ last_successful_release_id }}"]
  register: restore_point

- name: Delete the preview branch
  macroai.deploy.neon_branch:
    project_id: "{{ neon_project_id }}"
    name: "preview/{{ git_branch }}"
    state: absent
"""

RETURN = r"""
branch:
  description:
    - The branch, after the change (predicted in check mode; without C(id) when it would be created).
    - Absent branches give null.
  returned: always
  type: dict
  contains:
    id:
      description: Branch ID.
      type: str
      sample: br-wispy-dew-591433
    name:
      description: Branch name.
      type: str
    parent_id:
      description: ID of the branch it was copied from; null for the root branch.
      type: str
    parent_lsn:
      description: LSN of the parent at which the branch was made.
      type: str
      sample: 0/1AA6408
    parent_timestamp:
      description: Time of the parent at which the branch was made, when Neon gives it.
      type: str
    current_state:
      description: V(ready) once the module returns (V(init) is predicted in check mode).
      type: str
    default:
      description: Whether this is the project's default branch.
      type: bool
    protected:
      description: Whether the branch is protected.
      type: bool
    expires_at:
      description: When Neon deletes the branch, or null.
      type: str
    created_at:
      description: Creation time.
      type: str
    last_reset_at:
      description: Time of the last restore, or null.
      type: str
endpoint:
  description: The branch's read-write compute endpoint (or its first endpoint), or null when it has none.
  returned: always
  type: dict
  contains:
    id:
      description: Endpoint ID.
      type: str
      sample: ep-cool-darkness-123456
    host:
      description: Host name to connect to.
      type: str
    type:
      description: V(read_write) or V(read_only).
      type: str
    current_state:
      description: V(init), V(active) or V(idle).
      type: str
    autoscaling_limit_min_cu:
      description: Minimum compute units.
      type: float
    autoscaling_limit_max_cu:
      description: Maximum compute units.
      type: float
    suspend_timeout_seconds:
      description: Seconds of inactivity before the compute suspends.
      type: int
lsn:
  description:
    - The LSN of the parent at which this branch was made (RV(branch.parent_lsn)). For a backup branch, the
      restore point to give as O(source_lsn) when restoring its parent from itself.
    - Neon's API does not report a branch's own current LSN.
  returned: always
  type: str
  sample: 0/1AA6408
operations:
  description: Every Neon operation the module waited for, in order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Operation ID.
      type: str
    action:
      description: What it did, for example V(create_branch) or V(start_compute).
      type: str
    status:
      description: V(finished), V(skipped) or V(cancelled).
      type: str
    branch_id:
      description: Branch it acted on.
      type: str
    endpoint_id:
      description: Endpoint it acted on, if any.
      type: str
    total_duration_ms:
      description: How long it ran.
      type: int
preserved_branch:
  description:
    - With O(state=restored) and O(preserve_under_name), the branch holding the state before the restore.
    - Same keys as RV(branch).
  returned: when O(state=restored) and O(preserve_under_name) is set
  type: dict
connection_uri:
  description: A PostgreSQL connection URI with the role's password. Only for tasks with C(no_log) set.
  returned: when O(return_connection_uri=true) and not in check mode
  type: str
pruned_restore_points:
  description:
    - With O(restore_points), the restore points deleted (predicted in check mode), oldest first.
  returned: when O(restore_points) deleted any
  type: list
  elements: dict
  contains:
    id:
      description: Branch ID.
      type: str
    name:
      description: Branch name.
      type: str
    created_at:
      description: When it was made.
      type: str
    parent_lsn:
      description: The LSN it kept.
      type: str
api_retries:
  description: How many answers (423, 429, 503) were retried.
  returned: always
  type: int
  sample: 0
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._neon import (  # noqa: E402
    NEON_COMMON_ARGS,
    BranchRequest,
    EndpointSpec,
    NeonClient,
    NeonError,
    RestorePoints,
    RetryPolicy,
    ensure_branch,
)


def build_request(params):
    endpoint = params["endpoint"]
    points = params["restore_points"]
    return BranchRequest(
        project_id=params["project_id"],
        name=params["name"],
        state=params["state"],
        parent=params["parent"],
        protected=params["protected"],
        expires_at=params["expires_at"],
        endpoint=(
            EndpointSpec(
                min_cu=endpoint["autoscaling_limit_min_cu"],
                max_cu=endpoint["autoscaling_limit_max_cu"],
                suspend_timeout_seconds=endpoint["suspend_timeout_seconds"],
            )
            if endpoint is not None
            else None
        ),
        source_branch=params["source_branch"],
        source_lsn=params["source_lsn"],
        source_timestamp=params["source_timestamp"],
        preserve_under_name=params["preserve_under_name"],
        return_connection_uri=params["return_connection_uri"],
        database_name=params["database_name"],
        role_name=params["role_name"],
        wait_timeout=params["wait_timeout"],
        poll_interval=params["poll_interval"],
        restore_points=(
            RestorePoints(points["prefix"], points["keep"], tuple(points["retain"] or ()))
            if points is not None
            else None
        ),
    )


def main():
    argument_spec = dict(
        NEON_COMMON_ARGS,
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent", "restored"], default="present"),
        parent=dict(type="str"),
        protected=dict(type="bool"),
        expires_at=dict(type="str"),
        endpoint=dict(
            type="dict",
            options=dict(
                autoscaling_limit_min_cu=dict(type="float"),
                autoscaling_limit_max_cu=dict(type="float"),
                suspend_timeout_seconds=dict(type="int"),
            ),
        ),
        source_branch=dict(type="str"),
        source_lsn=dict(type="str"),
        source_timestamp=dict(type="str"),
        preserve_under_name=dict(type="str"),
        return_connection_uri=dict(type="bool", default=False),
        database_name=dict(type="str"),
        role_name=dict(type="str"),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
        restore_points=dict(
            type="dict",
            options=dict(
                prefix=dict(type="str", required=True),
                keep=dict(type="int", required=True),
                retain=dict(type="list", elements="str", default=[]),
            ),
        ),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("source_lsn", "source_timestamp")],
    )
    params = module.params
    if params["return_connection_uri"] and not module.no_log:
        module.fail_json(
            msg="return_connection_uri: the connection URI holds a password; set no_log: true on this task "
            "(and register its result) to get it"
        )
    client = NeonClient(
        params["api_key"],
        base_url=params["base_url"],
        timeout=params["request_timeout"],
        policy=RetryPolicy(attempts=max(params["retries"], 0) + 1),
    )
    try:
        result = ensure_branch(client, build_request(params), module.check_mode)
    except NeonError as e:
        details = {"status": e.status, "request_id": e.request_id, **e.details}
        details = {key: value for key, value in details.items() if value is not None}
        module.fail_json(msg=e.message, api_retries=len(client.retried), **details)
    for message in result.messages:
        module.warn(message)
    output = result.as_dict(with_connection_uri=params["return_connection_uri"])
    if module._diff:
        output["diff"] = {"before": result.before, "after": result.after}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
