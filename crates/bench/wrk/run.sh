#!/usr/bin/env bash
# Runs wrk with flow.lua against a running Aqsha server: the independent load generator beside
# `aqsha bench` (BENCHMARKS.md, "Side by side"). Creates a sandbox terminal and 64 funded cards
# through the sandbox API first, like `aqsha bench` does, and prints the server's CPU per flow
# when given its pid.
#
#   crates/bench/wrk/run.sh URL [SERVER_PID] [SECONDS] [CONNECTIONS]
set -euo pipefail
url=${1:?usage: run.sh URL [SERVER_PID] [SECONDS] [CONNECTIONS]}
pid=${2:-}
seconds=${3:-10}
conns=${4:-64}
[ "$conns" -le 100 ] || { echo "at most 100 connections (invoice tails)"; exit 2; }
here=$(dirname "${BASH_SOURCE[0]}")
export AQSHA_WRK_CLIENT_ID=${AQSHA_WRK_CLIENT_ID:-test}
export AQSHA_WRK_CLIENT_SECRET=${AQSHA_WRK_CLIENT_SECRET:-yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG}
auth="$AQSHA_WRK_CLIENT_ID:$AQSHA_WRK_CLIENT_SECRET"

post() { curl -sf -u "$auth" -H 'Content-Type: application/json' -d "$2" "$url/sandbox/$1"; }
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\\1/"; }

AQSHA_WRK_TERMINAL=$(post terminals '{"currency":"KZT"}' | field id)
export AQSHA_WRK_TERMINAL
cards=()
for _ in $(seq 1 64); do
    cards+=("$(post cards '{"expire":"12/39","cvc":"123","balance":"200000"}' | field pan)")
done
AQSHA_WRK_CARDS=$(IFS=,; echo "${cards[*]}")
export AQSHA_WRK_CARDS

cpu() { [ -n "$pid" ] && awk '{print $14 + $15}' "/proc/$pid/stat" || echo 0; }
before=$(cpu)
out=$(wrk -t "$conns" -c "$conns" -d "${seconds}s" --latency -s "$here/flow.lua" "$url")
after=$(cpu)
echo "$out"
if [ -n "$pid" ]; then
    flows=$(echo "$out" | awk '/requests in/ {print int($1 / 2)}')
    # /proc ticks are 1/100 s.
    echo "server CPU per flow: $(( (after - before) * 10000 / flows )) µs"
fi
