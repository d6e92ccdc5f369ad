"""Checkers for the coordination primitives (PROTOCOL.md section 9,
"Coordination: locks, elections and queues") over histories recorded by
coord_recorder.py on real processes.

Pure functions: a history is a list of dicts (one per operation, plus the
fenced resource's accesses), in any order; every time is a
time.monotonic_ns() value of the test process. Nodes and clients run on one
machine, and the node times leases with its monotonic clock
(std::chrono::steady_clock, CLOCK_MONOTONIC on Linux), the same clock.

Record fields (absent = unknown/not applicable):
  kind     lease_grant | keepalive | revoke              (a lease's life)
           lock | unlock | campaign | resign | proclaim | leader
           qput (one logical put: all its attempts) | qput_try (one attempt)
           qget | qack | qnack (lease_revoke of a receipt) | qlen
           access (the fenced resource: one use of the lock's resource)
  client   int; call, ret: ns; outcome: ok | failed | unknown; error: str
  lease, ttl_ms, name, token, succeeded, value (str), queue, item, receipt,
  visibility_ms, revision, items, in_flight
  access:  name, client, lease, token, time (ns), accepted (bool)

`ok` means the node answered ok=true (the output is known), `failed` a
definite error (the operation was not carried out), `unknown` that it may or
may not have been carried out, at any time after its call.

Every check returns a list of violation strings (empty: passed); check_all
groups them and adds statistics. What each check does and does not check is
said at each function.
"""

import bisect
import collections
import json

MS = 1000000


def _ok(op):
    return op.get("outcome") == "ok"


def _may_have_happened(op):
    return op.get("outcome") in ("ok", "unknown")


# ------------------------------------------------------------------ leases


def lease_alive_until(history):
    """lease id -> the time (ns) until which the lease was certainly alive.

    Derivation (PROTOCOL.md "Leases"): a lease does not expire before ttl_ms
    has passed since its last renewal (grant or keepalive answered ok), timed
    by the leader from when it applied the renewal, a new leader from when
    *it* applied it, a restarted node from its restart: all at or after the
    renewal's call. A renewal answered ok also proves the lease was alive at
    its apply time (>= its call), hence at every earlier time since the
    grant. So the lease was alive throughout [grant, max(call of an ok
    grant/keepalive) + ttl]. A revoke that may have happened (ok or unknown)
    can end it any time after its call: the bound is cut there.
    Leases without an ok grant in the history have no bound (never alive
    for sure)."""
    ttl = {}
    last = {}
    cut = {}
    for op in history:
        k = op.get("kind")
        lease = op.get("lease")
        if not lease:
            continue
        if k == "lease_grant" and _ok(op):
            ttl[lease] = op["ttl_ms"] * MS
            last[lease] = max(last.get(lease, 0), op["call"])
        elif k == "keepalive" and _ok(op):
            last[lease] = max(last.get(lease, 0), op["call"])
        elif k == "revoke" and _may_have_happened(op):
            cut[lease] = min(cut.get(lease, op["call"]), op["call"])
    out = {}
    for lease, t in ttl.items():
        bound = last[lease] + t
        if lease in cut:
            bound = min(bound, cut[lease])
        out[lease] = bound
    return out


# ------------------------------------------------------------------ holds


class Hold:
    """One client's belief that it holds a lock (leads an election):
    from the reply of a grant (start = its ret) to the call of the client's
    next operation on that name (end: an unlock/resign, or another lock)."""
    __slots__ = ("client", "name", "lease", "token", "start", "end", "grant", "protected",
                 "why")

    def __init__(self, grant):
        self.client = grant["client"]
        self.name = grant["name"]
        self.lease = grant["lease"]
        self.token = grant["token"]
        self.start = grant["ret"]
        self.end = None
        self.grant = grant
        self.protected = False
        self.why = ""

    def __repr__(self):
        return "hold(client %d, %s, lease %d, token %d, [%d, %s] ms, %s)" % (
            self.client, self.name, self.lease, self.token, self.start // MS,
            "open" if self.end is None else self.end // MS,
            "protected" if self.protected else "unprotected: " + self.why)


def extract_holds(history, acquire="lock", release="unlock"):
    """The holds of `acquire` grants (ok, succeeded) in the history.

    A hold is "protected" when nothing but a bug could have ended the grant
    before the hold's end:
      - its lease was certainly alive until the end (lease_alive_until), so
        no expiry, and no revoke could have happened before the end;
      - no `release` of that name by that lease with an unknown outcome was
        sent before the hold began (a late one could release it under the
        client's feet; an ok one applied before its reply, a failed one
        never).
    The release that ends the hold applies after its call, i.e. after the
    hold's end. A hold without an end (the client never sent anything on the
    name again) is open and never protected."""
    alive = lease_alive_until(history)
    per = collections.defaultdict(list)
    for op in history:
        if op.get("kind") in (acquire, release) and op.get("name") is not None:
            per[(op["client"], op["name"])].append(op)
    holds = []
    for (client, name), ops in per.items():
        ops.sort(key=lambda o: o["call"])
        unknown_releases = []  # (lease, call)
        for i, op in enumerate(ops):
            if op["kind"] == release and op.get("outcome") == "unknown":
                unknown_releases.append((op.get("lease"), op["call"]))
            if not (op["kind"] == acquire and _ok(op) and op.get("succeeded")):
                continue
            if op.get("token") is None:
                continue
            h = Hold(op)
            nxt = [o for o in ops[i + 1:] if o["call"] >= h.start]
            if nxt:
                h.end = nxt[0]["call"]
            if h.end is None:
                h.why = "open (no later operation on the name)"
            elif alive.get(h.lease) is None:
                h.why = "lease %d has no ok grant in the history" % h.lease
            elif alive[h.lease] < h.end:
                h.why = "lease %d certainly alive only until %d ms" % (h.lease,
                                                                       alive[h.lease] // MS)
            elif any(l == h.lease and c < h.start for l, c in unknown_releases):
                h.why = "an earlier %s of lease %d had an unknown outcome" % (release, h.lease)
            else:
                h.protected = True
            holds.append(h)
    return holds


def check_unique_tokens(history, acquire="lock"):
    """Tokens of one name are unique per grant: two different leases are
    never granted the same token of one name. (One lease told the same token
    twice is one grant: a `lock` of a name its lease holds answers the same
    token.) Across names a token may repeat: one expiry can release locks of
    several names and grant their waiters at the same revision."""
    owners = collections.defaultdict(set)
    for op in history:
        if op.get("kind") == acquire and _ok(op) and op.get("succeeded") \
                and op.get("token") is not None:
            owners[(op["name"], op["token"])].add((op["lease"], op["client"]))
    return ["%s %r: token %d granted to several leases (lease, client): %s"
            % (acquire, name, token, sorted(who))
            for (name, token), who in sorted(owners.items()) if len(who) > 1]


def check_token_order(history, acquire="lock"):
    """Tokens of one name strictly increase with each grant, in real time:
    if grant G1 was answered before grant G2 could have been made, then
    token(G1) < token(G2).

    When could G2 (lease L2, token T2) have been made? At or after the call
    of the request that produced it: the acquire answered with it, or an
    earlier acquire of L2 on that name whose outcome was unknown (a late
    one may have been granted meanwhile; ok and failed ones are resolved).
    So the check uses, for G2, the earliest call among those and, for G1,
    its earliest reply. Grants that share (name, lease, token) are one
    grant (a repeated lock of a held name)."""
    by_name = collections.defaultdict(list)
    for op in history:
        if op.get("kind") == acquire and op.get("name") is not None:
            by_name[op["name"]].append(op)
    problems = []
    for name, ops in by_name.items():
        ops.sort(key=lambda o: o["call"])
        first_ret = {}
        earliest = {}
        unknown_calls = collections.defaultdict(list)  # lease -> calls
        for op in ops:
            if op.get("outcome") == "unknown":
                unknown_calls[op.get("lease")].append(op["call"])
            if not (_ok(op) and op.get("succeeded") and op.get("token") is not None):
                continue
            g = (op["lease"], op["token"])
            if g not in first_ret or op["ret"] < first_ret[g][0]:
                first_ret[g] = (op["ret"], op)
            start = min([op["call"]] + [c for c in unknown_calls[op["lease"]] if c < op["call"]])
            if g not in earliest or start < earliest[g]:
                earliest[g] = start
        # For every G2: the highest token among grants answered before its
        # earliest possible start must be lower than its token.
        rets = sorted((r, g[1], g, op) for g, (r, op) in first_ret.items())
        times = [r[0] for r in rets]
        prefix = []
        best = None
        for r in rets:
            if best is None or r[1] > best[1]:
                best = r
            prefix.append(best)
        for g, start in earliest.items():
            i = bisect.bisect_left(times, start) - 1
            if i < 0:
                continue
            r = prefix[i]
            if r[1] >= g[1] and r[2] != g:
                problems.append(
                    "%s %r: token %d (lease %d) was answered at %d ms, before the grant of "
                    "token %d (lease %d) could have been made (%d ms): tokens must increase"
                    % (acquire, name, r[1], r[2][0], r[0] // MS, g[1], g[0], start // MS))
    return problems


def check_grant_sources(history, acquire="lock"):
    """Every grant comes from a request the client may know took effect.
    A grant reply (lease L, name N, token T) whose grant was certainly made
    before the request was sent (some ok reply with revision >= T returned
    before its call: revision T was applied by then) must come from an
    earlier request of L on N: one with an unknown outcome, or one already
    answered with that grant. If every earlier request of L on N was
    answered as not carried out (a definite error, or succeeded false: the
    waiter left the queue), the lock was granted through a request the
    client was told had no effect. (This is what a waiting lock answered
    `unavailable` after its waiter had joined the queue looks like.)
    Not checked: grants whose revision is not known to precede the call."""
    revs = sorted((op["ret"], op["revision"]) for op in history
                  if _ok(op) and isinstance(op.get("revision"), int) and op.get("ret"))
    times = [r[0] for r in revs]
    prefix = []
    best = 0
    for _, rev in revs:
        best = max(best, rev)
        prefix.append(best)
    per = collections.defaultdict(list)
    for op in history:
        if op.get("kind") == acquire and op.get("name") is not None:
            per[(op.get("lease"), op["name"])].append(op)
    problems = []
    for (lease, name), ops in per.items():
        ops.sort(key=lambda o: o["call"])
        for i, r in enumerate(ops):
            if not (_ok(r) and r.get("succeeded") and r.get("token") is not None):
                continue
            k = bisect.bisect_left(times, r["call"]) - 1
            if k < 0 or prefix[k] < r["token"]:
                continue
            earlier = ops[:i]
            if any(o.get("outcome") == "unknown" or (_ok(o) and o.get("succeeded")
                                                     and o.get("token") == r["token"])
                   for o in earlier):
                continue
            problems.append(
                "%s %r: lease %d was told at [%d, %d] ms it holds token %d, granted before that "
                "request was sent (revision %d was applied by then), but every earlier request "
                "of the lease on the name was answered as not carried out: %s" % (
                    acquire, name, lease, r["call"] // MS, r["ret"] // MS, r["token"],
                    prefix[k], ["%s %s" % (o.get("outcome"), o.get("error") or
                                           "succeeded=%s" % o.get("succeeded"))
                                for o in earlier[-3:]] or "none"))
    return problems


def check_exclusive(holds, label="lock"):
    """Mutual exclusion, as far as real time can tell: for two holds of one
    name by different leases, with tokens T1 < T2, if the first is
    protected (its grant could only have ended after its end, see
    extract_holds) then the second began (its grant reply) no earlier than
    the first's end. Sound because grant T2 is only made once T1 was
    released, by its unlock (applied after its call = the end) or its
    lease's expiry (after the end, as it was certainly alive), and the
    reply of T2 comes after its grant.

    Not checked: holds that are not protected (the lease may have expired,
    which legitimately hands the lock on); that the grant went to the first
    waiter (waiting order is not observable from replies alone: arrival
    order is log order, which the client cannot see); holds of the same
    lease (one client, sequential by construction)."""
    by_name = collections.defaultdict(list)
    for h in holds:
        by_name[h.name].append(h)
    problems = []
    for name, hs in by_name.items():
        hs.sort(key=lambda h: h.token)
        for i, h1 in enumerate(hs):
            if not h1.protected:
                continue
            for h2 in hs[i + 1:]:
                if h2.token <= h1.token or h2.lease == h1.lease:
                    continue
                if h2.start < h1.end:
                    problems.append("%s %r: %r began %.1f ms before the end of %r, which has "
                                    "a lower token" % (label, name, h2, (h1.end - h2.start) / MS,
                                                       h1))
    return problems


def check_fencing(history, holds):
    """The fenced resource (one per lock name) accepts an access only if its
    token is at least the highest it has seen. Checked, in the resource's
    own order (the order it recorded accesses, under its mutex):
      - its recorded verdicts follow that rule (accepted tokens never
        decrease; a refusal only with a higher token seen before);
      - an access made inside a protected hold is never refused: the
        resource never sees an older token after a newer one from a holder
        whose grant still stood. (If a newer token T' was used before, its
        grant preceded that use, and T' is granted only after T was released,
        which for a protected hold is after its end, after this access.)
      - every access falls inside a hold of its client with its token.
    Refusals of accesses from unprotected holds are what fencing is for
    (a holder whose lease may have expired): counted, not violations."""
    problems = []
    by_key = collections.defaultdict(list)
    for h in holds:
        by_key[(h.client, h.name, h.token)].append(h)
    per_name = collections.defaultdict(list)
    for op in history:
        if op.get("kind") == "access":
            per_name[op["name"]].append(op)
    for name, accesses in per_name.items():
        accesses.sort(key=lambda a: (a.get("order", 0), a["time"]))
        highest = None
        for a in accesses:
            expected = highest is None or a["token"] >= highest
            if bool(a.get("accepted")) != expected:
                problems.append("resource %r: access %r recorded as %s, the rule says %s" % (
                    name, a, a.get("accepted"), expected))
            inside = [h for h in by_key.get((a["client"], name, a["token"]), ())
                      if h.start <= a["time"] and (h.end is None or a["time"] <= h.end)]
            if not inside:
                problems.append("resource %r: access by client %d with token %d at %d ms is "
                                "inside none of its holds" % (name, a["client"], a["token"],
                                                              a["time"] // MS))
            elif not expected and any(h.protected for h in inside):
                problems.append("resource %r: token %d (client %d) at %d ms refused after token "
                                "%d, though its hold was protected: %r" % (
                                    name, a["token"], a["client"], a["time"] // MS, highest,
                                    [h for h in inside if h.protected][0]))
            if expected:
                highest = a["token"]
    return problems


# ------------------------------------------------------------------ elections


def _owner(value):
    """The campaigner a value names: values are "e<client>.<n>[.p<k>]"."""
    if value is None:
        return None
    return value.split(".")[0]


def check_leader_reads(history):
    """`leader` reads (linearizable) against each other and the campaigns:
      - never backwards: if an observation of leadership T1 (a leader read
        answered with token T1, or a campaign answered with a grant of T1)
        returned before a leader read R2 was called, and R2 names a leader,
        then token(R2) >= T1 (leadership T1 began before R2; an older
        leadership had ended by then, since leaderships of one name do not
        overlap);
      - a read that names a leader with token T carries a value of the
        campaigner that was granted T (values are "e<client>.<n>", a
        proclaim appends ".p<k>"), when that grant's reply is known;
      - a read with a token has a value, and a token only.
    Not checked: reads answered "nobody leads" (a leader may resign or
    expire at any time); which of several proclaimed values a read sees."""
    problems = []
    by_name = collections.defaultdict(list)
    for op in history:
        if op.get("kind") in ("leader", "campaign") and op.get("name") is not None and _ok(op):
            by_name[op["name"]].append(op)
    for name, ops in by_name.items():
        grants = {}
        for op in ops:
            if op["kind"] == "campaign" and op.get("succeeded") and op.get("token") is not None:
                grants.setdefault(op["token"], _owner(op.get("value")))
        obs = sorted((op["ret"], op["token"], op) for op in ops if op.get("token") is not None
                     and (op["kind"] == "leader" or op.get("succeeded")))
        times = [o[0] for o in obs]
        prefix = []
        best = None
        for o in obs:
            if best is None or o[1] > best[1]:
                best = o
            prefix.append(best)
        for op in ops:
            if op["kind"] != "leader":
                continue
            token = op.get("token")
            if token is None:
                if op.get("value") is not None:
                    problems.append("leader %r: value %r without a token at %d ms" % (
                        name, op.get("value"), op["call"] // MS))
                continue
            if op.get("value") is None:
                problems.append("leader %r: token %d without a value at %d ms" % (
                    name, token, op["call"] // MS))
            owner = grants.get(token)
            if owner is not None and _owner(op.get("value")) != owner:
                problems.append("leader %r: token %d read with value %r, but it was granted to "
                                "%s" % (name, token, op.get("value"), owner))
            i = bisect.bisect_left(times, op["call"]) - 1
            if i >= 0 and prefix[i][1] > token:
                o = prefix[i][2]
                problems.append("leader %r: read at [%d, %d] ms saw token %d, but token %d was "
                                "observed (%s, client %d) at %d ms, before the read began" % (
                                    name, op["call"] // MS, op["ret"] // MS, token,
                                    prefix[i][1], o["kind"], o["client"], prefix[i][0] // MS))
    return problems


# ------------------------------------------------------------------ queues


def _deliveries(history):
    """Known deliveries: ok queue_get answers with succeeded true."""
    return [op for op in history if op.get("kind") == "qget" and _ok(op) and op.get("succeeded")]


def check_queue_exactly_once(history):
    """Exactly-once enqueueing with sessions, and item identity:
      - each value (unique per logical put, whatever its retries) appears as
        exactly one item: all ok put attempts and all deliveries of a value
        name the same item number;
      - an item number has one value (two puts never share an item);
      - a delivered value was put by somebody (no phantom item);
      - a logical put answered ok names the item its value is delivered as.
    Not checked: values whose put never answered ok and that are never
    delivered (they may never have been enqueued)."""
    problems = []
    items_of = collections.defaultdict(set)  # (queue, value) -> item numbers
    values_of = collections.defaultdict(set)  # (queue, item) -> values
    put_values = set()
    for op in history:
        k = op.get("kind")
        if k in ("qput", "qput_try"):
            put_values.add((op["queue"], op["value"]))
        if (k in ("qput", "qput_try") and _ok(op)) or (k == "qget" and _ok(op)
                                                      and op.get("succeeded")):
            if op.get("item") is None:
                problems.append("queue: %s answered ok without an item: %r" % (k, op))
                continue
            items_of[(op["queue"], op["value"])].add(op["item"])
            values_of[(op["queue"], op["item"])].add(op["value"])
    for (queue, value), items in sorted(items_of.items()):
        if len(items) > 1:
            problems.append("queue %r: value %r enqueued as several items %s (exactly-once put "
                            "broken)" % (queue, value, sorted(items)))
    for (queue, item), values in sorted(values_of.items()):
        if len(values) > 1:
            problems.append("queue %r: item %d holds several values %s" % (queue, item,
                                                                            sorted(values)))
    for op in _deliveries(history):
        if (op["queue"], op.get("value")) not in put_values:
            problems.append("queue %r: delivered value %r (item %s) was never put" % (
                op["queue"], op.get("value"), op.get("item")))
    return problems


def check_queue_put_order(history):
    """Item numbers follow real time: if logical put P1 was answered ok
    before logical put P2 (its first attempt) was sent, item(P1) < item(P2):
    items are numbered in log order, and P2, whichever attempt carried it
    out, committed after its first attempt's call. This covers one
    producer's puts (sequential) and puts of different producers that do
    not overlap."""
    problems = []
    by_queue = collections.defaultdict(list)
    for op in history:
        if op.get("kind") == "qput" and _ok(op) and op.get("item") is not None:
            by_queue[op["queue"]].append(op)
    for queue, puts in by_queue.items():
        rets = sorted((p["ret"], p["item"], p) for p in puts)
        times = [r[0] for r in rets]
        prefix = []
        best = None
        for r in rets:
            if best is None or r[1] > best[1]:
                best = r
            prefix.append(best)
        for p in puts:
            i = bisect.bisect_left(times, p["call"]) - 1
            if i >= 0 and prefix[i][1] >= p["item"]:
                q = prefix[i][2]
                problems.append("queue %r: put of %r answered item %d at %d ms, before the put "
                                "of %r (item %d) began at %d ms" % (
                                    queue, q["value"], q["item"], q["ret"] // MS, p["value"],
                                    p["item"], p["call"] // MS))
    return problems


def check_queue_visibility(history):
    """No item delivered twice within one visibility window, and none after
    a successful acknowledgement.

    A delivery D of an item, applied at a (D.call <= a <= D.ret), hides it
    until at least a + visibility_ms >= D.call + visibility_ms (PROTOCOL.md:
    count it from when you sent the get). For two known deliveries X, Y of
    one item, whichever was applied first, the other was applied at least
    a visibility window later; as the order is unknown when they overlap,
    it is a violation iff both orders are impossible:
        Y.ret < X.call + X.visibility  and  X.ret < Y.call + Y.visibility
    (when X returned before Y was sent only the first inequality can fail).
    Exception: a negative acknowledgement (lease_revoke of X's receipt) that
    may have happened (ok or unknown) and was sent before Y returned gives
    the item back early.

    After an ack answered succeeded true for X's receipt the item is gone
    for good, and no delivery was applied between X and that ack (it would
    have voided the receipt): so no delivery of the item may begin after X
    returned (Y.call > X.ret).

    Not checked: deliveries whose answer was lost (unknown gets); receipt
    keepalives (the recorder sends none)."""
    problems = []
    per_item = collections.defaultdict(list)
    for d in _deliveries(history):
        per_item[(d["queue"], d["item"])].append(d)
    nacks = collections.defaultdict(list)
    acked = {}
    for op in history:
        if op.get("kind") == "qnack" and _may_have_happened(op):
            nacks[(op["queue"], op.get("receipt"))].append(op["call"])
        if op.get("kind") == "qack" and _ok(op) and op.get("succeeded"):
            acked.setdefault((op["queue"], op.get("receipt")), op)
    for (queue, item), ds in per_item.items():
        ds.sort(key=lambda d: d["call"])
        for i, x in enumerate(ds):
            vx = x["visibility_ms"] * MS
            for y in ds[i + 1:]:
                vy = y["visibility_ms"] * MS
                if y["ret"] < x["call"] + vx and x["ret"] < y["call"] + vy:
                    nx = [c for c in nacks.get((queue, x.get("receipt")), ()) if c < y["ret"]]
                    ny = [c for c in nacks.get((queue, y.get("receipt")), ()) if c < x["ret"]]
                    if not nx and not ny:
                        problems.append(
                            "queue %r: item %d delivered at [%d, %d] ms (receipt %s, visibility "
                            "%d ms) and again at [%d, %d] ms (receipt %s), within one window"
                            % (queue, item, x["call"] // MS, x["ret"] // MS, x.get("receipt"),
                               x["visibility_ms"], y["call"] // MS, y["ret"] // MS,
                               y.get("receipt")))
            ack = acked.get((queue, x.get("receipt")))
            if ack is not None:
                for y in ds:
                    if y is not x and y["call"] > x["ret"]:
                        problems.append(
                            "queue %r: item %d delivered at [%d, %d] ms (receipt %s) after its "
                            "delivery at [%d, %d] ms (receipt %s) was acknowledged (ack at "
                            "[%d, %d] ms)" % (queue, item, y["call"] // MS, y["ret"] // MS,
                                              y.get("receipt"), x["call"] // MS, x["ret"] // MS,
                                              x.get("receipt"), ack["call"] // MS,
                                              ack["ret"] // MS))
    return problems


def check_queue_fifo(history):
    """FIFO for items that were ready: queue_get delivers the lowest-numbered
    ready item. For items a < b of one queue (numbers are put order) a
    violation is a known delivery Db of b while a was certainly ready:
      - a was enqueued before Db applied: a < b, numbers follow log order;
      - a had never been delivered by then: every known delivery of a was
        sent after Db returned (the earliest one, Da, is a's first known
        delivery), and no get whose answer was lost (unknown outcome, sent
        before Db returned) can have taken a: had one taken a at time u >=
        its call, a would have been invisible until u + visibility, so Da
        would have to return after that; we require Da.ret < U.call +
        U.visibility for every such unknown get U;
      - a could not have been acknowledged or given back: nothing acks an
        item before a delivery of it.
    So the check is about first deliveries. Not checked: items delivered
    again after their visibility ran out (they return "in their place", but
    when exactly is not observable); items with no known delivery at all;
    pairs whose first deliveries overlap in time."""
    problems = []
    deliveries = collections.defaultdict(lambda: collections.defaultdict(list))
    unknown_gets = collections.defaultdict(list)
    for op in history:
        if op.get("kind") != "qget":
            continue
        if _ok(op) and op.get("succeeded"):
            deliveries[op["queue"]][op["item"]].append(op)
        elif op.get("outcome") == "unknown":
            unknown_gets[op["queue"]].append(op)
    for queue, per_item in deliveries.items():
        unknown = sorted(unknown_gets.get(queue, ()), key=lambda u: u["call"])
        ucalls = [u["call"] for u in unknown]
        first_call = {i: min(d["call"] for d in ds) for i, ds in per_item.items()}
        first = {i: min(ds, key=lambda d: d["call"]) for i, ds in per_item.items()}
        earliest_ret = {i: min(ds, key=lambda d: d["ret"]) for i, ds in per_item.items()}
        items = sorted(per_item)
        for bi, b in enumerate(items):
            db = earliest_ret[b]
            # unknown gets sent before db returned
            k = bisect.bisect_left(ucalls, db["ret"])
            ulist = unknown[:k]
            umin = min((u["call"] + u["visibility_ms"] * MS for u in ulist), default=None)
            for a in items[:bi]:
                if first_call[a] <= db["ret"]:
                    continue
                da = first[a]
                if umin is not None and da["ret"] >= umin:
                    continue
                problems.append(
                    "queue %r: item %d delivered at [%d, %d] ms while item %d was ready (its "
                    "first delivery began at %d ms; %d lost gets could not have taken it)"
                    % (queue, b, db["call"] // MS, db["ret"] // MS, a, da["call"] // MS,
                       len(ulist)))
                break  # one per b is enough
    return problems


def check_queue_no_loss(history):
    """No acknowledged put lost. Requires the recorder's final drain
    (records kind "qlen" with final=True): if the queue was seen empty at
    the end (items 0, in_flight 0) every value whose put was answered ok
    must have been acknowledged: a delivery of it with an ack answered
    succeeded true. An ack whose outcome is unknown may have removed it: the
    value is then "uncertain", reported in the statistics, not as a loss.
    If the queue was not seen empty, the values not acked are reported as a
    problem of the drain (they may still be in the queue).

    Returns (problems, stats)."""
    problems = []
    final = {}
    for op in history:
        if op.get("kind") == "qlen" and op.get("final") and _ok(op):
            final[op["queue"]] = op
    put_ok = collections.defaultdict(dict)  # queue -> value -> put
    for op in history:
        if op.get("kind") == "qput" and _ok(op):
            put_ok[op["queue"]][op["value"]] = op
    item_value = {}
    for d in _deliveries(history):
        item_value[(d["queue"], d["receipt"])] = d["value"]
    acked = collections.defaultdict(set)
    uncertain = collections.defaultdict(set)
    for op in history:
        if op.get("kind") != "qack":
            continue
        v = item_value.get((op["queue"], op.get("receipt")))
        if v is None:
            continue
        if _ok(op) and op.get("succeeded"):
            acked[op["queue"]].add(v)
        elif op.get("outcome") == "unknown":
            uncertain[op["queue"]].add(v)
    stats = {}
    for queue, puts in put_ok.items():
        missing = [v for v in puts if v not in acked[queue]]
        unsure = [v for v in missing if v in uncertain[queue]]
        lost = [v for v in missing if v not in uncertain[queue]]
        stats[queue] = {"puts_ok": len(puts), "acked": len(acked[queue]),
                        "uncertain": len(unsure)}
        f = final.get(queue)
        if f is None or f.get("items") != 0 or f.get("in_flight") != 0:
            if lost:
                problems.append("queue %r: not drained at the end (%s); %d values put ok were "
                                "never acknowledged, e.g. %s" % (
                                    queue, "no final queue_len" if f is None else
                                    "items %s in flight %s" % (f.get("items"), f.get("in_flight")),
                                    len(lost), sorted(lost)[:5]))
        elif lost:
            problems.append("queue %r: %d values put ok (acknowledged) are lost: the queue is "
                            "empty and they were never acknowledged by a consumer, e.g. %s" % (
                                queue, len(lost), sorted(lost)[:5]))
    return problems, stats


# ------------------------------------------------------------------ all


def stats(history, lock_holds=None, campaign_holds=None):
    c = collections.Counter()
    for op in history:
        k = op.get("kind")
        if k != "access":
            c["%s.%s" % (k, op.get("outcome", "-"))] += 1
        else:
            c["access"] += 1
        if k in ("lock", "campaign") and _ok(op) and op.get("succeeded"):
            c[k + ".granted"] += 1
        if k == "qget" and _ok(op) and op.get("succeeded"):
            c["qget.delivered"] += 1
        if k == "access" and not op.get("accepted"):
            c["access.refused"] += 1
    per_item = collections.Counter((op["queue"], op["item"]) for op in _deliveries(history))
    c["qget.redelivered_items"] = sum(1 for n in per_item.values() if n > 1)
    if lock_holds is not None:
        c["lock.holds_protected"] = sum(h.protected for h in lock_holds)
    if campaign_holds is not None:
        c["campaign.holds_protected"] = sum(h.protected for h in campaign_holds)
    return dict(c)


def check_all(history):
    """{section: [violations]} plus "stats"."""
    lock_holds = extract_holds(history, "lock", "unlock")
    elect_holds = extract_holds(history, "campaign", "resign")
    out = collections.OrderedDict()
    out["lock.unique_tokens"] = check_unique_tokens(history, "lock")
    out["lock.token_order"] = check_token_order(history, "lock")
    out["lock.grant_sources"] = check_grant_sources(history, "lock")
    out["lock.exclusive"] = check_exclusive(lock_holds, "lock")
    out["lock.fencing"] = check_fencing(history, lock_holds)
    out["election.unique_tokens"] = check_unique_tokens(history, "campaign")
    out["election.token_order"] = check_token_order(history, "campaign")
    out["election.grant_sources"] = check_grant_sources(history, "campaign")
    out["election.one_leader"] = check_exclusive(elect_holds, "campaign")
    out["election.leader_reads"] = check_leader_reads(history)
    out["queue.exactly_once"] = check_queue_exactly_once(history)
    out["queue.put_order"] = check_queue_put_order(history)
    out["queue.visibility"] = check_queue_visibility(history)
    out["queue.fifo"] = check_queue_fifo(history)
    loss, qstats = check_queue_no_loss(history)
    out["queue.no_loss"] = loss
    st = stats(history, lock_holds, elect_holds)
    st["queues"] = qstats
    out["stats"] = st
    return out


def violations(result):
    return [(k, v) for k, vs in result.items() if k != "stats" for v in vs]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip() and not line.startswith("#")]


def main(argv):
    """coord_checks.py HISTORY.jsonl: re-checks a kept history."""
    history = load(argv[1])
    res = check_all(history)
    bad = violations(res)
    print(json.dumps(res["stats"], sort_keys=True))
    for k, v in bad:
        print("%s: %s" % (k, v))
    print("%d violations" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
