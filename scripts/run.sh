#!/usr/bin/env bash
# The production shape on one machine: Redis (the Celery broker; config and data in $VAR/redis, loopback only), a
# Celery worker, Celery beat (its schedule file in $VAR), the Chat sandbox on $SANDBOX_PORT and the admin on
# 127.0.0.1:$PORT. Ctrl-C (or SIGTERM to this script) stops them all; so does any one of them ending.
#   PORT (8000), SANDBOX_PORT (8081), REDIS_PORT (6379 when free, else a free port), IMADMIN_VAR (var/: where Redis, beat and the sandbox keep their files).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8081}
VAR=$(mkdir -p "${IMADMIN_VAR:-var}" && cd "${IMADMIN_VAR:-var}" && pwd)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { $BIN/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ -z "${REDIS_PORT:-}" ]; then
  if port_free 6379; then REDIS_PORT=6379; else REDIS_PORT=$(free_port); fi
fi
REDIS_SERVER=$(command -v redis-server || true)
[ -n "$REDIS_SERVER" ] || { echo "redis-server is not installed: run scripts/system_deps.sh run as root." >&2; exit 1; }

pids=()
worker=
stop_all() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    # The worker stops at once (cold shutdown): a task it was running goes back to the queue (acks late) and the
    # group's lease expires, so nothing is lost.
    if [ "$pid" = "$worker" ]; then kill -QUIT "$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() {  # wait_port PORT PID WHAT
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "$3 did not start." >&2; exit 1; }
    sleep 0.1
  done
  echo "$3 did not start on port $1." >&2
  exit 1
}

# Redis: its own config, written each run, data kept in $VAR/redis between runs (queued tasks survive a restart).
mkdir -p "$VAR/redis"
cat > "$VAR/redis/redis.conf" <<EOF
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
daemonize no
dir $VAR/redis
logfile $VAR/redis/redis.log
save 60 1
appendonly yes
appendfsync everysec
EOF
"$REDIS_SERVER" "$VAR/redis/redis.conf" &
pids+=($!)
wait_port "$REDIS_PORT" "${pids[-1]}" "Redis"

export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CHAT_API_BASE_URL="http://127.0.0.1:$SANDBOX_PORT"
export CHAT_SANDBOX_STATE=${CHAT_SANDBOX_STATE:-$VAR/chat-sandbox.json}
export CELERY_BEAT_SCHEDULE_FILENAME=${CELERY_BEAT_SCHEDULE_FILENAME:-$VAR/celerybeat-schedule}

$BIN/python manage.py chat_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --state "$CHAT_SANDBOX_STATE" &
pids+=($!)
wait_port "$SANDBOX_PORT" "${pids[-1]}" "The Chat sandbox"

# The worker's pool and concurrency are the project's Celery settings (CELERY_WORKER_POOL, CELERY_WORKER_CONCURRENCY in
# imadmin/settings.py): threads, sized for this machine and Chat's 200 calls a second.
$BIN/celery -A imadmin worker --loglevel=INFO --without-gossip --without-mingle &
worker=$!
pids+=($worker)
$BIN/celery -A imadmin beat --loglevel=INFO --schedule "$CELERY_BEAT_SCHEDULE_FILENAME" &
pids+=($!)

$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)
wait_port "$PORT" "${pids[-1]}" "The admin"
echo "imadmin: open http://127.0.0.1:$PORT/admin/ (Chat sandbox on $CHAT_API_BASE_URL, Redis on" \
  "127.0.0.1:$REDIS_PORT, a Celery worker and beat). Ctrl-C stops them all."
# Until Ctrl-C, or until any of them ends (then the others are stopped too).
wait -n
