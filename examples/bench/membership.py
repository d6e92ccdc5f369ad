#!/usr/bin/python3
"""Benchmarks for membership changes (issue #11). Each prints its figures
and a RESULT_JSON line.

  /usr/bin/python3 examples/bench/membership.py add [--keys 1000000]
      A 3-node cluster filled with --keys keys of 256 B (default snapshot
      settings), then `cabildo member add 4 --learner` and node 4 started
      empty with --join: the time from the add to node 4 having applied the
      leader's commit index of that moment (it catches up through a
      snapshot and the log after it), and to `member promote 4` accepted.

  /usr/bin/python3 examples/bench/membership.py unavailability [--runs 5]
      A 3-node cluster under 4 closed-loop writers (Python client, 250 ms
      attempts): per run, the longest time no write was acknowledged around
      `transfer-leader`, `member remove` of the leader (a fresh node is
      added back after each run) and a rolling restart of every member
      through SIGTERM. Prints min / median / max of each.

Runs build/node/cabildo-node and build/client/cabildo on ports 7100-7163;
data in /tmp/cabildo-membership-bench (wiped first).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import bounded  # noqa: E402  (cluster and probe helpers)
import cabildo  # noqa: E402

bounded.DATA = "/tmp/cabildo-membership-bench"


def port(i):
    return 7100 + 10 * (i - 1)


def endpoint(i):
    return "tcp://127.0.0.1:%d" % (port(i) + 1)


class Cluster(bounded.Cluster):
    """bounded.Cluster plus nodes that join (ids 4...)."""

    def start_joining(self, i, via):
        log = open("%s/node%d.log" % (bounded.DATA, i), "ab")
        args = [bounded.NODE, "--id", str(i), "--data-dir", "%s/node%d" % (bounded.DATA, i),
                "--join", ",".join("127.0.0.1:%d" % port(j) for j in via)] + self.extra
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)


def status(ctx, i, timeout=1.0):
    st, _ = bounded.StatusProbe(ctx, endpoint(i)).call(timeout)
    return st


def admin(ids):
    return cabildo.Client([endpoint(i) for i in ids], request_timeout=1.0, total_timeout=30.0)


def retry(call, *args, timeout=600.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call(*args)
        except cabildo.CabildoError as e:
            if e.code not in ("lagging", "change_pending") or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def add(a):
    ctx = zmq.Context()
    c = Cluster()
    for i in (1, 2, 3):
        c.start(i)
    try:
        leader = bounded.filled(ctx, a.keys)
        os.sync()
        cl = admin([1, 2, 3])
        t0 = time.monotonic()
        cl.member_add(4, "127.0.0.1:%d" % port(4), True)
        target = status(ctx, leader)["commit_index"]
        c.start_joining(4, [1, 2, 3])
        caught_up = None
        while caught_up is None:
            st = status(ctx, 4, 0.5)
            if st and st.get("applied_index", 0) >= target:
                caught_up = time.monotonic() - t0
            time.sleep(0.02)
        retry(cl.member_promote, 4)
        promoted = time.monotonic() - t0
        log = open("%s/node4.log" % bounded.DATA).read()
        install = [line for line in log.splitlines() if "installed snapshot" in line]
        print("member add -> caught up (applied %d): %.2f s; -> promoted: %.2f s"
              % (target, caught_up, promoted))
        print("node 4: %s" % (install[-1].split("] ", 1)[-1] if install else "no snapshot"))
        print("RESULT_JSON " + json.dumps({"bench": "member_add", "keys": a.keys,
                                           "caught_up_s": round(caught_up, 3),
                                           "promoted_s": round(promoted, 3)}))
    finally:
        c.stop_all()


class Writers:
    def __init__(self, ids, count=4):
        self.stop = threading.Event()
        self.acks = []
        self.errors = []
        self.events = []  # (time, writer, what the client did): retries, redirects
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(w, ids), daemon=True)
                        for w in range(count)]
        for t in self.threads:
            t.start()

    def run(self, w, ids):
        cl = cabildo.Client([endpoint(i) for i in ids], request_timeout=0.25, total_timeout=10.0,
                            backoff_initial=0.02, backoff_max=0.2,
                            on_event=lambda text: self.events.append((time.monotonic(), w, text)))
        k = 0
        while not self.stop.is_set():
            k += 1
            try:
                cl.put(b"u/%d/%d" % (w, k % 1000), b"x" * 64)
                with self.lock:
                    self.acks.append(time.monotonic())
            except cabildo.CabildoError as e:
                self.errors.append(e.code)

    def gap_after(self, t0):
        return self.widest_gap(t0)[0]

    def widest_gap(self, t0):
        """(seconds, start) of the longest time after t0 with no ack."""
        with self.lock:
            acks = sorted(self.acks)
        gaps = [(b - x, x) for x, b in zip(acks, acks[1:]) if b > t0]
        return max(gaps) if gaps else (float("nan"), t0)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(15)


def leader_of(ctx, ids):
    for i in ids:
        st = status(ctx, i, 0.5)
        if st and st.get("role") == "leader":
            return i
    return None


def wait_leader(ctx, ids):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lead = leader_of(ctx, ids)
        if lead:
            return lead
        time.sleep(0.05)
    sys.exit("no leader among %s" % ids)


def unavailability(a):
    ctx = zmq.Context()
    c = Cluster()
    members = [1, 2, 3]
    for i in members:
        c.start(i)
    figures = {"transfer_leader": [], "remove_leader": [], "rolling_restart": []}
    next_id = 4
    try:
        wait_leader(ctx, members)
        for run in range(a.runs):
            w = Writers(members)
            time.sleep(0.5)
            lead = wait_leader(ctx, members)
            t0 = time.monotonic()
            admin(members).transfer_leader()
            time.sleep(1.0)
            figures["transfer_leader"].append(w.gap_after(t0))

            lead = wait_leader(ctx, members)
            t0 = time.monotonic()
            retry(admin(members).member_remove, lead)
            time.sleep(1.0)
            figures["remove_leader"].append(w.gap_after(t0))
            c.procs[lead].wait(10)
            members.remove(lead)
            cl = admin(members)
            retry(cl.member_add, next_id, "127.0.0.1:%d" % port(next_id), True)
            c.start_joining(next_id, members)
            retry(cl.member_promote, next_id)
            members.append(next_id)
            next_id += 1

            t0 = time.monotonic()
            steps = []
            for i in list(members):
                lead_now = leader_of(ctx, members)
                steps.append((time.monotonic(), i, i == lead_now))
                c.procs[i].terminate()
                c.procs[i].wait(10)
                c.start_joining(i, [j for j in members if j != i])
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    st = status(ctx, i, 0.3)
                    if st and st.get("role") in ("follower", "leader") and \
                            st.get("leader_id"):
                        break
                time.sleep(0.3)
            figures["rolling_restart"].append(w.gap_after(t0))
            gap, at = w.widest_gap(t0)
            during = [s for s in steps if s[0] <= at]
            if during and a.verbose:
                t, i, was_leader = during[-1]
                print("  rolling restart: widest gap %.0f ms, %.0f ms after stopping node %d (%s)"
                      % (gap * 1000, (at - t) * 1000, i, "leader" if was_leader else "follower"))
                for when, wid, text in w.events:
                    if at - 0.01 <= when <= at + gap + 0.01:
                        print("    +%4.0f ms writer %d: %s" % ((when - at) * 1000, wid, text))
            w.close()
            print("run %d: transfer-leader %.0f ms, remove leader %.0f ms, rolling restart "
                  "%.0f ms (max gap between acknowledged writes); %d errors"
                  % (run + 1, figures["transfer_leader"][-1] * 1000,
                     figures["remove_leader"][-1] * 1000, figures["rolling_restart"][-1] * 1000,
                     len(w.errors)))
        result = {"bench": "membership_unavailability", "runs": a.runs}
        for name, values in figures.items():
            ms = sorted(v * 1000 for v in values)
            result[name + "_ms"] = {"min": round(ms[0], 1), "median": round(statistics.median(ms), 1),
                                    "max": round(ms[-1], 1)}
            print("%-16s min %6.1f ms  median %6.1f ms  max %6.1f ms"
                  % (name, ms[0], statistics.median(ms), ms[-1]))
        print("RESULT_JSON " + json.dumps(result))
    finally:
        c.stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("add")
    p.add_argument("--keys", type=int, default=1_000_000)
    p = sub.add_parser("unavailability")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--verbose", action="store_true", help="say where the widest gaps were")
    a = ap.parse_args()
    {"add": add, "unavailability": unavailability}[a.cmd](a)


if __name__ == "__main__":
    main()
