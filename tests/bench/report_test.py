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


class CompareReportTest(unittest.TestCase):
    def test_report_from_raw_results_of_two_rounds(self):
        with tempfile.TemporaryDirectory() as raw:
            for rnd, ops in ((1, 6000.0), (2, 8000.0), (3, 7000.0)):
                name = "ours-sqlite-insert-16-r%d" % rnd
                with open(os.path.join(raw, name + ".meta.json"), "w") as f:
                    json.dump({"system": "ours-sqlite", "workload": "insert", "clients": 16,
                               "round": rnd}, f)
                load = {"ops_per_s": ops, "writes_per_s": ops, "ops": int(ops * 20),
                        "seconds": 20.0, "errors": 0, "acked": int(ops * 20), "catchup_s": 0.004}
                for k in ("op", "write", "read"):
                    load.update({"%s_p50_ms" % k: 2.0, "%s_p95_ms" % k: 3.0,
                                 "%s_p99_ms" % k: 4.0})
                load.update({"lag_samples": 100, "lag_timeouts": 0, "lag_p50_ms": 1.0,
                             "lag_p95_ms": 1.5, "lag_p99_ms": 2.0, "lag_max_ms": 3.0})
                with open(os.path.join(raw, name + ".load.json"), "w") as f:
                    json.dump(load, f)
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


if __name__ == "__main__":
    unittest.main()
