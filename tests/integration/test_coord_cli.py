"""`cabildo lock`, `cabildo elect` and `cabildo queue` as a shell user runs
them, against one 3-node cluster:

- lock runs the command holding the lock, with CABILDO_FENCING_TOKEN set,
  passes its exit status through and releases the lock; a second lock
  waits until the first command is done and gets a higher token; --wait
  gives up with exit status 1;
- a command whose lease is lost (revoked under it) is killed, exit status 5;
- elect --observe prints each leader as candidates come and go: the second
  candidate leads within its TTL after the first is killed with SIGKILL;
- queue put/get/ack/len/peek print what they did, poll of an empty queue
  exits 1;
- a lock with `keep` whose wait passes stays in the queue and is granted
  when sent again after the holder unlocked.
"""

import os
import signal
import subprocess
import time
import unittest

import harness
from harness import wait_for

CLI = os.path.join(harness.BIN_DIR, "client", "cabildo")


class CoordCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = harness.Cluster(3)
        cls.cluster.start()
        cls.cluster.wait_for_leader(timeout=10.0)
        cls.endpoints = ",".join(cls.cluster.endpoints())

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def cli(self, *args, timeout=30):
        return subprocess.run([CLI, "--endpoints", self.endpoints] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def spawn(self, *args):
        return subprocess.Popen([CLI, "--endpoints", self.endpoints] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def waiters(self, name):
        kvs, _more, _rev = self.cluster.client().range(b"_cabildo/lock/" + name + b"\x00")
        return kvs

    def test_lock_runs_the_command_with_its_token_and_releases(self):
        r = self.cli("lock", "cli-a", "--ttl", "3s", "--",
                     "sh", "-c", "echo token=$CABILDO_FENCING_TOKEN; exit 7")
        self.assertEqual(r.returncode, 7, r.stderr)
        first = int(r.stdout.strip().split("=")[1])
        self.assertGreater(first, 0)
        self.assertEqual(self.waiters(b"cli-a"), [])

        holder = self.spawn("lock", "cli-a", "--ttl", "3s", "--", "sh", "-c",
                            "echo held; sleep 1.5; echo token=$CABILDO_FENCING_TOKEN")
        self.assertEqual(holder.stdout.readline().strip(), "held")
        started = time.monotonic()
        second = self.cli("lock", "cli-a", "--ttl", "3s", "--",
                          "sh", "-c", "echo token=$CABILDO_FENCING_TOKEN")
        waited = time.monotonic() - started
        out, _ = holder.communicate(timeout=10)
        held_token = int(out.strip().split("=")[1])
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertGreater(int(second.stdout.strip().split("=")[1]), held_token)
        self.assertGreater(held_token, first)
        self.assertGreater(waited, 0.5, "the second lock did not wait for the first")

        blocker = self.spawn("lock", "cli-a", "--ttl", "3s", "--", "sh", "-c", "echo held; sleep 5")
        self.assertEqual(blocker.stdout.readline().strip(), "held")
        busy = self.cli("lock", "cli-a", "--wait", "300ms", "--", "true")
        self.assertEqual(busy.returncode, 1, busy.stderr)
        self.assertIn("not acquired", busy.stderr)
        blocker.send_signal(signal.SIGTERM)  # forwarded to the command; the lock is released
        blocker.communicate(timeout=10)
        wait_for(lambda: self.waiters(b"cli-a") == [], 5.0, "the lock released after SIGTERM")

    def test_a_command_whose_lease_is_lost_is_killed(self):
        started = time.monotonic()
        r = self.cli("lock", "cli-b", "--ttl", "2s", "--", "sh", "-c",
                     "%s --endpoints %s lease revoke $CABILDO_LEASE >/dev/null; sleep 20; "
                     "echo survived" % (CLI, self.endpoints))
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
        self.assertNotIn("survived", r.stdout)
        self.assertIn("lease was lost", r.stderr)
        self.assertLess(time.monotonic() - started, 10.0)

    def test_elect_observe_follows_each_leader(self):
        observer = self.spawn("elect", "--observe", "cli-db")
        try:
            self.assertEqual(observer.stdout.readline().strip(), "cli-db: no leader")
            first = self.spawn("elect", "cli-db", "node-a", "--ttl", "2s")
            self.assertIn("elected node-a", first.stdout.readline())
            self.assertIn("leader node-a", observer.stdout.readline())
            second = self.spawn("elect", "cli-db", "node-b", "--ttl", "2s")
            time.sleep(0.3)  # queued behind node-a
            killed = time.monotonic()
            first.send_signal(signal.SIGKILL)
            first.wait()
            self.assertIn("elected node-b", second.stdout.readline())
            self.assertLess(time.monotonic() - killed, 2.0 + 1.5)  # TTL + expiry grace
            # The observer saw node-a's leadership end, then node-b's begin.
            self.assertEqual(observer.stdout.readline().strip(), "cli-db: no leader")
            self.assertIn("leader node-b", observer.stdout.readline())
            second.send_signal(signal.SIGTERM)  # resigns
            self.assertEqual(second.wait(timeout=10), 0)
            self.assertEqual(observer.stdout.readline().strip(), "cli-db: no leader")
        finally:
            for p in (observer,):
                p.kill()
                p.wait()

    def test_keep_stays_in_the_queue_after_the_wait(self):
        c = self.cluster.client()
        holder, waiter = c.lease_grant(60000), c.lease_grant(60000)
        self.assertTrue(c.request({"op": "lock", "name": b"keep", "lease": holder},
                                  endpoint=self.leader_endpoint())["succeeded"])
        rep = c.request({"op": "lock", "name": b"keep", "lease": waiter, "wait_ms": 300,
                         "keep": True}, endpoint=self.leader_endpoint(), timeout=5.0)
        self.assertEqual((rep["ok"], rep["succeeded"]), (True, False), rep)
        self.assertEqual([k for k, _ in self.waiters(b"keep")][1], rep["key"])  # still queued
        released = c.request({"op": "unlock", "name": b"keep", "lease": holder},
                             endpoint=self.leader_endpoint())
        again = c.request({"op": "lock", "name": b"keep", "lease": waiter, "wait_ms": 300,
                           "keep": True}, endpoint=self.leader_endpoint(), timeout=5.0)
        self.assertTrue(again["succeeded"], again)
        self.assertEqual(again["token"], released["revision"])  # granted by the unlock

    def leader_endpoint(self):
        return self.cluster.node(self.cluster.wait_for_leader()).client_endpoint

    def test_queue_commands(self):
        self.assertEqual(self.cli("queue", "put", "cli-q", "first").stdout.strip(), "item 1")
        self.assertEqual(self.cli("queue", "put", "cli-q", "second").stdout.strip(), "item 2")
        self.assertEqual(self.cli("queue", "peek", "cli-q").stdout.splitlines(), ["item 1", "first"])
        got = self.cli("queue", "get", "cli-q", "--visibility", "10s")
        self.assertEqual(got.returncode, 0, got.stderr)
        head, value = got.stdout.splitlines()
        self.assertEqual(value, "first")
        _, item, _, receipt = head.split()
        self.assertEqual(self.cli("queue", "len", "cli-q").stdout.strip(),
                         "items 2 in_flight 1 bytes 11")
        self.assertEqual(self.cli("queue", "ack", "cli-q", item, receipt).stdout.strip(),
                         "acknowledged")
        self.assertEqual(self.cli("queue", "ack", "cli-q", item, receipt).returncode, 1)
        self.assertEqual(self.cli("queue", "poll", "cli-q").stdout.splitlines()[1], "second")
        empty = self.cli("queue", "poll", "cli-q")
        self.assertEqual((empty.returncode, empty.stdout.strip()), (1, "empty"))


if __name__ == "__main__":
    unittest.main()
