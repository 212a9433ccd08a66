# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """What every module of the collection declares about check mode, diff mode and idempotency.

    ``macroai.deploy.attributes`` gives the attributes' descriptions; each module then says how far it
    supports each one (C(support) and, where it helps, C(details)). ``READ_ONLY`` is the whole declaration
    of a module that only reads or computes; ``ACTIONGROUP_AWS`` that of a module in the collection's
    C(aws) action group (meta/runtime.yml).
    """

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - Can run in C(check_mode) and return a prediction of C(changed) without modifying the target.
  diff_mode:
    description:
      - Returns details on what has changed (or would change in C(check_mode)) when run with C(--diff).
  idempotent:
    description:
      - Run twice in a row outside check mode with the same arguments, the second run reports no change.
      - This assumes that what the module manages has not changed in a relevant way between the runs.
"""

    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - The module reads or computes only, so it runs the same in check mode.
  diff_mode:
    support: N/A
    details:
      - The module changes nothing, so there is no before and after.
  idempotent:
    support: full
    details:
      - The module does not modify state.
"""

    ACTIONGROUP_AWS = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/macroai.deploy.aws) in C(module_defaults) to set defaults for this module (the group
        extends C(amazon.aws.aws) and C(community.aws.aws)).
    support: full
    membership:
      - macroai.deploy.aws
"""
