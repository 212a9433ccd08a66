#!/usr/bin/env bash
# The two slow suites side by side: the integration tests (three pytest-xdist workers, a sandbox each) and the
# molecule scenarios (a sandbox of their own on another port). Both mostly wait on bake times, polling and
# the AWS modules' own sleeps, so running them together roughly halves the wall time on two cores.
# Molecule's output goes to a log that is printed when it ends; the exit status is non-zero if either failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
log=.build/molecule.log
mkdir -p .build
started=$SECONDS
"$bin/molecule" test --all >"$log" 2>&1 &
molecule_pid=$!
"$bin/python" -m pytest tests/integration -q -n 3 --dist loadfile --durations=15
integration=$?
echo "integration tests: exit $integration after $((SECONDS - started)) s; waiting for molecule"
wait "$molecule_pid"
molecule=$?
# The recap and any failure are what matter; the whole log stays in $log.
sed -n '/SCENARIO RECAP/,$p' "$log"
if [ "$molecule" -ne 0 ]; then
  echo "molecule failed (exit $molecule); the end of $log:"
  tail -n 150 "$log"
fi
echo "molecule: exit $molecule after $((SECONDS - started)) s"
[ "$integration" -eq 0 ] && [ "$molecule" -eq 0 ]
