"""`cabildo --timeout-ms` is honoured by status (each node is asked at
once and waited for that long; 1 s when not given) and bounds the other
subcommands against dead endpoints."""

import json
import os
import subprocess
import threading
import time
import unittest

import harness

CLI = os.path.join(harness.BIN_DIR, "client", "cabildo")


class CliTimeouts(harness.ClusterTestCase):
    def status(self, *extra):
        out = subprocess.run([CLI, "--endpoints", ",".join(self.cluster.endpoints()), "--json"]
                             + list(extra) + ["status"], capture_output=True, text=True,
                             timeout=30)
        return {n["endpoint"]: n["reachable"] for n in json.loads(out.stdout)["nodes"]}

    def test_status_waits_for_a_slow_node_as_long_as_it_is_told(self):
        c = self.start_cluster(3)
        slow = c.node(3)

        def paused_for(seconds):
            slow.pause()
            timer = threading.Timer(seconds, slow.resume)
            timer.start()
            return timer

        # Paused for 2 s: the default 1 s wait gives up on it...
        timer = paused_for(2.0)
        try:
            self.assertFalse(self.status()[slow.client_endpoint])
        finally:
            timer.join()
        # ... and --timeout-ms 6000 waits until it answers.
        timer = paused_for(2.0)
        try:
            started = time.monotonic()
            self.assertTrue(self.status("--timeout-ms", "6000")[slow.client_endpoint])
            self.assertGreater(time.monotonic() - started, 1.0)
        finally:
            timer.join()

    def test_a_short_timeout_bounds_every_subcommand_against_dead_endpoints(self):
        dead = ",".join("tcp://127.0.0.1:%d" % harness.free_port() for _ in range(3))
        for args in (["status"], ["get", "k"], ["put", "k", "v"], ["member", "list"],
                     ["lease", "grant", "5000"], ["queue", "len", "q"]):
            started = time.monotonic()
            out = subprocess.run([CLI, "--endpoints", dead, "--timeout-ms", "300"] + args,
                                 capture_output=True, text=True, timeout=30)
            took = time.monotonic() - started
            self.assertNotEqual(out.returncode, 0, args)
            self.assertLess(took, 2.5, "%s took %.1f s with --timeout-ms 300" % (args, took))


if __name__ == "__main__":
    unittest.main()
