"""playbooks/cost.yml end to end: what it prints matches what the module returned. No sandbox needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cost_playbook(*extra_args: str) -> dict:
    """Run the playbook against the hobby inventory with the JSON callback and return its parsed output."""
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
    }
    proc = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "playbooks/cost.yml", "-i", "inventories/hobby", *extra_args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def task_result(output: dict, name: str) -> dict:
    tasks = [task for play in output["plays"] for task in play["tasks"] if task["task"]["name"] == name]
    assert len(tasks) == 1, [task["task"]["name"] for play in output["plays"] for task in play["tasks"]]
    return tasks[0]["hosts"]["controller"]


def printed_row(message: str, label: str) -> list[str]:
    rows = [line.split() for line in message.splitlines() if line.startswith(label)]
    assert len(rows) == 1, message
    return rows[0][len(label.split()) :]


@pytest.fixture(scope="module")
def hobby_run() -> dict:
    return run_cost_playbook()


def test_printed_total_is_the_modules_total(hobby_run: dict):
    estimates = task_result(hobby_run, "Estimate the monthly cost of each scale")["results"]
    assert [e["item"] for e in estimates] == ["hobby"]
    estimate = estimates[0]
    assert estimate["changed"] is False
    message = task_result(hobby_run, "Print the estimate")["msg"]
    assert "Monthly cost of hobby in eu-west-2" in message
    assert printed_row(message, "total USD") == [f"{estimate['total_usd']:,.2f}"]
    assert printed_row(message, "total GBP") == [f"{estimate['total_gbp']:,.2f}"]
    assert estimate["total_gbp"] == pytest.approx(estimate["total_usd"] * estimate["usd_to_gbp"], abs=0.01)


def test_compare_prints_the_three_scales_side_by_side():
    output = run_cost_playbook("-e", "compare=true")
    estimates = task_result(output, "Estimate the monthly cost of each scale")["results"]
    assert [e["item"] for e in estimates] == ["hobby", "enhanced-hobby", "enterprise"]
    message = task_result(output, "Print the estimate")["msg"]
    assert printed_row(message, "USD a month") == ["hobby", "enhanced-hobby", "enterprise"]
    assert printed_row(message, "total USD") == [f"{e['total_usd']:.2f}" for e in estimates]
    totals = [e["total_usd"] for e in estimates]
    assert totals == sorted(totals), "each scale should cost more than the one below it"
