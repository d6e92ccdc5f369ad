"""Basic operations against a real 3-node cluster: put/get/delete/range/cas
through every node, status, size limits, sessions."""

import unittest
import unittest.mock

import harness
from harness import CabildoError, wait_for

MiB = 1 << 20


class BasicTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.c = self.start_cluster(3)

    def test_put_get_delete_through_every_node(self):
        c = self.c
        revs = []
        for n in c.nodes:
            cl = c.node_client(n.id)  # first contact is node n; it follows leader hints
            revs.append(cl.put(b"basic/%d" % n.id, b"value-%d" % n.id))
        self.assertEqual(len(set(revs)), 3, "revisions must be unique: %s" % revs)
        self.assertEqual(revs, sorted(revs), "revisions must grow: %s" % revs)

        for n in c.nodes:
            cl = c.node_client(n.id)
            for k in c.nodes:
                key, want = b"basic/%d" % k.id, b"value-%d" % k.id
                value, rev = cl.get(key)
                self.assertEqual(value, want, "linearizable get %r via node %d" % (key, n.id))
                self.assertGreaterEqual(rev, revs[k.id - 1])
                # Serializable reads may lag on a follower, but only briefly.
                wait_for(lambda: cl.get(key, serializable=True)[0] == want, 5.0,
                         "serializable get %r on node %d" % (key, n.id))
                self.assertEqual(cl.last_endpoint, n.client_endpoint,
                                 "a serializable read must be answered by the node asked")

        self.assertEqual(c.client().get(b"basic/absent"), (None, unittest.mock.ANY))

        cl = c.client(first=2)
        deleted, rev_d = cl.delete(b"basic/1")
        self.assertTrue(deleted)
        self.assertGreater(rev_d, revs[-1])
        deleted, rev_d2 = cl.delete(b"basic/1")
        self.assertFalse(deleted, "second delete of the same key")
        self.assertGreater(rev_d2, rev_d, "a delete of an absent key still commits")
        for n in c.nodes:
            self.assertIsNone(c.node_client(n.id).get(b"basic/1")[0])
            wait_for(lambda: c.node_client(n.id).get(b"basic/1", serializable=True)[0] is None,
                     5.0, "delete visible on node %d" % n.id)
        self.assertAllAlive()

    def test_range_prefix_limit_more(self):
        cl = self.c.client()
        keys = [b"rng/%02d" % i for i in range(12)]
        for i, k in reversed(list(enumerate(keys))):
            cl.put(k, b"v%d" % i)
        cl.put(b"rnh/outside", b"x")
        cl.put(b"rn", b"shorter")

        kvs, more, _ = cl.range(b"rng/")
        self.assertEqual([k for k, _ in kvs], keys, "keys in bytewise order")
        self.assertEqual([v for _, v in kvs], [b"v%d" % i for i in range(12)])
        self.assertFalse(more)

        kvs, more, _ = cl.range(b"rng/", limit=5)
        self.assertEqual([k for k, _ in kvs], keys[:5])
        self.assertTrue(more, "limit 5 of 12 keys must set more")

        kvs, more, _ = cl.range(b"rng/", limit=12)
        self.assertEqual(len(kvs), 12)
        self.assertFalse(more, "limit == number of keys: nothing more")

        kvs, more, _ = cl.range(b"rng/1")
        self.assertEqual([k for k, _ in kvs], keys[10:])

        kvs, more, _ = cl.range(b"rn", limit=100)
        self.assertEqual([k for k, _ in kvs], [b"rn"] + keys + [b"rnh/outside"])

        kvs, more, _ = cl.range(b"nothing-here/")
        self.assertEqual((kvs, more), ([], False))

        for n in self.c.nodes:
            nc = self.c.node_client(n.id)
            wait_for(lambda: len(nc.range(b"rng/", serializable=True)[0]) == 12, 5.0,
                     "serializable range on node %d" % n.id)
            kvs, more, _ = nc.range(b"rng/", limit=3, serializable=True)
            self.assertEqual(([k for k, _ in kvs], more), (keys[:3], True))
            self.assertEqual(nc.last_endpoint, n.client_endpoint)

    def test_status_one_leader(self):
        sts = self.c.statuses()
        self.assertEqual(sorted(sts), [1, 2, 3])
        for nid, st in sts.items():
            self.assertIsNotNone(st, "node %d did not answer status" % nid)
            self.assertTrue(st["ok"])
            self.assertEqual(st["node_id"], nid)
            for f in ("role", "term", "leader_id", "commit_index", "applied_index",
                      "last_index", "state_hash", "members", "leader", "revision"):
                self.assertIn(f, st, "status of node %d lacks %s" % (nid, f))
            self.assertEqual(sorted(m["id"] for m in st["members"]), [1, 2, 3])
            for m in st["members"]:
                self.assertEqual(m["client_endpoint"], self.c.node(m["id"]).client_endpoint)
        # Heartbeats may still be spreading the news right after the election.
        def one_leader():
            sts = self.c.statuses()
            leaders = [i for i, s in sts.items() if s and s["role"] == "leader"]
            ids = {s["leader_id"] for s in sts.values() if s}
            hints = {s["leader"] for s in sts.values() if s}
            if len(leaders) == 1 and ids == {leaders[0]} and \
                    hints == {self.c.node(leaders[0]).client_endpoint}:
                return leaders[0]
            return None
        lead = wait_for(one_leader, 5.0, "exactly one leader that every node names")
        terms = {s["term"] for s in self.c.statuses().values()}
        self.assertEqual(len(terms), 1, "all nodes in one term")
        st = self.c.status(lead)
        self.assertGreaterEqual(st["commit_index"], st["applied_index"])
        self.assertGreaterEqual(st["last_index"], st["commit_index"])

    def test_value_sizes(self):
        cl = self.c.client(total_timeout=20.0)
        for size in (0, 1, 256, 64 << 10, MiB):
            v = bytes((i * 7 + size) & 0xFF for i in range(size))
            key = b"size/%d" % size
            cl.put(key, v)
            got, _ = cl.get(key)
            self.assertEqual(len(got), size)
            self.assertEqual(got, v, "value of %d bytes came back different" % size)
        for n in self.c.nodes:
            nc = self.c.node_client(n.id, total_timeout=20.0)
            wait_for(lambda: nc.get(b"size/%d" % MiB, serializable=True)[0] is not None,
                     10.0, "1 MiB value on node %d" % n.id)

        with self.assertRaises(CabildoError) as cm:
            cl.put(b"size/too-big", b"x" * (MiB + 1))
        self.assertEqual(cm.exception.code, "too_large", cm.exception)
        self.assertIsNone(cl.get(b"size/too-big")[0])
        # The client keeps working after a rejected write (seq went up by one).
        cl.put(b"size/after", b"ok")
        self.assertEqual(cl.get(b"size/after")[0], b"ok")
        self.assertAllAlive()

    def test_key_sizes(self):
        cl = self.c.client()
        k511 = b"k" * 511
        rev = cl.put(k511, b"511")
        self.assertEqual(cl.get(k511), (b"511", unittest.mock.ANY))
        self.assertGreaterEqual(cl.get(k511)[1], rev)
        self.assertEqual(cl.range(k511)[0], [(k511, b"511")])

        for op in ("put", "get", "delete", "cas"):
            with self.subTest(op=op):
                with self.assertRaises(CabildoError) as cm:
                    k512 = b"k" * 512
                    if op == "put":
                        cl.put(k512, b"x")
                    elif op == "get":
                        cl.get(k512)
                    elif op == "delete":
                        cl.delete(k512)
                    else:
                        cl.cas(k512, None, b"x")
                self.assertEqual(cm.exception.code, "too_large", cm.exception)
        with self.assertRaises(CabildoError) as cm:
            cl.range(b"p" * 512)
        self.assertEqual(cm.exception.code, "too_large", cm.exception)
        with self.assertRaises(CabildoError) as cm:
            cl.put(b"", b"x")
        self.assertIn(cm.exception.code, ("bad_request", "too_large"), cm.exception)

    def test_cas(self):
        cl = self.c.client(first=3)
        self.assertTrue(cl.cas(b"cas/a", None, b"one")[0])
        self.assertFalse(cl.cas(b"cas/a", None, b"two")[0], "key exists: create must fail")
        self.assertFalse(cl.cas(b"cas/a", b"wrong", b"two")[0])
        self.assertEqual(cl.get(b"cas/a")[0], b"one")
        self.assertTrue(cl.cas(b"cas/a", b"one", b"two")[0])
        self.assertEqual(cl.get(b"cas/a")[0], b"two")
        self.assertFalse(cl.cas(b"cas/absent", b"", b"x")[0],
                         "expected empty value is not the same as absent")
        cl.put(b"cas/empty", b"")
        self.assertTrue(cl.cas(b"cas/empty", b"", b"x")[0])

    def test_session_exactly_once(self):
        """Raw requests: a retried (session, seq) gets the first reply again."""
        cl = self.c.client()
        lead = self.c.node(self.c.wait_for_leader()).client_endpoint
        put = {"op": "put", "key": b"sess/k", "value": b"first", "session": 4242, "seq": 1, "id": 1}
        r1 = cl.request(put, lead, timeout=5.0)
        self.assertIsNotNone(r1, "no reply to put")
        self.assertTrue(r1["ok"], r1)
        self.assertEqual(r1["id"], 1)
        r2 = cl.request(dict(put, id=2), lead, timeout=5.0)
        self.assertTrue(r2["ok"], r2)
        self.assertEqual(r2["id"], 2, "the id is that of the request answered")
        self.assertEqual(r2["revision"], r1["revision"], "a retry must get the first reply")
        r3 = cl.request(dict(put, value=b"second", id=3), lead, timeout=5.0)
        self.assertEqual(r3["revision"], r1["revision"], r3)
        self.assertEqual(cl.get(b"sess/k")[0], b"first", "the retry must not run again")
        r4 = cl.request(dict(put, value=b"third", seq=2, id=4), lead, timeout=5.0)
        self.assertTrue(r4["ok"], r4)
        self.assertGreater(r4["revision"], r1["revision"])
        self.assertEqual(cl.get(b"sess/k")[0], b"third")
        r5 = cl.request(dict(put, value=b"old", seq=1, id=5), lead, timeout=5.0)
        self.assertFalse(r5["ok"], r5)
        self.assertEqual(r5["error"], "stale_session", r5)
        self.assertEqual(r5["id"], 5)
        self.assertEqual(cl.get(b"sess/k")[0], b"third")
        bad = cl.request({"op": "put", "key": b"sess/x", "value": b"v", "session": 5, "id": 6},
                         lead, timeout=5.0)
        self.assertEqual((bad["ok"], bad["error"], bad["id"]), (False, "bad_request", 6), bad)


if __name__ == "__main__":
    unittest.main()
