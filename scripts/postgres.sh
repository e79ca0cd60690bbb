#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on loopback, for CI and the benchmarks.
#   scripts/postgres.sh start DIR PORT   initialise DIR, serve on 127.0.0.1:PORT, create database imadmin
#   scripts/postgres.sh stop DIR         stop the server of DIR
# The password of user postgres is "cipass"; DIR's parent must be readable by the postgres OS user.
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
action=$1
dir=$2

case "$action" in
  start)
    port=$3
    mkdir -p "$dir/sock"
    echo cipass > "$dir/pwfile"
    chown -R postgres:postgres "$dir"
    chmod 700 "$dir"
    # initdb refuses to run as root.
    runuser -u postgres -- "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir/sock -c fsync=off" start >/dev/null
    runuser -u postgres -- "$PGBIN/createdb" -h "$dir/sock" -p "$port" imadmin
    ;;
  stop)
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
