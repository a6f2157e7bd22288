#!/usr/bin/python3
"""Runs a command against a fresh local semisync cluster, then tears the cluster down.

    run_with_cluster.py --master-bin M --slave-bin S [--slaves N] -- COMMAND [ARGS...]

Starts one master and N slaves (default 1) on 127.0.0.1 with --grpc_port=0 and --port_file (never
the fixed default ports; the HTTP gateway, when the binaries have one, gets port 0 too), each in
a fresh temp dir with the embedded SQLite default, waits until every port file is written (the
nodes write it once serving), then runs COMMAND with

    SEMISYNC_MASTER_ADDR=127.0.0.1:<port>   SEMISYNC_SLAVE_ADDR=127.0.0.1:<port of slave1>
    SEMISYNC_SLAVE_ADDRS=<every slave, comma-separated>

and exits with COMMAND's exit code. The nodes get PR_SET_PDEATHSIG=SIGKILL, so they die with this
script even when it is killed; on a normal exit they get SIGTERM (SIGKILL after a deadline). On
failure the tail of each node's log is printed and the temp dir is kept.
"""
import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

START_DEADLINE_S = 30
STOP_DEADLINE_S = 15
PR_SET_PDEATHSIG = 1


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def gateway_flags(binary):
    """Port 0 and loopback for the HTTP gateway, when the binary has one (--http_port)."""
    out = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    wanted = {"http_port": "0", "http_bind_address": "127.0.0.1"}
    return ["--%s=%s" % (f, v) for f, v in wanted.items() if "-%s (" % f in text]


def read_port(port_file):
    try:
        with open(port_file) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                if key == "grpc_port" and value.isdigit():
                    return int(value)
    except FileNotFoundError:
        pass
    return 0


class Node:
    def __init__(self, name, binary, flags, work):
        self.name = name
        self.port_file = os.path.join(work, name + ".port")
        self.log_path = os.path.join(work, name + ".log")
        args = [binary, "--grpc_port=0", "--port_file=" + self.port_file,
                "--bind_address=127.0.0.1", "--data_dir=" + os.path.join(work, name),
                "--logtostderr=true"]
        args += gateway_flags(binary) + flags
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        self.port = 0

    def wait_serving(self):
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            self.port = read_port(self.port_file)
            if self.port:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s" % (self.name, self.proc.returncode))
            time.sleep(0.02)  # polling a file with a deadline, not a fixed wait
        raise RuntimeError("%s wrote no port file within %ds" % (self.name, START_DEADLINE_S))

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_tail(self, lines=30):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master-bin", required=True)
    parser.add_argument("--slave-bin", required=True)
    parser.add_argument("--slaves", type=int, default=1)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("missing COMMAND after --")

    work = tempfile.mkdtemp(prefix="semisync-clients-")
    nodes = []
    code = 1
    try:
        master = Node("master", args.master_bin, ["--heartbeat_period_ms=200"], work)
        nodes.append(master)
        master.wait_serving()
        for i in range(1, args.slaves + 1):
            slave = Node("slave%d" % i, args.slave_bin,
                         ["--id=slave%d" % i, "--master=" + master.address], work)
            nodes.append(slave)
            slave.wait_serving()
        env = dict(os.environ)
        env["SEMISYNC_MASTER_ADDR"] = master.address
        env["SEMISYNC_SLAVE_ADDR"] = nodes[1].address if len(nodes) > 1 else ""
        env["SEMISYNC_SLAVE_ADDRS"] = ",".join(n.address for n in nodes[1:])
        env["SEMISYNC_TEST_TMPDIR"] = work
        print("cluster: master %s, slaves %s" % (master.address, env["SEMISYNC_SLAVE_ADDRS"]),
              flush=True)
        code = subprocess.run(command, env=env).returncode
    except Exception as e:  # a node failed to start
        print("run_with_cluster: %s" % e, file=sys.stderr)
        code = 1
    finally:
        for node in reversed(nodes):
            node.stop()
        crashed = [n.name for n in nodes if n.proc.returncode not in (0, -signal.SIGTERM)]
        if crashed:
            print("run_with_cluster: nodes did not stop cleanly: %s" % crashed, file=sys.stderr)
            code = code or 1
        if code != 0:
            for n in nodes:
                print("---- %s log (%s), last lines:\n%s" % (n.name, n.log_path, n.log_tail()),
                      file=sys.stderr)
            print("run_with_cluster: kept %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
