"""GET /metrics, /health and /livez of real nodes (--metrics-listen), the
heartbeat's rates, slow-sync warnings and --log-format json.

/metrics must parse under the text format's rules (prom_text.py) and its
counters must move with load; /health must say 503, with a JSON reason, on
a node cut off from the others (here: the others are stopped, so it knows
no leader), and 200 again once they are back.
"""

import json
import unittest
import urllib.error
import urllib.request

import msgpack
import zmq

import harness
import prom_text
from harness import wait_for


def http_get(port, path, timeout=3.0):
    """(status, content type, body text)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


class MetricsTest(harness.ClusterTestCase):
    def start_with_metrics(self, n=3, extra=()):
        self.cluster = harness.Cluster(n, extra_args=["--log-level", "info"] + list(extra))
        self.ports = {}
        for node in self.cluster.nodes:
            port = harness.free_port()
            self.ports[node.id] = port
            node.more_args = ["--metrics-listen", "127.0.0.1:%d" % port]
        self.cluster.start()
        return self.cluster.wait_for_leader(timeout=10.0)

    def scrape(self, node_id):
        status, ctype, body = http_get(self.ports[node_id], "/metrics")
        self.assertEqual(status, 200, body)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        parsed = prom_text.parse(body)
        for name, _, _ in parsed["samples"]:
            self.assertTrue(name.startswith("cabildo_"), name)
        return parsed

    def test_metrics_parse_and_move_with_load(self):
        lead = self.start_with_metrics()
        follower = [n.id for n in self.cluster.nodes if n.id != lead][0]
        before = {i: self.scrape(i) for i in self.ports}
        self.assertEqual(prom_text.value(before[lead], "cabildo_role", role="leader"), 1)
        self.assertEqual(prom_text.value(before[follower], "cabildo_role", role="follower"), 1)
        for i, parsed in before.items():
            for family, kind in [("cabildo_client_requests_total", "counter"),
                                 ("cabildo_client_request_duration_seconds", "histogram"),
                                 ("cabildo_fsync_duration_seconds", "histogram"),
                                 ("cabildo_ready_entries", "histogram"),
                                 ("cabildo_follower_lag_entries", "gauge"),
                                 ("cabildo_replicated_bytes_total", "counter"),
                                 ("cabildo_snapshots_total", "counter"),
                                 ("cabildo_connections", "gauge"),
                                 ("cabildo_lmdb_map_bytes", "gauge"),
                                 ("cabildo_resident_memory_bytes", "gauge"),
                                 ("cabildo_dropped_requests_total", "counter")]:
                self.assertEqual(parsed["types"].get(family), kind, "node %d: %s" % (i, family))
            self.assertGreater(prom_text.value(parsed, "cabildo_resident_memory_bytes"), 1 << 20)
            self.assertGreater(prom_text.value(parsed, "cabildo_term"), 0)

        # 200 puts through the follower (forwarded: a raw REQ socket, which
        # does not follow the leader hint as our clients do), 100 gets at
        # the leader.
        ctx = zmq.Context.instance()
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 5000)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(self.cluster.node(follower).client_endpoint)
        try:
            for k in range(200):
                req.send(msgpack.packb({"op": "put", "key": b"m/%d" % k, "value": b"v" * 100}))
                self.assertTrue(msgpack.unpackb(req.recv())["ok"])
        finally:
            req.close()
        at_leader = self.cluster.node_client(lead)
        for k in range(100):
            self.assertEqual(at_leader.get(b"m/%d" % k)[0], b"v" * 100)

        # (node, metric, labels, at least): what the load must have added.
        expected = [
            (lead, "cabildo_client_requests_total", {"op": "put", "outcome": "ok"}, 200),
            (follower, "cabildo_client_requests_total", {"op": "put", "outcome": "forwarded"},
             200),
            (lead, "cabildo_client_requests_total", {"op": "get", "outcome": "ok"}, 100),
            (lead, "cabildo_client_request_duration_seconds_count", {"op": "put"}, 200),
            (lead, "cabildo_proposals_total", {"outcome": "ok"}, 200),
            (follower, "cabildo_proposals_total", {"outcome": "forwarded"}, 200),
            (lead, "cabildo_replicated_entries_total", {"peer": follower}, 200),
            (lead, "cabildo_replicated_bytes_total", {"peer": follower}, 200 * 100),
            (follower, "cabildo_fsync_duration_seconds_count", {}, 1),
            (lead, "cabildo_commit_index", {}, 200),
        ]
        short = []

        def moved():
            after = {i: self.scrape(i) for i in self.ports}
            short[:] = []
            for i, name, labels, least in expected:
                got = (prom_text.value(after[i], name, **labels)
                       - prom_text.value(before[i], name, **labels))
                if got < least:
                    short.append("node %d %s%s: +%s < %s" % (i, name, labels, got, least))
            if prom_text.value(after[lead], "cabildo_connections", endpoint="client") < 1:
                short.append("no client connection counted")
            return None if short else after

        try:
            after = wait_for(moved, 10.0, "the counters to move with 200 puts and 100 gets")
        except AssertionError:
            self.fail("after 200 puts and 100 gets: %s" % "; ".join(short))
        self.assertEqual(prom_text.value(after[lead], "cabildo_follower_lag_entries",
                                         peer=follower) < 1000, True)

    def test_health_follows_the_leader_and_livez_the_process(self):
        lead = self.start_with_metrics()
        for i in self.ports:
            status, ctype, body = http_get(self.ports[i], "/health")
            self.assertEqual(status, 200, body)
            self.assertEqual(ctype, "application/json")
            self.assertTrue(json.loads(body)["healthy"])
            self.assertEqual(http_get(self.ports[i], "/livez")[0], 200)
            self.assertEqual(http_get(self.ports[i], "/nothing")[0], 404)
        # Cut node `lone` off from the others: it loses its leader (as
        # leader it steps down: CheckQuorum), and /health says why.
        lone = lead
        others = [n.id for n in self.cluster.nodes if n.id != lone]
        for i in others:
            self.cluster.node(i).pause()

        def unhealthy():
            status, _, body = http_get(self.ports[lone], "/health")
            return (status, json.loads(body)) if status == 503 else None

        status, reason = wait_for(unhealthy, 10.0, "node %d's /health to turn 503" % lone)
        self.assertFalse(reason["healthy"])
        self.assertIn("no leader", reason["reason"])
        self.assertEqual(http_get(self.ports[lone], "/livez")[0], 200)
        for i in others:
            self.cluster.node(i).resume()
        wait_for(lambda: http_get(self.ports[lone], "/health")[0] == 200, 10.0,
                 "node %d's /health to be 200 after the heal" % lone)

    def test_heartbeat_carries_rates(self):
        lead = self.start_with_metrics()
        c = self.cluster.client()

        def busy():
            for k in range(50):
                c.put(b"r/%d" % k, b"x")
            st = self.cluster.status(lead)
            return st if st.get("writes_per_s", 0) > 0 and st.get("fsync_p99_us", 0) > 0 else None

        st = wait_for(busy, 15.0, "writes_per_s and fsync_p99_us in the leader's status")
        self.assertGreater(st["rss_bytes"], 1 << 20)
        self.assertGreaterEqual(st["leader_changes"], 1)
        self.assertGreater(st["uptime_ms"], 0)

    def test_metrics_listen_port_in_use_is_a_clear_error(self):
        lead = self.start_with_metrics(n=1)
        node = self.cluster.node(lead)
        node.stop()
        taken = self.ports[lead]
        import socket
        holder = socket.socket()
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        try:
            node.start()
            code = node.proc.wait(10)
        finally:
            holder.close()
        self.assertEqual(code, 1)
        self.assertIn("--metrics-listen 127.0.0.1:%d" % taken, node.log())


class BrokerMetricsTest(harness.ClusterTestCase):
    def test_broker_metrics_and_health(self):
        import os
        import subprocess
        c = self.start_cluster(3)
        port = harness.pick_base_port(1)
        http_port = harness.free_port()
        log_path = os.path.join(c.dir, "broker.log")
        args = [os.path.join(harness.BIN_DIR, "broker", "cabildo-broker"), "--listen",
                "127.0.0.1:%d" % port, "--metrics-listen", "127.0.0.1:%d" % http_port]
        for n in c.nodes:
            args += ["--member", "%d=127.0.0.1:%d" % (n.id, n.port)]
        with open(log_path, "ab") as log:
            broker = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                      preexec_fn=harness._die_with_parent)
        try:
            wait_for(lambda: http_get(http_port, "/health")[0] == 200, 10.0,
                     "the broker's /health to be 200 (a leader known)")
            cl = harness.cabildo.Client(["tcp://127.0.0.1:%d" % (port + 1)],
                                        request_timeout=1.0, total_timeout=10.0)
            try:
                for k in range(30):
                    cl.put(b"b/%d" % k, b"x")
            finally:
                cl.close()

            def counted():
                status, _, body = http_get(http_port, "/metrics")
                parsed = prom_text.parse(body)
                return parsed if prom_text.value(
                    parsed, "cabildo_broker_requests_relayed_total") >= 30 else None

            parsed = wait_for(counted, 10.0, "30 relayed requests in the broker's metrics")
            self.assertGreaterEqual(
                prom_text.value(parsed, "cabildo_broker_request_duration_seconds_count"), 30)
            self.assertEqual(prom_text.value(parsed, "cabildo_broker_nodes_alive"), 3)
            for n in c.nodes:
                n.pause()
            status, _, body = wait_for(
                lambda: (lambda r: r if r[0] == 503 else None)(http_get(http_port, "/health")),
                10.0, "the broker's /health to be 503 with every node paused")
            self.assertIn("no live leader", json.loads(body)["reason"])
            for n in c.nodes:
                n.resume()
        finally:
            broker.terminate()
            broker.wait(10)


class LoggingTest(harness.ClusterTestCase):
    def test_slow_syncs_are_logged_and_counted(self):
        # --slow-fsync-ms 0: every sync is over the threshold.
        port = harness.free_port()
        self.cluster = harness.Cluster(1, extra_args=["--slow-fsync-ms", "0", "--metrics-listen",
                                                      "127.0.0.1:%d" % port])
        self.cluster.start()
        self.cluster.wait_for_leader()
        c = self.cluster.client()
        for k in range(20):
            c.put(b"s/%d" % k, b"x")
        node = self.cluster.node(1)
        wait_for(lambda: "a log sync took" in node.log(), 5.0, "a slow-sync warning")
        # Rate-limited: at most one a second, while all are counted.
        warnings = node.log().count("a log sync took")
        parsed = prom_text.parse(http_get(port, "/metrics")[2])
        slow = prom_text.value(parsed, "cabildo_slow_fsyncs_total")
        self.assertGreaterEqual(slow, 20)
        self.assertLess(warnings, slow)

    def test_json_log_lines(self):
        self.cluster = harness.Cluster(1, extra_args=["--log-format", "json"])
        self.cluster.start()
        self.cluster.wait_for_leader()
        self.cluster.client().put(b"j", b"1")
        node = self.cluster.node(1)
        node.stop()
        lines = [l for l in node.log().splitlines() if l and not l.startswith("===")]
        self.assertGreater(len(lines), 3)
        for line in lines:
            obj = json.loads(line)
            self.assertEqual(set(obj), {"time", "level", "component", "msg"}, line)
            self.assertEqual(obj["component"], "node 1")
        self.assertTrue(any("leader in term" in json.loads(l)["msg"] for l in lines))


if __name__ == "__main__":
    unittest.main()
