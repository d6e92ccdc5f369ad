"""`cabildo-bench bench --mode watch` (client/bench/watch_fanout.h) against a
real 3-node cluster: 20 watchers of watch/ while puts go at 200/s for 2 s.

(a) exact (watch_from, the stream as a doorbell): every acknowledged put
    reaches every watcher exactly once: events_delivered == puts_ok * 20,
    events_lost == 0, no duplicates, every watcher caught up, and a delivery
    lag is recorded for each event;
(b) stream (the SUB events only): the run completes and reports its figures;
    on an idle local cluster nothing should be lost either, but the stream
    makes no promise, so only delivery itself is asserted.
"""

import json
import os
import subprocess
import unittest

import harness

BENCH = os.path.join(harness.BIN_DIR, "client", "bench", "cabildo-bench")
WATCHERS = 20


def run_watch_bench(cluster, kind):
    """The bench's JSON report of one short watch run."""
    args = [BENCH, "--json", "--endpoints", ",".join(cluster.endpoints()), "bench",
            "--mode", "watch", "--watch-kind", kind, "--watchers", str(WATCHERS),
            "--rate", "200", "--duration", "2s", "--grace", "5s", "--quiet"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("bench exited %d: %s\n%s" % (out.returncode, out.stdout[-2000:],
                                                          out.stderr[-2000:]))
    return json.loads(out.stdout)


class BenchWatchTest(harness.ClusterTestCase):
    def assert_common(self, report, kind):
        watch = report["watch"]
        self.assertEqual(report["mode"], "watch")
        self.assertEqual(watch["kind"], kind)
        self.assertEqual(watch["watchers"], WATCHERS)
        self.assertGreater(watch["puts_ok"], 0)
        self.assertEqual(report["ok"], watch["puts_ok"])
        self.assertEqual(watch["events_expected"], watch["puts_ok"] * WATCHERS)
        for key in ("mean", "p50", "p90", "p99", "p999", "max"):
            self.assertIn(key, report["lat_ms"])
        for key in ("rss_peak_kb", "cpu_s", "cpu_cores"):
            self.assertIn(key, report["process"])
        self.assertGreater(watch["events_delivered"], 0)
        self.assertGreater(watch["lag_ms"]["count"], 0)
        self.assertGreater(watch["lag_ms"]["max"], 0)
        self.assertGreater(watch["delivery_per_s"], 0)

    def test_exact_and_stream(self):
        c = self.start_cluster(3)
        exact = run_watch_bench(c, "exact")
        self.assert_common(exact, "exact")
        w = exact["watch"]
        self.assertEqual(w["events_lost"], 0, w)
        self.assertEqual(w["events_delivered"], w["puts_ok"] * WATCHERS, w)
        self.assertEqual(w["duplicates"], 0, w)
        self.assertEqual(w["errors"], 0, w)
        self.assertEqual(w["caught_up"], WATCHERS, w)
        self.assertGreater(w["watch_from_calls"], WATCHERS, w)
        self.assertEqual(w["lag_ms"]["count"], w["events_delivered"], w)

        stream = run_watch_bench(c, "stream")
        self.assert_common(stream, "stream")
        self.assertEqual(stream["watch"]["watch_from_calls"], 0)
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
