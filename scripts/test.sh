#!/usr/bin/env bash
# The test command: sets up what the tests need (scripts/setup.sh), then runs the whole suite.
# Prints a final line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p .tripod
report=.tripod/vitest-report.json
rm -f "$report"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
code=$?
if [ -f "$report" ]; then
  node -e '
    const r = require(process.argv[1]);
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0)} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$PWD/$report"
else
  echo "0 passed, 1 failed"
fi
exit $code
