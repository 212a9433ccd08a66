#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: deploy_lock
short_description: The environment's deploy lock, held in a DynamoDB table with conditional writes
version_added: 0.1.0
description:
  - Takes, releases or breaks the one deploy lock of an environment, so that two releases never run at
    once. The lock is an item in the environment's DynamoDB table (by convention
    C(<project>-<environment>-releases), shared with M(macroai.deploy.release_ledger)); every write is
    conditional, so of two runs taking it at the same moment exactly one wins.
  - The lock records its O(owner) (the release id), its O(holder) (user, host and the controller's pid),
    O(lock_message), when it was taken and when it expires (O(ttl_minutes) later). DynamoDB's TTL deletes
    expired locks eventually; expiry as this module sees it is exact.
  - Taking a lock held by another owner fails, naming the holder, its message and its times. An expired lock
    fails too (it is probably left by a killed run) and says how to break it; breaking is explicit
    (O(state=broken)). One exception, O(takeover_dead_holder) - an expired lock whose holder ran on this host
    and whose process is gone is taken over with a warning.
  - The table is created on first use (on-demand billing, keys C(pk) and C(sk), TTL on C(expires_at)) unless
    in check mode.
author:
  - Macro AI maintainers (@macroai)
options:
  table:
    description:
      - The environment's DynamoDB table, C(<project>-<environment>-releases) by convention.
    type: str
    required: true
  state:
    description:
      - V(acquired) takes the lock for O(owner) (nothing changes when O(owner) already holds it).
      - V(released) gives back O(owner)'s lock; a lock held by another owner is left alone and the task fails.
      - V(broken) deletes whatever lock is there, whoever holds it.
    type: str
    choices: [acquired, released, broken]
    default: acquired
  owner:
    description:
      - Who the lock is for, unique to this run, for example the release id. Required unless O(state=broken).
    type: str
  lock_message:
    description:
      - Why the lock is held, shown to anyone refused it, for example C(release 2026-11-27.3 of abc1234).
    type: str
    default: ''
  ttl_minutes:
    description:
      - How long the lock holds before it counts as expired, 1 to 1440. Longer than the longest release.
    type: int
    default: 60
  holder:
    description:
      - Who holds the lock, for people. By default C(user@host:pid) with the pid of the controlling
        C(ansible-playbook) process. The host and that pid are recorded apart from this label either way.
    type: str
  takeover_dead_holder:
    description:
      - Take over an expired lock whose holder ran on this host and whose process is no longer running,
        with a warning, instead of failing.
    type: bool
    default: true
  release_id:
    description:
      - With O(ledger_entry), the release whose entry in the same table's ledger
        (M(macroai.deploy.release_ledger)) is written in this call - V(acquired) opens it once the lock is
        taken (and gives the lock back if the entry cannot be written); V(released) records it, then gives
        the lock back even when the ledger refuses the entry, and fails after, saying why.
    type: str
  ledger_entry:
    description:
      - The fields to merge into O(release_id)'s ledger entry, as
        O(macroai.deploy.release_ledger#module:entry) takes them (the same secret checks apply).
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Reads the lock and predicts the outcome (a refusal included) without writing or creating the table.
  diff_mode:
    support: full
    details:
      - Shows the lock before and after.
  idempotent:
    support: full
    details:
      - Taking a lock the same O(owner) holds, or releasing one that is not there, reports C(changed=false)
        and writes nothing. A lock of the same O(owner) that has expired is renewed.
notes:
  - The holder's liveness is read from C(/proc) on the controller; a process is told from a later one with
    the same pid by its start time.
  - Needs C(dynamodb:DescribeTable), C(dynamodb:CreateTable), C(dynamodb:DescribeTimeToLive),
    C(dynamodb:UpdateTimeToLive), C(dynamodb:GetItem), C(dynamodb:PutItem) and C(dynamodb:DeleteItem) on the
    table.
seealso:
  - module: macroai.deploy.release_ledger
"""

EXAMPLES = r"""
- name: Take the deploy lock for this release
  macroai.deploy.deploy_lock:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    owner: "{{ release_id }}"
    lock_message: "release {{ release_id }} of {{ release_commit[:7] }} by {{ lookup('env', 'USER') }}"
    ttl_minutes: 90

- name: Give it back
  macroai.deploy.deploy_lock:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    owner: "{{ release_id }}"
    state: released

- name: Break a lock left by a killed run (-e break_lock=true)
  macroai.deploy.deploy_lock:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    state: broken
  when: break_lock | default(false) | bool
"""

RETURN = r"""
lock:
  description: The lock after the run (as it would be, in check mode). Its fields are null when not held.
  returned: always
  type: dict
  contains:
    owner:
      description: The owner (release id) holding it.
      type: str
      sample: "20261127-124453-abc1234"
    holder:
      description: Who holds it.
      type: str
      sample: deploy@ci-runner-3:41234
    message:
      description: Why it is held.
      type: str
      sample: release 20261127-124453-abc1234
    started_at:
      description: When it was taken, ISO 8601 UTC.
      type: str
      sample: "2026-11-27T12:44:53Z"
    expires_at:
      description: When it expires, ISO 8601 UTC.
      type: str
      sample: "2026-11-27T13:44:53Z"
    held:
      description: Whether a lock is there.
      type: bool
      sample: true
    expired:
      description: Whether it has expired (false when not held).
      type: bool
      sample: false
    host:
      description: The host its holder ran on.
      type: str
      sample: ci-runner-3
    pid:
      description: The holder's controller pid on that host.
      type: int
      sample: 41234
release:
  description: With O(ledger_entry), the release's ledger entry after the call (as
    M(macroai.deploy.release_ledger) returns it).
  returned: when O(ledger_entry) is given
  type: dict
  sample: {release_id: "20261127T124453Z-abc1234", outcome: in_progress}
previous:
  description: The lock as it was before the run, the same shape as RV(lock).
  returned: always
  type: dict
  sample:
    {owner: null, holder: null, message: null, started_at: null, expires_at: null, held: false,
     expired: false, host: null, pid: null}
table:
  description: The table name.
  returned: always
  type: str
  sample: macroai-production-releases
"""

import contextlib  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._release_store import (  # noqa: E402
    DeployLock,
    Identity,
    Ledger,
    StoreError,
    Table,
    acquire_and_open,
    record_and_release,
    secret_values,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError


def converge(module, table):
    params = module.params
    table.ensure(create=params["state"] == "acquired")
    lock = DeployLock(table, Identity.of_this_run(params["holder"]))
    entry, release = params["ledger_entry"] or {}, {}
    ledger_error = ""
    if params["state"] == "acquired" and entry:
        *result, release = acquire_and_open(
            lock,
            Ledger(table),
            params["owner"],
            params["lock_message"],
            params["ttl_minutes"],
            params["takeover_dead_holder"],
            params["release_id"],
            entry,
        )
    elif params["state"] == "acquired":
        result = lock.acquire(
            params["owner"], params["lock_message"], params["ttl_minutes"], params["takeover_dead_holder"]
        )
    elif params["state"] == "released" and entry:
        *result, release, ledger_error = record_and_release(
            lock, Ledger(table), params["owner"], params["release_id"], entry
        )
    elif params["state"] == "released":
        result = lock.release(params["owner"])
    else:
        result = lock.break_()
    for warning in lock.warnings:
        module.warn(warning)
    return (*result, release, ledger_error)


def main():
    argument_spec = dict(
        table=dict(type="str", required=True),
        state=dict(type="str", choices=["acquired", "released", "broken"], default="acquired"),
        owner=dict(type="str"),
        lock_message=dict(type="str", default=""),
        ttl_minutes=dict(type="int", default=60),
        holder=dict(type="str"),
        takeover_dead_holder=dict(type="bool", default=True),
        release_id=dict(type="str"),
        ledger_entry=dict(type="dict"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "acquired", ("owner",)), ("state", "released", ("owner",))],
        required_by={"ledger_entry": ("release_id",)},
        supports_check_mode=True,
    )
    if module.params["ledger_entry"] and module.params["state"] == "broken":
        module.fail_json(msg="ledger_entry goes with state=acquired or state=released, not state=broken")
    # A secret given by mistake is refused by the ledger; mask it in every output, the invocation's included.
    secrets = secret_values(module.params["ledger_entry"] or {})
    module.no_log_values.update(value for value in secrets if len(value) > 3)
    if not 1 <= module.params["ttl_minutes"] <= 1440:
        module.fail_json(msg=f"ttl_minutes={module.params['ttl_minutes']} must be 1 to 1440 (minutes)")
    (client,) = retrying_clients(module, "dynamodb")
    table = Table(client, module.params["table"], check_mode=module.check_mode)
    try:
        changed, previous, lock, release, ledger_error = converge(module, table)
    except StoreError as e:
        module.fail_json(msg=str(e), table=table.name, **e.details)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"Could not read or change the deploy lock in DynamoDB table {table.name!r}: check the table "
            "name and that the credentials allow dynamodb:GetItem, PutItem, DeleteItem, DescribeTable and "
            "CreateTable",
        )
    result = dict(changed=changed, lock=lock, previous=previous, table=table.name)
    if module.params["ledger_entry"]:
        result["release"] = release
    if module._diff:
        result["diff"] = {"before": previous, "after": lock}
    if ledger_error:
        module.fail_json(msg=f"{ledger_error.rstrip('.')}. The deploy lock was given back.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
