"""The applied state commits without fsync (it is derived from the synced
log): a node that comes back from what looks like an OS crash (a changed boot
id, --test-boot-id) discards it and re-applies its log, ending with the same
state as everyone else; after a clean stop, or a kill -9 in the same boot, it
keeps its state and re-applies nothing."""

import re
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

    def test_os_crash_rebuilds_from_the_log(self):
        c = self.start_cluster(3)
        for n in c.nodes:
            n.more_args = ["--test-boot-id", "boot-1"]
        for n in c.nodes:
            c.stop(n.id)
        for n in c.nodes:
            c.start(n.id)
        lead = c.wait_for_leader()
        victim = [i for i in (1, 2, 3) if i != lead][0]
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

        # A kill -9 within one boot keeps the state: nothing to rebuild.
        applied = c.statuses()[victim]["applied_index"]
        c.kill(victim)
        self.restart_as(c, victim, "boot-2")
        self.assertEqual(self.applied_at_start(c, victim), applied)
        # A clean stop syncs it: it survives even a reboot.
        c.stop(victim)
        self.restart_as(c, victim, "boot-3")
        self.assertEqual(self.applied_at_start(c, victim), applied)
        self.assertEqual(c.node(victim).log().count("rebuilt from the log"), 1)
        self.assertEqual(c.read_all(victim, b"sr/"), want)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
