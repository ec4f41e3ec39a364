#!/usr/bin/env bash
# `make run`: prepare what is missing, start every process, stop them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
WEB_PORT=${WEB_PORT:-8000}

scripts/envs.sh
scripts/widget.sh
scripts/secrets.sh
set -a; . var/secrets.env; set +a
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export SUPPORTBOT_RASA_URL="http://localhost:$RASA_PORT" SUPPORTBOT_WEB_PORT="$WEB_PORT"
# The demo host page (token minting for the demo personas, loopback only) is for this local run.
export SUPPORTBOT_DEMO_MODE=true RASA_TELEMETRY_ENABLED=false

echo "[run] profile store: migrating and loading demo data (and its two years of history) if empty"
.venvs/app/bin/python -m supportbot demo load

echo "[run] help centre: re-indexing the articles if helpcentre/ changed (no Rasa training needed)"
HF_HUB_OFFLINE=1 .venvs/app/bin/python -m supportbot.helpcentre reindex --if-changed
# Segments, churn risk, lifetime value and next best actions for the demo, with a year of trend, so
# the console has figures at once (docs/INTELLIGENCE.md); only the first time, beside rasa train.
echo "[run] customer intelligence for the demo (first run only: a churn model from synthetic history, a year of backfill)"
.venvs/app/bin/python -m supportbot.intelligence demo-prepare > var/demo-prepare.log 2>&1 &
prepare_pid=$!

echo "[run] training the model if data or config changed"
.venvs/rasa/bin/rasa train --quiet --out models
if ! wait "$prepare_pid"; then
  echo "[run] customer intelligence for the demo failed (var/demo-prepare.log); the scheduler retries daily"
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "[run] stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "[run] stopped"
}
trap stop_all INT TERM EXIT

# endpoints.yml names the default action server port; follow ACTIONS_PORT when it is changed.
sed "s#localhost:5055/webhook#localhost:$ACTIONS_PORT/webhook#" endpoints.yml > var/endpoints.run.yml

SUPPORTBOT_WARM_UP_MODELS=1 .venvs/app/bin/python -m supportbot.action_server --port "$ACTIONS_PORT" &
pids+=($!)
# bot.server is the `rasa` command with the fix for its hot path (bot/server.py).
.venvs/rasa/bin/python -m bot.server run --enable-api --auth-token="$RASA_API_TOKEN" --port "$RASA_PORT" \
  --model models --endpoints var/endpoints.run.yml --credentials credentials.yml &
pids+=($!)

# Widget files, the demo host page and the support leads' console (one FastAPI app); up
# while Rasa loads, the widget reconnects by itself.
.venvs/app/bin/python -m supportbot.web --host 127.0.0.1 --port "$WEB_PORT" &
pids+=($!)

for _ in $(seq 1 300); do
  if curl -fs "http://localhost:$RASA_PORT/status?token=$RASA_API_TOKEN" >/dev/null 2>&1; then break; fi
  sleep 1
done

# The scheduler plans and delivers proactive messages (docs/OUTREACH.md). Started
# after Rasa is up only to keep the first log lines readable: it retries anyway.
.venvs/app/bin/python -m scheduler run &
pids+=($!)

cat <<MSG

==================================================================
 Lumen support assistant is running
   Demo website    http://localhost:$WEB_PORT/          chat widget; pick a demo customer or stay anonymous
   Console         http://localhost:$WEB_PORT/console/  support leads; first create an admin:
                     .venvs/app/bin/python -m supportbot.console create-admin --email you@example.com
   Rasa server     http://localhost:$RASA_PORT   (API token in var/secrets.env)
   Action server   http://localhost:$ACTIONS_PORT  (only Rasa may call it: ACTION_SERVER_TOKEN)
   Scheduler       proactive messages; see what it plans: make outreach-status
 Talk to it over REST, as a verified demo customer (Maya Patel, C000001):
   TOKEN=\$(make -s token CUSTOMER=C000001)
   curl -s localhost:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
     -d "{\"sender\":\"me\",\"message\":\"when does my subscription renew?\",\"metadata\":{\"customer_token\":\"\$TOKEN\"}}"
 Without a token you get general help only. Press Ctrl-C to stop everything.
==================================================================
MSG
wait -n "${pids[@]}" || true
echo "[run] a process exited; stopping the others"
