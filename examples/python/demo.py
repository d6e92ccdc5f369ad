#!/usr/bin/python3
"""Cabildo demo: put/get/cas/range/delete against a running cluster, and
failover across nodes.

    /usr/bin/python3 examples/python/demo.py [ENDPOINT ...]
    CABILDO_ENDPOINTS=tcp://127.0.0.1:7101,tcp://127.0.0.1:7111 /usr/bin/python3 demo.py

Endpoints come from the arguments, else from $CABILDO_ENDPOINTS (comma
separated), else the default local 3-node cluster. The list may start with a
dead node: the client notices the timeout and moves on, and the demo prints
what happened. Exits 1 if any check fails, 2 if the cluster cannot be used.
"""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cabildo import CabildoError, Client  # noqa: E402

DEFAULT = "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"

failures = []


def check(cond, what):
    print("  [%s] %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def main(argv):
    eps = argv[1:] or [e for e in os.environ.get("CABILDO_ENDPOINTS", DEFAULT).split(",") if e]
    print("endpoints: %s" % ", ".join(eps))
    events = []

    def on_event(text):
        events.append(text)
        print("    client: %s" % text)

    c = Client(eps, request_timeout=0.5, total_timeout=15.0, on_event=on_event)

    print("\n== status of every node ==")
    live = []
    for ep in eps:
        try:
            st = c.status(ep)
            live.append(ep)
            print("  %s: node %s, %s, term %s, leader %s, applied %s"
                  % (ep, st["node_id"], st["role"], st["term"], st["leader_id"],
                     st["applied_index"]))
        except CabildoError as e:
            print("  %s: no answer (%s)" % (ep, e.code))
    if not live:
        print("no node answers; is the cluster running?")
        return 2

    run = uuid.uuid4().hex[:8].encode()
    p = b"demo/" + run + b"/"
    print("\n== put / get (keys under %s) ==" % p.decode())
    t0 = time.monotonic()
    rev1 = c.put(p + b"color", b"blue")
    print("  put color=blue at revision %d via %s (%d attempt(s), %.0f ms)"
          % (rev1, c.last_endpoint, c.last_attempts, (time.monotonic() - t0) * 1000))
    if eps[0] not in live:
        check(c.last_attempts >= 2 and c.last_endpoint != eps[0],
              "the first endpoint (%s) is down: the client moved on" % eps[0])
    value, rev = c.get(p + b"color")
    check(value == b"blue" and rev >= rev1, "get color -> %r at revision %d" % (value, rev))
    value, rev = c.get(p + b"missing")
    check(value is None, "get missing -> None")

    print("\n== cas ==")
    ok, rev2 = c.cas(p + b"color", None, b"green")
    check(not ok and rev2 > rev1, "cas(absent -> green) fails: the key exists (rev %d)" % rev2)
    ok, rev3 = c.cas(p + b"color", b"red", b"green")
    check(not ok, "cas(red -> green) fails: it holds blue")
    ok, rev4 = c.cas(p + b"color", b"blue", b"green")
    check(ok, "cas(blue -> green) succeeds at revision %d" % rev4)
    check(c.get(p + b"color")[0] == b"green", "color is now green")
    ok, _ = c.cas(p + b"lock", None, b"me")
    check(ok, "cas(absent -> me) on a fresh key takes the lock")

    print("\n== range ==")
    for i in range(5):
        c.put(p + b"list/%d" % i, b"item-%d" % i)
    kvs, more, rev = c.range(p + b"list/")
    check([k for k, _ in kvs] == [p + b"list/%d" % i for i in range(5)] and not more,
          "range list/ -> 5 keys in order, more=False")
    kvs, more, _ = c.range(p + b"list/", limit=2)
    check(len(kvs) == 2 and more, "range list/ limit 2 -> 2 keys, more=True")
    kvs, more, _ = c.range(p + b"list/", serializable=True)
    check(len(kvs) <= 5, "serializable range answered by %s (%d keys)"
          % (c.last_endpoint, len(kvs)))

    print("\n== delete ==")
    deleted, _ = c.delete(p + b"lock")
    check(deleted, "delete lock -> deleted")
    deleted, _ = c.delete(p + b"lock")
    check(not deleted, "delete lock again -> nothing to delete")

    print("\n== failover: a client per starting node ==")
    for k in range(len(eps)):
        order = eps[k:] + eps[:k]
        cl = Client(order, request_timeout=0.5, total_timeout=15.0, on_event=on_event)
        t0 = time.monotonic()
        rev = cl.put(p + b"via/%d" % k, order[0].encode())
        print("  first contact %s: write answered by %s after %d attempt(s), %.0f ms"
              % (order[0], cl.last_endpoint, cl.last_attempts, (time.monotonic() - t0) * 1000))
        check(cl.get(p + b"via/%d" % k)[0] == order[0].encode(), "read back via/%d" % k)
        cl.close()
    for ep in live:
        one = Client([ep], request_timeout=0.5, total_timeout=5.0)
        deadline = time.monotonic() + 5
        while True:
            kvs, _, rev = one.range(p + b"via/", serializable=True)
            if len(kvs) == len(eps) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(len(kvs) == len(eps), "%s has all %d via/ keys (serializable, revision %d)"
              % (ep, len(eps), rev))
        one.close()

    timeouts = [e for e in events if e.startswith("no reply")]
    redirects = [e for e in events if "redirected" in e]
    print("\nclient events: %d timeouts (dead or slow nodes skipped), %d leader redirects"
          % (len(timeouts), len(redirects)))
    c.close()
    if failures:
        print("\n%d check(s) FAILED:" % len(failures))
        for f in failures:
            print("  - %s" % f)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CabildoError as e:
        print("\nFAILED: %s" % e)
        sys.exit(1)
