# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run a pure module on the controller, in ansible-playbook's own process.

Some of the collection's modules only compute (macroai.deploy.compute_plan, cost_estimate) or read from the
controller (release_check's HTTP checks, deploy_scope's git diff). Run as modules, each costs about a second
of Python start-up per task; an action plugin of the same name runs the same code in-process for a few
milliseconds. The module file keeps its documentation and argument spec and stays runnable on its own
(``ansible-doc``, a remote host); its logic is a ``run(params, warn)`` function both call
(plugins/module_utils/_pure.py). The options are validated with the module's own argument spec, so errors
read the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.macroai.deploy.plugins.module_utils._pure import ModuleFailure


class ControllerModuleAction(ActionBase):
    """An action plugin that validates its task's options against ``argument_spec`` and calls ``run``."""

    TRANSFERS_FILES = False
    _requires_connection = False
    argument_spec: Mapping[str, Any] = {}
    run_module: Callable[..., dict[str, Any]]

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(dict(self.argument_spec)).validate(dict(self._task.args))
        if checked.error_messages:
            return {**result, "failed": True, "msg": "; ".join(checked.error_messages)}
        warnings: list[str] = []
        try:
            answer = type(self).run_module(checked.validated_parameters, warnings.append)
        except ModuleFailure as failure:
            return {**result, **failure.fields, "failed": True, "msg": str(failure), "warnings": warnings}
        result.update(answer)
        result.setdefault("changed", False)
        if warnings:
            result["warnings"] = warnings
        return result
