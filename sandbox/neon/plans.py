"""Neon's plans as the emulator enforces them: what a project may have, and how Neon refuses more.

Figures from Neon's plans page (neon.com/docs/introduction/plans, "Plan overview", "Branches", "Extra
branches", "Autoscaling", "Restore window"; updated 2026-03-20 and 2026-11-12), the protected-branches guide
(neon.com/docs/guides/protected-branches: "The Launch plan supports up to 2 protected branches, the Scale plan
up to 5"; the feature is on paid plans only) and the restore-window page (neon.com/docs/introduction/
restore-window: defaults 6 h on Free, 1 day on paid plans). The names are Neon's current plans: Free, Launch,
Scale (the legacy Business plan and the Agent plan are not modelled).

A project's plan comes from its account on Neon; in the emulator every new project takes the account plan,
``SANDBOX_NEON_PLAN`` (default ``free``, Neon's plan for a new account and the hobby scale's), and the
sandbox's admin route ``PUT /neon/_sandbox/projects/<id>/plan`` changes one project's plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PLAN_ENV = "SANDBOX_NEON_PLAN"
DEFAULT_PLAN = "free"
# Neon's answer when a project has as many branches as its plan allows, creating a branch or restoring with
# preserve_under_name: 422 {"code": "BRANCHES_LIMIT_EXCEEDED", "message": "branches limit exceeded"}, as
# Neon's own cloud tests expect it (neondatabase/neon test_runner/random_ops/test_random_ops.py) and as
# clients of the live API report it.
BRANCHES_LIMIT_STATUS = 422
BRANCHES_LIMIT_CODE = "BRANCHES_LIMIT_EXCEEDED"
BRANCHES_LIMIT_MESSAGE = "branches limit exceeded"
# A plan limit other than the branch count (protected branches): the same status, Neon's default empty code;
# Neon does not publish the message text, so the emulator's names the limit and the plan.
PLAN_LIMIT_STATUS = 422


@dataclass(frozen=True)
class Plan:
    name: str  # as the Neon console names it
    subscription_type: str  # project.owner.subscription_type (BillingSubscriptionType in Neon's OpenAPI)
    max_branches: int  # branches per project, the root branch included
    max_protected_branches: int
    max_history_retention_seconds: int  # the restore window's maximum
    default_history_retention_seconds: int
    max_autoscaling_cu: float  # autoscaling_limit_max_cu when min < max
    max_fixed_cu: float  # a fixed-size compute (min == max)

    @property
    def label(self) -> str:
        return self.name.capitalize()


PLANS = {
    # Free: 10 branches a project and no extra branches ("Extra branches are not available on the Free
    # plan"); no protected branches; a 6-hour restore window; computes up to 2 CU.
    "free": Plan("free", "free_v3", 10, 0, 6 * 3600, 6 * 3600, 2.0, 2.0),
    # Launch: 10 branches included, extra ones billed up to 5,000 a project; 2 protected branches; up to
    # 7 days of restore window (1 day by default); autoscaling up to 16 CU.
    "launch": Plan("launch", "launch_v3", 5000, 2, 7 * 86400, 86400, 16.0, 16.0),
    # Scale: 25 branches included, extra ones billed up to 5,000; 5 protected branches; up to 30 days of
    # restore window; autoscaling up to 16 CU, fixed sizes up to 56 CU.
    "scale": Plan("scale", "scale_v3", 5000, 5, 30 * 86400, 86400, 16.0, 56.0),
}


def plan_named(name: str) -> Plan:
    plan = PLANS.get(str(name).strip().lower())
    if plan is None:
        raise ValueError(f"{name!r} is not a Neon plan: use one of {', '.join(PLANS)}")
    return plan


def account_plan() -> Plan:
    """The plan new projects get: ``SANDBOX_NEON_PLAN``, else Free."""
    return plan_named(os.environ.get(PLAN_ENV) or DEFAULT_PLAN)


def compute_problem(plan: Plan, min_cu: float, max_cu: float) -> str | None:
    """Why an endpoint's autoscaling limits are beyond the plan (the "Autoscaling" plan feature), or None."""
    fixed = min_cu == max_cu
    ceiling = plan.max_fixed_cu if fixed else plan.max_autoscaling_cu
    if max_cu <= ceiling:
        return None
    kind = "a fixed compute size" if fixed else "autoscaling"
    return (
        f"autoscaling_limit_max_cu {max_cu:g} is over the {plan.label} plan's maximum for {kind} "
        f"({ceiling:g} CU)"
    )
