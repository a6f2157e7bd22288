# shellcheck shell=bash
# Helpers shared by bench/compare.sh, bench/scale.sh and bench/gateway.sh (sourced, not run).
#
# The caller sets ROOT and BUILD_DIR, sources this file, then calls `bench_begin NAME`, which
# creates the scratch directory and installs the exit trap. Every process started here is
# remembered by pid and only ever stopped by that pid.

BENCH_PIDS=()        # our own servers (master, slaves), stopped by bench_cleanup
BENCH_MARIADB_DIRS=()  # scripts/test_mariadb.sh directories to stop
BENCH_ANCHOR_DIRS=()   # ANCHOR_DB directories of ../shared/bench/mariadb-semisync.sh to stop
BENCH_SHARED_DIR=""
BENCH_SIDE_PID=""      # a helper process of the current step (lag probe, RSS sampler)

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

# build_if_needed: release binaries in $BUILD_DIR (scripts/build.sh, BUILD_TYPE=Release, -j2).
build_if_needed() {
  local b need=0
  for b in server/semisync_master server/semisync_slave client/semisyncctl bench/semisync_load \
           bench/semisync_mysql_lag; do
    [[ -x $BUILD_DIR/$b ]] || need=1
  done
  if [[ ${REBUILD:-0} == 1 || $need == 1 ]]; then
    log "building release binaries in $BUILD_DIR (scripts/build.sh, -j${JOBS:-2})"
    BUILD_DIR="$BUILD_DIR" BUILD_TYPE=Release JOBS="${JOBS:-2}" bash "$ROOT/scripts/build.sh" >&2 \
      || die "build failed"
  fi
  local t
  t=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
  [[ $t == Release ]] || log "WARNING: $BUILD_DIR has CMAKE_BUILD_TYPE='$t', not Release"
}

# free_port: an unused loopback TCP port.
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server NAME BINARY ARGS...: starts one of our servers with --port_file, waits until it
# serves, and sets PORT to its gRPC port and PID to its pid.
start_server() {
  local name=$1 bin=$2 i
  shift 2
  local portf="$WORK/$name.port"
  rm -f "$portf"
  "$bin" --port_file="$portf" "$@" >"$WORK/logs/$name.log" 2>&1 </dev/null &
  PID=$!
  BENCH_PIDS+=("$PID")
  for i in $(seq 1 300); do
    [[ -s $portf ]] && grep -q '^grpc_port=' "$portf" && break
    kill -0 "$PID" 2>/dev/null || { tail -n 20 "$WORK/logs/$name.log" >&2; die "$name exited during start"; }
    sleep 0.1
    [[ $i == 300 ]] && die "$name did not start within 30 s (log $WORK/logs/$name.log)"
  done
  PORT=$(sed -n 's/^grpc_port=//p' "$portf")
  log "$name up: pid $PID, gRPC 127.0.0.1:$PORT"
}

# stop_pid PID: SIGTERM, wait up to 15 s, then SIGKILL. Only for pids we started.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_our_servers() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do stop_pid "$pid"; done
  BENCH_PIDS=()
}

# ctl ARGS...: semisyncctl with a short timeout.
ctl() { "$BUILD_DIR/client/semisyncctl" --timeout_ms=5000 "$@"; }

# json_get KEY.PATH: reads JSON on stdin, prints the value (nested keys joined by '.').
json_get() {
  "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$1"
}

# wait_semisync_on MASTER_ADDR: until the master reports semi-sync ON with >= 1 semi-sync slave.
wait_semisync_on() {
  local i st on clients
  for i in $(seq 1 300); do
    st=$(ctl --master="$1" --json status master 2>/dev/null || true)
    if [[ -n $st ]]; then
      on=$(json_get semi_sync.status <<<"$st")
      clients=$(json_get semi_sync.clients <<<"$st")
      if [[ $on == True && ${clients:-0} -ge 1 ]]; then
        log "semi-sync ON on $1 ($clients semi-sync slave(s))"
        return 0
      fi
    fi
    sleep 0.1
  done
  die "semi-sync did not come ON on $1 within 30 s"
}

# cpu_ticks PID: utime + stime of a process, in clock ticks (0 when gone).
cpu_ticks() {
  local f
  f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  f=${f##*) }  # fields after the command name, which may hold spaces
  # shellcheck disable=SC2086
  set -- $f
  echo $((${12} + ${13}))
}

# rss_kb PID [FIELD]: VmRSS (or another /proc/PID/status field, e.g. VmHWM) in kB.
rss_kb() {
  awk -v f="${2:-VmRSS}:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

# find_shared_dir: ../shared next to the clone (CI), else $SHARED_DIR.
find_shared_dir() {
  local d
  for d in "${SHARED_DIR:-}" "$ROOT/../shared" "$ROOT/../../shared"; do
    if [[ -n $d && -f $d/bench/mariadb-semisync.sh ]]; then
      BENCH_SHARED_DIR=$(cd "$d" && pwd)
      return 0
    fi
  done
  die "cannot find shared/bench/mariadb-semisync.sh (looked at \$SHARED_DIR and $ROOT/../shared)"
}

# start_storage_mariadb DIR: a private MariaDB on loopback (scripts/test_mariadb.sh); sets
# MDB_PORT and MDB_SOCK.
start_storage_mariadb() {
  local dir=$1
  BENCH_MARIADB_DIRS+=("$dir")
  bash "$ROOT/scripts/test_mariadb.sh" start "$dir" >&2 || die "private MariaDB did not start"
  # shellcheck disable=SC2034  # read by the caller
  MDB_PORT=$(cat "$dir/port")
  # shellcheck disable=SC2034
  MDB_SOCK=$dir/sock
}

# ensure_sysbench: apt-get install sysbench when it is missing (never at build time).
ensure_sysbench() {
  command -v sysbench >/dev/null 2>&1 && return 0
  log "installing sysbench (apt-get)"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq sysbench >&2 \
    || { $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq sysbench >&2; } \
    || die "cannot install sysbench"
}

bench_cleanup() {
  local d
  stop_our_servers
  for d in "${BENCH_MARIADB_DIRS[@]}"; do
    bash "$ROOT/scripts/test_mariadb.sh" stop "$d" >/dev/null 2>&1 || true
  done
  BENCH_MARIADB_DIRS=()
  for d in "${BENCH_ANCHOR_DIRS[@]}"; do
    ANCHOR_DB="$d" bash "$BENCH_SHARED_DIR/bench/mariadb-semisync.sh" stop >/dev/null 2>&1 || true
  done
  BENCH_ANCHOR_DIRS=()
}

# bench_begin NAME: sets TS and RESULTS_DIR, creates the scratch directory WORK (/tmp/semisync-
# NAME.*, with logs/ and RAW=raw/), and installs the traps that stop everything started here on
# exit and remove WORK (kept with KEEP_WORK=1 or when the run failed).
bench_begin() {
  # shellcheck disable=SC2034  # TS, RESULTS_DIR and RAW are for the caller
  TS=$(date +%Y%m%d-%H%M%S)
  RESULTS_DIR="$ROOT/bench/results"
  WORK=$(mktemp -d "/tmp/semisync-$1.XXXXXX")
  RAW="$WORK/raw"
  mkdir -p "$WORK/logs" "$RAW" "$RESULTS_DIR"
  trap bench_exit EXIT
  trap 'exit 130' INT TERM
}

bench_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $BENCH_SIDE_PID ]]; then stop_pid "$BENCH_SIDE_PID"; fi
  bench_cleanup
  if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 ]]; then
    log "scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
