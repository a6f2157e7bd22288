#!/usr/bin/env bash
# Side-by-side benchmark: our semi-sync master + slave (on SQLite and on MariaDB storage) against
# MariaDB 10.11's native semi-synchronous replication, in one run on this machine (issue 5).
#
#   bench/compare.sh                  full run (20 s per point)
#   DURATION=5 bench/compare.sh       quick run
#
# Environment:
#   DURATION=20           seconds per point
#   ROUNDS=1              times every point runs on every system; the report gives, per point
#                         and system, the round with the median tx/s (and every round's tx/s)
#   CLIENTS="1 4 16 64"   client counts of the insert workload
#   MIXED_CLIENTS=16      clients of the 90% read / 10% write workload ("" to skip it)
#   SYSTEMS="sqlite mariadb native"   which systems to run (ours on SQLite, ours on MariaDB
#                         storage, MariaDB native semi-sync)
#   BUILD_DIR=build-bench release build (built by scripts/build.sh when a binary is missing;
#                         REBUILD=1 forces an incremental build); JOBS=2
#   SHARED_DIR            where shared/ is when it is not ../shared next to the clone
#   LAG_SAMPLE_MS=10      one sampled write per this many ms for the replication lag
#   MASTER_FLAGS, SLAVE_FLAGS  more flags for our master / slave (split on spaces), e.g.
#                         SLAVE_FLAGS="--apply_batch_delay_us=4000" to measure a setting
#   KEEP_WORK=1           keep the scratch directory (logs, raw results) under /tmp
#
# Per point: transactions/s, p50/p95/p99 commit latency, replication lag p50/p99 (ack ->
# readable on the slave), the slave's catch-up time after the load, CPU per transaction of each
# process, and ours/native ratios. Prints a table and writes bench/results/compare-<ts>.json.
# Loopback only; every process started here is stopped on exit (trap), by pid.
# Method: docs/PERFORMANCE.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
DURATION="${DURATION:-20}"
CLIENTS="${CLIENTS:-1 4 16 64}"
MIXED_CLIENTS="${MIXED_CLIENTS-16}"
SYSTEMS="${SYSTEMS:-sqlite mariadb native}"
LAG_SAMPLE_MS="${LAG_SAMPLE_MS:-10}"
read -r -a MASTER_EXTRA <<<"${MASTER_FLAGS:-}"
read -r -a SLAVE_EXTRA <<<"${SLAVE_FLAGS:-}"
ROUNDS="${ROUNDS:-1}"
CATCHUP_TIMEOUT_S="${CATCHUP_TIMEOUT_S:-120}"
# A point may not run longer than this (load + catch-up + draining the lag samples).
POINT_TIMEOUT_S=$((DURATION + CATCHUP_TIMEOUT_S + 90))
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_begin bench

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "DURATION must be a whole number of seconds"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a whole number >= 1"

# --------------------------------------------------------------------------------------- ours
# snapshot_cpu NAME PID...: per-process CPU ticks, written to $RAW/NAME.cpu as "pid ticks" lines.
snapshot_cpu() {
  local f="$RAW/$1.cpu" pid
  shift
  : >"$f"
  for pid in "$@"; do echo "$pid $(cpu_ticks "$pid")" >>"$f"; done
}

# cpu_json BEFORE AFTER LABEL=PID...: {"label": seconds of CPU, ...} between two snapshots.
# LABEL=@FILE takes a command's CPU from FILE, written by timed_run.
cpu_json() {
  "$PY" - "$RAW/$1.cpu" "$RAW/$2.cpu" "$(getconf CLK_TCK)" "${@:3}" <<'PY'
import json, re, sys
before = dict(l.split() for l in open(sys.argv[1]) if l.strip())
after = dict(l.split() for l in open(sys.argv[2]) if l.strip())
hz = float(sys.argv[3])
out = {}
for arg in sys.argv[4:]:
    label, pid = arg.split("=")
    if pid.startswith("@"):
        try:  # bash `times`: the shell's user and system time, then its children's
            lines = open(pid[1:]).read().split("\n")
            t = re.findall(r"(\d+)m([\d.]+)s", lines[1])
            out[label] = sum(int(m) * 60 + float(s) for m, s in t)
        except (OSError, IndexError, ValueError) as e:
            print("cpu_json: no %s CPU from %s: %s" % (label, pid[1:], e), file=sys.stderr)
    elif pid in before and pid in after:
        out[label] = (int(after[pid]) - int(before[pid])) / hz
print(json.dumps(out))
PY
}

# timed_run FILE CMD...: runs CMD and writes its CPU time (user and system, with its children)
# to FILE in the format of bash's `times`; returns CMD's status.
timed_run() {
  local f=$1
  shift
  (
    rc=0
    "$@" || rc=$?
    times >"$f"
    exit "$rc"
  )
}

# Per system: its gRPC addresses / ports and the LABEL=PID of the processes whose CPU is reported.
declare -A MASTER_ADDR SLAVE_ADDR CPU_LABELS
NATIVE_MY=()   # semisync_mysql_lag connection flags
NATIVE_SB=()   # sysbench connection flags

# start_ours SYSTEM [MASTER_DB SLAVE_DB [LABEL=PID...]]: master + one slave (on SQLite, or on the
# given SOCI connection strings); LABEL=PID are more processes whose CPU time is reported per
# point (the storage MariaDB).
start_ours() {
  local sys=$1 master_db=${2:-} slave_db=${3:-}
  local extra=("${@:4}")
  local dir="$WORK/$sys" mport mpid
  mkdir -p "$dir"
  local mdb_args=() sdb_args=()
  [[ -n $master_db ]] && mdb_args=(--db="$master_db")
  [[ -n $slave_db ]] && sdb_args=(--db="$slave_db")
  start_server "$sys-master" "$BUILD_DIR/server/semisync_master" --grpc_port=0 --http_port=0 \
    --bind_address=127.0.0.1 --http_bind_address=127.0.0.1 --data_dir="$dir/master" \
    --semi_sync_enabled=true --semi_sync_wait_point=AFTER_SYNC --semi_sync_wait_for_slave_count=1 \
    "${mdb_args[@]}" ${MASTER_EXTRA[@]+"${MASTER_EXTRA[@]}"}
  mport=$PORT mpid=$PID
  start_server "$sys-slave" "$BUILD_DIR/server/semisync_slave" --id=slave1 \
    --master="127.0.0.1:$mport" --grpc_port=0 --http_port=0 --bind_address=127.0.0.1 \
    --http_bind_address=127.0.0.1 --data_dir="$dir/slave1" "${sdb_args[@]}" \
    ${SLAVE_EXTRA[@]+"${SLAVE_EXTRA[@]}"}
  wait_semisync_on "127.0.0.1:$mport"
  MASTER_ADDR[$sys]="127.0.0.1:$mport"
  SLAVE_ADDR[$sys]="127.0.0.1:$PORT"
  CPU_LABELS[$sys]="master=$mpid slave=$PID ${extra[*]}"
}

# point_ours SYSTEM WORKLOAD CLIENTS NAME: one point against our master + slave.
point_ours() {
  local sys=$1 wl=$2 c=$3 name=$4 read_pct=0
  [[ $wl == mixed ]] && read_pct=90
  local labels
  read -r -a labels <<<"${CPU_LABELS[$sys]}"
  log "$name: ${DURATION}s at $c clients (read_pct $read_pct)"
  # shellcheck disable=SC2046
  snapshot_cpu "$name.before" $(printf '%s\n' "${labels[@]}" | cut -d= -f2)
  if ! timed_run "$RAW/$name.client.times" timeout -k 10 "$POINT_TIMEOUT_S" \
      "$BUILD_DIR/bench/semisync_load" \
      --target="${MASTER_ADDR[$sys]}" --slave="${SLAVE_ADDR[$sys]}" --clients="$c" \
      --duration_s="$DURATION" --content_bytes=32 --read_pct="$read_pct" \
      --lag_sample_ms="$LAG_SAMPLE_MS" --catchup --catchup_timeout_s="$CATCHUP_TIMEOUT_S" \
      --json >"$RAW/$name.load.json" 2>"$WORK/logs/$name.err"; then
    log "$name: load reported errors (see $WORK/logs/$name.err; raw result kept)"
  fi
  # shellcheck disable=SC2046
  snapshot_cpu "$name.after" $(printf '%s\n' "${labels[@]}" | cut -d= -f2)
  cpu_json "$name.before" "$name.after" "${labels[@]}" "client=@$RAW/$name.client.times" \
    >"$RAW/$name.cpu.json"
}

# ------------------------------------------------------------------------------------- native
start_native() {
  find_shared_dir
  ensure_sysbench
  local anchor="$WORK/anchor" pport rport
  pport=$(free_port)
  rport=$(free_port)
  while [[ $rport == "$pport" ]]; do rport=$(free_port); done
  BENCH_ANCHOR_DIRS+=("$anchor")
  log "native MariaDB semi-sync: primary :$pport, replica :$rport ($anchor)"
  ANCHOR_DB="$anchor" PRIMARY_PORT=$pport REPLICA_PORT=$rport \
    timeout -k 10 300 bash "$BENCH_SHARED_DIR/bench/mariadb-semisync.sh" start \
    >"$WORK/logs/native-setup.log" 2>&1 \
    || { tail -n 30 "$WORK/logs/native-setup.log" >&2; die "native MariaDB semi-sync did not start"; }
  local ppid rpid
  ppid=$(tr -dc '0-9' <"$anchor/primary/mysqld.pid")
  rpid=$(tr -dc '0-9' <"$anchor/replica/mysqld.pid")
  CPU_LABELS[native]="master=$ppid slave=$rpid"
  NATIVE_MY=(--host=127.0.0.1 --primary_port="$pport" --replica_port="$rport" --user=bench
             --password=bench --db=bench)
  NATIVE_SB=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$pport" --mysql-user=bench
             --mysql-password=bench --mysql-db=bench --histogram=on --percentile=99
             --report-interval=0)
}

# point_native WORKLOAD CLIENTS NAME: one sysbench point, with the lag probe and catch-up.
point_native() {
  local wl=$1 c=$2 name=$3 lua t_end labels
  read -r -a labels <<<"${CPU_LABELS[native]}"
  lua="$BENCH_SHARED_DIR/bench/insert.lua"
  [[ $wl == mixed ]] && lua="$BENCH_SHARED_DIR/bench/mixed.lua"
  log "$name: ${DURATION}s at $c threads (sysbench $(basename "$lua"))"
  # shellcheck disable=SC2046
  snapshot_cpu "$name.before" $(printf '%s\n' "${labels[@]}" | cut -d= -f2)
  "$BUILD_DIR/bench/semisync_mysql_lag" --mode=probe "${NATIVE_MY[@]}" \
    --duration_s=$((DURATION + 60)) --sample_ms="$LAG_SAMPLE_MS" \
    >"$RAW/$name.lag.json" 2>"$WORK/logs/$name.lag.err" &
  BENCH_SIDE_PID=$!
  if ! timed_run "$RAW/$name.client.times" timeout -k 10 $((DURATION + 60)) \
      sysbench "$lua" "${NATIVE_SB[@]}" --threads="$c" --time="$DURATION" run \
      >"$RAW/$name.sysbench.txt" 2>"$WORK/logs/$name.sysbench.err"; then
    log "$name: sysbench failed (see $WORK/logs/$name.sysbench.err)"
  fi
  t_end=$(date +%s.%N)
  kill -TERM "$BENCH_SIDE_PID" 2>/dev/null || true
  timeout -k 10 $((CATCHUP_TIMEOUT_S + 30)) "$BUILD_DIR/bench/semisync_mysql_lag" \
    --mode=catchup "${NATIVE_MY[@]}" --since_unix_s="$t_end" --timeout_s="$CATCHUP_TIMEOUT_S" \
    >"$RAW/$name.catchup.json" 2>"$WORK/logs/$name.catchup.err" \
    || log "$name: catch-up not measured (see $WORK/logs/$name.catchup.err)"
  # The probe drains its pending samples (each at most 60 s), then exits.
  for _ in $(seq 1 900); do
    kill -0 "$BENCH_SIDE_PID" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$BENCH_SIDE_PID"
  BENCH_SIDE_PID=""
  # shellcheck disable=SC2046
  snapshot_cpu "$name.after" $(printf '%s\n' "${labels[@]}" | cut -d= -f2)
  cpu_json "$name.before" "$name.after" "${labels[@]}" "client=@$RAW/$name.client.times" \
    >"$RAW/$name.cpu.json"
}

# ----------------------------------------------------------------------------------------- run
build_if_needed
START_S=$SECONDS
# Every system is started first, then each point runs on each system in turn (and the rounds
# repeat that), so the systems compared at a point are measured minutes apart, not a whole run
# apart: this VM's speed drifts by tens of percent over minutes.
for sys in $SYSTEMS; do
  case $sys in
    sqlite)
      start_ours sqlite
      ;;
    mariadb)
      start_storage_mariadb "$WORK/mdb"
      mariadb --no-defaults --protocol=SOCKET -S "$MDB_SOCK" -uroot \
        -e "CREATE DATABASE bench_master; CREATE DATABASE bench_slave" \
        || die "cannot create the storage databases"
      mdb_pid=$(tr -dc '0-9' <"$WORK/mdb/pid")
      conn="mysql://host=127.0.0.1 port=$MDB_PORT user=semisync password=semisync"
      start_ours mariadb "$conn db=bench_master" "$conn db=bench_slave" "storage=$mdb_pid"
      ;;
    native)
      start_native
      ;;
    *) die "unknown system '$sys' in SYSTEMS (sqlite, mariadb, native)" ;;
  esac
done

points=()
for c in $CLIENTS; do points+=("insert:$c"); done
[[ -n $MIXED_CLIENTS ]] && points+=("mixed:$MIXED_CLIENTS")
for round in $(seq 1 "$ROUNDS"); do
  for p in "${points[@]}"; do
    wl=${p%%:*} c=${p##*:}
    for sys in $SYSTEMS; do
      if [[ $sys == native ]]; then
        name="native-$wl-$c-r$round"
        point_native "$wl" "$c" "$name"
      else
        name="ours-$sys-$wl-$c-r$round"
        point_ours "$sys" "$wl" "$c" "$name"
        sys="ours-$sys"
      fi
      echo "{\"system\":\"$sys\",\"workload\":\"$wl\",\"clients\":$c,\"round\":$round}" \
        >"$RAW/$name.meta.json"
    done
  done
done

for sys in $SYSTEMS; do
  case $sys in
    native)
      ANCHOR_DB="$WORK/anchor" bash "$BENCH_SHARED_DIR/bench/mariadb-semisync.sh" status \
        >"$RAW/native.status.txt" 2>&1 || true
      ;;
    *)
      ctl --master="${MASTER_ADDR[$sys]}" --json status master \
        >"$RAW/ours-$sys.master-status.json" || true
      ctl --slave="${SLAVE_ADDR[$sys]}" --json status slave >"$RAW/ours-$sys.slave-status.json" \
        || true
      ;;
  esac
done
bench_cleanup

OUT="$RESULTS_DIR/compare-$TS.json"
"$PY" "$ROOT/bench/report.py" compare "$RAW" --out "$OUT" --duration "$DURATION" \
  --command "DURATION=$DURATION ROUNDS=$ROUNDS CLIENTS=\"$CLIENTS\" MIXED_CLIENTS=\"$MIXED_CLIENTS\" SYSTEMS=\"$SYSTEMS\"${MASTER_FLAGS:+ MASTER_FLAGS=\"$MASTER_FLAGS\"}${SLAVE_FLAGS:+ SLAVE_FLAGS=\"$SLAVE_FLAGS\"} bench/compare.sh"
log "done in $((SECONDS - START_S)) s; results: $OUT"
