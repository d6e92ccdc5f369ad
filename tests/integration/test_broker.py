"""cabildo-broker in front of a real 3-node cluster.

1. Requests through the broker: a REQ (and a DEALER) at the broker's client
   endpoint gets replies with its `id`, and the `leader` hint names the broker;
   garbage and multi-frame requests get bad_request and the broker lives on;
   SIGTERM exits 0.
2. The broker's XPUB passes each kv/ event once (every node publishes every
   event), filtered by the subscriber's prefix, and hb/ from every node.
3. kill -9 the leader under a steady write load through the broker: writes
   resume within BOUND_S, and every acknowledged write is there afterwards.
"""

import os
import random
import signal
import subprocess
import threading
import time
import unittest

import msgpack
import zmq

import harness
from harness import CabildoError, wait_for

BROKER_BIN = os.path.join(harness.BIN_DIR, "broker", "cabildo-broker")
WRITERS = 4
BOUND_S = float(os.environ.get("CABILDO_BROKER_FAILOVER_BOUND_S", "3.0"))


def pick_broker_port():
    """A port p with p+1..p+3 free (the broker binds those)."""
    for _ in range(200):
        p = random.randrange(harness.PORT_MIN, harness.PORT_MAX)
        if all(harness._port_free(p + k) for k in (1, 2, 3)):
            return p
    raise RuntimeError("no free port range for the broker")


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


class Writer(threading.Thread):
    """Puts bk/<wid>/<n> through the broker until stopped."""

    def __init__(self, endpoint, wid):
        super().__init__(daemon=True)
        self.wid = wid
        self.client = harness.cabildo.Client([endpoint], request_timeout=0.5, total_timeout=10.0,
                                             backoff_initial=0.02, backoff_max=0.2)
        self.stop = threading.Event()
        self.acked = []  # (key, value, t_ack, revision)
        self.unknown = []
        self.errors = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            key = b"bk/%d/%06d" % (self.wid, i)
            value = b"v%d-%d" % (self.wid, i)
            i += 1
            try:
                rev = self.client.put(key, value)
                self.acked.append((key, value, time.monotonic(), rev))
            except CabildoError as e:
                (self.unknown if e.code == "timeout" else self.errors).append((key, e.code))
                if e.code != "timeout":
                    time.sleep(0.05)
            except Exception as e:  # noqa: BLE001
                self.errors.append((key, repr(e)))
                time.sleep(0.05)
        self.client.close()


class BrokerTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.broker = None
        self.ctx = zmq.Context()

    def tearDown(self):
        if self.broker is not None and self.broker.poll() is None:
            self.broker.kill()
            self.broker.wait()
        self.ctx.destroy(linger=0)
        super().tearDown()

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before and self.broker is not None:
                try:
                    with open(self.broker_log, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    text = "(no log)"
                print("\n----- broker log (%s) -----\n%s" % (self.broker_log, text[-100000:]))

    # -- helpers

    def start_broker(self, c):
        if not os.path.exists(BROKER_BIN):
            raise RuntimeError("broker binary %s not found (set CABILDO_BIN_DIR)" % BROKER_BIN)
        port = pick_broker_port()
        self.broker_log = os.path.join(c.dir, "broker.log")
        args = [BROKER_BIN, "--listen", "127.0.0.1:%d" % port, "--request-timeout-ms", "3000",
                "--log-level", "info"]
        for n in c.nodes:
            args += ["--member", "%d=127.0.0.1:%d" % (n.id, n.port)]
        with open(self.broker_log, "ab") as log:
            self.broker = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           preexec_fn=harness._die_with_parent)
        self.client_ep = "tcp://127.0.0.1:%d" % (port + 1)
        self.pub_ep = "tcp://127.0.0.1:%d" % (port + 2)
        # Ready once it knows a leader: a status through it comes from the leader.
        probe = harness.cabildo.Client([self.client_ep], request_timeout=0.3)
        try:
            wait_for(lambda: probe.status(self.client_ep).get("role") == "leader", 10.0,
                     "the broker to reach the leader")
        finally:
            probe.close()

    def broker_client(self, **kw):
        kw.setdefault("request_timeout", 1.0)
        kw.setdefault("total_timeout", 10.0)
        cl = harness.cabildo.Client([self.client_ep], **kw)
        self.cluster._clients.append(cl)
        return cl

    def socket(self, kind, endpoint, timeout_ms=2000):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        s.connect(endpoint)
        return s

    def req(self, request):
        s = self.socket(zmq.REQ, self.client_ep)
        try:
            s.send(request if isinstance(request, bytes) else pack(request))
            return msgpack.unpackb(s.recv(), raw=False)
        finally:
            s.close()

    # -- 0. membership

    def test_broker_learns_membership_changes(self):
        """Started knowing nodes 1-3, the broker follows the leader's
        heartbeats: it links to node 4 once added and drops node 1 once
        removed, and still serves when nodes 1 and 2 are gone."""
        from test_membership import change
        c = self.start_cluster(3)
        self.start_broker(c)
        admin = c.client()
        n = c.add_node(join_ids=[1, 2, 3])
        change(admin, admin.member_add, n.id, n.address, True)
        n.start()
        change(admin, admin.member_promote, n.id)
        log = lambda: open(self.broker_log, "rb").read().decode("utf-8", "replace")
        wait_for(lambda: "node 4 joined the cluster" in log(), 10.0, "the broker to link node 4")
        change(admin, admin.member_remove, 1)
        c.node(1).expect_down = True
        wait_for(lambda: "node 1 left the cluster" in log(), 10.0, "the broker to drop node 1")
        c.kill(2)
        bc = self.broker_client(total_timeout=15.0)
        rev = bc.put(b"bm/after", b"v")
        self.assertGreater(rev, 0)
        self.assertEqual(bc.get(b"bm/after")[0], b"v")

    # -- 1. requests

    def test_requests_through_broker(self):
        c = self.start_cluster(3)
        self.start_broker(c)

        rep = self.req({"op": "put", "key": b"b/1", "value": b"one", "session": 77, "seq": 1,
                        "id": "put-1"})
        self.assertTrue(rep["ok"], rep)
        self.assertEqual(rep["id"], "put-1")
        self.assertEqual(rep["leader"], self.client_ep, "the leader hint must lead back here")
        rev = rep["revision"]
        rep = self.req({"op": "get", "key": b"b/1", "id": [1, 2]})
        self.assertEqual((rep["ok"], rep["id"], rep["value"]), (True, [1, 2], b"one"))
        self.assertGreaterEqual(rep["revision"], rev)

        # A DEALER keeps several requests in flight; replies match by id.
        d = self.socket(zmq.DEALER, self.client_ep)
        for i in range(10):
            d.send_multipart([b"", pack({"op": "get", "key": b"b/1", "id": i})])
        ids = sorted(msgpack.unpackb(d.recv_multipart()[1], raw=False)["id"] for _ in range(10))
        self.assertEqual(ids, list(range(10)))

        # Garbage is answered, not fatal.
        rep = self.req(b"\xc1 not msgpack")
        self.assertEqual((rep["ok"], rep["error"]), (False, "bad_request"))
        d.send_multipart([b"", pack({"op": "status", "id": 5}), b"extra frame"])
        rep = msgpack.unpackb(d.recv_multipart()[-1], raw=False)
        self.assertEqual((rep["ok"], rep["error"], rep.get("id")), (False, "bad_request", 5))
        d.close()

        # A lock that waits longer than the broker's 3 s request timeout:
        # the broker adds the request's wait_ms to its deadline.
        holder = self.req({"op": "lease_grant", "ttl_ms": 60000})["lease"]
        waiter = self.req({"op": "lease_grant", "ttl_ms": 60000})["lease"]
        self.assertTrue(self.req({"op": "lock", "name": b"bk", "lease": holder})["succeeded"])
        s = self.socket(zmq.REQ, self.client_ep, timeout_ms=10000)
        s.send(pack({"op": "lock", "name": b"bk", "lease": waiter, "wait_ms": 6000}))
        time.sleep(3.5)
        self.assertTrue(self.req({"op": "unlock", "name": b"bk", "lease": holder})["succeeded"])
        rep = msgpack.unpackb(s.recv(), raw=False)
        s.close()
        self.assertEqual((rep["ok"], rep.get("succeeded")), (True, True), rep)

        # The example client works through it unchanged and stays on it.
        cl = self.broker_client()
        for i in range(20):
            cl.put(b"b/c/%d" % i, b"%d" % i)
        self.assertEqual(cl.last_endpoint, self.client_ep)
        kvs, more, _ = cl.range(b"b/c/")
        self.assertEqual((len(kvs), more), (20, False))
        self.assertEqual(cl.get(b"b/1")[0], b"one")

        self.broker.send_signal(signal.SIGTERM)
        self.assertEqual(self.broker.wait(5), 0)
        self.assertAllAlive()

    # -- 2. the fanned-out stream

    def test_stream_passes_each_event_once(self):
        c = self.start_cluster(3)
        self.start_broker(c)
        sub = self.socket(zmq.SUB, self.pub_ep, timeout_ms=100)
        sub.setsockopt(zmq.SUBSCRIBE, b"kv/w/")
        hb = self.socket(zmq.SUB, self.pub_ep, timeout_ms=100)
        hb.setsockopt(zmq.SUBSCRIBE, b"hb/")
        cl = self.broker_client()

        # Slow joiner: the subscription is in place once a probe arrives.
        def probe_seen():
            cl.put(b"w/probe", b"p")
            try:
                return sub.recv_multipart()[0] == b"kv/w/probe"
            except zmq.Again:
                return False
        wait_for(probe_seen, 10.0, "the subscription to reach the broker")

        want = {}  # revision -> key
        for i in range(60):
            want[cl.put(b"w/%03d" % i, b"%d" % i)] = b"w/%03d" % i
            cl.put(b"x/%03d" % i, b"not watched")
        sentinel = cl.put(b"w/zz-sentinel", b"end")

        got = []  # (topic, event)
        def collect_until_sentinel():
            try:
                while True:
                    topic, body = sub.recv_multipart(zmq.NOBLOCK)
                    got.append((topic, msgpack.unpackb(body, raw=False)))
            except zmq.Again:
                pass
            return any(e["revision"] == sentinel for _, e in got)
        wait_for(collect_until_sentinel, 10.0, "the sentinel event")
        # An observation window for late duplicates from other nodes: they
        # would come within milliseconds of the source's copy.
        t_end = time.monotonic() + 0.3
        while time.monotonic() < t_end:
            collect_until_sentinel()

        events = [(t, e) for t, e in got if e["key"] != b"w/probe"]
        revs = [e["revision"] for _, e in events]
        self.assertEqual(len(revs), len(set(revs)), "duplicate events: %s" % sorted(revs))
        self.assertTrue(all(t.startswith(b"kv/w/") for t, _ in events))
        self.assertEqual(set(revs), set(want) | {sentinel})
        for t, e in events:
            self.assertEqual(t, b"kv/" + e["key"])
            if e["revision"] in want:
                self.assertEqual(e["key"], want[e["revision"]])
        self.assertEqual(revs, sorted(revs), "events out of order")

        seen = set()
        def heartbeats_from_all():
            try:
                while True:
                    seen.add(hb.recv_multipart(zmq.NOBLOCK)[0])
            except zmq.Again:
                pass
            return seen >= {b"hb/1", b"hb/2", b"hb/3"}
        wait_for(heartbeats_from_all, 5.0, "heartbeats from every node")
        print("\nbroker stream: %d watched puts, %d events received (each once), "
              "%d unwatched puts filtered" % (len(want), len(events), len(want)))
        sub.close()
        hb.close()
        self.assertAllAlive()

    # -- 3. failover behind the broker

    def test_leader_crash_behind_broker(self):
        c = self.start_cluster(3)
        self.start_broker(c)
        old = c.wait_for_leader()
        writers = [Writer(self.client_ep, w) for w in range(WRITERS)]
        for w in writers:
            w.start()
        try:
            wait_for(lambda: all(len(w.acked) >= 20 for w in writers), 15.0,
                     "every writer to get 20 writes acknowledged through the broker")
            t_kill = time.monotonic()
            c.kill(old)
            t_dead = time.monotonic()

            # Replies already on their way when the leader died may still
            # arrive for a few ms: count acks from after that.
            def first_ack_after():
                ts = [a[2] for w in writers for a in list(w.acked) if a[2] > t_dead + 0.01]
                return min(ts) if ts else None
            t_first = wait_for(first_ack_after, 10.0, "a write acknowledged after the kill")
            n_after = sum(len(w.acked) for w in writers)
            wait_for(lambda: sum(len(w.acked) for w in writers) >= n_after + 40, 10.0,
                     "writes to keep flowing after the failover")
        finally:
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join(15)
        self.assertFalse(any(w.is_alive() for w in writers), "writers hung")
        self.assertIsNone(self.broker.poll(), "the broker exited")

        acked = [a for w in writers for a in w.acked]
        unknown = sum(len(w.unknown) for w in writers)
        errors = [e for w in writers for e in w.errors]
        gap = max(b[2] - a[2] for w in writers for a, b in zip(w.acked, w.acked[1:])
                  if b[2] > t_kill)
        print("\nbroker failover: killed leader %d; first write acknowledged through the broker "
              "%.0f ms after the kill; longest gap between a writer's acks %.0f ms; %d writes "
              "acked, %d unknown (timeout), %d errors"
              % (old, (t_first - t_kill) * 1000, gap * 1000, len(acked), unknown, len(errors)))
        self.assertEqual(errors, [], "writes failed with errors other than timeout")
        self.assertLess(t_first - t_kill, BOUND_S,
                        "writes through the broker must resume within %.1f s" % BOUND_S)
        revs = [a[3] for a in acked]
        self.assertEqual(len(set(revs)), len(revs), "two acknowledged writes share a revision")

        reader = self.broker_client(total_timeout=10.0)
        for wid in range(WRITERS):
            kvs, more, _ = reader.range(b"bk/%d/" % wid, limit=10000)
            self.assertFalse(more)
            got = dict(kvs)
            missing = [k for k, v, _, _ in acked if k.startswith(b"bk/%d/" % wid) and got.get(k) != v]
            self.assertEqual(missing[:10], [], "%d acknowledged writes of writer %d missing"
                             % (len(missing), wid))
        self.assertEqual(reader.last_endpoint, self.client_ep)


if __name__ == "__main__":
    unittest.main()
