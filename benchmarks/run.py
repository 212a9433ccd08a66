"""Run every benchmark in this folder, one after another, each printing its own figures and ratios.

    .venv/bin/python benchmarks/run.py            # all of them
    .venv/bin/python benchmarks/run.py sandbox_updown frontend_rollback

Each benchmark starts and stops its own sandbox on a free port, so none disturbs a sandbox already up.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if names:
        scripts = [p for p in scripts if p.stem in names]
    failures = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"=== {script.stem}: exit {code} after {time.monotonic() - started:.1f} s ===", flush=True)
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
