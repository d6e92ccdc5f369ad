"""A small Cabildo client, written only from wire/PROTOCOL.md.

It speaks the v1 client protocol over ZeroMQ REQ sockets with the "Lazy
Pirate" pattern: every attempt uses a fresh REQ socket (linger 0), waits for
the reply with a poll timeout, and on a timeout closes that socket and moves
on to the next endpoint. It follows `leader` hints, backs off on `no_leader`
and `unavailable`, and makes writes exactly-once with a session: a random
64-bit session id and a `seq` that grows by one per write; a retried write
reuses the same (session, seq).

Dependencies: pyzmq and msgpack (Debian: python3-zmq, python3-msgpack).

    from cabildo import Client
    c = Client(["tcp://127.0.0.1:7101", "tcp://127.0.0.1:7111"])
    rev = c.put(b"color", b"blue")
    value, rev = c.get(b"color")

Keys and values are bytes (sent as msgpack bin); str is accepted and encoded
as UTF-8.

Locks, elections and durable queues (lock/unlock, campaign/proclaim/resign/
leader, queue_put/get/ack/len/peek) are methods too; the waiting ones
(lock, campaign, queue_get with wait_ms) give each attempt wait_ms more time
for its answer.

A secure cluster (PROTOCOL.md section 12) wants CurveZMQ on every socket:
`Client(endpoints, curve_key="ops.key", server_key="server.pub")` (the
identity's key pair, the cluster's server public key). A key the ACL does not
list fails the handshake: the nodes never answer (`timeout`). A request
outside the identity's rights raises CabildoError("permission_denied").
read_key_file and write_key_files handle the key files (as `cabildo keygen`).
"""

import itertools
import os
import random
import threading
import time

import msgpack
import zmq
from zmq.utils import z85

__all__ = ["Client", "CabildoError", "read_key_file", "write_key_files", "curve_options"]

# Error codes after which a retry cannot help (PROTOCOL.md section 5).
_ENTRY_KEYS = ("value", "create_revision", "mod_revision", "version", "lease")
_FATAL_CODES = ("bad_request", "too_large", "storage_full", "stale_session", "internal")
# Refused before anything was done (PROTOCOL.md section 12): a write's seq
# was not used, so the session may give it to the next write.
_REFUSED_CODES = ("permission_denied", "rate_limited")
# Worth another attempt after a pause (section 5); rate_limited at the same
# node, whose budget it is.
_RETRY_CODES = ("no_leader", "unavailable", "timeout", "overloaded", "rate_limited")
_CURVE_KEY_CHARS = 40  # Z85 of a 32-byte key
# A reply can never be larger than this (PROTOCOL.md section 8); a little
# headroom so the socket does not drop a legal reply.
_REPLY_FRAME_MAX = (8 << 20) + (64 << 10)


class CabildoError(Exception):
    """An error reply from a node, or retries that ran out.

    `code` is the protocol's error code (`bad_request`, `too_large`,
    `no_leader`, `unavailable`, `timeout`, ...). `timeout` on a write means its
    outcome is unknown: it may or may not have been applied.
    """

    def __init__(self, code, message=""):
        super().__init__("%s: %s" % (code, message) if message else code)
        self.code = code
        self.message = message


def _as_bytes(b, what):
    if isinstance(b, bytes):
        return b
    if isinstance(b, (bytearray, memoryview)):
        return bytes(b)
    if isinstance(b, str):
        return b.encode("utf-8")
    raise TypeError("%s must be bytes or str, not %s" % (what, type(b).__name__))


# -------------------------------------------------------------- Curve keys
# A key file is text, `public-key = "<40 Z85 chars>"` and `secret-key = ...`
# lines, `#` comments. NAME.key (mode 0600) holds both, NAME.pub the public
# line; wherever a public key is wanted either does (wire/security/curve.h).


def _is_z85_key(text):
    """40 Z85 characters that decode to 32 bytes (bytes or str)."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            return False
    if not isinstance(text, bytes) or len(text) != _CURVE_KEY_CHARS:
        return False
    try:
        return len(z85.decode(text)) == 32
    except Exception:  # noqa: BLE001  a character outside Z85, or a group over 2^32
        return False


def _parse_key_line(line):
    """(name, value) of a `name = "value"` line, None for a blank or comment
    line, ("", "") for a line without `=`. A `#` after the `=` is kept: it
    is a Z85 character."""
    eq = line.find("=")
    hash_at = line.find("#")
    if hash_at >= 0 and (eq < 0 or hash_at < eq):
        line = line[:hash_at]
        eq = line.find("=")
    if not line.strip(" \t\r"):
        return None
    if eq < 0:
        return "", ""
    return line[:eq].strip(" \t\r\""), line[eq + 1:].strip(" \t\r\"")


def read_key_file(path, need_secret=False):
    """Reads a Curve key file (.key or .pub). Returns (public, secret or
    None), Z85 as bytes. need_secret: the file must hold the secret key.
    Raises ValueError naming the file and what is wrong with it."""
    path = os.fspath(path)

    def bad(what):
        return ValueError("key file %s: %s" % (path, what))

    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise bad("cannot read it: %s" % e) from None
    keys = {}
    for number, line in enumerate(lines, 1):
        parsed = _parse_key_line(line)
        if parsed is None:
            continue
        name, value = parsed
        if name not in ("public-key", "secret-key"):
            raise bad('line %d: expected public-key = "..." or secret-key = "..."' % number)
        if not _is_z85_key(value):
            raise bad("line %d: %s is not a 40-character Z85 key" % (number, name))
        keys[name] = value.encode("ascii")
    public, secret = keys.get("public-key"), keys.get("secret-key")
    if need_secret and secret is None:
        raise bad("holds no secret-key (a .pub file?): give the .key file")
    if secret is not None:
        derived = zmq.curve_public(secret)
        if public is not None and public != derived:
            raise bad("public-key does not belong to secret-key")
        public = derived
    if public is None:
        raise bad("holds no public-key")
    return public, secret


def _write_new_file(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # exactly mode, whatever the umask
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_key_files(base):
    """A fresh key pair in base.key (both keys, mode 0600) and base.pub (the
    public key). Refuses (FileExistsError) if either file exists. Returns
    (public, secret), Z85 as bytes."""
    base = os.fspath(base)
    key_path, pub_path = base + ".key", base + ".pub"
    for path in (key_path, pub_path):
        if os.path.exists(path):
            raise FileExistsError("%s exists: not overwriting a key file" % path)
    public, secret = zmq.curve_keypair()
    line = 'public-key = "%s"\n' % public.decode("ascii")
    _write_new_file(key_path, "# cabildo curve key pair: keep this file secret\n" + line +
                    'secret-key = "%s"\n' % secret.decode("ascii"), 0o600)
    _write_new_file(pub_path, "# cabildo curve public key\n" + line, 0o644)
    return public, secret


def _client_key_pair(curve_key):
    if isinstance(curve_key, (tuple, list)):
        if len(curve_key) != 2 or not all(_is_z85_key(k) for k in curve_key):
            raise ValueError("curve_key: expected a key file or a (public, secret) Z85 pair")
        public, secret = (_as_bytes(k, "curve_key") for k in curve_key)
        if zmq.curve_public(secret) != public:
            raise ValueError("curve_key: the public key does not belong to the secret key")
        return public, secret
    return read_key_file(curve_key, need_secret=True)


def _server_public_key(server_key):
    # A file first: a 40-character path can be valid Z85 too (seen:
    # /tmp/cabildo-it-XXXXXXXX/keys/server.pub, taken for a key).
    if isinstance(server_key, (str, bytes)) and _is_z85_key(server_key) and \
            not os.path.exists(server_key):
        return _as_bytes(server_key, "server_key")
    return read_key_file(server_key)[0]


def curve_options(curve_key=None, server_key=None):
    """The socket options that make a socket a CURVE client, as a list of
    (option, value) to set before connect; [] when both are None.

    curve_key:  this side's key pair: a .key file's path, or (public,
                secret) Z85 (bytes or str).
    server_key: the public key the server must prove: a .pub or .key file's
                path (an existing file wins), or the Z85 key itself."""
    if curve_key is None and server_key is None:
        return []
    if curve_key is None or server_key is None:
        raise ValueError("curve_key and server_key go together (a CURVE client needs both)")
    if not zmq.has("curve"):
        raise ValueError("this libzmq was built without CURVE (libsodium)")
    public, secret = _client_key_pair(curve_key)
    return [(zmq.CURVE_SERVERKEY, _server_public_key(server_key)),
            (zmq.CURVE_PUBLICKEY, public), (zmq.CURVE_SECRETKEY, secret)]


class Client:
    """A client for a Cabildo cluster.

    endpoints:       client endpoints ("tcp://host:port") of some or all nodes.
    request_timeout: seconds to wait for one reply before giving up on that
                     attempt (the socket is then closed and the next node tried).
    total_timeout:   seconds one call may take, retries included.
    backoff_initial, backoff_max: the retry backoff on no_leader, unavailable,
                     overloaded and rate_limited
                     (doubling from the first to the second).
    on_event:        optional callable taking a str, told about timeouts,
                     redirects and retries (for demos and debugging).
    curve_key, server_key: a secure cluster (see curve_options): this
                     identity's key pair (a .key file, or a (public, secret)
                     Z85 pair) and the cluster's server public key (a .pub
                     or .key file, or the Z85 key). Both or neither.

    A Client may be shared between threads (calls are serialised), but a
    session keeps one write in flight, so use one Client per thread for
    concurrent writes.
    """

    def __init__(self, endpoints, request_timeout=1.0, total_timeout=10.0,
                 backoff_initial=0.05, backoff_max=1.0, on_event=None, context=None,
                 curve_key=None, server_key=None):
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e]
        self.endpoints = list(endpoints)
        if not self.endpoints:
            raise ValueError("at least one endpoint is needed")
        self._curve = curve_options(curve_key, server_key)  # before any socket exists
        self.request_timeout = float(request_timeout)
        self.total_timeout = float(total_timeout)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(backoff_max)
        self.on_event = on_event
        self._own_context = context is None
        self._ctx = context if context is not None else zmq.Context()
        self._lock = threading.RLock()
        self._idx = 0  # the endpoint to try when no leader is known
        self._leader = None  # last leader hint seen
        self._suspect = {}  # endpoint -> monotonic time of its last timeout
        self._ids = itertools.count(1)
        self._new_session()
        self.last_endpoint = None  # the endpoint that answered the last call
        self.last_attempts = 0  # attempts the last call took

    # ------------------------------------------------------------------ API

    def get(self, key, serializable=False):
        """Returns (value or None, revision)."""
        req = {"op": "get", "key": _as_bytes(key, "key")}
        if serializable:
            req["consistency"] = "serializable"
        rep = self._call(req, write=False, any_node=serializable)
        return rep.get("value"), rep.get("revision")

    def get_entry(self, key, serializable=False):
        """Returns (entry or None, revision); entry is a dict with "value",
        "create_revision", "mod_revision", "version" and "lease"."""
        req = {"op": "get", "key": _as_bytes(key, "key")}
        if serializable:
            req["consistency"] = "serializable"
        rep = self._call(req, write=False, any_node=serializable)
        if rep.get("value") is None:
            return None, rep.get("revision")
        return {k: rep.get(k) for k in _ENTRY_KEYS}, rep.get("revision")

    def put(self, key, value, lease=0):
        """Returns the revision the write committed at. lease: attach the key
        to that lease (it is deleted when the lease ends)."""
        req = {"op": "put", "key": _as_bytes(key, "key"), "value": _as_bytes(value, "value")}
        if lease:
            req["lease"] = int(lease)
        return self._write(req).get("revision")

    def put_prev(self, key, value, lease=0):
        """Like put; returns (previous entry or None, revision)."""
        req = {"op": "put", "key": _as_bytes(key, "key"), "value": _as_bytes(value, "value"),
               "prev": True}
        if lease:
            req["lease"] = int(lease)
        rep = self._write(req)
        return rep.get("prev"), rep.get("revision")

    def delete(self, key):
        """Returns (deleted, revision); deleted is False when the key was absent."""
        rep = self._write({"op": "delete", "key": _as_bytes(key, "key")})
        return bool(rep.get("succeeded")), rep.get("revision")

    def delete_prefix(self, prefix):
        """Deletes the keys starting with prefix (at most 10,000 per call).

        Returns (deleted, more, revision): more when others remain."""
        rep = self._write({"op": "delete", "prefix": _as_bytes(prefix, "prefix")})
        return rep.get("deleted", 0), bool(rep.get("more")), rep.get("revision")

    def cas_revision(self, key, mod_revision, value, lease=0):
        """Sets key to value if its mod_revision is mod_revision now (0: if it
        is absent): the optimistic-concurrency loop. Returns (succeeded, revision)."""
        req = {"op": "cas", "key": _as_bytes(key, "key"), "mod_revision": int(mod_revision),
               "value": _as_bytes(value, "value")}
        if lease:
            req["lease"] = int(lease)
        rep = self._write(req)
        return bool(rep.get("succeeded")), rep.get("revision")

    # Leases (PROTOCOL.md, lease_*).

    def lease_grant(self, ttl_ms, lease=0):
        """Returns the new lease's id (lease: ask for that id)."""
        req = {"op": "lease_grant", "ttl_ms": int(ttl_ms)}
        if lease:
            req["lease"] = int(lease)
        return self._write(req).get("lease")

    def lease_keepalive(self, lease):
        """Renews the lease for its full TTL; returns the TTL in ms.
        Raises CabildoError("not_found") once the lease is gone."""
        return self._write({"op": "lease_keepalive", "lease": int(lease)}).get("ttl_ms")

    def lease_revoke(self, lease):
        """Ends the lease now, deleting its keys; returns how many."""
        return self._write({"op": "lease_revoke", "lease": int(lease)}).get("deleted", 0)

    def lease_info(self, lease, keys=False):
        """Returns {"lease", "ttl_ms", "remaining_ms"[, "keys"]}."""
        rep = self._call({"op": "lease_info", "lease": int(lease), "keys": bool(keys)},
                         write=False, any_node=False)
        info = {k: rep.get(k) for k in ("lease", "ttl_ms", "remaining_ms")}
        if keys:
            info["keys"] = rep.get("keys") or []
        return info

    def lease_list(self, start=0, limit=1000):
        """Returns (leases, more): up to limit leases with id >= start."""
        rep = self._call({"op": "lease_list", "from": int(start), "limit": int(limit)},
                         write=False, any_node=False)
        return rep.get("leases") or [], bool(rep.get("more"))

    def txn(self, compare, success=(), failure=()):
        """compare: list of {"key", "target", "result", <target>: operand};
        success/failure: lists of operations ({"op": "get"|"range"|"put"|
        "delete", ...}). Returns (succeeded, responses, revision)."""
        req = {"op": "txn", "compare": list(compare), "success": list(success),
               "failure": list(failure)}
        writes = any(op.get("op") in ("put", "delete") for op in req["success"] + req["failure"])
        rep = self._write(req) if writes else self._call(req, write=False, any_node=False)
        return bool(rep.get("succeeded")), rep.get("responses") or [], rep.get("revision")

    def cas(self, key, expected, value):
        """Sets key to value if it holds `expected` now (None: if it is absent).

        Returns (succeeded, revision)."""
        req = {"op": "cas", "key": _as_bytes(key, "key"),
               "expected": None if expected is None else _as_bytes(expected, "expected"),
               "value": _as_bytes(value, "value")}
        rep = self._write(req)
        return bool(rep.get("succeeded")), rep.get("revision")

    def range(self, prefix=b"", limit=1000, serializable=False, meta=False):
        """Returns (list of (key, value), more, revision), in key order; with
        meta, a list of dicts with "key", "value" and the key's metadata."""
        req = {"op": "range", "prefix": _as_bytes(prefix, "prefix"), "limit": int(limit)}
        if serializable:
            req["consistency"] = "serializable"
        rep = self._call(req, write=False, any_node=serializable)
        if meta:
            kvs = [{k: kv.get(k) for k in ("key",) + _ENTRY_KEYS} for kv in rep.get("kvs") or []]
        else:
            kvs = [(kv["key"], kv["value"]) for kv in rep.get("kvs") or []]
        return kvs, bool(rep.get("more")), rep.get("revision")

    # Coordination (PROTOCOL.md section 9, "Coordination: locks, elections
    # and queues"). Every name is 1 to 256 bytes without a NUL. lock,
    # campaign and queue_get take wait_ms: the node holds the request up to
    # that long, so each attempt waits wait_ms/1000 + request_timeout for its
    # answer (and the call's budget grows by wait_ms too). While one of them
    # waits, the Client is busy: renew leases from another Client.

    def lock(self, name, lease, wait_ms=0, value=b"", keep=False):
        """Acquires the lock `name` for `lease`, waiting up to wait_ms behind
        the holder and earlier waiters (0: a try-lock that leaves nothing
        behind). Returns {"succeeded", "token", "key", "revision"}: token is
        the fencing token (the revision of the grant), key this lease's waiter
        key. succeeded False: not granted within wait_ms (out of the queue).
        keep=True: when wait_ms passes the lease stays queued (succeeded
        False), so a long wait can be made of short rounds that survive the
        loss of the node holding the request. Sending it again for the same
        lease is safe (same token, or the same
        place in the queue). CabildoError("not_found"): the lease does not
        exist or ended while waiting."""
        req = {"op": "lock", "name": _as_bytes(name, "name"), "lease": int(lease),
               "wait_ms": int(wait_ms)}
        if value:
            req["value"] = _as_bytes(value, "value")
        if keep:
            req["keep"] = True  # stay queued when wait_ms passes (succeeded False)
        rep = self._write(req, wait=wait_ms / 1000.0)
        return self._grant(rep)

    def unlock(self, name=None, lease=None, key=None, token=None):
        """Releases a lock, or takes a waiting lease out of its queue: by
        name and lease, by key (the waiter key), or by name and token (only
        while that grant holds). Returns False when nothing matched."""
        return self._release("unlock", name, lease, key, token)

    def campaign(self, name, value, lease, wait_ms=0, keep=False):
        """Stands for leader of election `name` with `value` (who this
        candidate is), for `lease`, waiting up to wait_ms. Returns {"succeeded",
        "token", "key", "revision"} as lock: token is the revision at which
        this candidate became leader."""
        req = {"op": "campaign", "name": _as_bytes(name, "name"),
               "value": _as_bytes(value, "value"), "lease": int(lease),
               "wait_ms": int(wait_ms)}
        if keep:
            req["keep"] = True
        rep = self._write(req, wait=wait_ms / 1000.0)
        return self._grant(rep)

    def proclaim(self, name, lease, value):
        """The leader changes its value; False if `lease` does not lead."""
        req = {"op": "proclaim", "name": _as_bytes(name, "name"), "lease": int(lease),
               "value": _as_bytes(value, "value")}
        return bool(self._write(req).get("succeeded"))

    def resign(self, name=None, lease=None, key=None):
        """Gives up leadership or candidacy (by name and lease, or by key);
        False when nothing matched."""
        return self._release("resign", name, lease, key, None)

    def _release(self, op, name, lease, key, token):
        req = {"op": op}
        if name is not None:
            req["name"] = _as_bytes(name, "name")
        if lease is not None:
            req["lease"] = int(lease)
        if key is not None:
            req["key"] = _as_bytes(key, "key")
        if token is not None:
            req["token"] = int(token)
        return bool(self._write(req).get("succeeded"))

    def leader(self, name):
        """The election's leader, a linearizable read: {"value" (None when
        nobody leads), "key", "token", "revision"}; key and token are None
        when nobody leads."""
        rep = self._call({"op": "leader", "name": _as_bytes(name, "name")},
                         write=False, any_node=False)
        value = rep.get("value")
        return {"value": value,
                "key": rep.get("key") if value is not None else None,
                "token": rep.get("token") if value is not None else None,
                "revision": rep.get("revision")}

    def queue_put(self, queue, value):
        """Appends an item to `queue` (exactly once: a retry reuses this
        client's session and seq); returns its item number.
        CabildoError("queue_full"): the queue is at its limits, nothing stored."""
        req = {"op": "queue_put", "queue": _as_bytes(queue, "queue"),
               "value": _as_bytes(value, "value")}
        return self._write(req).get("item")

    def queue_get(self, queue, wait_ms=0, visibility_ms=30000):
        """Takes the first ready item, invisible to other consumers for
        visibility_ms (count it from when you called). wait_ms 0: POLL, an
        empty queue answers at once; otherwise waits up to wait_ms for an item.
        Returns {"item", "value", "receipt", "revision"}, or None when no item
        came. Acknowledge it with queue_ack(queue, item, receipt); the receipt
        is a lease (lease_keepalive extends the visibility, lease_revoke gives
        the item back)."""
        req = {"op": "queue_get", "queue": _as_bytes(queue, "queue"),
               "wait_ms": int(wait_ms), "visibility_ms": int(visibility_ms)}
        rep = self._write(req, wait=wait_ms / 1000.0)
        if not rep.get("succeeded"):
            return None
        return {k: rep.get(k) for k in ("item", "value", "receipt", "revision")}

    def queue_ack(self, queue, item, receipt):
        """Removes a delivered item for good. False: the receipt is no longer
        valid (the item was delivered again, or acknowledged already)."""
        req = {"op": "queue_ack", "queue": _as_bytes(queue, "queue"), "item": int(item),
               "receipt": int(receipt)}
        return bool(self._write(req).get("succeeded"))

    def queue_len(self, queue):
        """A linearizable read: {"items" (ready and in flight), "in_flight",
        "bytes" (of the items' values), "revision"}."""
        rep = self._call({"op": "queue_len", "queue": _as_bytes(queue, "queue")},
                         write=False, any_node=False)
        return {"items": rep.get("items", 0), "in_flight": rep.get("in_flight", 0),
                "bytes": rep.get("bytes", 0), "revision": rep.get("revision")}

    def queue_peek(self, queue):
        """The first ready item without delivering it: (item, value), or
        None when no item is ready. A linearizable read."""
        rep = self._call({"op": "queue_peek", "queue": _as_bytes(queue, "queue")},
                         write=False, any_node=False)
        if rep.get("value") is None:
            return None
        return rep.get("item"), rep.get("value")

    @staticmethod
    def _grant(rep):
        return {"succeeded": bool(rep.get("succeeded")), "token": rep.get("token"),
                "key": rep.get("key"), "revision": rep.get("revision")}

    # Membership (PROTOCOL.md, member_* and transfer_leader). Each returns the
    # reply's "membership" map ({"index", "pending", "cluster_id", "members":
    # [{"id", "peer", "client_endpoint", "learner", "match_index", "active",
    # "uuid"}]}). refresh_members() makes the client use the members'
    # endpoints from then on (not through a broker: it would bypass it); a
    # leader hint naming a node the client does not know adds it.

    def member_list(self):
        return self._membership({"op": "member_list"}, any_node=True)

    def member_add(self, member_id, peer, learner=False):
        """peer: the new member's "host:port" (its peer port)."""
        return self._membership({"op": "member_add", "member_id": int(member_id),
                                 "peer": str(peer), "learner": bool(learner)})

    def member_promote(self, member_id):
        return self._membership({"op": "member_promote", "member_id": int(member_id)})

    def member_remove(self, member_id):
        return self._membership({"op": "member_remove", "member_id": int(member_id)})

    def transfer_leader(self, member_id=0):
        """To voter member_id, or (0) the most caught-up one."""
        req = {"op": "transfer_leader"}
        if member_id:
            req["member_id"] = int(member_id)
        return self._membership(req)

    def refresh_members(self):
        """Learns the current members' endpoints (from any node)."""
        membership = self.member_list()
        self._learn_endpoints(m.get("client_endpoint") for m in membership.get("members") or [])
        return list(self.endpoints)

    def status(self, endpoint, timeout=None):
        """Asks that one node for its status (one attempt, no redirect).

        Returns the reply map as a dict; raises CabildoError("timeout") if the
        node does not answer within `timeout` (default request_timeout)."""
        timeout = self.request_timeout if timeout is None else float(timeout)
        with self._lock:
            rep = self._attempt(endpoint, {"op": "status", "id": next(self._ids)}, timeout)
        if rep is None:
            raise CabildoError("timeout", "no reply from %s" % endpoint)
        if not rep.get("ok"):
            raise CabildoError(rep.get("error", "internal"), rep.get("message", ""))
        return rep

    def request(self, req, endpoint=None, timeout=None):
        """Sends one raw request map to one node and returns the raw reply
        map (or None on timeout). No retries, no session handling."""
        timeout = self.request_timeout if timeout is None else float(timeout)
        with self._lock:
            return self._attempt(endpoint or self.endpoints[self._idx], req, timeout)

    def close(self):
        if self._own_context:
            self._ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------- internals

    def _event(self, text):
        if self.on_event is not None:
            self.on_event(text)

    def _new_session(self):
        self.session = 0
        while self.session == 0:
            self.session = random.SystemRandom().getrandbits(64)
        self.seq = 0

    def _write(self, req, wait=0.0):
        """A write in this client's session (a retry reuses its seq). wait:
        seconds the node may hold the request before answering (wait_ms)."""
        with self._lock:
            self.seq += 1
            req["session"] = self.session
            req["seq"] = self.seq
            return self._call(req, write=True, any_node=False, wait=wait)

    def _membership(self, req, any_node=False):
        rep = self._call(req, write=False, any_node=any_node)
        return rep.get("membership") or {}

    def _learn_endpoints(self, endpoints):
        """The members as the cluster says: replaces the start-up list."""
        with self._lock:
            learned = [e for e in endpoints if isinstance(e, str) and e]
            if learned:
                self.endpoints = learned
                self._idx = 0

    def _is_suspect(self, endpoint, now):
        t = self._suspect.get(endpoint)
        return t is not None and now - t < max(2 * self.request_timeout, 0.2)

    def _next_endpoint(self, after):
        """The endpoint to try after `after`, preferring ones that did not
        time out lately."""
        n = len(self.endpoints)
        start = self.endpoints.index(after) + 1 if after in self.endpoints else self._idx
        now = time.monotonic()
        order = [self.endpoints[(start + i) % n] for i in range(n)]
        for ep in order:
            if not self._is_suspect(ep, now):
                self._idx = self.endpoints.index(ep)
                return ep
        self._idx = start % n
        return order[0]

    def _first_target(self, any_node):
        now = time.monotonic()
        if not any_node and self._leader and not self._is_suspect(self._leader, now):
            return self._leader
        ep = self.endpoints[self._idx]
        if self._is_suspect(ep, now):
            ep = self._next_endpoint(ep)
        return ep

    def _attempt(self, endpoint, req, timeout):
        """One Lazy Pirate attempt: returns the decoded reply or None on timeout."""
        sock = self._ctx.socket(zmq.REQ)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.MAXMSGSIZE, _REPLY_FRAME_MAX)
            for option, value in self._curve:
                sock.setsockopt(option, value)
            sock.connect(endpoint)
            sock.send(msgpack.packb(req, use_bin_type=True))
            if sock.poll(int(max(timeout, 0.001) * 1000), zmq.POLLIN) == 0:
                return None
            raw = sock.recv()
        finally:
            sock.close(linger=0)
        try:
            rep = msgpack.unpackb(raw, raw=False)
        except Exception as e:  # noqa: BLE001 - any decode failure is the node's
            raise CabildoError("internal", "undecodable reply from %s: %s" % (endpoint, e))
        if not isinstance(rep, dict) or not isinstance(rep.get("ok"), bool):
            raise CabildoError("internal", "malformed reply from %s: %r" % (endpoint, rep))
        if "id" in req and rep.get("id") != req["id"]:
            raise CabildoError("internal", "reply id %r from %s does not match request id %r"
                               % (rep.get("id"), endpoint, req["id"]))
        return rep

    def _call(self, req, write, any_node, wait=0.0):
        """Sends req until a node answers it ok (returned) or with an error
        that retrying cannot help (raised), within the call's budget.

        wait: seconds the node may hold the request before it answers (the
        `wait_ms` of lock, campaign and queue_get; PROTOCOL.md section 9,
        "Waiting": the node's timeout counts from the end of the wait). Each
        attempt then waits wait + request_timeout for its reply, and the
        call's budget grows by wait too."""
        wait = max(0.0, float(wait))
        attempt_timeout = self.request_timeout + wait
        budget = max(self.total_timeout + wait, attempt_timeout)
        with self._lock:
            deadline = time.monotonic() + budget
            target = self._first_target(any_node)
            backoff = self.backoff_initial
            redirects = 0  # leader hints followed without a pause
            unknown = False  # a write attempt whose outcome we do not know
            last = None  # (code, message) of the last failure
            attempts = 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                attempts += 1
                req["id"] = next(self._ids)
                rep = self._attempt(target, req, min(attempt_timeout, remaining))
                if rep is None:
                    now = time.monotonic()
                    self._suspect[target] = now
                    if self._leader == target:
                        self._leader = None
                    if write:
                        unknown = True
                    last = ("timeout", "no reply from %s" % target)
                    nxt = self._next_endpoint(target)
                    self._event("no reply from %s within %.2fs; trying %s"
                                % (target, attempt_timeout, nxt))
                    target = nxt
                    continue
                self._suspect.pop(target, None)
                hint = rep.get("leader")
                if isinstance(hint, str) and hint:
                    self._leader = hint
                    if hint not in self.endpoints:  # a member added since start
                        self.endpoints.append(hint)
                if rep["ok"]:
                    self.last_endpoint = target
                    self.last_attempts = attempts
                    return rep
                code = rep.get("error")
                msg = rep.get("message", "")
                if not isinstance(code, str):
                    raise CabildoError("internal", "error reply without a code: %r" % (rep,))
                if code == "session_expired":
                    # The cluster forgot our session (PROTOCOL.md section 6):
                    # this write was not run now; the next one starts afresh.
                    self._new_session()
                    raise CabildoError(code, msg)
                if code not in _RETRY_CODES:
                    # bad_request, too_large, storage_full, stale_session,
                    # permission_denied (another node will not think
                    # otherwise), internal and unknown codes (treated like
                    # internal).
                    self._refused(code, write, unknown)
                    raise CabildoError(code, msg)
                if code == "timeout" and write:
                    unknown = True
                last = (code, msg)
                now = time.monotonic()
                usable_hint = (isinstance(hint, str) and hint and hint != target
                               and not self._is_suspect(hint, now))
                if code == "unavailable" and usable_hint and redirects < 3:
                    # Not the leader, but it knows who is: go there at once.
                    redirects += 1
                    self._event("%s: unavailable (%s); redirected to leader %s"
                                % (target, msg, hint))
                    target = hint
                    continue
                # Back off, then go to the leader if we know a live one,
                # otherwise to another node.
                if code in ("timeout", "rate_limited"):
                    nxt = target
                elif usable_hint:
                    nxt = hint
                else:
                    nxt = self._next_endpoint(target)
                pause = min(backoff, max(0.0, deadline - time.monotonic()))
                self._event("%s: %s (%s); retrying at %s in %.0f ms"
                            % (target, code, msg, nxt, pause * 1000))
                time.sleep(pause)
                backoff = min(backoff * 2, self.backoff_max)
                redirects = 0
                target = nxt
            self.last_attempts = attempts
            if write and unknown:
                raise CabildoError("timeout", "gave up after %.1fs and %d attempts; the write "
                                   "may or may not have been applied (last: %s)"
                                   % (budget, attempts, last[1] if last else "-"))
            if last is None:
                raise CabildoError("timeout", "no attempt fitted in %.1fs" % budget)
            self._refused(last[0], write, unknown)
            raise CabildoError(last[0], "gave up after %.1fs and %d attempts: %s"
                               % (budget, attempts, last[1]))

    def _refused(self, code, write, unknown):
        """A write refused before it ran (permission_denied, rate_limited)
        used no seq: the next write takes it, or its seq would leave a gap
        that a node could read as a forgotten session (PROTOCOL.md section
        6). Not if an earlier attempt's outcome is unknown: that one may
        have run with this seq."""
        if write and not unknown and code in _REFUSED_CODES:
            self.seq -= 1
