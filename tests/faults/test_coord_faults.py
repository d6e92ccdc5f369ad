"""Fault scenarios for locks, elections and queues (coord_scenarios.py):
real nodes, the coordination workload (coord_recorder.py) under kill -9 of
the leader, SIGSTOP of the leader and an isolated leader, checked by
coord_checks.py (test_coord_checks.py tests the checkers themselves).

    /usr/bin/python3 -m unittest -v test_coord_faults
    /usr/bin/python3 -m unittest -v test_coord_faults.CoordNetworkFaults.test_coord_isolate_leader

The network scenario needs root, network namespaces and nftables; without
them it is SKIPPED with the reason (never passed silently).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coord_scenarios  # noqa: E402
import netns  # noqa: E402


class _CoordCase(unittest.TestCase):
    network = False

    def run_kind(self, kind):
        if self.network:
            ok, why = netns.availability()
            if not ok:
                self.skipTest("SKIPPED network fault scenario coord_%s: %s" % (kind, why))
        try:
            result = coord_scenarios.run_coord_scenario(kind, rounds=2)
        except netns.NetUnavailable as e:
            self.skipTest("SKIPPED network fault scenario coord_%s: %s" % (kind, e))
        print("\n" + result.summary(), flush=True)
        self.assertTrue(result.passed, result.summary())
        st = result.stats
        # Enough of each primitive happened to mean something.
        self.assertGreater(st.get("lock.granted", 0), 20, result.summary())
        self.assertGreater(st.get("lock.holds_protected", 0), 10, result.summary())
        self.assertGreater(st.get("campaign.granted", 0), 5, result.summary())
        self.assertGreater(st.get("leader.ok", 0), 20, result.summary())
        self.assertGreater(st.get("qput.ok", 0), 50, result.summary())
        self.assertGreater(st.get("qget.delivered", 0), 50, result.summary())


class CoordProcessFaults(_CoordCase):
    def test_coord_kill_leader(self):
        self.run_kind("kill_leader")

    def test_coord_pause_leader(self):
        self.run_kind("pause_leader")


class CoordNetworkFaults(_CoordCase):
    network = True

    def test_coord_isolate_leader(self):
        self.run_kind("isolate_leader")

    def test_lock_wait_cancel_lost(self):
        """Directed: a waiting lock whose wait ends while its leader is
        isolated. The leader proposes the wait's cancel, which is lost to
        the new leader's entries. A definite answer (`unavailable`,
        `no_leader`: not carried out) must leave nothing behind; otherwise
        the answer must be `timeout` (unknown, PROTOCOL.md "Locks"). Found:
        `unavailable` "leadership changed before the write committed; it was
        not applied" while the lease stayed in the queue, and was later
        granted the lock without any client being told."""
        ok, why = netns.availability()
        if not ok:
            self.skipTest("SKIPPED network fault scenario lock_wait_cancel_lost: %s" % why)
        import threading
        import time
        import recorder
        import scenarios
        try:
            net = netns.TestNet(3).setup()
        except netns.NetUnavailable as e:
            self.skipTest("SKIPPED network fault scenario lock_wait_cancel_lost: %s" % e)
        cluster = scenarios.FaultCluster(3, net)
        try:
            cluster.start()
            lead = cluster.wait_leader(timeout=15)

            def call(req, endpoint, timeout=3.0):
                conn = recorder.Conn(cluster.ctx, endpoint)
                try:
                    return conn.call(req, timeout)
                finally:
                    conn.close()
            ep = cluster.node(lead).client_endpoint
            a = call({"op": "lease_grant", "ttl_ms": 60000}, ep)["lease"]
            b = call({"op": "lease_grant", "ttl_ms": 60000}, ep)["lease"]
            self.assertTrue(call({"op": "lock", "name": b"X", "lease": a}, ep)["succeeded"])
            answer = {}
            waiter = threading.Thread(target=lambda: answer.update(call(
                {"op": "lock", "name": b"X", "lease": b, "wait_ms": 600, "timeout_ms": 8000},
                ep, timeout=12.0) or {"none": True}))
            waiter.start()
            time.sleep(0.45)
            net.partition([[lead], cluster.followers(lead)])
            time.sleep(2.0)
            net.heal()
            waiter.join()
            ep2 = cluster.node(cluster.wait_leader()).client_endpoint
            waiters = None
            for _ in range(50):
                rep = call({"op": "range", "prefix": b"_cabildo/lock/X\x00"}, ep2)
                if rep and rep.get("ok"):
                    waiters = [kv["lease"] for kv in rep["kvs"]]
                    break
                time.sleep(0.1)
            print("\nwaiting lock answered %r; waiter keys' leases afterwards: %s"
                  % (answer, waiters), flush=True)
            if answer.get("error") in ("unavailable", "no_leader"):
                self.assertNotIn(b, waiters or [],
                                 "lock answered %r (not carried out), yet lease %d is in the "
                                 "queue" % (answer, b))
        finally:
            cluster.close()
            net.teardown()


if __name__ == "__main__":
    unittest.main()
