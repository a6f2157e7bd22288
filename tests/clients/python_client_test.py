#!/usr/bin/python3
"""The Python client (client/python) against a live cluster started by run_with_cluster.py.

Needs SEMISYNC_MASTER_ADDR / SEMISYNC_SLAVE_ADDR, and the generated code plus client/python on
PYTHONPATH (the CTest test sets both).
"""
import os
import subprocess
import sys
import threading
import time
import unittest

import grpc

from semisync.v1 import binlog_pb2
from semisync_client import Client

MASTER = os.environ.get("SEMISYNC_MASTER_ADDR", "")
SLAVE = os.environ.get("SEMISYNC_SLAVE_ADDR", "")
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "client", "python", "example.py")


def eventually(condition, timeout_s=30, what="condition"):
    """Polls condition() every 20 ms until it returns something other than None or False, and
    returns that; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value is not None and value is not False:
                return value
        except grpc.RpcError as e:
            last_error = e
        time.sleep(0.02)
    raise AssertionError("%s did not hold within %ss (last error: %s)" % (what, timeout_s,
                                                                         last_error))


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not MASTER or not SLAVE:
            raise unittest.SkipTest("run through run_with_cluster.py")
        cls.master = Client(MASTER)
        cls.slave = Client(SLAVE)

    @classmethod
    def tearDownClass(cls):
        cls.master.close()
        cls.slave.close()

    def test_record_created_on_master_is_read_back_from_slave(self):
        written = self.master.create_record("hello from Python")
        self.assertGreater(written.record.id, 0)
        self.assertTrue(written.write.semi_sync_acked)
        on_slave = eventually(lambda: self._get_or_none(self.slave, written.record.id),
                              what="the slave has the record")
        self.assertEqual(on_slave.content, "hello from Python")
        self.assertEqual(on_slave.created_at_us, written.record.created_at_us)
        self.assertIn(written.record.id, [r.id for r in self.slave.all_records()])

    def test_update_and_delete_replicate(self):
        rid = self.master.create_record("v1").record.id
        self.master.update_record(rid, "v2")
        eventually(lambda: self._content_on_slave(rid) == "v2", what="update replicated")
        self.master.delete_record(rid)
        eventually(lambda: self._get_or_none(self.slave, rid) is None, what="delete replicated")

    def test_tail_binlog_yields_the_written_events_without_acking(self):
        start = self.master.master_status().binlog_end_position
        contents = ["tail-a", "tail-b", "tail-c"]
        for c in contents:
            self.master.create_record(c)
        tail = self.master.tail_binlog(after_position=start, observer_id="python-test-observer")
        events = [next(tail) for _ in contents]
        self.assertEqual([e.record.content for e in events], contents)
        self.assertEqual([e.position for e in events], [start + 1, start + 2, start + 3])
        self.assertTrue(all(e.op == binlog_pb2.ROW_OP_INSERT for e in events))
        # While its stream is open the observer is listed, never acks and is no semi-sync client.
        status = self.master.master_status()
        observer = [s for s in status.slaves if s.slave_id == "python-test-observer"]
        self.assertEqual(len(observer), 1)
        self.assertFalse(observer[0].semi_sync)
        self.assertEqual(observer[0].acked_position, 0)
        self.assertEqual(status.semi_sync.clients, 1)  # only slave1 counts
        tail.close()  # cancels the stream: an asynchronous observer leaves the list with it
        eventually(lambda: not any(s.slave_id == "python-test-observer"
                                   for s in self.master.master_status().slaves),
                   what="the observer is gone once its stream closed")

    def test_tail_binlog_follows_live_writes(self):
        got = []
        tail = threading.Thread(target=lambda: got.extend(
            self.master.tail_binlog(count=2, observer_id="python-live-observer")), daemon=True)
        tail.start()
        eventually(lambda: any(s.slave_id == "python-live-observer" and s.connected
                               for s in self.master.master_status().slaves),
                   what="the tail is subscribed")
        self.master.create_record("live-1")
        self.master.create_record("live-2")
        tail.join(30)
        self.assertFalse(tail.is_alive())
        self.assertEqual([e.record.content for e in got], ["live-1", "live-2"])

    def test_write_on_slave_is_refused_with_failed_precondition(self):
        with self.assertRaises(grpc.RpcError) as ctx:
            self.slave.create_record("nope")
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)

    def test_status_of_master_and_slave(self):
        self.master.create_record("status")
        master = self.master.master_status()
        self.assertEqual(master.role, "master")
        self.assertTrue(master.semi_sync.status)
        def caught_up():
            status = self.slave.slave_status()
            return status if status.executed_position == master.binlog_end_position else None
        slave = eventually(caught_up, what="the slave catches up")
        self.assertEqual(slave.master_uuid, master.server_uuid)
        self.assertTrue(slave.io_running and slave.sql_running)

    def test_example_runs(self):
        out = subprocess.run([sys.executable, EXAMPLE, "--master", MASTER, "--slave", SLAVE],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("has it: 'hello from Python'", out.stdout)
        self.assertIn("INSERT", out.stdout)

    def _content_on_slave(self, record_id):
        record = self._get_or_none(self.slave, record_id)
        return None if record is None else record.content

    @staticmethod
    def _get_or_none(client, record_id):
        try:
            return client.get_record(record_id)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise


if __name__ == "__main__":
    unittest.main(verbosity=2)
