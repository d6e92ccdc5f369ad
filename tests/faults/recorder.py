"""Concurrent recording clients for Jepsen-style tests.

Each client is one thread issuing one operation at a time (get, put, delete,
cas, txn, delete by prefix, put with a lease) over its own ZeroMQ REQ
socket, starting at its own node. Every
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
history stays small for the checker. The keys of a generation are split into
groups of `group_size` ("f<gen>.<group>.<i>"): a txn compares one key of a
group and on success writes two (so the checker searches a group as one
component), a delp deletes the group's prefix "f<gen>.<group>.". A leased put
attaches its key to the client's lease, granted once with a TTL far longer
than any scenario (LEASE_TTL_MS), so no key is ever deleted by an expiry and
the checker models it as a plain put.
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
# A put attached to a lease that does not exist is refused, nothing written.
DEFINITE_LEASED_PUT_ERRORS = DEFINITE_WRITE_ERRORS + ("not_found",)

# Ten minutes: a scenario, soak runs included, ends long before, so no lease
# expires and leased keys behave as plain puts (the recorder never revokes).
LEASE_TTL_MS = 600000


def hexs(b):
    return "-" if b is None else "x" + b.hex()


class TxnStep:
    """One operation of a txn branch: kind get | put | del. After the reply,
    `out` is the value read (get; None = absent) or whether the key existed
    (del), and `known` says whether it is known."""
    __slots__ = ("kind", "key", "value", "out", "known")

    def __init__(self, kind, key, value=None):
        self.kind = kind
        self.key = key
        self.value = value
        self.out = None
        self.known = False

    def request(self):
        if self.kind == "put":
            return {"op": "put", "key": self.key, "value": self.value}
        return {"op": "get" if self.kind == "get" else "delete", "key": self.key}

    def field(self, ran):
        if self.kind == "put":
            return "put:%s:%s" % (hexs(self.key), hexs(self.value))
        if not (ran and self.known):
            return "%s:%s:?" % (self.kind, hexs(self.key))
        if self.kind == "get":
            return "get:%s:%s" % (hexs(self.key), hexs(self.out))
        return "del:%s:%s" % (hexs(self.key), "1" if self.out else "0")


class Op:
    __slots__ = ("client", "kind", "key", "value", "expected", "succeeded", "outcome",
                 "call", "ret", "error", "node", "revision", "lease", "deleted",
                 "compares", "success", "failure", "meta")

    def __init__(self, client, kind, key, value=None, expected=None, lease=None):
        self.client = client
        self.kind = kind  # get | put | del | cas | delp (key = the prefix) | txn
        self.key = key
        self.value = value
        self.expected = expected
        self.lease = lease  # put: the lease attached (recorded as a plain put)
        self.succeeded = None
        self.deleted = None  # delp: how many keys it deleted
        self.compares = []  # txn: (key, value or None = absent)
        self.success = []  # txn: TxnStep
        self.failure = []
        self.outcome = "unknown"
        self.call = 0
        self.ret = None
        self.error = None
        self.node = None
        self.revision = None
        self.meta = None  # an ok get of a present key: (create_revision, mod_revision, version)

    def keys(self):
        """The keys this op names (a delp's prefix is not a key)."""
        if self.kind == "delp":
            return []
        if self.kind == "txn":
            return [k for k, _ in self.compares] + [t.key for t in self.success + self.failure]
        return [self.key]

    def line(self):
        ret = "-" if self.ret is None else str(self.ret)
        if self.outcome == "unknown":
            ret = "-"  # may take effect any time after its call
        ok = self.outcome == "ok"
        if self.kind == "txn":
            known = ok and self.succeeded is not None

            def branch(steps, ran):
                return ",".join(t.field(ran) for t in steps) or "-"
            compares = ",".join("%s=%s" % (hexs(k), hexs(v)) for k, v in self.compares) or "-"
            return "%d txn %s %s %s %s %s %d %s" % (
                self.client, compares, branch(self.success, known and self.succeeded),
                branch(self.failure, known and not self.succeeded),
                "-" if not known else ("1" if self.succeeded else "0"),
                self.outcome, self.call, ret)
        value = self.value
        succeeded = self.succeeded
        if not ok:
            succeeded = None
            if self.kind == "get":
                value = None
        if self.kind in ("del", "delp"):
            value = None
        if self.kind == "delp":
            succeeded_field = str(self.deleted) if ok and self.deleted is not None else "-"
        else:
            succeeded_field = "-" if succeeded is None else ("1" if succeeded else "0")
        return "%d %s %s %s %s %s %s %d %s" % (
            self.client, self.kind, hexs(self.key), hexs(value),
            hexs(self.expected) if self.kind == "cas" else "-",
            succeeded_field, self.outcome, self.call, ret)


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

    def kinds(self):
        """How many ops of each kind (a leased put counts as "lease_put")."""
        c = {}
        for op in self.ops():
            kind = "lease_put" if op.kind == "put" and op.lease else op.kind
            c[kind] = c.get(kind, 0) + 1
        return c

    def metadata_problems(self):
        """Key metadata checked against the writes (values are unique per
        write): a get that read value v must report, as mod_revision, the
        revision the write of v committed at when its reply said, and
        create_revision <= mod_revision <= the read's revision, version >= 1.
        The linearizability checker models values only."""
        written = {}
        for op in self.ops():
            if op.outcome != "ok" or op.revision is None:
                continue
            if op.kind == "put" or (op.kind == "cas" and op.succeeded):
                written[(op.key, op.value)] = op.revision
            elif op.kind == "txn":
                for step in op.success if op.succeeded else op.failure:
                    if step.kind == "put":
                        written[(step.key, step.value)] = op.revision
        problems = []
        for op in self.ops():
            if op.meta is None:
                continue
            create, mod, version = op.meta
            expected = written.get((op.key, op.value))
            if not (isinstance(create, int) and isinstance(mod, int) and isinstance(version, int)):
                problems.append("get %r: metadata missing: %r" % (op.key, op.meta))
            elif expected is not None and mod != expected:
                problems.append("get %r read %r with mod_revision %d; that write committed at %d"
                                % (op.key, op.value, mod, expected))
            elif not (0 < create <= mod <= op.revision) or version < 1:
                problems.append("get %r at revision %s: create_revision %d, mod_revision %d, "
                                "version %d are inconsistent"
                                % (op.key, op.revision, create, mod, version))
        return problems

    def keys(self):
        seen = []
        known = set()
        for op in self.ops():
            for key in op.keys():
                if key not in known:
                    known.add(key)
                    seen.append(key)
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
            f.write("# op# | history line | node revision error lease\n")
            for i, op in enumerate(self.ops()):
                f.write("%d | %s | %s rev=%s err=%s%s\n" % (
                    i, op.line(), op.node, op.revision, op.error,
                    " lease=%d" % op.lease if op.lease else ""))


# A secured cluster (scenarios.FaultCluster(secure=True)): every Conn's
# socket is a CURVE client with this (public, secret, server public) key.
CURVE = None


def curve_client(sock):
    """Makes sock a CURVE client of a secured cluster (no-op otherwise)."""
    if CURVE is not None:
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = CURVE


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
            curve_client(self.sock)
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


def _request(op):
    if op.kind == "get":
        return {"op": "get", "key": op.key}
    if op.kind == "put":
        req = {"op": "put", "key": op.key, "value": op.value}
        if op.lease:
            req["lease"] = op.lease
        return req
    if op.kind == "del":
        return {"op": "delete", "key": op.key}
    if op.kind == "delp":
        return {"op": "delete", "prefix": op.key}
    if op.kind == "txn":
        compare = []
        for key, value in op.compares:
            if value is None:
                compare.append({"key": key, "target": "exists", "result": "eq", "exists": False})
            else:
                compare.append({"key": key, "target": "value", "result": "eq", "value": value})
        return {"op": "txn", "compare": compare, "success": [t.request() for t in op.success],
                "failure": [t.request() for t in op.failure]}
    return {"op": "cas", "key": op.key, "expected": op.expected, "value": op.value}


def _txn_outputs(op, rep):
    """Fills the outputs of the branch that ran from the txn's responses."""
    op.succeeded = bool(rep.get("succeeded"))
    steps = op.success if op.succeeded else op.failure
    responses = rep.get("responses") or []
    if len(responses) != len(steps):
        op.error = "txn: %d responses for %d operations" % (len(responses), len(steps))
        return
    for step, r in zip(steps, responses):
        if step.kind == "get":
            step.out, step.known = r.get("value"), True
        elif step.kind == "del":
            step.out, step.known = bool(r.get("deleted")), True


def perform(conn, op, timeout):
    """Runs op once over conn, filling in times and outcome."""
    req = _request(op)
    op.node = conn.endpoint
    op.call = time.monotonic_ns()
    rep = conn.call(req, timeout)
    op.ret = time.monotonic_ns()
    reads_only = op.kind == "get" or (
        op.kind == "txn" and all(t.kind == "get" for t in op.success + op.failure))
    if rep is None:
        op.outcome, op.error = "unknown", "no reply"
    elif rep.get("ok") is True:
        op.outcome = "ok"
        op.revision = rep.get("revision")
        if op.kind == "get":
            op.value = rep.get("value")
            if op.value is not None:
                op.meta = (rep.get("create_revision"), rep.get("mod_revision"), rep.get("version"))
        elif op.kind in ("cas", "del"):
            op.succeeded = bool(rep.get("succeeded"))
        elif op.kind == "delp":
            op.deleted = int(rep.get("deleted", 0))
            if rep.get("more"):
                # Not every key of the prefix was deleted: the checker's delp
                # cannot say so. The recorder's prefixes hold a few keys.
                op.error = "more: the delp left keys of its prefix"
        elif op.kind == "txn":
            _txn_outputs(op, rep)
    else:
        op.error = str(rep.get("error"))
        definite = DEFINITE_LEASED_PUT_ERRORS if op.lease else DEFINITE_WRITE_ERRORS
        if reads_only:
            op.outcome = "failed"  # a read that did not answer has no effect
        elif op.error in definite:
            op.outcome = "failed"
        else:
            op.outcome = "unknown"
    return op


def grant_lease(conn, timeout, ttl_ms=LEASE_TTL_MS):
    """A new lease's id, or None when the grant failed or its outcome is
    unknown (a lease granted unseen holds no key, so it does not matter)."""
    rep = conn.call({"op": "lease_grant", "ttl_ms": ttl_ms}, timeout)
    if rep is not None and rep.get("ok") is True and rep.get("lease"):
        return int(rep["lease"])
    return None


class Recorder:
    """n client threads over `endpoints`: client i's home is endpoint i mod
    len; after a failed operation there, its next operation goes to another
    endpoint (in turn), then it returns home.

    mix: weights of get, put, cas, delete, txn, delete by prefix and leased
    put (a shorter tuple leaves the kinds after it out)."""

    def __init__(self, ctx, endpoints, clients=4, keys=8, rotate_every=200, timeout=1.0,
                 seed=None, history=None, first_client_id=1, key_prefix=b"f",
                 mix=(0.36, 0.20, 0.20, 0.08, 0.08, 0.03, 0.05), group_size=2):
        self.ctx = ctx
        self.endpoints = list(endpoints)
        self.n = clients
        self.n_keys = keys
        self.group_size = max(1, min(group_size, keys))
        self.rotate_every = rotate_every
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.history = history or History()
        self.first_client_id = first_client_id
        self.key_prefix = key_prefix
        mix = tuple(mix) + (0.0,) * (7 - len(mix))
        total = float(sum(mix))
        self.mix = [sum(mix[:i + 1]) / total for i in range(len(mix))]
        self._stop = threading.Event()
        self._threads = []
        self._issued = 0
        self._lock = threading.Lock()
        self._last = {}  # key -> a value recently written/read (makes cas succeed sometimes)

    def _next_slot(self, rng):
        with self._lock:
            gen = self._issued // self.rotate_every
            self._issued += 1
        return gen, rng.randrange(self.n_keys)

    def _key(self, gen, k):
        return b"%s%d.%d.%d" % (self.key_prefix, gen, k // self.group_size, k % self.group_size)

    def _group_prefix(self, gen, k):
        return b"%s%d.%d." % (self.key_prefix, gen, k // self.group_size)

    def _partner(self, gen, k):
        """Another key of k's group (k itself when groups have one key)."""
        base = k - k % self.group_size
        size = min(self.group_size, self.n_keys - base)
        return self._key(gen, base + (k - base + 1) % size)

    def _last_value(self, key):
        with self._lock:
            return self._last.get(key)

    def _make_op(self, rng, cid, value):
        """A new op, and whether it is a put to attach to the client's lease."""
        gen, k = self._next_slot(rng)
        key = self._key(gen, k)
        r = rng.random()
        if r < self.mix[0]:
            return Op(cid, "get", key), False
        if r < self.mix[1]:
            return Op(cid, "put", key, value), False
        if r < self.mix[2]:
            last = self._last_value(key)
            return Op(cid, "cas", key, value, last if rng.random() < 0.8 else None), False
        if r < self.mix[3]:
            return Op(cid, "del", key), False
        if r < self.mix[4]:
            # Compare one key; success: write it and its partner; failure:
            # read the partner.
            other = self._partner(gen, k)
            op = Op(cid, "txn", key)
            last = self._last_value(key)
            op.compares = [(key, last if rng.random() < 0.8 else None)]
            op.success = [TxnStep("put", key, value)]
            if other != key:
                op.success.append(TxnStep("put", other, value))
            op.failure = [TxnStep("get", other)]
            return op, False
        if r < self.mix[5]:
            return Op(cid, "delp", self._group_prefix(gen, k)), False
        return Op(cid, "put", key, value), True

    def _remember(self, op):
        """Keeps the values last seen, so that cas and txn compares hold
        sometimes."""
        if op.outcome != "ok":
            return
        with self._lock:
            if op.kind in ("put", "get") or (op.kind == "cas" and op.succeeded):
                self._last[op.key] = op.value
            elif op.kind == "del":
                self._last[op.key] = None
            elif op.kind == "delp":
                for key in list(self._last):
                    if key.startswith(op.key):
                        self._last[key] = None
            elif op.kind == "txn" and op.succeeded is not None:
                for step in op.success if op.succeeded else op.failure:
                    if step.kind == "put":
                        self._last[step.key] = step.value
                    elif step.known:
                        self._last[step.key] = step.out if step.kind == "get" else None

    def _client(self, idx, seed):
        rng = random.Random(seed)
        cid = self.first_client_id + idx
        home = idx % len(self.endpoints)
        away = home
        conns = {}
        target = home
        n = 0
        lease = None  # this client's lease, granted at its first leased put
        try:
            while not self._stop.is_set():
                n += 1
                value = b"c%d.%d" % (cid, n)
                conn = conns.get(target)
                if conn is None:
                    conn = conns[target] = Conn(self.ctx, self.endpoints[target])
                op, leased = self._make_op(rng, cid, value)
                ok = True
                if leased and lease is None:
                    lease = grant_lease(conn, self.timeout)
                    ok = lease is not None  # if not: no history entry, no put
                if ok:
                    op.lease = lease if leased else None
                    perform(conn, op, self.timeout)
                    self.history.add(op)
                    if op.lease and op.error == "not_found":
                        lease = None  # gone (it should not be, within its TTL): grant another
                    self._remember(op)
                    ok = op.outcome == "ok"
                # Each client keeps coming back to its home node (so clients
                # stay on both sides of a partition and hit a paused node
                # again when it resumes); after a failure at home the next
                # operation goes to another node, in turn.
                if not ok:
                    conn.close()
                    self._stop.wait(0.02)
                if target == home and not ok and len(self.endpoints) > 1:
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
