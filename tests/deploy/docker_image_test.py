#!/usr/bin/python3
"""deploy/Dockerfile and deploy/semisync-entrypoint.sh, offline (no Docker engine here):

- the Dockerfile has the documented shape: a debian:12 build stage and a debian:12-slim runtime
  stage, both installing through scripts/install_deps.sh, a non-root user, the three binaries;
- every shared library the built binaries load comes from scripts/packages-runtime.txt or the
  packages those depend on (so the slim image can run them);
- the entrypoint turns the pod's environment into the right flags (slave id = pod name, database
  per pod, password in a private flag file), and the real binaries start through it with the
  ConfigMap's flag files (deploy/k8s/base/flags).

    docker_image_test.py REPO_ROOT MASTER_BIN SLAVE_BIN CTL_BIN
"""
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

ROOT, MASTER_BIN, SLAVE_BIN, CTL_BIN = [os.path.abspath(a) for a in sys.argv[1:5]]
del sys.argv[1:5]
ENTRYPOINT = os.path.join(ROOT, "deploy", "semisync-entrypoint.sh")
FLAGS_DIR = os.path.join(ROOT, "deploy", "k8s", "base", "flags")
# Present in every Debian image (Essential or required by apt), not listed in the runtime list.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def read_list(name):
    with open(os.path.join(ROOT, "scripts", name)) as f:
        return [p for p in (re.sub(r"#.*", "", line).strip() for line in f) if p]


def dockerfile_stages():
    """[(FROM line, [(INSTRUCTION, args), ...]), ...] with continuation lines joined."""
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append((args.strip(), []))
        else:
            stages[-1][1].append((instruction.upper(), " ".join(args.split())))
    return stages


def installed_depends():
    """{package: set of packages it depends on} for every installed package."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Depends}, ${Pre-Depends}\n"],
                         capture_output=True, text=True, check=True).stdout
    graph = {}
    for line in out.splitlines():
        pkg, _, deps = line.partition("\t")
        names = set()
        for dep in deps.split(","):
            for alternative in dep.split("|"):
                name = alternative.strip().split(" ")[0].split(":")[0]
                if name:
                    names.add(name)
        graph[pkg] = names
    return graph


class DockerfileTest(unittest.TestCase):
    def test_two_stages_on_debian_12(self):
        stages = dockerfile_stages()
        self.assertEqual([s[0] for s in stages], ["debian:12 AS build", "debian:12-slim AS runtime"])

    def test_both_stages_install_through_install_deps(self):
        build, runtime = [s[1] for s in dockerfile_stages()]
        build_runs = " ".join(a for i, a in build if i == "RUN")
        runtime_runs = " ".join(a for i, a in runtime if i == "RUN")
        self.assertIn("bash scripts/install_deps.sh &&", build_runs)
        self.assertIn("install_deps.sh --runtime", runtime_runs)
        self.assertNotIn("apt-get install", build_runs + runtime_runs)  # only via the script
        for instruction, args in build + runtime:
            if instruction == "COPY" and not args.startswith("--from"):
                for src in args.split()[:-1]:
                    if src != ".":
                        self.assertTrue(os.path.exists(os.path.join(ROOT, src)), src)

    def test_runtime_stage_runs_the_entrypoint_as_non_root_with_all_binaries(self):
        build, runtime = [s[1] for s in dockerfile_stages()]
        build_runs = " ".join(a for i, a in build if i == "RUN")
        for target in ("semisync_master", "semisync_slave", "semisyncctl"):
            self.assertIn(target, build_runs.split("--target")[1].split("&&")[0])
            self.assertRegex(build_runs, r"install -D .*/%s" % target)
        self.assertIn("deploy/semisync-entrypoint.sh /out/usr/local/bin/semisync-entrypoint",
                      build_runs)
        self.assertIn(("COPY", "--from=build /out/ /"), runtime)
        users = [a for i, a in runtime if i == "USER"]
        self.assertEqual(len(users), 1)
        user = users[0].split(":")[0]
        self.assertTrue(user.isdigit() and int(user) != 0, user)
        self.assertEqual(runtime[-1], ("CMD", '["master"]'))
        self.assertIn(("ENTRYPOINT", '["/usr/local/bin/semisync-entrypoint"]'), runtime)


class RuntimePackagesTest(unittest.TestCase):
    def test_package_lists_name_installed_packages(self):
        graph = installed_depends()
        for name in ("packages.txt", "packages-runtime.txt"):
            for p in read_list(name):
                if p in ("nodejs", "npm"):
                    continue  # kept from the machine image when already there (install_deps.sh)
                self.assertIn(p, graph, "%s lists %s, which is not installed" % (name, p))

    def test_every_loaded_library_comes_from_the_runtime_list(self):
        graph = installed_depends()
        allowed, todo = set(), set(read_list("packages-runtime.txt")) | BASE_PACKAGES
        while todo:
            p = todo.pop()
            if p not in allowed:
                allowed.add(p)
                todo |= graph.get(p, set())
        # SOCI dlopen()s its backends (invisible to ldd): sqlite3:// and mysql://.
        self.assertIn("libsoci-sqlite3-4.0", allowed)
        self.assertIn("libsoci-mysql4.0", allowed)
        loaded = {}  # library path -> the binary that loads it
        for binary in (MASTER_BIN, SLAVE_BIN, CTL_BIN):
            ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
            libs = re.findall(r"=> (/\S+)", ldd.stdout)
            self.assertTrue(libs, ldd.stdout)
            for lib in libs:
                loaded[os.path.realpath(lib)] = os.path.basename(binary)
        # One dpkg -S for all ("package: path" lines); merged /usr: try the path without /usr.
        owners = {}
        queries = sorted(loaded) + sorted(p[4:] for p in loaded if p.startswith("/usr/"))
        out = subprocess.run(["dpkg", "-S"] + queries, capture_output=True, text=True)
        for line in out.stdout.splitlines():
            package, _, path = line.partition(": ")
            owners[path] = package.split(":")[0]
        for path, binary in sorted(loaded.items()):
            package = owners.get(path) or owners.get(path[4:])
            self.assertIsNotNone(package, "no package owns %s" % path)
            self.assertIn(package, allowed, "%s loads %s from %s: add that package to "
                          "scripts/packages-runtime.txt" % (binary, path, package))


class EntrypointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="entrypoint-")
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        # Fake nodes: print one argument per line; --helpfull mentions http_port when HAS_HTTP.
        for name in ("semisync_master", "semisync_slave"):
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write('#!/bin/sh\n'
                        'if [ "$1" = --helpfull ]; then\n'
                        '  [ -n "$HAS_HTTP" ] && echo "    -http_port (HTTP port) type: int32"'
                        ' && echo "    -http_bind_address (HTTP address) type: string"\n'
                        '  exit 1\nfi\n'
                        'for a in "$@"; do echo "$a"; done\n')
            os.chmod(path, stat.S_IRWXU)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_entrypoint(self, args, **env):
        full = {"PATH": os.environ["PATH"], "TMPDIR": self.tmp, "SEMISYNC_BIN_DIR": self.bin,
                "SEMISYNC_FLAGS_DIR": FLAGS_DIR, "SEMISYNC_DATA_DIR": self.tmp + "/data"}
        full.update(env)
        return subprocess.run(["bash", ENTRYPOINT] + args, env=full, capture_output=True,
                              text=True, timeout=30)

    def test_slave_id_and_database_come_from_the_pod_name(self):
        out = self.run_entrypoint(["slave", "--extra=1"], POD_NAME="semisync-slave-1",
                                  POD_NAMESPACE="semisync", DB_HOST="mariadb", DB_USER="u",
                                  DB_PASSWORD="p w")
        self.assertEqual(out.returncode, 0, out.stderr)
        args = out.stdout.splitlines()
        self.assertIn("--id=semisync-slave-1", args)
        self.assertIn("--master=semisync-master:50051", args)
        self.assertIn("--grpc_port=50052", args)
        self.assertIn("--advertise_address=semisync-slave-1.semisync-slave.semisync.svc:50052",
                      args)
        self.assertIn("--flagfile=%s/slave.flags" % FLAGS_DIR, args)
        self.assertIn("--logtostderr=true", args)
        self.assertEqual(args[-1], "--extra=1")
        self.assertNotIn("p w", out.stdout)  # the password is not on the command line
        db_files = [a.split("=", 1)[1] for a in args
                    if a.startswith("--flagfile=") and "semisync-db." in a]
        self.assertEqual(len(db_files), 1, args)
        self.assertEqual(stat.S_IMODE(os.stat(db_files[0]).st_mode), 0o600)
        with open(db_files[0]) as f:
            self.assertEqual(f.read(), "--db=mysql://host=mariadb port=3306 db=semisync_slave_1 "
                                       "user=u password='p w'\n")

    def test_slave_needs_a_pod_name(self):
        out = self.run_entrypoint(["slave"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("POD_NAME", out.stderr)

    def test_unusable_database_settings_are_refused(self):
        out = self.run_entrypoint(["master"], DB_HOST="db", DB_PASSWORD="it's")
        self.assertEqual(out.returncode, 1)
        self.assertIn("single quote", out.stderr)
        out = self.run_entrypoint(["master"], DB_HOST="db", DB_NAME="no spaces")
        self.assertEqual(out.returncode, 1)
        self.assertIn("database name", out.stderr)

    def test_empty_db_host_means_sqlite(self):
        out = self.run_entrypoint(["master"], POD_NAME="semisync-master-0", DB_HOST="")
        self.assertEqual(out.returncode, 0, out.stderr)
        args = out.stdout.splitlines()
        self.assertIn("--grpc_port=50051", args)
        self.assertFalse([a for a in args if "semisync-db." in a or a.startswith("--db")], args)

    def test_http_flags_only_when_the_binary_has_them(self):
        out = self.run_entrypoint(["master"], HTTP_PORT="8080", BIND_ADDRESS="127.0.0.1")
        args = out.stdout.splitlines()
        self.assertIn("--bind_address=127.0.0.1", args)
        self.assertFalse([a for a in args if a.startswith("--http_")], args)
        out = self.run_entrypoint(["master"], HTTP_PORT="8080", BIND_ADDRESS="127.0.0.1",
                                  HAS_HTTP="1")
        args = out.stdout.splitlines()
        self.assertIn("--http_port=8080", args)
        self.assertIn("--http_bind_address=127.0.0.1", args)

    def test_other_commands_run_as_given(self):
        out = self.run_entrypoint(["echo", "semisyncctl", "ok"])
        self.assertEqual(out.stdout, "semisyncctl ok\n")

    def test_real_nodes_start_with_the_configmap_flag_files(self):
        bindir = os.path.join(self.tmp, "real")
        os.mkdir(bindir)
        os.symlink(MASTER_BIN, os.path.join(bindir, "semisync_master"))
        os.symlink(SLAVE_BIN, os.path.join(bindir, "semisync_slave"))
        procs = []
        try:
            ports = {}
            for role, env in (("master", {"POD_NAME": "semisync-master-0"}),
                              ("slave", {"POD_NAME": "semisync-slave-0"})):
                port_file = os.path.join(self.tmp, role + ".port")
                if role == "slave":
                    env["MASTER_ADDRESS"] = "127.0.0.1:%d" % ports["master"]
                full = {"PATH": os.environ["PATH"], "TMPDIR": self.tmp,
                        "SEMISYNC_BIN_DIR": bindir, "SEMISYNC_FLAGS_DIR": FLAGS_DIR,
                        "SEMISYNC_DATA_DIR": os.path.join(self.tmp, role), "GRPC_PORT": "0",
                        "HTTP_PORT": "0", "BIND_ADDRESS": "127.0.0.1", **env}
                log = open(os.path.join(self.tmp, role + ".log"), "w")
                procs.append((subprocess.Popen(
                    ["bash", ENTRYPOINT, role, "--port_file=" + port_file], env=full,
                    stdout=log, stderr=log), log))
                ports[role] = self.wait_port(port_file, procs[-1][0], role)
            status = subprocess.run(
                [CTL_BIN, "--slave=127.0.0.1:%d" % ports["slave"], "status", "slave"],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(status.returncode, 0, status.stderr)
            self.assertRegex(status.stdout, r"slave_id +semisync-slave-0")
        finally:
            for proc, log in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                log.close()
        for proc, _ in procs:
            self.assertEqual(proc.returncode, 0)

    def wait_port(self, port_file, proc, role):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    for line in f:
                        if line.startswith("grpc_port="):
                            return int(line.split("=")[1])
            if proc.poll() is not None:
                break
            time.sleep(0.02)  # polling a file with a deadline
        with open(os.path.join(self.tmp, role + ".log")) as f:
            self.fail("%s did not start through the entrypoint:\n%s" % (role, f.read()[-3000:]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
