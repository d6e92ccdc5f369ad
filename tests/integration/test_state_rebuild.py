"""The applied state commits without fsync (it is derived from the synced
log): a node that comes back from what looks like an OS crash (a changed boot
id, --test-boot-id) discards it and re-applies its log, ending with the same
state as everyone else; after a clean stop, or a kill -9 in the same boot, it
keeps its state and re-applies nothing."""

import re
import signal
import unittest

import harness

KEYS = 300


class StateRebuildTest(harness.ClusterTestCase):
    def write_keys(self, c, tag):
        cl = c.client(total_timeout=15.0)
        for i in range(KEYS):
            cl.put(b"sr/%04d" % i, b"%s-%d" % (tag, i))
        cl.delete(b"sr/0000")
        return {b"sr/%04d" % i: b"%s-%d" % (tag, i) for i in range(1, KEYS)}

    def restart_as(self, c, node_id, boot_id):
        c.node(node_id).more_args = ["--test-boot-id", boot_id]
        c.start(node_id)
        c.wait_converged(timeout=30.0)

    def applied_at_start(self, c, node_id):
        """The applied index the node's last start reported."""
        found = re.findall(r"commit \d+, applied (\d+),", c.node(node_id).log())
        self.assertTrue(found, "no start line in node %d's log" % node_id)
        return int(found[-1])

    def cluster_in_boot_1(self):
        """A cluster restarted with --test-boot-id boot-1, and a follower."""
        c = self.start_cluster(3)
        for n in c.nodes:
            n.more_args = ["--test-boot-id", "boot-1"]
            c.stop(n.id)
        for n in c.nodes:
            c.start(n.id)
        lead = c.wait_for_leader()
        return c, [i for i in (1, 2, 3) if i != lead][0]

    def test_os_crash_rebuilds_from_the_log(self):
        c, victim = self.cluster_in_boot_1()
        want = self.write_keys(c, b"a")
        c.wait_converged()
        c.kill(victim)  # with unsynced applied state on "disk"

        self.restart_as(c, victim, "boot-2")  # ... and the OS crashed too
        log = c.node(victim).log()
        self.assertIn("discarded and is rebuilt from the log", log)
        self.assertEqual(self.applied_at_start(c, victim), 0)
        self.assertEqual(c.read_all(victim, b"sr/"), want)
        sts = c.statuses()
        self.assertEqual(len({s["state_hash"] for s in sts.values()}), 1, sts)

        # A kill -9 within one boot keeps the state: nothing to rebuild. (At
        # least what status showed: an entry may apply between status and
        # the kill, e.g. a new term's no-op on a loaded machine.)
        applied = c.statuses()[victim]["applied_index"]
        c.kill(victim)
        self.restart_as(c, victim, "boot-2")
        self.assertGreaterEqual(self.applied_at_start(c, victim), applied)
        # A clean stop syncs it: it survives even a reboot.
        applied = c.statuses()[victim]["applied_index"]
        c.stop(victim)
        self.restart_as(c, victim, "boot-3")
        self.assertGreaterEqual(self.applied_at_start(c, victim), applied)
        self.assertEqual(c.node(victim).log().count("rebuilt from the log"), 1)
        self.assertEqual(c.read_all(victim, b"sr/"), want)
        self.assertAllAlive()


    def test_a_recovering_node_answers_status_and_refuses_the_rest(self):
        c, victim = self.cluster_in_boot_1()
        want = self.write_keys(c, b"r")
        c.wait_converged()
        c.kill(victim)
        # As after an OS crash, and with a disk that refuses every commit, so
        # the node stays recovering until the test heals it (SIGUSR2).
        node = c.node(victim)
        node.more_args = ["--test-boot-id", "boot-2", "--test-fault-injection",
                          "--test-storage-failing"]
        c.start(victim)
        st = harness.wait_for(lambda: c.status(victim), 10.0, "a status answer while recovering")
        self.assertTrue(st["recovering"], st)
        self.assertGreaterEqual(st["recovering_to"], KEYS)
        self.assertLess(st["applied_index"], st["recovering_to"])
        rep = c.client().request({"op": "get", "key": b"sr/0001", "consistency": "serializable"},
                                 endpoint=node.client_endpoint, timeout=2.0)
        self.assertFalse(rep["ok"])
        self.assertEqual(rep["error"], "unavailable")
        self.assertIn("recovering", rep["message"])
        # The others carry on meanwhile; then the disk heals and it catches up.
        c.client().put(b"sr/while", b"1")
        want[b"sr/while"] = b"1"
        node.proc.send_signal(signal.SIGUSR2)
        harness.wait_for(lambda: not c.status(victim)["recovering"], 20.0, "recovery to end")
        c.wait_converged(timeout=30.0)
        self.assertEqual(c.read_all(victim, b"sr/"), want)
        self.assertIn("recovered: re-applied the log up to", node.log())
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
