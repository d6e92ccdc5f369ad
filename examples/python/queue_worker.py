#!/usr/bin/python3
"""Producers and consumers on a Cabildo durable queue, written only from
wire/PROTOCOL.md (section 9, "Durable queues").

Producers put numbered jobs (`queue_put`: exactly once, through each
producer's session); consumers take them (`queue_get` with a wait, so an
idle consumer costs nothing until a job arrives), "process" them and
acknowledge them (`queue_ack`). A job whose consumer died or was too slow
becomes visible again after its visibility timeout and is delivered to
another consumer: at-least-once delivery, so processing must tolerate a
repeat (here: a job counts as done once, however often it is delivered).

    queue_worker.py [--endpoints tcp://127.0.0.1:7101,...] [--queue jobs]
                    [--items 200] [--producers 2] [--consumers 3]
                    [--wait-ms 1000] [--visibility-ms 5000] [--work-ms 0]
                    [--timeout 120] [--json]

Endpoints come from --endpoints, else $CABILDO_ENDPOINTS (comma separated),
else the default local 3-node cluster. It stops once every job was
acknowledged and the queue is empty, then prints a summary: jobs produced,
jobs acknowledged, redeliveries (a job delivered more than once), stale
acknowledgements (refused because the job had been delivered again),
duplicates (a job stored twice: only after a put that could not be retried
within its session) and items delivered again after an acknowledgement that
succeeded (which must never happen). With --json the last line is the
summary as JSON. Exits 0 when every job was acknowledged and no acknowledged
item came back, 1 otherwise, 2 on bad arguments.

Dependencies: pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cabildo import CabildoError, Client  # noqa: E402

DEFAULT = "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"
# Errors after which a retry of the same call may succeed (a leader change,
# a node going away).
RETRYABLE = ("timeout", "no_leader", "unavailable", "overloaded")


class Stats:
    """What the producers and consumers did, shared between their threads."""

    def __init__(self, total):
        self.lock = threading.Lock()
        self.total = total
        self.produced = set()  # job numbers stored
        self.put_items = {}  # job number -> queue item numbers it was stored as
        self.deliveries = {}  # job number -> times delivered
        self.acked = set()  # job numbers acknowledged at least once
        self.acked_items = set()  # queue item numbers acknowledged
        self.delivered_after_ack = []  # items delivered again after their ack: a bug
        self.acks = 0  # successful acknowledgements
        self.stale_acks = 0  # acknowledgements refused (redelivered meanwhile)
        self.errors = []  # (who, error) of failed calls that were retried
        self.all_acked = threading.Event()
        self.producers_left = 0

    def summary(self):
        with self.lock:
            redelivered = sum(n - 1 for n in self.deliveries.values() if n > 1)
            return {
                "items": self.total,
                "produced": len(self.produced),
                "acked": len(self.acked),
                "acks": self.acks,
                "redelivered": redelivered,
                "redelivered_jobs": sorted(j for j, n in self.deliveries.items() if n > 1),
                "stale_acks": self.stale_acks,
                "delivered_after_ack": sorted(self.delivered_after_ack),
                "duplicates": sum(len(v) - 1 for v in self.put_items.values()),
                "missing": sorted(set(range(1, self.total + 1)) - self.acked),
                "errors": len(self.errors),
            }


def retrying(fn, stats, who, deadline):
    """Calls fn() until it returns, retrying the errors a leader change
    causes; raises what cannot be retried, or the last error at deadline."""
    while True:
        try:
            return fn()
        except CabildoError as e:
            if e.code not in RETRYABLE or time.monotonic() >= deadline:
                raise
            with stats.lock:
                stats.errors.append((who, str(e)))
            time.sleep(0.05)


def producer(endpoints, args, stats, jobs, who, deadline):
    client = Client(endpoints, request_timeout=args.request_timeout, total_timeout=10.0)
    try:
        for job in jobs:
            value = b"job %d" % job
            # One queue_put is retried inside the client with the same
            # (session, seq): stored once even if the leader dies meanwhile.
            # Only if that gives up (timeout) does a retry here use a new seq,
            # and the job may then be stored twice.
            item = retrying(lambda: client.queue_put(args.queue, value), stats, who, deadline)
            with stats.lock:
                stats.produced.add(job)
                stats.put_items.setdefault(job, []).append(item)
    finally:
        with stats.lock:
            stats.producers_left -= 1
        client.close()


def consumer(endpoints, args, stats, who, deadline):
    client = Client(endpoints, request_timeout=args.request_timeout, total_timeout=10.0)
    try:
        while time.monotonic() < deadline:
            with stats.lock:
                finished = stats.all_acked.is_set() and stats.producers_left == 0
            if finished:
                # Every job is done once and no producer is left: drain what
                # is still queued (duplicates), then stop.
                try:
                    if client.queue_len(args.queue)["items"] == 0:
                        return
                except CabildoError as e:
                    if e.code not in RETRYABLE:
                        raise
            try:
                got = client.queue_get(args.queue, wait_ms=args.wait_ms,
                                       visibility_ms=args.visibility_ms)
            except CabildoError as e:
                if e.code not in RETRYABLE:
                    raise
                with stats.lock:
                    stats.errors.append((who, str(e)))
                time.sleep(0.05)
                continue
            if got is None:
                continue  # nothing came within wait_ms
            job = int(got["value"].split()[1])
            with stats.lock:
                stats.deliveries[job] = stats.deliveries.get(job, 0) + 1
                if got["item"] in stats.acked_items:
                    # The cluster acknowledged its removal, then delivered it
                    # again: an acknowledgement was lost.
                    stats.delivered_after_ack.append(got["item"])
            if args.work_ms:
                time.sleep(args.work_ms / 1000.0)  # the "processing"
            try:
                ok = retrying(lambda: client.queue_ack(args.queue, got["item"], got["receipt"]),
                              stats, who, deadline)
            except CabildoError as e:
                with stats.lock:
                    stats.errors.append((who, "ack: %s" % e))
                continue  # the job comes back after its visibility timeout
            with stats.lock:
                if ok:
                    stats.acks += 1
                    stats.acked.add(job)
                    stats.acked_items.add(got["item"])
                    if len(stats.acked) == stats.total:
                        stats.all_acked.set()
                else:
                    # Its visibility ran out and it went to another consumer:
                    # that one acknowledges it.
                    stats.stale_acks += 1
    finally:
        client.close()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoints", default=os.environ.get("CABILDO_ENDPOINTS", DEFAULT),
                    help="client endpoints, comma separated (default $CABILDO_ENDPOINTS or %s)"
                    % DEFAULT)
    ap.add_argument("--queue", default="jobs")
    ap.add_argument("--items", type=int, default=200, help="jobs to produce")
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--consumers", type=int, default=3)
    ap.add_argument("--wait-ms", type=int, default=1000, help="queue_get wait")
    ap.add_argument("--visibility-ms", type=int, default=5000)
    ap.add_argument("--work-ms", type=int, default=0, help="time to 'process' a job")
    ap.add_argument("--request-timeout", type=float, default=0.5,
                    help="seconds one attempt waits for a reply (plus wait-ms for queue_get)")
    ap.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    ap.add_argument("--progress", type=float, default=0.5,
                    help="print progress every this many seconds (0: never)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON last")
    args = ap.parse_args(argv[1:])
    endpoints = [e for e in args.endpoints.split(",") if e]
    if not endpoints or args.items < 1 or args.producers < 1 or args.consumers < 1:
        ap.error("need endpoints, and at least one item, producer and consumer")

    stats = Stats(args.items)
    start = time.monotonic()
    deadline = start + args.timeout
    threads = []
    failures = []

    def run(who, fn, *a):
        try:
            fn(*a)
        except Exception as e:  # noqa: BLE001 - reported in the summary
            failures.append("%s: %s" % (who, e))

    stats.producers_left = args.producers
    for p in range(args.producers):
        who = "producer %d" % p
        jobs = range(p + 1, args.items + 1, args.producers)
        threads.append(threading.Thread(
            target=run, args=(who, producer, endpoints, args, stats, jobs, who, deadline),
            daemon=True))
    for k in range(args.consumers):
        who = "consumer %d" % k
        threads.append(threading.Thread(
            target=run, args=(who, consumer, endpoints, args, stats, who, deadline), daemon=True))
    for t in threads:
        t.start()
    last = 0.0
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.05)
        now = time.monotonic()
        if args.progress and now - last >= args.progress:
            last = now
            s = stats.summary()
            print("%.1fs: produced %d, acked %d, redelivered %d" % (
                now - start, s["produced"], s["acked"], s["redelivered"]), flush=True)

    s = stats.summary()
    s["seconds"] = round(time.monotonic() - start, 3)
    s["failures"] = failures
    print("produced %d of %d jobs, acked %d, redelivered %d, stale acks %d, duplicates %d, "
          "retried errors %d, in %.1fs" % (s["produced"], s["items"], s["acked"],
                                           s["redelivered"], s["stale_acks"], s["duplicates"],
                                           s["errors"], s["seconds"]))
    for f in failures:
        print("failed: %s" % f)
    if s["missing"]:
        print("not acknowledged: %s" % s["missing"][:50])
    if s["delivered_after_ack"]:
        print("delivered again after their acknowledgement: %s" % s["delivered_after_ack"][:50])
    if args.json:
        print(json.dumps(s), flush=True)
    return 0 if not s["missing"] and not failures and not s["delivered_after_ack"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
