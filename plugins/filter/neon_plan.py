# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a Neon plan allows, for the data role: the plan's limits, and the data settings checked against them.

Two filters over ``plugins/module_utils/_neon.py`` (the plans and the checks are there, unit-tested):

- ``neon_plan``: a plan's limits (branches, protected branches, restore window, compute sizes);
- ``neon_plan_problems``: the data role's Neon settings against the plan, each problem naming its variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.macroai.deploy.plugins.module_utils._neon import (
    NeonError,
    data_settings_problems,
)
from ansible_collections.macroai.deploy.plugins.module_utils._neon import (
    neon_plan as plan_named,
)


def neon_plan(name: str) -> dict[str, Any]:
    try:
        return plan_named(name).summary()
    except NeonError as err:
        raise AnsibleFilterError(f"data_neon_plan: {err.message}") from None


def neon_plan_problems(settings: Mapping[str, Any]) -> list[str]:
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("neon_plan_problems takes a dict of the data_neon_* settings")
    return data_settings_problems(
        settings.get("plan", ""),
        settings.get("history_retention_hours"),
        settings.get("autoscaling_min_cu"),
        settings.get("autoscaling_max_cu"),
        settings.get("keep_restore_points"),
        settings.get("project_subscription") or None,
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"neon_plan": neon_plan, "neon_plan_problems": neon_plan_problems}
