"""8 clients race create-if-absent (cas with expected nil) on the same fresh
key through different nodes: exactly one wins, everyone then reads the
winner's value. Repeated for 20 keys."""

import threading
import unittest

import harness

CLIENTS = 8
KEYS = 20


class CasRaceTest(harness.ClusterTestCase):
    def test_cas_race(self):
        c = self.start_cluster(3)
        barrier = threading.Barrier(CLIENTS, timeout=30)
        results = {}  # (round, client) -> (succeeded, revision, read value)
        errors = []
        lock = threading.Lock()

        def worker(i):
            # Each client starts at a different node (i % 3), so requests
            # arrive through followers as well as the leader.
            cl = c.client(first=1 + i % 3, total_timeout=15.0)
            me = b"client-%d" % i
            try:
                for r in range(KEYS):
                    key = b"race/%d" % r
                    barrier.wait()
                    ok, rev = cl.cas(key, None, me)
                    barrier.wait()  # everyone has an answer before anyone reads
                    value, _ = cl.get(key)
                    with lock:
                        results[(r, i)] = (ok, rev, value)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append("client %d: %r" % (i, e))
                barrier.abort()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in threads), "clients hung")
        self.assertEqual(errors, [])

        for r in range(KEYS):
            rows = [results[(r, i)] for i in range(CLIENTS)]
            winners = [i for i in range(CLIENTS) if rows[i][0]]
            self.assertEqual(len(winners), 1, "key %d: winners %s" % (r, winners))
            want = b"client-%d" % winners[0]
            for i in range(CLIENTS):
                self.assertEqual(rows[i][2], want, "key %d: client %d read %r, winner is %r"
                                 % (r, i, rows[i][2], want))
            revs = [row[1] for row in rows]
            self.assertEqual(len(set(revs)), CLIENTS,
                             "key %d: every cas commits at its own revision: %s" % (r, revs))
            win_rev = rows[winners[0]][1]
            self.assertEqual(win_rev, min(revs),
                             "key %d: the winner must be the first cas applied (%s)" % (r, revs))
        c.wait_converged()
        want = {}
        for r in range(KEYS):
            w = [i for i in range(CLIENTS) if results[(r, i)][0]][0]
            want[b"race/%d" % r] = b"client-%d" % w
        for n in c.nodes:
            self.assertEqual(c.read_all(n.id, b"race/"), want, "node %d" % n.id)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
