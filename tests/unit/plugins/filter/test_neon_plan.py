"""The neon_plan filters: the data role reads a plan's limits and its settings' problems through them."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.macroai.deploy.plugins.filter.neon_plan import FilterModule

FILTERS = FilterModule().filters()


def test_neon_plan_gives_the_limits_the_data_role_reads() -> None:
    assert FILTERS["neon_plan"]("free")["offers_protected_branches"] is False
    assert FILTERS["neon_plan"]("scale")["offers_protected_branches"] is True
    with pytest.raises(AnsibleFilterError, match="data_neon_plan"):
        FILTERS["neon_plan"]("enterprise")


def test_neon_plan_problems_reads_the_settings_as_the_role_passes_them() -> None:
    settings = {
        "plan": "free",
        "history_retention_hours": "6",  # templated values arrive as strings
        "autoscaling_min_cu": "0.25",
        "autoscaling_max_cu": "0.25",
        "keep_restore_points": "3",
    }
    assert FILTERS["neon_plan_problems"](settings) == []
    over = FILTERS["neon_plan_problems"]({**settings, "project_subscription": "scale_v3"})
    assert len(over) == 1 and "data_neon_plan=free, but Neon reports the project on the scale plan" in over[0]
    with pytest.raises(AnsibleFilterError):
        FILTERS["neon_plan_problems"]("free")
