#!/usr/bin/env bash
# The scripts behind BENCHMARKS.md's alternating runs (sessions 8 and 9).
# usage: cpu.sh BIN LABEL -> "LABEL tps cpu_us_per_transfer"
set -eu
BIN=$1; LABEL=$2
D=$(mktemp -d /tmp/bench-data.XXXX)
. "$(dirname "$0")/serve.sh"
start_server "$BIN" "$D"
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
C0=$(cpu)
$BIN bench --url $URL -c 64 -d 10 --warmup 2 --server-pid $PID --balance 200000 --no-baseline > $D/bench.txt 2>&1 || true
C1=$(cpu)
kill $PID; wait $PID 2>/dev/null || true
N=$(grep -oE "complete transfers \(token \+ transfer\): [0-9]+" $D/bench.txt | grep -oE "[0-9]+$")
TPS=$(grep -oE "transfers per second: +[0-9]+" $D/bench.txt | grep -oE "[0-9]+$")
# ticks are 1/100 s; the warm-up's transfers are not in N, so this overstates CPU per transfer equally for both builds
echo "$LABEL tps=$TPS cpu_us_per_transfer=$(( (C1-C0)*10000 / N ))"
cp $D/bench.txt /tmp/last-bench-$LABEL.txt; rm -rf $D
