#!/usr/bin/python3
"""Benchmarks for leases and txns (issue "leases, ephemeral keys, multi-key
transactions"). Each prints a table and a RESULT_JSON line.

  /usr/bin/python3 examples/bench/leases.py ops [--duration 10s] [--clients 32]
      On a fresh 3-node cluster, closed-loop runs of the same length, one
      after the other: plain puts, txns of 2 compares + 2 puts, and lease
      keepalives (of --keys leases granted first). Throughput, p50, p99 and
      the client's CPU per operation of each, and the ratios to puts.

  /usr/bin/python3 examples/bench/leases.py mass-expiry [--leases 100000]
          [--ttl-ms 30000]
      --leases leases, each with one key attached, then a restart of all
      three nodes: every node times every lease from its restart, so all of
      them fall due at the same instant, TTL after it. A 10 s write run
      (16 clients) before that instant gives the normal p99; a run of
      --during-s (5) seconds from 0.5 s before it (about the time the leader
      takes to expire 100,000) gives the p99 during the mass expiry. Reports both, their ratio (the goal: under 3x) and how long
      after the due instant the last lease was gone.

Runs the built binaries (build/node/cabildo-node, build/client/cabildo, or
$CABILDO_NODE and $CABILDO_CLI) on ports 7100-7123; data in
/tmp/cabildo-lease-bench (wiped first).
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bounded  # noqa: E402  (the cluster and probe helpers)
from cabildo import Client  # noqa: E402

import zmq  # noqa: E402

bounded.DATA = "/tmp/cabildo-lease-bench"


def start_cluster(ctx):
    cluster = bounded.Cluster()
    for i in (1, 2, 3):
        cluster.start(i)
    bounded.wait_leader(ctx)
    return cluster


def nodes_cpu_s(cluster):
    """User + system CPU seconds of the node processes so far."""
    total = 0.0
    for p in cluster.procs.values():
        with open("/proc/%d/stat" % p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(cluster, *args):
    before = nodes_cpu_s(cluster)
    r = bounded.bench(*args)
    r["nodes_cpu_us_per_op"] = (nodes_cpu_s(cluster) - before) * 1e6 / max(1, r["ops"])
    return r


def row(name, r, base=None):
    lat = r["lat_ms"]
    cpu_us = r.get("nodes_cpu_us_per_op", float("nan"))
    ratio = "" if base is None else "  %.2fx" % (r["ops_per_s"] / base["ops_per_s"])
    print("%-22s %10.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  nodes' CPU %5.0f us/op  errors %d%s"
          % (name, r["ops_per_s"], lat["p50"], lat["p99"], cpu_us, r["errors"], ratio))
    return {"ops_per_s": r["ops_per_s"], "p50_ms": lat["p50"], "p99_ms": lat["p99"],
            "errors": r["errors"], "nodes_cpu_us_per_op": cpu_us}


def ops(a):
    ctx = zmq.Context()
    cluster = start_cluster(ctx)
    try:
        common = ["--duration", a.duration, "--clients", str(a.clients), "--key-space",
                  str(a.keys)]
        put = measured(cluster, "--mode", "put", *common)
        txn = measured(cluster, "--mode", "txn", *common)
        keepalive = measured(cluster, "--mode", "keepalive", *common)
        print("%d clients, %s each, %d keys, 3 nodes on one machine" % (a.clients, a.duration, a.keys))
        out = {"put": row("put", put), "txn (2 cmp + 2 put)": row("txn (2 cmp + 2 put)", txn, put),
               "keepalive": row("keepalive", keepalive, put)}
        print("RESULT_JSON " + json.dumps({"bench": "leases-ops", "results": out}))
    finally:
        cluster.stop_all()


def lease_count(client):
    total, start = 0, 0
    while True:
        leases, more = client.lease_list(start, 10000)
        total += len(leases)
        if not more:
            return total
        start = leases[-1]["lease"] + 1


def mass_expiry(a):
    ctx = zmq.Context()
    cluster = start_cluster(ctx)
    client = Client(bounded.ENDPOINTS, total_timeout=30.0)
    try:
        t0 = time.monotonic()
        # Leases 1..N (granted first by the keepalive mode), key-N on lease N+1.
        bounded.bench("--mode", "keepalive", "--key-space", str(a.leases), "--count", "1",
                      "--lease-ttl-ms", str(a.ttl_ms), "--clients", "128")
        bounded.bench("--mode", "put", "--attach-leases", "--prefill", "--count", "1",
                      "--key-space", str(a.leases), "--clients", "128")
        print("granted %d leases with a key each in %.1f s" % (a.leases, time.monotonic() - t0))
        cluster.stop_all()
        for i in (1, 2, 3):
            cluster.start(i)
        restarted = time.monotonic()
        bounded.wait_leader(ctx)
        due = restarted + a.ttl_ms / 1000.0
        counted = lease_count(client)
        if due - time.monotonic() < 14:
            sys.exit("--ttl-ms too short for the normal run before the leases fall due")
        normal = measured(cluster, "--mode", "put", "--duration", "10s", "--clients", "16",
                               "--key-space", "10000")
        time.sleep(max(0.0, due - 0.5 - time.monotonic()))
        gone = {}

        def watch_leases():
            poll = Client(bounded.ENDPOINTS, total_timeout=30.0)
            while time.monotonic() < due + 120:
                if lease_count(poll) == 0:
                    gone["at"] = time.monotonic()
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch_leases)
        watcher.start()
        during = measured(cluster, "--mode", "put", "--duration", "%ds" % a.during_s, "--clients", "16",
                               "--key-space", "10000")
        watcher.join()
        left = gone["at"] - due if "at" in gone else float("nan")
        print("%d leases (counted after the restart: %d), TTL %d ms, all due %.1f s after "
              "the restart" % (a.leases, counted, a.ttl_ms, a.ttl_ms / 1000.0))
        normal_row = row("writes before", normal)
        during_row = row("writes during expiry", during)
        ratio = during["lat_ms"]["p99"] / normal["lat_ms"]["p99"]
        print("p99 during / before: %.2fx (goal < 3x); every lease gone %.2f s after due"
              % (ratio, left))
        print("RESULT_JSON " + json.dumps({
            "bench": "leases-mass-expiry", "leases": a.leases, "ttl_ms": a.ttl_ms,
            "before": normal_row, "during": during_row, "p99_ratio": ratio,
            "all_gone_after_due_s": left}))
    finally:
        cluster.stop_all()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("ops")
    o.add_argument("--duration", default="10s")
    o.add_argument("--clients", type=int, default=32)
    o.add_argument("--keys", type=int, default=10000)
    m = sub.add_parser("mass-expiry")
    m.add_argument("--leases", type=int, default=100000)
    m.add_argument("--ttl-ms", type=int, default=30000)
    m.add_argument("--during-s", type=int, default=5)
    a = p.parse_args()
    for binary in (bounded.NODE, bounded.CLI):
        if not os.path.exists(binary):
            sys.exit("%s not found: build first (./setup.sh)" % binary)
    ops(a) if a.cmd == "ops" else mass_expiry(a)


if __name__ == "__main__":
    main()
