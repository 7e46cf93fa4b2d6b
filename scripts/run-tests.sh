#!/usr/bin/env bash
# Runs pytest; exit 5 ("no tests collected") is a failure, never a silent pass.
set -uo pipefail
python=${1:-python3}
# The lab's own movie, where a copy sits beside the checkout, is an extra input for the
# tests of the lab's file format; they run on a generated lab-like movie in any case.
extra="$(dirname "$0")/../../shared/lab/movie.Mjpeg"
if [ -z "${RTSP_WORKBENCH_LAB_MOVIE:-}" ] && [ -f "$extra" ]; then
  export RTSP_WORKBENCH_LAB_MOVIE
  RTSP_WORKBENCH_LAB_MOVIE=$(realpath "$extra")
fi
"$python" -m pytest "${@:2}"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
