#!/usr/bin/env python3
"""bench/report.py: several rounds of a point become the round with the median tx/s, and the
compare report is written from raw results (standard library only)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench"))
import report  # noqa: E402  (bench/report.py)


# The lines of a sysbench run's output that report.py reads (tx/s filled in).
SYSBENCH = """SQL statistics:
    queries performed:
        read:                            0
        write:                           100
    transactions:                        100   (%.2f per sec.)
    ignored errors:                      0      (0.00 per sec.)
General statistics:
    total time:                          20.0010s
"""


def load_result(ops):
    """What semisync_load --json prints for a 20 s run at `ops` operations/s."""
    load = {"ops_per_s": ops, "writes_per_s": ops, "ops": int(ops * 20),
            "seconds": 20.0, "errors": 0, "acked": int(ops * 20), "catchup_s": 0.004}
    for k in ("op", "write", "read"):
        load.update({"%s_p50_ms" % k: 2.0, "%s_p95_ms" % k: 3.0, "%s_p99_ms" % k: 4.0})
    load.update({"lag_samples": 100, "lag_timeouts": 0, "lag_p50_ms": 1.0,
                 "lag_p95_ms": 1.5, "lag_p99_ms": 2.0, "lag_max_ms": 3.0})
    return load


def point(system, tx, rnd, clients=16, error=None):
    p = {"system": system, "workload": "insert", "clients": clients, "round": rnd,
         "tx_per_s": tx, "name": "%s-insert-%d-r%d" % (system, clients, rnd)}
    if error:
        p["error"] = error
        del p["tx_per_s"]
    return p


class MedianRoundsTest(unittest.TestCase):
    def test_picks_the_median_round_and_lists_all(self):
        out = report.median_rounds([point("native", 5000, 1), point("native", 3000, 2),
                                    point("native", 4000, 3)])
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0]["tx_per_s"], 4000)
        self.assertEqual(out[0]["round"], 3)
        self.assertEqual(out[0]["rounds_tx_per_s"], [5000, 3000, 4000])
        self.assertEqual(out[0]["rounds_failed"], 0)

    def test_even_count_takes_the_lower_middle_and_skips_failed_rounds(self):
        out = report.median_rounds([point("ours-sqlite", 9000, 1), point("ours-sqlite", 7000, 2),
                                    point("ours-sqlite", None, 3, error="no result")])
        self.assertEqual(out[0]["tx_per_s"], 7000)
        self.assertEqual(out[0]["rounds_failed"], 1)

    def test_points_stay_apart_by_system_and_clients(self):
        out = report.median_rounds([point("native", 1, 1, clients=1), point("native", 2, 1),
                                    point("ours-sqlite", 3, 1)])
        self.assertEqual(sorted((p["system"], p["clients"]) for p in out),
                         [("native", 1), ("native", 16), ("ours-sqlite", 16)])

    def test_all_rounds_failed_reports_the_error(self):
        out = report.median_rounds([point("native", None, 1, error="no sysbench result")])
        self.assertEqual(out[0]["error"], "no sysbench result")


class PairedRoundRatiosTest(unittest.TestCase):
    def test_ratio_within_each_round_and_their_median(self):
        # Native slowed down in round 2 (the machine did): the ratio of the median rounds says
        # 9000 / 5000 = 1.8, the rounds themselves 1.5, 1.5 and 1.6.
        ours = {"rounds_tx_per_s": [7500, 4500, 9000]}
        native = {"rounds_tx_per_s": [5000, 3000, 5625]}
        r = report.paired_round_ratios(ours, native)
        self.assertEqual([round(x, 3) for x in r], [1.5, 1.5, 1.6])

    def test_needs_every_round_of_both(self):
        self.assertEqual(report.paired_round_ratios({"rounds_tx_per_s": [1, 2]},
                                                    {"rounds_tx_per_s": [1, None]}), [])
        self.assertEqual(report.paired_round_ratios({"rounds_tx_per_s": [1, 2]},
                                                    {"rounds_tx_per_s": [1, 2, 3]}), [])
        self.assertEqual(report.paired_round_ratios({"rounds_tx_per_s": [1]},
                                                    {"rounds_tx_per_s": [1]}), [])


class CompareReportTest(unittest.TestCase):
    def test_report_from_raw_results_of_two_rounds(self):
        with tempfile.TemporaryDirectory() as raw:
            for rnd, ops in ((1, 6000.0), (2, 8000.0), (3, 7000.0)):
                name = "ours-sqlite-insert-16-r%d" % rnd
                with open(os.path.join(raw, name + ".meta.json"), "w") as f:
                    json.dump({"system": "ours-sqlite", "workload": "insert", "clients": 16,
                               "round": rnd}, f)
                with open(os.path.join(raw, name + ".load.json"), "w") as f:
                    json.dump(load_result(ops), f)
                with open(os.path.join(raw, name + ".cpu.json"), "w") as f:
                    json.dump({"master": ops * 20 * 100e-6, "slave": ops * 20 * 50e-6}, f)
            out = os.path.join(raw, "out", "compare.json")
            res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "report.py"),
                                  "compare", raw, "--out", out, "--duration", "20"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn("ours-sqlite", res.stdout)
            with open(out) as f:
                doc = json.load(f)
            self.assertEqual(len(doc["points"]), 1)
            pt = doc["points"][0]
            self.assertEqual(pt["tx_per_s"], 7000.0)
            self.assertEqual(pt["round"], 3)
            self.assertEqual(pt["rounds_tx_per_s"], [6000.0, 8000.0, 7000.0])
            self.assertEqual(pt["cpu_us_per_tx"], {"master": 100.0, "slave": 50.0})

    def test_report_pairs_rounds_with_native(self):
        with tempfile.TemporaryDirectory() as raw:
            for system, rounds in (("ours-sqlite", (9000.0, 4000.0, 8000.0)),
                                   ("native", (6000.0, 2000.0, 5000.0))):
                for rnd, ops in enumerate(rounds, 1):
                    name = "%s-insert-16-r%d" % (system, rnd)
                    with open(os.path.join(raw, name + ".meta.json"), "w") as f:
                        json.dump({"system": system, "workload": "insert", "clients": 16,
                                   "round": rnd}, f)
                    if system == "native":
                        with open(os.path.join(raw, name + ".sysbench.txt"), "w") as f:
                            f.write(SYSBENCH % ops)
                        continue
                    with open(os.path.join(raw, name + ".load.json"), "w") as f:
                        json.dump(load_result(ops), f)
            out = os.path.join(raw, "compare.json")
            res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "report.py"),
                                  "compare", raw, "--out", out],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(out) as f:
                doc = json.load(f)
            ours = [p for p in doc["points"] if p["system"] == "ours-sqlite"][0]
            r = ours["ratio_vs_native"]
            self.assertAlmostEqual(r["tx_per_s"], 8000.0 / 5000.0)
            self.assertEqual([round(x, 2) for x in r["tx_per_s_by_round"]], [1.5, 2.0, 1.6])
            self.assertAlmostEqual(r["tx_per_s_median_of_rounds"], 1.6)


if __name__ == "__main__":
    unittest.main()
