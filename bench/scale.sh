#!/usr/bin/env bash
# How cost grows with the work (issue 5): a master + one slave on SQLite; the slave is stopped
# (StopSync), N events are written, then:
#   - binlog bytes per event;
#   - the master's RSS with an N-event binlog and a stopped slave (sampled every 0.2 s while the
#     events are written and while idle), and during the slave's catch-up (it streams from disk);
#   - the slave's catch-up rate: StartSync, then events applied per second until it reaches the
#     master's end position.
#
#   bench/scale.sh                 N=1000000
#   N=100000 bench/scale.sh        smaller
#
# Environment: N=1000000 events; CLIENTS=64 writers; CHUNK=100000 events per load run;
# WRITE_BUDGET_S=1800 (stop writing after this long and report how many events were written);
# CATCHUP_TIMEOUT_S=1200; STORAGE=sqlite|mariadb (mariadb: a private MariaDB on loopback holds
# both databases); BUILD_DIR=build-bench; KEEP_WORK=1 keeps the scratch directory.
# Prints a summary and writes bench/results/scale-<ts>.json. Loopback only; every process started
# here is stopped on exit (trap), by pid.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
N="${N:-1000000}"
CLIENTS="${CLIENTS:-64}"
CHUNK="${CHUNK:-100000}"
WRITE_BUDGET_S="${WRITE_BUDGET_S:-1800}"
CATCHUP_TIMEOUT_S="${CATCHUP_TIMEOUT_S:-1200}"
STORAGE="${STORAGE:-sqlite}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_begin scale

[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || die "N must be a positive number of events"
[[ $CHUNK =~ ^[0-9]+$ && $CHUNK -ge 1 ]] || die "CHUNK must be positive"

build_if_needed

master_db=() slave_db=()
if [[ $STORAGE == mariadb ]]; then
  start_storage_mariadb "$WORK/mdb"
  mariadb --no-defaults --protocol=SOCKET -S "$MDB_SOCK" -uroot \
    -e "CREATE DATABASE scale_master; CREATE DATABASE scale_slave" || die "cannot create databases"
  conn="mysql://host=127.0.0.1 port=$MDB_PORT user=semisync password=semisync"
  master_db=(--db="$conn db=scale_master")
  slave_db=(--db="$conn db=scale_slave")
elif [[ $STORAGE != sqlite ]]; then
  die "STORAGE must be sqlite or mariadb"
fi

# While the slave is stopped the master must not wait for its acks: semi-sync switches OFF as
# soon as no semi-sync slave is connected (wait_no_slave=false), as MySQL's does after a timeout.
start_server master "$BUILD_DIR/server/semisync_master" --grpc_port=0 --http_port=0 \
  --bind_address=127.0.0.1 --http_bind_address=127.0.0.1 --data_dir="$WORK/master" \
  --semi_sync_enabled=true --semi_sync_wait_point=AFTER_SYNC --semi_sync_wait_for_slave_count=1 \
  --semi_sync_wait_no_slave=false --semi_sync_timeout_ms=1000 "${master_db[@]}"
MPORT=$PORT MPID=$PID
start_server slave "$BUILD_DIR/server/semisync_slave" --id=slave1 --master="127.0.0.1:$MPORT" \
  --grpc_port=0 --http_port=0 --bind_address=127.0.0.1 --http_bind_address=127.0.0.1 \
  --data_dir="$WORK/slave1" "${slave_db[@]}"
SPORT=$PORT SPID=$PID
MASTER=127.0.0.1:$MPORT SLAVE=127.0.0.1:$SPORT
wait_semisync_on "$MASTER"

# RSS sampler: "phase unix_time master_rss_kb slave_rss_kb" every 0.2 s; the phase is whatever
# $WORK/phase says.
echo start >"$WORK/phase"
(
  while kill -0 "$MPID" 2>/dev/null; do
    echo "$(cat "$WORK/phase") $(date +%s.%N) $(rss_kb "$MPID") $(rss_kb "$SPID")"
    sleep 0.2
  done
) >"$RAW/rss.txt" 2>/dev/null &
BENCH_SIDE_PID=$!

ctl --slave="$SLAVE" sync stop >/dev/null || die "StopSync failed"
log "slave stopped (StopSync); writing $N events with $CLIENTS clients (budget ${WRITE_BUDGET_S}s)"
echo write >"$WORK/phase"
written=0 write_s=0 chunks=0 errors=0
t0=$SECONDS
while ((written < N)); do
  if ((SECONDS - t0 >= WRITE_BUDGET_S)); then
    log "write budget of ${WRITE_BUDGET_S}s spent after $written events: stopping there"
    break
  fi
  n=$((N - written < CHUNK ? N - written : CHUNK))
  timeout -k 10 $((WRITE_BUDGET_S + 120)) "$BUILD_DIR/bench/semisync_load" --target="$MASTER" \
    --clients="$CLIENTS" --count="$n" --content_bytes=32 --json \
    >"$RAW/write-$chunks.json" 2>"$WORK/logs/write-$chunks.err" || true
  w=$(json_get writes <"$RAW/write-$chunks.json")
  e=$(json_get errors <"$RAW/write-$chunks.json")
  s=$(json_get seconds <"$RAW/write-$chunks.json")
  [[ -n $w ]] || die "load failed (see $WORK/logs/write-$chunks.err)"
  written=$((written + w)) errors=$((errors + e))
  write_s=$("$PY" -c "print($write_s + $s)")
  chunks=$((chunks + 1))
  log "  $written / $N events written ($e errors in this chunk)"
done

echo idle >"$WORK/phase"
sleep 3  # the master idles with the stopped slave: its RSS must not depend on the binlog size
ctl --master="$MASTER" --json status master >"$RAW/master-status-before.json" \
  || die "master status failed"
ctl --slave="$SLAVE" --json status slave >"$RAW/slave-status-before.json" || die "slave status failed"
du -sb "$WORK/master" >"$RAW/master-du.txt" 2>/dev/null || true

log "StartSync: measuring the slave's catch-up"
echo catchup >"$WORK/phase"
timeout -k 10 $((CATCHUP_TIMEOUT_S + 60)) "$BUILD_DIR/bench/semisync_load" --mode=catchup \
  --target="$MASTER" --slave="$SLAVE" --start_sync --catchup_timeout_s="$CATCHUP_TIMEOUT_S" \
  >"$RAW/catchup.json" 2>"$WORK/logs/catchup.err" || log "catch-up did not complete (see $WORK/logs/catchup.err)"
echo after >"$WORK/phase"
sleep 1
ctl --master="$MASTER" --json status master >"$RAW/master-status-after.json" || true
ctl --slave="$SLAVE" --json status slave >"$RAW/slave-status-after.json" || true
master_hwm=$(rss_kb "$MPID" VmHWM)
slave_hwm=$(rss_kb "$SPID" VmHWM)
stop_pid "$BENCH_SIDE_PID"
BENCH_SIDE_PID=""
stop_our_servers

OUT="$RESULTS_DIR/scale-$TS.json"
"$PY" - "$RAW" "$OUT" "$N" "$written" "$write_s" "$errors" "$CLIENTS" "$STORAGE" \
  "$master_hwm" "$slave_hwm" <<'PY'
import json, os, sys, time
raw, out, n, written, write_s, errors, clients, storage, mhwm, shwm = sys.argv[1:]
def load(name):
    try:
        with open(os.path.join(raw, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
ms = load("master-status-before.json")
cu = load("catchup.json")
rss = {}
with open(os.path.join(raw, "rss.txt")) as f:
    for line in f:
        parts = line.split()
        if len(parts) != 4 or not parts[2].isdigit():
            continue
        phase, _, m, s = parts
        d = rss.setdefault(phase, {"master_max_kb": 0, "slave_max_kb": 0, "master_last_kb": 0})
        d["master_max_kb"] = max(d["master_max_kb"], int(m))
        d["slave_max_kb"] = max(d["slave_max_kb"], int(s or 0))
        d["master_last_kb"] = int(m)
end = int(ms.get("binlog_end_position", 0) or 0)
oldest = int(ms.get("oldest_position", 0) or 0)
bbytes = int(ms.get("binlog_bytes", 0) or 0)
events_in_binlog = end - oldest + 1 if end and oldest else end
written, write_s = int(written), float(write_s)
doc = {
    "kind": "semisync scale",
    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "storage": storage,
    "n_requested": int(n),
    "events_written": written,
    "write_seconds": round(write_s, 3),
    "write_events_per_s": round(written / write_s, 1) if write_s else None,
    "write_errors": int(errors),
    "clients": int(clients),
    "binlog_end_position": end,
    "binlog_events": events_in_binlog,
    "binlog_bytes": bbytes,
    "binlog_bytes_per_event": round(bbytes / events_in_binlog, 1) if events_in_binlog else None,
    "catchup": cu,
    "catchup_events_per_s": cu.get("events_per_s"),
    "master_rss_mb": {p: round(v["master_max_kb"] / 1024, 1) for p, v in rss.items()},
    "slave_rss_mb": {p: round(v["slave_max_kb"] / 1024, 1) for p, v in rss.items()},
    "master_peak_rss_mb": round(int(mhwm or 0) / 1024, 1),
    "slave_peak_rss_mb": round(int(shwm or 0) / 1024, 1),
    "notes": "master_rss_mb / slave_rss_mb: largest VmRSS sampled every 0.2 s per phase (write: "
             "slave stopped, events being written; idle: N-event binlog, slave stopped; catchup: "
             "the slave streams and applies the backlog). *_peak_rss_mb: VmHWM at the end.",
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print()
print("semisync scale (%s storage): %d events written in %.1f s (%s events/s, %d clients, "
      "slave stopped)" % (storage, written, write_s, doc["write_events_per_s"], int(clients)))
print("  binlog: %d events, %d bytes, %s bytes/event" %
      (events_in_binlog, bbytes, doc["binlog_bytes_per_event"]))
print("  catch-up: %s events in %s s = %s events/s" %
      (cu.get("events"), cu.get("catchup_s"), cu.get("events_per_s")))
for phase in ("start", "write", "idle", "catchup", "after"):
    if phase in rss:
        print("  RSS %-8s master max %7.1f MB   slave max %7.1f MB" %
              (phase, rss[phase]["master_max_kb"] / 1024, rss[phase]["slave_max_kb"] / 1024))
print("  peak RSS (VmHWM): master %.1f MB, slave %.1f MB" %
      (doc["master_peak_rss_mb"], doc["slave_peak_rss_mb"]))
print("JSON: %s" % out)
PY
