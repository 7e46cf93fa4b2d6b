#!/usr/bin/env bash
# Runs pytest; exit 5 ("no tests collected") is a failure, never a silent pass.
set -uo pipefail
python=${1:-python3}
"$python" -m pytest "${@:2}"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
