#!/usr/bin/python3
"""`buf curl` (the grpcurl of this suite) against a live cluster, with server reflection only.

    buf_curl_test.py BUF     (run through run_with_cluster.py, which sets SEMISYNC_*_ADDR)

Lists services and methods (grpc.health.v1.Health included: health.proto is compiled into the
servers), creates a record on the master and reads it back from the slave, reads both GetStatus
and the health of every service, and streams a few SubscribeBinlog events as a non-semi-sync
observer. Nothing but server reflection describes the schemas.
"""
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUF = sys.argv.pop(1) if len(sys.argv) > 1 else "buf"
MASTER = os.environ.get("SEMISYNC_MASTER_ADDR", "")
SLAVE = os.environ.get("SEMISYNC_SLAVE_ADDR", "")
# buf curl exits with the gRPC code times 8.
NOT_FOUND_EXIT = 5 * 8


def base_args():
    return [BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge"]


def curl(address, method, data=None, extra=()):
    args = base_args() + list(extra) + ["http://%s/%s" % (address, method)]
    if data is not None:
        args += ["-d", json.dumps(data)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def curl_json(address, method, data=None):
    out = curl(address, method, data)
    if out.returncode != 0:
        raise AssertionError("buf curl %s failed (%d): %s" % (method, out.returncode, out.stderr))
    return json.loads(out.stdout)


class BufCurlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not MASTER or not SLAVE:
            raise unittest.SkipTest("run through run_with_cluster.py")
        cls.tmp = tempfile.mkdtemp(prefix="buf-curl-")
        os.environ["BUF_CACHE_DIR"] = os.path.join(cls.tmp, "cache")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_list_services(self):
        for address, expected, absent in (
                (MASTER, ["semisync.v1.RecordsService", "semisync.v1.ReplicationService"],
                 "semisync.v1.SlaveService"),
                (SLAVE, ["semisync.v1.RecordsService", "semisync.v1.SlaveService"],
                 "semisync.v1.ReplicationService")):
            out = subprocess.run(base_args() + ["--list-services", "http://" + address],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            services = out.stdout.split()
            for s in expected + ["grpc.health.v1.Health"]:
                self.assertIn(s, services)
            self.assertNotIn(absent, services)

    def test_list_methods(self):
        # --list-methods describes every listed service through reflection, Health included.
        out = subprocess.run(base_args() + ["--list-methods", "http://" + MASTER],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        methods = out.stdout.split()
        for m in ("ListRecords", "GetRecord", "CreateRecord", "UpdateRecord", "DeleteRecord"):
            self.assertIn("semisync.v1.RecordsService/" + m, methods)
        for m in ("RegisterSlave", "SubscribeBinlog", "Ack", "GetBinlog", "GetStatus"):
            self.assertIn("semisync.v1.ReplicationService/" + m, methods)
        self.assertIn("grpc.health.v1.Health/Check", methods)

    def test_create_on_master_then_get_from_slave(self):
        written = curl_json(MASTER, "semisync.v1.RecordsService/CreateRecord",
                            {"content": "hello from buf curl"})
        rid = written["record"]["id"]
        self.assertTrue(written["write"]["semiSyncAcked"])
        deadline = time.monotonic() + 30
        while True:  # poll (with a deadline) until the slave has applied it
            out = curl(SLAVE, "semisync.v1.RecordsService/GetRecord", {"id": rid})
            if out.returncode == 0:
                break
            self.assertEqual(out.returncode, NOT_FOUND_EXIT, out.stderr)
            self.assertLess(time.monotonic(), deadline, "the slave never got record %s" % rid)
            time.sleep(0.05)
        self.assertEqual(json.loads(out.stdout)["content"], "hello from buf curl")
        # A write sent to the slave: FAILED_PRECONDITION (9), so buf exits with 72.
        out = curl(SLAVE, "semisync.v1.RecordsService/CreateRecord", {"content": "x"})
        self.assertEqual(out.returncode, 9 * 8, out.stderr)

    def test_get_status_on_master_and_slave(self):
        master = curl_json(MASTER, "semisync.v1.ReplicationService/GetStatus", {})
        self.assertEqual(master["role"], "master")
        slave = curl_json(SLAVE, "semisync.v1.SlaveService/GetStatus", {})
        self.assertEqual(slave["slaveId"], "slave1")
        self.assertEqual(slave["masterUuid"], master["serverUuid"])
        # The overall service "" and each role's named service (docs/operations.md); the
        # slave's follows replication, which may take a moment to connect.
        for address, service in ((MASTER, ""), (SLAVE, ""),
                                 (MASTER, "semisync.v1.ReplicationService"),
                                 (SLAVE, "semisync.v1.SlaveService")):
            deadline = time.monotonic() + 30
            while True:
                out = curl(address, "grpc.health.v1.Health/Check", {"service": service})
                self.assertEqual(out.returncode, 0, out.stderr)
                status = json.loads(out.stdout)["status"]
                if status == "SERVING" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(status, "SERVING", "%s health %r" % (address, service))

    def test_subscribe_binlog_streams_events(self):
        start = int(curl_json(MASTER, "semisync.v1.ReplicationService/GetStatus",
                              {})["binlogEndPosition"])
        for i in range(3):
            curl_json(MASTER, "semisync.v1.RecordsService/CreateRecord", {"content": "ev%d" % i})
        observer = "buf-curl-observer"
        curl_json(MASTER, "semisync.v1.ReplicationService/RegisterSlave",
                  {"slave_id": observer, "semi_sync": False})
        args = base_args() + ["http://%s/semisync.v1.ReplicationService/SubscribeBinlog" % MASTER,
                              "-d", json.dumps({"slave_id": observer, "after_position": start})]
        with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
            try:
                events = read_events(proc, want=3, timeout_s=30)
                # While its stream is open the observer is listed (an asynchronous observer
                # leaves the list with its stream).
                status = curl_json(MASTER, "semisync.v1.ReplicationService/GetStatus", {})
            finally:
                proc.kill()
        self.assertGreaterEqual(len(events), 3)
        self.assertEqual([int(e["position"]) for e in events[:3]],
                         [start + 1, start + 2, start + 3])
        self.assertEqual([e["record"]["content"] for e in events[:3]], ["ev0", "ev1", "ev2"])
        self.assertTrue(all(e["op"] == "ROW_OP_INSERT" for e in events[:3]))
        # The observer was listed, not semi-sync, and never acked.
        entry = [s for s in status.get("slaves", []) if s["slaveId"] == observer][0]
        self.assertFalse(entry.get("semiSync", False))
        self.assertEqual(int(entry.get("ackedPosition", "0")), 0)


def read_events(proc, want, timeout_s):
    """Reads buf's stream of pretty-printed JSON messages until `want` binlog events arrived."""
    decoder = json.JSONDecoder()
    buffer, events = "", []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while len(events) < want and time.monotonic() < deadline:
        if not sel.select(timeout=deadline - time.monotonic()):
            break
        chunk = os.read(proc.stdout.fileno(), 65536).decode()
        if not chunk:
            break
        buffer += chunk
        while True:
            stripped = buffer.lstrip()
            try:
                message, end = decoder.raw_decode(stripped)
            except json.JSONDecodeError:
                break  # incomplete: wait for more
            buffer = stripped[end:]
            events.extend(message.get("events", []))
    return events


if __name__ == "__main__":
    unittest.main(verbosity=2)
