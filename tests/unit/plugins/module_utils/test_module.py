"""run_module and DifferenceTracker: the module shell's pieces, against a fake module (no Ansible run)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._errors import ModuleError
from ansible_collections.macroai.deploy.plugins.module_utils._module import (
    ABSENT,
    DifferenceTracker,
    run_module,
)
from botocore.exceptions import ClientError


class Exited(Exception):
    pass


class FakeModule:
    def __init__(self, diff: bool = False) -> None:
        self._diff = diff
        self.exited: dict[str, Any] | None = None
        self.failed: dict[str, Any] | None = None

    def exit_json(self, **kwargs: Any) -> None:
        self.exited = kwargs
        raise Exited

    def fail_json(self, **kwargs: Any) -> None:
        self.failed = kwargs
        raise Exited

    def fail_json_aws(self, exception: BaseException, msg: str) -> None:
        self.failed = {"exception": exception, "msg": msg}
        raise Exited


def run(module: FakeModule, act: Any, *args: Any) -> FakeModule:
    with pytest.raises(Exited):
        run_module(module, act, *args)
    return module


@pytest.mark.parametrize(("diff", "shown"), [(True, True), (False, False)])
def test_the_output_is_exited_with_its_diff_only_in_diff_mode(diff: bool, shown: bool) -> None:
    module = run(FakeModule(diff), lambda: {"changed": True, "diff": {"before": {}, "after": {"a": 1}}})
    assert module.exited is not None and ("diff" in module.exited) is shown and module.exited["changed"]


def test_a_refusal_fails_with_its_message_and_details() -> None:
    def act() -> dict[str, Any]:
        raise ModuleError("set x to y", task_arn="arn:t", changed=True)

    module = run(FakeModule(), act)
    assert module.failed == {"msg": "set x to y", "task_arn": "arn:t", "changed": True}


def test_a_refusal_without_details_reports_unchanged_and_other_types_are_caught_when_named() -> None:
    def act() -> dict[str, Any]:
        raise ValueError("name: two apps")

    assert run(FakeModule(), act, (ValueError,)).failed == {"msg": "name: two apps", "changed": False}


def test_an_aws_error_goes_to_fail_json_aws_with_what_to_check() -> None:
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeServices")

    def act() -> dict[str, Any]:
        raise error

    module = run(FakeModule(), act, (ModuleError,), "ECS refused: check the credentials")
    assert module.failed == {"exception": error, "msg": "ECS refused: check the credentials"}


def test_the_difference_tracker_shows_every_value_compared_and_says_what_changed() -> None:
    tracker = DifferenceTracker()
    tracker.add("desired_count", 2, 2)
    assert not tracker.changed
    tags = {"a": "1"}
    tracker.add("tags", tags, {"a": "2"})
    tags["a"] = "changed later"  # the tracker keeps the values as they were when added
    tracker.add("task_definition", ABSENT, {"image": "app:1"})
    assert (
        tracker.changed
        and tracker.has_difference_for("tags")
        and not tracker.has_difference_for("desired_count")
    )
    assert tracker.diff() == {
        "before": {"desired_count": 2, "tags": {"a": "1"}},
        "after": {"desired_count": 2, "tags": {"a": "2"}, "task_definition": {"image": "app:1"}},
    }
