#!/usr/bin/env bash
# `make run-scaled`: the scaled mode on this machine, all on loopback: PostgreSQL and Redis
# (Debian packages, installed and started by scripts/services.sh), two Rasa replicas and two
# action servers behind nginx, the scheduler (one planner under its lease) and two more delivery
# workers, the web process. Rasa reads endpoints.production.yml. Ctrl-C stops everything it started
# (PostgreSQL and Redis keep running; `scripts/services.sh stop` stops them). docs/DEPLOYMENT.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/envs.sh
scripts/widget.sh
scripts/services.sh start
scripts/secrets.sh
set -a; . var/secrets.env; set +a
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" RASA_TELEMETRY_ENABLED=false

echo "[run-scaled] training the model if data or config changed"
.venvs/rasa/bin/rasa train --quiet --out models

exec .venvs/app/bin/python -m supportbot.scaleout run "$@"
