# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape of a module that only computes or reads on the controller (compute_plan, cost_estimate,
release_check, deploy_scope): its logic is ``run(params, warn) -> result`` raising ModuleFailure, called by
the module's main() through ``exit_with`` and, in-process, by the action plugin of the same name
(plugins/plugin_utils/_controller_module.py), so a task costs milliseconds instead of a Python start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ModuleFailure(Exception):
    """What ``fail_json`` reports: a message that says what to do, and the result's other fields."""

    def __init__(self, msg: str, **fields: Any) -> None:
        super().__init__(msg)
        self.fields = fields


def exit_with(module: Any, run: Callable[[dict[str, Any], Callable[[str], None]], dict[str, Any]]) -> None:
    """main()'s whole body: ``run`` on the module's params, then exit_json or fail_json."""
    try:
        result = run(module.params, module.warn)
    except ModuleFailure as failure:
        module.fail_json(msg=str(failure), **failure.fields)
    module.exit_json(**{"changed": False, **result})
