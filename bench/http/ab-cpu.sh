#!/usr/bin/env bash
# CPU per request of two builds of NexusCore, measured over HTTP in alternating short runs, for
# changes too small to see in req/s on a shared machine whose speed drifts by tens of percent
# between runs: both servers run at once (pinned to CPU 0, each idle while the other is driven),
# wrk drives one then the other for 2 s at a time from CPU 1, and the servers' own CPU time
# (/proc/<pid>/stat) is divided by the requests each answered. Drift hits both alike.
#
#   npm run bench:http -- --tickets 10000 --keep          # or --seeded DIR: a seeded data set
#   (cd <other checkout> && npm run build)                # each checkout needs its dist/
#   bench/http/ab-cpu.sh <checkout A> <checkout B> <seed dir>/n10000 get|get-all|get-uncached|list|search|create|reply|patch [rounds]
#   AB_ENV_B="NEXUS_RATE_LIMIT_SYNC_INTERVAL=1h" bench/http/ab-cpu.sh <same checkout twice> …   # settings per side
#   AB_SEED_B=<seed dir>/n1000000 AB_SETTLE=150 bench/http/ab-cpu.sh <same checkout twice> <seed dir>/n10000 search 20
#                                                         # one build on two data sizes: what 10k → 1M costs in CPU,
#                                                         # req/s and p99, drift cancelled
#   bench/http/ab-cpu.sh <checkout A> <checkout B> <seed dir>/n100000 first-search 3
#                                                         # the first search after a burst of writes (below)
#
# `get` reads the first brand's tickets in turn with that brand's token, `get-all` 5,000 tickets of
# every brand with their brands' tokens (as bench:http's get does), `get-uncached` every sampled
# ticket in turn from a random place in the sample (as bench:http's get-uncached: more tickets than
# the server's caches hold), `list` the first brand's open tickets newest first, `search`
# bench:http's keyword searches (lua/search.lua). The writes are bench:http's: `create` its
# ~600-byte creates (lua/create.lua) into each side's copy of the seed, `reply` and `patch` its
# replies and status/priority changes to the sampled tickets (lua/reply.lua, lua/patch.lua). Every
# path's figure is CPU only: a commit's fsync wait is not CPU time. `first-search` times, with one
# client, the first searches after AB_WRITES seconds (20 unless set) of creates into the same side,
# once its server is idle again (what the search pays for the writes before it). Prints each run and
# the totals, and per side the req/s ratio and the median of the rounds' p99 (wrk --latency).
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,18p' "$0"
  exit 2
fi
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
SEED=$(cd "$3" && pwd)
SEED_B=$(cd "${AB_SEED_B:-$3}" && pwd)
export AB_PATH=$4
ROUNDS=${5:-8}
case $AB_PATH in get | get-all | get-uncached | list | search | create | reply | patch | first-search) ;; *) echo "path: get, get-all, get-uncached, list, search, create, reply, patch or first-search" >&2; exit 2 ;; esac

WORK=$(mktemp -d)
cleanup() {
  for f in "$WORK"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The request script of one seed (its first brand and token, its sampled tickets): $WORK/<side>.lua.
write_script() { # seed, side
  local seed=$1 BRAND TOKEN
  read -r BRAND TOKEN < <(head -1 "$seed/product.tokens")
  cat > "$WORK/$2.lua" <<LUA
local ids, all = {}, {}
for line in io.lines("$seed/product.ids") do
  local id, token, brand = line:match("(%S+)%s+(%S+)%s+(%S+)")
  if brand == "$BRAND" then ids[#ids + 1] = id end
  all[#all + 1] = { id = id, token = token }
end
-- get-all: 5,000 tickets drawn once (the same for both sides) from every brand, as bench:http's get.
math.randomseed(7)
local drawn = {}
for k = 1, 5000 do drawn[k] = all[math.random(#all)] end
local n = 0
-- get-uncached: each run starts at its own place in the sample, so that it mostly reads tickets the
-- runs before it did not.
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local start = math.random(#all)
request = function()
  n = n + 1
  local mode = os.getenv("AB_PATH")
  if mode == "get-all" or mode == "get-uncached" then
    local t = mode == "get-all" and drawn[(n % #drawn) + 1] or all[((start + n) % #all) + 1]
    return wrk.format("GET", "/v1/tickets/" .. t.id, { ["authorization"] = "Bearer " .. t.token })
  end
  local path = "/v1/tickets?brand_id=$BRAND&status=open&limit=20"
  if mode == "get" then path = "/v1/tickets/" .. ids[(n % #ids) + 1] end
  return wrk.format("GET", path, { ["authorization"] = "Bearer $TOKEN" })
end
LUA
}
BENCH_LUA_DIR=$(cd "$(dirname "$0")" && pwd)/lua
export BENCH_LUA_DIR
write_script "$SEED" a
write_script "$SEED_B" b
seed_of() { if [ "$1" = b ]; then echo "$SEED_B"; else echo "$SEED"; fi; }
# The wrk script of a side, and the sampled tickets and tokens its lua/ scripts read.
script_of() { # side
  local seed
  seed=$(seed_of "$1")
  export BENCH_IDS=$seed/product.ids BENCH_TOKENS=$seed/product.tokens
  case $AB_PATH in
    create | search | reply | patch) SCRIPT=$BENCH_LUA_DIR/$AB_PATH.lua ;;
    first-search) SCRIPT=$BENCH_LUA_DIR/create.lua ;;
    *) SCRIPT=$WORK/$1.lua ;;
  esac
}

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
start() { # checkout, name: writes $WORK/<name>.port and .pid
  local port
  port=$(free_port)
  cp -r "$(seed_of "$2")/nexus-data" "$WORK/$2"
  # As the checkout's `npm start` runs it (its node flags), plus AB_ENV_A or AB_ENV_B (VAR=value …).
  local start extra
  start=$(cd "$1" && node -p "require('./package.json').scripts.start")
  extra=AB_ENV_${2^^}
  # shellcheck disable=SC2086 # word splitting of the start command and the settings is wanted
  (cd "$1" && exec env ${!extra:-} HOST=127.0.0.1 PORT=$port NEXUS_DATA_DIR="$WORK/$2" NEXUS_RATE_LIMIT_PER_TOKEN=1000000000 \
    taskset -c 0 $start > "$WORK/$2.log" 2>&1) &
  echo $! > "$WORK/$2.pid"
  echo "$port" > "$WORK/$2.port"
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && return; sleep 0.5; done
  echo "$2 did not answer /healthz: $(tail -5 "$WORK/$2.log")" >&2
  exit 1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start "$A" a
start "$B" b
declare -A port pid
for side in a b; do port[$side]=$(cat "$WORK/$side.port") pid[$side]=$(cat "$WORK/$side.pid"); done
# Past start-up (the search indexes load in the background; AB_SETTLE seconds, 8 unless set: a
# million tickets take about a minute) and warmed up (AB_WARMUP seconds a side, 3 unless set: a
# search at a million tickets costs more for its first ~40 s, while V8 compiles and SQLite's page
# cache fills).
sleep "${AB_SETTLE:-8}"
for side in a b; do
  script_of $side
  taskset -c 1 wrk -t1 -c32 -d"${AB_WARMUP:-3}"s -s "$SCRIPT" "http://127.0.0.1:${port[$side]}" > /dev/null
done

# The median of space-separated numbers, to one decimal.
median() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [ "$AB_PATH" = first-search ]; then
  # One keyword search by the side's first brand, timed by curl (seconds, total).
  search_once() { # side, query
    local brand token
    read -r brand token < <(head -1 "$(seed_of "$1")/product.tokens")
    curl -sf -o /dev/null -w '%{time_total}' -H "authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"query\":\"$2\",\"mode\":\"keyword\",\"filters\":{\"brand_id\":\"$brand\"},\"limit\":20}" "http://127.0.0.1:${port[$1]}/v1/tickets/search"
  }
  declare -A firsts=([a]="" [b]="")
  for round in $(seq 1 "$ROUNDS"); do
    for side in a b; do
      script_of $side
      taskset -c 1 wrk -t1 -c32 -d"${AB_WRITES:-20}"s -s "$SCRIPT" "http://127.0.0.1:${port[$side]}" > /dev/null
      # Idle again: the work a write run leaves behind is done (at most 30 s).
      for _ in $(seq 1 60); do
        before=$(cpu_ticks "${pid[$side]}")
        sleep 0.5
        [ $(($(cpu_ticks "${pid[$side]}") - before)) -le 2 ] && break
      done
      # In ms, to curl's µs.
      first=$(awk -v s="$(search_once $side 'card declined')" 'BEGIN { printf "%.3f", s * 1000 }')
      second=$(awk -v s="$(search_once $side 'password reset')" 'BEGIN { printf "%.3f", s * 1000 }')
      firsts[$side]+="$first "
      echo "round $round $side: first search $(printf '%.1f' "$first") ms, second $(printf '%.1f' "$second") ms"
    done
  done
  echo "first-search: A median $(median "${firsts[a]}") ms, B median $(median "${firsts[b]}") ms over $ROUNDS rounds (A: $A, B: $B)"
  exit 0
fi

declare -A ticks=([a]=0 [b]=0) requests=([a]=0 [b]=0) p99s=([a]="" [b]="")
# wrk's 99th percentile (--latency) in ms, whatever unit it printed.
p99_ms() { awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v); print v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1) }' <<< "$1"; }
for round in $(seq 1 "$ROUNDS"); do
  for side in a b; do
    script_of $side
    before=$(cpu_ticks "${pid[$side]}")
    out=$(taskset -c 1 wrk -t1 -c32 -d2s --latency -s "$SCRIPT" "http://127.0.0.1:${port[$side]}")
    after=$(cpu_ticks "${pid[$side]}")
    if grep -q 'Non-2xx' <<< "$out"; then echo "$side: answers other than 2xx" >&2; exit 1; fi
    n=$(awk '/requests in/ { print $1 }' <<< "$out")
    ticks[$side]=$((ticks[$side] + after - before))
    requests[$side]=$((requests[$side] + n))
    p99=$(p99_ms "$out")
    p99s[$side]+="$p99 "
    echo "round $round $side: $(awk '/Requests\/sec/ { print $2 }' <<< "$out") req/s, $(((after - before) * 1000000 / $(getconf CLK_TCK) / n)) µs CPU/request, p99 $p99 ms"
  done
done
per() { echo $((ticks[$1] * 1000000 / $(getconf CLK_TCK) / requests[$1])); }
echo "$AB_PATH: A $(per a) µs CPU/request, B $(per b) µs CPU/request over ${requests[a]} and ${requests[b]} requests (A: $A, B: $B)"
echo "B ÷ A: $(awk -v a="$(per a)" -v b="$(per b)" 'BEGIN { printf "%.2f", b / a }')× the CPU per request"
# Each side ran the same rounds of the same length, so its requests are its rate.
echo "B ÷ A: $(awk -v a="${requests[a]}" -v b="${requests[b]}" 'BEGIN { printf "%.2f", b / a }')× the req/s; median p99 A $(median "${p99s[a]}") ms, B $(median "${p99s[b]}") ms"
