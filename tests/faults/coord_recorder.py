"""Recording clients for the coordination primitives (PROTOCOL.md section 9,
"Coordination: locks, elections and queues"), checked by coord_checks.py.

Like recorder.py: every client is a thread issuing one operation at a time
over its own ZeroMQ REQ socket (raw msgpack requests), starting at its home
node and moving to another node after a failure. Every request is sent once
with a timeout (a client that needs an answer sends the request again, as
PROTOCOL.md says, and each try is recorded); call and return times come from
time.monotonic_ns(); the outcome is

    ok       the node answered ok=true (the output is known)
    failed   a definite error: the request was not carried out (see below)
    unknown  no answer in time, `timeout`, or any other error

Records are dicts (the format is described in coord_checks.py), written as
JSON lines.

Clients:
  MutexClient("lock")      lease kept alive by a LeaseKeeper thread; loops
                           lock(name, lease, wait_ms) -> use the name's
                           FencedResource with the token -> unlock
  MutexClient("campaign")  the same with campaign / proclaim / resign
  Observer                 leader(name) reads
  Producer                 queue_put with a session: a try whose answer was
                           lost is sent again with the SAME session and seq
                           until an ok answer; values are unique
  Consumer                 queue_get(wait_ms, visibility_ms), then mostly
                           queue_ack, sometimes a negative ack (lease_revoke
                           of the receipt), sometimes nothing (the item comes
                           back once its visibility runs out)
  CoordRecorder.drain()    at the end, on a healed cluster: consumes until
                           queue_len says empty (items 0, in_flight 0)
"""

import json
import random
import threading
import time

import recorder

MS = 1000000

# The node answers `timeout` after this (per request, PROTOCOL.md
# section 3); for waiting ops it counts from the end of the wait.
REQUEST_TIMEOUT_MS = 1000

# Errors meaning "not carried out" (recorder.DEFINITE_WRITE_ERRORS has the
# reasons), plus not_found (no such lease: nothing done) and queue_full.
DEFINITE = recorder.DEFINITE_WRITE_ERRORS + ("not_found",)
DEFINITE_PUT = recorder.DEFINITE_WRITE_ERRORS + ("queue_full",)
# Waiting ops (lock, campaign, queue_get) are held by a node after their
# entry committed. The node never answers them `no_leader` or `unavailable`
# once they took effect (node/node_waits.cc: a wait that ends where the
# waiter cannot be taken out of the queue is answered `timeout`; a woken
# queue_get that is no longer at the leader is answered `unavailable` with
# nothing delivered), so the same errors as for writes are definite. If that
# were not so, the lock token-order and queue FIFO checks could report it.
DEFINITE_WAITING = DEFINITE
# Errors that do not make the client move to another node.
ANSWERS = ("not_found", "queue_full", "bad_request", "stale_session", "session_expired")

REPLY_FIELDS = ("revision", "succeeded", "token", "item", "receipt", "items", "in_flight",
                "bytes", "ttl_ms", "remaining_ms")


def _s(b):
    if b is None:
        return None
    if isinstance(b, bytes):
        return b.decode("latin-1")
    return str(b)


class CoordHistory:
    def __init__(self):
        self._ops = []
        self._lock = threading.Lock()

    def add(self, rec):
        with self._lock:
            self._ops.append(rec)

    def ops(self):
        with self._lock:
            return list(self._ops)

    def write(self, path):
        with open(path, "w") as f:
            f.write("# coord history: one JSON record per line (coord_checks.py)\n")
            for rec in self.ops():
                f.write(json.dumps(rec, sort_keys=True) + "\n")


class Targets:
    """The endpoint a client uses: home, and after a failure the next node
    in turn for one operation (as recorder.Recorder does)."""

    def __init__(self, ctx, endpoints, home):
        self.ctx = ctx
        self.endpoints = list(endpoints)
        self.home = home % len(self.endpoints)
        self.away = self.home
        self.target = self.home
        self.conns = {}

    def conn(self):
        c = self.conns.get(self.target)
        if c is None:
            c = self.conns[self.target] = recorder.Conn(self.ctx, self.endpoints[self.target])
        return c

    def done(self, ok):
        if not ok:
            self.conn().close()
        if self.target == self.home and not ok and len(self.endpoints) > 1:
            self.away = (self.away + 1) % len(self.endpoints)
            if self.away == self.home:
                self.away = (self.away + 1) % len(self.endpoints)
            self.target = self.away
        else:
            self.target = self.home

    def close(self):
        for c in self.conns.values():
            c.close()


def run_op(tg, history, client, kind, req, definite, timeout=None, **fields):
    """Sends req once at tg's node; records and returns the record."""
    req = dict(req)
    req.setdefault("timeout_ms", REQUEST_TIMEOUT_MS)
    if timeout is None:
        timeout = (req.get("wait_ms", 0) + req["timeout_ms"]) / 1000.0 + 0.5
    conn = tg.conn()
    rec = {"kind": kind, "client": client, "node": conn.endpoint}
    rec.update(fields)
    if req.get("wait_ms") is not None:
        rec["wait_ms"] = req["wait_ms"]
    rec["call"] = time.monotonic_ns()
    rep = conn.call(req, timeout)
    rec["ret"] = time.monotonic_ns()
    if rep is None:
        rec["outcome"], rec["error"] = "unknown", "no reply"
    elif rep.get("ok") is True:
        rec["outcome"] = "ok"
        for k in REPLY_FIELDS:
            if k in rep:
                rec[k] = rep[k]
        if "value" in rep:
            rec["value"] = _s(rep["value"])
        if "key" in rep and isinstance(rep["key"], bytes):
            rec["key"] = rep["key"].hex()
        if "lease" in rep and kind in ("lease_grant", "keepalive"):
            rec["lease"] = rep["lease"]
    else:
        rec["error"] = str(rep.get("error"))
        rec["message"] = _s(rep.get("message"))
        rec["outcome"] = "failed" if rec["error"] in definite else "unknown"
    history.add(rec)
    tg.done(rec["outcome"] == "ok" or rec.get("error") in ANSWERS)
    return rec


class FencedResource:
    """A resource that accepts an access only with a token at least the
    highest it has seen; records every access (in its own order)."""

    def __init__(self, name, history):
        self.name = name
        self.history = history
        self._lock = threading.Lock()
        self.highest = None
        self.order = 0

    def access(self, client, lease, token):
        with self._lock:
            t = time.monotonic_ns()
            accepted = self.highest is None or token >= self.highest
            if accepted:
                self.highest = token
            self.order += 1
            self.history.add({"kind": "access", "name": self.name, "client": client,
                              "lease": lease, "token": token, "time": t,
                              "accepted": accepted, "order": self.order})
        return accepted


class LeaseKeeper:
    """Keeps one client's current lease alive from a thread of its own (the
    client itself may be blocked in a waiting lock): a keepalive every
    ttl/3, and every 100 ms after one that was not answered ok."""

    def __init__(self, ctx, endpoints, home, history, client, ttl_ms, stop):
        self.tg = Targets(ctx, endpoints, home + 1)
        self.history = history
        self.client = client
        self.ttl_ms = ttl_ms
        self.stop = stop
        self._lease = None
        self._lock = threading.Lock()
        self.gone = set()  # leases answered not_found
        self.thread = threading.Thread(target=self._run, name="keeper-%d" % client, daemon=True)

    def set(self, lease):
        with self._lock:
            self._lease = lease

    def _run(self):
        try:
            while not self.stop.is_set():
                with self._lock:
                    lease = self._lease
                if lease is None:
                    self.stop.wait(0.05)
                    continue
                rec = run_op(self.tg, self.history, self.client, "keepalive",
                             {"op": "lease_keepalive", "lease": lease}, DEFINITE,
                             timeout=0.8, lease=lease)
                if rec["outcome"] == "ok":
                    self.stop.wait(self.ttl_ms / 3000.0)
                else:
                    if rec.get("error") == "not_found":
                        with self._lock:
                            self.gone.add(lease)
                            if self._lease == lease:
                                self._lease = None
                    self.stop.wait(0.1)
        finally:
            self.tg.close()


class MutexClient:
    """A lock client (mode "lock": lock/unlock, uses the fenced resources)
    or a campaigner (mode "campaign": campaign/proclaim/resign)."""

    def __init__(self, rec, client, home, mode, names, seed):
        self.r = rec
        self.client = client
        self.mode = mode
        self.names = names
        self.rng = random.Random(seed)
        self.tg = Targets(rec.ctx, rec.endpoints, home)
        self.keeper = LeaseKeeper(rec.ctx, rec.endpoints, home, rec.history, client,
                                  rec.ttl_ms, rec.keeper_stop)
        self.lease = None
        self.n = 0
        # Only the first client of each kind stalls (once), so that the
        # others keep the lock busy.
        self.stalled = client not in (1, 11) or rec.stall_after_s is None
        self.acquire = "lock" if mode == "lock" else "campaign"
        self.release = "unlock" if mode == "lock" else "resign"

    def op(self, kind, req, definite, **fields):
        return run_op(self.tg, self.r.history, self.client, kind, req, definite, **fields)

    def get_lease(self):
        while self.lease is None and not self.r.stop.is_set():
            rec = self.op("lease_grant", {"op": "lease_grant", "ttl_ms": self.r.ttl_ms}, DEFINITE,
                          ttl_ms=self.r.ttl_ms)
            if rec["outcome"] == "ok" and rec.get("lease"):
                self.lease = rec["lease"]
                self.keeper.set(self.lease)
            else:
                self.r.stop.wait(0.1)
        return self.lease

    def drop_lease(self):
        """Revokes the lease (best effort, recorded) and forgets it."""
        if self.lease is not None:
            self.keeper.set(None)
            self.op("revoke", {"op": "lease_revoke", "lease": self.lease}, DEFINITE,
                    lease=self.lease)
            self.lease = None

    def release_name(self, name):
        """Unlocks/resigns until a definite answer (a few tries); after an
        unknown answer the lease is replaced (a late release could hit a
        later grant of the same lease)."""
        doubtful = False
        for _ in range(6):
            rec = self.op(self.release, {"op": self.release, "name": name.encode(),
                                         "lease": self.lease}, DEFINITE,
                          name=name, lease=self.lease)
            if rec["outcome"] == "ok" or rec.get("error") == "not_found":
                break
            if rec["outcome"] == "unknown":
                doubtful = True
            time.sleep(0.05)
        else:
            doubtful = True
        if doubtful:
            self.drop_lease()

    def stall(self):
        """Once, at the first hold after stall_after_s: behave like a holder
        that was paused past its lease (a GC pause, a stopped VM): no
        keepalives for the TTL and a bit, then go on using the grant. The lease expires, the lock
        passes to a waiter, and the fenced resource must refuse this holder's
        token once it saw the newer one. Returns True when it stalled."""
        if self.stalled or time.monotonic() < self.r.started_at + self.r.stall_after_s:
            return False
        self.stalled = True
        self.keeper.set(None)
        time.sleep(self.r.ttl_ms / 1000.0 + 0.7)
        return True

    def hold(self, name, token):
        stalled = self.stall()
        if self.mode == "lock":
            res = self.r.resources[name]
            for _ in range(self.rng.randint(1, 2)):
                time.sleep(self.rng.uniform(0.0, 0.04))
                res.access(self.client, self.lease, token)
        else:
            time.sleep(self.rng.uniform(0.02, 0.15))
            if self.rng.random() < 0.5:
                self.op("proclaim", {"op": "proclaim", "name": name.encode(), "lease": self.lease,
                                     "value": b"e%d.%d.p1" % (self.client, self.n)}, DEFINITE,
                        name=name, lease=self.lease, value="e%d.%d.p1" % (self.client, self.n))
                time.sleep(self.rng.uniform(0.02, 0.1))
        time.sleep(self.rng.uniform(0.0, 0.03))
        return stalled

    def run(self):
        self.keeper.thread.start()
        try:
            while not self.r.stop.is_set():
                if self.get_lease() is None:
                    break
                self.n += 1
                name = self.rng.choice(self.names)
                wait_ms = 0 if self.rng.random() < 0.2 else self.r.wait_ms
                value = b"%s%d.%d" % (b"c" if self.mode == "lock" else b"e", self.client, self.n)
                granted = None
                # A lock whose answer was lost is sent again (it finds its
                # place or its grant); after 3 lost answers, release.
                lost = False
                for attempt in range(3):
                    rec = self.op(self.acquire, {"op": self.acquire, "name": name.encode(),
                                                 "lease": self.lease, "wait_ms": wait_ms,
                                                 "value": value},
                                  DEFINITE_WAITING, name=name, lease=self.lease,
                                  value=_s(value))
                    if rec["outcome"] != "unknown":
                        break
                    lost = True
                if rec["outcome"] == "ok" and rec.get("succeeded") and rec.get("token") is not None:
                    granted = rec["token"]
                elif rec.get("error") == "not_found":
                    self.keeper.set(None)
                    self.lease = None
                    continue
                elif rec["outcome"] == "unknown" or lost:
                    # It may wait (or hold) unseen: take it out.
                    self.release_name(name)
                    continue
                else:
                    self.r.stop.wait(0.02)
                    continue
                if self.hold(name, granted):
                    # The lease has most likely expired: release (not_found
                    # or succeeded false) and start over with a new lease.
                    self.release_name(name)
                    self.drop_lease()
                    continue
                self.release_name(name)
        finally:
            self.tg.close()


class Observer:
    def __init__(self, rec, client, home, names, seed):
        self.r = rec
        self.client = client
        self.names = names
        self.rng = random.Random(seed)
        self.tg = Targets(rec.ctx, rec.endpoints, home)

    def run(self):
        try:
            while not self.r.stop.is_set():
                name = self.rng.choice(self.names)
                rec = run_op(self.tg, self.r.history, self.client, "leader",
                             {"op": "leader", "name": name.encode()},
                             ("bad_request", "too_large", "no_leader", "unavailable", "timeout",
                              "not_found", "overloaded"), name=name)
                if rec["outcome"] == "ok" and "token" not in rec:
                    rec["token"] = None
                self.r.stop.wait(0.01 if rec["outcome"] == "ok" else 0.05)
        finally:
            self.tg.close()


class Producer:
    def __init__(self, rec, client, home, seed):
        self.r = rec
        self.client = client
        self.rng = random.Random(seed)
        self.tg = Targets(rec.ctx, rec.endpoints, home)
        self.session = self.rng.getrandbits(62) + 1
        self.seq = 0

    def put(self, value, give_up):
        """One logical put: the same (session, seq) until an ok answer."""
        self.seq += 1
        logical = {"kind": "qput", "client": self.client, "queue": self.r.queue,
                   "value": _s(value), "session": self.session, "seq": self.seq}
        outcomes = []
        first = None
        while True:
            rec = run_op(self.tg, self.r.history, self.client, "qput_try",
                         {"op": "queue_put", "queue": self.r.queue.encode(), "value": value,
                          "session": self.session, "seq": self.seq}, DEFINITE_PUT,
                         queue=self.r.queue, value=_s(value), session=self.session, seq=self.seq)
            first = rec["call"] if first is None else first
            outcomes.append(rec["outcome"])
            if rec["outcome"] == "ok" or rec.get("error") in ("stale_session", "session_expired",
                                                             "bad_request", "too_large"):
                break
            if time.monotonic() > give_up():
                break
            time.sleep(0.05)
        logical.update(call=first, ret=rec["ret"], tries=len(outcomes), error=rec.get("error"))
        if rec["outcome"] == "ok":
            logical["outcome"] = "ok"
            logical["item"] = rec.get("item")
            logical["revision"] = rec.get("revision")
        elif all(o == "failed" for o in outcomes):
            logical["outcome"] = "failed"
        else:
            logical["outcome"] = "unknown"
        self.r.history.add(logical)
        if rec.get("error") in ("stale_session", "session_expired"):
            self.session = self.rng.getrandbits(62) + 1
            self.seq = 0
        return logical

    def run(self):
        n = 0
        try:
            while not self.r.stop.is_set():
                n += 1
                self.put(b"p%d.%d" % (self.client, n),
                         lambda: (self.r.stopped_at or float("inf")) + 8.0)
                self.r.stop.wait(self.rng.uniform(0.0, 0.03))
        finally:
            self.tg.close()


class Consumer:
    def __init__(self, rec, client, home, seed, behave=True):
        self.r = rec
        self.client = client
        self.rng = random.Random(seed)
        self.tg = Targets(rec.ctx, rec.endpoints, home)
        self.behave = behave  # False: drops and nacks some deliveries
        self.session = self.rng.getrandbits(62) + 1
        self.seq = 0

    def get(self, wait_ms):
        return run_op(self.tg, self.r.history, self.client, "qget",
                      {"op": "queue_get", "queue": self.r.queue.encode(), "wait_ms": wait_ms,
                       "visibility_ms": self.r.visibility_ms}, DEFINITE_WAITING,
                      queue=self.r.queue, visibility_ms=self.r.visibility_ms)

    def ack(self, rec):
        """Acks until a definite answer (a few tries, same receipt). The
        tries carry one (session, seq): if the node applies sessions to
        queue_ack (PROTOCOL.md documents them for queue_put), a retry gets
        the first try's answer; if not, a retry of an applied ack answers
        succeeded false, and the checker counts the item as uncertain, not
        lost (it judges each try on its own outcome)."""
        self.seq += 1
        for _ in range(5):
            a = run_op(self.tg, self.r.history, self.client, "qack",
                       {"op": "queue_ack", "queue": self.r.queue.encode(), "item": rec["item"],
                        "receipt": rec["receipt"], "session": self.session, "seq": self.seq},
                       DEFINITE, queue=self.r.queue, item=rec["item"], receipt=rec["receipt"],
                       session=self.session, seq=self.seq)
            if a["outcome"] == "ok" or a.get("error") in ANSWERS:
                return a
            time.sleep(0.05)
        return a

    def handle(self, rec):
        r = self.rng.random()
        if self.behave or r < 0.85:
            time.sleep(self.rng.uniform(0.0, 0.02))
            self.ack(rec)
        elif r < 0.92:
            run_op(self.tg, self.r.history, self.client, "qnack",
                   {"op": "lease_revoke", "lease": rec["receipt"]}, DEFINITE,
                   queue=self.r.queue, item=rec["item"], receipt=rec["receipt"])
        # else: dropped; it comes back after its visibility

    def run(self):
        try:
            while not self.r.stop.is_set():
                rec = self.get(self.rng.choice((0, self.r.wait_ms)))
                if rec["outcome"] == "ok" and rec.get("succeeded"):
                    self.handle(rec)
                elif rec["outcome"] != "ok":
                    self.r.stop.wait(0.05)
        finally:
            self.tg.close()


class CoordRecorder:
    """All the coordination clients of one scenario."""

    def __init__(self, ctx, endpoints, seed=None, history=None, lock_clients=3,
                 lock_names=("L0", "L1"), campaigners=2, election_names=("E0",), observers=1,
                 producers=2, consumers=2, ttl_ms=3000, wait_ms=1500, visibility_ms=1500,
                 queue="Q0", stall_after_s=1.0):
        self.ctx = ctx
        self.endpoints = list(endpoints)
        self.rng = random.Random(seed)
        self.history = history or CoordHistory()
        self.ttl_ms = ttl_ms
        self.wait_ms = wait_ms
        self.visibility_ms = visibility_ms
        self.queue = queue
        self.stall_after_s = stall_after_s  # None: no stall
        self.started_at = None
        self.stop = threading.Event()
        self.keeper_stop = threading.Event()
        self.stopped_at = None
        self.resources = {n: FencedResource(n, self.history) for n in lock_names}
        self.clients = []
        e = len(self.endpoints)
        for i in range(lock_clients):
            self.clients.append(MutexClient(self, 1 + i, i % e, "lock", list(lock_names),
                                            self.rng.getrandbits(64)))
        for i in range(campaigners):
            self.clients.append(MutexClient(self, 11 + i, (i + 1) % e, "campaign",
                                            list(election_names), self.rng.getrandbits(64)))
        for i in range(observers):
            self.clients.append(Observer(self, 21 + i, (i + 2) % e, list(election_names),
                                         self.rng.getrandbits(64)))
        for i in range(producers):
            self.clients.append(Producer(self, 31 + i, i % e, self.rng.getrandbits(64)))
        for i in range(consumers):
            self.clients.append(Consumer(self, 41 + i, (i + 1) % e, self.rng.getrandbits(64),
                                         behave=False))
        self.threads = []

    def start(self):
        self.started_at = time.monotonic()
        for c in self.clients:
            t = threading.Thread(target=c.run, name="coord-%d" % c.client, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop_clients(self, timeout=20.0):
        """Stops every client: lock holders release, producers finish their
        put (at most 8 s more), keepalives stop last."""
        self.stopped_at = time.monotonic()
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        self.keeper_stop.set()
        for c in self.clients:
            if isinstance(c, MutexClient):
                c.keeper.thread.join(timeout=2.0)
        alive = [t.name for t in self.threads if t.is_alive()]
        self.threads = []
        return alive

    def drain(self, idle_s=None, cap_s=60.0):
        """Consumes and acks until queue_len answers items 0 and in_flight 0
        (recorded with final=True), or until nothing was delivered for idle_s
        (default: the visibility window + 5 s, so that items in flight come
        back), or cap_s passed. Returns True when drained."""
        idle_s = idle_s if idle_s is not None else self.visibility_ms / 1000.0 + 5.0
        c = Consumer(self, 49, 0, self.rng.getrandbits(64), behave=True)
        cap = time.monotonic() + cap_s
        deadline = min(cap, time.monotonic() + idle_s)
        try:
            while time.monotonic() < deadline:
                rec = c.get(300)
                if rec["outcome"] == "ok" and rec.get("succeeded"):
                    c.ack(rec)
                    deadline = min(cap, time.monotonic() + idle_s)
                    continue
                if rec["outcome"] != "ok":
                    time.sleep(0.05)
                    continue
                ln = run_op(c.tg, self.history, 49, "qlen",
                            {"op": "queue_len", "queue": self.queue.encode()},
                            ("bad_request", "too_large", "no_leader", "unavailable", "timeout",
                             "not_found", "overloaded"), queue=self.queue)
                if ln["outcome"] == "ok" and ln.get("items") == 0 and ln.get("in_flight") == 0:
                    ln["final"] = True
                    return True
            ln = run_op(c.tg, self.history, 49, "qlen",
                        {"op": "queue_len", "queue": self.queue.encode()},
                        ("bad_request", "too_large", "no_leader", "unavailable", "timeout",
                         "not_found", "overloaded"), queue=self.queue)
            ln["final"] = True
            return False
        finally:
            c.tg.close()
