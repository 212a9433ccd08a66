# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""macroai.deploy.compute_plan in-process (see plugins/plugin_utils/_controller_module.py)."""

from __future__ import annotations

from ansible_collections.macroai.deploy.plugins.modules import compute_plan
from ansible_collections.macroai.deploy.plugins.plugin_utils._controller_module import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    argument_spec = compute_plan.ARGUMENT_SPEC
    run_module = staticmethod(compute_plan.run)
