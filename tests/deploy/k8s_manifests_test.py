#!/usr/bin/python3
"""deploy/k8s, offline: every kustomization renders, passes yamllint, and every rendered object
passes the schema check of k8s_schema.py (python3-kubernetes models); the workloads have what the
issue asks for (gRPC health probes, resources, non-root, PVCs, the slave id from the pod name), and
every name they refer to exists.

    k8s_manifests_test.py REPO_ROOT
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

import k8s_schema

ROOT = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
YAMLLINT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "yamllint.yaml")
WORKLOADS = ("StatefulSet", "Deployment", "DaemonSet")


def kustomizations():
    """Every directory under deploy/k8s whose kustomization.yaml is a Kustomization (components
    are built only as part of one), relative to deploy/k8s."""
    found = []
    for dirpath, _, files in os.walk(K8S):
        if "kustomization.yaml" in files:
            with open(os.path.join(dirpath, "kustomization.yaml")) as f:
                if yaml.safe_load(f).get("kind", "Kustomization") == "Kustomization":
                    found.append(os.path.relpath(dirpath, K8S))
    return sorted(found)


def render(rel):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, rel)], capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("kubectl kustomize %s failed:\n%s" % (rel, out.stderr))
    return out.stdout


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def containers(workload):
    return workload["spec"]["template"]["spec"]["containers"]


class K8sManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("kubectl") is None:
            raise AssertionError("kubectl is not on PATH (the machine images ship it)")
        cls.tmp = tempfile.mkdtemp(prefix="k8s-manifests-")
        cls.rendered = {rel: render(rel) for rel in kustomizations()}
        cls.objects = {rel: [o for o in yaml.safe_load_all(text) if o]
                       for rel, text in cls.rendered.items()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_renders_the_default_base_and_every_overlay(self):
        self.assertIn(".", self.rendered)  # `kubectl kustomize deploy/k8s`
        for rel in ("base", "overlays/external-db", "overlays/sqlite"):
            self.assertIn(rel, self.rendered)

    def test_yamllint_sources_and_rendered_output(self):
        files = []
        for rel, text in self.rendered.items():
            path = os.path.join(self.tmp, (rel.replace("/", "_") or "root") + ".rendered.yaml")
            with open(path, "w") as f:
                f.write(text)
            files.append(path)
        out = subprocess.run(["yamllint", "--strict", "-f", "parsable", "-c", YAMLLINT_CONFIG,
                              K8S] + files, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_every_rendered_object_matches_the_schema(self):
        for rel, objects in self.objects.items():
            for obj in objects:
                self.assertEqual(k8s_schema.validate(obj), [], rel)

    def test_schema_check_catches_misspelled_fields_types_and_missing_fields(self):
        master = [o for o in self.objects["base"] if o["kind"] == "StatefulSet" and
                  o["metadata"]["name"] == "semisync-master"][0]

        def mutated(change):
            obj = yaml.safe_load(yaml.safe_dump(master))
            change(obj)
            return k8s_schema.validate(obj)

        def typo(d, key, wrong):
            d[wrong] = d.pop(key)

        self.assertEqual(mutated(lambda o: None), [])
        pod = lambda o: o["spec"]["template"]["spec"]  # noqa: E731
        errors = mutated(lambda o: typo(o["spec"], "serviceName", "servicName"))
        self.assertTrue(any("spec.servicName: unknown field" in e for e in errors), errors)
        errors = mutated(lambda o: typo(containers(o)[0], "readinessProbe", "readinesProbe"))
        self.assertTrue(any("readinesProbe: unknown field" in e for e in errors), errors)
        errors = mutated(lambda o: typo(containers(o)[0]["livenessProbe"]["grpc"], "port", "prot"))
        self.assertTrue(any("grpc.prot: unknown field" in e for e in errors), errors)
        self.assertTrue(any("grpc.port: required field missing" in e for e in errors), errors)
        errors = mutated(lambda o: o["spec"].update(replicas="1"))
        self.assertTrue(any("spec.replicas: expected int" in e for e in errors), errors)
        errors = mutated(lambda o: pod(o).pop("containers"))
        self.assertTrue(any("containers: required field missing" in e for e in errors), errors)
        errors = mutated(lambda o: containers(o)[0].pop("name"))
        self.assertTrue(any("containers[0].name: required field missing" in e for e in errors),
                        errors)

    def test_yamllint_catches_bad_indentation(self):
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write("a:\n   b: 1\n")
        out = subprocess.run(["yamllint", "-c", YAMLLINT_CONFIG, path], capture_output=True)
        self.assertNotEqual(out.returncode, 0)

    def test_database_per_overlay(self):
        def db_config(objects):
            cm = [o for o in objects if o["kind"] == "ConfigMap" and
                  o["metadata"]["name"].startswith("semisync-db-")]
            self.assertEqual(len(cm), 1)
            return cm[0]["data"]

        def names(objects, kind):
            return {o["metadata"]["name"] for o in by_kind(objects, kind)}

        base = self.objects["base"]
        self.assertEqual(db_config(base)["host"], "mariadb")
        self.assertIn("mariadb", names(base, "StatefulSet"))
        self.assertIn("semisync-db-credentials", names(base, "Secret"))
        external = self.objects["overlays/external-db"]
        self.assertNotIn("mariadb", names(external, "StatefulSet"))
        self.assertNotIn("mariadb", names(external, "Service"))
        self.assertNotEqual(db_config(external)["host"], "mariadb")
        sqlite = self.objects["overlays/sqlite"]
        self.assertNotIn("mariadb", names(sqlite, "StatefulSet"))
        self.assertEqual(db_config(sqlite)["host"], "")
        self.assertEqual(names(sqlite, "Secret"), set())

    def test_workloads_have_probes_resources_and_run_as_non_root(self):
        for rel, objects in self.objects.items():
            for w in [o for o in objects if o["kind"] in WORKLOADS]:
                pod = w["spec"]["template"]["spec"]
                self.assertTrue(pod["securityContext"]["runAsNonRoot"], w["metadata"]["name"])
                for c in pod["containers"]:
                    what = "%s %s/%s" % (rel, w["metadata"]["name"], c["name"])
                    for kind in ("requests", "limits"):
                        self.assertEqual(set(c["resources"][kind]), {"cpu", "memory"}, what)
                    self.assertIn("readinessProbe", c, what)
                    self.assertIn("livenessProbe", c, what)
                    self.assertFalse(c["securityContext"]["allowPrivilegeEscalation"], what)

    def test_semisync_nodes_use_grpc_health_probes_pvcs_and_the_pod_name(self):
        for rel, objects in self.objects.items():
            sets = {o["metadata"]["name"]: o for o in by_kind(objects, "StatefulSet")}
            self.assertEqual(sets["semisync-master"]["spec"]["replicas"], 1, rel)
            self.assertGreaterEqual(sets["semisync-slave"]["spec"]["replicas"], 1, rel)
            for name in ("semisync-master", "semisync-slave"):
                s = sets[name]
                c = containers(s)[0]
                grpc_port = [p for p in c["ports"] if p["name"] == "grpc"][0]["containerPort"]
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    self.assertEqual(c[probe]["grpc"]["port"], grpc_port, (rel, name, probe))
                self.assertEqual(c["image"], "semisync:0.1.0")
                self.assertEqual([t["metadata"]["name"] for t in s["spec"]["volumeClaimTemplates"]],
                                 ["data"])
                mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
                self.assertEqual(mounts["data"], "/var/lib/semisync")
                env = {e["name"]: e for e in c["env"]}
                self.assertEqual(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"],
                                 "metadata.name")
            self.assertEqual(containers(sets["semisync-slave"])[0]["args"], ["slave"])
            self.assertEqual(containers(sets["semisync-master"])[0]["args"], ["master"])
            pdbs = by_kind(objects, "PodDisruptionBudget")
            self.assertEqual(len(pdbs), 1, rel)
            self.assertEqual(pdbs[0]["spec"]["selector"]["matchLabels"],
                             sets["semisync-slave"]["spec"]["selector"]["matchLabels"])

    def test_master_service_exposes_grpc_and_http_and_slaves_are_headless(self):
        for rel, objects in self.objects.items():
            services = {o["metadata"]["name"]: o for o in by_kind(objects, "Service")}
            ports = {p["name"]: p["port"] for p in services["semisync-master"]["spec"]["ports"]}
            self.assertEqual(ports, {"grpc": 50051, "http": 8080}, rel)
            self.assertEqual(services["semisync-slave"]["spec"]["clusterIP"], "None", rel)

    def test_every_reference_resolves(self):
        for rel, objects in self.objects.items():
            names = {(o["kind"], o["metadata"]["name"]) for o in objects}
            services = by_kind(objects, "Service")
            for w in [o for o in objects if o["kind"] in WORKLOADS]:
                wname = "%s: %s" % (rel, w["metadata"]["name"])
                labels = w["spec"]["template"]["metadata"]["labels"]
                selector = w["spec"]["selector"]["matchLabels"]
                self.assertTrue(selector.items() <= labels.items(), wname)
                self.assertEqual(w["metadata"]["namespace"], "semisync", wname)
                governing = [s for s in services
                             if s["metadata"]["name"] == w["spec"].get("serviceName")]
                self.assertEqual(len(governing), 1, wname)
                self.assertEqual(governing[0]["spec"].get("clusterIP"), "None", wname)
                pod = w["spec"]["template"]["spec"]
                for v in pod.get("volumes", []):
                    if "configMap" in v:
                        self.assertIn(("ConfigMap", v["configMap"]["name"]), names, wname)
                for c in pod["containers"]:
                    for e in c.get("env", []):
                        for ref_kind, key in (("ConfigMap", "configMapKeyRef"),
                                              ("Secret", "secretKeyRef")):
                            ref = e.get("valueFrom", {}).get(key)
                            if ref and not ref.get("optional"):
                                self.assertIn((ref_kind, ref["name"]), names, (wname, e["name"]))
            for s in services:
                selector = s["spec"]["selector"]
                pods = [o for o in objects if o["kind"] in WORKLOADS and
                        selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()]
                self.assertEqual(len(pods), 1, (rel, s["metadata"]["name"]))
                port_names = {p["name"] for c in containers(pods[0]) for p in c["ports"]}
                for p in s["spec"]["ports"]:
                    self.assertIn(p["targetPort"], port_names, (rel, s["metadata"]["name"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
