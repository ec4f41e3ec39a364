#!/usr/bin/env bash
# `make test`: the whole suite (see README), after preparing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)" HF_HUB_OFFLINE=1
# The environments (pip), Chromium (apt), PostgreSQL and Redis (apt, then started on loopback
# under var/services: the store tests run on SQLite and on PostgreSQL, the scaled-stack tests on
# both servers) and the widget's bundle (npm) are independent and mostly wait on downloads and
# unpacking: prepare them side by side, fail if any failed. The two apt users take turns (one
# dpkg lock).
pids=()
scripts/envs.sh & pids+=($!)
{ scripts/system.sh && scripts/services.sh start; } & pids+=($!)
scripts/widget.sh & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" = 0 ] || { echo "error: preparing the test environment failed (see above)" >&2; exit 1; }
.venvs/app/bin/python -m ruff check .
# --durations: the slowest steps are printed in CI logs, where the time budget is judged.
.venvs/app/bin/python -m pytest --durations=30 "$@"
