#!/usr/bin/env bash
# `make run`: prepare what is missing, start every process, stop them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}

scripts/envs.sh
scripts/secrets.sh
set -a; . var/secrets.env; set +a
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export SUPPORTBOT_RASA_URL="http://localhost:$RASA_PORT"

echo "[run] profile store: migrating and loading demo data if empty"
.venvs/app/bin/python -m supportbot demo load

echo "[run] training the model if data or config changed"
.venvs/rasa/bin/rasa train --quiet --out models

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "[run] stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "[run] stopped"
}
trap stop_all INT TERM EXIT

.venvs/app/bin/python -m rasa_sdk --actions actions --port "$ACTIONS_PORT" &
pids+=($!)
.venvs/rasa/bin/rasa run --enable-api --auth-token "$RASA_API_TOKEN" --port "$RASA_PORT" \
  --cors "*" --model models --endpoints endpoints.yml --credentials credentials.yml &
pids+=($!)

for _ in $(seq 1 120); do
  if curl -fs "http://localhost:$RASA_PORT/status?token=$RASA_API_TOKEN" >/dev/null 2>&1; then break; fi
  sleep 1
done

cat <<MSG

==================================================================
 Lumen support assistant is running
   Rasa server     http://localhost:$RASA_PORT   (API token in var/secrets.env)
   Action server   http://localhost:$ACTIONS_PORT
 Talk to it over REST, as a verified demo customer (Maya Patel, C000001):
   TOKEN=\$(make -s token CUSTOMER=C000001)
   curl -s localhost:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
     -d "{\"sender\":\"me\",\"message\":\"when does my subscription renew?\",\"metadata\":{\"customer_token\":\"\$TOKEN\"}}"
 Without a token you get general help only. Press Ctrl-C to stop everything.
==================================================================
MSG
wait -n "${pids[@]}" || true
echo "[run] a process exited; stopping the others"
