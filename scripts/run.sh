#!/usr/bin/env bash
# Serve the admin on 127.0.0.1:$PORT with the Chat sandbox beside it on $SANDBOX_PORT.
# Both stop together on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8081}
mkdir -p var

$BIN/python manage.py chat_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null; wait "$sandbox" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SANDBOX_PORT") 2>/dev/null && break
  kill -0 "$sandbox" 2>/dev/null || { echo "The Chat sandbox did not start." >&2; exit 1; }
  sleep 0.1
done

export CHAT_API_BASE_URL="http://127.0.0.1:$SANDBOX_PORT"
echo "imadmin: open http://127.0.0.1:$PORT/admin/ (Chat sandbox on $CHAT_API_BASE_URL). Ctrl-C stops both."
$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload
