"""Bounded work and bounded memory, on real nodes: requests that waited past
their timeout in the node's queue are dropped and counted, not served; past
--pending-requests-max a request is answered `overloaded` at once; a flood of
forwarded requests from connections that vanish leaves nothing behind; and a
write in a session the cluster evicted answers `session_expired` instead of
losing exactly-once silently."""

import os
import sys
import time
import unittest

import msgpack
import zmq

import harness

sys.path.insert(0, harness.EXAMPLES_DIR)
import cabildo  # noqa: E402

FORWARD_BATCH = b"cabildo-fwds"  # PROTOCOL.md section 11


def dealer(ctx, endpoint):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 0)  # queue everything: the test controls the burst
    s.setsockopt(zmq.RCVHWM, 0)
    s.connect(endpoint)
    return s


def send(sock, req):
    sock.send_multipart([b"", msgpack.packb(req)])


def collect(sock, count, timeout):
    """Replies until `count` arrived or nothing came for `timeout` s."""
    replies = []
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while len(replies) < count and poller.poll(int(timeout * 1000)):
        replies.append(msgpack.unpackb(sock.recv_multipart()[-1]))
    return replies


class BoundedTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.ctx = zmq.Context()

    def tearDown(self):
        self.ctx.destroy(linger=0)  # the tests' own DEALERs
        super().tearDown()

    def test_requests_that_waited_past_their_timeout_are_dropped_and_counted(self):
        c = self.start_cluster(3)
        c.wait_converged()
        n = 20000
        s = dealer(self.ctx, c.node(2).client_endpoint)
        time.sleep(0.2)  # connected before the pause
        # Queue the burst while the node is stopped, so it reads thousands
        # per turn when it resumes: the later ones of each turn wait longer
        # than 1 ms in its inbox.
        c.pause(2)
        for i in range(n):
            send(s, {"op": "get", "key": b"k%d" % (i % 50), "consistency": "serializable",
                     "timeout_ms": 1, "id": i})
        c.resume(2)
        replies = collect(s, n, timeout=3.0)
        st = harness.wait_for(lambda: (lambda x: x if x["requests_pending"] == 0 else None)(
            c.status(2)), 10.0, "node 2 idle")
        self.assertGreater(st["requests_expired"], 0, st)
        # Every request was either served (once) or dropped and counted.
        self.assertEqual(len(replies) + st["requests_expired"], n, st)
        self.assertEqual(len({r["id"] for r in replies}), len(replies))
        self.assertTrue(all(r["ok"] for r in replies))
        # And the node serves normally afterwards.
        self.assertEqual(c.node_client(2).put(b"after", b"1") > 0, True)
        self.assertAllAlive()

    def test_past_the_pending_limit_requests_are_overloaded_at_once(self):
        c = self.start_cluster(3, extra_args=("--log-level", "info",
                                              "--pending-requests-max", "8"))
        lead = c.wait_for_leader()
        n = 400
        s = dealer(self.ctx, c.node(lead).client_endpoint)
        time.sleep(0.2)
        c.pause(lead)  # the whole burst is there when it next reads
        for i in range(n):
            send(s, {"op": "put", "key": b"o%d" % i, "value": b"v", "id": i})
        c.resume(lead)
        replies = collect(s, n, timeout=5.0)
        self.assertEqual(len(replies), n)  # every one answered, one way or the other
        codes = [r.get("error") for r in replies if not r["ok"]]
        ok = [r for r in replies if r["ok"]]
        self.assertEqual(set(codes), {"overloaded"}, set(codes))
        self.assertGreater(len(codes), n // 2)
        self.assertGreater(len(ok), 0)
        st = c.status(lead)
        self.assertEqual(st["requests_overloaded"], len(codes))
        # Writes that were refused were not applied; the rest were.
        got = dict(c.read_all(lead, b"o"))
        self.assertEqual(set(got), {b"o%d" % r["id"] for r in ok})
        self.assertAllAlive()

    def test_forwarded_requests_from_vanished_connections_leave_nothing_behind(self):
        c = self.start_cluster(3)
        lead = c.wait_for_leader()
        follower = [i for i in (1, 2, 3) if i != lead][0]
        # Straight at the leader, as a follower would send them, each from a
        # connection that closes at once: a new ROUTER identity each time.
        body = msgpack.packb({"op": "get", "key": b"k", "consistency": "serializable"})

        def burst(endpoint, kind, message, count=250):
            # A context per burst: term() waits (at most the linger) until
            # the closed sockets' messages left, and frees their files.
            ctx = zmq.Context()
            for i in range(count):
                s = ctx.socket(kind)
                s.setsockopt(zmq.LINGER, 500)
                s.connect(endpoint)
                s.send_multipart(message(i))
                s.close()
            ctx.term()

        for _ in range(4):
            burst(c.node(lead).client_endpoint, zmq.DEALER,
                  lambda i: [FORWARD_BATCH, i.to_bytes(8, "little"), body])
        # Through a follower, from REQ clients that give up at once.
        for _ in range(4):
            burst(c.node(follower).client_endpoint, zmq.REQ,
                  lambda i: [msgpack.packb({"op": "put", "key": b"v%d" % i, "value": b"x"})])

        def settled(node_id):
            st = c.status(node_id)
            return st if st["requests_pending"] == 0 and st["forward_reply_queues"] == 0 else None

        harness.wait_for(lambda: settled(lead), 15.0, "the leader's queues empty")
        harness.wait_for(lambda: settled(follower), 15.0, "the follower's queues empty")
        c.wait_converged()
        self.assertAllAlive()

    def test_a_write_in_an_evicted_session_answers_session_expired(self):
        c = self.start_cluster(3, extra_args=("--log-level", "info", "--sessions-max", "3"))
        lead = c.wait_for_leader()
        ep = c.node(lead).client_endpoint
        cl = c.client()

        def write(session, seq, key):
            return cl.request({"op": "put", "key": key, "value": b"v", "session": session,
                               "seq": seq}, endpoint=ep, timeout=5.0)

        self.assertTrue(write(100, 1, b"a1")["ok"])
        self.assertTrue(write(100, 2, b"a2")["ok"])
        for session in (101, 102, 103):  # three newer sessions push 100 out
            self.assertTrue(write(session, 1, b"s%d" % session)["ok"])
        for seq in (3, 4):  # not run, and not silently restarted either
            rep = write(100, seq, b"a%d" % seq)
            self.assertFalse(rep["ok"])
            self.assertEqual(rep["error"], "session_expired", rep)
        self.assertEqual(cl.get(b"a3")[0], None)
        # A retry of a remembered session still gets its first answer.
        first = write(103, 1, b"s103")
        self.assertEqual(write(103, 1, b"s103")["revision"], first["revision"])
        # The Python client starts a new session and goes on.
        py = c.client()
        py.session, py.seq = 100, 9
        with self.assertRaises(cabildo.CabildoError) as err:
            py.put(b"py", b"1")
        self.assertEqual(err.exception.code, "session_expired")
        self.assertNotEqual(py.session, 100)
        py.put(b"py", b"2")
        self.assertEqual(py.get(b"py")[0], b"2")
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
