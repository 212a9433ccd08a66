#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: release_ledger
short_description: The environment's release ledger, in a DynamoDB table
version_added: 0.1.0
description:
  - Records releases (commits, scope, task definition, client artifact, restore point, per-phase timings,
    outcome) and answers what a release, the last successful one, or the latest ones were. The ledger lives
    in the environment's DynamoDB table (by convention C(<project>-<environment>-releases), shared with
    M(macroai.deploy.deploy_lock)).
  - V(present) merges O(entry) into the release's stored entry (dicts key by key, so phase timings add up over
    a release; a null value removes a field) and writes only when something differs.
  - The ledger keeps no secrets - an entry with a field named like a password, secret, token or key, or a URL
    with credentials or a signature in it, is refused, naming the field and never its value.
  - The table is created on first V(present) (on-demand billing, keys C(pk) and C(sk), TTL on C(expires_at))
    unless in check mode. Queries never create it - a missing table is an empty ledger.
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
      - V(present) records O(entry) for O(release_id); V(query) reads, as O(query) says.
    type: str
    choices: [present, query]
    default: present
  release_id:
    description:
      - The release, unique in the environment. Required for V(present) and for O(query=get).
    type: str
  entry:
    description:
      - For V(present), the fields to record, merged into what is stored. Known fields are checked -
        C(commit), C(base_commit), C(scope), C(reasons), C(deployment_type) (C(standard), C(hotfix) or
        C(rollback)), C(task_definition_arn), C(client_artifact_url), C(restore_point), C(phases) (phase name
        to seconds), C(outcome) (C(in_progress), C(succeeded), C(failed) or C(rolled_back)), C(message),
        C(started_at), C(finished_at) (ISO 8601; stored in UTC to the second) and C(rolled_back_to). Others
        are stored as given.
      - C(started_at) defaults to the time of the first record and orders the ledger.
    type: dict
    default: {}
  query:
    description:
      - For V(query), V(get) returns O(release_id)'s entry, V(last_successful) the newest release whose
        outcome is C(succeeded), V(list) the newest O(limit) releases, newest first.
    type: str
    choices: [get, last_successful, list]
    default: get
  before_release_id:
    description:
      - For O(query=last_successful), look only at releases started before this one - the release to roll
        back to from it.
    type: str
  limit:
    description:
      - For O(query=list), how many releases.
    type: int
    default: 10
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
      - V(present) predicts the stored entry without writing or creating the table; the queries only read.
  diff_mode:
    support: full
    details:
      - V(present) shows the entry before and after; the queries change nothing.
  idempotent:
    support: full
    details:
      - Recording the same entry again reports C(changed=false) and writes nothing.
notes:
  - A release's record and its by-id pointer are written in one transaction, conditional on the pointer
    being as read, so two runs recording the same release cannot interleave.
  - Needs C(dynamodb:DescribeTable), C(dynamodb:CreateTable), C(dynamodb:DescribeTimeToLive),
    C(dynamodb:UpdateTimeToLive), C(dynamodb:GetItem), C(dynamodb:PutItem), C(dynamodb:DeleteItem) and
    C(dynamodb:Query) on the table.
seealso:
  - module: macroai.deploy.deploy_lock
"""

EXAMPLES = r"""
- name: Record the start of a release
  macroai.deploy.release_ledger:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    release_id: "{{ release_id }}"
    entry:
      commit: "{{ release_commit }}"
      base_commit: "{{ release_base_commit }}"
      deployment_type: standard
      scope: "{{ release_scope.scope }}"
      outcome: in_progress

- name: Record its phases and outcome
  macroai.deploy.release_ledger:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    release_id: "{{ release_id }}"
    entry:
      task_definition_arn: "{{ release_task_definition_arn }}"
      client_artifact_url: s3://macroai-releases/client/{{ release_id }}.zip
      phases: {migrate: 14.2, backend: 95.0, client: 21.7}
      outcome: succeeded
      finished_at: "{{ now(utc=true).isoformat() }}"

- name: The commit of the last successful release, the base of the change detection
  macroai.deploy.release_ledger:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    state: query
    query: last_successful
  register: release_last

- name: The release before the current one, to roll back to
  macroai.deploy.release_ledger:
    table: "{{ deploy_project }}-{{ deploy_environment }}-releases"
    state: query
    query: last_successful
    before_release_id: "{{ release_last.release.release_id }}"
  register: release_previous
"""

RETURN = r"""
release:
  description:
    - The release's entry as stored (as it would be, in check mode), numbers as numbers; empty when there is
      none (an unknown O(release_id), no successful release). Not returned for O(query=list).
  returned: unless O(query=list)
  type: dict
  sample:
    release_id: "20261127-124453-abc1234"
    commit: abc1234def5678
    base_commit: 0123456789ab
    deployment_type: standard
    scope: {backend: true, client: false, infrastructure: false, migrations: false}
    task_definition_arn: arn:aws:ecs:eu-west-2:123456789012:task-definition/macroai-production-api:7
    phases: {migrate: 14.2, backend: 95}
    outcome: succeeded
    started_at: "2026-11-27T12:44:53Z"
    finished_at: "2026-11-27T12:47:10Z"
releases:
  description: For O(query=list), the newest O(limit) releases, newest first, each as RV(release).
  returned: when O(query=list)
  type: list
  elements: dict
  sample: [{release_id: "20261127-124453-abc1234", outcome: succeeded, started_at: "2026-11-27T12:44:53Z"}]
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
    Ledger,
    StoreError,
    Table,
    secret_values,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError


def converge(module, table):
    params = module.params
    table.ensure(create=params["state"] == "present")
    ledger = Ledger(table)
    if params["state"] == "present":
        changed, before, after = ledger.present(params["release_id"], params["entry"])
        result = dict(changed=changed, release=after)
        if module._diff:
            result["diff"] = {"before": before, "after": after}
        return result
    if params["query"] == "get":
        return dict(changed=False, release=ledger.get(params["release_id"]))
    if params["query"] == "last_successful":
        return dict(changed=False, release=ledger.last_successful(params["before_release_id"]))
    return dict(changed=False, releases=ledger.list(params["limit"]))


def main():
    argument_spec = dict(
        table=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "query"], default="present"),
        release_id=dict(type="str"),
        entry=dict(type="dict", default={}),
        query=dict(type="str", choices=["get", "last_successful", "list"], default="get"),
        before_release_id=dict(type="str"),
        limit=dict(type="int", default=10),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ("release_id",)), ("query", "get", ("release_id",))],
        supports_check_mode=True,
    )
    if module.params["state"] == "query" and module.params["query"] == "list" and module.params["limit"] < 1:
        module.fail_json(msg=f"limit={module.params['limit']} must be at least 1")
    (client,) = retrying_clients(module, "dynamodb")
    table = Table(client, module.params["table"], check_mode=module.check_mode)
    # A secret given by mistake is refused below; mask it in every output, the invocation's echo included.
    module.no_log_values.update(value for value in secret_values(module.params["entry"]) if len(value) > 3)
    try:
        result = converge(module, table)
    except StoreError as e:
        module.fail_json(msg=str(e), table=table.name, **e.details)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"Could not read or write the release ledger in DynamoDB table {table.name!r}: check the "
            "table name and that the credentials allow dynamodb:GetItem, PutItem, Query, TransactWriteItems, "
            "DescribeTable and CreateTable",
        )
    module.exit_json(table=table.name, **result)


if __name__ == "__main__":
    main()
