#!/usr/bin/env bash
# The production shape on one machine: Redis (the Celery broker; config and data in $VAR/redis, loopback only), a
# Celery worker, Celery beat (its schedule file in $VAR), the Chat sandbox on $SANDBOX_PORT and the admin served by
# gunicorn with WhiteNoise on 127.0.0.1:$PORT. The processes are those of the Procfile, run by honcho; production
# runs the same command lines under systemd (deploy/). Ctrl-C (or SIGTERM to this script) stops them all; so does
# any one of them ending. Once the admin's /health/ answers (the database, Redis and a worker up), it prints where
# each one listens and the admin account's password (ensure_superuser's lines), last, where it does not scroll away.
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
command -v redis-server >/dev/null || { echo "redis-server is not installed: run scripts/system_deps.sh run as root." >&2; exit 1; }

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

export IMADMIN_VAR=$VAR SANDBOX_PORT WEB_BIND="127.0.0.1:$PORT" STATIC_ROOT=${STATIC_ROOT:-$VAR/static}
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CHAT_API_BASE_URL="http://127.0.0.1:$SANDBOX_PORT"
export CHAT_SANDBOX_STATE=${CHAT_SANDBOX_STATE:-$VAR/chat-sandbox.json}
export CELERY_BEAT_SCHEDULE_FILENAME=${CELERY_BEAT_SCHEDULE_FILENAME:-$VAR/celerybeat-schedule}

# The static files, gathered and compressed as a deployment gathers them; WhiteNoise serves them from there.
$BIN/python manage.py collectstatic --noinput -v 0
# The admin account (created when missing): what it says, the password included, is printed once all has started.
ACCOUNT=$($BIN/python manage.py ensure_superuser)

echo "imadmin: starting Redis on 127.0.0.1:$REDIS_PORT, the Chat sandbox on $CHAT_API_BASE_URL, a Celery worker," \
  "beat and the admin on http://127.0.0.1:$PORT/admin/; the admin account's password follows once all have started." \
  "Ctrl-C stops them all."

# One HTTP request to /health/ on the admin's port: true when it answers 200 (database, Redis and a worker up).
healthy() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf 'GET /health/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    read -r -t 5 status <&3 && [[ $status == "HTTP/1."?" 200"* ]]
  ) 2>/dev/null
}
# In the background, as long as this script (honcho, once exec'd) runs: waits for /health/, then prints last.
RUN_PID=$$
announce() {
  local deadline=$((SECONDS + 300))
  until healthy; do
    kill -0 "$RUN_PID" 2>/dev/null || exit 0
    if ((SECONDS >= deadline)); then
      echo "imadmin: http://127.0.0.1:$PORT/health/ has not answered 200 in 300 s; see the lines above."
      break
    fi
    sleep 0.5
  done
  sleep 1  # the worker's "ready." line comes just after the signal /health/ reads
  kill -0 "$RUN_PID" 2>/dev/null || exit 0
  printf '\n%s\n%s\n%s\n\n' \
    "imadmin is running: the admin on http://127.0.0.1:$PORT/admin/, the Chat sandbox on $CHAT_API_BASE_URL," \
    "Redis on 127.0.0.1:$REDIS_PORT. Ctrl-C stops them all." "$ACCOUNT"
}
announce &
# honcho starts the Procfile's processes, prefixes their output with their names, and stops them all at Ctrl-C or
# when one of them ends. Not its own .env reading (-e /dev/null): the processes read .env themselves, and the ports
# exported above must win.
exec $BIN/honcho start --no-colour -e /dev/null -f Procfile
