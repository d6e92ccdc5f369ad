#!/usr/bin/python3
"""Service discovery with leases, written only from wire/PROTOCOL.md.

A service registers itself under services/NAME with a lease and keeps the
lease alive; a watcher prints services joining and leaving. Kill a service
with kill -9 and it disappears within its TTL: nobody renews its lease, the
leader expires it, and the key's delete reaches every watcher.

    service_registry.py register NAME ADDRESS [--ttl-ms 3000]
    service_registry.py watch

Output of watch, one line per change: "+ NAME ADDRESS (lease L)" or
"- NAME". Dependencies: pyzmq and msgpack (Debian: python3-zmq,
python3-msgpack).
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cabildo import Client, CabildoError  # noqa: E402
from watch import Watcher  # noqa: E402

PREFIX = b"services/"


def register(client, name, address, ttl_ms):
    lease = client.lease_grant(ttl_ms)
    client.put(PREFIX + name.encode(), address.encode(), lease=lease)
    print("registered %s at %s with lease %d (TTL %d ms)" % (name, address, lease, ttl_ms),
          flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        # A third of the TTL: two renewals may fail (a leader change) and
        # the lease still lives.
        time.sleep(ttl_ms / 3000.0)
        try:
            client.lease_keepalive(lease)
        except CabildoError as e:
            if e.code == "not_found":
                print("lease %d is gone: registering again" % lease, flush=True)
                return register(client, name, address, ttl_ms)
            print("keepalive failed (%s); retrying" % e, flush=True)
    client.lease_revoke(lease)  # a clean stop leaves at once
    print("deregistered %s" % name, flush=True)


def show_join(key, value, lease):
    print("+ %s %s (lease %d)" % (key[len(PREFIX):].decode(errors="replace"),
                                  value.decode(errors="replace"), lease), flush=True)


def watch(endpoints):
    # List, then watch from just after the list's revision: a service that
    # registered before the watcher started is shown too, and no change is
    # missed in between.
    entries, _, revision = Client(endpoints).range(PREFIX, limit=10000, meta=True)
    for e in entries:
        show_join(e["key"], e["value"], e["lease"])
    watcher = Watcher(endpoints, PREFIX, from_revision=revision + 1)
    try:
        while True:
            events, resynced = watcher.next(1.0)
            for e in events:
                if e["op"] == "put":
                    show_join(e["key"], e["value"], e.get("lease", 0))
                else:
                    print("- %s" % e["key"][len(PREFIX):].decode(errors="replace"), flush=True)
    finally:
        watcher.close()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", default=os.environ.get(
        "CABILDO_ENDPOINTS", "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121"))
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register")
    reg.add_argument("name")
    reg.add_argument("address")
    reg.add_argument("--ttl-ms", type=int, default=3000)
    sub.add_parser("watch")
    args = parser.parse_args(argv)
    endpoints = args.endpoints.split(",")
    if args.command == "register":
        register(Client(endpoints), args.name, args.address, args.ttl_ms)
    else:
        watch(endpoints)


if __name__ == "__main__":
    main(sys.argv[1:])
