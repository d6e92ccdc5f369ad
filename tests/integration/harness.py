"""Integration-test harness: real cabildo-node processes on 127.0.0.1.

    class MyTest(harness.ClusterTestCase):
        def test_x(self):
            c = self.start_cluster(3)          # Cluster, started, leader elected
            cl = c.client()                    # examples/python/cabildo.py Client
            cl.put(b"k", b"v")

The node binary is $CABILDO_BIN_DIR/node/cabildo-node (CABILDO_BIN_DIR
defaults to <repo>/build). Every node gets a temp data dir and a log file
(its stderr) under one temp dir, which is removed at the end unless the test
failed; on failure the node logs are printed. Every process is killed in
tearDown, even when the test failed.

Cluster(n, secure=True) runs the nodes with CurveZMQ and an ACL (PROTOCOL.md
section 12): key files in <dir>/keys, <dir>/acl.json listing the nodes and an
"admin" identity with every right on every key. The harness's own clients
(status probes, client(), node_client()) speak as admin; add_identity() adds
others and reload_acl() tells the nodes.
"""

import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CABILDO_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BIN_DIR = os.environ.get("CABILDO_BIN_DIR") or os.path.join(SOURCE_DIR, "build")
NODE_BIN = os.path.join(BIN_DIR, "node", "cabildo-node")
EXAMPLES_DIR = os.path.join(SOURCE_DIR, "examples", "python")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, EXAMPLES_DIR)
import cabildo  # noqa: E402  (examples/python/cabildo.py)

CabildoError = cabildo.CabildoError

PORTS_PER_NODE = 4  # peer, client, pub, pull
PORT_SPACING = 10

try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded before any fork
except OSError:
    _libc = None


def _die_with_parent():
    """preexec_fn: the node gets SIGKILL if the test process dies (e.g. a
    CTest timeout), so no node outlives its test. PR_SET_PDEATHSIG = 1.
    The signal follows the *thread* that forked: start nodes from the main
    thread only."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# Listening ports come from below Linux's ephemeral range (32768-60999 by
# default): there, an outgoing connection's local port could take a killed
# node's port before it restarts ("Address already in use"; seen in
# integration.failover).
PORT_MIN = 10000
PORT_MAX = 32000


def pick_base_port(n):
    """A random base in PORT_MIN..PORT_MAX such that base + 10*i + 0..3 are
    free for every node i < n."""
    for _ in range(200):
        base = random.randrange(PORT_MIN, PORT_MAX - PORT_SPACING * (n + 1), PORT_SPACING)
        if all(_port_free(base + PORT_SPACING * i + k)
               for i in range(n) for k in range(PORTS_PER_NODE)):
            return base
    raise RuntimeError("no free port range found")


def free_port():
    """A port nothing listens on (for a 'dead' endpoint)."""
    for _ in range(200):
        p = random.randrange(PORT_MIN, PORT_MAX)
        if _port_free(p):
            return p
    raise RuntimeError("no free port found")


def wait_for(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns something truthy (returned) or the
    deadline passes (AssertionError naming `what`, the last value or the last
    exception). Exceptions from cond count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = cond()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


class Node:
    def __init__(self, cluster, node_id, port):
        self.cluster = cluster
        self.id = node_id
        self.port = port
        self.data_dir = os.path.join(cluster.dir, "node%d" % node_id)
        self.log_path = os.path.join(cluster.dir, "node%d.log" % node_id)
        self.proc = None
        self.starts = 0
        self.expect_down = False  # set by stop/kill: an exit is not a crash
        self.more_args = []  # this node's own extra flags, e.g. --test-boot-id
        self.join = None  # started with --join these members (host:port) instead of --member
        os.makedirs(self.data_dir, exist_ok=True)

    @property
    def address(self):
        """host:port as `member add` and --join take it (the peer port)."""
        return "127.0.0.1:%d" % self.port

    @property
    def peer_endpoint(self):
        return "tcp://127.0.0.1:%d" % self.port

    @property
    def client_endpoint(self):
        return "tcp://127.0.0.1:%d" % (self.port + 1)

    @property
    def pub_endpoint(self):
        return "tcp://127.0.0.1:%d" % (self.port + 2)

    @property
    def pull_endpoint(self):
        return "tcp://127.0.0.1:%d" % (self.port + 3)

    @property
    def key_path(self):
        """Its Curve key pair (secure clusters only)."""
        return self.cluster.key_path("node%d" % self.id)

    def args(self):
        a = [NODE_BIN, "--id", str(self.id), "--data-dir", self.data_dir]
        if self.join:
            a += ["--join", ",".join(self.join)]
        else:
            for n in self.cluster.nodes[:self.cluster.bootstrap_size]:
                a += ["--member", "%d=127.0.0.1:%d" % (n.id, n.port)]
        if self.cluster.secure:
            a += ["--curve-key", self.key_path, "--server-key", self.cluster.server_key,
                  "--acl", self.cluster.acl_path]
        a += list(self.cluster.extra_args)
        a += list(self.more_args)
        return a

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.alive(), "node %d already running" % self.id
        self.starts += 1
        self.expect_down = False
        with open(self.log_path, "ab") as log:
            log.write(("=== start #%d: %s\n" % (self.starts, " ".join(self.args()))).encode())
            log.flush()
            env = dict(os.environ, **self.cluster.env) if self.cluster.env else None
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, preexec_fn=_die_with_parent, env=env)

    def _signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        self.expect_down = True
        self._signal(signal.SIGCONT)  # a paused node cannot shut down
        self._signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._note("did not exit within %.0fs of SIGTERM; killed" % timeout)
            return None

    def kill(self):
        """kill -9 (a crash); waits until the process is gone."""
        if self.proc is None:
            return
        self.expect_down = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def pause(self):
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)

    def restart(self):
        if self.alive():
            self.stop()
        self.start()

    def _note(self, text):
        with open(self.log_path, "ab") as log:
            log.write(("=== harness: %s\n" % text).encode())

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class Cluster:
    """n nodes on 127.0.0.1 with ports from a random free base. secure: CURVE
    and an ACL on every node (see the module's docstring)."""

    ADMIN = "admin"  # the identity with every right (secure clusters)

    def __init__(self, n=3, extra_args=("--log-level", "info"), env=None, secure=False):
        if not os.path.exists(NODE_BIN):
            # Fail, not skip: a green run without a node would hide a broken build.
            raise RuntimeError("node binary %s not found (set CABILDO_BIN_DIR)" % NODE_BIN)
        self.dir = tempfile.mkdtemp(prefix="cabildo-it-")
        self.extra_args = list(extra_args)
        self.env = env  # extra environment of the node processes (e.g. LD_PRELOAD)
        self.secure = secure
        self.keys_dir = os.path.join(self.dir, "keys")
        self.acl_path = os.path.join(self.dir, "acl.json")
        # The ACL as acl.json holds it; write_acl() writes it out.
        self.acl = {"members": {}, "identities": {}}
        base = pick_base_port(n)
        self.nodes = [Node(self, i + 1, base + PORT_SPACING * i) for i in range(n)]
        self.bootstrap_size = n  # the --member list; nodes added later join
        if secure:
            self._make_keys()
        self._probe = cabildo.Client([self.nodes[0].client_endpoint], **self.curve_kw())
        self._clients = []

    # -- security (secure=True)

    def key_path(self, name):
        return os.path.join(self.keys_dir, name + ".key")

    @property
    def server_key(self):
        """The key pair every node serves clients with (--server-key)."""
        return self.key_path("server")

    @property
    def server_pub(self):
        return os.path.join(self.keys_dir, "server.pub")

    def _key_pair(self, name):
        """name's key file, made on first use; its public key (str)."""
        path = self.key_path(name)
        if os.path.exists(path):
            public, _secret = cabildo.read_key_file(path, need_secret=True)
        else:
            public, _secret = cabildo.write_key_files(os.path.join(self.keys_dir, name))
        return public.decode("ascii")

    def _make_keys(self):
        os.makedirs(self.keys_dir, exist_ok=True)
        self._key_pair("server")
        for n in self.nodes:
            self.acl["members"][str(n.id)] = self._key_pair("node%d" % n.id)
        self.add_identity(self.ADMIN, [("", ["read", "write", "watch", "admin"])])

    def add_identity(self, name, allow, requests_per_s=0):
        """Adds identity `name` to acl.json (or replaces its rules; its key
        stays), with allow = [(prefix, [rights])] or [{"prefix", "rights"}];
        returns its .key file. The nodes see it after reload_acl()."""
        rules = [r if isinstance(r, dict) else {"prefix": r[0], "rights": list(r[1])}
                 for r in allow]
        self.acl["identities"][name] = {"key": self._key_pair(name), "allow": rules,
                                        "requests_per_s": requests_per_s}
        self.write_acl()
        return self.key_path(name)

    def write_acl(self, text=None):
        """Writes acl.json from self.acl (or the given text, e.g. a broken
        one), atomically: a node reloading it never reads half a file."""
        tmp = self.acl_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text if text is not None else json.dumps(self.acl, indent=1, sort_keys=True))
        os.replace(tmp, self.acl_path)

    def reload_acl(self, wait=False, timeout=5.0):
        """SIGHUP to every live node: each reads acl.json again. wait: until
        each has logged a line naming the ACL file since (reloaded or kept
        the old one); otherwise wait_for the change itself."""
        live = [n for n in self.nodes if n.alive()]
        logged = {n.id: len(n.log()) for n in live}
        for n in live:
            n._signal(signal.SIGHUP)
        if wait:
            for n in live:
                wait_for(lambda: self.acl_path in n.log()[logged[n.id]:], timeout,
                         "node %d to log a reload of %s" % (n.id, self.acl_path))

    def curve_kw(self, curve_key=None):
        """Client(**kw) for a secure cluster: as curve_key (a .key file;
        default the admin identity), with the server key; {} otherwise."""
        if not self.secure:
            return {}
        return {"curve_key": curve_key or self.key_path(self.ADMIN),
                "server_key": self.server_pub}

    def curve_options(self, curve_key=None):
        """The (option, value) pairs that make a raw socket a CURVE client of
        this cluster, as curve_key (default admin)."""
        kw = self.curve_kw(curve_key)
        return cabildo.curve_options(kw.get("curve_key"), kw.get("server_key"))

    # -- processes

    def node(self, node_id):
        return self.nodes[node_id - 1]

    def add_node(self, join_ids):
        """A new node (next id, free ports), not started, that joins through
        the given members. Add it to the membership before starting it."""
        n = Node(self, len(self.nodes) + 1, pick_base_port(1))
        n.join = [self.node(i).address for i in join_ids]
        self.nodes.append(n)
        if self.secure:
            # The members must know its key before it joins.
            self.acl["members"][str(n.id)] = self._key_pair("node%d" % n.id)
            self.write_acl()
            self.reload_acl(wait=True)
        return n

    def start(self, node_id=None):
        for n in self.nodes if node_id is None else [self.node(node_id)]:
            n.start()

    def stop(self, node_id):
        return self.node(node_id).stop()

    def kill(self, node_id):
        self.node(node_id).kill()

    def pause(self, node_id):
        self.node(node_id).pause()

    def resume(self, node_id):
        self.node(node_id).resume()

    def restart(self, node_id):
        self.node(node_id).restart()

    def kill_all(self):
        for n in self.nodes:
            try:
                n.resume()
                n.kill()
            except Exception:  # noqa: BLE001
                pass

    def dead_nodes(self):
        """Nodes that were started and have exited without being asked to."""
        return [n for n in self.nodes
                if n.proc is not None and not n.expect_down and n.proc.poll() is not None]

    # -- endpoints and clients

    def endpoints(self, first=None):
        """Client endpoints, rotated to start at node `first` (an id)."""
        eps = [n.client_endpoint for n in self.nodes]
        if first is not None:
            k = first - 1
            eps = eps[k:] + eps[:k]
        return eps

    def client(self, first=None, **kw):
        """A cabildo.Client over every node (starting at node `first`); on a
        secure cluster as admin unless curve_key= says otherwise."""
        kw.setdefault("request_timeout", 1.0)
        kw.setdefault("total_timeout", 10.0)
        for name, value in self.curve_kw().items():
            kw.setdefault(name, value)
        c = cabildo.Client(self.endpoints(first), **kw)
        self._clients.append(c)
        return c

    def node_client(self, node_id, **kw):
        """A Client that knows only one node (for serializable reads there)."""
        kw.setdefault("request_timeout", 1.0)
        kw.setdefault("total_timeout", 10.0)
        for name, value in self.curve_kw().items():
            kw.setdefault(name, value)
        c = cabildo.Client([self.node(node_id).client_endpoint], **kw)
        self._clients.append(c)
        return c

    def status(self, node_id, timeout=0.5):
        return self._probe.status(self.node(node_id).client_endpoint, timeout=timeout)

    def statuses(self, timeout=0.5, only_alive=True):
        """{node_id: status dict or None when it does not answer}."""
        out = {}
        for n in self.nodes:
            if only_alive and not n.alive():
                continue
            try:
                out[n.id] = self._probe.status(n.client_endpoint, timeout=timeout)
            except CabildoError:
                out[n.id] = None
        return out

    def leader(self, timeout=0.5):
        """The id of the node that says it is the leader (highest term wins),
        or None."""
        best = None
        for nid, st in self.statuses(timeout).items():
            if st and st.get("role") == "leader":
                if best is None or st.get("term", 0) > best[1]:
                    best = (nid, st.get("term", 0))
        return best[0] if best else None

    def wait_for_leader(self, timeout=10.0, exclude=()):
        return wait_for(lambda: (lambda l: l if l and l not in exclude else None)(self.leader()),
                        timeout, "a leader (excluding %s)" % (list(exclude),))

    def followers(self):
        lead = self.leader()
        return [n.id for n in self.nodes if n.alive() and n.id != lead]

    def converged(self, node_ids=None):
        """True when every given (default: every running) node answers status
        with the same applied_index and state_hash, and applied == commit."""
        ids = node_ids or [n.id for n in self.nodes if n.alive()]
        sts = self.statuses()
        seen = set()
        for i in ids:
            st = sts.get(i)
            if not st:
                return False
            seen.add((st.get("applied_index"), st.get("state_hash")))
        return len(seen) == 1

    def wait_converged(self, timeout=20.0, node_ids=None):
        try:
            wait_for(lambda: self.converged(node_ids), timeout,
                     "all nodes to report the same applied_index and state_hash")
        except AssertionError as e:
            raise AssertionError("%s; statuses: %s" % (e, self.describe())) from None

    def describe(self):
        parts = []
        for nid, st in sorted(self.statuses().items()):
            if not st:
                parts.append("%d: no answer" % nid)
            else:
                parts.append("%d: %s term=%s leader=%s commit=%s applied=%s last=%s hash=%s" % (
                    nid, st.get("role"), st.get("term"), st.get("leader_id"),
                    st.get("commit_index"), st.get("applied_index"), st.get("last_index"),
                    st.get("state_hash")))
        return "; ".join(parts)

    def history(self, node_id, prefix, frm):
        """Every event under prefix from revision frm on, from that node's
        watch_from, and the revision the answer covers."""
        cl = self.node_client(node_id)
        ep = self.node(node_id).client_endpoint
        out = []
        while True:
            rep = cl.request({"op": "watch_from", "prefix": prefix, "from": frm, "limit": 10000},
                             endpoint=ep, timeout=5.0)
            assert rep and rep.get("ok"), "watch_from on node %d: %r" % (node_id, rep)
            out += rep["events"]
            frm = rep["revision"] + 1
            if not rep.get("more"):
                return out, rep["revision"]

    def read_all(self, node_id, prefix, limit=10000):
        """{key: value} under prefix, read serializably from that node only."""
        c = self.node_client(node_id, total_timeout=5.0)
        kvs, more, _rev = c.range(prefix, limit=limit, serializable=True)
        if more:
            raise AssertionError("range %r on node %d has more than %d keys" % (prefix, node_id, limit))
        return dict(kvs)

    # -- teardown

    def close(self, keep_dir=False):
        self.kill_all()
        for c in self._clients + [self._probe]:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        self._clients = []
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self, stream=sys.stderr, tail_bytes=200000):
        for n in self.nodes:
            text = n.log()
            if len(text) > tail_bytes:
                text = "...(%d bytes cut)...\n" % (len(text) - tail_bytes) + text[-tail_bytes:]
            stream.write("\n----- node %d log (%s) -----\n%s\n" % (n.id, n.log_path, text))
        stream.write("----- data kept in %s -----\n" % self.dir)
        stream.flush()


class ClusterTestCase(unittest.TestCase):
    """Starts no cluster by itself: call self.start_cluster(n). tearDown kills
    every node; logs are printed and the temp dir kept when the test failed."""

    def setUp(self):
        self.cluster = None
        self._cluster_closed = False

    def start_cluster(self, n=3, **kw):
        self.cluster = Cluster(n, **kw)
        self.cluster.start()
        self.cluster.wait_for_leader(timeout=10.0)
        return self.cluster

    def assertAllAlive(self):
        dead = self.cluster.dead_nodes()
        self.assertFalse(dead, "node(s) exited unexpectedly: %s" % [
            (n.id, n.proc.returncode) for n in dead])

    def tearDown(self):
        if self.cluster is not None:
            self.cluster.kill_all()

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            failed = len(result.failures) + len(result.errors) > before
            if self.cluster is not None:
                if failed:
                    self.cluster.dump_logs()
                self.cluster.close(keep_dir=failed)
