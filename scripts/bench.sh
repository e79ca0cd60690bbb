#!/usr/bin/env bash
# Every benchmark, one after another, on SQLite and on a throwaway PostgreSQL 15 server. Run on a quiet
# machine: the figures are wall-clock rates. Exits non-zero if any benchmark missed its target.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RUN=$(mktemp -d /tmp/imadmin-bench.XXXXXX)
chmod 755 "$RUN"
PGPORT=${IMADMIN_BENCH_PGPORT:-5442}
trap 'scripts/postgres.sh stop "$RUN/pg" 2>/dev/null; rm -rf "$RUN"' EXIT
scripts/postgres.sh start "$RUN/pg" "$PGPORT" || exit 1
export IMADMIN_BENCH_POSTGRES="postgres://postgres:cipass@127.0.0.1:$PGPORT/postgres"

failed=0
run() {
  echo
  echo "== $*"
  "$@" || { echo "!! missed its target: $*"; failed=1; }
}
run $BIN/python bench/sandbox_load.py
run $BIN/python bench/sync_bench.py
run $BIN/python bench/admin_save.py
run $BIN/python bench/save_to_chat.py
run $BIN/python bench/bulk_sync.py
run $BIN/python bench/drift_sweep.py
run $BIN/python bench/admin_scale.py
run $BIN/python bench/import_preview.py
run $BIN/python bench/pick_page.py
run $BIN/python bench/health_page.py
run $BIN/python bench/user_search.py
run $BIN/python bench/group_search.py
exit $failed
