"""examples/local-cluster.sh as a newcomer runs it: in the foreground, a
leader elected, metrics served, and the script ending by itself (status 0)
when its nodes are stopped from another shell, not only by Ctrl-C.

It uses the script's fixed ports (7100-7123, 9101-9103): the test is
serial, and no other test listens there."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness
from harness import wait_for

SCRIPT = os.path.join(harness.SOURCE_DIR, "examples", "local-cluster.sh")


class LocalClusterScript(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cabildo-local-")
        self.data = os.path.join(self.dir, "data")  # --fresh wipes it
        self.env = dict(os.environ, CABILDO_DATA=self.data, CABILDO_NO_SETUP="1")
        self.out = open(os.path.join(self.dir, "script.out"), "w+b")
        self.proc = subprocess.Popen([SCRIPT, "--fresh"], cwd=harness.SOURCE_DIR, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def tearDown(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        subprocess.run([SCRIPT, "stop"], cwd=harness.SOURCE_DIR, env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def output(self):
        self.out.flush()
        with open(self.out.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def test_foreground_script_exits_when_its_nodes_are_stopped_elsewhere(self):
        wait_for(lambda: "Press Ctrl-C" in self.output(), 60.0,
                 "the script to start the cluster (output: %s)" % self.output())
        body = urllib.request.urlopen("http://127.0.0.1:9101/metrics", timeout=3).read().decode()
        self.assertIn("cabildo_role", body)
        stop = subprocess.run([SCRIPT, "stop"], cwd=harness.SOURCE_DIR, env=self.env,
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(stop.returncode, 0, stop.stdout + stop.stderr)
        start = time.monotonic()
        code = self.proc.wait(timeout=15)
        self.assertEqual(code, 0, self.output())
        self.assertLess(time.monotonic() - start, 10.0)
        self.assertIn("every node has stopped", self.output())


if __name__ == "__main__":
    unittest.main()
