#!/usr/bin/python3
"""Benchmarks for bounded work per loop turn (issue "fails closed and stays
responsive"). Each prints a table and a RESULT_JSON line.

  /usr/bin/python3 examples/bench/bounded.py status-load [--keys 1000000]
      A 3-node cluster with --keys keys. Write runs (cabildo bench, put, 16
      clients) alternate without and with 100 `status` calls per second
      against each node; prints write throughput and p99 of each, the status
      latencies, and every node's term before and after (an election shows
      as a term change).

  /usr/bin/python3 examples/bench/bounded.py recovery [--entries 1000000]
      A 3-node cluster with --entries writes of history. A follower is
      killed (kill -9) and restarted as after an OS crash (another
      --test-boot-id), so it discards its state and re-applies the whole log.
      `status` is polled every 10 ms meanwhile; prints the recovery time, the
      status latencies during it (p50, p99, max, and any that went
      unanswered), and every node's term before and after.

Runs the built binaries (build/node/cabildo-node, build/client/cabildo, or
$CABILDO_NODE and $CABILDO_CLI) on ports 7100-7123; data in /tmp/cabildo-bounded-bench (wiped first). Needs
/usr/bin/python3 with python3-zmq and python3-msgpack.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import msgpack
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# CABILDO_NODE: another node binary, e.g. an older build to compare with.
NODE = os.environ.get("CABILDO_NODE", os.path.join(ROOT, "build", "node", "cabildo-node"))
CLI = os.environ.get("CABILDO_CLI", os.path.join(ROOT, "build", "client", "cabildo"))
DATA = "/tmp/cabildo-bounded-bench"
PORTS = [7100, 7110, 7120]
ENDPOINTS = ["tcp://127.0.0.1:%d" % (p + 1) for p in PORTS]


class Cluster:
    def __init__(self, extra=()):
        shutil.rmtree(DATA, ignore_errors=True)
        os.makedirs(DATA)
        self.extra = list(extra)
        self.procs = {}

    def args(self, i, more=()):
        a = [NODE, "--id", str(i), "--data-dir", "%s/node%d" % (DATA, i)]
        for j, p in enumerate(PORTS, 1):
            a += ["--member", "%d=127.0.0.1:%d" % (j, p)]
        return a + self.extra + list(more)

    def start(self, i, more=()):
        log = open("%s/node%d.log" % (DATA, i), "ab")
        self.procs[i] = subprocess.Popen(self.args(i, more), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


class StatusProbe:
    """One REQ socket per node, recreated after a timeout (Lazy Pirate)."""

    def __init__(self, ctx, endpoint):
        self.ctx, self.endpoint, self.sock = ctx, endpoint, None

    def call(self, timeout_s):
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(self.endpoint)
        t0 = time.monotonic()
        self.sock.send(msgpack.packb({"op": "status"}))
        if not self.sock.poll(int(timeout_s * 1000)):
            self.sock.close()
            self.sock = None
            return None, time.monotonic() - t0
        return msgpack.unpackb(self.sock.recv()), time.monotonic() - t0


def statuses(ctx):
    out = {}
    for i, ep in enumerate(ENDPOINTS, 1):
        st, _ = StatusProbe(ctx, ep).call(2.0)
        out[i] = st
    return out


def wait_leader(ctx, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sts = statuses(ctx)
        for i, st in sts.items():
            if st and st.get("role") == "leader":
                return i
        time.sleep(0.1)
    sys.exit("no leader within %.0f s (logs in %s)" % (timeout, DATA))


def terms(ctx):
    return {i: (st["term"] if st else None) for i, st in statuses(ctx).items()}


def bench(*args):
    out = subprocess.run([CLI, "--endpoints", ",".join(ENDPOINTS), "--json", "bench", "--quiet"]
                         + list(args), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def poll_status(ctx, rate_per_node, stop, latencies, missed):
    """Open loop, as a monitor does: `status` to every node at a fixed rate
    over DEALERs, whether or not earlier ones were answered. Latencies of the
    answers go to `latencies`; the count left unanswered 1 s after the last
    send goes to `missed`."""
    socks = []
    for ep in ENDPOINTS:
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(ep)
        socks.append(d)
    poller = zmq.Poller()
    for d in socks:
        poller.register(d, zmq.POLLIN)
    sent = {}
    interval = 1.0 / rate_per_node
    next_at = time.monotonic()
    seq = 0
    drain_until = None
    while drain_until is None or (sent and time.monotonic() < drain_until):
        now = time.monotonic()
        if drain_until is None and stop.is_set():
            drain_until = now + 1.0
        if drain_until is None and now >= next_at:
            for d in socks:
                seq += 1
                sent[seq] = now
                d.send_multipart([b"", msgpack.packb({"op": "status", "id": seq})])
            next_at += interval
        for d, _ in poller.poll(max(0, int((next_at - time.monotonic()) * 1000)) or 1):
            rep = msgpack.unpackb(d.recv_multipart()[-1])
            t = sent.pop(rep.get("id"), None)
            if t is not None:
                latencies.append(time.monotonic() - t)
    missed.extend(sent.values())
    for d in socks:
        d.close()


def fill(keys, entries=None):
    """Puts every key once (and then more writes up to `entries`)."""
    t0 = time.monotonic()
    bench("--mode", "put", "--key-space", str(keys), "--prefill", "--count", "1",
          "--clients", "256")
    done = keys
    if entries and entries > keys:
        bench("--mode", "put", "--key-space", str(keys), "--count", str(entries - keys),
              "--clients", "256")
        done = entries
    return done, time.monotonic() - t0


def filled(ctx, keys):
    """Once a leader is elected, puts every one of `keys` once; returns the leader."""
    leader = wait_leader(ctx)
    n, secs = fill(keys)
    print("filled %d keys in %.1f s" % (n, secs))
    return leader


def status_load(a):
    ctx = zmq.Context()
    c = Cluster()
    for i in (1, 2, 3):
        c.start(i)
    try:
        wait_leader(ctx)
        n, secs = fill(a.keys)
        print("filled %d keys in %.1f s" % (n, secs))
        before = terms(ctx)
        rows = []
        for round_ in range(a.rounds):
            for with_status in (False, True):
                lat, missed, stop = [], [], threading.Event()
                poller = None
                if with_status:
                    poller = threading.Thread(target=poll_status,
                                              args=(ctx, a.status_rate, stop, lat, missed))
                    poller.start()
                r = bench("--mode", "put", "--key-space", str(a.keys), "--clients", "16",
                          "--duration", a.duration)
                stop.set()
                if poller:
                    poller.join()
                rows.append({"round": round_ + 1, "status_per_s_per_node":
                             a.status_rate if with_status else 0,
                             "puts_per_s": r["ops_per_s"], "p99_ms": r["lat_ms"]["p99"],
                             "max_ms": r["lat_ms"]["max"], "errors": r["errors"],
                             "status_calls": len(lat), "status_missed": len(missed),
                             "status_p99_ms": pct(lat, 99) * 1000 if lat else None,
                             "status_max_ms": max(lat) * 1000 if lat else None})
        after = terms(ctx)
        print("%-6s %-12s %-10s %-8s %-8s %-8s %-14s %-14s" % (
            "round", "status/s/node", "puts/s", "p99 ms", "max ms", "errors",
            "status p99 ms", "status max ms"))
        for r in rows:
            print("%-6d %-13d %-10.0f %-8.2f %-8.2f %-8d %-14s %-14s" % (
                r["round"], r["status_per_s_per_node"], r["puts_per_s"], r["p99_ms"],
                r["max_ms"], r["errors"],
                "-" if r["status_p99_ms"] is None else "%.2f" % r["status_p99_ms"],
                "-" if r["status_max_ms"] is None else "%.2f" % r["status_max_ms"]))
        print("terms before %s, after %s" % (before, after))
        print("RESULT_JSON " + json.dumps({"bench": "status-load", "keys": a.keys, "rows": rows,
                                           "terms_before": before, "terms_after": after}))
    finally:
        c.stop_all()


def recovery(a):
    ctx = zmq.Context()
    c = Cluster()
    for i in (1, 2, 3):
        c.start(i, ["--test-boot-id", "boot-1"])
    try:
        lead = wait_leader(ctx)
        n, secs = fill(min(a.keys, a.entries), a.entries)
        print("wrote %d entries in %.1f s" % (n, secs))
        victim = 3 if lead != 3 else 2
        time.sleep(1.0)  # let the victim apply what it has
        before = terms(ctx)
        target = statuses(ctx)[lead]["commit_index"]
        c.kill(victim)
        t0 = time.monotonic()
        c.start(victim, ["--test-boot-id", "boot-2"])  # ... as after an OS crash
        probe = StatusProbe(ctx, ENDPOINTS[victim - 1])
        lat, missed, seen_recovering, first_answer = [], 0, 0, None
        recovered_at, recovered = None, None
        while time.monotonic() - t0 < a.timeout:
            st, dt = probe.call(1.0)
            if st is None:
                if first_answer is not None:
                    missed += 1
                continue
            if first_answer is None:
                first_answer = time.monotonic() - t0
            else:
                lat.append(dt)
            if st.get("recovering"):
                seen_recovering += 1
            elif st["applied_index"] >= target:
                recovered_at, recovered = time.monotonic() - t0, st
                break
            time.sleep(0.01)
        after = terms(ctx)
        if recovered_at is None:
            sys.exit("did not see the node recover within %.0f s (logs in %s)" % (a.timeout, DATA))
        result = {"bench": "recovery", "entries": n, "first_status_s": first_answer,
                  "node": NODE,
                  "recovered_s": recovered_at, "statuses_while_recovering": seen_recovering,
                  "status_p50_ms": pct(lat, 50) * 1000, "status_p99_ms": pct(lat, 99) * 1000,
                  "status_max_ms": max(lat) * 1000 if lat else float("nan"),
                  "status_unanswered": missed, "applied_after": recovered["applied_index"],
                  "terms_before": before, "terms_after": after}
        print("re-applied %d entries in %.2f s (first status answer %.3f s after start)"
              % (recovered["applied_index"], recovered_at, first_answer))
        print("status while recovering: %d answers, p50 %.2f ms, p99 %.2f ms, max %.2f ms, "
              "%d unanswered within 1 s" % (len(lat), result["status_p50_ms"],
                                           result["status_p99_ms"], result["status_max_ms"],
                                           missed))
        print("terms before %s, after %s" % (before, after))
        print("RESULT_JSON " + json.dumps(result))
    finally:
        c.stop_all()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("status-load")
    s.add_argument("--keys", type=int, default=1000000)
    s.add_argument("--rounds", type=int, default=2)
    s.add_argument("--duration", default="15s")
    s.add_argument("--status-rate", type=float, default=100.0, help="per node per second")
    r = sub.add_parser("recovery")
    r.add_argument("--entries", type=int, default=1000000)
    r.add_argument("--keys", type=int, default=1000000)
    r.add_argument("--timeout", type=float, default=300.0)
    a = p.parse_args()
    for binary in (NODE, CLI):
        if not os.path.exists(binary):
            sys.exit("%s not found: build first (./setup.sh)" % binary)
    status_load(a) if a.cmd == "status-load" else recovery(a)


if __name__ == "__main__":
    main()
