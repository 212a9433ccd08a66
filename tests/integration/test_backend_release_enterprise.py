"""The backend release at enterprise scale (3 AZs, LINEAR traffic steps): v1, then v2 under load with zero
failed requests, then a re-run that changes nothing. The rollback paths, which do not depend on the scale,
are proven at hobby scale in test_backend_release.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backend import (
    Release,
    check_rerun_of_the_release_changes_nothing,
    check_v1_released_with_the_infrastructure,
    check_v2_under_load_drops_nothing_and_old_tasks_go,
    released,
)

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def release(sandbox: SandboxClient) -> Iterator[Release]:
    yield from released(sandbox, "enterprise")


def test_v1_is_released_with_the_infrastructure(release: Release) -> None:
    check_v1_released_with_the_infrastructure(release)


def test_v2_under_load_drops_nothing_and_old_tasks_go(release: Release) -> None:
    check_v2_under_load_drops_nothing_and_old_tasks_go(release)


def test_rerun_of_the_release_changes_nothing(release: Release) -> None:
    check_rerun_of_the_release_changes_nothing(release)
