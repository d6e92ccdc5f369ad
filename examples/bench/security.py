#!/usr/bin/python3
"""What security costs (issue "CurveZMQ on every socket, ACLs, quotas").

  /usr/bin/python3 examples/bench/security.py [--duration 10s] [--clients 64] [--rounds 3]

Each round runs the same 3-node cluster twice, one after the other: plain
(no security), then secured (--curve-key/--server-key/--acl: CURVE on every
client and peer connection, each request checked against an ACL with a few
identities), and measures with `cabildo bench` closed-loop puts and
linearizable gets (the secured runs' bench authenticates with an identity
that has every right). Prints throughput, p50, p99 and the nodes' CPU per
operation of each, the secured/plain ratios per round, and a RESULT_JSON
line. Ratios, not absolute figures: the machine is noisy.

Runs the built binaries (build/node/cabildo-node, build/client/cabildo) on
ports 7100-7123; data and keys in /tmp/cabildo-security-bench (wiped first).
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bounded  # noqa: E402  (the cluster and bench helpers)
import leases  # noqa: E402  (nodes' CPU per op)
from cabildo import Client, write_key_files  # noqa: E402

bounded.DATA = "/tmp/cabildo-security-bench"
KEYS = "/tmp/cabildo-security-bench-keys"


def make_keys():
    """Node keys, a server key, an `admin` identity with every right (the
    bench's) and a few narrower ones, as an ACL would have in production."""
    subprocess.run(["rm", "-rf", KEYS], check=True)
    os.makedirs(KEYS)
    key = lambda name: write_key_files(os.path.join(KEYS, name))[0].decode()
    acl = {"members": {str(i): key("node%d" % i) for i in (1, 2, 3)}, "identities": {}}
    key("server")
    acl["identities"]["admin"] = {"key": key("admin"), "allow": [
        {"prefix": "", "rights": ["read", "write", "watch", "admin"]}]}
    for name in ("web", "jobs", "metrics"):
        acl["identities"][name] = {"key": key(name), "allow": [
            {"prefix": name + "/", "rights": ["read", "write", "watch"]}]}
    with open(os.path.join(KEYS, "acl.json"), "w") as f:
        json.dump(acl, f)


def secure_flags(i):
    return ["--curve-key", "%s/node%d.key" % (KEYS, i), "--server-key", KEYS + "/server.key",
            "--acl", KEYS + "/acl.json"]


CLIENT_KEYS = ["--curve-key", KEYS + "/admin.key", "--server-key", KEYS + "/server.pub"]


def measure(secure, a):
    cluster = bounded.Cluster()
    for i in (1, 2, 3):
        cluster.start(i, secure_flags(i) if secure else ())
    keys = {"curve_key": KEYS + "/admin.key", "server_key": KEYS + "/server.pub"} if secure else {}
    client = Client(bounded.ENDPOINTS, total_timeout=30.0, **keys)
    try:
        client.put(b"warmup", b"1")  # a leader is elected and serves
        subprocess.run(["sync"], check=True)
        common = ["--duration", a.duration, "--clients", str(a.clients), "--key-space", "10000",
                  "--value-size", "256"]
        extra = CLIENT_KEYS if secure else []
        put = measured(cluster, extra, "--mode", "put", *common)
        get = measured(cluster, extra, "--mode", "get", *common)
        return {"put": put, "get": get}
    finally:
        client.close()
        cluster.stop_all()


def measured(cluster, extra, *args):
    """One `cabildo bench` run (extra: its key options), with the nodes' CPU per op."""
    before = leases.nodes_cpu_s(cluster)
    out = subprocess.run([bounded.CLI, "--endpoints", ",".join(bounded.ENDPOINTS)] + extra +
                         ["--json", "bench", "--quiet"] + list(args),
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["nodes_cpu_us_per_op"] = (leases.nodes_cpu_s(cluster) - before) * 1e6 / max(1, r["ops"])
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", default="10s")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    make_keys()
    rounds = []
    for r in range(a.rounds):
        plain = measure(False, a)
        secured = measure(True, a)
        print("round %d: %d clients, %s each, 256-byte values, 3 nodes on one machine"
              % (r + 1, a.clients, a.duration))
        out = {}
        for op in ("put", "get"):
            out[op] = {"plain": leases.row(op + " plain", plain[op]),
                       "secured": leases.row(op + " secured", secured[op], plain[op])}
            pl, se = out[op]["plain"], out[op]["secured"]
            out[op]["throughput_ratio"] = se["ops_per_s"] / pl["ops_per_s"]
            out[op]["p99_ratio"] = se["p99_ms"] / pl["p99_ms"]
            out[op]["cpu_ratio"] = se["nodes_cpu_us_per_op"] / pl["nodes_cpu_us_per_op"]
            print("  %s secured/plain: throughput %.2fx, p99 %.2fx, nodes' CPU per op %.2fx"
                  % (op, out[op]["throughput_ratio"], out[op]["p99_ratio"], out[op]["cpu_ratio"]))
        rounds.append(out)
    print("RESULT_JSON " + json.dumps({"bench": "security", "clients": a.clients,
                                       "duration": a.duration, "rounds": rounds}))


if __name__ == "__main__":
    main()
