#!/usr/bin/env bash
# Sets up everything on a fresh machine and runs the test suite (slow tests included unless FAST=1).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
marker=()
[ "${FAST:-0}" = "1" ] && marker=(-m "not slow")
set +e
.venv/bin/python -m pytest "${marker[@]}" "$@"
rc=$?
set -e
# pytest's exit code 5 means "no tests collected" (e.g. a -k filter matched nothing): not a failure.
[ "$rc" -eq 5 ] && rc=0
exit "$rc"
