"""Whole-cluster restarts: after SIGTERM (clean, exit 0) and after kill -9
of every node, every acknowledged write is still there."""

import threading
import time
import unittest

import harness
from harness import CabildoError, wait_for

KEYS = 300


class FullRestartTest(harness.ClusterTestCase):
    def write_keys(self, c, prefix, n, writers=4):
        errors = []

        def writer(w):
            cl = c.client(first=1 + w % 3, total_timeout=15.0)
            try:
                for i in range(w, n, writers):
                    cl.put(b"%s%04d" % (prefix, i), b"v-%d" % i)
            except Exception as e:  # noqa: BLE001
                errors.append("writer %d: %r" % (w, e))
        ts = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(writers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in ts), "writers hung")
        self.assertEqual(errors, [])
        return {b"%s%04d" % (prefix, i): b"v-%d" % i for i in range(n)}

    def check_present(self, c, prefix, want):
        cl = c.client(total_timeout=15.0)
        kvs, more, _ = cl.range(prefix, limit=10000)
        got = dict(kvs)
        missing = sorted(k for k in want if got.get(k) != want[k])
        self.assertEqual(missing[:10], [], "%d acknowledged keys missing or wrong after restart"
                         % len(missing))
        for k in list(want)[::17]:
            self.assertEqual(cl.get(k)[0], want[k])

    def test_sigterm_all_then_restart(self):
        c = self.start_cluster(3)
        want = self.write_keys(c, b"full/", KEYS)
        raw = c.client()
        put = {"op": "put", "key": b"full/session", "value": b"once", "session": 555, "seq": 1}
        r1 = raw.request(put, c.node(c.wait_for_leader()).client_endpoint, timeout=5.0)
        self.assertTrue(r1 and r1["ok"], r1)
        want[b"full/session"] = b"once"
        c.wait_converged()
        for n in c.nodes:
            t0 = time.monotonic()
            rc = n.stop(timeout=10.0)
            self.assertEqual(rc, 0, "node %d exit code after SIGTERM: %r (%.1fs)"
                             % (n.id, rc, time.monotonic() - t0))
        c.start()
        c.wait_for_leader(timeout=10.0)
        self.check_present(c, b"full/", want)
        # Session replies are durable too: the retry gets the first reply.
        lead = c.wait_for_leader()
        r2 = raw.request(dict(put, value=b"twice"), c.node(lead).client_endpoint, timeout=5.0)
        self.assertTrue(r2 and r2["ok"], r2)
        self.assertEqual(r2["revision"], r1["revision"], "session lost in the restart")
        c.wait_converged(timeout=20.0)
        for n in c.nodes:
            self.assertEqual(c.read_all(n.id, b"full/"), want, "node %d" % n.id)
        self.assertAllAlive()

    def test_kill9_all_then_restart(self):
        c = self.start_cluster(3)
        want = self.write_keys(c, b"crash/", 100)
        # Keep writing while every node is killed: acknowledged writes must survive.
        stop = threading.Event()
        acked = {}

        def load():
            cl = c.client(request_timeout=0.3, total_timeout=1.0)
            i = 0
            while not stop.is_set():
                key, value = b"crash/load/%05d" % i, b"l-%d" % i
                i += 1
                try:
                    cl.put(key, value)
                    acked[key] = value
                except CabildoError:
                    pass
        t = threading.Thread(target=load, daemon=True)
        t.start()
        wait_for(lambda: len(acked) >= 50, 15.0, "50 writes acknowledged under load")
        for n in c.nodes:
            n.kill()
        stop.set()
        t.join(10)
        self.assertFalse(t.is_alive())
        want.update(acked)
        print("\nkill -9 all: %d writes acknowledged by the load before the crash" % len(acked))
        c.start()
        c.wait_for_leader(timeout=10.0)
        self.check_present(c, b"crash/", want)
        c.wait_converged(timeout=20.0)
        for n in c.nodes:
            got = c.read_all(n.id, b"crash/")
            missing = [k for k in want if got.get(k) != want[k]]
            self.assertEqual(missing[:10], [], "node %d" % n.id)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
