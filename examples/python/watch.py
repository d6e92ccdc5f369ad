#!/usr/bin/python3
"""An exact watch of a Cabildo key prefix, written only from wire/PROTOCOL.md
(section 10, "Watching changes").

Every put and delete under PREFIX is printed once, in revision order, even
though the commit stream (PUB/SUB) it listens to may drop, repeat or miss
messages, and even when the node it reads from dies:

1. a SUB socket connects to ONE node's PUB (client port + 1) and subscribes
   to kv/<prefix> and hb/ FIRST, so what is published meanwhile is queued;
2. watch_from on that same node from the start revision; its reply covers
   every matching event up to its `revision` ("covered");
3. anything on the SUB socket is only a doorbell: a kv/ event above covered,
   or a heartbeat whose applied_index is above it, means "ask watch_from
   again from covered + 1" (repeated while `more` is true);
4. no heartbeat for --silence-s seconds (or a request that fails): close the
   SUB socket, take the next endpoint and go on from step 1 with the same
   covered revision;
5. `compacted`: range the prefix (serializable, same node), print it as a
   resync snapshot and continue from the range's revision + 1.

Usage:
    watch.py [--endpoints E1,E2,..] [--from REV] [--count N] [--timeout-s S]
             [--until REV] [--json] [--curve-key F --server-key F] PREFIX

A secure cluster (section 12): --curve-key is the identity's .key file (it
needs read and watch on PREFIX), --server-key the cluster's server .pub; both
sockets are then CURVE clients (this needs cabildo.py beside this file).

Output, one line per event: "REV put KEY VALUE" / "REV delete KEY", or with
--json {"revision": R, "op": "put"|"delete", "key": .., "value": ..}
(strings when the bytes are UTF-8, else "key_b64"/"value_b64"). A resync
prints a marker first, "REV resync N" / {"op": "resync", "revision": R,
"keys": N}, then the N current keys as puts at REV: drop every key you knew
that is not among them. On exit a JSON line of statistics goes to stderr.

Dependencies: pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""

import argparse
import base64
import json
import os
import signal
import sys
import time

import msgpack
import zmq

DEFAULT_ENDPOINTS = "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"
REPLY_FRAME_MAX = (8 << 20) + (64 << 10)  # PROTOCOL.md section 8, with headroom
RANGE_LIMIT_MAX = 10000
# Error codes after which another node will not help (sections 5 and 12).
FATAL_CODES = ("bad_request", "too_large", "storage_full", "stale_session", "permission_denied")


class WatchError(Exception):
    pass


def pub_endpoint(client_endpoint):
    """A node's PUB is its client port + 1 (section 1: pub = member port + 2)."""
    host, _, port = client_endpoint.rpartition(":")
    return "%s:%d" % (host, int(port) + 1)


def curve_options(curve_key, server_key):
    """CURVE client socket options ([] without keys), from cabildo.py's key
    file reader: only a secure watch needs that file."""
    if curve_key is None and server_key is None:
        return []
    import cabildo  # noqa: PLC0415  examples/python/cabildo.py
    return cabildo.curve_options(curve_key, server_key)


class Watcher:
    """next(wait) -> (events, resynced): events are dicts as in section 10,
    in revision order, each returned once. resynced: the list is the whole
    prefix at covered (a snapshot, possibly empty), not a list of changes.
    curve_key, server_key: as cabildo.Client's (a secure cluster)."""

    def __init__(self, endpoints, prefix, from_revision=0, request_timeout=1.0,
                 silence_timeout=1.0, limit=1000, rcvhwm=None, rcvbuf=None, throttle=0.0,
                 log=None, curve_key=None, server_key=None):
        self.curve = curve_options(curve_key, server_key)  # SUB and REQ alike
        self.ctx = zmq.Context()
        self.endpoints = list(endpoints)
        self.prefix = prefix
        self.request_timeout = request_timeout
        self.silence_timeout = silence_timeout
        self.limit = limit
        self.rcvhwm = rcvhwm
        self.rcvbuf = rcvbuf
        self.throttle = throttle  # seconds slept after each SUB read (tests)
        self.log = log or (lambda text: None)
        self.current = 0
        self.covered = from_revision - 1 if from_revision else 0
        self.started = bool(from_revision)
        self.pending = True
        self.sub = None
        self.last_heartbeat = 0.0
        # Statistics.
        self.switches = 0
        self.watch_from_calls = 0
        self.resyncs = 0
        self.stream_kv_messages = 0
        self.stream_revisions = set()  # distinct kv/ revisions the SUB socket saw

    @property
    def endpoint(self):
        return self.endpoints[self.current]

    def close(self):
        if self.sub is not None:
            self.sub.close(linger=0)
            self.sub = None
        self.ctx.term()

    # -- the recipe

    def next(self, wait):
        deadline = time.monotonic() + wait
        while True:
            if self.sub is None:
                self._connect()
            if not self.started or self.pending:
                try:
                    if not self.started:
                        self._learn_start()
                    else:
                        events, resynced = self._fetch()
                        if events or resynced:
                            return events, resynced
                except _NodeFailed as e:
                    self.log("%s failed (%s); moving on" % (self.endpoint, e))
                    self._switch()
                    if time.monotonic() >= deadline:
                        return [], False
                continue
            self._wait_for_doorbell(deadline)
            if self.sub is not None and not self.pending and time.monotonic() >= deadline:
                return [], False

    def _connect(self):
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.MAXMSGSIZE, REPLY_FRAME_MAX)
        if self.rcvhwm is not None:
            sub.setsockopt(zmq.RCVHWM, self.rcvhwm)
        if self.rcvbuf is not None:
            sub.setsockopt(zmq.RCVBUF, self.rcvbuf)
        sub.setsockopt(zmq.SUBSCRIBE, b"kv/" + self.prefix)
        sub.setsockopt(zmq.SUBSCRIBE, b"hb/")
        for option, value in self.curve:
            sub.setsockopt(option, value)
        sub.connect(pub_endpoint(self.endpoint))
        self.sub = sub
        self.last_heartbeat = time.monotonic()  # grace for the first heartbeat
        self.pending = True

    def _switch(self):
        self.sub.close(linger=0)  # drops whatever the old node sent
        self.sub = None
        self.current = (self.current + 1) % len(self.endpoints)
        self.switches += 1
        self.log("watching %s from revision %d" % (self.endpoint, self.covered + 1))

    def _learn_start(self):
        reply = self._ask({"op": "status"})
        self.covered = reply.get("applied_index", reply.get("revision", 0))
        self.started = True
        self.pending = True

    def _fetch(self):
        self.watch_from_calls += 1
        try:
            reply = self._ask({"op": "watch_from", "prefix": self.prefix,
                               "from": self.covered + 1, "limit": self.limit})
        except _Compacted:
            return self._resync(), True
        events = []
        for event in reply.get("events", []):
            # Never twice, whatever a node sends.
            if self.covered < event["revision"] <= reply["revision"] and (
                    not events or event["revision"] > events[-1]["revision"]):
                events.append(event)
        if events:
            self.covered = events[-1]["revision"]
        self.covered = max(self.covered, reply["revision"])  # a lagging node: never go back
        self.pending = bool(reply.get("more"))
        return events, False

    def _resync(self):
        reply = self._ask({"op": "range", "prefix": self.prefix, "limit": RANGE_LIMIT_MAX,
                           "consistency": "serializable"})
        if reply.get("more"):
            raise WatchError("cannot resync: more than %d keys under the prefix" % RANGE_LIMIT_MAX)
        revision = reply["revision"]
        self.covered = max(self.covered, revision)
        self.pending = True
        self.resyncs += 1
        return [{"revision": revision, "op": "put", "key": kv["key"], "value": kv["value"]}
                for kv in reply.get("kvs", [])]

    def _wait_for_doorbell(self, deadline):
        while True:
            self._drain()
            if self.pending:
                return
            now = time.monotonic()
            silent_at = self.last_heartbeat + self.silence_timeout
            if now >= silent_at:
                self.log("%s silent for %.1fs" % (self.endpoint, self.silence_timeout))
                self._switch()
                return
            if now >= deadline:
                return
            timeout_ms = max(1, int((min(deadline, silent_at) - now) * 1000))
            self.sub.poll(timeout_ms, zmq.POLLIN)

    def _drain(self, max_messages=10000):
        for _ in range(max_messages):
            try:
                frames = self.sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if self.throttle:
                time.sleep(self.throttle)
            if len(frames) == 2:
                self._on_stream(frames[0], frames[1])
            if self.pending:
                return

    def _on_stream(self, topic, body):
        try:
            message = msgpack.unpackb(body)
        except Exception:  # noqa: BLE001  the stream is untrusted: ignore what does not decode
            return
        if not isinstance(message, dict):
            return
        if topic.startswith(b"hb/"):
            applied = message.get("applied_index")
            if isinstance(applied, int):
                self.last_heartbeat = time.monotonic()
                if applied > self.covered:
                    self.pending = True
        elif topic.startswith(b"kv/"):
            revision = message.get("revision")
            if isinstance(revision, int):
                self.stream_kv_messages += 1
                self.stream_revisions.add(revision)
                if revision > self.covered:
                    self.pending = True

    def _ask(self, request):
        """One request to the watched node over a fresh REQ socket (Lazy Pirate)."""
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, REPLY_FRAME_MAX)
        for option, value in self.curve:
            sock.setsockopt(option, value)
        try:
            sock.connect(self.endpoint)
            sock.send(msgpack.packb(request))
            if not sock.poll(int(self.request_timeout * 1000), zmq.POLLIN):
                raise _NodeFailed("no reply within %.1fs" % self.request_timeout)
            reply = msgpack.unpackb(sock.recv())
        except ValueError as e:  # msgpack: ExtraData, FormatError, StackError
            raise _NodeFailed("malformed reply: %s" % e) from None
        finally:
            sock.close(linger=0)
        if not isinstance(reply, dict):
            raise _NodeFailed("malformed reply")
        if reply.get("ok"):
            return reply
        code = reply.get("error")
        if code == "compacted":
            raise _Compacted()
        if code in FATAL_CODES:
            raise WatchError("%s: %s: %s" % (self.endpoint, code, reply.get("message")))
        raise _NodeFailed("%s: %s" % (code, reply.get("message")))


class _NodeFailed(Exception):
    """This node cannot serve the watch now: try the next one."""


class _Compacted(Exception):
    pass


# -- command line


def _text_or_b64(obj, name, data):
    try:
        obj[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        obj[name + "_b64"] = base64.b64encode(data).decode("ascii")


def format_event(event, as_json):
    op = event["op"]
    if as_json:
        obj = {"revision": event["revision"], "op": op}
        _text_or_b64(obj, "key", event["key"])
        if event.get("value") is None:
            obj["value"] = None
        else:
            _text_or_b64(obj, "value", event["value"])
        return (json.dumps(obj) + "\n").encode()
    line = b"%d %s %s" % (event["revision"], op.encode(), event["key"])
    if op == "put":
        line += b" " + event["value"]
    return line + b"\n"


def format_resync(revision, keys, as_json):
    if as_json:
        return (json.dumps({"revision": revision, "op": "resync", "keys": keys}) + "\n").encode()
    return b"%d resync %d\n" % (revision, keys)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Print every change under PREFIX exactly once.")
    p.add_argument("prefix", metavar="PREFIX")
    p.add_argument("--endpoints", default=os.environ.get("CABILDO_ENDPOINTS", DEFAULT_ENDPOINTS))
    p.add_argument("--from", dest="from_revision", type=int, default=0,
                   help="first revision (default: from now)")
    p.add_argument("--count", type=int, default=0, help="exit after N events")
    p.add_argument("--timeout-s", type=float, default=0, help="exit after S idle seconds")
    p.add_argument("--until", type=int, default=0, help="exit once revision REV is covered")
    p.add_argument("--json", action="store_true")
    p.add_argument("--silence-s", type=float, default=1.0, help="heartbeat silence before switching")
    p.add_argument("--request-timeout-s", type=float, default=1.0)
    p.add_argument("--rcvhwm", type=int, default=None, help="SUB receive HWM (tests)")
    p.add_argument("--rcvbuf", type=int, default=None, help="SUB kernel receive buffer (tests)")
    p.add_argument("--throttle-ms", type=float, default=0, help="sleep after each SUB read (tests)")
    p.add_argument("--verbose", action="store_true", help="log node switches to stderr")
    p.add_argument("--curve-key", help="secure cluster: this identity's .key file")
    p.add_argument("--server-key", help="secure cluster: the server public key (.pub file)")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # still prints the statistics
    log = (lambda t: print("watch: " + t, file=sys.stderr, flush=True)) if args.verbose else None
    w = Watcher(args.endpoints.split(","), args.prefix.encode(), args.from_revision,
                request_timeout=args.request_timeout_s, silence_timeout=args.silence_s,
                rcvhwm=args.rcvhwm, rcvbuf=args.rcvbuf, throttle=args.throttle_ms / 1000.0,
                log=log, curve_key=args.curve_key, server_key=args.server_key)
    out = sys.stdout.buffer
    printed = 0
    last_event = time.monotonic()
    status = 0
    try:
        while not (args.count and printed >= args.count) and not (
                args.until and w.covered >= args.until):
            wait = 1.0
            if args.timeout_s:
                wait = min(wait, last_event + args.timeout_s - time.monotonic())
                if wait <= 0:
                    break
            events, resynced = w.next(wait)
            if resynced:
                out.write(format_resync(w.covered, len(events), args.json))
            for event in events:
                if args.count and printed >= args.count:
                    break
                out.write(format_event(event, args.json))
                printed += 1
            if events or resynced:
                last_event = time.monotonic()
            out.flush()
    except WatchError as e:
        print("watch: %s" % e, file=sys.stderr)
        status = 4
    except KeyboardInterrupt:
        pass
    finally:
        out.flush()
        stats = {"covered": w.covered, "printed": printed, "switches": w.switches,
                 "endpoint": w.endpoint, "watch_from_calls": w.watch_from_calls,
                 "resyncs": w.resyncs, "stream_kv_messages": w.stream_kv_messages,
                 "stream_distinct_revisions": len(w.stream_revisions)}
        print(json.dumps(stats), file=sys.stderr, flush=True)
        w.close()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
