"""Membership changes under a write load (issue #11): grow 3 to 5 and shrink
back, replace a dead member with a fresh node that joins and catches up by
snapshot, remove the leader, transfer leadership, and restart every member
in turn through SIGTERM. After each, every acknowledged write is on every
remaining member."""

import json
import os
import shutil
import subprocess
import time
import unittest

import harness
from harness import CabildoError, wait_for
from test_failover import BOUND_S, WRITERS, start_writers, stop_writers

CLI = os.path.join(harness.BIN_DIR, "client", "cabildo")


def unavailability(writers, since):
    """The longest time after `since` in which no writer had a write acknowledged."""
    acks = sorted(a[3] for w in writers for a in w.acked)
    gaps = [b - a for a, b in zip(acks, acks[1:]) if b > since]
    return max(gaps) if gaps else 0.0


def wait_acks_after(writers, t0, what, count=50):
    wait_for(lambda: sum(1 for w in writers for a in list(w.acked) if a[3] > t0) >= count,
             10.0, "writes acknowledged after " + what)


def change(admin, call, *args, timeout=30.0):
    """A membership change, retried while the previous one commits or the
    learner catches up (change_pending, lagging)."""
    def attempt():
        try:
            return call(*args)
        except CabildoError as e:
            if e.code in ("change_pending", "lagging"):
                return None
            raise
    return wait_for(attempt, timeout, "%s%r to be accepted" % (call.__name__, args),
                    interval=0.1)


class MembershipTest(harness.ClusterTestCase):
    def assert_writes_everywhere(self, writers, node_ids):
        c = self.cluster
        c.wait_converged(timeout=30.0, node_ids=node_ids)
        want = {key: value for w in writers for key, value, _, _, _ in w.acked}
        for nid in node_ids:
            got = {}
            for wid in range(WRITERS):
                got.update(c.read_all(nid, b"fo/%d/" % wid))
            missing = [k for k, v in want.items() if got.get(k) != v]
            self.assertEqual(missing[:10], [], "node %d lacks %d acknowledged writes"
                             % (nid, len(missing)))
        errors = [e for w in writers for e in w.errors]
        self.assertEqual(errors, [], "writes failed with errors other than timeout")

    def wait_removed(self, nid):
        n = self.cluster.node(nid)
        n.expect_down = True
        wait_for(lambda: n.proc.poll() is not None, 10.0, "removed node %d to exit" % nid)
        self.assertEqual(n.proc.returncode, 0)
        self.assertIn("removed from the cluster", n.log())

    def voters(self, membership):
        return sorted(m["id"] for m in membership["members"] if not m["learner"])

    def test_grow_to_five_and_shrink_back(self):
        c = self.start_cluster(3)
        admin = c.client()
        writers = start_writers(c)
        try:
            for _ in range(2):
                n = c.add_node(join_ids=[1, 2, 3])
                m = change(admin, admin.member_add, n.id, n.address, True)
                self.assertIn(n.id, [x["id"] for x in m["members"] if x["learner"]])
                n.start()
                change(admin, admin.member_promote, n.id)
            m = admin.member_list()
            self.assertEqual(self.voters(m), [1, 2, 3, 4, 5])
            # Writes go on: every member reaches the commit index of now.
            target = max(st["commit_index"] for st in c.statuses().values() if st)
            wait_for(lambda: all(st and st["applied_index"] >= target
                                 for st in c.statuses().values()), 10.0,
                     "all five members to apply index %d" % target)
            for nid in (5, 4):
                change(admin, admin.member_remove, nid)
                self.wait_removed(nid)
            time.sleep(0.3)  # writes go on with three members again
        finally:
            stop_writers(writers)
        self.assertEqual(self.voters(admin.member_list()), [1, 2, 3])
        self.assert_writes_everywhere(writers, [1, 2, 3])
        self.assertAllAlive()

    def test_replace_a_dead_member(self):
        c = self.start_cluster(3, extra_args=["--snapshot-entries", "300",
                                              "--snapshot-trailing", "50",
                                              "--log-level", "info"])
        admin = c.client()
        writers = start_writers(c)
        try:
            wait_for(lambda: sum(len(w.acked) for w in writers) >= 1500, 30.0,
                     "1500 writes (the log compacts past them)")
            c.kill(3)
            change(admin, admin.member_remove, 3)
            n = c.add_node(join_ids=[1, 2])
            change(admin, admin.member_add, n.id, n.address, True)
            n.start()
            change(admin, admin.member_promote, n.id)
            self.assertEqual(self.voters(admin.member_list()), [1, 2, 4])
            time.sleep(0.3)
        finally:
            stop_writers(writers)
        self.assertIn("installed snapshot", c.node(4).log(),
                      "the new member should catch up through a snapshot")
        self.assert_writes_everywhere(writers, [1, 2, 4])
        c.node(3).expect_down = True
        self.assertAllAlive()

    def test_remove_the_leader(self):
        c = self.start_cluster(3)
        old = c.wait_for_leader()
        admin = c.client()
        writers = start_writers(c)
        try:
            t0 = time.monotonic()
            m = change(admin, admin.member_remove, old)
            self.assertNotIn(old, [x["id"] for x in m["members"]])
            new = c.wait_for_leader(exclude=(old,))
            self.wait_removed(old)
            wait_acks_after(writers, t0, "the removal")
        finally:
            stop_writers(writers)
        gap = unavailability(writers, t0)
        print("\nremove leader: leader %d removed, node %d leads; no write acknowledged for "
              "%.0f ms at most" % (old, new, gap * 1000))
        self.assertLess(gap, BOUND_S)
        rest = [n.id for n in c.nodes if n.id != old]
        self.assert_writes_everywhere(writers, rest)
        self.assertAllAlive()

    def test_transfer_leader(self):
        c = self.start_cluster(3)
        old = c.wait_for_leader()
        old_term = c.status(old)["term"]
        target = next(n.id for n in c.nodes if n.id != old)
        admin = c.client()
        writers = start_writers(c)
        try:
            t0 = time.monotonic()
            admin.transfer_leader(target)
            self.assertEqual(c.wait_for_leader(exclude=(old,)), target)
            wait_acks_after(writers, t0, "the transfer")
        finally:
            stop_writers(writers)
        gap = unavailability(writers, t0)
        print("\ntransfer-leader: %d -> %d; no write acknowledged for %.0f ms at most"
              % (old, target, gap * 1000))
        self.assertEqual(c.status(target)["term"], old_term + 1, "one election, won at once")
        self.assertLess(gap, BOUND_S)
        with self.assertRaises(CabildoError) as e:
            admin.transfer_leader(99)
        self.assertEqual(e.exception.code, "not_found")
        self.assert_writes_everywhere(writers, [1, 2, 3])
        self.assertAllAlive()

    def test_rolling_restart_through_sigterm(self):
        c = self.start_cluster(3)
        writers = start_writers(c)
        try:
            t0 = time.monotonic()
            for n in c.nodes:
                self.assertEqual(n.stop(), 0)
                n.start()
                wait_for(lambda: (c.status(n.id, timeout=0.2) or {}).get("role") in
                         ("follower", "leader"), 10.0, "node %d back" % n.id)
                c.wait_for_leader()
                time.sleep(0.3)  # load on the restarted cluster before the next
        finally:
            stop_writers(writers)
        gap = unavailability(writers, t0)
        unknown = sum(len(w.unknown) for w in writers)
        print("\nrolling restart: no write acknowledged for %.0f ms at most; %d unknown, "
              "%d errors" % (gap * 1000, unknown, sum(len(w.errors) for w in writers)))
        self.assertEqual(unknown, 0, "a write's outcome was unknown")
        self.assertLess(gap, BOUND_S)
        self.assert_writes_everywhere(writers, [1, 2, 3])
        self.assertAllAlive()

    def test_a_wiped_node_under_its_old_id_is_refused(self):
        """A node whose data directory was wiped forgot its votes and log:
        the cluster refuses it (it stops, saying what to do), and takes it
        back once removed and added again."""
        c = self.start_cluster(3)
        admin = c.client()
        wait_for(lambda: all(m["uuid"] for m in admin.member_list()["members"]), 10.0,
                 "every member bound to its data directory")
        admin.put(b"w/1", b"before")
        n = c.node(3)
        n.kill()
        shutil.rmtree(n.data_dir)
        os.makedirs(n.data_dir)
        n.start()
        wait_for(lambda: n.proc.poll() is not None, 10.0, "the wiped node to stop")
        n.expect_down = True
        self.assertEqual(n.proc.returncode, 1)
        self.assertIn("refuses this node", n.log())
        self.assertIn("cabildo member remove 3", n.log())
        admin.put(b"w/2", b"during")
        change(admin, admin.member_remove, 3)
        change(admin, admin.member_add, 3, n.address, True)
        shutil.rmtree(n.data_dir)
        os.makedirs(n.data_dir)
        n.join = [c.node(1).address, c.node(2).address]
        n.start()
        change(admin, admin.member_promote, 3)
        wait_for(lambda: c.node_client(3).get(b"w/2", serializable=True)[0] == b"during", 10.0,
                 "the re-added node to catch up")
        self.assertAllAlive()

    def test_the_cli(self):
        """cabildo member list|add|promote|remove and transfer-leader, human
        and --json, and their exit codes."""
        c = self.start_cluster(3)

        def cli(*args):
            return subprocess.run([CLI, "--endpoints", ",".join(c.endpoints()), "--timeout-ms",
                                   "10000"] + list(args), capture_output=True, text=True)

        out = cli("member", "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("membership at index", out.stdout)
        self.assertEqual(len([l for l in out.stdout.splitlines() if " voter " in l]), 3)
        n = c.add_node(join_ids=[1, 2, 3])
        out = cli("--json", "member", "add", str(n.id), n.address, "--learner")
        self.assertEqual(out.returncode, 0, out.stderr)
        reply = json.loads(out.stdout)
        self.assertTrue(reply["ok"])
        self.assertIn({"id": 4, "learner": True}, [{"id": m["id"], "learner": m["learner"]}
                                                   for m in reply["members"]])
        n.start()
        wait_for(lambda: cli("member", "promote", "4").returncode == 0, 20.0, "promote 4 by CLI")
        out = cli("--json", "member", "remove", "9")
        self.assertEqual(out.returncode, 1)  # not_found
        self.assertEqual(json.loads(out.stdout)["error"], "not_found")
        leader = c.wait_for_leader()
        out = cli("transfer-leader", "4")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(c.wait_for_leader(exclude=(leader,)), 4)
        out = cli("member", "promote", "4")
        self.assertEqual(out.returncode, 4)  # bad_request: already a voter
        self.assertIn("is a voter", out.stderr)
        self.assertAllAlive()

    def test_errors_are_clear(self):
        c = self.start_cluster(3)
        admin = c.client()
        with self.assertRaises(CabildoError) as e:
            admin.member_remove(9)
        self.assertEqual(e.exception.code, "not_found")
        with self.assertRaises(CabildoError) as e:
            admin.member_add(2, "127.0.0.1:1")
        self.assertEqual(e.exception.code, "bad_request")
        # A learner that never started lags: it cannot be promoted.
        n = c.add_node(join_ids=[1])
        change(admin, admin.member_add, n.id, n.address, True)
        with self.assertRaises(CabildoError) as e:
            admin.member_promote(n.id)
        self.assertEqual(e.exception.code, "lagging")
        self.assertIn("entries behind", e.exception.message)
        # Two nodes of three down: a removal could never commit. The leader
        # binds each voter to its data directory by a change of its own:
        # once those are done, no change of the leader's is pending when the
        # removal arrives (it would be refused change_pending instead).
        def bound():
            info = c.node_client(c.wait_for_leader()).member_list()
            return not info["pending"] and all(m["uuid"] for m in info["members"]
                                               if not m["learner"])
        wait_for(bound, 10.0, "every voter bound to its data directory")
        c.kill(2)
        leader = c.wait_for_leader()
        other = 3 if leader != 3 else 1
        # The leader judges by whom it heard from lately: wait until it
        # no longer counts node 2.
        wait_for(lambda: not next(m for m in c.node_client(leader).member_list()["members"]
                                  if m["id"] == 2)["active"], 10.0,
                 "the leader to see node 2 inactive")
        with self.assertRaises(CabildoError) as e:
            admin.member_remove(other)
        self.assertEqual(e.exception.code, "no_quorum")
        c.node(2).expect_down = True


if __name__ == "__main__":
    unittest.main()
