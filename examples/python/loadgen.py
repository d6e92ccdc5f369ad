#!/usr/bin/python3
"""An open-loop PUSH load generator for Cabildo, written only from
wire/PROTOCOL.md (section 1, PUSH to the pull endpoint; section 10, the
commit stream).

It pushes N put requests at a fixed rate (scheduled by time, not by
completion) round-robin to the nodes' pull endpoints, and watches one node's
PUB socket for the `kv/` events of its own keys. Every key is unique to the
run ("lg-<random>/<number>"), so each event says which write completed:
latency = event arrival time - send time. Writes not seen by the end of a
grace period after the last send are lost (PUSH is fire-and-forget: a write
may be dropped without notice, e.g. during an election).

Ports, as examples/local-cluster.sh lays them out: for a client endpoint on
port P, the PUB is P+1 and the PULL is P+2.

    /usr/bin/python3 examples/python/loadgen.py --count 5000 --rate 1000
    /usr/bin/python3 examples/python/loadgen.py --endpoints tcp://127.0.0.1:7101 --json

A secure cluster (PROTOCOL.md section 12): --curve-key IDENTITY.key (write
and watch on the lg- keys) --server-key SERVER.pub make every socket a CURVE
client (this needs cabildo.py beside this file).

Dependencies: Debian python3-zmq and python3-msgpack (no PyPI).
"""

import argparse
import json
import os
import sys
import time

import msgpack
import zmq

DEFAULT_ENDPOINTS = "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"


def shift_port(endpoint, delta):
    host, _, port = endpoint.rpartition(":")
    return "%s:%d" % (host, int(port) + delta)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(fraction * len(sorted_values) + 0.999999)))
    return sorted_values[rank - 1]


def curve_options(args):
    """CURVE client socket options ([] without keys), from cabildo.py's key
    file reader: only a secure run needs that file."""
    if args.curve_key is None and args.server_key is None:
        return []
    import cabildo  # noqa: PLC0415  examples/python/cabildo.py
    return cabildo.curve_options(args.curve_key, args.server_key)


class LoadGen:
    def __init__(self, args):
        self.args = args
        curve = curve_options(args)
        self.ctx = zmq.Context()
        self.prefix = b"lg-%s/" % os.urandom(4).hex().encode()
        self.pushes = []
        for endpoint in args.push_endpoints:
            push = self.ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 0)
            push.setsockopt(zmq.IMMEDIATE, 1)  # never queue for a node that is not connected
            push.setsockopt(zmq.SNDHWM, 100000)
            for option, value in curve:
                push.setsockopt(option, value)
            push.connect(endpoint)
            self.pushes.append(push)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        # Subscribe before anything is sent (slow joiner, PROTOCOL.md section 10).
        self.sub.setsockopt(zmq.SUBSCRIBE, b"kv/" + self.prefix)
        for option, value in curve:
            self.sub.setsockopt(option, value)
        self.sub.connect(args.sub_endpoint)
        self.value = (b"abcdefghijklmnopqrstuvwxyz" * (args.value_size // 26 + 1))[: args.value_size]
        self.sent_at = {}  # write number -> send time
        self.latencies = []
        self.not_sent = 0

    def key(self, number):
        return self.prefix + b"%010d" % number

    def frame(self, key):
        return msgpack.packb({"op": "put", "key": key, "value": self.value})

    def drain(self):
        """Takes every queued event; returns True if the probe was among them."""
        probe_seen = False
        while True:
            try:
                frames = self.sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return probe_seen
            now = time.monotonic()
            if len(frames) != 2:
                continue
            event = msgpack.unpackb(frames[1])
            key = event.get("key") if isinstance(event, dict) else None
            if key == self.prefix + b"probe":
                probe_seen = True
                continue
            if not isinstance(key, bytes) or not key.startswith(self.prefix):
                continue
            sent = self.sent_at.pop(int(key[len(self.prefix):]), None)
            if sent is not None:
                self.latencies.append(now - sent)

    def probe(self, timeout=10.0):
        """Pushes a probe write until its event arrives: the SUB is then live."""
        frame = self.frame(self.prefix + b"probe")
        deadline = time.monotonic() + timeout
        attempt = 0
        while time.monotonic() < deadline:
            try:
                self.pushes[attempt % len(self.pushes)].send(frame, zmq.NOBLOCK)
            except zmq.Again:
                pass
            attempt += 1
            until = time.monotonic() + 0.2
            while time.monotonic() < until:
                if self.sub.poll(20) and self.drain():
                    return True
        return False

    def run(self):
        args = self.args
        period = 1.0 / args.rate
        start = time.monotonic()
        next_number = 0
        last_send = start
        next_report = start + 1.0
        while True:
            now = time.monotonic()
            while next_number < args.count and start + next_number * period <= now:
                push = self.pushes[next_number % len(self.pushes)]
                try:
                    push.send(self.frame(self.key(next_number)), zmq.NOBLOCK)
                    last_send = time.monotonic()
                    self.sent_at[next_number] = last_send
                except zmq.Again:
                    self.not_sent += 1
                next_number += 1
            self.drain()
            now = time.monotonic()
            if not args.quiet and now >= next_report:
                print("[%5.0fs] sent %d  seen %d  not sent %d" % (
                    now - start, next_number - self.not_sent, len(self.latencies), self.not_sent),
                    file=sys.stderr)
                next_report += 1.0
            if next_number >= args.count and (not self.sent_at or now - last_send > args.grace):
                break
            wait = 0.01
            if next_number < args.count:
                wait = min(wait, max(0.0, start + next_number * period - now))
            self.sub.poll(int(wait * 1000))
        return start, last_send

    def report(self, start, last_send):
        sent = self.args.count - self.not_sent
        lat = sorted(x * 1000.0 for x in self.latencies)
        send_s = max(last_send - start, 1e-9)
        result = {
            "tool": "loadgen.py", "rate": self.args.rate, "value_size": self.args.value_size,
            "sent": sent, "not_sent": self.not_sent, "seen": len(lat), "lost": len(self.sent_at),
            "send_s": round(send_s, 3), "sent_per_s": round(sent / send_s, 1),
            "lat_ms": {name: round(percentile(lat, f), 3) for name, f in
                       (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))},
        }
        if self.args.json:
            print(json.dumps(result))
            return
        print("sent %d (%.1f/s, not sent %d), seen %d, lost %d" % (
            sent, result["sent_per_s"], self.not_sent, len(lat), len(self.sent_at)))
        print("latency ms: " + "  ".join("%s %.2f" % kv for kv in result["lat_ms"].items()))

    def close(self):
        for s in self.pushes + [self.sub]:
            s.close(0)
        self.ctx.term()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoints", default=os.environ.get("CABILDO_ENDPOINTS", DEFAULT_ENDPOINTS),
                   help="client endpoints, comma-separated (pull = port+2, pub = port+1)")
    p.add_argument("--push-endpoints", help="PULL endpoints to push to (default: derived)")
    p.add_argument("--sub-endpoint", help="the PUB to watch (default: first endpoint's)")
    p.add_argument("--count", type=int, default=5000, help="writes to send")
    p.add_argument("--rate", type=float, default=1000.0, help="writes per second")
    p.add_argument("--value-size", type=int, default=256)
    p.add_argument("--grace", type=float, default=3.0,
                   help="seconds to wait for events after the last send")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--curve-key", help="secure cluster: this identity's .key file")
    p.add_argument("--server-key", help="secure cluster: the server public key (.pub file)")
    args = p.parse_args()
    endpoints = [e for e in args.endpoints.split(",") if e]
    args.push_endpoints = (args.push_endpoints.split(",") if args.push_endpoints
                           else [shift_port(e, 2) for e in endpoints])
    args.sub_endpoint = args.sub_endpoint or shift_port(endpoints[0], 1)
    if args.rate <= 0 or args.count < 0:
        p.error("--rate must be > 0 and --count >= 0")
    return args


def main():
    args = parse_args()
    gen = LoadGen(args)
    try:
        if not gen.probe():
            print("loadgen: no event for a probe write on %s within 10 s" % args.sub_endpoint,
                  file=sys.stderr)
            return 3
        gen.report(*gen.run())
        return 0
    finally:
        gen.close()


if __name__ == "__main__":
    sys.exit(main())
