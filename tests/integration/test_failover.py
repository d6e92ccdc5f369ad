"""Kill -9 the leader under a steady write load: a new leader must serve
writes within 1 s, and after the old leader rejoins every acknowledged write
is on every node."""

import os
import threading
import time
import unittest

import harness
from harness import CabildoError, wait_for

WRITERS = 4
# The bound the brief sets; CABILDO_FAILOVER_BOUND_S can loosen it on a slow machine.
BOUND_S = float(os.environ.get("CABILDO_FAILOVER_BOUND_S", "1.0"))


class Writer(threading.Thread):
    def __init__(self, cluster, wid):
        super().__init__(daemon=True)
        self.wid = wid
        # Short per-attempt timeout and backoff: the retry delay counts in the
        # failover figure.
        self.client = cluster.client(first=1 + wid % 3, request_timeout=0.25, total_timeout=10.0,
                                     backoff_initial=0.02, backoff_max=0.2)
        self.stop = threading.Event()
        self.acked = []  # (key, value, t_start, t_ack, revision)
        self.unknown = []  # keys whose write outcome is unknown (timeout)
        self.errors = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            key = b"fo/%d/%06d" % (self.wid, i)
            value = b"w%d-%d" % (self.wid, i)
            i += 1
            t0 = time.monotonic()
            try:
                rev = self.client.put(key, value)
                self.acked.append((key, value, t0, time.monotonic(), rev))
            except CabildoError as e:
                if e.code == "timeout":
                    self.unknown.append(key)
                else:
                    self.errors.append((key, e.code, e.message))
                    time.sleep(0.05)
            except Exception as e:  # noqa: BLE001
                self.errors.append((key, "exception", repr(e)))
                time.sleep(0.05)


def start_writers(cluster):
    """WRITERS writers, started, each with 20 writes acknowledged."""
    writers = [Writer(cluster, w) for w in range(WRITERS)]
    for w in writers:
        w.start()
    try:
        wait_for(lambda: all(len(w.acked) >= 20 for w in writers), 15.0,
                 "every writer to get 20 writes acknowledged")
    except BaseException:
        stop_writers(writers)
        raise
    return writers


def stop_writers(writers):
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join(15)


class FailoverTest(harness.ClusterTestCase):
    def test_leader_crash_under_load(self):
        c = self.start_cluster(3)
        old = c.wait_for_leader()
        writers = start_writers(c)
        try:
            time.sleep(0.3)  # steady state
            before = sum(len(w.acked) for w in writers)

            t_kill = time.monotonic()
            c.kill(old)
            t_dead = time.monotonic()

            def new_leader():
                for nid, st in c.statuses(timeout=0.1).items():
                    if st and st.get("role") == "leader" and nid != old:
                        return nid, time.monotonic()
                return None
            new, t_leader = wait_for(new_leader, 10.0, "a new leader", interval=0.01)

            # Replies already on their way when the leader died may still
            # arrive for a few ms: only count acks from after that.
            def first_ack_after():
                ts = [a[3] for w in writers for a in list(w.acked) if a[3] > t_dead + 0.01]
                return min(ts) if ts else None
            t_first = wait_for(first_ack_after, 10.0, "a write acknowledged after the kill")
            time.sleep(0.5)
        finally:
            stop_writers(writers)
        self.assertFalse(any(w.is_alive() for w in writers), "writers hung")

        acked = [a for w in writers for a in w.acked]
        unknown = sum(len(w.unknown) for w in writers)
        errors = [e for w in writers for e in w.errors]
        gap = max((b[3] - a[3]) for w in writers for a, b in zip(w.acked, w.acked[1:])
                  if b[3] > t_kill)
        print("\nfailover: killed leader %d; kill->dead %.1f ms; new leader %d reported after "
              "%.0f ms; first write acknowledged after %.0f ms; longest gap between a writer's "
              "acks %.0f ms; %d writes acked before the kill, %d in all, %d unknown, %d errors"
              % (old, (t_dead - t_kill) * 1000, new, (t_leader - t_kill) * 1000,
                 (t_first - t_kill) * 1000, gap * 1000, before, len(acked), unknown, len(errors)))
        self.assertEqual(errors, [], "writes failed with errors other than timeout")
        self.assertLess(t_first - t_kill, BOUND_S,
                        "a new leader must serve writes within %.1f s of the kill" % BOUND_S)
        revs = [a[4] for a in acked]
        self.assertEqual(len(set(revs)), len(revs), "two acknowledged writes share a revision")

        c.start(old)
        c.wait_converged(timeout=30.0)
        want = {}
        for w in writers:
            for key, value, _, _, _ in w.acked:
                want[key] = value
        for n in c.nodes:
            for wid in range(WRITERS):
                got = c.read_all(n.id, b"fo/%d/" % wid)
                missing = [k for k, v in want.items()
                           if k.startswith(b"fo/%d/" % wid) and got.get(k) != v]
                self.assertEqual(missing[:10], [], "node %d lacks %d acknowledged writes of "
                                 "writer %d" % (n.id, len(missing), wid))
        # Spot-check with single-key serializable gets too.
        for n in c.nodes:
            nc = c.node_client(n.id)
            for key in list(want)[:: max(1, len(want) // 50)]:
                self.assertEqual(nc.get(key, serializable=True)[0], want[key])
        self.assertAllAlive()

    def test_leader_sigterm_hands_over_under_load(self):
        """SIGTERM the leader under a steady write load: it hands leadership
        to a caught-up follower before it exits (no election timeout), and
        every acknowledged write survives."""
        c = self.start_cluster(3)
        old = c.wait_for_leader()
        old_term = c.status(old)["term"]
        writers = start_writers(c)
        try:
            t_stop = time.monotonic()
            code = c.stop(old)
            t_gone = time.monotonic()
            new = c.wait_for_leader(exclude=(old,))
            wait_for(lambda: sum(1 for w in writers for a in list(w.acked) if a[3] > t_gone) >= 20,
                     10.0, "writes acknowledged after the old leader exited")
        finally:
            stop_writers(writers)
        self.assertEqual(code, 0, "the leader did not exit cleanly on SIGTERM")
        self.assertIn("handed leadership over", c.node(old).log())
        # A handover is one election, won at once: the next term.
        self.assertEqual(c.status(new)["term"], old_term + 1)
        errors = [e for w in writers for e in w.errors]
        gap = max((b[3] - a[3]) for w in writers for a, b in zip(w.acked, w.acked[1:])
                  if b[3] > t_stop)
        # Write unavailability: the longest time no writer had a write
        # acknowledged (a writer whose request was on the old leader also
        # waits out its 250 ms request timeout: the per-writer gap).
        acks = sorted(a[3] for w in writers for a in w.acked)
        unavailable = max(b - a for a, b in zip(acks, acks[1:]) if b > t_stop)
        print("\nsigterm handover: leader %d exited %.0f ms after SIGTERM; new leader %d; no write "
              "acknowledged for %.0f ms at most; longest gap between one writer's acks %.0f ms; "
              "%d errors" % (old, (t_gone - t_stop) * 1000, new, unavailable * 1000, gap * 1000,
                             len(errors)))
        self.assertEqual(errors, [], "writes failed with errors other than timeout")
        self.assertLess(gap, BOUND_S)
        c.start(old)
        c.wait_converged(timeout=30.0)
        want = {key: value for w in writers for key, value, _, _, _ in w.acked}
        for n in c.nodes:
            got = {}
            for wid in range(WRITERS):
                got.update(c.read_all(n.id, b"fo/%d/" % wid))
            missing = [k for k, v in want.items() if got.get(k) != v]
            self.assertEqual(missing[:10], [], "node %d lacks acknowledged writes" % n.id)
        self.assertAllAlive()

    def test_paused_leader(self):
        """SIGSTOP the leader (it looks partitioned), write through the others,
        SIGCONT it: it must not answer a linearizable read with its stale
        state, it steps down, and it catches up."""
        c = self.start_cluster(3)
        old = c.wait_for_leader()
        cl = c.client(first=1 + old % 3, request_timeout=0.3, backoff_max=0.2)
        cl.put(b"pz/x", b"old")
        c.wait_converged()
        c.pause(old)
        t0 = time.monotonic()
        rev = cl.put(b"pz/x", b"new")
        t_write = time.monotonic() - t0
        new = c.wait_for_leader(exclude=(old,))
        acked = {}
        for i in range(50):
            cl.put(b"pz/%02d" % i, b"v%d" % i)
            acked[b"pz/%02d" % i] = b"v%d" % i
        print("\npaused leader %d: new leader %d; first write after the pause took %.0f ms "
              "(revision %d)" % (old, new, t_write * 1000, rev))
        c.resume(old)
        # At once: the old leader has not heard of the new term yet.
        stale = c.node_client(old, request_timeout=1.0, total_timeout=5.0)
        value, rrev = stale.get(b"pz/x")
        self.assertEqual(value, b"new", "linearizable read through the resumed old leader %d "
                         "returned a stale value (revision %d, write was at %d)"
                         % (old, rrev, rev))
        self.assertGreaterEqual(rrev, rev)
        wait_for(lambda: c.status(old)["role"] == "follower" or c.leader() != old, 5.0,
                 "the old leader to step down")
        c.wait_converged(timeout=20.0)
        self.assertEqual(c.read_all(old, b"pz/"), {**acked, b"pz/x": b"new"})
        leaders = [i for i, st in c.statuses().items() if st and st["role"] == "leader"]
        self.assertEqual(len(leaders), 1, c.describe())
        self.assertAllAlive()

    def test_whole_cluster_stall_keeps_its_leader(self):
        """Every node stalls at once for well over an election timeout (3
        nodes on one disk whose writeback held every log sync for a second,
        measured at 1M keys; here SIGSTOP), then resumes: the leader's first
        heartbeats reach the followers before their election timers, so no
        node campaigns and the term stays. A node used to tick the stall's
        second at once after stepping what had arrived meanwhile, and the
        cluster held an election after every such stall."""
        c = self.start_cluster(3)
        leader = c.wait_for_leader()
        cl = c.client(request_timeout=1.0, total_timeout=10.0)
        cl.put(b"stall/a", b"1")
        c.wait_converged()
        term = c.status(leader)["term"]
        marks = {n.id: len(n.log()) for n in c.nodes}
        for n in c.nodes:
            n.pause()
        time.sleep(1.5)  # the stall itself (election timeouts are 0.3-0.6 s), not a wait
        for n in c.nodes:
            n.resume()
        cl.put(b"stall/b", b"2")
        c.wait_converged()
        after = c.statuses()
        campaigns = [line for n in c.nodes for line in n.log()[marks[n.id]:].splitlines()
                     if "candidate in term" in line]
        self.assertEqual(campaigns, [], "nodes campaigned after a stall of the whole cluster")
        self.assertEqual({nid: st["term"] for nid, st in after.items()},
                         {n.id: term for n in c.nodes}, c.describe())
        self.assertEqual(c.leader(), leader)

    def test_session_dedup_survives_leader_crash(self):
        """A (session, seq) answered by the old leader and retried at the new
        one gets the first reply again and does not run twice."""
        c = self.start_cluster(3)
        old = c.wait_for_leader()
        cl = c.client()
        put = {"op": "put", "key": b"dd/k", "value": b"first", "session": 9001, "seq": 1, "id": 1}
        r1 = cl.request(put, c.node(old).client_endpoint, timeout=5.0)
        self.assertTrue(r1 and r1["ok"], r1)
        c.wait_converged()
        c.kill(old)
        new = c.wait_for_leader(exclude=(old,))
        ep = c.node(new).client_endpoint
        r2 = wait_for(lambda: (lambda r: r if r and (r["ok"] or r["error"] not in
                                                     ("no_leader", "unavailable")) else None)(
            cl.request(dict(put, value=b"second", id=2), ep, timeout=2.0)),
            10.0, "the retried put to be answered by the new leader %d" % new)
        self.assertTrue(r2["ok"], r2)
        self.assertEqual(r2["revision"], r1["revision"],
                         "the retry ran again at the new leader: %r vs %r" % (r2, r1))
        self.assertEqual(r2["id"], 2)
        self.assertEqual(cl.get(b"dd/k")[0], b"first")
        c.start(old)
        c.wait_converged(timeout=20.0)
        self.assertEqual(c.read_all(old, b"dd/"), {b"dd/k": b"first"})


if __name__ == "__main__":
    unittest.main()
