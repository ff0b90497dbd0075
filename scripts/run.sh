#!/usr/bin/env bash
# Start the Rasa server, the action server and the web app; print the URLs; stop all on Ctrl-C.
# Called by `make run` after set-up. Ports: RASA_PORT (5005), ACTIONS_PORT (5055), WEB_PORT (5000).
set -euo pipefail
cd "$(dirname "$0")/.."
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
WEB_PORT=${WEB_PORT:-5000}
mkdir -p var/log
export RASA_URL=${RASA_URL:-http://127.0.0.1:$RASA_PORT}
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:$ACTIONS_PORT}
export TF_CPP_MIN_LOG_LEVEL=3 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [ "${COLLECTOR_TYPE:-first_party}" = "third_party" ]; then
  echo "WARNING: COLLECTOR_TYPE=third_party. Twilio's messaging policy forbids third-party debt"
  echo "         collection over SMS on US numbers: use a carrier that permits it."
fi

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped."
}
trap 'stop; exit 0' INT TERM  # asked to stop (Ctrl-C, SIGTERM): a clean stop
trap stop EXIT                # one of the processes died: stop the others too

echo "starting the action server on :$ACTIONS_PORT (log: var/log/actions.log)"
SANIC_HOST=127.0.0.1 .venv/bin/python -m rasa_sdk --actions actions --port "$ACTIONS_PORT" \
  >var/log/actions.log 2>&1 &
pids+=($!)

echo "starting the Rasa server on :$RASA_PORT (about 40 s; log: var/log/rasa.log)"
scripts/endpoints.sh >var/endpoints.yml
.venv-rasa/bin/rasa run --enable-api --port "$RASA_PORT" --interface 127.0.0.1 \
  --model models/assistant.tar.gz --endpoints var/endpoints.yml --credentials credentials.yml \
  >var/log/rasa.log 2>&1 &
pids+=($!)

echo "starting the web app on :$WEB_PORT (log: var/log/web.log)"
.venv/bin/flask --app webhook_app run --host 127.0.0.1 --port "$WEB_PORT" >var/log/web.log 2>&1 &
pids+=($!)

echo "starting the outbox worker (log: var/log/outbox.log)"
.venv/bin/flask --app webhook_app outbox run >var/log/outbox.log 2>&1 &
pids+=($!)

echo "starting the outreach scheduler, a pass a minute (log: var/log/outreach.log)"
.venv/bin/flask --app webhook_app outreach run --loop --interval 60 >var/log/outreach.log 2>&1 &
pids+=($!)

printf "waiting for everything to answer"
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:$WEB_PORT/readyz" >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo; echo "a process exited early; see var/log/*.log"; exit 1
    fi
  done
  printf "."; sleep 1
done
echo
cat <<MSG

  Ready.
    web chat            http://127.0.0.1:$WEB_PORT/chat
    SMS simulator       http://127.0.0.1:$WEB_PORT/dev/sms
    agent console       http://127.0.0.1:$WEB_PORT/agent       (agent@demo.test / demo-password)
    compliance review   http://127.0.0.1:$WEB_PORT/compliance  (compliance@demo.test / demo-password)
    dashboard           http://127.0.0.1:$WEB_PORT/compliance/dashboard
    health              http://127.0.0.1:$WEB_PORT/readyz
    Rasa                $RASA_URL     action server $ACTION_SERVER_URL
  Demo accounts to verify as: see README.md. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
echo "a process stopped; see var/log/*.log"
exit 1
