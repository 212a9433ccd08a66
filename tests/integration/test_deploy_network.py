"""The release's networking phase against the sandbox under API faults.

Convergence and idempotence per scale are proven by the molecule scenarios; this covers what they do not.
"""

from __future__ import annotations

import pytest
from support import deploy, recap

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration


def test_hobby_release_completes_with_a_fifth_of_ec2_calls_throttled(clean_sandbox: SandboxClient) -> None:
    clean_sandbox.add_fault(service="ec2", code="ThrottlingException", status=400, rate=0.2)
    try:
        run = deploy(clean_sandbox, "hobby")
    finally:
        clean_sandbox.clear_faults()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert recap(output)["failed"] == 0
    ec2_calls = clean_sandbox.requests(service="ec2")
    throttled = [call for call in ec2_calls if call["faulted"]]
    # The faults really fired, at roughly the rate asked for (bounds wide enough for chance).
    assert len(ec2_calls) >= 50
    assert 0.05 * len(ec2_calls) <= len(throttled) <= 0.4 * len(ec2_calls)
    vpcs = [call for call in ec2_calls if call["operation"] == "CreateVpc" and not call["faulted"]]
    assert len(vpcs) == 1, "a retried create must not make a second VPC"
