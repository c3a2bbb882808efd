#!/bin/sh
# Backup and restore of the application database, as docs/operations.md describes it, on
# throwaway databases: make a database with a case, dump it, restore the dump into a new
# database, and check the restored copy (schema current, the case and its history there, the
# event table still append-only). Needs pg_dump/pg_restore/psql and a PostgreSQL server
# reachable as $PGADMIN (default: postgres@127.0.0.1:5432 with trust auth).
#   sh ops/restore-check.sh            (from the checkout, with the venv's avtaleflyt on PATH)
set -eu
umask 077  # a dump holds personal data
PGADMIN=${PGADMIN:-postgresql://postgres@127.0.0.1:5432}
SRC=restore_src_$$; DST=restore_dst_$$
WORK=$(mktemp -d); trap 'psql -q "$PGADMIN/postgres" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)" -c "DROP DATABASE IF EXISTS $DST WITH (FORCE)"; rm -rf "$WORK"' EXIT
export AVTALEFLYT_DATA_DIR="$WORK/data"
psql -q "$PGADMIN/postgres" -c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST"

echo "== the live database: init, a case with history"
AVTALEFLYT_DATABASE_URL="$PGADMIN/$SRC" avtaleflyt init
AVTALEFLYT_DATABASE_URL="$PGADMIN/$SRC" avtaleflyt case open 1836 --date 2026-03-02 >/dev/null
AVTALEFLYT_DATABASE_URL="$PGADMIN/$SRC" avtaleflyt case record 1836 meeting-held --date 2026-03-10 >/dev/null
before=$(psql -qtA "$PGADMIN/$SRC" -c "select count(*) from event")

echo "== backup"
pg_dump -Fc --no-owner -d "$PGADMIN/$SRC" -f "$WORK/avtaleflyt.dump"
ls -l "$WORK/avtaleflyt.dump"

echo "== restore into an empty database"
pg_restore --no-owner -d "$PGADMIN/$DST" "$WORK/avtaleflyt.dump"
AVTALEFLYT_DATABASE_URL="$PGADMIN/$DST" avtaleflyt init
after=$(psql -qtA "$PGADMIN/$DST" -c "select count(*) from event")
echo "events: live $before, restored $after"
test "$before" = "$after"
AVTALEFLYT_DATABASE_URL="$PGADMIN/$DST" avtaleflyt case show 1836 --json | grep -q "1836"
if psql -q "$PGADMIN/$DST" -c "update event set id = id" 2>/dev/null; then
  echo "FAIL: the restored event table accepts UPDATE"; exit 1
fi
echo "OK: restored copy is current, has the case and its $after events, and event is append-only"
