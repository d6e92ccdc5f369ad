#!/usr/bin/python3
"""A distributed lock with a fencing token, written only from
wire/PROTOCOL.md (section 9, "Locks: lock, unlock").

It grants a lease, keeps it alive from a thread (with its own Client: the
main one is busy while `lock` waits), waits for the lock, and then does
some "work": steps that each write to a shared resource. The resource is a
few keys guarded by the fencing token: a step's write is a txn that succeeds
only if the token stored with the resource is not above this holder's, so a
holder that was paused past its lease (and lost the lock to another) cannot
overwrite the newer holder's work. Then it unlocks and revokes the lease.

    lock_example.py [--endpoints tcp://127.0.0.1:7101,...] [--name demo]
                    [--who NAME] [--steps 5] [--step-ms 200] [--ttl-ms 3000]
                    [--wait-ms 30000]

Endpoints come from --endpoints, else $CABILDO_ENDPOINTS (comma separated),
else the default local 3-node cluster. Run two at once: the second waits
until the first unlocks, and its token is higher. Output lines:
"granted TOKEN", "step N token TOKEN: ok" (or "fenced off"), "released".
Exits 0 when every step was accepted, 1 if the lock was not granted in
time or a step was fenced off (the lease was lost), 2 on bad arguments.

Dependencies: pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cabildo import CabildoError, Client  # noqa: E402

DEFAULT = "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"


def token_bytes(token):
    # Fixed width, so that byte order (txn compares values bytewise) is
    # numeric order.
    return b"%020d" % token


class KeepAlive(threading.Thread):
    """Renews a lease every third of its TTL until stopped or lost."""

    def __init__(self, endpoints, lease, ttl_ms):
        super().__init__(daemon=True)
        self.client = Client(endpoints, request_timeout=0.5, total_timeout=ttl_ms / 3000.0)
        self.lease = lease
        self.every = ttl_ms / 3000.0
        self.lost = threading.Event()
        self._stop_ev = threading.Event()

    def run(self):
        try:
            while not self._stop_ev.wait(self.every):
                try:
                    self.client.lease_keepalive(self.lease)
                except CabildoError as e:
                    if e.code == "not_found":
                        self.lost.set()  # the lease ended: so did the lock
                        return
                    print("keepalive failed (%s); retrying" % e, flush=True)
        finally:
            self.client.close()

    def stop(self):
        self._stop_ev.set()
        self.join()


def guarded_write(client, resource, token, data):
    """Writes data to the resource if no holder with a higher token wrote
    first; returns whether it was accepted."""
    tkey = resource + b"/token"
    # The token key must exist for the "value lt" compare to mean anything
    # (a compare on a missing key is false).
    client.cas(tkey, None, token_bytes(0))
    ok, _, _ = client.txn(
        [{"key": tkey, "target": "value", "result": "lt", "value": token_bytes(token + 1)}],
        success=[{"op": "put", "key": tkey, "value": token_bytes(token)},
                 {"op": "put", "key": resource + b"/data", "value": data}],
        failure=[{"op": "get", "key": tkey}])
    return ok


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoints", default=os.environ.get("CABILDO_ENDPOINTS", DEFAULT))
    ap.add_argument("--name", default="demo", help="the lock's name")
    ap.add_argument("--who", default="pid %d" % os.getpid(), help="the holder's value")
    ap.add_argument("--resource", default="lock-example/resource",
                    help="the keys the work writes (prefix)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--step-ms", type=int, default=200)
    ap.add_argument("--ttl-ms", type=int, default=3000)
    ap.add_argument("--wait-ms", type=int, default=30000)
    args = ap.parse_args(argv[1:])
    endpoints = [e for e in args.endpoints.split(",") if e]
    if not endpoints or args.ttl_ms < 1000:
        ap.error("need endpoints and --ttl-ms >= 1000")
    resource = args.resource.encode()

    client = Client(endpoints)
    lease = client.lease_grant(args.ttl_ms)
    keepalive = KeepAlive(endpoints, lease, args.ttl_ms)
    keepalive.start()
    try:
        print("lease %d; waiting for lock %r" % (lease, args.name), flush=True)
        got = client.lock(args.name, lease, wait_ms=args.wait_ms, value=args.who)
        if not got["succeeded"]:
            print("not granted within %d ms" % args.wait_ms, flush=True)
            return 1
        token = got["token"]
        print("granted %d (key %r)" % (token, got["key"]), flush=True)
        fenced = False
        for step in range(1, args.steps + 1):
            if keepalive.lost.is_set():
                print("lease lost: stopping", flush=True)
                fenced = True
                break
            time.sleep(args.step_ms / 1000.0)  # the "work"
            ok = guarded_write(client, resource, token,
                               b"%s step %d" % (args.who.encode(), step))
            print("step %d token %d: %s" % (step, token, "ok" if ok else "fenced off"),
                  flush=True)
            if not ok:
                fenced = True
                break
        released = client.unlock(args.name, lease=lease)
        print("released" if released else "was not holding it any more", flush=True)
        return 1 if fenced else 0
    finally:
        keepalive.stop()
        try:
            client.lease_revoke(lease)
        except CabildoError:
            pass  # expired already, or the cluster is gone: it ends anyway
        client.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
