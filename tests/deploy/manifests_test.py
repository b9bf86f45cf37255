#!/usr/bin/env python3
"""The deployment files: deploy/k8s/ as kubectl renders it, compose.yaml and
the Dockerfile, against each other and against `lookout serve --help`.

kubectl works offline in two ways, and both are used: `kubectl kustomize`
renders deploy/k8s/ as `kubectl apply -k` would send it, and the `--local`
forms of `kubectl set` decode an object into kubectl's compiled-in API types
and encode it again, so a wrong type or a malformed quantity fails and a
field the type does not have (a misspelling) is dropped, which the round
trip below reports. That covers the Deployment and the Service; no `--local`
command takes a HorizontalPodAutoscaler, and Debian 12's kubectl (1.20)
predates autoscaling/v2, so the HPA is checked structurally only. Anything
else needs a cluster: `kubectl apply --dry-run=client` and `--validate` ask
the server for its API groups and schema first.

The rendered objects are then checked for what the README promises: the
image that scripts/container-build.sh tags, probes on the health routes,
requests and limits, a non-root user that is the image's user, a read-only
root filesystem and no capabilities, a Service and an HPA that point at the
Deployment, env vars that `lookout serve` knows. Each rule is also shown to
catch a broken copy.

    tests/deploy/manifests_test.py LOOKOUT_BINARY   (ctest runs it so)

kubectl is the one on PATH (scripts/setup installs Debian's
kubernetes-client when there is none); KUBECTL=/path/to/kubectl picks another.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
PORT = 5029
LOOKOUT = None  # the binary, from argv
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def kubectl(*args, stdin=None):
    """kubectl's stdout; its stderr in the exception when it fails."""
    r = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, errors="replace")
    if r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def render():
    """`kubectl kustomize deploy/k8s`: every object the kustomization applies, by kind."""
    by_kind = {}
    for doc in yaml.safe_load_all(kubectl("kustomize", K8S)):
        if doc is not None:
            by_kind.setdefault(doc.get("kind"), []).append(doc)
    return by_kind


def source_objects():
    """(kind, name) of every document in deploy/k8s/*.yaml but the kustomization."""
    found = set()
    for name in os.listdir(K8S):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            for doc in yaml.safe_load_all(read(os.path.join("deploy", "k8s", name))):
                if doc is not None:
                    found.add((doc.get("kind"), doc["metadata"]["name"]))
    return found


# A variable `kubectl set env` adds so that it prints the object (it prints
# nothing when nothing changes); removed again before the comparison.
ROUNDTRIP_VAR = "KUBECTL_TYPED_ROUNDTRIP"


def typed_roundtrip(obj):
    """obj after kubectl decoded it into its API type and encoded it again."""
    doc = json.dumps(obj)
    if obj.get("kind") == "Service":
        selector = ",".join(f"{k}={v}" for k, v in obj["spec"].get("selector", {}).items())
        return json.loads(kubectl("set", "selector", "--local", "-o", "json", "-f", "-", selector, stdin=doc))
    out = json.loads(kubectl("set", "env", "--local", "-o", "json", "-f", "-", f"{ROUNDTRIP_VAR}=1", stdin=doc))
    for c in out["spec"]["template"]["spec"]["containers"]:
        c["env"] = [e for e in c["env"] if e["name"] != ROUNDTRIP_VAR]
    return out


def lost_in_roundtrip(before, after, path=""):
    """Paths of before whose value kubectl's types did not keep: fields they do not have."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [p for k, v in before.items()
                for p in (lost_in_roundtrip(v, after[k], f"{path}.{k}") if k in after else [f"{path}.{k}"])]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [p for i, (b, a) in enumerate(zip(before, after)) for p in lost_in_roundtrip(b, a, f"{path}[{i}]")]
    return [] if before == after else [path]


def type_problems(by_kind):
    """What kubectl's API types reject or drop in the Deployment and the Service."""
    found = []
    for kind in ("Deployment", "Service"):
        for obj in by_kind.get(kind, []):
            try:
                lost = lost_in_roundtrip(obj, typed_roundtrip(obj))
            except RuntimeError as e:
                found.append(f"{kind} {obj['metadata']['name']}: {e}")
                continue
            if lost:
                found.append(f"{kind} {obj['metadata']['name']}: fields kubectl's {obj['apiVersion']} "
                             f"types do not have: {', '.join(lost)}")
    return found


def built_image_tag():
    """The image name scripts/container-build.sh gives by default."""
    return re.search(r"^TAG=(\S+)$", read("scripts/container-build.sh"), re.M).group(1)


def dockerfile_user():
    """The numeric uid of the runtime stage's USER line."""
    users = re.findall(r"^USER\s+(\d+)", read("Dockerfile"), re.M)
    return int(users[-1]) if users else None


def serve_env_names():
    """LOOKOUT_* names that `lookout serve --help` lists."""
    out = subprocess.run([LOOKOUT, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"Env:(LOOKOUT_[A-Z0-9_]+)", out))


def cpu_cores(quantity):
    q = str(quantity)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def memory_bytes(quantity):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    if not m:
        raise ValueError(f"memory quantity {quantity!r} is not a number with an optional K/M/G(i) unit")
    return float(m.group(1)) * units.get(m.group(2), 1)


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def problems(by_kind, image_uid, known_env, image):
    """Every rule the manifests break, as sentences; empty when all hold."""
    found = []
    need = lambda cond, msg: cond or found.append(msg)

    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
        need(len(by_kind.get(kind, [])) == 1, f"deploy/k8s/ must hold exactly one {kind}")
    if found:
        return found
    dep = by_kind["Deployment"][0]
    svc = by_kind["Service"][0]
    hpa = by_kind["HorizontalPodAutoscaler"][0]

    need(dep.get("apiVersion") == "apps/v1", "the Deployment must be apps/v1")
    spec = dep["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"].get("labels", {})
    selector = spec["selector"].get("matchLabels", {})
    need(selector and selector.items() <= pod_labels.items(),
         f"the Deployment's selector {selector} must match its pod labels {pod_labels}")

    containers = pod["spec"]["containers"]
    need(len(containers) == 1, "the pod must run one container, lookout")
    c = containers[0]
    need(c.get("image") == image and c.get("imagePullPolicy") == "IfNotPresent",
         f"the image must be {image} (what scripts/container-build.sh tags), pulled only if not present "
         f"(has {c.get('image')}, {c.get('imagePullPolicy')})")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    need(PORT in ports.values(), f"the container must expose port {PORT}")

    def probe(name, path):
        p = c.get(name, {}).get("httpGet", {})
        need(p.get("path") == path, f"{name} must GET {path} (has {p.get('path')})")
        need(p.get("port") in (PORT, *[n for n, v in ports.items() if v == PORT]),
             f"{name} must use port {PORT} or its name (has {p.get('port')})")

    probe("readinessProbe", "/v2/health/ready")
    probe("livenessProbe", "/v2/health/live")

    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            need(r in res.get(part, {}), f"resources.{part}.{r} must be set")
    if not found:
        need(cpu_cores(res["requests"]["cpu"]) == cpu_cores(res["limits"]["cpu"]),
             "the CPU request must equal the limit: the workers use all of it, and the HPA's utilization is "
             "relative to the request")
        need(memory_bytes(res["requests"]["memory"]) <= memory_bytes(res["limits"]["memory"]),
             "memory request above the limit")
        workers = env_of(c).get("LOOKOUT_WORKERS")
        need(workers is not None and float(workers) == cpu_cores(res["limits"]["cpu"]),
             f"LOOKOUT_WORKERS ({workers}) must equal the CPU limit: one detector per core")

    unknown = sorted(set(env_of(c)) - known_env)
    need(not unknown, f"env vars `lookout serve` does not know: {unknown}")
    drain = env_of(c).get("LOOKOUT_DRAIN_SECONDS")
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    key = next((e for e in c.get("env", []) if e["name"] == "LOOKOUT_API_KEY"), None)
    need(key is None or key.get("valueFrom", {}).get("secretKeyRef", {}).get("optional") is True,
         "LOOKOUT_API_KEY must come from an optional secret: the pods start without one")
    need(drain is None or int(drain) < grace,
         f"terminationGracePeriodSeconds ({grace}) must exceed LOOKOUT_DRAIN_SECONDS ({drain})")

    psc = pod["spec"].get("securityContext", {})
    need(psc.get("runAsNonRoot") is True, "the pod's securityContext must set runAsNonRoot: true")
    need(psc.get("runAsUser") not in (None, 0), "the pod's securityContext must set a non-zero runAsUser")
    need(psc.get("runAsUser") == image_uid,
         f"runAsUser ({psc.get('runAsUser')}) must be the Dockerfile's USER ({image_uid})")
    csc = c.get("securityContext", {})
    need(csc.get("allowPrivilegeEscalation") is False, "the container must set allowPrivilegeEscalation: false")
    need(csc.get("readOnlyRootFilesystem") is True, "the container must set readOnlyRootFilesystem: true")
    need(csc.get("capabilities", {}).get("drop") == ["ALL"], "the container must drop ALL capabilities")
    need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
         "the pod must use the runtime's default seccomp profile")

    need(svc.get("apiVersion") == "v1", "the Service must be v1")
    need(svc["spec"].get("selector", {}).items() <= pod_labels.items() and svc["spec"].get("selector"),
         f"the Service's selector {svc['spec'].get('selector')} must match the pod labels {pod_labels}")
    targets = [p.get("targetPort") for p in svc["spec"].get("ports", [])]
    need(any(t == PORT or ports.get(t) == PORT for t in targets),
         f"the Service must forward to container port {PORT} (targetPort {targets})")

    need(hpa.get("apiVersion") == "autoscaling/v2", "the HPA must be autoscaling/v2")
    ref = hpa["spec"].get("scaleTargetRef", {})
    need(ref.get("kind") == "Deployment" and ref.get("name") == dep["metadata"]["name"],
         f"the HPA must scale the Deployment {dep['metadata']['name']} (targets {ref})")
    lo, hi = hpa["spec"].get("minReplicas", 1), hpa["spec"].get("maxReplicas", 0)
    need(1 <= lo <= hi, f"the HPA needs 1 <= minReplicas ({lo}) <= maxReplicas ({hi})")
    cpu = [m for m in hpa["spec"].get("metrics", [])
           if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
           and m["resource"]["target"].get("type") == "Utilization"]
    need(len(cpu) == 1, "the HPA must scale on CPU utilization")
    return found


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k8s = render()
        cls.uid = dockerfile_user()
        cls.env = serve_env_names()
        cls.image = built_image_tag()

    def broken(self, mutate):
        k8s = copy.deepcopy(self.k8s)
        mutate(k8s)
        # The rules compare values, which needs them well-typed first.
        return type_problems(k8s) or problems(k8s, self.uid, self.env, self.image)

    def container(self, k8s):
        return k8s["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]

    def assert_caught(self, mutate, words):
        """The rules name `words` once `mutate` broke a copy of the manifests."""
        found = self.broken(mutate)
        self.assertTrue(any(words in p for p in found), f"no problem names {words!r}: {found}")

    def test_the_rendered_manifests_follow_every_rule(self):
        self.assertEqual(problems(self.k8s, self.uid, self.env, self.image), [])

    def test_kubectl_types_keep_every_field(self):
        self.assertEqual(type_problems(self.k8s), [])

    def test_the_kustomization_renders_every_manifest(self):
        rendered = {(kind, o["metadata"]["name"]) for kind, objs in self.k8s.items() for o in objs}
        self.assertEqual(rendered, source_objects())

    def test_a_misspelt_field_is_dropped_by_kubectl_and_caught(self):
        def mutate(k):
            probe = self.container(k)["livenessProbe"]
            probe["httpGett"] = probe.pop("httpGet")
        self.assert_caught(mutate, "livenessProbe.httpGett")

    def test_a_field_of_the_wrong_type_is_rejected_by_kubectl(self):
        def mutate(k):
            k["Service"][0]["spec"]["ports"][0]["port"] = "5029/tcp"
        self.assertTrue(any(p.startswith("Service lookout: kubectl set") for p in self.broken(mutate)))

    def test_a_malformed_quantity_is_rejected_by_kubectl(self):
        def mutate(k):
            self.container(k)["resources"]["limits"]["memory"] = "512 MB"
        self.assert_caught(mutate, "quantities must match")

    def test_another_image_is_caught(self):
        def mutate(k):
            self.container(k)["image"] = "lookout:v0"
        self.assert_caught(mutate, "the image must be")

    def test_a_writable_root_filesystem_is_caught(self):
        def mutate(k):
            del self.container(k)["securityContext"]["readOnlyRootFilesystem"]
        self.assert_caught(mutate, "readOnlyRootFilesystem")

    def test_a_wrong_readiness_path_is_caught(self):
        def mutate(k):
            self.container(k)["readinessProbe"]["httpGet"]["path"] = "/healthz"
        self.assert_caught(mutate, "readinessProbe")

    def test_root_is_caught(self):
        def mutate(k):
            k["Deployment"][0]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
        self.assert_caught(mutate, "runAsUser")

    def test_missing_limits_are_caught(self):
        def mutate(k):
            del self.container(k)["resources"]["limits"]
        self.assert_caught(mutate, "limits")

    def test_an_hpa_aimed_elsewhere_is_caught(self):
        def mutate(k):
            k["HorizontalPodAutoscaler"][0]["spec"]["scaleTargetRef"]["name"] = "other"
        self.assert_caught(mutate, "HPA must scale")

    def test_a_misspelt_env_var_is_caught(self):
        def mutate(k):
            self.container(k)["env"].append(
                {"name": "LOOKOUT_WORKER", "value": "2"})
        self.assert_caught(mutate, "LOOKOUT_WORKER")

    def test_a_service_on_another_port_is_caught(self):
        def mutate(k):
            k["Service"][0]["spec"]["ports"][0]["targetPort"] = 8080
        self.assert_caught(mutate, "forward")


class Image(unittest.TestCase):
    def test_the_dockerfile_serves_on_5029_as_a_non_root_user_with_a_healthcheck(self):
        d = read("Dockerfile")
        self.assertRegex(d, rf"(?m)^EXPOSE\s+{PORT}\b")
        self.assertNotIn(dockerfile_user(), (None, 0))
        self.assertRegex(d, r"(?m)^HEALTHCHECK\b.*\\\n.*/healthz")
        self.assertRegex(d, r'(?m)^ENTRYPOINT \["[^"]*/lookout", "serve"\]')
        self.assertRegex(d, r"(?m)^FROM debian:bookworm AS build$")
        self.assertRegex(d, r"(?m)^FROM debian:bookworm-slim$")

    def test_compose_publishes_5029_and_sets_only_known_env_vars(self):
        compose = yaml.safe_load(read("compose.yaml"))
        svc = compose["services"]["lookout"]
        self.assertIn(f"{PORT}:{PORT}", [str(p) for p in svc["ports"]])
        env = svc.get("environment", {})
        names = set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}
        self.assertLessEqual(names, serve_env_names())

    def test_the_build_context_holds_the_model_and_no_build_tree(self):
        ignore = read(".dockerignore").split()
        self.assertIn("!models/mobilenet_ssd_v2_coco_quant_postprocess.tflite", ignore)
        self.assertIn("!models/coco_labels.txt", ignore)
        # What CMakeLists.txt compiles in must be in the context and copied.
        for tree in ("src", "web", "cmake", "tests", "fuzz", "tools"):
            self.assertIn(f"!{tree}/", ignore)
            self.assertRegex(read("Dockerfile"), rf"(?m)^COPY {tree} {tree}$")
        self.assertNotIn("!build/", ignore)
        # Chart.js, inlined by `lookout report`: in the context and copied.
        self.assertIn("!node_modules/chart.js/dist/chart.umd.js", ignore)
        self.assertRegex(read("Dockerfile"), r"(?m)^COPY node_modules/chart.js/dist/chart.umd.js ")
        self.assertNotIn("!node_modules/", ignore)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: manifests_test.py LOOKOUT_BINARY (the built `lookout`, for its --help)")
    LOOKOUT = sys.argv.pop(1)
    if not KUBECTL:
        sys.exit("manifests_test.py: no kubectl on PATH (Debian: kubernetes-client; scripts/setup installs it)")
    unittest.main(verbosity=2)
