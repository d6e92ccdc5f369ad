"""Snapshots, log compaction and InstallSnapshot with real nodes.

A follower that was down while tens of thousands of writes and several
compactions happened comes back through InstallSnapshot with the same
state_hash; a kill -9 of either side during a transfer, a corrupted chunk
and an OS crash after compaction all end with every node in the same state.
"""

import json
import os
import shutil
import tempfile
import subprocess
import threading
import unittest

import harness
from harness import wait_for

SNAPSHOT_ARGS = ["--log-level", "info", "--snapshot-entries", "2000", "--snapshot-trailing", "200"]
BENCH = os.path.join(harness.BIN_DIR, "client", "bench", "cabildo-bench")
CLI = os.path.join(harness.BIN_DIR, "client", "cabildo")


def bench(cluster, node_ids, count, key_space, value_size):
    """count puts over key_space keys, through the given nodes."""
    endpoints = ",".join(cluster.node(i).client_endpoint for i in node_ids)
    out = subprocess.run(
        [BENCH, "--endpoints", endpoints, "bench", "--mode", "put", "--count", str(count), "--clients",
         "16", "--key-space", str(key_space), "--value-size", str(value_size)],
        capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("bench failed: %s\n%s" % (out.stdout[-2000:], out.stderr[-2000:]))
    return out.stdout


class SnapshotTest(harness.ClusterTestCase):
    def compacted_past(self, c, node_id, index):
        st = c.status(node_id)
        return st is not None and st["first_index"] > index + 1 and st["snapshot_index"] > 0

    def roles(self, c):
        """(leader, a follower to stop, the other follower)."""
        lead = c.wait_for_leader()
        victim = [i for i in (1, 2, 3) if i != lead][0]
        other = [i for i in (1, 2, 3) if i not in (lead, victim)][0]
        return lead, victim, other

    def leave_behind(self, c, victim, writers, count, keys, value_size):
        """Stops victim, writes, and waits until the writers compacted past
        what it holds (it can then catch up only through InstallSnapshot).
        Returns the last index it held."""
        last_seen = c.status(victim)["last_index"]
        c.kill(victim)
        bench(c, writers, count, keys, value_size)
        wait_for(lambda: all(self.compacted_past(c, w, last_seen) for w in writers), 30,
                 "compaction past what node %d holds" % victim)
        return last_seen

    def test_follower_down_catches_up_through_install_snapshot(self):
        c = self.start_cluster(3, extra_args=SNAPSHOT_ARGS)
        lead, victim, other = self.roles(c)
        c.client().put(b"snap/before", b"1")
        c.wait_converged()
        last_seen = self.leave_behind(c, victim, [lead, other], 50000, 20000, 64)
        st = c.status(lead)
        self.assertGreater(st["snapshot_index"], 40000)
        print("\ninstall snapshot: leader %d at applied %d, log from %d, snapshot %d; node %d "
              "stopped at %d" % (lead, st["applied_index"], st["first_index"],
                                 st["snapshot_index"], victim, last_seen))
        c.start(victim)
        c.wait_converged(timeout=60.0)
        self.assertIn("installed snapshot", c.node(victim).log())
        sts = c.statuses()
        self.assertEqual(len({s["state_hash"] for s in sts.values()}), 1)
        self.assertGreater(sts[victim]["first_index"], last_seen + 1)
        got = c.read_all(victim, b"snap/")
        self.assertEqual(got, {b"snap/before": b"1"})
        # It takes part again: a write through it reaches every node.
        c.node_client(victim).put(b"snap/after", b"2")
        c.wait_converged()

    def test_kill_either_side_during_a_transfer(self):
        c = self.start_cluster(3, extra_args=SNAPSHOT_ARGS)
        lead, victim, other = self.roles(c)
        c.wait_converged()
        # About 40 MB of state, so that a transfer takes a while.
        self.leave_behind(c, victim, [lead, other], 12000, 10000, 4000)

        # Kill the receiver in the middle of a transfer, then bring it back.
        c.start(victim)
        wait_for(lambda: (c.status(lead) or {}).get("snapshot_transfers", 0) > 0, 20,
                 "a transfer to start")
        c.kill(victim)
        c.start(victim)
        c.wait_converged(timeout=60.0)

        # Now kill the sender in the middle of one: the new leader sends its own.
        self.leave_behind(c, victim, [lead, other], 9000, 10000, 4000)
        c.start(victim)
        wait_for(lambda: (c.status(lead) or {}).get("snapshot_transfers", 0) > 0, 20,
                 "a transfer to start")
        c.kill(lead)
        new_lead = c.wait_for_leader(timeout=10.0, exclude=(lead,))
        self.assertNotEqual(new_lead, lead)
        c.wait_converged(timeout=60.0, node_ids=[victim, other])
        c.start(lead)
        c.wait_converged(timeout=60.0)
        self.assertIn("installed snapshot", c.node(victim).log())

    def test_corrupt_chunk_is_refused(self):
        c = self.start_cluster(3, extra_args=SNAPSHOT_ARGS + [
            "--test-fault-injection", "--test-corrupt-snapshot-chunk", "2"])
        lead, victim, other = self.roles(c)
        c.wait_converged()
        self.leave_behind(c, victim, [lead, other], 8000, 5000, 2000)
        c.start(victim)
        c.wait_converged(timeout=60.0)
        st = c.status(victim)
        self.assertGreaterEqual(st["snapshot_chunks_refused"], 1)
        self.assertIn("refused a corrupt snapshot chunk", c.node(victim).log())

    def test_os_crash_after_compaction_restarts_from_the_snapshot(self):
        c = self.start_cluster(3, extra_args=SNAPSHOT_ARGS)
        for n in c.nodes:
            n.more_args = ["--test-boot-id", "boot-1"]
        c.stop(1), c.stop(2), c.stop(3)
        c.start()
        c.wait_for_leader()
        bench(c, [1, 2, 3], 10000, 3000, 64)
        c.wait_converged()
        lead = c.wait_for_leader()
        victim = [i for i in (1, 2, 3) if i != lead][0]
        wait_for(lambda: (c.status(victim) or {}).get("first_index", 1) > 1, 30, "compaction")
        before = c.status(victim)
        c.kill(victim)  # with state-in-use from boot-1 ...
        c.node(victim).more_args = ["--test-boot-id", "boot-2"]  # ... read after a "reboot"
        c.start(victim)
        c.wait_converged(timeout=30.0)
        log = c.node(victim).log()
        self.assertIn("the applied state was loaded from snapshot", log)
        after = c.status(victim)
        self.assertGreaterEqual(after["applied_index"], before["applied_index"])


class BackupTest(harness.ClusterTestCase):
    def test_backup_and_restore_into_a_new_cluster(self):
        c = self.start_cluster(3, extra_args=SNAPSHOT_ARGS)
        c.wait_for_leader()
        bench(c, [1, 2, 3], 6000, 3000, 100)
        c.client().put(b"backup/last", b"yes")
        c.wait_converged()
        want_hash = c.status(1)["state_hash"]
        want_keys = len(c.read_all(1, b""))
        endpoints = ",".join(n.client_endpoint for n in c.nodes)
        keep = tempfile.mkdtemp(prefix="cabildo-backup-")
        self.addCleanup(shutil.rmtree, keep, True)
        backup = os.path.join(keep, "backup.snap")
        save = subprocess.run([CLI, "--endpoints", endpoints, "snapshot", "save", backup],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(save.returncode, 0, save.stderr)
        self.assertIn("MB", save.stderr)  # the progress line
        inspect = subprocess.run([CLI, "--json", "snapshot", "inspect", backup],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(inspect.returncode, 0, inspect.stderr)
        info = json.loads(inspect.stdout)
        self.assertEqual(info["state_hash"], "%016x" % want_hash)
        self.assertEqual(info["keys"], want_keys)
        self.assertEqual(info["members"], "1,2,3")
        c.close()

        # A new cluster (other ports, other data), every member started from
        # the backup (Raft needs the restored state on a majority: one
        # restored node and two empty ones could elect an empty leader).
        d = harness.Cluster(3, extra_args=SNAPSHOT_ARGS)
        self.cluster = d
        for n in d.nodes:
            n.more_args = ["--restore-from", backup]
        d.start()
        d.wait_for_leader(timeout=10.0)
        d.wait_converged(timeout=30.0)
        self.assertEqual({s["state_hash"] for s in d.statuses().values()}, {want_hash})
        self.assertEqual(d.client().get(b"backup/last")[0], b"yes")
        # Restarting with --restore-from again is refused: the data is there.
        d.stop(1)
        out = subprocess.run(d.node(1).args(), capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("empty", out.stderr)
        # A damaged backup is refused by inspect.
        with open(backup, "r+b") as f:
            f.seek(os.path.getsize(backup) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x10]))
        bad = subprocess.run([CLI, "snapshot", "inspect", backup], capture_output=True,
                             text=True, timeout=30)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("checksum", bad.stderr)


if __name__ == "__main__":
    unittest.main()
