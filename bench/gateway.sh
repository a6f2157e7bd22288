#!/usr/bin/env bash
# HTTP/JSON gateway vs gRPC: CreateRecord throughput and latency at 16 and 64 concurrent clients
# against the same master (semi-sync AFTER_SYNC, one slave, SQLite), issue 3's benchmark.
#
#   bench/gateway.sh                 DURATION=10 per point
#   DURATION=5 CLIENTS="16 64" bench/gateway.sh
#
# gRPC: bench/semisync_load (one HTTP/2 connection per client). HTTP: wrk (Debian; installed here
# when missing) with keep-alive connections POSTing {"content":"<32 bytes>"} to /api/records.
# Prints a table with the HTTP/gRPC ratio. Loopback only; stops what it started (trap).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-16 64}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_begin gwbench

build_if_needed
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (apt-get)"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2 ||
    { $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2; } ||
    die "cannot install wrk"
fi

start_server master "$BUILD_DIR/server/semisync_master" --grpc_port=0 --http_port=0 \
  --bind_address=127.0.0.1 --http_bind_address=127.0.0.1 --data_dir="$WORK/master"
MASTER=127.0.0.1:$PORT
HTTP=$(sed -n 's/^http_port=//p' "$WORK/master.port")
start_server slave "$BUILD_DIR/server/semisync_slave" --id=slave1 --master="$MASTER" \
  --grpc_port=0 --http_port=0 --bind_address=127.0.0.1 --http_bind_address=127.0.0.1 \
  --data_dir="$WORK/slave1"
wait_semisync_on "$MASTER"

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local chars = "abcdefghijklmnopqrstuvwxyz0123456789"
request = function()
  local t = {}
  for i = 1, 32 do
    local k = math.random(1, #chars)
    t[i] = chars:sub(k, k)
  end
  return wrk.format(nil, "/api/records", nil, '{"content":"' .. table.concat(t) .. '"}')
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.3f %.3f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

printf '%-8s %12s %12s %10s %12s %12s\n' clients grpc_tx/s http_tx/s ratio grpc_p50_ms http_p50_ms
for c in $CLIENTS; do
  g=$("$BUILD_DIR/bench/semisync_load" --target="$MASTER" --clients="$c" \
        --duration_s="$DURATION" --json)
  g_tps=$(json_get writes_per_s <<<"$g")
  g_p50=$(json_get write_p50_ms <<<"$g")
  threads=2
  [[ $c -lt 2 ]] && threads=1
  w=$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
        "http://127.0.0.1:$HTTP" | sed -n 's/^RESULT //p')
  read -r reqs errs secs h_p50 _h_p99 <<<"$w"
  [[ ${errs:-1} == 0 ]] || log "wrk reported $errs errors at $c clients"
  h_tps=$("$PY" -c "print(round($reqs / $secs, 1))")
  ratio=$("$PY" -c "print(round($h_tps / $g_tps, 3))")
  printf '%-8s %12s %12s %10s %12s %12s\n' "$c" "$g_tps" "$h_tps" "$ratio" "$g_p50" "$h_p50"
done
