"""Kill -9 a follower, write 500 keys without it, restart it: it catches up
(same applied_index and state_hash everywhere) and serves the keys."""

import threading
import unittest

import harness
from harness import wait_for

KEYS = 500
WRITERS = 4


class FollowerRestartTest(harness.ClusterTestCase):
    def test_follower_catches_up(self):
        c = self.start_cluster(3)
        lead = c.wait_for_leader()
        victim = [i for i in (1, 2, 3) if i != lead][0]
        other = [i for i in (1, 2, 3) if i not in (lead, victim)][0]
        c.client().put(b"fr/before", b"1")
        c.wait_converged()
        c.kill(victim)

        errors = []

        def writer(w):
            cl = c.client(first=other if w % 2 else lead, total_timeout=15.0)
            try:
                for i in range(w, KEYS, WRITERS):
                    cl.put(b"fr/%04d" % i, b"value-%d" % i)
            except Exception as e:  # noqa: BLE001
                errors.append("writer %d: %r" % (w, e))
        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "writers hung")
        self.assertEqual(errors, [], "writes with one follower down must succeed")

        st = c.status(lead)
        print("\nfollower restart: node %d down while %d keys were written; leader %d at "
              "applied_index %d" % (victim, KEYS, lead, st["applied_index"]))
        c.start(victim)
        c.wait_converged(timeout=30.0)
        sts = c.statuses()
        self.assertGreaterEqual(sts[victim]["applied_index"], st["applied_index"])

        want = {b"fr/%04d" % i: b"value-%d" % i for i in range(KEYS)}
        want[b"fr/before"] = b"1"
        got = c.read_all(victim, b"fr/")
        self.assertEqual(len(got), len(want))
        self.assertEqual(got, want)
        vc = c.node_client(victim)
        for i in range(0, KEYS, 7):
            value, rev = vc.get(b"fr/%04d" % i, serializable=True)
            self.assertEqual(value, b"value-%d" % i)
            self.assertEqual(vc.last_endpoint, c.node(victim).client_endpoint)
        # It takes part again: a write through it reaches every node.
        vc.put(b"fr/after", b"2")
        for n in c.nodes:
            nc = c.node_client(n.id)
            wait_for(lambda: nc.get(b"fr/after", serializable=True)[0] == b"2", 5.0,
                     "fr/after on node %d" % n.id)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
