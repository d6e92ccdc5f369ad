"""Lease expiry does not depend on the wall clock.

The nodes run under libfaketime (Debian's faketime package) with their wall
clock (CLOCK_REALTIME) jumped a day forward, then a day back, while leases
run; the monotonic clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC). A
lease must still neither expire early nor live on: only steady_clock times
it (README, "Leases, transactions and key metadata"). The nodes' log
timestamps, which come from the wall clock, prove the jump reached them.
"""

import datetime
import os
import tempfile
import time
import unittest

import harness
from harness import wait_for

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
TTL_MS = 2000
EARLY = 0.3   # the key must still be there this long before its TTL
GRACE = 1.5   # ... and gone this long after it


class LeaseClockTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(LIBFAKETIME):
            self.fail("%s missing: setup.sh installs the faketime package" % LIBFAKETIME)
        fd, self.offset_file = tempfile.mkstemp(prefix="cabildo-faketime-")
        os.close(fd)
        self.set_offset("+0")

    def tearDown(self):
        super().tearDown()
        os.unlink(self.offset_file)

    def set_offset(self, offset):
        # Read anew by every clock call (FAKETIME_NO_CACHE): the jump is
        # immediate.
        with open(self.offset_file + ".tmp", "w") as f:
            f.write(offset + "\n")
        os.replace(self.offset_file + ".tmp", self.offset_file)

    def lease_lifetime(self, client, key, jump):
        """Grants a lease, attaches key, jumps the wall clock by `jump`, and
        returns how long after the grant the key disappeared."""
        lease = client.lease_grant(TTL_MS)
        granted = time.monotonic()
        client.put(key, b"up", lease=lease)
        self.set_offset(jump)
        ttl = TTL_MS / 1000.0
        time.sleep(max(0.0, granted + ttl - EARLY - time.monotonic()))
        self.assertIsNotNone(client.get(key)[0], "expired before its TTL after a %s jump" % jump)
        wait_for(lambda: client.get(key)[0] is None, ttl + GRACE - (time.monotonic() - granted),
                 "the key of an unrenewed lease to vanish after a %s wall-clock jump" % jump)
        return time.monotonic() - granted

    def test_wall_clock_jumps_change_nothing(self):
        env = {"LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": self.offset_file,
               "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        cluster = self.start_cluster(3, env=env)
        client = cluster.client()
        forward = self.lease_lifetime(client, b"svc/forward", "+1d")
        # The nodes' wall clock did jump: their log lines carry tomorrow's date.
        tomorrow = (datetime.datetime.now() + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        leader = cluster.leader()
        wait_for(lambda: any(tomorrow in n.log() for n in cluster.nodes), 5.0,
                 "a node log line dated %s (libfaketime active)" % tomorrow)
        self.set_offset("-1d")
        back = self.lease_lifetime(client, b"svc/back", "-1d")
        self.assertAllAlive()
        self.assertEqual(cluster.leader(), leader, "a clock jump must not cost an election")
        print("lifetimes for a %d ms TTL: %.2f s after +1d, %.2f s after -1d"
              % (TTL_MS, forward, back))


if __name__ == "__main__":
    unittest.main()
