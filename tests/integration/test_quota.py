"""The storage quota (--quota-bytes, PROTOCOL.md section 8, "Quota").

A 3-node cluster with a 1 MiB quota is filled with 16 KiB values until the
leader answers `quota_exceeded` (a bounded loop). Then, while over it:

- writes that can grow the state are refused, however small (put, cas,
  lease_grant, queue_put, a txn with a put), also when the client talks to a
  follower (which forwards to the leader, and relays the refusal);
- reads, deletes, a delete-only txn, lease_keepalive, lease_revoke,
  queue_get and queue_ack still work;
- a retry of a write already made gets its first answer (exactly-once);
- status reports quota_bytes and state_bytes on every node.

After a delete by prefix the state is under the quota and writes are taken
again, with nothing reset.
"""

import unittest

import harness
from harness import CabildoError, wait_for

QUOTA = 1 << 20
VALUE = b"v" * (16 << 10)  # 16 KiB: LMDB overflow pages, ~5 pages per value
FILL_MAX = 200  # 200 * 16 KiB = 3.2 MiB: far past the quota if it never bites


class QuotaTest(harness.ClusterTestCase):
    def assert_refused(self, call, what):
        with self.assertRaises(CabildoError, msg=what) as caught:
            call()
        self.assertEqual(caught.exception.code, "quota_exceeded", what)
        return caught.exception

    def fill(self, cl):
        """Puts values until the quota refuses one; returns (written, error)."""
        for i in range(FILL_MAX):
            try:
                cl.put(b"fill/%04d" % i, VALUE)
            except CabildoError as e:
                self.assertEqual(e.code, "quota_exceeded", "put #%d: %s" % (i, e))
                return i, e
        self.fail("%d puts of %d bytes were all taken with a %d-byte quota"
                  % (FILL_MAX, len(VALUE), QUOTA))

    def test_quota_refuses_growth_and_lets_deletes_bring_it_under(self):
        c = self.start_cluster(3, extra_args=["--log-level", "info",
                                              "--quota-bytes", str(QUOTA)])
        cl = c.client()
        lease = cl.lease_grant(60000)
        cl.put(b"leased", b"x", lease=lease)
        cl.queue_put(b"jobs", b"job 1")
        raw = c.node_client(1)
        once = {"op": "put", "key": b"once", "value": b"1", "session": 77, "seq": 1}
        # To node 1, leader or not: a follower forwards it to the leader.
        first = raw.request(dict(once), endpoint=c.node(1).client_endpoint, timeout=5.0)
        self.assertTrue(first and first["ok"], first)

        written, refused = self.fill(cl)
        # The size counts whole pages, so at least the values' bytes: it
        # reaches the quota before the values alone do.
        self.assertGreater(written, 10)
        self.assertLessEqual(written * len(VALUE), QUOTA + len(VALUE))
        message = str(refused)
        self.assertIn(str(QUOTA), message)
        self.assertIn("--quota-bytes", message)
        self.assertIn("delete", message)

        leader = c.wait_for_leader()
        st = c.status(leader)
        self.assertEqual(st["quota_bytes"], QUOTA)
        self.assertGreaterEqual(st["state_bytes"], QUOTA)
        c.wait_converged()
        for node_id, st in c.statuses().items():
            self.assertEqual(st["quota_bytes"], QUOTA, "node %d" % node_id)
            self.assertGreater(st["state_bytes"], written * len(VALUE) // 2, "node %d" % node_id)

        # Growing writes are refused, however small.
        self.assert_refused(lambda: cl.put(b"small", b"x"), "a 1-byte put")
        self.assert_refused(lambda: cl.cas(b"small", None, b"x"), "cas")
        self.assert_refused(lambda: cl.lease_grant(60000), "lease_grant")
        self.assert_refused(lambda: cl.queue_put(b"jobs", b"job 2"), "queue_put")
        self.assert_refused(
            lambda: cl.txn([], success=[{"op": "delete", "key": b"fill/0001"},
                                        {"op": "put", "key": b"small", "value": b"x"}]),
            "a txn with a put")
        self.assertIsNone(cl.get(b"small")[0], "a refused write was applied")
        # A retry of a write that was made gets its first answer (exactly-once),
        # not quota_exceeded.
        again = raw.request(dict(once), endpoint=c.node(1).client_endpoint, timeout=5.0)
        self.assertTrue(again and again["ok"], again)
        self.assertEqual(again["revision"], first["revision"])

        # A follower's client: forwarded to the leader, which refuses.
        follower = next(n for n in c.followers() if n != leader)
        rep = c.node_client(follower).request(
            {"op": "put", "key": b"via-follower", "value": b"x"},
            endpoint=c.node(follower).client_endpoint, timeout=5.0)
        self.assertIsNotNone(rep, "the follower did not answer")
        self.assertFalse(rep["ok"], rep)
        self.assertEqual(rep["error"], "quota_exceeded", rep)
        self.assertIn(str(QUOTA), rep["message"])

        # What can only shrink or hold the state still works.
        self.assertEqual(cl.get(b"fill/0000")[0], VALUE)
        self.assertTrue(cl.delete(b"fill/0000")[0])
        ok, _responses, _rev = cl.txn([], success=[{"op": "delete", "key": b"fill/0001"}])
        self.assertTrue(ok)
        self.assertIsNone(cl.get(b"fill/0001")[0])
        self.assertEqual(cl.lease_keepalive(lease), 60000)
        self.assertEqual(cl.lease_revoke(lease), 1)
        self.assertIsNone(cl.get(b"leased")[0])
        got = cl.queue_get(b"jobs")
        self.assertIsNotNone(got)
        self.assertEqual(got["value"], b"job 1")
        self.assertTrue(cl.queue_ack(b"jobs", got["item"], got["receipt"]))

        # Deleting brings the state under the quota: writes come back.
        deleted = 0
        while True:
            n, more, _rev = cl.delete_prefix(b"fill/")
            deleted += n
            if not more:
                break
        self.assertEqual(deleted, written - 2)

        def put_taken():
            try:
                return cl.put(b"after", b"back")
            except CabildoError as e:
                if e.code != "quota_exceeded":
                    raise
                return None
        wait_for(put_taken, 5, "a put to be taken again after the deletes")
        self.assertLess(c.status(c.wait_for_leader())["state_bytes"], QUOTA)
        self.assertEqual(cl.get(b"after")[0], b"back")
        c.wait_converged()
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
