"""Key metadata, leases, txns and prefix deletes against real nodes.

- every key carries create_revision, mod_revision, version and lease (get,
  range, put's prev, events); cas by mod_revision;
- a lease expires through the log no earlier than its TTL after the last
  acknowledged keepalive and within a bounded grace after it, deleting all
  its keys at one revision on every node; keepalives keep it, revoke ends it
  at once;
- a lease survives kill -9 and SIGSTOP of the leader while it is renewed
  (the paused old leader's stale clock must not expire it), a snapshot
  (InstallSnapshot) and a whole-cluster restart, and then expires;
- txns: compares, both branches, one revision for all writes, read-only
  txns through a follower, the 128-operation limit, prefix deletes;
- error codes: not_found, exists, bad_request, too_large.
"""

import threading
import time
import unittest

import zmq
import msgpack

import harness
from harness import CabildoError, wait_for

# A lease's keys must be gone within its TTL plus this after the last
# keepalive (the leader checks every 10 ms, then one commit).
GRACE = 1.5
# ... and still there this long before its TTL has passed.
EARLY = 0.3
SNAP_ARGS = ["--log-level", "info", "--snapshot-entries", "100", "--snapshot-trailing", "20"]


class Renewer(threading.Thread):
    """Renews a lease every `every` seconds through its own failover-ready
    client until stopped; records every acknowledged keepalive as
    (sent, acked, endpoint) and every failure as (sent, ended, code)."""

    def __init__(self, cluster, lease, every, first=None):
        super().__init__(daemon=True)
        self.client = cluster.client(first=first, request_timeout=0.3, total_timeout=5.0,
                                     backoff_max=0.2)
        self.lease = lease
        self.every = every
        self.acks = []
        self.failures = []
        self.last_end = None  # when the last call returned, acknowledged or not
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            t0 = time.monotonic()
            try:
                ttl = self.client.lease_keepalive(self.lease)
                self.acks.append((t0, time.monotonic(), self.client.last_endpoint))
                if ttl is None:
                    self.failures.append((t0, time.monotonic(), "no ttl_ms in the reply"))
            except CabildoError as e:
                self.failures.append((t0, time.monotonic(), e.code))
                if e.code == "not_found":
                    self.last_end = time.monotonic()
                    return
            self.last_end = time.monotonic()
            self._stop_ev.wait(self.every)

    def stop(self):
        """Stops renewing; returns (last acknowledged keepalive, end of the
        last call)."""
        self._stop_ev.set()
        self.join(20)
        assert not self.is_alive(), "renewer hung"
        return (self.acks[-1][1] if self.acks else None), self.last_end

    def max_gap(self):
        """The longest time between two acknowledged keepalives."""
        acked = [a[1] for a in self.acks]
        return max((b - a for a, b in zip(acked, acked[1:])), default=0.0)

    def lost(self):
        return [f for f in self.failures if f[2] == "not_found"]

    def acks_since(self, t, endpoint=None):
        return [a for a in list(self.acks) if a[0] >= t and (endpoint is None or a[2] == endpoint)]


def history(cluster, node_id, prefix, frm):
    return cluster.history(node_id, prefix, frm)


class LeaseTxnTest(harness.ClusterTestCase):
    # -- helpers

    def renewer(self, lease, every, first=None):
        r = Renewer(self.cluster, lease, every, first=first)
        r.start()
        self.addCleanup(r.stop)
        return r

    def ask(self, req, node_id=None, timeout=5.0):
        """One raw request to node_id (default: the leader), retried while
        there is no leader; returns the reply, which must be ok."""
        c = self.cluster

        def attempt():
            nid = node_id or c.leader()
            if nid is None:
                return None
            rep = c.node_client(nid).request(dict(req), c.node(nid).client_endpoint, timeout=2.0)
            if rep is None or (not rep["ok"] and rep.get("error") in ("no_leader", "unavailable")):
                return None
            return rep
        rep = wait_for(attempt, timeout, "an answer to %r" % (req,))
        self.assertTrue(rep["ok"], "%r -> %r" % (req, rep))
        return rep

    def assertCode(self, code, fn, *args, **kw):
        with self.assertRaises(CabildoError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code, code, "%s%r: %s" % (fn.__name__, args, cm.exception))
        return cm.exception

    def assert_present(self, cl, keys, lease, what):
        for k in keys:
            e, _ = cl.get_entry(k)
            self.assertIsNotNone(e, "%s: %r is gone" % (what, k))
            self.assertEqual(e["lease"], lease, "%s: %r's lease" % (what, k))

    def assert_expires(self, cl, keys, lease, ttl_s, lower_ref, upper_ref, what):
        """Keys (on `lease`) still there at lower_ref + TTL - EARLY, gone by
        upper_ref + TTL + GRACE. Returns when they were seen gone."""
        check_at = lower_ref + ttl_s - EARLY
        now = time.monotonic()
        self.assertLess(now, check_at, "%s: the test came too late to check for an early "
                        "expiry (%.2fs after the last renewal)" % (what, now - lower_ref))
        time.sleep(check_at - now)  # deliberately: the lease must outlive this
        self.assert_present(cl, keys, lease, "%s, %.2fs after the last acknowledged keepalive "
                            "(TTL %.1fs)" % (what, time.monotonic() - lower_ref, ttl_s))
        deadline = upper_ref + ttl_s + GRACE
        try:
            wait_for(lambda: all(cl.get(k)[0] is None for k in keys),
                     max(0.0, deadline - time.monotonic()), "%s: keys %r to expire" % (what, keys))
        except AssertionError as e:
            raise AssertionError("%s: keys still there %.2fs after the last keepalive (TTL %.1fs "
                                 "+ grace %.1fs): %s; lease_list %r" % (
                                     what, time.monotonic() - upper_ref, ttl_s, GRACE, e,
                                     cl.lease_list())) from None
        gone = time.monotonic()
        print("\n%s: keys seen gone %.2fs after the last acknowledged keepalive (TTL %.1fs)"
              % (what, gone - lower_ref, ttl_s))
        self.assertCode("not_found", cl.lease_info, lease)
        self.assertNotIn(lease, [l["lease"] for l in cl.lease_list()[0]])
        return gone

    def assert_deleted_together(self, prefix, frm, keys, node_ids=None):
        """The delete events of keys under prefix since frm: one each, all
        at one revision, the same on every node. Returns that revision."""
        c = self.cluster
        revs = {}
        for nid in node_ids or [n.id for n in c.nodes if n.alive()]:
            events = wait_for(lambda: (lambda ev: ev if len([e for e in ev if e["op"] == "delete"])
                                       >= len(keys) else None)(history(c, nid, prefix, frm)[0]),
                              5.0, "delete events on node %d" % nid)
            dels = [e for e in events if e["op"] == "delete"]
            self.assertEqual(sorted(e["key"] for e in dels), sorted(keys),
                             "node %d: delete events %r" % (nid, dels))
            self.assertEqual(len({e["revision"] for e in dels}), 1,
                             "node %d: the lease's keys were deleted at different revisions: %r"
                             % (nid, dels))
            for e in dels:
                self.assertIsNone(e["value"])
            revs[nid] = dels[0]["revision"]
        self.assertEqual(len(set(revs.values())), 1, "delete revision per node: %r" % revs)
        return next(iter(revs.values()))

    # -- 1. metadata

    def test_key_metadata_and_cas_revision(self):
        c = self.start_cluster(3)
        cl = c.client(first=2)
        r1 = cl.put(b"md/k", b"one")
        r2 = cl.put(b"md/k", b"two")
        self.assertGreater(r2, r1)
        e, rev = cl.get_entry(b"md/k")
        self.assertEqual(e, {"value": b"two", "create_revision": r1, "mod_revision": r2,
                             "version": 2, "lease": 0})
        self.assertGreaterEqual(rev, r2)

        _, r3 = cl.delete(b"md/k")
        self.assertEqual(cl.get_entry(b"md/k")[0], None)
        r4 = cl.put(b"md/k", b"three")
        self.assertGreater(r4, r3)
        self.assertEqual(cl.get_entry(b"md/k")[0],
                         {"value": b"three", "create_revision": r4, "mod_revision": r4,
                          "version": 1, "lease": 0}, "a put after a delete starts a new life")

        prev, r5 = cl.put_prev(b"md/k", b"four")
        self.assertEqual(prev, {"value": b"three", "create_revision": r4, "mod_revision": r4,
                                "version": 1, "lease": 0})
        prev, r6 = cl.put_prev(b"md/new", b"x")
        self.assertIsNone(prev, "put_prev of an absent key")

        rep = self.ask({"op": "range", "prefix": b"md/"})
        self.assertEqual(rep["kvs"], [
            {"key": b"md/k", "value": b"four", "create_revision": r4, "mod_revision": r5,
             "version": 2, "lease": 0},
            {"key": b"md/new", "value": b"x", "create_revision": r6, "mod_revision": r6,
             "version": 1, "lease": 0}])
        # The same metadata on every node (it is replicated state).
        c.wait_converged()
        for n in c.nodes:
            got = self.ask({"op": "range", "prefix": b"md/", "consistency": "serializable"}, n.id)
            self.assertEqual(got["kvs"], rep["kvs"], "node %d" % n.id)
        # Events carry it too.
        events, _ = history(c, c.wait_for_leader(), b"md/k", r1)
        self.assertEqual([(e["revision"], e["op"], e["version"], e["create_revision"],
                           e["mod_revision"]) for e in events],
                         [(r1, "put", 1, r1, r1), (r2, "put", 2, r1, r2), (r3, "delete", 0, 0, 0),
                          (r4, "put", 1, r4, r4), (r5, "put", 2, r4, r5)])

        # cas by mod_revision: only the current one wins.
        ok, _ = cl.cas_revision(b"md/k", r4, b"stale")
        self.assertFalse(ok, "cas with an old mod_revision")
        ok, _ = cl.cas_revision(b"md/k", r5 + 1000, b"future")
        self.assertFalse(ok)
        ok, _ = cl.cas_revision(b"md/k", 0, b"create")
        self.assertFalse(ok, "mod_revision 0 on an existing key")
        self.assertEqual(cl.get_entry(b"md/k")[0]["value"], b"four")
        ok, r7 = cl.cas_revision(b"md/k", r5, b"five")
        self.assertTrue(ok, "cas with the current mod_revision")
        e = cl.get_entry(b"md/k")[0]
        self.assertEqual((e["value"], e["mod_revision"], e["version"], e["create_revision"]),
                         (b"five", r7, 3, r4))
        ok, _ = cl.cas_revision(b"md/k", r5, b"again")
        self.assertFalse(ok, "the same mod_revision a second time")
        ok, r8 = cl.cas_revision(b"md/absent", 0, b"created")
        self.assertTrue(ok, "mod_revision 0 on an absent key")
        self.assertEqual(cl.get_entry(b"md/absent")[0]["create_revision"], r8)
        # expected and mod_revision together: one of them only.
        rep = c.node_client(1).request(
            {"op": "cas", "key": b"md/k", "expected": b"five", "mod_revision": r7,
             "value": b"x"}, c.node(1).client_endpoint, timeout=5.0)
        self.assertEqual((rep["ok"], rep.get("error")), (False, "bad_request"), rep)
        self.assertEqual(cl.get(b"md/k")[0], b"five")
        self.assertAllAlive()

    # -- 2. expiry

    def test_lease_expires_after_ttl_deleting_its_keys_at_one_revision(self):
        c = self.start_cluster(3)
        cl = c.client()
        # A SUB socket on a follower, subscribed first (PROTOCOL.md section 10).
        follower = c.followers()[0]
        ctx = zmq.Context()
        self.addCleanup(ctx.term)
        sub = ctx.socket(zmq.SUB)
        self.addCleanup(sub.close, 0)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"kv/lx/")
        sub.connect(c.node(follower).pub_endpoint)
        seen = []

        def drain():
            while sub.poll(0):
                topic, body = sub.recv_multipart()
                seen.append((topic, msgpack.unpackb(body, raw=False)))
            return seen

        # The subscription is up once a probe write comes through.
        wait_for(lambda: (cl.put(b"lx/probe", b"p"), any(t == b"kv/lx/probe"
                                                          for t, _ in drain()))[1],
                 10.0, "the SUB socket to receive events", interval=0.1)

        lease = cl.lease_grant(1500)
        self.assertTrue(lease)
        info = cl.lease_info(lease)
        self.assertEqual((info["lease"], info["ttl_ms"]), (lease, 1500))
        self.assertTrue(0 < info["remaining_ms"] <= 1500, info)
        ra = cl.put(b"lx/a", b"1", lease=lease)
        cl.put(b"lx/b", b"2", lease=lease)
        self.assertEqual(cl.get_entry(b"lx/a")[0]["lease"], lease)
        self.assertEqual(sorted(cl.lease_info(lease, keys=True)["keys"]), [b"lx/a", b"lx/b"])
        self.assertEqual(cl.lease_keepalive(lease), 1500)
        acked = time.monotonic()
        self.assert_expires(cl, [b"lx/a", b"lx/b"], lease, 1.5, acked, acked, "unrenewed lease")
        self.assertEqual(cl.get(b"lx/probe")[0], b"p", "a key without the lease was deleted")
        rev = self.assert_deleted_together(b"lx/", ra, [b"lx/a", b"lx/b"])
        self.assertGreater(rev, ra)
        # The same on the PUB stream of the follower.
        wait_for(lambda: len([1 for _, e in drain() if e["op"] == "delete"]) >= 2, 5.0,
                 "the delete events on node %d's PUB socket" % follower)
        dels = [(t, e["revision"], e["key"]) for t, e in seen if e["op"] == "delete"]
        self.assertEqual(sorted(dels), [(b"kv/lx/a", rev, b"lx/a"), (b"kv/lx/b", rev, b"lx/b")])
        # Gone for good.
        self.assertCode("not_found", cl.lease_keepalive, lease)
        self.assertCode("not_found", cl.lease_revoke, lease)
        self.assertCode("not_found", cl.put, b"lx/c", b"3", lease=lease)
        self.assertIsNone(cl.get(b"lx/c")[0])
        c.wait_converged()
        for n in c.nodes:
            self.assertEqual(c.read_all(n.id, b"lx/"), {b"lx/probe": b"p"}, "node %d" % n.id)
        self.assertAllAlive()

    # -- 3. keepalive, revoke

    def test_keepalive_keeps_it_and_revoke_ends_it_at_once(self):
        c = self.start_cluster(3)
        cl = c.client()
        lease = cl.lease_grant(1000)
        keys = [b"ka/a", b"ka/b"]
        first = cl.put(keys[0], b"1", lease=lease)
        cl.put(keys[1], b"2", lease=lease)
        t_end = time.monotonic() + 4.0  # four TTLs
        renewals = 0
        while time.monotonic() < t_end:
            self.assertEqual(cl.lease_keepalive(lease), 1000)
            renewals += 1
            self.assert_present(cl, keys, lease, "after %d renewals" % renewals)
            time.sleep(0.25)  # deliberately: time passes between renewals
        info = cl.lease_info(lease, keys=True)
        self.assertEqual(sorted(info["keys"]), keys)
        self.assertTrue(0 < info["remaining_ms"] <= 1000, info)
        events, _ = history(c, c.wait_for_leader(), b"ka/", first)
        self.assertEqual([e["op"] for e in events], ["put", "put"], events)

        self.assertEqual(cl.lease_revoke(lease), 2)
        for k in keys:
            self.assertIsNone(cl.get(k)[0], "%r still there after the revoke" % k)
        self.assert_deleted_together(b"ka/", first, keys)
        self.assertCode("not_found", cl.lease_keepalive, lease)
        self.assertCode("not_found", cl.lease_info, lease)
        self.assertCode("not_found", cl.lease_revoke, lease)
        self.assertAllAlive()

    # -- 4. leader crash

    def test_lease_survives_leader_kill_while_renewed(self):
        c = self.start_cluster(3)
        cl = c.client(request_timeout=0.3, backoff_max=0.2)
        ttl = 3.0
        lease = cl.lease_grant(3000)
        keys = [b"lk/a", b"lk/b"]
        for k in keys:
            cl.put(k, b"v", lease=lease)
        old = c.wait_for_leader()
        r = self.renewer(lease, 0.5, first=old)
        wait_for(lambda: len(r.acks) >= 2, 5.0, "keepalives before the kill")
        c.wait_converged()
        c.kill(old)
        t_kill = time.monotonic()
        new = c.wait_for_leader(exclude=(old,))
        new_ep = c.node(new).client_endpoint
        # Renewed at the new leader for longer than a TTL since the kill.
        wait_for(lambda: time.monotonic() - t_kill > ttl + 0.5 and
                 len(r.acks_since(t_kill, new_ep)) >= 3, 15.0,
                 "keepalives acknowledged by the new leader %d for a TTL" % new)
        self.assertEqual(r.lost(), [], "the lease vanished while renewed: %r" % r.failures)
        self.assert_present(cl, keys, lease, "after the leader's kill")
        info = cl.lease_info(lease, keys=True)
        self.assertEqual((info["ttl_ms"], sorted(info["keys"])), (3000, keys))
        acked, end = r.stop()
        print("\nlongest time between acknowledged keepalives: %.2fs (TTL %.1fs)"
              % (r.max_gap(), ttl))
        self.assertEqual(r.lost(), [])
        self.assert_expires(cl, keys, lease, ttl, acked, end, "after failover, unrenewed")
        c.start(old)
        c.wait_converged()
        self.assertEqual(c.read_all(old, b"lk/"), {})
        self.assertAllAlive()

    # -- 5. paused leader

    def test_paused_old_leader_does_not_expire_a_renewed_lease(self):
        c = self.start_cluster(3)
        cl = c.client(request_timeout=0.3, backoff_max=0.2)
        ttl = 2.0
        lease = cl.lease_grant(2000)
        keys = [b"lp/a", b"lp/b"]
        first = None
        for k in keys:
            rev = cl.put(k, b"v", lease=lease)
            first = first or rev
        old = c.wait_for_leader()
        r = self.renewer(lease, 0.3, first=old)
        wait_for(lambda: len(r.acks) >= 2, 5.0, "keepalives before the pause")
        c.wait_converged()
        c.pause(old)
        t_pause = time.monotonic()
        new = c.wait_for_leader(exclude=(old,))
        new_ep = c.node(new).client_endpoint
        # Paused for longer than the TTL, renewed at the new leader meanwhile.
        wait_for(lambda: time.monotonic() - t_pause > ttl + 1.0 and
                 len(r.acks_since(t_pause, new_ep)) >= 3, 15.0,
                 "keepalives acknowledged by the new leader %d" % new)
        self.assertEqual(r.lost(), [], "the lease vanished while renewed: %r" % r.failures)
        self.assert_present(cl, keys, lease, "old leader %d paused %.1fs"
                            % (old, time.monotonic() - t_pause))
        c.resume(old)
        # Its clock says the lease is long due; it must not matter.
        wait_for(lambda: c.status(old)["role"] == "follower", 5.0,
                 "the old leader %d to step down" % old)
        c.wait_converged()
        self.assertEqual(r.lost(), [], "the lease vanished after the resume: %r" % r.failures)
        for n in c.nodes:
            got = c.read_all(n.id, b"lp/")
            self.assertEqual(sorted(got), keys, "node %d after the old leader resumed" % n.id)
        lead = c.wait_for_leader()
        events, _ = history(c, lead, b"lp/", first)
        self.assertEqual([e["op"] for e in events], ["put", "put"],
                         "keys of a renewed lease were deleted: %r" % events)
        self.assertEqual(cl.lease_info(lease)["ttl_ms"], 2000)
        acked, end = r.stop()
        print("\nlongest time between acknowledged keepalives: %.2fs (TTL %.1fs)"
              % (r.max_gap(), ttl))
        self.assert_expires(cl, keys, lease, ttl, acked, end, "after the pause, unrenewed")
        self.assertAllAlive()

    # -- 6. snapshot and full restart

    def test_lease_survives_snapshot_and_full_restart(self):
        c = self.start_cluster(3, extra_args=SNAP_ARGS)
        cl = c.client(request_timeout=0.5, total_timeout=15.0)
        ttl = 3.0
        lease = cl.lease_grant(3000)
        keys = [b"ls/a", b"ls/b"]
        for k in keys:
            cl.put(k, b"v", lease=lease)
        cl.put(b"ls/plain", b"p")
        r = self.renewer(lease, 0.4)
        lead = c.wait_for_leader()
        victim = [i for i in (1, 2, 3) if i != lead][0]
        other = [i for i in (1, 2, 3) if i not in (lead, victim)][0]
        c.wait_converged()
        last_seen = c.status(victim)["last_index"]
        c.kill(victim)
        # A second lease, never renewed: node `victim` learns it only from
        # the snapshot, and must time it once it leads.
        ttl2 = 6.0
        lease2 = cl.lease_grant(6000)
        t_grant2 = time.monotonic()
        keys2 = [b"lt/a", b"lt/b"]
        rev2 = max(cl.put(k, b"w", lease=lease2) for k in keys2)
        noise = [0]

        def compacted():
            for _ in range(50):
                cl.put(b"noise/%d" % (noise[0] % 40), b"n%d" % noise[0])
                noise[0] += 1
            return all((lambda st: st["snapshot_index"] > rev2 and
                        st["first_index"] > last_seen + 1)(c.status(i)) for i in (lead, other))
        wait_for(compacted, 30.0, "compaction past what node %d holds" % victim, interval=0)
        c.start(victim)
        c.wait_converged(timeout=30.0)
        t_installed = time.monotonic()
        self.assertIn("installed snapshot", c.node(victim).log())
        nc = c.node_client(victim)
        for k in keys2:
            e, _ = nc.get_entry(k, serializable=True)
            self.assertIsNotNone(e, "%r on node %d after InstallSnapshot" % (k, victim))
            self.assertEqual(e["lease"], lease2)
        for k in keys:
            e, _ = nc.get_entry(k, serializable=True)
            self.assertIsNotNone(e, "%r on node %d after InstallSnapshot" % (k, victim))
            self.assertEqual(e["lease"], lease)
        # The node that got the lease from a snapshot leads and times it.
        def leads():
            if c.leader() == victim:
                return True
            cl.transfer_leader(victim)
            return c.leader() == victim
        wait_for(leads, 15.0, "node %d to lead" % victim, interval=0.2)
        t_moved = time.monotonic()
        wait_for(lambda: r.acks_since(t_moved, c.node(victim).client_endpoint), 10.0,
                 "a keepalive acknowledged by node %d" % victim)
        info = cl.lease_info(lease, keys=True)
        self.assertEqual((info["lease"], info["ttl_ms"], sorted(info["keys"])),
                         (lease, 3000, keys))
        self.assertTrue(0 < info["remaining_ms"] <= 3000, info)
        self.assertEqual(r.lost(), [], r.failures)
        self.assertLess(time.monotonic(), t_grant2 + ttl2 - 1.0,
                        "node %d took too long to lead for this test" % victim)
        info = cl.lease_info(lease2)
        self.assertTrue(0 < info["remaining_ms"] <= 6000, info)
        self.assert_expires(cl, keys2, lease2, ttl2, t_grant2, t_installed,
                            "a lease node %d got from a snapshot, unrenewed" % victim)
        self.assert_deleted_together(b"lt/", rev2 + 1, keys2)
        self.assert_present(cl, keys, lease, "the renewed lease while the other one expired")

        # Every node stopped (SIGTERM) and started again.
        acked, _ = r.stop()
        self.assertEqual(r.lost(), [], r.failures)
        for n in c.nodes:
            self.assertEqual(n.stop(), 0, "node %d did not exit cleanly" % n.id)
        self.assertLess(time.monotonic() - acked, ttl - 1.0,
                        "stopping the cluster took too long for this test")
        t_start = time.monotonic()
        c.start()
        c.wait_for_leader(timeout=15.0)
        t_lead = time.monotonic()
        leases, more = cl.lease_list()
        self.assertFalse(more)
        self.assertEqual([(l["lease"], l["ttl_ms"]) for l in leases], [(lease, 3000)])
        info = cl.lease_info(lease, keys=True)
        self.assertEqual((info["ttl_ms"], sorted(info["keys"])), (3000, keys))
        self.assertTrue(0 < info["remaining_ms"] <= 3000, info)
        self.assert_present(cl, keys, lease, "after the restart")
        # Unrenewed, it expires: timed from the restart (the nodes' clocks
        # did not see the renewals), not before.
        self.assert_expires(cl, keys, lease, ttl, t_start, t_lead, "after the restart")
        self.assertEqual(cl.get(b"ls/plain")[0], b"p")
        c.wait_converged()
        for n in c.nodes:
            self.assertEqual(c.read_all(n.id, b"ls/"), {b"ls/plain": b"p"}, "node %d" % n.id)
        self.assertAllAlive()

    # -- 7. txn

    def test_txn(self):
        c = self.start_cluster(3)
        cl = c.client()
        cl.put(b"tx/flag", b"go")
        ok, responses, rev = cl.txn(
            [{"key": b"tx/flag", "target": "value", "result": "eq", "value": b"go"}],
            [{"op": "put", "key": b"tx/a", "value": b"A"},
             {"op": "put", "key": b"tx/b", "value": b"B", "prev": True}],
            [{"op": "put", "key": b"tx/failed", "value": b"F"}])
        self.assertTrue(ok)
        self.assertEqual([r["op"] for r in responses], ["put", "put"], responses)
        self.assertIsNone(responses[1]["prev"])
        for k, v in ((b"tx/a", b"A"), (b"tx/b", b"B")):
            e = cl.get_entry(k)[0]
            self.assertEqual((e["value"], e["mod_revision"], e["create_revision"], e["version"]),
                             (v, rev, rev, 1), "%r: written at the txn's revision" % k)
        self.assertIsNone(cl.get(b"tx/failed")[0], "the failure branch ran too")
        events, _ = history(c, c.wait_for_leader(), b"tx/", rev)
        self.assertEqual([(e["revision"], e["key"]) for e in events],
                         [(rev, b"tx/a"), (rev, b"tx/b")])

        # A failing compare runs the failure branch, and only it.
        ok, responses, rev2 = cl.txn(
            [{"key": b"tx/flag", "target": "value", "result": "eq", "value": b"stop"}],
            [{"op": "put", "key": b"tx/a", "value": b"A2"}],
            [{"op": "put", "key": b"tx/failed", "value": b"F"},
             {"op": "get", "key": b"tx/a"}])
        self.assertFalse(ok)
        self.assertGreater(rev2, rev)
        self.assertEqual(len(responses), 2, responses)
        self.assertEqual((responses[1]["op"], responses[1]["value"], responses[1]["mod_revision"]),
                         ("get", b"A", rev))
        self.assertEqual(cl.get_entry(b"tx/failed")[0]["mod_revision"], rev2)
        self.assertEqual(cl.get_entry(b"tx/a")[0]["mod_revision"], rev, "success branch ran")

        # Several compares are all required; metadata targets.
        flag = cl.get_entry(b"tx/flag")[0]
        holds = [{"key": b"tx/a", "target": "mod_revision", "result": "eq", "mod_revision": rev},
                 {"key": b"tx/a", "target": "version", "result": "lt", "version": 2},
                 {"key": b"tx/flag", "target": "create_revision", "result": "lt",
                  "create_revision": rev},
                 {"key": b"tx/flag", "target": "lease", "result": "eq", "lease": 0},
                 {"key": b"tx/none", "target": "exists", "result": "eq", "exists": False},
                 {"key": b"tx/b", "target": "value", "result": "gt", "value": b"A"}]
        ok, responses, _ = cl.txn(holds, [{"op": "put", "key": b"tx/c", "value": b"C",
                                           "prev": True}], [])
        self.assertTrue(ok, "every compare holds")
        ok, _, _ = cl.txn(holds + [{"key": b"tx/flag", "target": "version", "result": "gt",
                                    "version": flag["version"]}],
                          [{"op": "put", "key": b"tx/d", "value": b"D"}],
                          [{"op": "delete", "key": b"tx/c"}])
        self.assertFalse(ok, "one compare fails")
        self.assertIsNone(cl.get(b"tx/d")[0])
        self.assertIsNone(cl.get(b"tx/c")[0], "the failure branch's delete")

        # A read-only txn through a follower sees the write just made.
        rev3 = cl.put(b"tx/b", b"B3")
        follower = c.followers()[0]
        fc = c.node_client(follower)
        ok, responses, rrev = fc.txn(
            [{"key": b"tx/b", "target": "mod_revision", "result": "eq", "mod_revision": rev3}],
            [{"op": "get", "key": b"tx/b"}, {"op": "range", "prefix": b"tx/", "limit": 2},
             {"op": "get", "key": b"tx/none"}],
            [{"op": "get", "key": b"tx/flag"}])
        self.assertEqual(fc.last_endpoint, c.node(follower).client_endpoint)
        self.assertTrue(ok, "a read-only txn through follower %d missed the write at %d: %r"
                        % (follower, rev3, responses))
        self.assertGreaterEqual(rrev, rev3)
        self.assertEqual([r["op"] for r in responses], ["get", "range", "get"])
        self.assertEqual((responses[0]["value"], responses[0]["version"]), (b"B3", 2))
        self.assertEqual([kv["key"] for kv in responses[1]["kvs"]], [b"tx/a", b"tx/b"])
        self.assertTrue(responses[1]["more"])
        self.assertIsNone(responses[2]["value"])

        # 128 operations is the limit, both branches together.
        many = [{"op": "put", "key": b"tx/m/%03d" % i, "value": b"%d" % i} for i in range(128)]
        ok, responses, rev4 = cl.txn([], many, [])
        self.assertTrue(ok)
        self.assertEqual(len(responses), 128)
        rep = self.ask({"op": "range", "prefix": b"tx/m/"})
        self.assertEqual(len(rep["kvs"]), 128)
        self.assertEqual({kv["mod_revision"] for kv in rep["kvs"]}, {rev4})
        gets = [{"op": "get", "key": b"tx/m/%03d" % i} for i in range(129)]
        self.assertCode("too_large", cl.txn, [], gets, [])
        self.assertCode("too_large", cl.txn, [], many[:65] + [{"op": "put", "key": b"tx/x",
                                                               "value": b"x"}], many[:64])
        self.assertIsNone(cl.get(b"tx/x")[0])
        self.assertCode("too_large", cl.txn,
                        [{"key": b"tx/a", "target": "exists", "result": "eq", "exists": True}]
                        * 129, [{"op": "put", "key": b"tx/x", "value": b"x"}], [])
        self.assertIsNone(cl.get(b"tx/x")[0])

        # A prefix delete in a txn; the put after it in the branch sees it done.
        cl.put(b"tx/n", b"outside the prefix")
        ok, responses, rev5 = cl.txn(
            [{"key": b"tx/a", "target": "exists", "result": "eq", "exists": True}],
            [{"op": "delete", "prefix": b"tx/m/"},
             {"op": "put", "key": b"tx/m/new", "value": b"N"},
             {"op": "range", "prefix": b"tx/m/"}], [])
        self.assertTrue(ok)
        self.assertEqual((responses[0]["op"], responses[0]["deleted"], responses[0]["more"]),
                         ("delete", 128, False))
        self.assertEqual([kv["key"] for kv in responses[2]["kvs"]], [b"tx/m/new"])
        self.assertEqual(cl.range(b"tx/m/")[0], [(b"tx/m/new", b"N")])
        self.assertEqual(cl.get(b"tx/n")[0], b"outside the prefix")
        dels = [e for e in history(c, c.wait_for_leader(), b"tx/m/", rev5)[0]
                if e["op"] == "delete"]
        self.assertEqual(len(dels), 128)
        self.assertEqual({e["revision"] for e in dels}, {rev5})
        c.wait_converged()
        self.assertAllAlive()

    def test_retried_lease_and_txn_writes_run_once(self):
        """A retried (session, seq) of the new writes gets the first reply
        again: no second lease, no second txn, no not_found for a revoke."""
        c = self.start_cluster(3)
        cl = c.client()
        session = 0x5EED0001
        grant = {"op": "lease_grant", "ttl_ms": 60000, "session": session, "seq": 1}
        g1, g2 = self.ask(grant), self.ask(grant)
        self.assertEqual((g2["lease"], g2["revision"]), (g1["lease"], g1["revision"]), g2)
        lease = g1["lease"]
        self.assertEqual([l["lease"] for l in cl.lease_list()[0]], [lease], "granted twice")
        txn = {"op": "txn", "session": session, "seq": 2,
               "compare": [{"key": b"rt/k", "target": "exists", "result": "eq", "exists": False}],
               "success": [{"op": "put", "key": b"rt/k", "value": b"1", "lease": lease},
                           {"op": "put", "key": b"rt/j", "value": b"2"}],
               "failure": [{"op": "put", "key": b"rt/failed", "value": b"x"}]}
        t1, t2 = self.ask(txn), self.ask(txn)
        self.assertTrue(t1["succeeded"], t1)
        self.assertEqual((t2["succeeded"], t2["revision"], t2["responses"]),
                         (t1["succeeded"], t1["revision"], t1["responses"]))
        self.assertIsNone(cl.get(b"rt/failed")[0], "the txn ran a second time")
        self.assertEqual(cl.get_entry(b"rt/k")[0]["version"], 1)
        pdel = {"op": "delete", "prefix": b"rt/", "session": session, "seq": 3}
        d1, d2 = self.ask(pdel), self.ask(pdel)
        self.assertEqual((d1["deleted"], d2["deleted"], d2["revision"]),
                         (2, 2, d1["revision"]))
        keepalive = {"op": "lease_keepalive", "lease": lease, "session": session, "seq": 4}
        k1, k2 = self.ask(keepalive), self.ask(keepalive)
        self.assertEqual(k2["revision"], k1["revision"])
        revoke = {"op": "lease_revoke", "lease": lease, "session": session, "seq": 5}
        v1 = self.ask(revoke)
        v2 = self.ask(revoke)  # must not be not_found: it is the same revoke
        self.assertEqual(v2["revision"], v1["revision"])
        self.assertEqual(cl.lease_list()[0], [])
        events, _ = history(c, c.wait_for_leader(), b"rt/", 1)
        self.assertEqual([(e["op"], e["key"]) for e in events],
                         [("put", b"rt/k"), ("put", b"rt/j"), ("delete", b"rt/j"),
                          ("delete", b"rt/k")])
        self.assertAllAlive()

    # -- 8. prefix delete

    def test_prefix_delete(self):
        c = self.start_cluster(3)
        cl = c.client()
        for i in range(5):
            cl.put(b"pd/a/%d" % i, b"v")
        cl.put(b"pd/a", b"the prefix itself minus the slash")
        cl.put(b"pd/b/0", b"other")
        lease = cl.lease_grant(60000)
        cl.put(b"pd/a/leased", b"l", lease=lease)
        cl.put(b"pd/b/leased", b"l", lease=lease)
        deleted, more, rev = cl.delete_prefix(b"pd/a/")
        self.assertEqual((deleted, more), (6, False))
        self.assertEqual([k for k, _ in cl.range(b"pd/")[0]],
                         [b"pd/a", b"pd/b/0", b"pd/b/leased"])
        dels = [e for e in history(c, c.wait_for_leader(), b"pd/", rev)[0]]
        self.assertEqual(len(dels), 6)
        self.assertEqual({(e["op"], e["revision"]) for e in dels}, {("delete", rev)})
        self.assertEqual(cl.lease_info(lease, keys=True)["keys"], [b"pd/b/leased"],
                         "a deleted key still counted on its lease")
        self.assertEqual(cl.delete_prefix(b"pd/a/")[:2], (0, False))
        rep = c.node_client(1).request({"op": "delete", "prefix": b"", "session": 77, "seq": 1},
                                       c.node(c.wait_for_leader()).client_endpoint, timeout=5.0)
        self.assertEqual((rep["ok"], rep.get("error")), (False, "bad_request"),
                         "an empty prefix must not delete everything: %r" % rep)
        self.assertEqual(len(cl.range(b"pd/")[0]), 3)

        # At most 10,000 keys per delete; `more` says others remain.
        total = 10050
        ops = [{"op": "put", "key": b"big/%05d" % i, "value": b""} for i in range(total)]
        for i in range(0, total, 128):
            self.assertTrue(cl.txn([], ops[i:i + 128], [])[0])
        deleted, more, _ = cl.delete_prefix(b"big/")
        self.assertEqual((deleted, more), (10000, True))
        self.assertEqual(len(cl.range(b"big/")[0]), 50)
        deleted, more, _ = cl.delete_prefix(b"big/")
        self.assertEqual((deleted, more), (50, False))
        self.assertEqual(cl.range(b"big/")[0], [])
        c.wait_converged()
        for n in c.nodes:
            self.assertEqual(sorted(c.read_all(n.id, b"pd/")), [b"pd/a", b"pd/b/0", b"pd/b/leased"])
        self.assertAllAlive()

    # -- 9. errors

    def test_errors(self):
        c = self.start_cluster(3)
        cl = c.client()
        before = cl.put(b"er/before", b"x")
        self.assertCode("not_found", cl.put, b"er/k", b"v", lease=424242)
        self.assertIsNone(cl.get(b"er/k")[0], "a put with an unknown lease was written")
        self.assertCode("not_found", cl.put_prev, b"er/before", b"y", lease=424242)
        self.assertCode("not_found", cl.cas_revision, b"er/k", 0, b"v", lease=424242)
        self.assertCode("not_found", cl.txn, [], [
            {"op": "put", "key": b"er/t1", "value": b"1"},
            {"op": "put", "key": b"er/t2", "value": b"2", "lease": 424242}], [])
        self.assertIsNone(cl.get(b"er/t1")[0], "half a txn was written")
        self.assertEqual(cl.get(b"er/before")[0], b"x")
        events, _ = history(c, c.wait_for_leader(), b"er/", before + 1)
        self.assertEqual(events, [], "refused writes made events")
        self.assertCode("not_found", cl.lease_keepalive, 424242)
        self.assertCode("not_found", cl.lease_revoke, 424242)
        self.assertCode("not_found", cl.lease_info, 424242)

        self.assertEqual(cl.lease_grant(60000, lease=777), 777)
        self.assertCode("exists", cl.lease_grant, 1000, lease=777)
        self.assertEqual(cl.lease_info(777)["ttl_ms"], 60000, "a refused grant changed the lease")
        auto = cl.lease_grant(60000)
        self.assertNotIn(auto, (0, 777))
        self.assertCode("exists", cl.lease_grant, 60000, lease=auto)
        self.assertEqual(sorted(l["lease"] for l in cl.lease_list()[0]), sorted([777, auto]))

        self.assertCode("bad_request", cl.lease_grant, 10)
        self.assertCode("bad_request", cl.lease_grant, 999)
        short = cl.lease_grant(1000)
        self.assertEqual(cl.lease_info(short)["ttl_ms"], 1000)
        # lease_list pages by id.
        page, more = cl.lease_list(0, limit=2)
        self.assertEqual(([l["lease"] for l in page], more), (sorted([auto, short]), True))
        page, more = cl.lease_list(page[-1]["lease"] + 1, limit=2)
        self.assertEqual(([l["lease"] for l in page], more), ([777], False))
        cl.lease_revoke(short)

        # At most 10,000 keys on one lease.
        ops = [{"op": "put", "key": b"many/%05d" % i, "value": b"", "lease": 777}
               for i in range(10000)]
        for i in range(0, len(ops), 128):
            self.assertTrue(cl.txn([], ops[i:i + 128], [])[0])
        self.assertEqual(len(cl.lease_info(777, keys=True)["keys"]), 10000)
        self.assertCode("too_large", cl.put, b"many/extra", b"", lease=777)
        self.assertCode("too_large", cl.txn, [], [
            {"op": "put", "key": b"many/t1", "value": b""},
            {"op": "put", "key": b"many/t2", "value": b"", "lease": 777}], [])
        self.assertIsNone(cl.get(b"many/extra")[0])
        self.assertIsNone(cl.get(b"many/t1")[0])
        with self.subTest("overwriting a key of a full lease adds no key"):
            try:
                cl.put(b"many/00000", b"again", lease=777)
            except CabildoError as e:
                self.fail("a put of a key already on the full lease 777 (10,000 keys, it adds "
                          "none) was refused: %s" % e)
            self.assertEqual(cl.get(b"many/00000")[0], b"again")
        self.assertEqual(cl.lease_revoke(777), 10000)
        self.assertEqual(cl.range(b"many/")[0], [])
        self.assertCode("not_found", cl.lease_info, 777)
        c.wait_converged()
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
