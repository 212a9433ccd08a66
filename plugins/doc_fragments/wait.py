# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The wait options of the modules that start something and follow it to its end (a deployment, a job,
    a task, an operation) through plugins/module_utils/_waiter.py.

    Each module gives the options' defaults (and C(poll_interval)'s type where it is not a float) and
    says in its description what it waits for. ``OPTIONAL`` adds the C(wait) switch for the modules that
    can return as soon as the work has started.
    """

    DOCUMENTATION = r"""
options:
  wait_timeout:
    description:
      - Seconds to wait for what the module started (its description says what that is) before the task
        fails. The notes say what happens to the work still in progress then.
    type: int
  poll_interval:
    description:
      - Seconds between two reads of the status of what the module waits for.
    type: float
"""

    OPTIONAL = r"""
options:
  wait:
    description:
      - Whether to wait until what the module started ends. With V(false) the module returns as soon as it
        has started, with the status it had then.
    type: bool
    default: true
"""
