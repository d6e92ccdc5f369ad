"""Hostile input on every socket a node binds, while a client keeps writing.

Client endpoint (REQ and DEALER): garbage, truncated msgpack, wrong shapes
and types, unknown op, oversized frames -> where a reply comes it is
ok=false with bad_request/too_large (and the request's `id` when it had a
decodable one). Peer endpoint (DEALER with a made-up identity) and PULL
endpoint (PUSH): multi-frame garbage, random bytes, bogus Raft messages.
Afterwards every node still serves, and every acknowledged write is on every
node with identical state_hash."""

import random
import threading
import time
import unittest

import msgpack
import zmq

import harness
from harness import CabildoError, wait_for

MiB = 1 << 20
REPLY_TIMEOUT_MS = 1500


def pk(obj):
    return msgpack.packb(obj, use_bin_type=True)


def nested(depth):
    v = b"leaf"
    for _ in range(depth):
        v = [v]
    return v


def client_payloads():
    """(name, frame, allowed error codes, id that must be echoed or None)."""
    rnd = random.Random(1234)
    big = pk({"id": 21, "op": "put", "key": b"hostile/big", "value": b"x" * (2 * MiB + 10),
              "session": 99, "seq": 1})
    return [
        ("garbage", b"\xc1garbage\xff\x00\x01", {"bad_request"}, None),
        ("random bytes", bytes(rnd.getrandbits(8) for _ in range(300)), {"bad_request"}, None),
        ("empty frame", b"", {"bad_request"}, None),
        ("truncated msgpack", pk({"id": 7, "op": "put", "key": b"hostile/t", "value": b"v" * 100,
                                  "session": 1, "seq": 1})[:-20], {"bad_request"}, None),
        ("map header claiming 4G entries", b"\xdf\xff\xff\xff\xff", {"bad_request", "too_large"},
         None),
        ("bin header claiming 4 GiB",
         b"\x83" + pk("op") + pk("get") + pk("id") + pk(8) + pk("key") + b"\xc6\xff\xff\xff\xff",
         {"bad_request", "too_large"}, None),
        ("array instead of map", pk(["op", "get", "key", b"k"]), {"bad_request"}, None),
        ("nil", pk(None), {"bad_request"}, None),
        ("int", pk(12345), {"bad_request"}, None),
        ("map with int keys", pk({1: 2, 3: 4}), {"bad_request"}, None),
        ("op as int", pk({"op": 5, "key": b"k", "id": 11}), {"bad_request"}, 11),
        ("key as map", pk({"op": "get", "key": {"a": 1}, "id": 12}), {"bad_request"}, 12),
        ("value as array", pk({"op": "put", "key": b"hostile/x", "value": [1, 2], "session": 5,
                               "seq": 1, "id": 30}), {"bad_request"}, 30),
        ("unknown op", pk({"op": "frobnicate", "key": b"k", "id": 13}), {"bad_request"}, 13),
        ("missing op", pk({"key": b"k", "id": 14}), {"bad_request"}, 14),
        ("missing key", pk({"op": "put", "value": b"v", "session": 5, "seq": 1, "id": 31}),
         {"bad_request"}, 31),
        ("trailing bytes", pk({"op": "status", "id": 15}) + b"\x00", {"bad_request"}, None),
        ("nesting depth 60", pk({"op": "get", "key": b"k", "x": nested(60), "id": 16}),
         {"bad_request", "too_large"}, None),
        ("session without seq", pk({"op": "put", "key": b"k", "value": b"v", "session": 1,
                                    "id": 17}), {"bad_request"}, 17),
        ("seq 0", pk({"op": "put", "key": b"k", "value": b"v", "session": 1, "seq": 0,
                      "id": 32}), {"bad_request"}, 32),
        ("negative seq", pk({"op": "put", "key": b"k", "value": b"v", "session": 1, "seq": -3,
                             "id": 33}), {"bad_request"}, 33),
        ("limit as str", pk({"op": "range", "limit": "ten", "id": 18}), {"bad_request"}, 18),
        ("limit 0", pk({"op": "range", "limit": 0, "id": 19}), {"bad_request", "too_large"}, 19),
        ("limit 10001", pk({"op": "range", "limit": 10001, "id": 34}),
         {"bad_request", "too_large"}, 34),
        ("consistency as int", pk({"op": "get", "key": b"k", "consistency": 1, "id": 35}),
         {"bad_request"}, 35),
        ("unknown consistency", pk({"op": "get", "key": b"k", "consistency": "eventual",
                                    "id": 36}), {"bad_request"}, 36),
        ("op not UTF-8", b"\x82\xa2op\xa3\xff\xfe\xfd\xa2id\x25", {"bad_request"}, None),
        ("id over 1024 bytes", pk({"op": "status", "id": b"i" * 2000}), {"too_large"}, None),
        ("value over 1 MiB", pk({"op": "put", "key": b"hostile/v", "value": b"x" * (MiB + 1),
                                 "session": 5, "seq": 1, "id": 20}), {"too_large"}, 20),
        ("300 keys", pk(dict({"op": "status", "id": 37}, **{"k%d" % i: i for i in range(300)})),
         {"bad_request", "too_large"}, None),
        ("frame over 2 MiB", big, {"too_large", "bad_request"}, None),
    ]


class Writer(threading.Thread):
    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.client = cluster.client(request_timeout=1.0, total_timeout=10.0)
        self.stop = threading.Event()
        self.acked = {}
        self.failed = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            key, value = b"hostile/w/%06d" % i, b"w-%d" % i
            i += 1
            try:
                self.client.put(key, value)
                self.acked[key] = value
            except CabildoError as e:
                self.failed.append((key, e.code, e.message))
            time.sleep(0.002)


class HostileInputTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.c = self.start_cluster(3)
        self.ctx = zmq.Context()
        self.writer = Writer(self.c)
        self.writer.start()
        wait_for(lambda: len(self.writer.acked) >= 10, 10.0, "the writer to get going")

    def tearDown(self):
        self.writer.stop.set()
        self.writer.join(15)
        self.ctx.destroy(linger=0)
        super().tearDown()

    # -- sending helpers

    def via_req(self, endpoint, frame):
        s = self.ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        try:
            s.connect(endpoint)
            s.send(frame)
            if s.poll(REPLY_TIMEOUT_MS, zmq.POLLIN):
                return s.recv_multipart()
            return None
        finally:
            s.close(linger=0)

    def via_dealer(self, endpoint, frames):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        try:
            s.connect(endpoint)
            s.send_multipart(frames)
            if s.poll(REPLY_TIMEOUT_MS, zmq.POLLIN):
                return s.recv_multipart()
            return None
        finally:
            s.close(linger=0)

    def fire(self, kind, endpoint, messages, identity=None):
        """Sends messages (lists of frames) with no reply expected; linger
        long enough for them to leave."""
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 2000)
        s.setsockopt(zmq.SNDTIMEO, 2000)
        if identity is not None:
            s.setsockopt(zmq.ROUTING_ID, identity)
        try:
            s.connect(endpoint)
            for frames in messages:
                s.send_multipart(frames)
            time.sleep(0.2)
        finally:
            s.close(linger=2000)

    def check_reply(self, how, name, frames, allowed, want_id):
        """frames: the reply frames (REQ: [reply]; DEALER: ["", reply]) or None."""
        if frames is None:
            return "no reply"
        if how == "dealer":
            self.assertEqual(len(frames), 2, "%s via DEALER: reply frames %r" % (name, frames))
            self.assertEqual(frames[0], b"", "%s via DEALER: no empty delimiter" % name)
        else:
            self.assertEqual(len(frames), 1, "%s via REQ: reply frames %r" % (name, frames))
        try:
            rep = msgpack.unpackb(frames[-1], raw=False)
        except Exception as e:  # noqa: BLE001
            self.fail("%s via %s: undecodable reply %r (%s)" % (name, how, frames[-1][:200], e))
        self.assertIsInstance(rep, dict, "%s via %s" % (name, how))
        self.assertIs(rep.get("ok"), False, "%s via %s: %r" % (name, how, rep))
        self.assertIn(rep.get("error"), allowed, "%s via %s: %r" % (name, how, rep))
        self.assertIsInstance(rep.get("message"), str, "%s via %s: %r" % (name, how, rep))
        self.assertIn("leader", rep, "%s via %s: every reply carries leader" % (name, how))
        if want_id is not None:
            self.assertEqual(rep.get("id"), want_id, "%s via %s: id not echoed: %r"
                             % (name, how, rep))
        return "%s (%s)" % (rep["error"], rep["message"])

    def check_cluster_healthy(self):
        c = self.c
        self.assertAllAlive()
        for n in c.nodes:
            st = c.status(n.id, timeout=2.0)
            self.assertTrue(st["ok"], "status of node %d: %r" % (n.id, st))
        for n in c.nodes:
            nc = c.node_client(n.id)
            nc.put(b"hostile/after/%d" % n.id, b"fine")
            self.assertEqual(nc.get(b"hostile/after/%d" % n.id)[0], b"fine")
        self.writer.stop.set()
        self.writer.join(15)
        self.assertFalse(self.writer.is_alive(), "writer hung")
        bad = [f for f in self.writer.failed if f[1] != "timeout"]
        self.assertEqual(bad, [], "the background writer saw errors")
        print("\nwriter: %d writes acknowledged during the attack, %d timed out"
              % (len(self.writer.acked), len(self.writer.failed)))
        self.assertGreater(len(self.writer.acked), 10)
        c.wait_converged(timeout=20.0)
        for n in c.nodes:
            got = c.read_all(n.id, b"hostile/w/")
            missing = [k for k, v in self.writer.acked.items() if got.get(k) != v]
            self.assertEqual(missing[:10], [], "node %d lacks %d acknowledged writes"
                             % (n.id, len(missing)))
        self.assertAllAlive()

    # -- tests

    def test_client_endpoint(self):
        c = self.c
        seen = []
        for n in c.nodes:
            ep = n.client_endpoint
            for name, frame, allowed, want_id in client_payloads():
                with self.subTest(node=n.id, payload=name, via="REQ"):
                    got = self.check_reply("req", name, self.via_req(ep, frame), allowed, want_id)
                    seen.append((n.id, "REQ", name, got))
                with self.subTest(node=n.id, payload=name, via="DEALER"):
                    got = self.check_reply("dealer", name, self.via_dealer(ep, [b"", frame]),
                                           allowed, want_id)
                    seen.append((n.id, "DEALER", name, got))
            # Not v1 shapes: multi-frame requests, a DEALER without the delimiter.
            for name, frames in (("multi-frame garbage", [b"", b"\x01\x02", b"garbage", b""]),
                                 ("multi-frame maps", [b"", pk({"op": "status", "id": 40}),
                                                       pk({"op": "status", "id": 41})]),
                                 ("no delimiter", [pk({"op": "status", "id": 42})])):
                with self.subTest(node=n.id, payload=name, via="DEALER"):
                    rep = self.via_dealer(ep, frames)
                    if rep is not None and len(rep) == 2 and rep[0] == b"":
                        got = self.check_reply("dealer", name, rep, {"bad_request"}, None)
                    else:
                        got = "reply %r" % (rep,) if rep else "no reply"
                    seen.append((n.id, "DEALER", name, got))
            self.assertTrue(n.alive(), "node %d died on client-endpoint input" % n.id)
        for row in seen:
            if row[0] == 1:
                print("  %-6s %-32s -> %s" % row[1:])
        self.check_cluster_healthy()

    def test_forward_batches_from_a_client(self):
        """The nodes' forwarding format (PROTOCOL.md section 11) sent by a
        stranger: a well-formed batch is answered like forwarded requests
        (never forwarded again), a malformed or oversized one is dropped."""
        c = self.c
        marker = b"cabildo-fwds"
        for n in c.nodes:
            ep = n.client_endpoint
            with self.subTest(node=n.id, payload="batch of two"):
                rep = self.via_dealer(ep, [marker, b"id-00001", b"\xc1garbage",
                                           b"id-00002", pk({"op": "status", "id": 7})])
                self.assertIsNotNone(rep, "no answer to a well-formed batch")
                self.assertEqual(rep[0], marker)
                self.assertEqual(len(rep), 5, rep)
                self.assertEqual(rep[1], b"id-00001")
                self.assertEqual(msgpack.unpackb(rep[2], raw=False)["error"], "bad_request")
                self.assertEqual(rep[3], b"id-00002")
                self.assertIs(msgpack.unpackb(rep[4], raw=False)["ok"], True)
            for name, frames in (("odd frames", [marker, b"id-00003"]),
                                 ("65 pairs", [marker] + [b"id-00004", b"x"] * 65)):
                with self.subTest(node=n.id, payload=name):
                    self.assertIsNone(self.via_dealer(ep, frames), "%s: answered" % name)
            self.assertTrue(n.alive(), "node %d died on a forged forward batch" % n.id)
        self.check_cluster_healthy()

    def test_peer_and_pull_endpoints(self):
        c = self.c
        rnd = random.Random(99)
        garbage = [
            [b"\x01\x02\x03", b"garbage", b""],
            [bytes(rnd.getrandbits(8) for _ in range(1000))],
            [b""],
            [pk([1, 4, 2])],  # a short array
            [pk([1, 99] + [0] * 17)],  # unknown type
            [pk([7] + [0] * 18)],  # unknown version
            [pk({"op": "put", "key": b"k", "value": b"v"})],  # a client map on the peer port
            [pk([1, 4, 2, 1, 1, 0, 0, False, False, 0, 0, [[1, 1, 0, {"x": 1}]], 0, False, 0, 0,
                 0, 0, 0])[:-3]],
            [b"\xdf\xff\xff\xff\xff"],
            [b"x" * (3 * MiB)],
        ]
        for n in c.nodes:
            self.fire(zmq.DEALER, n.peer_endpoint, garbage, identity=b"made-up-peer-%d" % n.id)
            self.fire(zmq.DEALER, n.peer_endpoint, garbage)  # auto identity
        pull_garbage = garbage + [
            [pk({"op": "frobnicate", "key": b"k"})],
            [pk({"op": "get", "key": b"hostile/w/000001"})],
            [pk({"op": "put", "key": b"k" * 600, "value": b"v", "session": 3, "seq": 1})],
            [pk({"op": "put", "key": b"hostile/pull", "value": b"x" * (2 * MiB),
                 "session": 3, "seq": 2})],
            [pk(["put", b"k", b"v"])],
        ]
        for n in c.nodes:
            self.fire(zmq.PUSH, n.pull_endpoint, pull_garbage)
        for n in c.nodes:
            self.assertTrue(n.alive(), "node %d died on peer/pull input" % n.id)
        self.check_cluster_healthy()
        self.assertIsNone(c.client().get(b"hostile/pull")[0], "an oversized PUSH write applied")
        self.assertIsNone(c.client().get(b"k" * 511)[0])

    def test_peer_message_from_non_member(self):
        """A well-formed heartbeat from node 99 (not a member) with a huge term
        must not move any node's term."""
        c = self.c
        before = {nid: st["term"] for nid, st in c.statuses().items()}
        bogus_term = 1 << 40
        for n in c.nodes:
            for typ in (0, 2, 4, 6, 8):  # vote, pre-vote, append, heartbeat, timeout_now
                msg = [1, typ, 99, n.id, bogus_term, 10 ** 6, bogus_term, True, False, 0, 0, [],
                       0, False, 0, 0, 0, 0, 0]
                self.fire(zmq.DEALER, n.peer_endpoint, [[pk(msg)]], identity=b"99")
            # And one addressed to a node that is not the receiver.
            msg = [1, 6, 2 if n.id != 2 else 1, 77, bogus_term, 0, 0, False, False, 0, 0, [], 0,
                   False, 0, 0, 0, 0, 0]
            self.fire(zmq.DEALER, n.peer_endpoint, [[pk(msg)]], identity=b"evil")
        time.sleep(0.5)
        after = {nid: st["term"] if st else None for nid, st in c.statuses().items()}
        print("\nterms before %s, after bogus peer messages %s" % (before, after))
        for nid, term in after.items():
            self.assertIsNotNone(term, "node %d does not answer status" % nid)
            self.assertLess(term, bogus_term, "node %d took the term of a non-member" % nid)
        self.check_cluster_healthy()

    def test_push_write_to_leader(self):
        """A valid fire-and-forget put PUSHed to the leader's pull endpoint is
        applied (the cluster is healthy, so it should not be lost)."""
        c = self.c
        lead = c.wait_for_leader()
        self.fire(zmq.PUSH, c.node(lead).pull_endpoint,
                  [[pk({"op": "put", "key": b"hostile/pushed", "value": b"via-push",
                        "session": 777, "seq": 1})]])
        cl = c.client()
        wait_for(lambda: cl.get(b"hostile/pushed")[0] == b"via-push", 5.0,
                 "the pushed write to be applied")
        self.check_cluster_healthy()


if __name__ == "__main__":
    unittest.main()
