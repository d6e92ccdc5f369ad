"""A node configured from a TOML file (--config) instead of flags: it starts,
serves reads and writes as a single-node cluster, keeps the file's timing,
a flag given on the command line overrides the file, and a key it does not
know is refused."""
import os
import signal
import subprocess
import tempfile
import unittest

import harness
from harness import cabildo, wait_for


class ConfigFileTest(unittest.TestCase):
    def test_node_runs_from_a_config_file(self):
        with tempfile.TemporaryDirectory(prefix="cabildo-config-") as tmp:
            base = harness.pick_base_port(1)
            config = os.path.join(tmp, "node.toml")
            with open(config, "w") as f:
                f.write('id = 1\n')
                f.write(f'data-dir = "{tmp}/data"\n')
                f.write(f'member = ["1=127.0.0.1:{base}"]\n')
                f.write('election-ticks = 20\n')
                f.write('log-level = "debug"\n')
            log_path = os.path.join(tmp, "node.log")
            with open(log_path, "w") as log:
                # --log-level on the command line wins over the file's.
                node = subprocess.Popen([harness.NODE_BIN, "--config", config,
                                         "--log-level", "info"],
                                        stdout=log, stderr=subprocess.STDOUT)
            try:
                endpoint = f"tcp://127.0.0.1:{base + 1}"
                client = cabildo.Client([endpoint], request_timeout=0.5, total_timeout=5)
                wait_for(lambda: client.status(endpoint)["role"] == "leader", 5,
                         "the single node becomes leader")
                revision = client.put(b"from", b"file")
                self.assertGreater(revision, 0)
                self.assertEqual(client.get(b"from")[0], b"file")
            finally:
                node.send_signal(signal.SIGTERM)
                self.assertEqual(node.wait(timeout=10), 0)
            with open(log_path) as f:
                text = f.read()
            self.assertIn("clients at " + endpoint, text)
            self.assertNotIn(" debug ", text, "the command line's --log-level did not win")

    def test_an_unknown_key_in_the_file_is_refused(self):
        """A misspelt setting must not be left at its default unnoticed: the
        node exits with status 2 (bad options) and names the key."""
        with tempfile.TemporaryDirectory(prefix="cabildo-config-") as tmp:
            base = harness.pick_base_port(1)
            config = os.path.join(tmp, "node.toml")
            with open(config, "w") as f:
                f.write('id = 1\n')
                f.write(f'data-dir = "{tmp}/data"\n')
                f.write(f'member = ["1=127.0.0.1:{base}"]\n')
                f.write('election-tiks = 20\n')
            done = subprocess.run([harness.NODE_BIN, "--config", config], capture_output=True,
                                  text=True, timeout=10)
            self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
            self.assertIn("election-tiks", done.stdout + done.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "data")), "it created its data dir")

    def test_the_deployment_example_config_runs(self):
        """examples/deploy/node.toml as shipped, with its addresses and
        directory moved to this machine: it parses, the node starts and serves
        status and its metrics endpoint."""
        source = os.path.join(harness.SOURCE_DIR, "examples", "deploy", "node.toml")
        with open(source) as f:
            text = f.read()
        with tempfile.TemporaryDirectory(prefix="cabildo-deploy-") as tmp:
            base = harness.pick_base_port(3)
            http = harness.free_port()
            for i in (1, 2, 3):
                text = text.replace("10.0.0.%d:7100" % i, "127.0.0.1:%d" % (base + 10 * (i - 1)))
            text = text.replace('"/var/lib/cabildo"', '"%s/data"' % tmp)
            text = text.replace('"10.0.0.1:9100"', '"127.0.0.1:%d"' % http)
            settings = [l for l in text.splitlines() if not l.startswith("#")]
            self.assertNotIn("10.0.0.", "\n".join(settings))
            config = os.path.join(tmp, "node.toml")
            with open(config, "w") as f:
                f.write(text)
            with open(os.path.join(tmp, "node.log"), "wb") as log:
                node = subprocess.Popen([harness.NODE_BIN, "--config", config],
                                        stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT)
            try:
                endpoint = "tcp://127.0.0.1:%d" % (base + 1)
                client = cabildo.Client([endpoint], request_timeout=0.5, total_timeout=5)
                try:
                    st = wait_for(lambda: client.status(endpoint), 10, "node 1 to answer status")
                    self.assertEqual(st["node_id"], 1)
                finally:
                    client.close()
                import urllib.request
                livez = wait_for(lambda: urllib.request.urlopen(
                    "http://127.0.0.1:%d/livez" % http, timeout=2).status, 10, "/livez")
                self.assertEqual(livez, 200)
            finally:
                node.send_signal(signal.SIGTERM)
                node.wait(timeout=10)
            with open(os.path.join(tmp, "node.log")) as f:
                first = f.readline()
            self.assertTrue(first.startswith("{"), "log-format json: " + first)


if __name__ == "__main__":
    unittest.main()
