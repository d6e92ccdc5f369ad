"""Runs examples/python/demo.py against a live 3-node cluster, with an
endpoint list that starts with a dead endpoint; it must exit 0."""

import os
import subprocess
import unittest

import harness


class PythonExampleTest(harness.ClusterTestCase):
    def test_demo(self):
        c = self.start_cluster(3)
        dead = "tcp://127.0.0.1:%d" % harness.free_port()
        eps = [dead] + c.endpoints()
        env = dict(os.environ, CABILDO_ENDPOINTS=",".join(eps))
        demo = os.path.join(harness.EXAMPLES_DIR, "demo.py")
        p = subprocess.run([harness.PYTHON, demo], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=90)
        out = p.stdout.decode("utf-8", "replace")
        print("\n" + out)
        self.assertEqual(p.returncode, 0, "demo.py failed:\n" + out)
        self.assertIn("moved on", out)
        # Also through argv, every node alive.
        p = subprocess.run([harness.PYTHON, demo] + c.endpoints(2), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=90)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
