"""cabildo-broker in front of a secure 3-node cluster (PROTOCOL.md section
12, "The broker").

The nodes' ACL lists only admin and the broker (every right on ""). The
broker's own --acl file lists its clients: admin, `reader` (read on app/),
`watcher` (watch on app/), `limited` (read on app/, 5 requests/s). So a
reader request that works through the broker shows that the nodes see the
broker's identity, not the client's, and a refusal that names `reader`
comes from the broker's own check.

1. Rights at the broker: admin can put and get; reader can get, but its put
   is answered permission_denied and the key is unchanged; its pushed write
   is dropped; a client with an unknown key, or with no CURVE, gets no
   answer; limited gets rate_limited past its rate; watcher's SUB gets kv/
   events with value nil (the nodes strip values) and reader's SUB (no
   watch right) is refused.
2. SIGHUP reads the broker's ACL file again: a new identity gets in without
   touching the nodes; a broken file is refused and the old ACL stays.
"""

import json
import os
import signal
import subprocess
import time
import unittest

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

import harness
from harness import CabildoError, wait_for
from test_broker import BROKER_BIN, pick_broker_port

ALL_RIGHTS = ["read", "write", "watch", "admin"]
NO_ANSWER_S = 1.0  # how long "gets no answer" waits


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


class SecureBrokerTest(harness.ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.broker = None
        self.broker_log = None
        self.ctx = zmq.Context()

    def tearDown(self):
        if self.broker is not None and self.broker.poll() is None:
            self.broker.kill()
            self.broker.wait()
        self.ctx.destroy(linger=0)
        super().tearDown()

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before and self.broker_log:
                print("\n----- broker log (%s) -----\n%s" % (self.broker_log, self.log()[-100000:]))

    # -- set-up

    def start(self):
        """A secure cluster whose ACL knows admin and the broker, and a
        secure broker whose ACL knows admin, reader and watcher."""
        self.cluster = c = harness.Cluster(3, secure=True)
        broker_key = c.add_identity("broker", [("", ALL_RIGHTS)])
        c.start()
        # The key itself, not its file: the client takes a 40-character
        # string for a key, and a temp dir's server.pub path may be one.
        self.server_public = harness.cabildo.read_key_file(c.server_pub)[0]
        admin_public, _ = harness.cabildo.read_key_file(c.key_path(c.ADMIN))
        admin_rules = [{"prefix": "", "rights": ALL_RIGHTS}]
        self.broker_acl = {"identities": {"admin": {"key": admin_public.decode(),
                                                    "allow": admin_rules}}}
        self.reader = self.identity("reader", [{"prefix": "app/", "rights": ["read"]}])
        self.watcher = self.identity("watcher", [{"prefix": "app/", "rights": ["watch"]}])
        self.limited = self.identity("limited", [{"prefix": "app/", "rights": ["read"]}])
        self.broker_acl["identities"]["limited"]["requests_per_s"] = 5
        self.broker_acl_path = os.path.join(c.dir, "broker-acl.json")
        self.write_broker_acl()
        self.start_broker(broker_key)
        return c

    def new_key(self, name):
        """A fresh key pair in the cluster dir; (its .key path, public Z85 str)."""
        base = os.path.join(self.cluster.dir, "client-" + name)
        public, _ = harness.cabildo.write_key_files(base)
        return base + ".key", public.decode()

    def identity(self, name, allow):
        """An identity of the broker's ACL (not the nodes'); its .key path.
        write_broker_acl() writes the file out."""
        path, public = self.new_key(name)
        self.broker_acl["identities"][name] = {"key": public, "allow": allow}
        return path

    def write_broker_acl(self, text=None):
        tmp = self.broker_acl_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text if text is not None else json.dumps(self.broker_acl))
        os.replace(tmp, self.broker_acl_path)  # a reload never reads half a file

    def start_broker(self, broker_key):
        c = self.cluster
        port = pick_broker_port()
        self.broker_log = os.path.join(c.dir, "broker.log")
        args = [BROKER_BIN, "--listen", "127.0.0.1:%d" % port, "--log-level", "info",
                "--curve-key", broker_key, "--server-key", c.server_key,
                "--acl", self.broker_acl_path]
        for n in c.nodes:
            args += ["--member", "%d=127.0.0.1:%d" % (n.id, n.port)]
        with open(self.broker_log, "ab") as log:
            self.broker = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           preexec_fn=harness._die_with_parent)
        self.client_ep = "tcp://127.0.0.1:%d" % (port + 1)
        self.pub_ep = "tcp://127.0.0.1:%d" % (port + 2)
        self.pull_ep = "tcp://127.0.0.1:%d" % (port + 3)
        # Ready once it reaches the leader (the cluster has one then): a
        # status through it comes from there.
        probe = self.client(c.key_path(c.ADMIN), request_timeout=0.3)
        wait_for(lambda: probe.status(self.client_ep).get("role") == "leader", 15.0,
                 "the secure broker to reach the leader")

    # -- helpers

    def log(self):
        with open(self.broker_log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def client(self, curve_key, **kw):
        """A cabildo.Client of the broker only, as the identity of curve_key."""
        kw.setdefault("request_timeout", 1.0)
        kw.setdefault("total_timeout", 10.0)
        cl = harness.cabildo.Client([self.client_ep], curve_key=curve_key,
                                    server_key=self.server_public, **kw)
        self.cluster._clients.append(cl)
        return cl

    def socket(self, kind, endpoint, curve_key=None, timeout_ms=2000):
        """A raw socket; a CURVE client as curve_key's identity if given."""
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        if curve_key is not None:
            for option, value in harness.cabildo.curve_options(curve_key, self.server_public):
                s.setsockopt(option, value)
        s.connect(endpoint)
        return s

    def wait_refused(self, monitor, what):
        """Until the socket's monitor reports that the broker refused its key
        (its ZAP handler answered 400), or 5 s."""
        def refused():
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return False
            return event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH and event["value"] == 400
        wait_for(refused, 5.0, "the broker to refuse the key of " + what)

    def answers(self, curve_key, request, timeout_ms=300):
        """The reply a fresh REQ (as curve_key; None: no CURVE) gets, or None."""
        s = self.socket(zmq.REQ, self.client_ep, curve_key, timeout_ms)
        try:
            s.send(pack(request))
            return msgpack.unpackb(s.recv(), raw=False)
        except zmq.Again:
            return None
        finally:
            s.close()

    # -- 1. rights at the broker

    def test_broker_checks_its_clients(self):
        c = self.start()
        admin = self.client(c.key_path(c.ADMIN))
        rev = admin.put(b"app/k", b"v1")
        self.assertEqual(admin.get(b"app/k")[0], b"v1")
        self.assertEqual(admin.last_endpoint, self.client_ep)

        # reader is unknown to the nodes: its get works only because the
        # broker forwards it as itself.
        reader = self.client(self.reader)
        value, read_rev = reader.get(b"app/k")
        self.assertEqual(value, b"v1")
        self.assertGreaterEqual(read_rev, rev)
        with self.assertRaises(CabildoError) as caught:
            reader.put(b"app/k", b"v2")
        self.assertEqual(caught.exception.code, "permission_denied")
        self.assertIn("identity 'reader' has no write right on the key 'app/k'",
                      caught.exception.message)
        self.assertEqual(admin.get(b"app/k")[0], b"v1")

        self.check_no_answer()
        self.check_rate_limit()
        self.check_pushes(admin)
        self.check_stream(admin)

        self.broker.send_signal(signal.SIGTERM)
        self.assertEqual(self.broker.wait(5), 0)
        self.assertAllAlive()

    def check_no_answer(self):
        """An unknown key and a socket without CURVE: the handshake fails,
        nothing comes back. Both wait at once."""
        stranger, _ = self.new_key("stranger")
        sockets = [self.socket(zmq.REQ, self.client_ep, key, timeout_ms=0)
                   for key in (stranger, None)]
        monitor = sockets[0].get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        for s in sockets:
            s.send(pack({"op": "status", "id": 1}))
        poller = zmq.Poller()
        for s in sockets:
            poller.register(s, zmq.POLLIN)
        deadline = time.monotonic() + NO_ANSWER_S
        while time.monotonic() < deadline:
            ready = poller.poll(max(1, int((deadline - time.monotonic()) * 1000)))
            self.assertEqual(ready, [], "a client the broker's ACL does not know got an answer")
        self.wait_refused(monitor, "an unknown client")
        sockets[0].disable_monitor()
        monitor.close()
        for s in sockets:
            s.close()

    def check_rate_limit(self):
        """limited (5 requests/s, a burst of 5) sends 30 gets at once: the
        broker limits it, though the nodes see only the broker (no limit)."""
        d = self.socket(zmq.DEALER, self.client_ep, self.limited, timeout_ms=5000)
        for i in range(30):
            d.send_multipart([b"", pack({"op": "get", "key": b"app/k", "id": i})])
        replies = [msgpack.unpackb(d.recv_multipart()[-1], raw=False) for _ in range(30)]
        d.close()
        codes = [r.get("error", "ok") for r in replies]
        self.assertIn("rate_limited", codes)
        self.assertIn("ok", codes)
        self.assertEqual(set(codes), {"ok", "rate_limited"}, codes)

    def check_pushes(self, admin):
        """reader's pushed write is dropped at the broker; admin's arrives."""
        push = self.socket(zmq.PUSH, self.pull_ep, self.reader)
        push.send(pack({"op": "put", "key": b"app/pushed-by-reader", "value": b"x"}))
        wait_for(lambda: "dropped a pushed write (#1): permission_denied" in self.log(), 5.0,
                 "the broker to drop reader's pushed write")
        push.close()
        self.assertEqual(admin.get(b"app/pushed-by-reader")[0], None)
        push = self.socket(zmq.PUSH, self.pull_ep, self.cluster.key_path(self.cluster.ADMIN))
        push.send(pack({"op": "put", "key": b"app/pushed-by-admin", "value": b"y"}))
        wait_for(lambda: admin.get(b"app/pushed-by-admin")[0] == b"y", 5.0,
                 "admin's pushed write to arrive")
        push.close()

    def check_stream(self, admin):
        """watcher's SUB gets kv/ events without values; reader (no watch
        right anywhere) cannot connect."""
        refused_sub = self.ctx.socket(zmq.SUB)  # monitored before it connects
        refused_sub.setsockopt(zmq.LINGER, 0)
        monitor = refused_sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        for option, value in harness.cabildo.curve_options(self.reader, self.server_public):
            refused_sub.setsockopt(option, value)
        refused_sub.setsockopt(zmq.SUBSCRIBE, b"")
        refused_sub.connect(self.pub_ep)
        sub = self.socket(zmq.SUB, self.pub_ep, self.watcher, timeout_ms=100)
        sub.setsockopt(zmq.SUBSCRIBE, b"kv/app/w/")
        events = {}

        def event_seen():
            rev = admin.put(b"app/w/%d" % len(events), b"secret")
            events[rev] = True
            try:
                topic, body = sub.recv_multipart()
            except zmq.Again:
                return None
            return topic, msgpack.unpackb(body, raw=False)
        topic, event = wait_for(event_seen, 10.0, "an event through the broker's XPUB")
        self.assertTrue(topic.startswith(b"kv/app/w/"), topic)
        self.assertEqual(event["key"], topic[len(b"kv/"):])
        self.assertIn("value", event)
        self.assertIsNone(event["value"], "a secured stream carries no values: %r" % event)
        self.assertIn(event["revision"], events)
        self.wait_refused(monitor, "reader's SUB (no watch right)")
        with self.assertRaises(zmq.Again):
            refused_sub.recv_multipart(zmq.NOBLOCK)
        refused_sub.disable_monitor()
        monitor.close()
        sub.close()
        refused_sub.close()

    # -- 2. SIGHUP

    def test_sighup_reloads_the_broker_acl(self):
        self.start()
        late = self.identity("late", [{"prefix": "app/", "rights": ["read"]}])
        status = {"op": "status"}
        self.assertIsNone(self.answers(late, status, timeout_ms=int(NO_ANSWER_S * 1000)),
                          "a key the broker's file does not list yet")

        # Only the broker's file changes: the nodes never see `late`.
        self.write_broker_acl()
        self.broker.send_signal(signal.SIGHUP)
        wait_for(lambda: "ACL file %s reloaded" % self.broker_acl_path in self.log(), 5.0,
                 "the broker to reload its ACL")
        rep = wait_for(lambda: self.answers(late, {"op": "get", "key": b"app/none"}), 5.0,
                       "late's get through the broker")
        self.assertTrue(rep["ok"], rep)
        rep = self.answers(late, {"op": "put", "key": b"app/x", "value": b"1"})
        self.assertEqual((rep["ok"], rep["error"]), (False, "permission_denied"), rep)

        self.write_broker_acl("{ not json")
        self.broker.send_signal(signal.SIGHUP)
        wait_for(lambda: "kept the ACL in force: ACL file %s" % self.broker_acl_path in self.log(),
                 5.0, "the broker to refuse the broken file")
        rep = self.answers(late, {"op": "get", "key": b"app/none"}, timeout_ms=2000)
        self.assertTrue(rep and rep["ok"], "the old ACL stays in force: %r" % (rep,))
        self.assertIsNone(self.broker.poll(), "the broker exited")
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
