# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""macroai.deploy.deploy_scope in-process (see plugins/plugin_utils/_controller_module.py): git runs here."""

from __future__ import annotations

import os
import shutil
import subprocess

from ansible_collections.macroai.deploy.plugins.module_utils._pure import ModuleFailure
from ansible_collections.macroai.deploy.plugins.modules import deploy_scope
from ansible_collections.macroai.deploy.plugins.plugin_utils._controller_module import ControllerModuleAction

GIT_ENVIRONMENT = {"LC_ALL": "C", "GIT_PAGER": "cat"}


def run_git(args: list[str], cwd: str) -> tuple[int, str, str]:
    git = shutil.which("git")
    if git is None:
        raise ModuleFailure("git is not installed on the controller: change detection needs it")
    answer = subprocess.run(
        [git, *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENVIRONMENT},
        check=False,
    )
    return answer.returncode, answer.stdout, answer.stderr


class ActionModule(ControllerModuleAction):
    argument_spec = deploy_scope.ARGUMENT_SPEC

    @staticmethod
    def run_module(params, warn):
        return deploy_scope.run(params, warn, run_git)
