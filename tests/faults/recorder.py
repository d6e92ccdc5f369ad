"""Concurrent recording clients for Jepsen-style tests.

Each client is one thread issuing one operation at a time (get, put, delete,
cas) over its own ZeroMQ REQ socket, starting at its own node. Every
operation is tried ONCE with a timeout (no retry inside an operation, no
session): its call and return times come from one clock,
time.monotonic_ns(), and its outcome is

    ok       the node answered ok=true (the output is known)
    failed   the node answered a definite error: the operation was not
             carried out (see DEFINITE_WRITE_ERRORS)
    unknown  no answer in time, a `timeout` reply, or any other error

History() renders the operations in the checker's text format
(tests/linearizability/history.h).

Values are unique per write ("c<client>.<n>"); keys come from a small set
that rotates to fresh keys every `rotate_every` operations, so each key's
history stays small for the checker.
"""

import random
import threading
import time

import msgpack
import zmq

# Write errors that mean "this write was not and will not be applied"
# (PROTOCOL.md section 5 and node/node_requests.cc, node/node_ready.cc):
#   bad_request, too_large: rejected before anything happened
#   no_leader:    refused before proposing (not the leader, no leader known,
#                 or a forwarded request that would be forwarded again)
#   unavailable:  refused before proposing (leader unreachable, leader not
#                 taking writes) or "leadership changed before the write
#                 committed; it was not applied"
#   storage_full: a stalled node refuses writes before proposing
# `timeout`, `internal`, unknown codes and no reply are unknown.
DEFINITE_WRITE_ERRORS = ("bad_request", "too_large", "no_leader", "unavailable", "storage_full")


def hexs(b):
    return "-" if b is None else "x" + b.hex()


class Op:
    __slots__ = ("client", "kind", "key", "value", "expected", "succeeded", "outcome",
                 "call", "ret", "error", "node", "revision")

    def __init__(self, client, kind, key, value=None, expected=None):
        self.client = client
        self.kind = kind  # get | put | del | cas
        self.key = key
        self.value = value
        self.expected = expected
        self.succeeded = None
        self.outcome = "unknown"
        self.call = 0
        self.ret = None
        self.error = None
        self.node = None
        self.revision = None

    def line(self):
        value = self.value
        succeeded = self.succeeded
        if self.outcome != "ok":
            succeeded = None
            if self.kind == "get":
                value = None
        if self.kind == "del":
            value = None
        ret = "-" if self.ret is None else str(self.ret)
        if self.outcome == "unknown":
            ret = "-"  # may take effect any time after its call
        return "%d %s %s %s %s %s %s %d %s" % (
            self.client, self.kind, hexs(self.key), hexs(value),
            hexs(self.expected) if self.kind == "cas" else "-",
            "-" if succeeded is None else ("1" if succeeded else "0"),
            self.outcome, self.call, ret)


class History:
    def __init__(self):
        self._ops = []
        self._lock = threading.Lock()

    def add(self, op):
        with self._lock:
            self._ops.append(op)

    def ops(self):
        with self._lock:
            return list(self._ops)

    def counts(self):
        c = {"ok": 0, "failed": 0, "unknown": 0}
        for op in self.ops():
            c[op.outcome] += 1
        return c

    def keys(self):
        seen = []
        for op in self.ops():
            if op.key not in seen:
                seen.append(op.key)
        return seen

    def text(self):
        lines = ["# client kind key value expected succeeded outcome call_ns return_ns"]
        lines += [op.line() for op in self.ops()]
        return "\n".join(lines) + "\n"

    def write(self, path):
        with open(path, "w") as f:
            f.write(self.text())

    def write_details(self, path):
        """The history with, per line, the node asked, the revision of an ok
        reply and the error code (for reading a violation)."""
        with open(path, "w") as f:
            f.write("# op# | history line | node revision error\n")
            for i, op in enumerate(self.ops()):
                f.write("%d | %s | %s rev=%s err=%s\n" % (i, op.line(), op.node, op.revision,
                                                           op.error))


class Conn:
    """One REQ socket to one endpoint, Lazy Pirate: after a timeout the
    socket is closed (linger 0) and a new one is opened on the next call."""

    def __init__(self, ctx, endpoint):
        self.ctx = ctx
        self.endpoint = endpoint
        self.sock = None

    def call(self, request, timeout):
        """Returns the reply dict, or None when none came within timeout."""
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(self.endpoint)
        try:
            self.sock.send(msgpack.packb(request, use_bin_type=True))
            if self.sock.poll(int(timeout * 1000)) & zmq.POLLIN:
                return msgpack.unpackb(self.sock.recv(), raw=False)
        except zmq.ZMQError:
            pass
        self.close()
        return None

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None


def perform(conn, op, timeout):
    """Runs op once over conn, filling in times and outcome."""
    if op.kind == "get":
        req = {"op": "get", "key": op.key}
    elif op.kind == "put":
        req = {"op": "put", "key": op.key, "value": op.value}
    elif op.kind == "del":
        req = {"op": "delete", "key": op.key}
    else:
        req = {"op": "cas", "key": op.key, "expected": op.expected, "value": op.value}
    op.node = conn.endpoint
    op.call = time.monotonic_ns()
    rep = conn.call(req, timeout)
    op.ret = time.monotonic_ns()
    if rep is None:
        op.outcome, op.error = "unknown", "no reply"
    elif rep.get("ok") is True:
        op.outcome = "ok"
        op.revision = rep.get("revision")
        if op.kind == "get":
            op.value = rep.get("value")
        elif op.kind in ("cas", "del"):
            op.succeeded = bool(rep.get("succeeded"))
    else:
        op.error = str(rep.get("error"))
        if op.kind == "get":
            op.outcome = "failed"  # a read that did not answer has no effect
        elif op.error in DEFINITE_WRITE_ERRORS:
            op.outcome = "failed"
        else:
            op.outcome = "unknown"
    return op


class Recorder:
    """n client threads over `endpoints`: client i's home is endpoint i mod
    len; after a failed operation there, its next operation goes to another
    endpoint (in turn), then it returns home."""

    def __init__(self, ctx, endpoints, clients=4, keys=8, rotate_every=200, timeout=1.0,
                 seed=None, history=None, first_client_id=1, key_prefix=b"f",
                 mix=(0.40, 0.25, 0.25, 0.10)):
        self.ctx = ctx
        self.endpoints = list(endpoints)
        self.n = clients
        self.n_keys = keys
        self.rotate_every = rotate_every
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.history = history or History()
        self.first_client_id = first_client_id
        self.key_prefix = key_prefix
        # weights of get, put, cas, delete
        total = float(sum(mix))
        self.mix = [sum(mix[:i + 1]) / total for i in range(len(mix))]
        self._stop = threading.Event()
        self._threads = []
        self._issued = 0
        self._lock = threading.Lock()
        self._last = {}  # key -> a value recently written/read (makes cas succeed sometimes)

    def _next_key(self, rng):
        with self._lock:
            gen = self._issued // self.rotate_every
            self._issued += 1
        return b"%s%d.%d" % (self.key_prefix, gen, rng.randrange(self.n_keys))

    def _client(self, idx, seed):
        rng = random.Random(seed)
        cid = self.first_client_id + idx
        home = idx % len(self.endpoints)
        away = home
        conns = {}
        target = home
        n = 0
        try:
            while not self._stop.is_set():
                key = self._next_key(rng)
                r = rng.random()
                n += 1
                value = b"c%d.%d" % (cid, n)
                if r < self.mix[0]:
                    op = Op(cid, "get", key)
                elif r < self.mix[1]:
                    op = Op(cid, "put", key, value)
                elif r < self.mix[2]:
                    with self._lock:
                        last = self._last.get(key)
                    op = Op(cid, "cas", key, value, last if rng.random() < 0.8 else None)
                else:
                    op = Op(cid, "del", key)
                conn = conns.get(target)
                if conn is None:
                    conn = conns[target] = Conn(self.ctx, self.endpoints[target])
                perform(conn, op, self.timeout)
                self.history.add(op)
                if op.outcome == "ok":
                    with self._lock:
                        if op.kind in ("put",) or (op.kind == "cas" and op.succeeded):
                            self._last[key] = op.value
                        elif op.kind == "get":
                            self._last[key] = op.value
                        elif op.kind == "del":
                            self._last[key] = None
                # Each client keeps coming back to its home node (so clients
                # stay on both sides of a partition and hit a paused node
                # again when it resumes); after a failure at home the next
                # operation goes to another node, in turn.
                if op.outcome != "ok":
                    conn.close()
                    self._stop.wait(0.02)
                if target == home and op.outcome != "ok" and len(self.endpoints) > 1:
                    away = (away + 1) % len(self.endpoints)
                    if away == home:
                        away = (away + 1) % len(self.endpoints)
                    target = away
                else:
                    target = home
        finally:
            for conn in conns.values():
                conn.close()

    def start(self):
        for i in range(self.n):
            t = threading.Thread(target=self._client, args=(i, self.rng.getrandbits(64)),
                                 name="recorder-%d" % i, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)
        self._threads = []
