"""A secure cluster (CurveZMQ and an ACL, PROTOCOL.md section 12) against
the clients and peers it must keep out.

One 3-node cluster (harness.Cluster(secure=True)) serves every test of the
class; the identities are in acl.json before the nodes start:

    admin    every right on every key (the harness's own clients)
    nobody   no rules at all
    reader   read + watch on "app/"
    watcher  watch only on "app/" (no read: no values)
    limited  read on "rl/", 5 requests per second
    stranger a key pair that is not in the ACL file

Every check would fail with security off: a plain socket would get answers
and events, a forged peer message would move the term, a replayed session
would write again, every identity could do everything.
"""

import os
import re
import socket
import threading
import time
import unittest

import msgpack
import zmq

import harness
from harness import wait_for

NODES = 3
NO_REPLY_S = 1.0  # how long an unauthenticated socket is watched for an answer
BOGUS_TERM = 1 << 40
RIGHTS_ALL = ["read", "write", "watch", "admin"]


def pk(obj):
    return msgpack.packb(obj, use_bin_type=True)


def raft_message(msg_type, sender, receiver, term, transfer=False):
    """A peer frame (PROTOCOL.md section 11) that ends after element 18."""
    return pk([1, msg_type, sender, receiver, term, 10 ** 6, term, transfer, False, 0, 0, [], 0,
               False, 0, 0, 0, 0, 0])


REQUEST_VOTE, APPEND_ENTRIES, HEARTBEAT = 0, 4, 6


def forged_messages(sender, receiver):
    """Messages that, believed, would make the receiver take BOGUS_TERM."""
    return [raft_message(REQUEST_VOTE, sender, receiver, BOGUS_TERM, transfer=True),
            raft_message(APPEND_ENTRIES, sender, receiver, BOGUS_TERM),
            raft_message(HEARTBEAT, sender, receiver, BOGUS_TERM)]


class RecordingProxy:
    """A TCP proxy to one port that records what clients send through it
    (per connection, as the reads came: ZMTP sends in steps, each after the
    other side's), to replay it later."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.sessions = []  # per accepted connection: the client -> node reads
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self._sockets = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [conn, up]
            record = []
            self.sessions.append(record)
            threading.Thread(target=self._pump, args=(conn, up, record), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, None), daemon=True).start()

    @staticmethod
    def _pump(src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    record.append(data)  # recorded BEFORE it reaches the node
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        for s in self._sockets:
            s.close()


class SecurityTest(unittest.TestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.failed = False
        c = cls.cluster = harness.Cluster(NODES, secure=True)
        try:
            cls.keys = {
                "admin": c.key_path(c.ADMIN),
                "nobody": c.add_identity("nobody", []),
                "reader": c.add_identity("reader", [("app/", ["read", "watch"])]),
                "watcher": c.add_identity("watcher", [("app/", ["watch"])]),
                "limited": c.add_identity("limited", [("rl/", ["read"])], requests_per_s=5),
            }
            harness.cabildo.write_key_files(os.path.join(c.keys_dir, "stranger"))
            cls.keys["stranger"] = c.key_path("stranger")
            c.start()
            c.wait_for_leader(timeout=10.0)
        except BaseException:
            c.dump_logs()
            c.close(keep_dir=True)
            raise
        cls.ctx = zmq.Context()
        cls.clients = {}

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.ctx.destroy(linger=0)
            cls.cluster.close(keep_dir=cls.failed)

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                type(self).failed = True
                self.cluster.dump_logs()

    # -- helpers

    def client(self, name="admin"):
        """A cabildo.Client speaking as identity `name`."""
        if name not in self.clients:
            self.clients[name] = self.cluster.client(curve_key=self.keys[name],
                                                     total_timeout=5.0)
        return self.clients[name]

    def ask(self, name, req, node_id=None, timeout=2.0):
        """One raw request as `name` to node_id (default: the leader); the
        reply, or None when none came."""
        nid = node_id or self.cluster.wait_for_leader()
        return self.client(name).request(dict(req), endpoint=self.cluster.node(nid).client_endpoint,
                                         timeout=timeout)

    def admin_get(self, key):
        return self.client().get(key)[0]

    def assertDenied(self, rep, name, what):
        self.assertIsNotNone(rep, "%s as %s: no reply" % (what, name))
        self.assertIs(rep.get("ok"), False, "%s as %s: %r" % (what, name, rep))
        self.assertEqual(rep.get("error"), "permission_denied", "%s as %s: %r" % (what, name, rep))
        self.assertIn("'%s'" % name, rep.get("message", ""),
                      "%s as %s: the message does not name the identity: %r" % (what, name, rep))

    def assertOk(self, rep, name, what):
        self.assertIsNotNone(rep, "%s as %s: no reply" % (what, name))
        self.assertIs(rep.get("ok"), True, "%s as %s: %r" % (what, name, rep))
        return rep

    def assertStays(self, cond, seconds, what):
        """cond() holds throughout `seconds` (a window for something that
        must not happen)."""
        deadline = time.monotonic() + seconds
        while True:
            self.assertTrue(cond(), what)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def socket(self, kind, name=None, server_public=None):
        """A raw socket: plain (name None) or CURVE as identity `name`,
        proving server_public (default: the cluster's server key)."""
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if name is not None:
            server = server_public or self.cluster.server_pub
            for option, value in harness.cabildo.curve_options(self.keys[name], server):
                s.setsockopt(option, value)
        return s

    def sub(self, name, node_id, topic):
        s = self.socket(zmq.SUB, name)
        s.setsockopt(zmq.SUBSCRIBE, topic)
        s.connect(self.cluster.node(node_id).pub_endpoint)
        return s

    @staticmethod
    def drain(sub):
        """Every [topic, event] queued on a SUB socket now, events decoded."""
        out = []
        while True:
            try:
                topic, body = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return out
            out.append((topic, msgpack.unpackb(body, raw=False), body))

    @staticmethod
    def read_for(sock, seconds):
        """Reads what comes on a TCP socket for `seconds` or until it closes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    return
            except socket.timeout:
                pass
            except OSError:
                return

    def terms_and_leaders(self):
        return {nid: (st["term"], st["leader_id"]) if st else None
                for nid, st in self.cluster.statuses().items()}

    # -- who may connect

    def test_unauthenticated_requests_get_no_reply(self):
        ep = self.cluster.node(1).client_endpoint
        frame = pk({"op": "status", "id": 1})
        control = self.socket(zmq.REQ, "admin")
        intruders = {"no CURVE": self.socket(zmq.REQ),
                     "unknown key": self.socket(zmq.REQ, "stranger")}
        for s in [control] + list(intruders.values()):
            s.connect(ep)
            s.send(frame)
        self.assertTrue(control.poll(5000), "admin got no status reply: the test is broken")
        self.assertTrue(msgpack.unpackb(control.recv())["ok"])
        poller = zmq.Poller()
        for s in intruders.values():
            poller.register(s, zmq.POLLIN)
        answered = dict(poller.poll(NO_REPLY_S * 1000))
        for what, s in intruders.items():
            self.assertNotIn(s, answered, "a REQ with %s got a reply" % what)
        for s in [control] + list(intruders.values()):
            s.close()

    def test_unauthenticated_sub_and_push_get_nothing(self):
        c = self.cluster
        lead = c.wait_for_leader()
        admin_sub = self.sub("admin", lead, b"kv/unauth/")
        intruders = {"no CURVE": self.sub(None, lead, b"kv/unauth/"),
                     "unknown key": self.sub("stranger", lead, b"kv/unauth/"),
                     "no watch right": self.sub("nobody", lead, b"kv/unauth/")}
        cl = self.client()
        seen = []

        def admin_sees(revision):
            seen.extend(self.drain(admin_sub))
            return any(ev["revision"] >= revision for _t, ev, _b in seen)

        # Until admin's SUB is live, then three more writes it must see.
        wait_for(lambda: admin_sees(cl.put(b"unauth/k", b"v")), 10.0, "admin's SUB to get events")
        for i in range(3):
            last = cl.put(b"unauth/k%d" % i, b"v")
        wait_for(lambda: admin_sees(last), 5.0, "admin's SUB to see revision %d" % last)
        for what, s in intruders.items():
            self.assertEqual(self.drain(s), [], "a SUB with %s received events" % what)
            s.close()
        admin_sub.close()

        # PUSH: the writes of keys not allowed to write are never carried out.
        pull = c.node(lead).pull_endpoint
        pushed = {b"unauth/push-plain": None, b"unauth/push-stranger": "stranger",
                  b"unauth/push-nobody": "nobody", b"unauth/push-admin": "admin"}
        pushes = []
        for key, name in pushed.items():
            s = self.socket(zmq.PUSH, name)
            s.setsockopt(zmq.SNDTIMEO, 2000)
            s.connect(pull)
            s.send(pk({"op": "put", "key": key, "value": b"pushed"}))
            pushes.append(s)
        wait_for(lambda: self.admin_get(b"unauth/push-admin") == b"pushed", 10.0,
                 "admin's PUSH write to be applied")
        for key, name in pushed.items():
            if name != "admin":
                self.assertIsNone(self.admin_get(key), "a PUSH as %s wrote %r" % (name, key))
        for s in pushes:
            s.close()

    def test_forged_peer_messages_are_dropped(self):
        c = self.cluster
        members = self.client().member_list()["members"]
        uuids = {m["id"]: m.get("uuid", "") for m in members}
        before = self.terms_and_leaders()
        self.assertNotIn(None, before.values(), "a node does not answer status")
        dealers = []

        def dealer(name, target, claimed, suffix):
            node_public = c.acl["members"][str(target)]  # the peer ROUTER proves the node's key
            s = self.socket(zmq.DEALER, name, node_public.encode()) if name else \
                self.socket(zmq.DEALER)
            s.setsockopt(zmq.ROUTING_ID, ("%d/%s/%s" % (claimed, uuids[claimed], suffix)).encode())
            s.setsockopt(zmq.SNDHWM, 10000)
            s.connect(c.node(target).peer_endpoint)
            dealers.append(s)
            return s

        try:
            # Not a member's key (none, unknown, a client identity's), each
            # claiming to be member 2 (1 to node 2), named as node 2 names itself.
            for n in c.nodes:
                claimed = 2 if n.id != 2 else 1
                for name in (None, "stranger", "admin"):
                    s = dealer(name, n.id, claimed, "forged-%s" % name)
                    for frame in forged_messages(claimed, n.id):
                        s.send(frame, zmq.NOBLOCK)
            # A member's key (node 3's) claiming to be another member (2) to
            # node 1: the handshake passes, so node 1 must drop it by the key.
            self.keys["node3"] = c.node(3).key_path
            as_3 = dealer("node3", 1, 2, "forged-by-3")
            drop_line = re.compile(r"dropped a message from '2/[^']*' claiming 2 -> 1")

            def node1_dropped_it():
                for frame in forged_messages(2, 1):
                    as_3.send(frame, zmq.NOBLOCK)
                return drop_line.search(c.node(1).log())

            wait_for(node1_dropped_it, 10.0,
                     "node 1 to log that it dropped node 3's forged message")
            self.assertStays(lambda: self.terms_and_leaders() == before, NO_REPLY_S,
                             "a forged peer message moved a term or a leader: before %r"
                             % (before,))
        finally:
            for s in dealers:
                s.close()
        self.assertFalse(c.dead_nodes(), "a node died")

    # -- what each identity may do

    def test_identity_without_rules_is_denied_everything(self):
        c = self.cluster
        lead = c.wait_for_leader()
        requests = {
            "get": {"op": "get", "key": b"app/x"},
            "put": {"op": "put", "key": b"app/x", "value": b"1"},
            "delete": {"op": "delete", "key": b"app/r"},
            "range": {"op": "range", "prefix": b"", "limit": 10},
            "watch_from": {"op": "watch_from", "prefix": b"app/", "from": 1},
            "cas": {"op": "cas", "key": b"app/x", "expected": None, "value": b"1"},
            "txn": {"op": "txn", "compare": [],
                    "success": [{"op": "put", "key": b"app/x", "value": b"1"}]},
            "lease_grant": {"op": "lease_grant", "ttl_ms": 60000},
            "lock": {"op": "lock", "name": b"m", "lease": 1, "wait_ms": 0},
            "queue_put": {"op": "queue_put", "queue": b"q", "value": b"item"},
            "member_add": {"op": "member_add", "member_id": 9, "peer": "127.0.0.1:1",
                           "learner": True},
            "snapshot_read": {"op": "snapshot_read"},
            "transfer_leader": {"op": "transfer_leader"},
        }
        self.client().put(b"app/r", b"r")
        for what, req in requests.items():
            self.assertDenied(self.ask("nobody", req, lead), "nobody", what)
        self.assertOk(self.ask("nobody", {"op": "status"}, lead), "nobody", "status")
        self.assertOk(self.ask("nobody", {"op": "member_list"}, lead), "nobody", "member_list")
        admin = self.client()
        self.assertIsNone(self.admin_get(b"app/x"), "a denied write wrote app/x")
        self.assertEqual(self.admin_get(b"app/r"), b"r", "a denied delete deleted app/r")
        self.assertEqual(admin.queue_len(b"q")["items"], 0, "a denied queue_put stored an item")
        self.assertEqual(admin.lease_list()[0], [], "a denied lease_grant made a lease")
        self.assertEqual(len(admin.member_list()["members"]), NODES, "a denied member_add added")
        self.assertEqual(c.wait_for_leader(), lead, "a denied transfer_leader moved the leader")

    def test_reader_reads_and_watches_its_prefix_only(self):
        lead = self.cluster.wait_for_leader()
        rev = self.client().put(b"app/k", b"for-readers")
        self.client().put(b"other/x", b"hidden")
        rep = self.assertOk(self.ask("reader", {"op": "get", "key": b"app/k"}, lead), "reader",
                            "get")
        self.assertEqual(rep["value"], b"for-readers")
        rep = self.assertOk(self.ask("reader", {"op": "range", "prefix": b"app/"}, lead), "reader",
                            "range app/")
        self.assertIn(b"app/k", [kv["key"] for kv in rep["kvs"]])
        rep = self.assertOk(self.ask("reader", {"op": "watch_from", "prefix": b"app/",
                                                "from": rev}, lead), "reader", "watch_from")
        self.assertIn((b"app/k", b"for-readers"),
                      [(e["key"], e["value"]) for e in rep["events"]], rep)
        self.assertDenied(self.ask("reader", {"op": "put", "key": b"app/x", "value": b"1"}, lead),
                          "reader", "put app/x")
        self.assertDenied(self.ask("reader", {"op": "get", "key": b"other/x"}, lead), "reader",
                          "get other/x")
        self.assertDenied(self.ask("reader", {"op": "range", "prefix": b""}, lead), "reader",
                          "range ''")
        self.assertIsNone(self.admin_get(b"app/x"), "the reader's denied put wrote app/x")

    def test_stream_carries_no_values(self):
        """Watch without read gets events, never values; so does admin: in
        secure mode values go only through watch_from."""
        lead = self.cluster.wait_for_leader()
        subs = {"watcher": self.sub("watcher", lead, b"kv/app/"),
                "admin": self.sub("admin", lead, b"kv/app/")}
        got = {name: [] for name in subs}
        secret = b"secret-value"

        def both_saw_put():
            self.client().put(b"app/w", secret)
            for name, s in subs.items():
                got[name] += [e for e in self.drain(s) if e[1].get("key") == b"app/w"]
            return all(got.values())

        wait_for(both_saw_put, 10.0, "both SUBs to get an event of app/w")
        for name, events in got.items():
            for topic, event, body in events:
                self.assertEqual(topic, b"kv/app/w")
                self.assertEqual(event.get("op"), "put", event)
                self.assertIn("value", event, event)
                self.assertIsNone(event["value"], "%s's SUB got a value: %r" % (name, event))
                self.assertNotIn(secret, body, "%s's SUB got the value's bytes" % name)
            subs[name].close()
        self.assertDenied(self.ask("watcher", {"op": "watch_from", "prefix": b"app/", "from": 1},
                                   lead), "watcher", "watch_from")
        self.assertDenied(self.ask("watcher", {"op": "get", "key": b"app/w"}, lead), "watcher",
                          "get")

    def test_rate_limit(self):
        lead = self.cluster.wait_for_leader()
        replies = [self.ask("limited", {"op": "get", "key": b"rl/k"}, lead) for _ in range(30)]
        self.assertNotIn(None, replies, "a get got no reply")
        codes = [r.get("error") if not r["ok"] else "ok" for r in replies]
        self.assertIn("ok", codes)
        self.assertIn("rate_limited", codes)
        self.assertEqual(set(codes), {"ok", "rate_limited"}, codes)

    # -- what an eavesdropper can do

    def test_recorded_session_cannot_be_replayed(self):
        c = self.cluster
        lead = c.node(c.wait_for_leader())
        port = int(lead.client_endpoint.rpartition(":")[2])
        proxy = RecordingProxy(port)
        try:
            via = harness.cabildo.Client([proxy.endpoint], **c.curve_kw())
            try:
                # No session: replayed in plain ZMTP it would write again.
                rep = via.request({"op": "put", "key": b"replay/k", "value": b"1"}, timeout=5.0)
            finally:
                via.close()
            self.assertTrue(rep and rep["ok"], "the put through the proxy: %r" % (rep,))
            self.assertEqual(len(proxy.sessions), 1, "one connection through the proxy")
            recorded = list(proxy.sessions[0])
            self.assertGreater(len(b"".join(recorded)), 100)
            self.assertNotIn(b"replay/k", b"".join(recorded), "the session went in the clear")
        finally:
            proxy.close()
        self.client().delete(b"replay/k")
        self.assertIsNone(self.admin_get(b"replay/k"))
        with socket.create_connection(("127.0.0.1", port)) as s:
            # Step by step as the client did, each after the node's answer
            # (a plain ZMTP session replayed so writes again).
            s.settimeout(0.1)
            for chunk in recorded + [b""]:
                try:
                    s.sendall(chunk)
                except OSError:
                    break  # the node hung up
                self.read_for(s, NO_REPLY_S / len(recorded) if chunk else NO_REPLY_S)
        self.assertIsNone(self.admin_get(b"replay/k"), "the replayed session wrote replay/k")
        self.assertTrue(lead.alive(), "the node died")
        self.assertTrue(c.status(lead.id)["ok"])

    # -- changing the ACL

    def test_acl_reload(self):
        c = self.cluster
        late = c.add_identity("late", [])
        self.keys["late"] = late
        c.reload_acl()
        wait_for(lambda: (self.ask("late", {"op": "get", "key": b"x/1"}, timeout=0.5) or {})
                 .get("error") == "permission_denied", 10.0,
                 "the new identity to be known (permission_denied, not silence)")
        cl = c.client(curve_key=late, total_timeout=1.0)
        self.assertDenied(self.ask("late", {"op": "put", "key": b"x/1", "value": b"1"}), "late",
                          "put x/1 before the grant")
        c.add_identity("late", [("x/", ["write"])])
        c.reload_acl()
        wait_for(lambda: cl.put(b"x/1", b"1"), 10.0, "put x/1 to be allowed after the reload")
        self.assertEqual(self.admin_get(b"x/1"), b"1")
        try:
            logged = {n.id: len(n.log()) for n in c.nodes}
            c.write_acl('{"members": {"1": "not a key"')  # broken: refused, the old ACL stays
            c.reload_acl(wait=True)
            for n in c.nodes:
                lines = [line for line in n.log()[logged[n.id]:].splitlines()
                         if c.acl_path in line]
                self.assertTrue(lines, "node %d logged nothing about the broken ACL" % n.id)
                self.assertFalse([line for line in lines if "reloaded" in line],
                                 "node %d took the broken ACL: %r" % (n.id, lines))
            self.assertTrue(cl.put(b"x/2", b"2"), "put x/2 under the old ACL")
            self.assertEqual(self.admin_get(b"x/2"), b"2")
            self.assertFalse(c.dead_nodes(), "a node died on a broken ACL file")
        finally:
            c.write_acl()
            c.reload_acl(wait=True)


if __name__ == "__main__":
    unittest.main()
