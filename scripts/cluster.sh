#!/usr/bin/env bash
# A local semisync cluster on loopback: one master and N slaves on the embedded SQLite default.
#
#   scripts/cluster.sh up [N]     build if needed, start master + N slaves (default 2), wait ready
#   scripts/cluster.sh down       stop them (SIGTERM, by pid file)
#   scripts/cluster.sh status     show which nodes run and the master's replication status
#
# Ports: master gRPC 50051 and HTTP 8080; slave i gRPC 50051+i and HTTP 8080+i. Data and logs under $SEMISYNC_DATA (./data).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
DATA="${SEMISYNC_DATA:-$ROOT/data}"
MASTER_PORT="${MASTER_PORT:-50051}"
HTTP_PORT="${HTTP_PORT:-8080}"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port_file() {  # file pid deadline_s
  local i=0
  while [ $i -lt $(($3 * 10)) ]; do
    [ -f "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

start_node() {  # name binary args...
  local name=$1 bin=$2; shift 2
  local pidf="$DATA/$name.pid" portf="$DATA/$name.port"
  if running "$pidf"; then echo "$name already running (pid $(cat "$pidf"))"; return; fi
  rm -f "$portf"
  "$bin" --port_file="$portf" "$@" >"$DATA/logs/$name.log" 2>&1 &
  echo $! >"$pidf"
  if ! wait_port_file "$portf" "$!" 30; then
    echo "$name failed to start; last log lines:"; tail -n 20 "$DATA/logs/$name.log"; exit 1
  fi
  echo "$name running (pid $(cat "$pidf"), $(tr '\n' ' ' <"$portf"))"
}

case "${1:-}" in
  up)
    n="${2:-2}"
    if [ ! -x "$BUILD_DIR/server/semisync_master" ] || [ ! -x "$BUILD_DIR/server/semisync_slave" ]; then
      BUILD_DIR="$BUILD_DIR" bash "$ROOT/scripts/build.sh"
    fi
    mkdir -p "$DATA/logs"
    start_node master "$BUILD_DIR/server/semisync_master" --grpc_port="$MASTER_PORT" \
      --http_port="$HTTP_PORT" --data_dir="$DATA/master"
    for i in $(seq 1 "$n"); do
      start_node "slave$i" "$BUILD_DIR/server/semisync_slave" --id="slave$i" \
        --master="127.0.0.1:$MASTER_PORT" --grpc_port=$((MASTER_PORT + i)) \
        --http_port=$((HTTP_PORT + i)) --data_dir="$DATA/slave$i"
    done
    echo "cluster up: master gRPC 127.0.0.1:$MASTER_PORT, HTTP http://127.0.0.1:$HTTP_PORT; logs in $DATA/logs"
    ;;
  down)
    for pidf in "$DATA"/*.pid; do
      [ -f "$pidf" ] || continue
      name=$(basename "$pidf" .pid)
      if running "$pidf"; then
        pid=$(cat "$pidf"); kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "$name stopped"
      fi
      rm -f "$pidf" "$DATA/$name.port"
    done
    ;;
  status)
    for pidf in "$DATA"/*.pid; do
      [ -f "$pidf" ] || continue
      name=$(basename "$pidf" .pid)
      if running "$pidf"; then echo "$name: running (pid $(cat "$pidf"))"; else echo "$name: not running"; fi
    done
    ;;
  *)
    echo "usage: $0 up [N] | down | status" >&2; exit 2 ;;
esac
