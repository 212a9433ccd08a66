#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: cost_budget
short_description: An AWS Budgets monthly cost budget with actual and forecast alerts
version_added: 0.1.0
description:
  - Creates, updates or deletes one monthly C(COST) budget in AWS Budgets, with percentage alerts (by default
    actual spend above 80% and 100% of the limit and forecast spend above 100%) sent to email addresses and/or
    an SNS topic. Alert-only budgets are free.
  - Compares first and calls nothing when the budget, its alerts and their subscribers already match; a limit
    or filter change is an C(UpdateBudget), alerts and subscribers are added and removed one by one.
  - The module owns the budget's percentage alerts (C(GREATER_THAN), C(PERCENTAGE)) - ones not in O(alerts)
    are deleted. Absolute-value alerts added by hand are left alone.
  - The limit is in USD, the currency AWS bills in. Give it directly (O(limit_usd)) or in pounds
    (O(limit_gbp)), converted at O(usd_to_gbp) pounds per dollar when the module runs; the converted figure is
    returned in RV(budget.limit_usd).
author:
  - Macro AI maintainers (@macroai)
options:
  name:
    description:
      - Budget name, unique in the account, for example C(macroai-production-monthly).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the budget; V(absent) deletes it with its alerts.
    type: str
    choices: [present, absent]
    default: present
  limit_usd:
    description:
      - Monthly limit in USD. Mutually exclusive with O(limit_gbp); one of them is required when
        O(state=present).
    type: float
  limit_gbp:
    description:
      - Monthly limit in GBP (the scale's target, C(cost_budget_gbp)), converted to USD at O(usd_to_gbp).
    type: float
  usd_to_gbp:
    description:
      - Pounds per US dollar, used to convert O(limit_gbp).
    type: float
    default: 0.75
  project:
    description:
      - Count only costs tagged C(Project=<project>). The C(Project) cost allocation tag must be activated in
        the Billing console (Cost allocation tags) before AWS can filter by it; until then the budget sees
        nothing. Leave unset to budget the whole account.
    type: str
  alerts:
    description:
      - The alerts, each a type and a percentage of the limit.
    type: list
    elements: dict
    default:
      - {type: actual, percent: 80}
      - {type: actual, percent: 100}
      - {type: forecasted, percent: 100}
    suboptions:
      type:
        description:
          - V(actual) fires on spend so far this month; V(forecasted) on AWS's forecast for the month.
        type: str
        choices: [actual, forecasted]
        required: true
      percent:
        description:
          - Fires when spend is above this percentage of the limit.
        type: float
        required: true
  notify_emails:
    description:
      - Email addresses told of every alert (at most 10). AWS sends no confirmation email for budget alerts.
    type: list
    elements: str
    default: []
  sns_topic_arn:
    description:
      - An SNS topic told of every alert. Its access policy must allow C(budgets.amazonaws.com) to publish.
    type: str
  account_id:
    description:
      - The account that owns the budget; by default the caller's (C(sts:GetCallerIdentity)).
    type: str
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
      - Reads and reports what would change without writing.
  diff_mode:
    support: full
    details:
      - Shows the budget and its alerts before and after.
  idempotent:
    support: full
    details:
      - A second run with the same options reports C(changed=false) and makes no write call.
notes:
  - At least one of O(notify_emails) and O(sns_topic_arn) is needed unless O(alerts) is empty.
  - Needs C(budgets:ViewBudget) and C(budgets:ModifyBudget).
seealso:
  - name: AWS Budgets
    description: Managing your costs with AWS Budgets.
    link: https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html
"""

EXAMPLES = r"""
- name: A budget at the hobby scale's target, for the project's tagged costs
  macroai.deploy.cost_budget:
    name: macroai-production-monthly
    limit_gbp: 30
    usd_to_gbp: 0.75
    project: macroai
    notify_emails: [ops@example.com]

- name: A USD budget alerting an SNS topic at 50%, 80% and forecast 100%
  macroai.deploy.cost_budget:
    name: macroai-production-monthly
    limit_usd: 400
    sns_topic_arn: arn:aws:sns:eu-west-2:123456789012:cost-alerts
    alerts:
      - {type: actual, percent: 50}
      - {type: actual, percent: 80}
      - {type: forecasted, percent: 100}

- name: Delete it
  macroai.deploy.cost_budget:
    name: macroai-production-monthly
    state: absent
"""

RETURN = r"""
budget:
  description: The budget as it is after the run (as it would be, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    name:
      description: Budget name.
      type: str
      sample: macroai-production-monthly
    limit_usd:
      description: Monthly limit in USD, two decimals.
      type: str
      sample: "40.00"
    time_unit:
      description: Always C(MONTHLY).
      type: str
      sample: MONTHLY
    budget_type:
      description: Always C(COST).
      type: str
      sample: COST
    cost_filters:
      description: The cost filters; C(TagKeyValue) holds C(user:Project$<project>) when O(project) is set.
      type: dict
      sample: {TagKeyValue: ["user:Project$macroai"]}
    alerts:
      description: The alerts with their subscribers (C(email:ADDRESS) or C(sns:ARN)).
      type: list
      elements: dict
      sample: [{type: actual, percent: 80.0, subscribers: ["email:ops@example.com"]}]
actions:
  description: What was changed (or would be, in check mode), one sentence each; empty when nothing was.
  returned: always
  type: list
  elements: str
  sample: ["created budget macroai-production-monthly at 40.00 USD a month"]
account_id:
  description: The account that owns the budget.
  returned: always
  type: str
  sample: "123456789012"
"""

import contextlib  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._budgets import (  # noqa: E402
    BudgetError,
    Budgets,
    budget_summary,
    desired_budget,
    desired_summary,
    limit_in_usd,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError


def converge(module, budgets):
    params = module.params
    current = budgets.read(params["name"])
    before = budget_summary(*current)
    if params["state"] == "absent":
        changed = budgets.absent(params["name"], exists=current[0] is not None)
        return changed, [f"deleted budget {params['name']}"] if changed else [], before, {}
    try:
        desired = desired_budget(
            name=params["name"],
            limit_usd=limit_in_usd(params["limit_usd"], params["limit_gbp"], params["usd_to_gbp"]),
            project=params["project"],
            alerts=params["alerts"],
            emails=params["notify_emails"],
            sns_topic_arn=params["sns_topic_arn"],
        )
    except BudgetError as e:
        module.fail_json(msg="Invalid budget settings: " + "; ".join(e.errors), errors=e.errors)
    changed, actions = budgets.present(desired, current)
    return changed, actions, before, desired_summary(desired)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        limit_usd=dict(type="float"),
        limit_gbp=dict(type="float"),
        usd_to_gbp=dict(type="float", default=0.75),
        project=dict(type="str"),
        alerts=dict(
            type="list",
            elements="dict",
            default=[
                {"type": "actual", "percent": 80},
                {"type": "actual", "percent": 100},
                {"type": "forecasted", "percent": 100},
            ],
            options=dict(
                type=dict(type="str", choices=["actual", "forecasted"], required=True),
                percent=dict(type="float", required=True),
            ),
        ),
        notify_emails=dict(type="list", elements="str", default=[]),
        sns_topic_arn=dict(type="str"),
        account_id=dict(type="str"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("limit_usd", "limit_gbp")],
        required_if=[("state", "present", ("limit_usd", "limit_gbp"), True)],
        supports_check_mode=True,
    )
    client, sts = retrying_clients(module, "budgets", "sts")
    try:
        account_id = module.params["account_id"] or sts.get_caller_identity()["Account"]
        budgets = Budgets(client, account_id, check_mode=module.check_mode)
        changed, actions, before, after = converge(module, budgets)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"Could not read or change budget {module.params['name']!r}: check that the credentials "
            "allow budgets:ViewBudget and budgets:ModifyBudget (Budgets is managed from the payer account)",
        )
    result = dict(changed=changed, budget=after, actions=actions, account_id=account_id)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
