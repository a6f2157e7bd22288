#!/usr/bin/env python3
"""Turns the raw results of bench/compare.sh and bench/scale.sh into a table and a JSON file.

Standard library only.

  report.py compare RAW_DIR --out FILE.json [--duration S] [--command CMD]
  report.py sysbench FILE.txt        (prints what it parsed from one sysbench output, as JSON)

RAW_DIR holds, per point and round NAME (e.g. ours-sqlite-insert-16-r1, native-mixed-16-r2):
  NAME.meta.json       {"system", "workload", "clients", "round"}
  NAME.cpu.json        {"master": s, "slave": s, ...}: CPU seconds of each process during the point
  ours:   NAME.load.json      semisync_load --json (throughput, latency, lag, catch-up)
  native: NAME.sysbench.txt   sysbench --histogram=on output
          NAME.lag.json       semisync_mysql_lag --mode=probe
          NAME.catchup.json   semisync_mysql_lag --mode=catchup
With several rounds of a point, the report keeps the round with the median tx/s.
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

WORKLOAD_ORDER = {"insert": 0, "mixed": 1}
SYSTEM_ORDER = {"ours-sqlite": 0, "ours-mariadb": 1, "native": 2}


def load_json(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def histogram_percentile(hist, p):
    """Nearest-rank percentile of [(value_ms, count)] sorted by value."""
    total = sum(c for _, c in hist)
    if total == 0:
        return None
    rank = max(1, math.ceil(p / 100.0 * total))
    seen = 0
    for value, count in hist:
        seen += count
        if seen >= rank:
            return value
    return hist[-1][0]


def parse_sysbench(text):
    """Throughput and latency percentiles of one `sysbench ... --histogram=on run` output."""
    out = {}
    m = re.search(r"transactions:\s+(\d+)\s+\(([\d.]+) per sec", text)
    if m:
        out["transactions"] = int(m.group(1))
        out["tx_per_s"] = float(m.group(2))
    m = re.search(r"ignored errors:\s+(\d+)", text)
    out["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"total time:\s+([\d.]+)s", text)
    if m:
        out["seconds"] = float(m.group(1))
    for key in ("read", "write"):
        m = re.search(r"^\s+%s:\s+(\d+)" % key, text, re.M)
        if m:
            out[key + "s"] = int(m.group(1))
    hist = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d.]+)\s+\|\**\s+(\d+)\s*$", line)
        if m:
            hist.append((float(m.group(1)), int(m.group(2))))
    hist.sort()
    for p in (50, 95, 99):
        v = histogram_percentile(hist, p)
        if v is not None:
            out["p%d_ms" % p] = v
    if not hist:  # no histogram: sysbench's own summary (avg and the --percentile one)
        m = re.search(r"(\d+)th percentile:\s+([\d.]+)", text)
        if m:
            out["p%s_ms" % m.group(1)] = float(m.group(2))
    return out


def point_from_raw(raw, name):
    meta = load_json(os.path.join(raw, name + ".meta.json"))
    if meta is None:
        return None
    pt = dict(meta)
    pt["name"] = name
    cpu = load_json(os.path.join(raw, name + ".cpu.json")) or {}
    if meta["system"].startswith("ours"):
        r = load_json(os.path.join(raw, name + ".load.json"))
        if r is None:
            pt["error"] = "no result (load generator failed)"
            return pt
        pt.update({
            "tx_per_s": r["ops_per_s"],
            "writes_per_s": r["writes_per_s"],
            "transactions": r["ops"],
            "seconds": r["seconds"],
            # All operations (in the mixed workload reads and writes, like sysbench's events).
            "p50_ms": r["op_p50_ms"], "p95_ms": r["op_p95_ms"], "p99_ms": r["op_p99_ms"],
            "write_p50_ms": r["write_p50_ms"], "write_p95_ms": r["write_p95_ms"],
            "write_p99_ms": r["write_p99_ms"],
            "read_p50_ms": r["read_p50_ms"], "read_p95_ms": r["read_p95_ms"],
            "read_p99_ms": r["read_p99_ms"],
            "lag_samples": r["lag_samples"], "lag_timeouts": r["lag_timeouts"],
            "lag_p50_ms": r["lag_p50_ms"], "lag_p95_ms": r["lag_p95_ms"],
            "lag_p99_ms": r["lag_p99_ms"], "lag_max_ms": r["lag_max_ms"],
            "catchup_s": r["catchup_s"] if r["catchup_s"] >= 0 else None,
            "errors": r["errors"],
            "semi_sync_acked": r["acked"],
        })
        if r.get("last_error"):
            pt["last_error"] = "%s: %s" % (r.get("last_error_code"), r["last_error"])
    else:
        try:
            with open(os.path.join(raw, name + ".sysbench.txt")) as f:
                sb = parse_sysbench(f.read())
        except OSError:
            sb = {}
        if "tx_per_s" not in sb:
            pt["error"] = "no sysbench result"
            return pt
        pt.update(sb)
        lag = load_json(os.path.join(raw, name + ".lag.json")) or {}
        for k in ("lag_samples", "lag_timeouts", "lag_p50_ms", "lag_p95_ms", "lag_p99_ms",
                  "lag_max_ms", "probe_writes"):
            if k in lag:
                pt[k] = lag[k]
        cu = load_json(os.path.join(raw, name + ".catchup.json")) or {}
        pt["catchup_s"] = cu.get("catchup_s") if cu.get("reached") else None
    pt["cpu_s"] = cpu
    tx = pt.get("transactions") or 0
    if tx:
        pt["cpu_us_per_tx"] = {k: round(v * 1e6 / tx, 1) for k, v in cpu.items()}
    return pt


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


RATIO_KEYS = ("tx_per_s", "p50_ms", "p95_ms", "p99_ms", "lag_p50_ms", "lag_p99_ms", "catchup_s")


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return "%.0f" % v
        return ("%." + str(digits) + "f") % v
    return str(v)


def print_table(points):
    head = ("workload", "cl", "system", "tx/s", "p50ms", "p95ms", "p99ms", "lag50", "lag99",
            "catchup_s", "x tx/s", "x rnd", "x p50", "cpu us/tx (m/s/db/cl)")
    rows = [head]
    for pt in points:
        if "error" in pt:
            rows.append((pt["workload"], str(pt["clients"]), pt["system"], "ERROR: " + pt["error"])
                        + ("",) * (len(head) - 4))
            continue
        r = pt.get("ratio_vs_native", {})
        cpu = pt.get("cpu_us_per_tx", {})
        cpu_s = "/".join(fmt(cpu.get(k), 0) for k in ("master", "slave", "storage", "client")
                         if k in cpu)
        rows.append((pt["workload"], str(pt["clients"]), pt["system"], fmt(pt.get("tx_per_s"), 0),
                     fmt(pt.get("p50_ms")), fmt(pt.get("p95_ms")), fmt(pt.get("p99_ms")),
                     fmt(pt.get("lag_p50_ms")), fmt(pt.get("lag_p99_ms")),
                     fmt(pt.get("catchup_s"), 3),
                     fmt(r.get("tx_per_s")), fmt(r.get("tx_per_s_median_of_rounds")),
                     fmt(r.get("p50_ms")), cpu_s))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.rjust(w) if j >= 3 else c.ljust(w)
                               for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def paired_round_ratios(p, ref):
    """ours / native tx/s round by round. The systems run in turn at each point of a round, so
    a round's runs are minutes apart at most while rounds are further apart; on a machine whose
    speed drifts, the median of these paired ratios is steadier than the ratio of the median
    rounds. Empty unless both have every round."""
    a, b = p.get("rounds_tx_per_s") or [], ref.get("rounds_tx_per_s") or []
    if len(a) < 2 or len(a) != len(b) or any(x is None or y in (None, 0) for x, y in zip(a, b)):
        return []
    return [x / y for x, y in zip(a, b)]


def median_rounds(points):
    """One point per (system, workload, clients): the round with the median tx/s (the lower
    middle one for an even count), with every round's tx/s in rounds_tx_per_s."""
    groups = {}
    for p in points:
        groups.setdefault((p["system"], p["workload"], p["clients"]), []).append(p)
    out = []
    for key, group in groups.items():
        ok = sorted((p for p in group if "error" not in p), key=lambda p: p["tx_per_s"])
        chosen = dict(ok[(len(ok) - 1) // 2]) if ok else dict(group[0])
        chosen["rounds_tx_per_s"] = [p.get("tx_per_s") for p in
                                     sorted(group, key=lambda p: p.get("round", 1))]
        chosen["rounds_failed"] = len(group) - len(ok)
        out.append(chosen)
    return out


def cmd_compare(args):
    names = sorted({os.path.basename(p)[:-len(".meta.json")]
                    for p in glob.glob(os.path.join(args.raw, "*.meta.json"))})
    points = median_rounds([p for p in (point_from_raw(args.raw, n) for n in names) if p])
    points.sort(key=lambda p: (WORKLOAD_ORDER.get(p["workload"], 9), p["clients"],
                               SYSTEM_ORDER.get(p["system"], 9)))
    native = {(p["workload"], p["clients"]): p for p in points
              if p["system"] == "native" and "error" not in p}
    for p in points:
        ref = native.get((p["workload"], p["clients"]))
        if p["system"] != "native" and ref and "error" not in p:
            p["ratio_vs_native"] = {k: ratio(p.get(k), ref.get(k)) for k in RATIO_KEYS}
            by_round = paired_round_ratios(p, ref)
            if by_round:
                p["ratio_vs_native"]["tx_per_s_by_round"] = by_round
                p["ratio_vs_native"]["tx_per_s_median_of_rounds"] = statistics.median(by_round)
    try:
        mariadb_version = subprocess.run(["mariadbd", "--version"], capture_output=True,
                                         text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        mariadb_version = ""
    # Our nodes' own view at the end of each system's run (semi-sync counters, positions).
    status = {}
    for path in sorted(glob.glob(os.path.join(args.raw, "ours-*.*-status.json"))):
        base = os.path.basename(path)[:-len("-status.json")]
        system, role = base.rsplit(".", 1)
        st = load_json(path)
        if st is not None:
            st.pop("slaves", None)
            status.setdefault(system, {})[role] = st
    doc = {
        "kind": "semisync compare",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": args.command,
        "duration_s": args.duration,
        "host": {"cpus": os.cpu_count(), "loadavg_at_report": os.getloadavg(),
                 "kernel": platform.release(), "mariadb": mariadb_version},
        "notes": {
            "tx_per_s": "ours: successful operations / wall time (semisync_load); native: "
                        "sysbench transactions per second (one event = one statement)",
            "latency": "per operation as seen by the client, ms; insert = commit latency; "
                       "mixed = reads and writes together (ours: write-only in write_p*_ms)",
            "lag": "ms from a sampled write's acknowledgement until it is readable on the "
                   "slave (ours: load writes sampled every LAG_SAMPLE_MS, GetRecord on the "
                   "slave; native: one probe INSERT every LAG_SAMPLE_MS on its own connection, "
                   "SELECT by id on the replica); polled every 0.5 ms",
            "catchup_s": "s from the end of the load until the slave applied the master's end "
                         "position (ours: executed_position >= binlog_end_position; native: "
                         "MASTER_GTID_WAIT(@@gtid_binlog_pos))",
            "ratio_vs_native": "ours / native at the same workload and clients (of the median "
                               "rounds); tx_per_s_by_round: ours / native within each round, "
                               "tx_per_s_median_of_rounds: their median",
            "rounds": "each point ran ROUNDS times on every system, the systems in turn at each "
                      "point; a point reports its round with the median tx/s, rounds_tx_per_s "
                      "lists every round",
            "cpu_us_per_tx": "CPU (user+sys) microseconds per transaction of each process; "
                             "client: the load generator (ours, with its lag poller and the "
                             "catch-up wait) or sysbench (native; its lag probe not counted)",
        },
        "points": points,
        "ours_status_at_end": status,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print()
    print("semisync vs MariaDB native semi-sync, %s s per point (%s)" %
          (args.duration, doc["timestamp"]))
    print(print_table(points))
    print("x tx/s, x p50: ours / native at the same point (tx/s: higher is better; p50: lower).")
    print("x rnd: median over rounds of ours / native tx/s within each round (with ROUNDS >= 2).")
    print("cpu us/tx: CPU microseconds per transaction of master / slave / storage MariaDB / "
          "client (semisync_load with its lag poller; sysbench, without the lag probe).")
    print("JSON: %s" % args.out)
    return 0


def cmd_sysbench(args):
    with open(args.file) as f:
        print(json.dumps(parse_sysbench(f.read()), indent=1))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("raw")
    c.add_argument("--out", required=True)
    c.add_argument("--duration", type=float, default=None)
    c.add_argument("--command", default="")
    c.set_defaults(func=cmd_compare)
    s = sub.add_parser("sysbench")
    s.add_argument("file")
    s.set_defaults(func=cmd_sysbench)
    args = ap.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
