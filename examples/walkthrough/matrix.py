#!/usr/bin/env python3
"""The walkthrough's outcome table, observed: for each mesh IP preference, GET /<color> through the
gateway for all six colors, as the walkthrough's steps 5, 6 and 9 do, plus step 7 (a node's own
preference overrides the mesh's) and step 8 (the gateway answers IPv6 clients once a preference is
set). Prints the observed matrix, compares it with the walkthrough's table and with what
`meshctl diagnose` predicted, and exits 1 on any difference.

    matrix.py [--setup dns|cloud] [--keep]     brings the walkthrough up unless it is up (root; or,
                                               without --keep, any user where unprivileged user
                                               namespaces are allowed)

Preferences are changed the walkthrough's way: an edited copy of mesh.json / red-vn.json applied by
update-mesh.sh, i.e. by the AWS CLI against meshd's App Mesh API.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("BIN", os.path.join(ROOT, "build"))
STATE = os.environ.get("WALKTHROUGH_STATE", "/tmp/meshd-walkthrough")
WALKTHROUGH = os.path.join(HERE, "walkthrough.sh")
GATEWAY4, GATEWAY6 = "198.18.0.10", "fd00:18::10"
ENDPOINT = "http://198.18.0.1:8080"
COLORS = ["red", "orange", "yellow", "green", "blue", "purple"]
SD, APP = "SD", "APP"  # the walkthrough's two failure kinds

# The walkthrough's table; its no-preference row is derived from its semantics table: DNS asks AAAA
# first (green, blue and purple are then reached over IPv6 while their sidecars bind 0.0.0.0 only),
# Cloud Map picks the IPv4 address.
EXPECTED = {
    "IPv4_ONLY": ["red", "orange", APP, "green", "blue", APP],
    "IPv4_PREFERRED": ["red", "orange", APP, "green", "blue", APP],
    "IPv6_ONLY": [SD, SD, SD, APP, "blue", "purple"],
    "IPv6_PREFERRED": [APP, "orange", "yellow", APP, "blue", "purple"],
}
EXPECTED_NONE = {"dns": ["red", "orange", APP, APP, APP, APP], "cloud": ["red", "orange", APP, "green", "blue", APP]}
HEALTH_LAG = 25  # seconds
ORDER = ["IPv4_ONLY", "IPv4_PREFERRED", "IPv6_ONLY", "IPv6_PREFERRED", "none"]


def userns_available():
    """Whether this user may make a user namespace with its own network (and iptables in it)."""
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True)
    return r.returncode == 0


def log(msg):
    print(f"matrix: {msg}", flush=True)


def run(*cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"matrix: {' '.join(cmd)} failed: {(r.stderr or r.stdout).strip()}")
    return r


def meshctl(*args, check=True):
    return run(os.path.join(BIN, "meshctl"), "--endpoint", ENDPOINT, *args, check=check)


def get(url, timeout=10):
    """(status, body) of a GET; status 0 when no connection could be made."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def classify(status, body, color):
    if status == 200 and body == color:
        return color
    if status == 503 and body == "no healthy upstream":
        return SD
    if status == 503 and body.startswith("upstream connect error or disconnect/reset before headers."):
        return APP
    return f"?{status} {body[:40]}"


class Walkthrough:
    """One setup's mesh files, copied so that edits never touch the repository's."""

    def __init__(self, setup):
        self.setup = setup
        self.mesh = f"appmesh-ipv6-{setup}"
        self.files = os.path.join(STATE, "mesh-files")
        shutil.rmtree(self.files, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, setup, "mesh"), self.files)

    def _edit(self, name, pref, in_node):
        path = os.path.join(self.files, name + ".json")
        with open(os.path.join(HERE, self.setup, "mesh", name + ".json")) as f:
            doc = json.load(f)
        sd = doc["spec"].setdefault("serviceDiscovery", {})
        target = sd[next(iter(sd))] if in_node else sd
        target.pop("ipPreference", None)
        if pref != "none":
            target["ipPreference"] = pref
        if not sd:
            del doc["spec"]["serviceDiscovery"]
        with open(path, "w") as f:
            json.dump(doc, f, indent=4)
        env = dict(os.environ, MESHD_ENDPOINT=ENDPOINT)
        r = subprocess.run([os.path.join(self.files, "update-mesh.sh"), name], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise SystemExit(f"matrix: update-mesh.sh {name} failed: {r.stderr.strip()}")

    def set_mesh(self, pref):
        self._edit("mesh", pref, in_node=False)

    def set_node(self, color, pref):
        self._edit(f"{color}-vn", pref, in_node=True)

    def settle(self):
        """Every proxy has ACKed what meshd holds, and the gateway has health-checked each target."""
        meshctl("status", "--wait", "30")
        deadline = time.time() + 30
        while True:
            d = self.diagnose()
            if all(x.get("health") != "pending" for x in d) or time.time() > deadline:
                return d
            time.sleep(0.2)

    def diagnose(self):
        r = meshctl("diagnose", "--mesh", self.mesh, "colorgateway-vg", "-o", "json")
        return json.loads(r.stdout)["diagnoses"]

    def observe(self):
        return [classify(*get(f"http://{GATEWAY4}:9080/{c}"), c) for c in COLORS]


def predicted(diagnoses):
    by_target = {d["target"]: d for d in diagnoses}
    out = []
    for c in COLORS:
        outcome = by_target.get(f"colorteller-{c}-vn", {}).get("outcome", "?")
        out.append({"ok": c, "service discovery": SD, "connection": APP, "application": APP}.get(outcome, "?" + outcome))
    return out


def table(rows):
    width = max(len(r[0]) for r in rows)
    cols = [max(len(r[i]) for r in rows) for i in range(1, len(rows[0]))]
    lines = []
    for r in rows:
        lines.append(r[0].ljust(width) + "  " + "  ".join(v.ljust(w) for v, w in zip(r[1:], cols)))
    return "\n".join(lines)


def check_matrix(w):
    failures = []
    rows = [["preference"] + [f"{c}-vn" for c in COLORS]]
    for pref in ORDER:
        w.set_mesh(pref)
        diagnoses = w.settle()
        first, second = w.observe(), w.observe()
        expected = EXPECTED.get(pref) or EXPECTED_NONE[w.setup]
        # Health-check verdicts lag a change by up to healthy/unhealthy_threshold intervals (2 x 5 s
        # here), as in Envoy; diagnose reports them as they stand, so give them that long.
        deadline = time.time() + HEALTH_LAG
        while (prediction := predicted(w.diagnose())) != first and time.time() < deadline:
            time.sleep(0.5)
        cells = []
        for i, c in enumerate(COLORS):
            cell = first[i] if first[i] == second[i] else f"{first[i]}|{second[i]}"
            if cell != expected[i]:
                failures.append(f"{pref} {c}: observed {cell}, the walkthrough says {expected[i]}")
                cell += "!"
            if prediction[i] != first[i]:
                failures.append(f"{pref} {c}: diagnose predicted {prediction[i]}, observed {first[i]}")
                cell += "*"
            cells.append(cell)
        rows.append([pref] + cells)
        if pref == "IPv6_ONLY":  # step 7: red-vn's own preference overrides the mesh's
            w.set_node("red", "IPv4_PREFERRED")
            w.settle()
            got = classify(*get(f"http://{GATEWAY4}:9080/red"), "red")
            log(f"step 7: IPv6_ONLY mesh, red-vn IPv4_PREFERRED: /red -> {got}")
            if got != "red":
                failures.append(f"step 7: /red returned {got}, expected red")
            w.set_node("red", "none")
            w.settle()
        # Step 8: the gateway answers IPv6 clients once a preference is set, not before.
        status, body = get(f"http://[{GATEWAY6}]:9080/blue", timeout=5)
        six = classify(status, body, "blue") if status else "refused"
        want6 = "refused" if pref == "none" else expected[COLORS.index("blue")]
        log(f"step 8: {pref}: GET /blue over IPv6 -> {six}")
        if six != want6:
            failures.append(f"step 8 ({pref}): IPv6 client got {six}, expected {want6}")
    print()
    print(f"Observed outcomes through the gateway, {w.setup} setup ({SD}: no healthy upstream; "
          f"{APP}: upstream connect error; ! differs from the walkthrough; * differs from meshctl diagnose):")
    print(table(rows))
    print()
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", choices=["dns", "cloud"], default="dns")
    p.add_argument("--keep", action="store_true", help="leave the walkthrough up afterwards")
    args = p.parse_args()
    if os.geteuid() != 0:
        # Unprivileged: the whole run inside a user namespace of its own, where this user is root
        # over a private network (and /run, for `ip netns`). Nothing outlives it, so no --keep.
        if args.keep or not userns_available():
            print("matrix: needs root (network namespaces, iptables): run it with sudo"
                  + ("" if args.keep else ", or enable unprivileged user namespaces (sysctl user.max_user_namespaces)"),
                  file=sys.stderr)
            sys.exit(77)  # CTest's "skipped"
        log("not root: running in a user namespace of its own")
        inner = f"mount -t tmpfs tmpfs /run && exec {sys.executable} " + " ".join(map(shlex.quote, sys.argv))
        os.execvp("unshare", ["unshare", "--user", "--map-root-user", "--net", "--mount", "--propagation", "private",
                              "sh", "-c", inner])
    started = False
    if os.path.exists(os.path.join(STATE, "setup")):
        with open(os.path.join(STATE, "setup")) as f:
            if f.read().strip() != args.setup:
                sys.exit(f"matrix: the other setup is up; run: {WALKTHROUGH} down")
    else:
        log(f"bringing up the {args.setup} setup")
        r = subprocess.run([WALKTHROUGH, "up", args.setup])
        if r.returncode != 0:
            subprocess.run([WALKTHROUGH, "down"], capture_output=True)
            sys.exit(r.returncode)
        started = True
    try:
        failures = check_matrix(Walkthrough(args.setup))
    finally:
        if started and not args.keep:
            subprocess.run([WALKTHROUGH, "down"], capture_output=True)
    for f in failures:
        log("FAIL " + f)
    if failures:
        sys.exit(1)
    log(f"the {args.setup} setup matches the walkthrough's table, and meshctl diagnose predicted every cell")


if __name__ == "__main__":
    main()
