#!/usr/bin/env bash
# usage: pg.sh BIN LABEL (after pg-setup.sh) -> figures of aqsha bench on a fresh PG database
set -eu
BIN=$1; LABEL=$2
B=/usr/lib/postgresql/15/bin
DB=b$RANDOM
su postgres -c "$B/psql -h /tmp/pgb -p 55439 -qc 'CREATE DATABASE $DB' postgres"
su postgres -c "$B/psql -h /tmp/pgb -p 55439 -qc 'CHECKPOINT' postgres"
D=$(mktemp -d /tmp/pgbench-data.XXXX)
. "$(dirname "$0")/serve.sh"
start_server "$BIN" "$D" --database "postgres://postgres@127.0.0.1:55439/$DB" --master-key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
$BIN bench --url $URL -c 64 -d 10 --warmup 2 --server-pid $PID --balance 200000 --no-baseline > $D/bench.txt 2>&1 || true
kill $PID; wait $PID 2>/dev/null || true
echo "== $LABEL"; grep -E "per second|p50|p90|p99|max|errors" $D/bench.txt
cp $D/bench.txt /tmp/last-pg-$LABEL.txt; rm -rf $D
su postgres -c "$B/psql -h /tmp/pgb -p 55439 -qc 'DROP DATABASE $DB' postgres"
