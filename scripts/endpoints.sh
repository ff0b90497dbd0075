#!/usr/bin/env bash
# Rasa's endpoints for this run, from the environment (the checked-in endpoints.yml holds the
# defaults for `rasa shell` and documentation).
#   ACTION_SERVER_URL  (http://127.0.0.1:5055)
#   TRACKER_STORE_URL  SQLAlchemy URL of the tracker store; default SQLite under var/
#   LOCK_STORE_URL     redis://host:port/db when several Rasa instances run; default in memory
set -euo pipefail
action=${ACTION_SERVER_URL:-http://127.0.0.1:5055}
echo "action_endpoint:"
echo "  url: \"$action/webhook\""
tracker=${TRACKER_STORE_URL:-sqlite:///var/rasa-tracker.db}
case "$tracker" in
  sqlite:///*)
    echo "tracker_store:"
    echo "  type: SQL"
    echo "  dialect: sqlite"
    echo "  db: \"${tracker#sqlite:///}\"" ;;
  postgresql*://*)
    rest=${tracker#*://}; creds=${rest%%@*}; hostpart=${rest#*@}
    user=${creds%%:*}; pass=""; [ "$creds" != "$user" ] && pass=${creds#*:}
    hostport=${hostpart%%/*}; db=${hostpart#*/}; host=${hostport%%:*}; port=5432
    [ "$hostport" != "$host" ] && port=${hostport#*:}
    echo "tracker_store:"
    echo "  type: SQL"
    echo "  dialect: postgresql"
    echo "  url: \"$host\""
    echo "  port: $port"
    echo "  db: \"$db\""
    echo "  username: \"$user\""
    echo "  password: \"$pass\"" ;;
  *) echo "unsupported TRACKER_STORE_URL: $tracker" >&2; exit 1 ;;
esac
if [ -n "${LOCK_STORE_URL:-}" ]; then
  rest=${LOCK_STORE_URL#redis://}; hostport=${rest%%/*}; db=0
  [ "$rest" != "$hostport" ] && db=${rest#*/}
  echo "lock_store:"
  echo "  type: redis"
  echo "  url: \"${hostport%%:*}\""
  echo "  port: ${hostport#*:}"
  echo "  db: ${db:-0}"
fi
