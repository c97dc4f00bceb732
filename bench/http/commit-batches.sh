#!/usr/bin/env bash
# How many writes a group commit gathers under `wrk -c32` creates, from the server's own counters
# (nexus_db_write_commits_total and _units_total on its metrics port), with the req/s and p99 of
# the same 10 s: a change to when batches start or how commits end shows here first.
#
#   (cd <checkout> && npm run build)
#   bench/http/commit-batches.sh <checkout> <seed dir>/n10000 [label]
#
# The server runs as the checkout's `npm start` does, on a copy of the seed, pinned to CPU 0; wrk
# to CPU 1. COMMIT_BATCHES_SETTLE seconds (10 unless set) pass before a 5-s warm-up.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0"
  exit 2
fi
CHECKOUT=$(cd "$1" && pwd)
SEED=$(cd "$2" && pwd)
LABEL=${3:-$CHECKOUT}
LUA=$(cd "$(dirname "$0")" && pwd)/lua
WORK=$(mktemp -d)
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
PORT=$(free_port)
METRICS_PORT=$(free_port)
cp -r "$SEED/nexus-data" "$WORK/data"
START=$(cd "$CHECKOUT" && node -p "require('./package.json').scripts.start")
# shellcheck disable=SC2086 # word splitting of the start command is wanted
(cd "$CHECKOUT" && exec env HOST=127.0.0.1 PORT="$PORT" NEXUS_METRICS_PORT="$METRICS_PORT" NEXUS_DATA_DIR="$WORK/data" \
  NEXUS_RATE_LIMIT_PER_TOKEN=1000000000 taskset -c 0 $START > "$WORK/server.log" 2>&1) &
SERVER=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null || { echo "no answer on /healthz: $(tail -5 "$WORK/server.log")" >&2; exit 1; }
sleep "${COMMIT_BATCHES_SETTLE:-10}"

export BENCH_IDS=$SEED/product.ids BENCH_TOKENS=$SEED/product.tokens BENCH_LUA_DIR=$LUA
taskset -c 1 wrk -t1 -c32 -d5s -s "$LUA/create.lua" "http://127.0.0.1:$PORT" > /dev/null
# "<commits> <units>"
counts() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^nexus_db_write_commits_total/ { c = $2 } /^nexus_db_write_units_total/ { u = $2 } END { print c, u }'; }
read -r COMMITS_BEFORE UNITS_BEFORE < <(counts)
taskset -c 1 wrk -t1 -c32 -d10s --latency -s "$LUA/create.lua" "http://127.0.0.1:$PORT" > "$WORK/wrk.txt"
read -r COMMITS_AFTER UNITS_AFTER < <(counts)
COMMITS=$((COMMITS_AFTER - COMMITS_BEFORE))
UNITS=$((UNITS_AFTER - UNITS_BEFORE))
RPS=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
P99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")
echo "$LABEL: $RPS creates/s, p99 $P99, $COMMITS commits of $UNITS writes: $(awk -v u="$UNITS" -v c="$COMMITS" 'BEGIN { printf "%.1f", c ? u / c : 0 }') a commit"
