"""A backend-only release: wall time of ``playbooks/deploy.yml`` for a commit that changes the API alone,
which reuses the infrastructure the last release recorded, against the same kind of release that converges
every infrastructure phase (as every backend release did before: here, a backend commit with one setting
changed, the log retention, which puts the infrastructure in scope), measured in the same run. The seed puts
a backend-only change at about 8 minutes.

    .venv/bin/python benchmarks/backend_only_release.py [--runs 2]

Starts its own sandbox and a temporary git repository laid out like the seed's monorepo; releases it once
(the first release), then per run: commits a backend change and releases it (reuse), commits another and
releases it with the log retention changed (converge; the releases after it keep that retention). Checks
that production answers each new version, prints the figures and the ratios, and stops the sandbox.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

# Run as a script: the repo root (the sandbox package) and the integration helpers are not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from flow import git, make_app_repo  # noqa: E402
from noop_release import own_sandbox, production_version, timed  # noqa: E402

SEED_SECONDS = 8 * 60.0  # the seed's "Backend-only changes: ~8 minutes"


def backend_commit(repo: Path, label: str) -> str:
    api = repo / "apps" / "express-api" / "app.py"
    api.write_text(api.read_text() + f"# {label}\n")
    git(repo, "commit", "-qam", f"api: {label}")
    return git(repo, "rev-parse", "--short=7", "HEAD")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="the sandbox's port (default: a free one)")
    args = parser.parse_args()
    reused, converged = [], []
    with (
        tempfile.TemporaryDirectory(prefix="backend-only-") as scratch,
        own_sandbox("backend-only", args.port) as (sandbox, env),
    ):
        repo = make_app_repo(Path(scratch))
        first = timed("playbooks/deploy.yml", repo, env)
        print(f"first release (everything): {first:.1f}s", flush=True)
        retention = 14  # the hobby inventory's
        for run in range(args.runs):
            for label, figures in (("reuse", reused), ("converge", converged)):
                if label == "converge":
                    retention = 30 if retention == 14 else 14
                tag = backend_commit(repo, f"{label} {run}")
                setting = f"compute_log_retention_days={retention}"
                seconds = timed("playbooks/deploy.yml", repo, env, "-e", setting)
                version = production_version(sandbox)
                if version != tag:
                    raise SystemExit(f"after the {label} release production answers {version}, not {tag}")
                figures.append(seconds)
                print(f"run {run + 1}: backend-only release ({label}) {seconds:.1f}s", flush=True)
    reuse, converge = statistics.median(reused), statistics.median(converged)
    print(
        f"backend-only release, median of {args.runs}: {reuse:.1f}s reusing the infrastructure, "
        f"{converge:.1f}s converging it (a setting changed), {converge / reuse:.1f}x longer; "
        f"the seed's ~{SEED_SECONDS:.0f}s is {SEED_SECONDS / reuse:.1f}x longer"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
