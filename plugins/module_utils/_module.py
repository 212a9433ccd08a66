# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every module's shell shares: one way to run the logic and report, and one difference tracker."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.macroai.deploy.plugins.module_utils._errors import ModuleError

AWS_ERRORS: tuple[type[BaseException], ...] = ()
with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError

    AWS_ERRORS = (BotoCoreError, ClientError)


def run_module(
    module: Any,
    act: Callable[[], Mapping[str, Any]],
    error_types: tuple[type[BaseException], ...] = (ModuleError,),
    aws_failure: str = "AWS refused a call: check the names given, the region and the credentials",
) -> None:
    """Exit with what ``act()`` returns (its ``diff`` only in diff mode), or fail with the error it raised.

    ``error_types`` are the logic's refusals: reported with their message (and ``details``, when they carry
    them) and nothing else. AWS's errors are reported by ``fail_json_aws`` with ``aws_failure`` first.
    """
    try:
        output = dict(act())
    except error_types as e:
        module.fail_json(msg=getattr(e, "message", str(e)), **{"changed": False, **getattr(e, "details", {})})
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=aws_failure)
    if not module._diff:
        output.pop("diff", None)
    module.exit_json(**output)


class AsDict:
    """For a dataclass reported as it is: ``as_dict()`` is its fields, deep-copied."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


class _Absent:
    """A value that is not there: in ``before``, what a run creates. One of it, copies included."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Absent:
        return self

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


class DifferenceTracker:
    """Before and after of each value a run compares, for ``--diff`` (community.docker's model).

    ``add`` every value compared, changed or not: ``diff()`` shows them all; ``changed`` says whether any
    differs. A value added with ``before=ABSENT`` is left out of ``before`` (it is created by this run).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, Any]] = {}

    def add(self, name: str, before: Any, after: Any) -> None:
        self._entries[name] = (copy.deepcopy(before), copy.deepcopy(after))

    def has_difference_for(self, name: str) -> bool:
        before, after = self._entries.get(name, (ABSENT, ABSENT))
        return before != after

    @property
    def changed(self) -> bool:
        return any(self.has_difference_for(name) for name in self._entries)

    @property
    def before(self) -> dict[str, Any]:
        return {name: pair[0] for name, pair in self._entries.items() if pair[0] is not ABSENT}

    @property
    def after(self) -> dict[str, Any]:
        return {name: pair[1] for name, pair in self._entries.items() if pair[1] is not ABSENT}

    def diff(self) -> dict[str, dict[str, Any]]:
        return {"before": self.before, "after": self.after}
