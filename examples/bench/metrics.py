#!/usr/bin/python3
"""What metrics cost (issue "Operable: metrics, health checks, ...").

  /usr/bin/python3 examples/bench/metrics.py [--duration 10s] [--clients 64] [--rounds 3]
                                             [--scrape-ms 1000]

Each round runs the same 3-node cluster twice, one after the other: without
--metrics-listen, then with it on every node and a scraper fetching
/metrics and /health from every node every --scrape-ms (Prometheus'
default is 15 s: 1 s is 15 times harsher). Measures `cabildo bench`
closed-loop puts (256-byte values, 10k keys) and prints throughput, p99
and the nodes' CPU per put, the on/off ratios per round, the size and
render time of one scrape, and a RESULT_JSON line.

The counters themselves are always kept (they are plain increments in the
loop); what --metrics-listen adds is the HTTP server and the rendering of
each scrape on the loop. Ports 7100-7123 and 9101-9103; data in
/tmp/cabildo-metrics-bench (wiped first).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounded  # noqa: E402  (the cluster and bench helpers)
import leases  # noqa: E402  (nodes' CPU per op)
import security  # noqa: E402  (measured(): one bench run with the nodes' CPU)

bounded.DATA = "/tmp/cabildo-metrics-bench"
HTTP_PORT = {1: 9101, 2: 9102, 3: 9103}


def scraper(stop, every_s, timings):
    """Fetches /metrics and /health of every node every `every_s`."""
    while not stop.wait(every_s):
        for port in HTTP_PORT.values():
            for path in ("/metrics", "/health"):
                t0 = time.monotonic()
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                                timeout=3) as r:
                        body = r.read()
                except OSError:
                    continue  # /health may say 503 for a moment: not what is measured
                if path == "/metrics":
                    timings.append((time.monotonic() - t0, len(body)))


def measure(on, a):
    cluster = bounded.Cluster()
    for i in (1, 2, 3):
        cluster.start(i, ["--metrics-listen", "127.0.0.1:%d" % HTTP_PORT[i]] if on else [])
    client = security.Client(bounded.ENDPOINTS, total_timeout=30.0)
    stop = threading.Event()
    timings = []
    thread = threading.Thread(target=scraper, args=(stop, a.scrape_ms / 1000.0, timings))
    try:
        client.put(b"warmup", b"1")  # a leader is elected and serves
        subprocess.run(["sync"], check=True)  # the last run's writeback out of the way
        if on:
            thread.start()
        common = ["--duration", a.duration, "--clients", str(a.clients), "--key-space", "10000",
                  "--value-size", "256"]
        put = security.measured(cluster, [], "--mode", "put", *common)
        return put, timings
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        client.close()
        cluster.stop_all()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", default="10s")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scrape-ms", type=int, default=1000)
    a = p.parse_args()
    rounds = []
    for r in range(a.rounds):
        off, _ = measure(False, a)
        on, timings = measure(True, a)
        print("round %d: %d clients, %s each, 256-byte puts, 3 nodes on one machine"
              % (r + 1, a.clients, a.duration))
        out = {"off": leases.row("put, metrics off", off),
               "on": leases.row("put, metrics on", on, off)}
        out["throughput_ratio"] = out["on"]["ops_per_s"] / out["off"]["ops_per_s"]
        out["p99_ratio"] = out["on"]["p99_ms"] / out["off"]["p99_ms"]
        out["cpu_ratio"] = out["on"]["nodes_cpu_us_per_op"] / out["off"]["nodes_cpu_us_per_op"]
        out["scrapes"] = len(timings)
        if timings:
            out["scrape_ms_max"] = max(t for t, _ in timings) * 1000
            out["scrape_bytes"] = max(n for _, n in timings)
        print("  on/off: throughput %.2fx, p99 %.2fx, nodes' CPU per put %.2fx; %d scrapes of "
              "up to %s bytes, the slowest %.1f ms"
              % (out["throughput_ratio"], out["p99_ratio"], out["cpu_ratio"], out["scrapes"],
                 out.get("scrape_bytes", 0), out.get("scrape_ms_max", 0)))
        rounds.append(out)
    print("RESULT_JSON " + json.dumps({"bench": "metrics", "clients": a.clients,
                                       "duration": a.duration, "scrape_ms": a.scrape_ms,
                                       "rounds": rounds}))


if __name__ == "__main__":
    main()
