"""Runs examples/python/demo.py against a live 3-node cluster, with an
endpoint list that starts with a dead endpoint; it must exit 0. And
examples/python/service_registry.py: a registered service's kill -9 makes
it vanish from the watcher within its lease's TTL."""

import os
import signal
import subprocess
import threading
import time
import unittest

import harness
from harness import wait_for


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


    def test_service_registry(self):
        c = self.start_cluster(3)
        env = dict(os.environ, CABILDO_ENDPOINTS=",".join(c.endpoints()))
        script = os.path.join(harness.EXAMPLES_DIR, "service_registry.py")
        lines = []
        watch = subprocess.Popen([harness.PYTHON, "-u", script, "watch"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        reader = threading.Thread(
            target=lambda: [lines.append(l.decode().rstrip()) for l in watch.stdout], daemon=True)
        reader.start()
        service = subprocess.Popen([harness.PYTHON, "-u", script, "register", "web-1",
                                    "10.0.0.7:80", "--ttl-ms", "1500"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: any(l.startswith("+ web-1 10.0.0.7:80") for l in lines), 10.0,
                     "the watcher to see web-1 join")
            time.sleep(2.0)  # longer than the TTL: the keepalives keep it
            self.assertNotIn("- web-1", lines, "a renewed service left")
            service.send_signal(signal.SIGKILL)
            service.wait()
            killed = time.monotonic()
            wait_for(lambda: "- web-1" in lines, 1.5 + 1.5,
                     "the killed service to leave within its TTL and a grace")
            print("web-1 left %.2f s after kill -9 (TTL 1.5 s)" % (time.monotonic() - killed))
        finally:
            for p in (service, watch):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
