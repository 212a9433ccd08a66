"""``ansible-playbook rollback.yml``: wall time of a whole rollback (ledger, lock, backend and client back to
the previous release, the HTTP checks, the record and the notification), against the release it undoes.

    .venv/bin/python benchmarks/rollback.py [--runs 2]

Starts its own sandbox and a temporary git repository laid out like the seed's monorepo; releases it (the
first release), then per run: commits a backend and a client change, releases them (timed), and rolls back
with rollback.yml (timed), checking that production answers the earlier version again. Prints the figures and
stops the sandbox.
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

TARGET_SECONDS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="the sandbox's port (default: a free one)")
    args = parser.parse_args()
    releases, rollbacks = [], []
    with (
        tempfile.TemporaryDirectory(prefix="rollback-") as scratch,
        own_sandbox("rollback", args.port) as (sandbox, env),
    ):
        repo = make_app_repo(Path(scratch))
        print(f"first release: {timed('playbooks/deploy.yml', repo, env):.1f}s", flush=True)
        for number in range(1, args.runs + 1):
            before = production_version(sandbox)
            for path in ("apps/express-api/app.py", "apps/client-ui/app.js"):
                target = repo / path
                comment = "#" if path.endswith(".py") else "//"
                target.write_text(target.read_text() + f"\n{comment} change {number}\n")
            git(repo, "commit", "-qam", f"backend and client change {number}")
            releases.append(timed("playbooks/deploy.yml", repo, env))
            rollbacks.append(timed("rollback.yml", repo, env))
            if production_version(sandbox) != before:
                raise SystemExit(
                    f"after rollback.yml production answers {production_version(sandbox)}, not {before}"
                )
            print(f"run {number}: release {releases[-1]:.1f}s, rollback.yml {rollbacks[-1]:.1f}s", flush=True)
    median = statistics.median(rollbacks)
    verdict = "met" if median < TARGET_SECONDS else "MISSED"
    print(
        f"rollback.yml median {median:.1f}s over {args.runs} run(s) "
        f"(target < {TARGET_SECONDS:.0f}s: {verdict}); "
        f"the backend and client release it undid took {statistics.median(releases):.1f}s "
        f"({statistics.median(releases) / median:.1f}x)"
    )
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
