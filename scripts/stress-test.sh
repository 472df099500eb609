#!/usr/bin/env bash
# The whole test suite STRESS_RUNS times (default 5) back to back while stress-ng keeps
# every core busy, as on a shared CI machine. Any failed run fails the whole; each
# run's output is kept in $STRESS_LOG_DIR (default .stress-logs/) for the failures.
#   STRESS_RUNS=5 PY=.venv/bin/python scripts/stress-test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${STRESS_RUNS:-5}"
py="${PY:-.venv/bin/python}"
logs="${STRESS_LOG_DIR:-.stress-logs}"
mkdir -p "$logs"

# One CPU hog per core at the suite's own priority: every process of the suite gets
# about half the CPU it would have alone, as on a CI machine running two jobs.
# Stopped on any exit.
cores="$(nproc)"
stress-ng --cpu "$cores" --cpu-method matrixprod --quiet --timeout 0 &
stressor=$!
trap 'kill "$stressor" 2>/dev/null; wait "$stressor" 2>/dev/null' EXIT

passed=0
for run in $(seq 1 "$runs"); do
  echo "stress-test: run $run of $runs (stress-ng on $cores cores)"
  if QT_QPA_PLATFORM=offscreen "$py" -m pytest -q --durations=15 >"$logs/run-$run.log" 2>&1; then
    passed=$((passed + 1))
  else
    echo "stress-test: run $run FAILED; its failures:"
    grep -E '^(FAILED|ERROR) ' "$logs/run-$run.log" || tail -n 30 "$logs/run-$run.log"
  fi
  tail -n 1 "$logs/run-$run.log"
done
echo "$passed passed, $((runs - passed)) failed"
[ "$passed" -eq "$runs" ]
