"""Storage that fails closed, on real nodes: a damaged record in the middle of
raft.log stops the node with the offset and what to do, and the file is left
unchanged (`--check` reports the same; `--repair-log` cuts knowingly and the
node catches up); a torn last write is cut and logged with its size; another
cluster's log is refused; a second process on a data directory in use exits
at once and the first keeps serving with its marker intact."""

import os
import struct
import subprocess
import unittest

import harness

FILE_HEADER = 36   # storage/log_file.h
RECORD_HEADER = 12


def record_starts(path):
    """Offsets of the records in raft.log, and where they end."""
    with open(path, "rb") as f:
        data = f.read()
    starts, at = [], FILE_HEADER
    while at + RECORD_HEADER <= len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        if length == 0 or at + RECORD_HEADER + length > len(data):
            break
        starts.append(at)
        at += RECORD_HEADER + length
    return starts, at


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


class FailClosedTest(harness.ClusterTestCase):
    def written_cluster(self, keys=60):
        """A cluster with `keys` writes; node 2 stopped cleanly afterwards."""
        c = self.start_cluster(3)
        cl = c.client(total_timeout=15.0)
        for i in range(keys):
            cl.put(b"fc/%03d" % i, b"v%d" % i)
        c.wait_converged()
        self.assertEqual(c.stop(2), 0)
        return c, os.path.join(c.node(2).data_dir, "raft.log")

    def expect_refused(self, c, node_id, words, code=1):
        n = c.node(node_id)
        n.start()
        rc = n.proc.wait(timeout=10)
        n.expect_down = True
        self.assertEqual(rc, code, n.log()[-2000:])
        for w in words:
            self.assertIn(w, n.log())

    def check(self, c, node_id):
        out = subprocess.run([harness.NODE_BIN, "--check", "--data-dir", c.node(node_id).data_dir],
                             capture_output=True, text=True, timeout=30)
        return out.returncode, out.stdout + out.stderr

    def test_damaged_middle_record_stops_the_node_and_changes_nothing(self):
        c, path = self.written_cluster()
        starts, _ = record_starts(path)
        self.assertGreater(len(starts), 10)
        bad = starts[len(starts) // 2]
        patch(path, bad + RECORD_HEADER + 30, b"\xff\xfe")  # inside its payload
        before = read_bytes(path)

        self.expect_refused(c, 2, ["raft.log is damaged at offset %d" % bad,
                                   "valid records follow", "--check", "--repair-log"])
        self.assertEqual(read_bytes(path), before)  # nothing cut, nothing written
        rc, text = self.check(c, 2)
        self.assertEqual(rc, 1, text)
        self.assertIn("DAMAGED at offset %d" % bad, text)
        self.assertEqual(read_bytes(path), before)

        # Knowingly: the log is cut at the damage and the state rebuilt. The
        # leader still counts the entries the node acknowledged before, so,
        # as README "Repairing a node" says, the leader is restarted: the new
        # one probes the node's log and sends what it lacks.
        c.node(2).more_args = ["--repair-log"]
        c.start(2)
        harness.wait_for(lambda: c.status(2)["applied_index"] > 0, 10.0, "node 2 serving")
        lead = c.wait_for_leader(timeout=10.0)
        c.restart(lead)
        c.wait_for_leader(timeout=10.0)
        c.client().put(b"fc/after-repair", b"1")
        c.wait_converged(timeout=30.0)
        self.assertIn("--repair-log: cut raft.log at offset %d" % bad, c.node(2).log())
        self.assertEqual(c.read_all(2, b"fc/"), c.read_all(1, b"fc/"))
        self.assertAllAlive()

    def test_torn_last_write_is_cut_and_logged(self):
        c, path = self.written_cluster()
        _, end = record_starts(path)
        # Half of a record: a header that claims more bytes than follow.
        patch(path, end, struct.pack(">III", 5000, 0x1234, 0x5678) + b"\x07" * 100)
        rc, text = self.check(c, 2)
        self.assertEqual(rc, 0, text)
        self.assertIn("torn last write", text)
        c.start(2)
        c.wait_converged(timeout=30.0)
        self.assertRegex(c.node(2).log(), r"cut a torn last write of \d+ bytes at offset %d" % end)
        cl = c.node_client(2)
        cl.put(b"fc/after", b"1")
        self.assertEqual(cl.get(b"fc/after")[0], b"1")
        self.assertAllAlive()

    def test_another_clusters_log_is_refused(self):
        c, path = self.written_cluster(keys=5)
        before = read_bytes(path)
        c.node(2).more_args = ["--cluster-id", "some-other-cluster"]
        self.expect_refused(c, 2, ["belongs to node 2 of cluster", "--cluster-id"])
        self.assertEqual(read_bytes(path), before)
        c.node(2).more_args = []
        c.start(2)
        c.wait_converged(timeout=30.0)
        self.assertAllAlive()

    def test_second_process_on_a_data_directory_exits_and_touches_nothing(self):
        c = self.start_cluster(3)
        c.client().put(b"fc/k", b"1")
        c.wait_converged()
        node = c.node(2)
        marker = os.path.join(node.data_dir, "state-in-use")
        marker_before = read_bytes(marker)
        log_path = os.path.join(node.data_dir, "raft.log")
        log_before = read_bytes(log_path)
        second = subprocess.run(node.args(), capture_output=True, text=True, timeout=30)
        self.assertEqual(second.returncode, 3, second.stderr)
        self.assertIn("is in use by process %d" % node.proc.pid, second.stderr)
        self.assertEqual(read_bytes(marker), marker_before)
        self.assertEqual(read_bytes(log_path), log_before)
        rc, text = self.check(c, 2)
        self.assertEqual(rc, 3, text)  # --check will not read a live node's files
        # The first one still serves, reads and writes.
        cl = c.node_client(2)
        cl.put(b"fc/k", b"2")
        self.assertEqual(cl.get(b"fc/k")[0], b"2")
        self.assertEqual(read_bytes(marker), marker_before)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
