"""The release's hot path against the path before the typed release plan, measured in the same run.

    .venv/bin/python benchmarks/release_path.py [--runs 3] [--peer REV]

``--peer`` is the commit to compare with (default: the parent of the commit that added
plugins/module_utils/_release_plan.py, the Jinja-planned release path), exported into a temporary folder and
run from there with its own ansible.cfg, against its own version of the sandbox (free port, temporary
state), one after the other; each releases a deployment of its own made from a temporary git repository
shaped like the seed's monorepo. For each: the first release, ``--runs`` no-change releases (target 5 s or
less), a backend-only release (target within 1.5x of its own backend phase: the ECS bake and traffic shift)
and ``--runs`` idempotent converges of the unchanged environment (no deploy_app_repo, every phase; target
20 s or less).
Prints the medians, the ratios and the tasks each run executed (ok + changed, skipped apart).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from flow import git, make_app_repo  # noqa: E402
from noop_release import own_sandbox  # noqa: E402
from support import BIN_DIR  # noqa: E402

NOOP_TARGET = 5.0
CONVERGE_TARGET = 20.0
BACKEND_RATIO_TARGET = 1.5
RECAP = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)")
BACKEND_PHASE = re.compile(r"phase\s+backend\s+([\d.]+) s")


@dataclass
class Run:
    seconds: float
    executed: int
    skipped: int
    backend_phase: float | None = None


@dataclass
class Checkout:
    """One version of the collection: where it is and how its runs went."""

    name: str
    root: Path
    environment: str
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def play(self, repo: Path | None, env: dict[str, str], label: str, *extra: str) -> Run:
        command = [
            str(BIN_DIR / "ansible-playbook"),
            "playbooks/deploy.yml",
            *("-i", "inventories/hobby", "-i", "inventories/sandbox"),
            *("-e", "approve=true", "-e", f"deploy_environment={self.environment}"),
            *("-e", f"edge_client_source={REPO_ROOT / 'examples' / 'app' / 'client'}"),
            *("-e", "compute_release_poll_seconds=1", "-e", "edge_release_poll_seconds=1"),
            *(("-e", f"deploy_app_repo={repo}") if repo else ()),
            *extra,
        ]
        run_env = dict(env, ANSIBLE_CONFIG=str(self.root / "ansible.cfg"))
        started = time.monotonic()
        answer = subprocess.run(command, cwd=self.root, env=run_env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        if answer.returncode != 0:
            raise SystemExit(f"{self.name} {label} failed:\n{answer.stdout[-4000:]}\n{answer.stderr[-2000:]}")
        ok, changed, _failed, skipped = (int(n) for n in RECAP.findall(answer.stdout)[-1])
        phase = BACKEND_PHASE.findall(answer.stdout)
        run = Run(seconds, ok + changed, skipped, float(phase[-1]) if phase else None)
        self.runs.setdefault(label, []).append(run)
        print(
            f"  {self.name:<8} {label:<22} {seconds:6.1f} s  {ok + changed:3d} tasks run, {skipped} skipped",
            flush=True,
        )
        return run

    def median(self, label: str) -> float:
        return statistics.median(run.seconds for run in self.runs[label])


def export(rev: str, into: Path) -> Path:
    """``rev`` of this repository as a work tree of its own, with the .collections link ansible needs."""
    archive = subprocess.run(["git", "archive", rev], cwd=REPO_ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    link = into / ".collections" / "ansible_collections" / "macroai" / "deploy"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../..")
    return into


def default_peer() -> str:
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "plugins/module_utils/_release_plan.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def measure(checkout: Checkout, scratch: Path, env: dict[str, str], runs: int) -> None:
    repo = make_app_repo(scratch / checkout.environment)
    checkout.play(repo, env, "first release")
    for _ in range(runs):
        checkout.play(repo, env, "no change")
    (repo / "apps" / "express-api" / "app.py").write_text(
        (repo / "apps" / "express-api" / "app.py").read_text() + "\n# backend change\n"
    )
    git(repo, "commit", "-qam", "backend change")
    checkout.play(repo, env, "backend only")
    for _ in range(runs):
        checkout.play(None, env, "converge (unchanged)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer", default="", help="the commit to compare with (default: before the plan)")
    parser.add_argument("--port", type=int, default=0, help="the sandbox's port (default: a free one)")
    args = parser.parse_args()
    peer_rev = subprocess.run(
        ["git", "rev-parse", "--verify", f"{args.peer or default_peer()}^{{commit}}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="release-path-") as scratch_dir:
        scratch = Path(scratch_dir)
        (scratch / "peer").mkdir()
        peer = Checkout(f"peer {peer_rev[:7]}", export(peer_rev, scratch / "peer"), "benchpeer")
        current = Checkout("current", REPO_ROOT, "benchnow")
        # Each version against its own sandbox: the stricter sandbox of today refuses what the peer sends
        # where AWS or Neon would (a protected branch on Neon's Free plan, for one).
        for checkout in (peer, current):
            with own_sandbox(f"release-path-{checkout.environment}", args.port, checkout.root) as (
                _sandbox,
                env,
            ):
                print(f"{checkout.name} ({checkout.root})", flush=True)
                measure(checkout, scratch, env, args.runs)
    print()
    failures = 0
    for label, target in (("no change", NOOP_TARGET), ("converge (unchanged)", CONVERGE_TARGET)):
        now, before = current.median(label), peer.median(label)
        met = now <= target
        failures += not met
        tasks_now, tasks_before = current.runs[label][-1].executed, peer.runs[label][-1].executed
        print(
            f"{label}: median {now:.1f} s against {before:.1f} s before ({before / now:.1f}x faster; target "
            f"{target:.0f} s: {'met' if met else 'MISSED'}); tasks run {tasks_now} against {tasks_before}"
        )
    for checkout in (peer, current):
        (backend,) = checkout.runs["backend only"]
        ratio = backend.seconds / backend.backend_phase if backend.backend_phase else float("inf")
        print(
            f"backend only ({checkout.name}): {backend.seconds:.1f} s, its backend phase "
            f"(bake and traffic shift) {backend.backend_phase or 0:.1f} s: {ratio:.2f}x "
            f"(target {BACKEND_RATIO_TARGET}x); "
            f"tasks run {backend.executed}"
        )
        if checkout is current and ratio > BACKEND_RATIO_TARGET:
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
