#!/usr/bin/python3
"""Writes a record on the master, reads it back from a slave, and tails the binlog.

    client/python/generate.sh build/client/python/gen      # once (the build does it too)
    PYTHONPATH=build/client/python/gen:client/python /usr/bin/python3 client/python/example.py \
        [--master 127.0.0.1:50051] [--slave 127.0.0.1:50052]
"""
import argparse
import time

import grpc

from semisync.v1 import binlog_pb2
from semisync_client import Client


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="127.0.0.1:50051")
    parser.add_argument("--slave", default="127.0.0.1:50052")
    parser.add_argument("--content", default="hello from Python")
    args = parser.parse_args()

    with Client(args.master) as master, Client(args.slave) as slave:
        written = master.create_record(args.content)
        print("created record %d at %s (position %d, semi-sync acked: %s)" % (
            written.record.id, written.write.gtid, written.write.position,
            written.write.semi_sync_acked))

        # Replication is asynchronous to readers: poll the slave until it has applied the write.
        deadline = time.monotonic() + 30
        while True:
            try:
                record = slave.get_record(written.record.id)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        print("slave %s has it: %r" % (args.slave, record.content))

        print("the last binlog events:")
        start = max(0, written.write.position - 3)
        for event in master.tail_binlog(after_position=start, count=written.write.position - start):
            op = binlog_pb2.RowOp.Name(event.op).replace("ROW_OP_", "")
            print("  #%d %s %s id=%d %r" % (event.position, event.gtid, op, event.record.id,
                                            event.record.content))


if __name__ == "__main__":
    main()
