"""Locks, leader elections and durable queues against real nodes
(PROTOCOL.md section 9, "Coordination: locks, elections and queues").

- locks: granted at once with fencing token = the grant's revision; a
  try-lock (wait_ms 0) leaves nothing behind; waiters are granted one at a
  time in arrival order with strictly increasing tokens; a waiter whose
  wait_ms passes leaves the queue; a lease that ends while waiting is
  not_found, one that ends while holding hands the lock on; locking twice
  with one lease is the same grant; unlock by name and lease, key or token;
- elections: campaign, leader, proclaim, resign, and the leader key's
  events through watch_from;
- queues: put/get/ack, POLL and GET (woken by a put), visibility expiry and
  redelivery, stale receipts, receipts as leases, queue_len/peek,
  exactly-once put with a retried (session, seq), NOTIFY on the PUB socket,
  queue_full at --queue-items-max / --queue-bytes-max;
- writes under _cabildo/ are bad_request;
- examples/python/queue_worker.py loses no job when the leader is killed,
  and two examples/python/lock_example.py hold their lock one after the
  other.

Most tests share one 3-node cluster (each uses its own names); the
queue limits and the leader kill get clusters of their own.
"""

import json
import os
import subprocess
import threading
import time
import unittest

import msgpack
import zmq

import harness
from harness import CabildoError, wait_for

LOCK = b"_cabildo/lock/"
ELECT = b"_cabildo/elect/"


def waiter_key(prefix, name, joined):
    return prefix + name + b"\x00" + b"%016x" % joined


class Call(threading.Thread):
    """Runs fn(*args) in a thread; records its result or exception and when
    it was sent and returned (monotonic)."""

    def __init__(self, fn, *args, **kw):
        super().__init__(daemon=True)
        self.fn, self.args, self.kw = fn, args, kw
        self.result = None
        self.error = None
        self.sent = None
        self.ended = None
        self.start()

    def run(self):
        self.sent = time.monotonic()
        try:
            self.result = self.fn(*self.args, **self.kw)
        except Exception as e:  # noqa: BLE001 - the test looks at it
            self.error = e
        self.ended = time.monotonic()

    def outcome(self, timeout, what):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("%s: still waiting after %.1fs" % (what, timeout))
        return self.result, self.error

    def value(self, timeout, what):
        result, error = self.outcome(timeout, what)
        if error is not None:
            raise AssertionError("%s raised %r" % (what, error))
        return result


def history(cluster, node_id, prefix, frm):
    return cluster.history(node_id, prefix, frm)


class SharedClusterCase(unittest.TestCase):
    """One cluster for every test of the class. On a failure the node logs
    are printed (once per failing test) and the data kept."""

    NODES = 3
    EXTRA_ARGS = ("--log-level", "info")
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.failed = False
        cls.cluster = harness.Cluster(cls.NODES, extra_args=cls.EXTRA_ARGS)
        try:
            cls.cluster.start()
            cls.cluster.wait_for_leader(timeout=10.0)
        except BaseException:
            cls.cluster.dump_logs()
            cls.cluster.close(keep_dir=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.close(keep_dir=cls.failed)

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                type(self).failed = True
                if self.cluster is not None:
                    self.cluster.dump_logs()

    # -- helpers

    def client(self, first=None, **kw):
        return self.cluster.client(first=first, **kw)

    def ask(self, req, node_id=None, timeout=5.0):
        """One raw request to node_id (default: the leader), retried while
        there is no leader; returns the reply (ok or not)."""
        c = self.cluster

        def attempt():
            nid = node_id or c.leader()
            if nid is None:
                return None
            rep = c.node_client(nid).request(dict(req), c.node(nid).client_endpoint, timeout=2.0)
            if rep is None or (not rep["ok"] and rep.get("error") in ("no_leader", "unavailable")):
                return None
            return rep
        return wait_for(attempt, timeout, "an answer to %r" % (req,))

    def ask_ok(self, req, node_id=None):
        rep = self.ask(req, node_id)
        self.assertTrue(rep["ok"], "%r -> %r" % (req, rep))
        return rep

    def assertCode(self, code, fn, *args, **kw):
        with self.assertRaises(CabildoError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code, code, "%s%r: %s" % (fn.__name__, args, cm.exception))
        return cm.exception

    def reader(self):
        """One client for the helpers' reads (every Client has its own
        ZeroMQ context: do not make one per poll)."""
        cls = type(self)
        if getattr(cls, "_reader", None) is None or cls._reader_cluster is not self.cluster:
            cls._reader = self.cluster.client()
            cls._reader_cluster = self.cluster
        return cls._reader

    def keys(self, prefix, name):
        """The waiter keys of a lock or election, in key (= queue) order."""
        kvs, more, _ = self.reader().range(prefix + name + b"\x00", meta=True)
        self.assertFalse(more)
        return kvs

    def wait_waiters(self, prefix, name, n):
        return wait_for(lambda: (lambda k: k if len(k) == n else None)(self.keys(prefix, name)),
                        5.0, "%d waiter keys of %r" % (n, name))

    def holder(self, prefix, name):
        """The entry of _cabildo/lock/<name> (or elect), None when free."""
        return self.reader().get_entry(prefix + name)[0]


class CoordinationTest(SharedClusterCase):
    # A short node timeout: the waits below outlast it, and PROTOCOL.md says
    # it counts from the end of the wait.
    EXTRA_ARGS = ("--log-level", "info", "--request-timeout-ms", "1000")

    # -- locks

    def test_lock_granted_at_once_try_lock_and_same_lease_twice(self):
        cl = self.client(first=2)  # through a follower: forwarded like a write
        a, b = cl.lease_grant(30000), cl.lease_grant(30000)
        got = cl.lock(b"l1", a, value=b"holder A")
        self.assertTrue(got["succeeded"], got)
        self.assertEqual(got["token"], got["revision"], "the token is the grant's revision")
        self.assertEqual(got["key"], waiter_key(LOCK, b"l1", got["revision"]))
        h = self.holder(LOCK, b"l1")
        self.assertEqual((h["value"], h["create_revision"]), (b"holder A", got["token"]), h)
        w = self.keys(LOCK, b"l1")
        self.assertEqual([(k["key"], k["value"], k["lease"]) for k in w],
                         [(got["key"], b"holder A", a)])

        # The same lease again: the same grant.
        again = cl.lock(b"l1", a, value=b"holder A")
        self.assertEqual((again["succeeded"], again["token"], again["key"]),
                         (True, got["token"], got["key"]), again)

        # A try-lock by another lease fails at once and leaves nothing.
        t0 = time.monotonic()
        tried = cl.lock(b"l1", b, wait_ms=0, value=b"B")
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertFalse(tried["succeeded"], tried)
        self.assertEqual([k["key"] for k in self.keys(LOCK, b"l1")], [got["key"]],
                         "a failed try-lock left a waiter key")
        self.assertEqual(cl.lease_info(b, keys=True)["keys"], [])
        self.assertEqual(self.holder(LOCK, b"l1")["create_revision"], got["token"])

        # Unlock by name and lease; a second unlock matches nothing.
        self.assertTrue(cl.unlock(b"l1", lease=a))
        self.assertFalse(cl.unlock(b"l1", lease=a))
        self.assertIsNone(self.holder(LOCK, b"l1"))
        self.assertEqual(self.keys(LOCK, b"l1"), [])
        # Now free: b's try-lock is granted, with a higher token.
        got_b = cl.lock(b"l1", b, wait_ms=0)
        self.assertTrue(got_b["succeeded"], got_b)
        self.assertGreater(got_b["token"], got["token"])
        self.assertTrue(cl.unlock(b"l1", lease=b))

    def test_waiters_granted_one_at_a_time_in_order(self):
        cl = self.client()
        names = [b"A", b"B", b"C", b"D"]
        leases = {n: cl.lease_grant(30000) for n in names}
        first = cl.lock(b"fifo", leases[b"A"], value=b"A")
        self.assertTrue(first["succeeded"])
        calls = {}
        for i, n in enumerate(names[1:]):
            # Each waiter joins only once the one before it is queued, so
            # the arrival order is known; alternate the entry node.
            wcl = self.client(first=1 + i % 3)
            calls[n] = Call(wcl.lock, b"fifo", leases[n], wait_ms=20000, value=n)
            self.wait_waiters(LOCK, b"fifo", i + 2)
        self.assertEqual([k["value"] for k in self.keys(LOCK, b"fifo")], names,
                         "waiter keys in arrival order, the holder first")
        tokens = [first["token"]]
        for prev, n in zip(names, names[1:]):
            for m, call in calls.items():
                if m >= n:
                    self.assertTrue(call.is_alive(), "%r returned before %r unlocked: %r %r"
                                    % (m, prev, call.result, call.error))
            self.assertTrue(cl.unlock(b"fifo", lease=leases[prev]))
            got = calls[n].value(5.0, "%r's lock after %r unlocked" % (n, prev))
            self.assertTrue(got["succeeded"], got)
            self.assertGreater(got["token"], tokens[-1], "tokens must increase")
            tokens.append(got["token"])
            h = self.holder(LOCK, b"fifo")
            self.assertEqual((h["value"], h["create_revision"]), (n, got["token"]), h)
            self.assertEqual(self.keys(LOCK, b"fifo")[0]["key"], got["key"],
                             "the holder's waiter key is first")
        self.assertTrue(cl.unlock(b"fifo", lease=leases[b"D"]))
        self.assertIsNone(self.holder(LOCK, b"fifo"))
        print("\nfifo tokens: %s" % tokens)

    def test_waiter_whose_wait_passes_leaves_the_queue(self):
        cl = self.client()
        a, b, c = (cl.lease_grant(30000) for _ in range(3))
        self.assertTrue(cl.lock(b"wt", a, value=b"A")["succeeded"])
        wait_ms = 800
        short = Call(self.client().lock, b"wt", b, wait_ms=wait_ms, value=b"B")
        self.wait_waiters(LOCK, b"wt", 2)
        long_ = Call(self.client().lock, b"wt", c, wait_ms=20000, value=b"C")
        self.wait_waiters(LOCK, b"wt", 3)
        got = short.value(wait_ms / 1000.0 + 3.0, "the short waiter")
        took = short.ended - short.sent
        self.assertFalse(got["succeeded"], got)
        self.assertGreaterEqual(took, wait_ms / 1000.0 - 0.01, "answered before wait_ms")
        self.assertLess(took, wait_ms / 1000.0 + 2.0, "answered long after wait_ms")
        self.assertEqual([k["value"] for k in self.keys(LOCK, b"wt")], [b"A", b"C"],
                         "the timed-out waiter is still queued")
        self.assertTrue(long_.is_alive())
        # The next unlock grants C (B's lease still lives: it must not get it).
        self.assertTrue(cl.unlock(b"wt", lease=a))
        got_c = long_.value(5.0, "C's lock")
        self.assertTrue(got_c["succeeded"], got_c)
        self.assertEqual(self.holder(LOCK, b"wt")["value"], b"C")
        self.assertFalse(cl.unlock(b"wt", lease=b), "B was still in the queue")
        self.assertTrue(cl.unlock(b"wt", lease=c))
        print("\nwaiter with wait_ms %d answered after %.3fs" % (wait_ms, took))

    def test_lease_ending_while_waiting_or_holding(self):
        cl = self.client()
        a, b, c = (cl.lease_grant(30000) for _ in range(3))
        got_a = cl.lock(b"lr", a, value=b"A")
        self.assertTrue(got_a["succeeded"])
        b_call = Call(self.client().lock, b"lr", b, wait_ms=20000, value=b"B")
        self.wait_waiters(LOCK, b"lr", 2)
        c_call = Call(self.client().lock, b"lr", c, wait_ms=20000, value=b"C")
        self.wait_waiters(LOCK, b"lr", 3)
        # B's lease is revoked while B waits: its lock answers not_found.
        cl.lease_revoke(b)
        _, err = b_call.outcome(5.0, "B's lock after its lease was revoked")
        self.assertIsInstance(err, CabildoError)
        self.assertEqual(err.code, "not_found", err)
        self.assertEqual([k["value"] for k in self.keys(LOCK, b"lr")], [b"A", b"C"])
        self.assertEqual(self.holder(LOCK, b"lr")["value"], b"A")
        # The holder's lease is revoked: the next waiter (C) is granted.
        cl.lease_revoke(a)
        got_c = c_call.value(5.0, "C's lock after the holder's lease was revoked")
        self.assertTrue(got_c["succeeded"], got_c)
        self.assertGreater(got_c["token"], got_a["token"])
        h = self.holder(LOCK, b"lr")
        self.assertEqual((h["value"], h["create_revision"]), (b"C", got_c["token"]))
        # A lock with a lease that does not exist (any more) is not_found.
        self.assertCode("not_found", cl.lock, b"lr", a)
        self.assertCode("not_found", cl.lock, b"lr-other", b, wait_ms=1000)
        self.assertTrue(cl.unlock(b"lr", lease=c))

    def test_lock_sent_again_while_waiting_keeps_its_place(self):
        """A lock sent again for a lease that waits (as after a lost reply:
        one attempt each, no client retries) keeps the lease's place."""
        c = self.cluster
        cl = self.client()
        a, b, l3 = (cl.lease_grant(30000) for _ in range(3))
        self.assertTrue(cl.lock(b"again", a, value=b"A")["succeeded"])
        lead = c.wait_for_leader()
        follower = [n for n in c.followers() if n != lead][0]
        req = {"op": "lock", "name": b"again", "lease": b, "wait_ms": 20000, "value": b"B"}
        first = Call(c.node_client(lead).request, dict(req), c.node(lead).client_endpoint,
                     timeout=25.0)
        bkey = self.wait_waiters(LOCK, b"again", 2)[1]["key"]
        c_call = Call(self.client().lock, b"again", l3, wait_ms=20000, value=b"C")
        self.wait_waiters(LOCK, b"again", 3)
        # The same lock again, through a follower. It has reached the leader
        # once the leader holds one more request or answered the first one.
        pending = c.status(lead)["requests_pending"]
        second = Call(c.node_client(follower).request, dict(req),
                      c.node(follower).client_endpoint, timeout=25.0)
        wait_for(lambda: not first.is_alive() or c.status(lead)["requests_pending"] > pending,
                 5.0, "the repeated lock to reach the leader")
        self.assertTrue(second.is_alive(), "the repeated lock answered while A held it: %r %r"
                        % (second.result, second.error))
        self.assertEqual([k["value"] for k in self.keys(LOCK, b"again")], [b"A", b"B", b"C"],
                         "the repeated lock moved B")
        self.assertEqual(self.keys(LOCK, b"again")[1]["key"], bkey)
        self.assertTrue(cl.unlock(b"again", lease=a))
        got = second.value(5.0, "B's repeated lock")
        self.assertTrue(got and got["ok"] and got["succeeded"], got)
        self.assertEqual(got["key"], bkey)
        self.assertEqual(self.holder(LOCK, b"again")["value"], b"B")
        self.assertTrue(c_call.is_alive(), "C was granted while B holds the lock")
        # The older of two requests waiting for one lease is told "not yet,
        # still queued" (PROTOCOL.md, Locks) when the newer one arrives.
        res = first.value(25.0, "B's first lock")
        self.assertEqual((res["ok"], res["succeeded"], res["key"]), (True, False, bkey), res)
        self.assertTrue(cl.unlock(b"again", lease=b))
        got_c = c_call.value(5.0, "C's lock")
        self.assertTrue(got_c["succeeded"], got_c)
        self.assertGreater(got_c["token"], got["token"])
        self.assertTrue(cl.unlock(b"again", lease=l3))

    def test_client_waits_wait_ms_plus_request_timeout_per_attempt(self):
        """A Client whose request_timeout and total_timeout are both far below
        wait_ms still gets the node's answer after wait_ms, in one attempt;
        through a follower (it forwards the request to the leader, where it
        waits), with wait_ms above the nodes' --request-timeout-ms (1 s)."""
        cl = self.client()
        holder = cl.lease_grant(30000)
        other = cl.lease_grant(30000)
        self.assertTrue(cl.lock(b"cw", holder)["succeeded"])
        short = dict(request_timeout=0.3, total_timeout=0.5)
        follower = self.cluster.followers()[0]
        c1 = self.cluster.node_client(follower, **short)
        c2 = self.client(**short)
        c3 = self.cluster.node_client(follower, **short)
        wait_ms = 1500
        lk = Call(c1.lock, b"cw", other, wait_ms=wait_ms)
        cp = Call(c2.campaign, b"cw-e", b"v", holder, wait_ms=wait_ms)  # free: at once
        qg = Call(c3.queue_get, b"q-cw", wait_ms=wait_ms)
        got = lk.value(wait_ms / 1000.0 + 3.0, "lock")
        self.assertFalse(got["succeeded"], got)
        self.assertGreaterEqual(lk.ended - lk.sent, wait_ms / 1000.0 - 0.01)
        self.assertIsNone(qg.value(wait_ms / 1000.0 + 3.0, "queue_get"))
        self.assertGreaterEqual(qg.ended - qg.sent, wait_ms / 1000.0 - 0.01)
        self.assertTrue(cp.value(5.0, "campaign")["succeeded"])
        self.assertEqual((c1.last_attempts, c3.last_attempts), (1, 1),
                         "the request was answered with an error and sent again")
        self.assertEqual((c1.last_endpoint, c3.last_endpoint),
                         (self.cluster.node(follower).client_endpoint,) * 2)
        self.assertTrue(cl.unlock(b"cw", lease=holder))
        self.assertTrue(cl.resign(b"cw-e", lease=holder))

    def test_unlock_by_key_and_by_token(self):
        cl = self.client()
        a, b = cl.lease_grant(30000), cl.lease_grant(30000)
        g1 = cl.lock(b"uk", a)
        self.assertTrue(cl.unlock(key=g1["key"]))
        self.assertIsNone(self.holder(LOCK, b"uk"))
        self.assertFalse(cl.unlock(key=g1["key"]), "the key is gone")
        g2 = cl.lock(b"uk", a)
        self.assertGreater(g2["token"], g1["token"])
        self.assertFalse(cl.unlock(b"uk", token=g1["token"]), "an old grant's token")
        self.assertEqual(self.holder(LOCK, b"uk")["create_revision"], g2["token"])
        self.assertTrue(cl.unlock(b"uk", token=g2["token"]))
        self.assertFalse(cl.unlock(b"uk", token=g2["token"]))
        self.assertIsNone(self.holder(LOCK, b"uk"))
        # unlock by key takes a waiter out of the queue too.
        # (How soon its waiting lock answers is not specified: at the latest
        # when its wait_ms passed.)
        g3 = cl.lock(b"uk", a)
        w = Call(self.client().lock, b"uk", b, wait_ms=3000)
        bkey = self.wait_waiters(LOCK, b"uk", 2)[1]["key"]
        self.assertTrue(cl.unlock(key=bkey))
        self.assertEqual([k["key"] for k in self.keys(LOCK, b"uk")], [g3["key"]])
        got, err = w.outcome(3.0 + 3.0, "the waiter unlocked by its key")
        self.assertTrue(err is not None or not got["succeeded"],
                        "a waiter taken out of the queue was granted: %r" % (got,))
        print("\nwaiter unlocked by key: answered %r %r after %.2fs"
              % (got, err, w.ended - w.sent))
        self.assertEqual([k["key"] for k in self.keys(LOCK, b"uk")], [g3["key"]])
        self.assertTrue(cl.unlock(b"uk", lease=a))
        self.assertEqual(self.keys(LOCK, b"uk"), [])

    # -- elections

    def test_election(self):
        cl = self.client()
        c = self.cluster
        start = cl.get(b"elect-probe")[1] + 1
        a, b = cl.lease_grant(30000), cl.lease_grant(30000)
        self.assertEqual(cl.leader(b"e1")["value"], None, "nobody leads yet")
        ga = cl.campaign(b"e1", b"addr-a", a)
        self.assertTrue(ga["succeeded"], ga)
        self.assertEqual(ga["token"], ga["revision"])
        ld = cl.leader(b"e1")
        self.assertEqual((ld["value"], ld["key"], ld["token"]), (b"addr-a", ga["key"], ga["token"]))
        # Another candidate: a campaign with wait_ms 0 fails at once, one with
        # a wait waits.
        self.assertFalse(cl.campaign(b"e1", b"addr-b", b, wait_ms=0)["succeeded"])
        self.assertEqual(len(self.keys(ELECT, b"e1")), 1)
        gb_call = Call(self.client(first=3).campaign, b"e1", b"addr-b", b, wait_ms=20000)
        self.wait_waiters(ELECT, b"e1", 2)
        # Only the leader proclaims.
        self.assertFalse(cl.proclaim(b"e1", b, b"addr-b2"))
        self.assertTrue(cl.proclaim(b"e1", a, b"addr-a2"))
        ld = cl.leader(b"e1")
        self.assertEqual((ld["value"], ld["token"]), (b"addr-a2", ga["token"]),
                         "a proclaim keeps the leadership's token")
        e = self.holder(ELECT, b"e1")
        self.assertEqual(e["create_revision"], ga["token"])
        proclaim_rev = e["mod_revision"]
        self.assertGreater(proclaim_rev, ga["token"])
        self.assertTrue(gb_call.is_alive())
        # The leader resigns: the waiting candidate leads.
        self.assertTrue(cl.resign(b"e1", lease=a))
        gb = gb_call.value(5.0, "B's campaign after A resigned")
        self.assertTrue(gb["succeeded"], gb)
        self.assertGreater(gb["token"], ga["token"])
        ld = cl.leader(b"e1")
        self.assertEqual((ld["value"], ld["key"], ld["token"]), (b"addr-b", gb["key"], gb["token"]))
        self.assertFalse(cl.resign(b"e1", lease=a), "A resigned already")
        self.assertTrue(cl.resign(key=gb["key"]))
        ld = cl.leader(b"e1")
        self.assertEqual((ld["value"], ld["key"], ld["token"]), (None, None, None))

        # Observers: the leader key's events, the same on every node.
        c.wait_converged()
        seen = {}
        for n in c.nodes:
            events, _ = history(c, n.id, ELECT + b"e1", start)
            seen[n.id] = [ev for ev in events if ev["key"] == ELECT + b"e1"]
        self.assertEqual(len({json.dumps(v, default=repr) for v in seen.values()}), 1,
                         "nodes disagree on the leader key's events: %r" % seen)
        events = seen[1]
        puts = [(ev["value"], ev["create_revision"]) for ev in events if ev["op"] == "put"]
        self.assertEqual(puts, [(b"addr-a", ga["token"]), (b"addr-a2", ga["token"]),
                                (b"addr-b", gb["token"])], events)
        for ev in events:
            if ev["op"] == "put":
                self.assertEqual(ev["mod_revision"], ev["revision"])
        news = [ev for ev in events if ev["op"] == "put" and ev["value"] != b"addr-a2"]
        for ev in news:
            self.assertEqual(ev["create_revision"], ev["revision"],
                             "a new leader's put has create_revision = revision: %r" % ev)
        self.assertEqual([ev["revision"] for ev in events if ev["value"] == b"addr-a2"],
                         [proclaim_rev])
        self.assertEqual(events[-1]["op"], "delete", "nobody leads at the end: %r" % events)
        self.assertGreater(events[-1]["revision"], gb["token"])
        # Between A and B there is no time when a delete is the last word.
        for ev in events:
            if ev["op"] == "delete":
                self.assertIn(ev["revision"], [gb["token"], events[-1]["revision"]], events)

    # -- queues

    def test_queue_put_get_ack_len_peek(self):
        cl = self.client(first=2)
        q = b"q-basic"
        self.assertEqual(cl.queue_len(q), {"items": 0, "in_flight": 0, "bytes": 0,
                                           "revision": cl.queue_len(q)["revision"]})
        self.assertIsNone(cl.queue_peek(q))
        t0 = time.monotonic()
        self.assertIsNone(cl.queue_get(q), "POLL on an empty queue")
        self.assertLess(time.monotonic() - t0, 1.0, "POLL must answer at once")
        self.assertEqual(cl.queue_put(q, b"one"), 1)
        self.assertEqual(cl.queue_put(q, b"second"), 2)
        self.assertEqual(cl.queue_put(q, b""), 3, "an empty value is an item")
        ln = cl.queue_len(q)
        self.assertEqual((ln["items"], ln["in_flight"], ln["bytes"]), (3, 0, 9))
        self.assertEqual(cl.queue_peek(q), (1, b"one"))
        g1 = cl.queue_get(q)
        self.assertEqual((g1["item"], g1["value"]), (1, b"one"))
        self.assertEqual(g1["receipt"], g1["revision"], "receipt: a lease granted at the get")
        ln = cl.queue_len(q)
        self.assertEqual((ln["items"], ln["in_flight"], ln["bytes"]), (3, 1, 9))
        self.assertEqual(cl.queue_peek(q), (2, b"second"), "peek skips in-flight items")
        self.assertIn(g1["receipt"], [l["lease"] for l in cl.lease_list()[0]],
                      "the receipt is a lease")
        self.assertEqual(cl.lease_info(g1["receipt"])["ttl_ms"], 30000,
                         "the receipt's TTL is the default visibility_ms")
        # The keys behind it: the counters [next item, items, bytes, in
        # flight], the ready items and the in-flight one on its receipt.
        kvs, _, _ = cl.range(b"_cabildo/queue/" + q, meta=True)
        kvs = [kv for kv in kvs if kv["key"] == b"_cabildo/queue/" + q
               or kv["key"].startswith(b"_cabildo/queue/" + q + b"\x00")]
        self.assertEqual([kv["key"] for kv in kvs],
                         [b"_cabildo/queue/" + q,
                          b"_cabildo/queue/" + q + b"\x00f" + b"%016x" % 1,
                          b"_cabildo/queue/" + q + b"\x00r" + b"%016x" % 2,
                          b"_cabildo/queue/" + q + b"\x00r" + b"%016x" % 3])
        self.assertEqual(msgpack.unpackb(kvs[0]["value"], raw=False), [4, 3, 9, 1])
        self.assertEqual((kvs[1]["value"], kvs[1]["lease"]), (b"one", g1["receipt"]))
        self.assertEqual([(kv["value"], kv["lease"]) for kv in kvs[2:]],
                         [(b"second", 0), (b"", 0)])
        self.assertTrue(cl.queue_ack(q, 1, g1["receipt"]))
        self.assertFalse(cl.queue_ack(q, 1, g1["receipt"]), "acknowledged already")
        ln = cl.queue_len(q)
        self.assertEqual((ln["items"], ln["in_flight"], ln["bytes"]), (2, 0, 6))
        g2 = cl.queue_get(q)
        self.assertFalse(cl.queue_ack(q, 2, g2["receipt"] + 1000), "a receipt that is not it's")
        self.assertFalse(cl.queue_ack(q, 3, g2["receipt"]), "another item's receipt")
        # A lease_revoke of the receipt gives the item back at once.
        cl.lease_revoke(g2["receipt"])
        self.assertEqual(cl.queue_peek(q), (2, b"second"))
        g2b = cl.queue_get(q)
        self.assertEqual((g2b["item"], g2b["value"]), (2, b"second"))
        self.assertNotEqual(g2b["receipt"], g2["receipt"])
        self.assertFalse(cl.queue_ack(q, 2, g2["receipt"]))
        self.assertTrue(cl.queue_ack(q, 2, g2b["receipt"]))
        g3 = cl.queue_get(q)
        self.assertEqual((g3["item"], g3["value"]), (3, b""))
        self.assertTrue(cl.queue_ack(q, 3, g3["receipt"]))
        ln = cl.queue_len(q)
        self.assertEqual((ln["items"], ln["in_flight"], ln["bytes"]), (0, 0, 0))
        self.assertIsNone(cl.queue_get(q))
        self.assertEqual(cl.queue_put(q, b"four"), 4, "item numbers go on")
        # Queues are independent.
        self.assertEqual(cl.queue_put(b"q-basic-2", b"x"), 1)
        self.assertEqual(cl.queue_peek(q), (4, b"four"))

    def test_get_waits_and_is_woken_by_a_put(self):
        c = self.cluster
        q = b"q-wake"
        lead = c.wait_for_leader()
        consumer = c.node_client(lead)
        base = c.status(lead)["requests_pending"]
        wait_ms = 10000
        call = Call(consumer.queue_get, q, wait_ms=wait_ms, visibility_ms=30000)
        # The GET is held at the leader (not answered) before the put.
        wait_for(lambda: c.status(lead)["requests_pending"] > base, 5.0,
                 "the GET to be held by the leader")
        self.assertTrue(call.is_alive(), "GET on an empty queue answered: %r %r"
                        % (call.result, call.error))
        producer = self.client()
        t_put = time.monotonic()
        self.assertEqual(producer.queue_put(q, b"wake up"), 1)
        t_put_done = time.monotonic()
        got = call.value(5.0, "the waiting GET")
        self.assertIsNotNone(got, "the GET returned without an item")
        self.assertEqual((got["item"], got["value"]), (1, b"wake up"))
        self.assertGreaterEqual(call.ended, t_put)
        self.assertLess(call.ended - t_put_done, 0.5,
                        "the GET answered %.2fs after the put" % (call.ended - t_put_done))
        self.assertLess(call.ended - call.sent, wait_ms / 1000.0 - 2.0)
        print("\nwaiting GET answered %.3fs after the put returned"
              % (call.ended - t_put_done))
        self.assertTrue(producer.queue_ack(q, 1, got["receipt"]))
        # Two waiting GETs: the first waiter gets the first item.
        calls = []
        for k in range(2):
            pending = c.status(lead)["requests_pending"]
            calls.append(Call(c.node_client(lead).queue_get, q, wait_ms=wait_ms))
            wait_for(lambda: c.status(lead)["requests_pending"] > pending, 5.0,
                     "GET %d to be held by the leader" % k)
        self.assertEqual(producer.queue_put(q, b"for the first"), 2)
        got = calls[0].value(5.0, "the first waiting GET")
        self.assertEqual((got["item"], got["value"]), (2, b"for the first"))
        self.assertTrue(calls[1].is_alive(), "the second GET answered: %r %r"
                        % (calls[1].result, calls[1].error))
        self.assertEqual(producer.queue_put(q, b"for the second"), 3)
        got2 = calls[1].value(5.0, "the second waiting GET")
        self.assertEqual((got2["item"], got2["value"]), (3, b"for the second"))
        self.assertTrue(producer.queue_ack(q, 2, got["receipt"]))
        self.assertTrue(producer.queue_ack(q, 3, got2["receipt"]))
        # A GET on an empty queue with a short wait answers succeeded false
        # once it passed.
        t0 = time.monotonic()
        self.assertIsNone(producer.queue_get(q, wait_ms=500))
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.49)
        self.assertLess(took, 2.5)

    def test_visibility_expiry_redelivers_to_another_consumer(self):
        q = b"q-vis"
        one, two = self.client(), self.client(first=3)
        self.assertEqual(one.queue_put(q, b"job"), 1)
        visibility = 1.0
        sent = time.monotonic()
        g1 = one.queue_get(q, visibility_ms=int(visibility * 1000))
        self.assertEqual(g1["item"], 1)
        self.assertIsNone(two.queue_get(q), "delivered twice within its visibility")
        self.assertEqual(two.queue_len(q)["in_flight"], 1)
        # A second consumer waits; the item comes back to it once the
        # visibility ran out (one never acknowledged it).
        call = Call(two.queue_get, q, wait_ms=10000, visibility_ms=30000)
        g2 = call.value(visibility + 5.0, "the redelivery")
        self.assertIsNotNone(g2, "nothing redelivered")
        self.assertEqual((g2["item"], g2["value"]), (1, b"job"))
        self.assertNotEqual(g2["receipt"], g1["receipt"])
        self.assertGreaterEqual(call.ended - sent, visibility,
                                "redelivered before the visibility timeout")
        self.assertLess(call.ended - sent, visibility + 2.0,
                        "redelivered %.2fs after the get" % (call.ended - sent))
        print("\nredelivered %.3fs after the first get (visibility %.1fs)"
              % (call.ended - sent, visibility))
        self.assertFalse(one.queue_ack(q, 1, g1["receipt"]), "a stale receipt was accepted")
        self.assertEqual(two.queue_len(q)["items"], 1)
        self.assertTrue(two.queue_ack(q, 1, g2["receipt"]))
        self.assertEqual(two.queue_len(q)["items"], 0)

    def test_receipt_keepalive_extends_visibility(self):
        q = b"q-extend"
        cl = self.client()
        cl.queue_put(q, b"long job")
        sent = time.monotonic()
        g = cl.queue_get(q, visibility_ms=1000)
        other = self.client()
        # Keep it for three visibility windows by renewing the receipt.
        while time.monotonic() < sent + 3.0:
            cl.lease_keepalive(g["receipt"])
            self.assertIsNone(other.queue_get(q),
                              "redelivered although its receipt was renewed")
            time.sleep(0.25)
        self.assertTrue(cl.queue_ack(q, g["item"], g["receipt"]))

    def test_put_retried_in_its_session_is_stored_once(self):
        q = b"q-once"
        session = 0x5EED0C00
        put = {"op": "queue_put", "queue": q, "value": b"exactly once",
               "session": session, "seq": 1}
        r1 = self.ask_ok(put)
        r2 = self.ask_ok(put)
        r3 = self.ask_ok(put, node_id=[n for n in self.cluster.followers()][0])
        self.assertEqual((r1["item"], r2["item"], r3["item"]), (1, 1, 1), (r1, r2, r3))
        self.assertEqual(len({r1["revision"], r2["revision"], r3["revision"]}), 1,
                         "a retry got another revision: %r %r %r" % (r1, r2, r3))
        cl = self.client()
        ln = cl.queue_len(q)
        self.assertEqual((ln["items"], ln["bytes"]), (1, len(b"exactly once")))
        put["seq"] = 2
        self.assertEqual(self.ask_ok(put)["item"], 2)
        self.assertEqual(cl.queue_len(q)["items"], 2)
        # An older seq of the session is stale, not a new put.
        put["seq"] = 1
        stale = self.ask(put)
        self.assertEqual((stale["ok"], stale.get("error")), (False, "stale_session"), stale)

    def test_notify_on_the_pub_socket(self):
        c = self.cluster
        follower = c.followers()[0]
        ctx = zmq.Context()
        self.addCleanup(ctx.term)
        sub = ctx.socket(zmq.SUB)
        self.addCleanup(sub.close, 0)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"q/jobs")
        sub.connect(c.node(follower).pub_endpoint)
        seen = []

        def drain():
            while sub.poll(0):
                frames = sub.recv_multipart()
                self.assertEqual(len(frames), 2, frames)
                seen.append((frames[0], msgpack.unpackb(frames[1], raw=False)))
            return seen

        cl = self.client()
        # The subscription is up once a probe put comes through.
        probes = []
        wait_for(lambda: (probes.append(cl.queue_put(b"jobs", b"probe")),
                          any(t == b"q/jobs" for t, _ in drain()))[1],
                 10.0, "the SUB socket to receive a notification", interval=0.1)
        # A queue that is not ours must not reach this subscription.
        cl.queue_put(b"other", b"x")
        rep = self.ask_ok({"op": "queue_put", "queue": b"jobs", "value": b"resize 17"})
        item, rev = rep["item"], rep["revision"]
        self.assertEqual(item, len(probes) + 1)
        wait_for(lambda: any(m.get("item") == item for _, m in drain()), 5.0,
                 "the notification of item %d" % item)
        note = [(t, m) for t, m in seen if m.get("item") == item]
        self.assertEqual(note, [(b"q/jobs", {"queue": b"jobs", "item": item, "revision": rev})])
        self.assertNotIn(b"q/other", [t for t, _ in seen])
        # An item given back (its receipt revoked) is announced again.
        got = cl.queue_get(b"jobs")
        self.assertEqual(got["item"], 1)
        revoke = self.ask_ok({"op": "lease_revoke", "lease": got["receipt"]})
        wait_for(lambda: any(m.get("revision") == revoke["revision"] for _, m in drain()), 5.0,
                 "the notification of the item given back")
        back = [m for _, m in seen if m.get("revision") == revoke["revision"]]
        self.assertEqual(back, [{"queue": b"jobs", "item": 1, "revision": revoke["revision"]}])

    # -- the reserved prefix, names, arguments

    def test_reserved_prefix_and_bad_arguments(self):
        cl = self.client()
        lease = cl.lease_grant(30000)
        held = cl.lock(b"res", lease)
        cl.queue_put(b"res-q", b"item")
        cl.put(b"_other", b"not reserved")
        for key in (b"_cabildo/lock/res", b"_cabildo/x", held["key"]):
            self.assertCode("bad_request", cl.put, key, b"v")
            self.assertCode("bad_request", cl.cas, key, None, b"v")
            self.assertCode("bad_request", cl.delete, key)
            self.assertCode("bad_request", cl.txn, [],
                            success=[{"op": "put", "key": key, "value": b"v"}])
            self.assertCode("bad_request", cl.txn, [],
                            success=[{"op": "delete", "key": key}])
        for prefix in (b"_cabildo/", b"_cabildo/queue/", b"_cabildo/lock/res"):
            self.assertCode("bad_request", cl.delete_prefix, prefix)
            self.assertCode("bad_request", cl.txn, [],
                            success=[{"op": "delete", "prefix": prefix}])
        # A shorter prefix skips them.
        deleted, more, _ = cl.delete_prefix(b"_")
        self.assertEqual((deleted, more), (1, False))
        self.assertIsNone(cl.get(b"_other")[0])
        self.assertEqual(self.holder(LOCK, b"res")["create_revision"], held["token"])
        self.assertEqual(cl.queue_peek(b"res-q"), (1, b"item"))
        # They can be read.
        kvs, _, _ = cl.range(b"_cabildo/queue/res-q")
        self.assertEqual(len(kvs), 2, kvs)  # the counters and the item
        self.assertEqual(kvs[1], (b"_cabildo/queue/res-q\x00r" + b"%016x" % 1, b"item"))

        # Names: 1 to 256 bytes, no NUL.
        for op in ({"op": "lock", "lease": lease}, {"op": "leader"},
                   {"op": "campaign", "lease": lease, "value": b"v"}):
            for name in (b"", b"a\x00b"):
                rep = self.ask(dict(op, name=name))
                self.assertEqual((rep["ok"], rep.get("error")), (False, "bad_request"),
                                 "%r name %r: %r" % (op, name, rep))
            rep = self.ask(dict(op, name=b"n" * 257))
            self.assertFalse(rep["ok"], rep)
            self.assertIn(rep.get("error"), ("bad_request", "too_large"), rep)
            if op["op"] != "leader":
                rep = self.ask(dict(op, name=b"n" * 256))
                self.assertTrue(rep["ok"], "a 256-byte name: %r" % rep)
        for queue in (b"", b"q\x00"):
            rep = self.ask({"op": "queue_put", "queue": queue, "value": b"v"})
            self.assertEqual((rep["ok"], rep.get("error")), (False, "bad_request"), rep)
        rep = self.ask({"op": "queue_len", "queue": b"q" * 256})
        self.assertTrue(rep["ok"], rep)
        for req in ({"op": "queue_get", "queue": b"res-q", "visibility_ms": 99},
                    {"op": "queue_get", "queue": b"res-q", "wait_ms": 3600001},
                    {"op": "lock", "name": b"res", "lease": lease, "wait_ms": 3600001},
                    {"op": "lock", "name": b"res", "lease": lease, "wait_ms": "1"},
                    {"op": "lock", "name": b"res"},
                    {"op": "queue_put", "queue": b"res-q"},
                    {"op": "queue_ack", "queue": b"res-q", "item": 1}):
            rep = self.ask(req)
            self.assertEqual((rep["ok"], rep.get("error")), (False, "bad_request"),
                             "%r -> %r" % (req, rep))
        self.assertEqual(cl.queue_len(b"res-q")["items"], 1, "a refused request changed it")
        self.assertTrue(cl.unlock(b"res", lease=lease))

    def test_two_lock_examples_hold_one_after_the_other(self):
        c = self.cluster
        script = os.path.join(harness.EXAMPLES_DIR, "lock_example.py")
        eps = ",".join(c.endpoints())
        procs = [subprocess.Popen([harness.PYTHON, "-u", script, "--endpoints", eps,
                                   "--name", "ex", "--who", who, "--resource", "lx/res",
                                   "--steps", "3", "--step-ms", "100", "--ttl-ms", "3000"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for who in ("first", "second")]
        outs = []
        for p in procs:
            try:
                out, _ = p.communicate(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            outs.append(out.decode("utf-8", "replace"))
            self.assertEqual(p.returncode, 0, out)
        tokens = []
        for out in outs:
            granted = [int(l.split()[1]) for l in out.splitlines() if l.startswith("granted ")]
            self.assertEqual(len(granted), 1, out)
            tokens.append(granted[0])
            self.assertEqual(out.count(": ok"), 3, out)
        self.assertNotEqual(tokens[0], tokens[1])
        cl = self.client()
        self.assertEqual(cl.get(b"lx/res/token")[0], b"%020d" % max(tokens))
        self.assertIsNone(self.holder(LOCK, b"ex"))


class QueueLimitTest(SharedClusterCase):
    NODES = 3
    EXTRA_ARGS = ("--log-level", "info", "--queue-items-max", "3", "--queue-bytes-max", "100")

    def test_queue_full(self):
        cl = self.client()
        q = b"q-full"
        self.assertEqual([cl.queue_put(q, b"x") for _ in range(3)], [1, 2, 3])
        self.assertCode("queue_full", cl.queue_put, q, b"x")
        ln = cl.queue_len(q)
        self.assertEqual((ln["items"], ln["bytes"]), (3, 3), "a refused put stored something")
        # In-flight items count.
        g = cl.queue_get(q)
        self.assertCode("queue_full", cl.queue_put, q, b"x")
        self.assertTrue(cl.queue_ack(q, g["item"], g["receipt"]))
        self.assertEqual(cl.queue_put(q, b"x"), 4, "the refused puts took item numbers")
        # Other queues have their own limits.
        self.assertEqual(cl.queue_put(b"q-full-2", b"y"), 1)
        # Bytes: at most 100 of values per queue.
        qb = b"q-bytes"
        self.assertEqual(cl.queue_put(qb, b"a" * 60), 1)
        self.assertCode("queue_full", cl.queue_put, qb, b"b" * 41)
        self.assertEqual(cl.queue_put(qb, b"c" * 40), 2, "exactly at the limit")
        self.assertCode("queue_full", cl.queue_put, qb, b"d")
        ln = cl.queue_len(qb)
        self.assertEqual((ln["items"], ln["bytes"]), (2, 100))
        self.cluster.wait_converged()
        for n in self.cluster.nodes:
            self.assertEqual(len(self.cluster.read_all(n.id, b"_cabildo/queue/q-bytes\x00")), 2,
                             "node %d" % n.id)


class QueueWorkerFailoverTest(harness.ClusterTestCase):
    def test_worker_loses_nothing_when_the_leader_is_killed(self):
        c = self.start_cluster(3)
        script = os.path.join(harness.EXAMPLES_DIR, "queue_worker.py")
        items = 400
        proc = subprocess.Popen([harness.PYTHON, "-u", script, "--endpoints",
                                 ",".join(c.endpoints()), "--queue", "failover-jobs",
                                 "--items", str(items), "--producers", "2", "--consumers", "3",
                                 "--wait-ms", "500", "--visibility-ms", "3000",
                                 "--work-ms", "15", "--request-timeout", "0.5",
                                 "--timeout", "45", "--progress", "0.1", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        reader = threading.Thread(
            target=lambda: [lines.append(l.decode("utf-8", "replace").rstrip())
                            for l in proc.stdout], daemon=True)
        reader.start()
        try:
            def acked():
                for l in reversed(lines):
                    if ", acked " in l and l.endswith(tuple("0123456789")):
                        return int(l.split(", acked ")[1].split(",")[0])
                return 0
            wait_for(lambda: acked() >= items // 4, 20.0, "the worker to ack a quarter",
                     interval=0.05)
            old = c.leader()
            self.assertIsNotNone(old)
            at = acked()
            c.kill(old)
            print("\nkilled leader %d with %d of %d jobs acked" % (old, at, items))
            c.wait_for_leader(exclude=(old,))
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(5)
            proc.stdout.close()
        out = "\n".join(lines)
        print(out.splitlines()[-2] if len(lines) > 1 else out)
        self.assertEqual(proc.returncode, 0, out)
        summary = json.loads(lines[-1])
        self.assertEqual((summary["produced"], summary["acked"], summary["missing"],
                          summary["failures"], summary["delivered_after_ack"]),
                         (items, items, [], [], []), summary)
        self.assertLess(at, items, "the leader died after the work was done")
        cl = c.client()
        ln = cl.queue_len(b"failover-jobs")
        self.assertEqual((ln["items"], ln["in_flight"]), (0, 0), "items left in the queue")
        # The killed node comes back to the same state.
        c.start(old)
        c.wait_converged()
        for n in c.nodes:
            self.assertEqual(c.read_all(n.id, b"_cabildo/queue/failover-jobs\x00"), {},
                             "node %d still holds items" % n.id)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
