#!/usr/bin/python3
"""Benchmarks for locks and queues (issue "coordination primitives"). Each
prints a table and a RESULT_JSON line. A fresh 3-node cluster on one
machine per command; client processes (8 threads each, raw REQ sockets to
the leader) so that Python's GIL does not cap the load.

  /usr/bin/python3 examples/bench/coord.py locks [--clients 1,64] [--duration 10]
      Each client has its own lease and loops: lock (waiting) one shared
      name, then unlock. Acquire+release round trips per second and the
      p50/p99 of one round trip (waiting included), beside a baseline of
      the same clients doing two plain puts per round (a lock round trip
      is two writes), and the nodes' CPU per round trip.

  /usr/bin/python3 examples/bench/coord.py queue [--producers 16] [--consumers 16]
      Producers queue_put (with sessions), consumers queue_get (GET, waiting)
      then queue_ack. Items put+got+acked per second, and p50/p99 from put to
      ack.

  /usr/bin/python3 examples/bench/coord.py handover [--ttl-ms 2000] [--rounds 3]
      A holder process takes a lock with a lease of --ttl-ms and keeps it
      alive; a waiter waits for it; the holder is killed with SIGKILL. The
      time from the kill to the waiter's grant, bounded by the TTL (plus the
      leader's 10 ms expiry check and one commit).
"""

import argparse
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounded  # noqa: E402  (the cluster helpers)
from leases import nodes_cpu_s as nodes_cpu  # noqa: E402

import msgpack  # noqa: E402
import zmq  # noqa: E402

bounded.DATA = "/tmp/cabildo-coord-bench"
THREADS_PER_PROCESS = 8


def call(sock, req, timeout_ms=30000):
    sock.send(msgpack.packb(req, use_bin_type=True))
    if sock.poll(timeout_ms) == 0:
        raise TimeoutError(req["op"])
    return msgpack.unpackb(sock.recv(), raw=False)


def leader_endpoint(ctx):
    bounded.wait_leader(ctx)
    for ep in bounded.ENDPOINTS:
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        rep = call(s, {"op": "status"}, 2000)
        s.close()
        if rep.get("role") == "leader":
            return ep
    raise RuntimeError("no leader")


def pct(values, p):
    return bounded.pct(values, p) * 1000.0


# ------------------------------------------------------------ client loops

def lock_loop(ep, stop_at, out, mode):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ep)
    lease = call(s, {"op": "lease_grant", "ttl_ms": 600000})["lease"]
    key = b"bench/%d" % lease
    lat, rounds, errors = [], 0, 0
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        if mode == "lock":
            r1 = call(s, {"op": "lock", "name": b"bench", "lease": lease, "wait_ms": 20000})
            r2 = call(s, {"op": "unlock", "name": b"bench", "lease": lease}) if r1.get("succeeded") else r1
        else:
            r1 = call(s, {"op": "put", "key": key, "value": b"a"})
            r2 = call(s, {"op": "put", "key": key, "value": b"b"})
        if r1.get("ok") and r2.get("ok") and r1.get("succeeded", True):
            rounds += 1
            lat.append(time.monotonic() - t0)
        else:
            errors += 1
    out.append((rounds, errors, lat))


def producer_loop(ep, stop_at, out, index):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ep)
    session, seq, puts, errors = random.getrandbits(63) + 1, 0, 0, 0
    while time.monotonic() < stop_at:
        seq += 1
        value = b"%d.%d.%f" % (index, seq, time.time())
        r = call(s, {"op": "queue_put", "queue": b"bench", "value": value,
                     "session": session, "seq": seq})
        puts, errors = (puts + 1, errors) if r.get("ok") else (puts, errors + 1)
    out.append(("put", puts, errors, []))


def consumer_loop(ep, stop_at, out, _index):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ep)
    acked, errors, lat = 0, 0, []
    while time.monotonic() < stop_at:
        g = call(s, {"op": "queue_get", "queue": b"bench", "wait_ms": 500,
                     "visibility_ms": 30000})
        if not g.get("ok"):
            errors += 1
            continue
        if not g.get("succeeded"):
            continue
        a = call(s, {"op": "queue_ack", "queue": b"bench", "item": g["item"],
                     "receipt": g["receipt"]})
        if a.get("ok") and a.get("succeeded"):
            acked += 1
            lat.append(time.time() - float(g["value"].split(b".", 2)[2]))
        else:
            errors += 1
    out.append(("ack", acked, errors, lat))


def process_main(ep, stop_at, jobs, results):
    """One client process: a thread per job, results sent back as one list."""
    out = []
    threads = [threading.Thread(target=fn, args=(ep, stop_at, out) + tuple(extra))
               for fn, extra in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(out)


def run_jobs(ep, jobs, duration):
    """Runs the jobs spread over processes of THREADS_PER_PROCESS threads."""
    stop_at = time.monotonic() + 1.0 + duration  # 1 s to start up
    results = multiprocessing.Queue()
    groups = [jobs[i:i + THREADS_PER_PROCESS] for i in range(0, len(jobs), THREADS_PER_PROCESS)]
    procs = [multiprocessing.Process(target=process_main, args=(ep, stop_at, g, results))
             for g in groups]
    for p in procs:
        p.start()
    out = []
    for _ in procs:
        out.extend(results.get())
    for p in procs:
        p.join()
    return out


# -------------------------------------------------------------- commands

def with_cluster(fn):
    ctx = zmq.Context()
    cluster = bounded.Cluster()
    for i in (1, 2, 3):
        cluster.start(i)
    try:
        return fn(ctx, cluster, leader_endpoint(ctx))
    finally:
        cluster.stop_all()


def locks(a):
    def go(ctx, cluster, ep):
        rows = {}
        for n in [int(x) for x in a.clients.split(",")]:
            for mode in ("puts", "lock"):
                cpu0 = nodes_cpu(cluster)
                out = run_jobs(ep, [(lock_loop, (mode,))] * n, a.duration)
                cpu = nodes_cpu(cluster) - cpu0
                rounds = sum(o[0] for o in out)
                lat = [x for o in out for x in o[2]]
                rows["%s/%d" % (mode, n)] = {
                    "round_trips_per_s": rounds / a.duration,
                    "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                    "errors": sum(o[1] for o in out),
                    "nodes_cpu_us_per_round_trip": cpu * 1e6 / max(1, rounds)}
        print("%-10s %8s %12s %9s %9s %12s %7s" % ("clients", "what", "round trips/s",
                                                 "p50 ms", "p99 ms", "CPU us/rt", "errors"))
        for n in [int(x) for x in a.clients.split(",")]:
            base = rows["puts/%d" % n]
            for mode in ("puts", "lock"):
                r = rows["%s/%d" % (mode, n)]
                ratio = "" if mode == "puts" else "  %.2fx of 2 puts" % (
                    r["round_trips_per_s"] / base["round_trips_per_s"])
                label = "2 puts" if mode == "puts" else "lock+unlock"
                print("%-10d %8s %12.0f %9.2f %9.2f %12.0f %7d%s" % (
                    n, label, r["round_trips_per_s"], r["p50_ms"], r["p99_ms"],
                    r["nodes_cpu_us_per_round_trip"], r["errors"], ratio))
        print("RESULT_JSON " + json.dumps({"bench": "coord-locks", "duration_s": a.duration,
                                           "results": rows}))
    with_cluster(go)


def queue(a):
    def go(ctx, cluster, ep):
        jobs = ([(producer_loop, (i,)) for i in range(a.producers)]
                + [(consumer_loop, (i,)) for i in range(a.consumers)])
        cpu0 = nodes_cpu(cluster)
        out = run_jobs(ep, jobs, a.duration)
        cpu = nodes_cpu(cluster) - cpu0
        puts = sum(o[1] for o in out if o[0] == "put")
        acked = sum(o[1] for o in out if o[0] == "ack")
        lat = [x for o in out if o[0] == "ack" for x in o[3]]
        r = {"puts_per_s": puts / a.duration, "acked_per_s": acked / a.duration,
             "put_to_ack_p50_ms": pct(lat, 50), "put_to_ack_p99_ms": pct(lat, 99),
             "errors": sum(o[2] for o in out),
             "nodes_cpu_us_per_item": cpu * 1e6 / max(1, acked)}
        print("%d producers, %d consumers, %d s: %.0f puts/s, %.0f items got+acked/s, put->ack "
              "p50 %.1f ms p99 %.1f ms, nodes' CPU %.0f us per item, errors %d" % (
                  a.producers, a.consumers, a.duration, r["puts_per_s"], r["acked_per_s"],
                  r["put_to_ack_p50_ms"], r["put_to_ack_p99_ms"], r["nodes_cpu_us_per_item"],
                  r["errors"]))
        print("RESULT_JSON " + json.dumps({"bench": "coord-queue", "producers": a.producers,
                                           "consumers": a.consumers, "results": r}))
    with_cluster(go)


HOLDER = r"""
import msgpack, sys, time, zmq
s = zmq.Context().socket(zmq.REQ); s.connect(sys.argv[1])
def call(m):
    s.send(msgpack.packb(m, use_bin_type=True)); return msgpack.unpackb(s.recv(), raw=False)
lease = call({"op": "lease_grant", "ttl_ms": int(sys.argv[2])})["lease"]
r = call({"op": "lock", "name": b"handover", "lease": lease, "wait_ms": 10000})
print(r["token"], flush=True)
while True:
    time.sleep(int(sys.argv[2]) / 3000.0)
    call({"op": "lease_keepalive", "lease": lease})
"""


def handover(a):
    def go(ctx, cluster, ep):
        times = []
        for _ in range(a.rounds):
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, ep, str(a.ttl_ms)],
                                      stdout=subprocess.PIPE, text=True)
            token = int(holder.stdout.readline())
            s = ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(ep)
            lease = call(s, {"op": "lease_grant", "ttl_ms": 60000})["lease"]
            got = {}

            def waiter():
                got["reply"] = call(s, {"op": "lock", "name": b"handover", "lease": lease,
                                        "wait_ms": 30000}, 40000)
                got["at"] = time.monotonic()
            t = threading.Thread(target=waiter)
            t.start()
            time.sleep(0.5)  # the waiter is queued (and a keepalive or two went by)
            killed = time.monotonic()
            holder.send_signal(signal.SIGKILL)
            holder.wait()
            t.join()
            assert got["reply"]["succeeded"] and got["reply"]["token"] > token, got
            times.append(got["at"] - killed)
            call(s, {"op": "lease_revoke", "lease": lease})
            s.close()
        print("lock handover after kill -9 of the holder (TTL %d ms): %s s (max %.2f s, "
              "%.2fx the TTL)" % (a.ttl_ms, ", ".join("%.2f" % x for x in times), max(times),
                                   max(times) * 1000.0 / a.ttl_ms))
        print("RESULT_JSON " + json.dumps({"bench": "coord-handover", "ttl_ms": a.ttl_ms,
                                           "seconds": times}))
    with_cluster(go)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    lk = sub.add_parser("locks")
    lk.add_argument("--clients", default="1,64")
    lk.add_argument("--duration", type=float, default=10.0)
    q = sub.add_parser("queue")
    q.add_argument("--producers", type=int, default=16)
    q.add_argument("--consumers", type=int, default=16)
    q.add_argument("--duration", type=float, default=10.0)
    h = sub.add_parser("handover")
    h.add_argument("--ttl-ms", type=int, default=2000)
    h.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    {"locks": locks, "queue": queue, "handover": handover}[a.cmd](a)


if __name__ == "__main__":
    main()
