"""Fault scenarios: a cluster, recording clients, a fault schedule, checks.

    result = run_scenario("kill_leader")            # quick (CI) variant
    result = run_scenario("isolate_leader", randomized=True, rounds=3, rng=rng)   # soak

Every scenario:
  1. starts a cluster (3 nodes; 5 for majority_minority), on loopback or, when
     it needs network faults, in private namespaces (netns.py);
  2. runs concurrent recording clients (recorder.py) against all nodes;
  3. injects its faults on a schedule, then heals;
  4. checks
     (d) liveness: a write succeeds within LIVENESS_BOUND_S of the last heal,
     (b) durability: a final linearizable read of every key is appended to the
         history, so every acknowledged write must be visible (or overwritten
         by something the history allows),
     (c) convergence: every node reports the same applied_index and state_hash,
     (a) linearizability: cabildo-lincheck accepts the whole history.
On failure the history, the checker output and the node logs are kept (the
paths are printed).
"""

import atexit
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

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402  (read-only: paths, ports, prctl helper)
import netns  # noqa: E402
import recorder  # noqa: E402

LINCHECK = os.environ.get("CABILDO_LINCHECK") or os.path.join(
    harness.BIN_DIR, "tests", "linearizability", "cabildo-lincheck")

TICK_MS = 10
SNAPSHOT_ENTRIES = int(os.environ.get("CABILDO_FAULT_SNAPSHOT_ENTRIES", "200"))
SNAPSHOT_TRAILING = 20
ELECTION_TICKS = 30
HEARTBEAT_TICKS = 5
ELECTION_TIMEOUT_MAX_S = 2 * ELECTION_TICKS * TICK_MS / 1000.0  # randomized in [N, 2N) ticks
LIVENESS_BOUND_S = 5.0
NODE_PORT = 7000  # in namespaces every node has its own IP, so one port fits all

NET_KINDS = ("isolate_leader", "majority_minority", "one_way", "packet_loss",
             "long_partition", "membership_partition")
PROCESS_KINDS = ("kill_leader", "kill_follower", "kill_all", "pause_leader", "storage_failure",
                 "membership_kills")
ALL_KINDS = PROCESS_KINDS + NET_KINDS

_bin_copy = []


def node_binary():
    """A private copy of the node binary: others may relink build/ meanwhile."""
    if not _bin_copy:
        if not os.path.exists(harness.NODE_BIN):
            raise RuntimeError("node binary %s not found (set CABILDO_BIN_DIR)" % harness.NODE_BIN)
        d = tempfile.mkdtemp(prefix="cabildo-faults-bin-")
        dst = os.path.join(d, "cabildo-node")
        shutil.copy2(harness.NODE_BIN, dst)
        _bin_copy.append(dst)
        atexit.register(shutil.rmtree, d, True)
    return _bin_copy[0]


def lincheck_binary():
    if not os.path.exists(LINCHECK):
        raise RuntimeError("checker %s not found (build cabildo-lincheck or set CABILDO_LINCHECK)"
                           % LINCHECK)
    return LINCHECK


# ---------------------------------------------------------------- cluster


def _port_free(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_loopback(n):
    """A random loopback address 127.A.B.C (not 127.0.0.1, which the other
    test suites share) and a base port free on it for n nodes. A node that
    dies leaves its ports free; on a private address no other test's node can
    take them and answer our clients in its place."""
    for _ in range(200):
        host = "127.%d.%d.%d" % (random.randrange(1, 255), random.randrange(0, 256),
                                 random.randrange(1, 255))
        base = random.randrange(harness.PORT_MIN, harness.PORT_MAX - harness.PORT_SPACING * (n + 1),
                                harness.PORT_SPACING)
        if all(_port_free(host, base + harness.PORT_SPACING * i + k)
               for i in range(n) for k in range(harness.PORTS_PER_NODE)):
            return host, base
    raise RuntimeError("no free loopback address/port range found")



class Node:
    def __init__(self, cluster, node_id, host, port, prefix):
        self.cluster = cluster
        self.id = node_id
        self.host = host
        self.port = port
        self.prefix = prefix  # e.g. ["ip", "netns", "exec", ns]
        self.data_dir = os.path.join(cluster.dir, "node%d" % node_id)
        self.log_path = os.path.join(cluster.dir, "node%d.log" % node_id)
        self.proc = None
        self.expect_down = False
        self.starts = 0
        self.join = None      # a spare: started with --join these host:port
        self.removed = False  # removed from the membership: exits, is not compared
        os.makedirs(self.data_dir, exist_ok=True)

    @property
    def client_endpoint(self):
        return "tcp://%s:%d" % (self.host, self.port + 1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.alive()
        self.starts += 1
        self.expect_down = False
        args = [node_binary(), "--id", str(self.id), "--data-dir", self.data_dir]
        if self.join:
            args += ["--join", ",".join(self.join)]
        else:
            for n in self.cluster.nodes[:self.cluster.bootstrap]:
                args += ["--member", "%d=%s:%d" % (n.id, n.host, n.port)]
        args += ["--tick-ms", str(TICK_MS), "--election-ticks", str(ELECTION_TICKS),
                 "--heartbeat-ticks", str(HEARTBEAT_TICKS), "--test-fault-injection",
                 "--log-level", "info"]
        # Snapshots and compaction every 200 entries: a node that was down or
        # cut off catches up through InstallSnapshot, under the same checks.
        args += ["--snapshot-entries", str(SNAPSHOT_ENTRIES),
                 "--snapshot-trailing", str(SNAPSHOT_TRAILING)]
        if self.cluster.keys:
            keys = self.cluster.keys
            args += ["--curve-key", os.path.join(keys, "node%d.key" % self.id),
                     "--server-key", os.path.join(keys, "server.key"),
                     "--acl", os.path.join(keys, "acl.json")]
        with open(self.log_path, "ab") as log:
            log.write(("=== start #%d: %s\n" % (self.starts, " ".join(self.prefix + args))).encode())
            log.flush()
            # `ip netns exec` execs the node: same PID, so signals reach it.
            self.proc = subprocess.Popen(self.prefix + args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, preexec_fn=harness._die_with_parent)

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def kill(self):
        if self.proc is None:
            return
        self.expect_down = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait()

    def note(self, text):
        with open(self.log_path, "ab") as log:
            log.write(("=== harness %.3f: %s\n" % (time.monotonic(), text)).encode())


class FaultCluster:
    """n members and `spares` nodes that start empty with --join when a
    schedule adds them (loopback only)."""

    def __init__(self, n, net=None, spares=0, secure=False):
        self.net = net
        self.bootstrap = n
        self.dir = tempfile.mkdtemp(prefix="cabildo-faults-")
        self.keys = None  # secure: the directory of key files and acl.json
        if net is not None:
            self.nodes = [Node(self, i, net.node_ip(i), NODE_PORT, net.exec_prefix(i))
                          for i in range(1, n + spares + 1)]
            for spare in self.nodes[n:]:
                spare.join = ["%s:%d" % (m.host, m.port) for m in self.nodes[:n]]
            self.ctx = net.client_context()
            self._own_ctx = False
        else:
            host, base = pick_loopback(n + spares)
            self.nodes = [Node(self, i, host, base + harness.PORT_SPACING * (i - 1), [])
                          for i in range(1, n + spares + 1)]
            for spare in self.nodes[n:]:
                spare.join = ["%s:%d" % (m.host, m.port) for m in self.nodes[:n]]
            self.ctx = zmq.Context()
            self._own_ctx = True
        if secure:
            self._secure()

    def _secure(self):
        """Keys for every node, a server key and a client identity with
        every right; each socket of the recorders and checks uses it."""
        self.keys = os.path.join(self.dir, "keys")
        os.makedirs(self.keys)
        key = lambda name: harness.cabildo.write_key_files(os.path.join(self.keys, name))
        members = {str(n.id): key("node%d" % n.id)[0].decode() for n in self.nodes}
        server = key("server")
        client = key("client")
        acl = {"members": members,
               "identities": {"client": {"key": client[0].decode(), "allow": [
                   {"prefix": "", "rights": ["read", "write", "watch", "admin"]}]}}}
        with open(os.path.join(self.keys, "acl.json"), "w") as f:
            json.dump(acl, f)
        recorder.CURVE = (client[0], client[1], server[0])
        self.client_keys = {"curve_key": (client[0], client[1]), "server_key": server[0]}

    def node(self, i):
        return self.nodes[i - 1]

    def endpoints(self):
        return [n.client_endpoint for n in self.nodes]

    def start(self):
        for n in self.nodes[:self.bootstrap]:
            n.start()

    def compared(self):
        """The nodes convergence compares: started, and not removed."""
        return [n for n in self.nodes if n.proc is not None and not n.removed]

    def status(self, i, timeout=0.5):
        conn = recorder.Conn(self.ctx, self.node(i).client_endpoint)
        try:
            rep = conn.call({"op": "status"}, timeout)
        finally:
            conn.close()
        return rep if rep and rep.get("ok") else None

    def statuses(self, timeout=0.5):
        return {n.id: self.status(n.id, timeout) for n in self.nodes if n.alive()}

    def leader(self, exclude=()):
        best = None
        for i, st in self.statuses().items():
            if st and st.get("role") == "leader" and i not in exclude:
                if best is None or st.get("term", 0) > best[1]:
                    best = (i, st.get("term", 0))
        return best[0] if best else None

    def wait_leader(self, timeout=10.0, exclude=()):
        return harness.wait_for(lambda: self.leader(exclude), timeout,
                                "a leader (excluding %s)" % (list(exclude),))

    def followers(self, leader):
        return [n.id for n in self.compared() if n.id != leader]

    def convergence(self):
        """(True, detail) when every node answers with the same applied_index
        and state_hash."""
        sts = {n.id: self.status(n.id) for n in self.compared()}
        seen = {(st.get("applied_index"), st.get("state_hash")) if st else None
                for st in sts.values()}
        return (len(seen) == 1 and None not in seen), self.describe(sts)

    def describe(self, sts=None):
        sts = sts or {n.id: self.status(n.id) for n in self.compared()}
        parts = []
        for i, st in sorted(sts.items()):
            if not st:
                parts.append("%d: no answer" % i)
            else:
                parts.append("%d: %s term=%s leader=%s commit=%s applied=%s hash=%s" % (
                    i, st.get("role"), st.get("term"), st.get("leader_id"),
                    st.get("commit_index"), st.get("applied_index"), st.get("state_hash")))
        return "; ".join(parts)

    def dead_nodes(self):
        return [(n.id, n.proc.returncode) for n in self.nodes
                if n.proc is not None and not n.expect_down and n.proc.poll() is not None]

    def close(self, keep_dir=False):
        recorder.CURVE = None
        for n in self.nodes:
            try:
                n.kill()
            except Exception:  # noqa: BLE001
                pass
        if self._own_ctx:
            self.ctx.destroy(linger=0)
        if not keep_dir and not os.environ.get("CABILDO_KEEP_FAULT_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tails(self, tail_bytes=30000):
        out = []
        for n in self.nodes:
            try:
                with open(n.log_path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            if len(text) > tail_bytes:
                text = "...(%d bytes cut)...\n%s" % (len(text) - tail_bytes, text[-tail_bytes:])
            out.append("----- node %d log (%s) -----\n%s" % (n.id, n.log_path, text))
        return "\n".join(out)


# ---------------------------------------------------------------- scenarios


class Result:
    def __init__(self, kind):
        self.kind = kind
        self.counts = {"ok": 0, "failed": 0, "unknown": 0}
        self.kinds = {}  # ops per kind (get, put, lease_put, cas, del, txn, delp)
        self.ops = 0
        self.faults = []
        self.verdict = "not checked"
        self.checker_output = ""
        self.liveness_s = None
        self.converged = None
        self.problems = []
        self.kept_dir = None
        self.elapsed_s = 0.0

    @property
    def passed(self):
        return not self.problems

    def summary(self):
        return ("scenario %s: %d ops (ok %d, failed %d, unknown %d; %s); %d faults: %s; "
                "liveness %s; converged %s; checker: %s; %.1fs%s" % (
                    self.kind, self.ops, self.counts["ok"], self.counts["failed"],
                    self.counts["unknown"],
                    " ".join("%s %d" % kv for kv in sorted(self.kinds.items())) or "no ops",
                    len(self.faults), ", ".join(self.faults) or "-",
                    "%.2fs" % self.liveness_s if self.liveness_s is not None else "none",
                    self.converged, self.verdict, self.elapsed_s,
                    "" if self.passed else "; PROBLEMS: " + " | ".join(self.problems)))


class Run:
    """What a schedule sees: the cluster, the network, timing helpers."""

    def __init__(self, cluster, net, rng, randomized, result, log):
        self.cluster = cluster
        self.net = net
        self.rng = rng
        self.randomized = randomized
        self.result = result
        self.log = log
        self.last_heal = None

    def dur(self, quick, lo, hi):
        return self.rng.uniform(lo, hi) if self.randomized else quick

    def fault(self, text):
        self.result.faults.append(text)
        for n in self.cluster.nodes:
            if n.alive() or n.proc is not None:
                n.note("FAULT " + text)
        self.log("  fault: %s" % text)

    def healed(self, text="heal"):
        self.last_heal = time.monotonic()
        for n in self.cluster.nodes:
            n.note("HEAL " + text)

    def leader(self):
        return self.cluster.wait_leader(timeout=10.0)


def sched_kill_leader(r):
    lead = r.leader()
    r.fault("kill -9 leader n%d" % lead)
    r.cluster.node(lead).kill()
    time.sleep(r.dur(1.5, 0.5, 3.0))
    r.cluster.node(lead).start()
    r.healed("restart n%d" % lead)


def sched_kill_follower(r):
    lead = r.leader()
    f = r.rng.choice(r.cluster.followers(lead))
    r.fault("kill -9 follower n%d" % f)
    r.cluster.node(f).kill()
    time.sleep(r.dur(1.5, 0.5, 3.0))
    r.cluster.node(f).start()
    r.healed("restart n%d" % f)


def sched_kill_all(r):
    r.fault("kill -9 all nodes")
    for n in r.cluster.nodes:
        n.kill()
    time.sleep(r.dur(1.0, 0.2, 2.0))
    for n in r.cluster.nodes:
        n.start()
    r.healed("restart all")


def sched_pause_leader(r):
    lead = r.leader()
    pause = r.dur(2 * ELECTION_TIMEOUT_MAX_S + 0.3, 2 * ELECTION_TIMEOUT_MAX_S,
                  3 * ELECTION_TIMEOUT_MAX_S + 1)
    r.fault("SIGSTOP leader n%d for %.1fs" % (lead, pause))
    r.cluster.node(lead).signal(signal.SIGSTOP)
    time.sleep(pause)
    others = r.cluster.leader(exclude=(lead,))
    r.log("    leader while n%d was paused: %s" % (lead, others))
    r.cluster.node(lead).signal(signal.SIGCONT)
    r.healed("SIGCONT n%d" % lead)


def sched_storage_failure(r):
    lead = r.leader()
    f = r.rng.choice(r.cluster.followers(lead))
    for target, what in ((f, "follower"), (lead, "leader")):
        r.fault("storage failure on %s n%d" % (what, target))
        r.cluster.node(target).signal(signal.SIGUSR1)
        time.sleep(r.dur(2.0, 0.5, 3.0))
        r.cluster.node(target).signal(signal.SIGUSR2)
        r.healed("storage healed on n%d" % target)
        if what == "follower":
            time.sleep(r.dur(1.5, 0.5, 2.0))
            lead = r.leader()


def sched_isolate_leader(r):
    lead = r.leader()
    r.fault("isolate leader n%d" % lead)
    r.net.partition([[lead], r.cluster.followers(lead)])
    time.sleep(r.dur(3.0, 1.0, 5.0))
    r.log("    leader during the partition: n%s" % r.cluster.leader())
    r.net.heal()
    r.healed()


def sched_majority_minority(r):
    lead = r.leader()
    fs = r.cluster.followers(lead)
    r.rng.shuffle(fs)
    minority = sorted([lead] + fs[:len(r.cluster.nodes) // 2 - 1])
    majority = sorted(fs[len(r.cluster.nodes) // 2 - 1:])
    r.fault("partition %s (old leader side) | %s" % (minority, majority))
    r.net.partition([minority, majority])
    time.sleep(r.dur(3.0, 1.0, 5.0))
    r.log("    leader during the partition: n%s" % r.cluster.leader())
    r.net.heal()
    r.healed()


def sched_one_way(r):
    lead = r.leader()
    r.fault("one-way: leader n%d can send but not receive" % lead)
    for f in r.cluster.followers(lead):
        r.net.cut(src=f, dst=lead)
    time.sleep(r.dur(2.5, 1.0, 4.0))
    r.net.heal()
    r.healed()
    time.sleep(r.dur(1.5, 0.5, 2.0))
    lead = r.leader()
    r.fault("one-way: leader n%d can receive but not send" % lead)
    for f in r.cluster.followers(lead):
        r.net.cut(src=lead, dst=f)
    time.sleep(r.dur(2.5, 1.0, 4.0))
    r.net.heal()
    r.healed()


def sched_packet_loss(r):
    pct = int(r.dur(10, 5, 30))
    r.fault("%d%% packet loss on every node" % pct)
    r.net.loss(pct)
    time.sleep(r.dur(5.0, 2.0, 8.0))
    r.net.heal()
    r.healed()


def sched_long_partition(r):
    """Long enough (7 s) for TCP's retransmission backoff to pass the
    liveness bound: the healed follower must hear the leader over a fresh
    connection, not once the old one retries (a soak found 12 s)."""
    lead = r.leader()
    f = r.rng.choice(r.cluster.followers(lead))
    r.fault("isolate follower n%d" % f)
    r.net.partition([[f], [n.id for n in r.cluster.nodes if n.id != f]])
    time.sleep(r.dur(7.0, 6.0, 9.0))
    r.net.heal()
    r.healed()


def _change(admin, call, *args, timeout=30.0):
    """A membership change, retried while another is pending or the
    learner catches up, and through leader changes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call(*args)
        except harness.CabildoError as e:
            if time.monotonic() > deadline or e.code not in (
                    "change_pending", "lagging", "unavailable", "no_leader", "timeout"):
                raise
            time.sleep(0.1)


def _admin(c):
    return harness.cabildo.Client(c.endpoints()[:c.bootstrap], request_timeout=0.5,
                                  total_timeout=10.0, context=c.ctx,
                                  **(c.client_keys if c.keys else {}))


def sched_membership_partition(r):
    """Add a learner and isolate the leader before the change can commit;
    the majority side elects a leader, which promotes the learner; heal,
    then remove a follower."""
    c = r.cluster
    spare = c.nodes[c.bootstrap]
    admin = _admin(c)
    try:
        lead = r.leader()
        r.fault("member add n%d (learner), then isolate leader n%d" % (spare.id, lead))
        spare.start()
        try:
            admin.member_add(spare.id, "%s:%d" % (spare.host, spare.port), True)
        except harness.CabildoError:
            pass  # a timeout: made or not, member_list says; the retry below adds it
        r.net.partition([[lead], [i for i in range(1, len(c.nodes) + 1) if i != lead]])
        time.sleep(r.dur(1.0, 0.5, 2.0))
        if spare.id not in [m["id"] for m in admin.member_list()["members"]]:
            _change(admin, admin.member_add, spare.id, "%s:%d" % (spare.host, spare.port), True)
        _change(admin, admin.member_promote, spare.id)
        r.log("    leader during the partition: n%s" % c.leader(exclude=(lead,)))
        r.net.heal()
        r.healed()
        new = r.leader()
        victim = next(i for i in c.followers(new) if i != spare.id)
        r.fault("member remove follower n%d" % victim)
        c.node(victim).removed = True
        c.node(victim).expect_down = True
        _change(admin, admin.member_remove, victim)
        r.healed("removed n%d" % victim)
    finally:
        admin.close()


def sched_membership_kills(r):
    """Add a learner while the leader is killed, promote it, then remove a
    follower and kill the leader right after; clients keep going."""
    c = r.cluster
    spare = c.nodes[c.bootstrap]
    admin = _admin(c)
    try:
        _change(admin, admin.member_add, spare.id, "%s:%d" % (spare.host, spare.port), True)
        lead = r.leader()
        r.fault("member add n%d (learner); kill -9 leader n%d" % (spare.id, lead))
        c.node(lead).kill()
        spare.start()
        time.sleep(r.dur(1.0, 0.5, 2.0))
        c.node(lead).start()
        _change(admin, admin.member_promote, spare.id)
        lead = r.leader()
        victim = next(i for i in c.followers(lead) if i != spare.id)
        r.fault("member remove n%d; kill -9 leader n%d right after" % (victim, lead))
        c.node(victim).removed = True
        c.node(victim).expect_down = True
        _change(admin, admin.member_remove, victim)
        c.node(lead).kill()
        time.sleep(r.dur(1.0, 0.5, 2.0))
        c.node(lead).start()
        r.healed("restart n%d" % lead)
    finally:
        admin.close()


SCHEDULES = {
    "membership_kills": sched_membership_kills,
    "membership_partition": sched_membership_partition,
    "kill_leader": sched_kill_leader,
    "kill_follower": sched_kill_follower,
    "kill_all": sched_kill_all,
    "pause_leader": sched_pause_leader,
    "storage_failure": sched_storage_failure,
    "isolate_leader": sched_isolate_leader,
    "majority_minority": sched_majority_minority,
    "one_way": sched_one_way,
    "packet_loss": sched_packet_loss,
    "long_partition": sched_long_partition,
}
CLUSTER_SIZE = {"majority_minority": 5}
CLUSTER_SPARES = {"membership_kills": 1, "membership_partition": 1}


def _liveness(cluster, history, since, bound):
    """Puts one value through every node (a follower forwards it), so every
    node, the healed ones included, must serve a write again. Returns the
    seconds from `since` until the last of them was acknowledged, or None if
    some node could not within bound."""
    deadline = since + bound
    worst = 0.0
    n = 0
    for node in cluster.compared():
        ok = False
        while time.monotonic() < deadline + 0.5:
            n += 1
            op = recorder.Op(900, "put", b"liveness", b"live.%d" % n)
            conn = recorder.Conn(cluster.ctx, node.client_endpoint)
            recorder.perform(conn, op, 0.5)
            conn.close()
            history.add(op)
            if op.outcome == "ok":
                worst = max(worst, op.ret / 1e9 - since)
                ok = True
                break
            time.sleep(0.05)
        if not ok:
            return None
    return worst


def _final_reads(cluster, history, timeout=20.0):
    """A linearizable read of every key, appended to the history (client 901).
    Only running nodes are asked. Returns the keys that could not be read
    within `timeout` overall."""
    eps = [n.client_endpoint for n in cluster.nodes if n.alive()]
    missing = []
    k = 0
    deadline = time.monotonic() + timeout
    for key in history.keys():
        if not eps:
            missing.append(key)
        while eps:
            if time.monotonic() > deadline:
                missing.append(key)
                break
            op = recorder.Op(901, "get", key)
            conn = recorder.Conn(cluster.ctx, eps[k % len(eps)])
            recorder.perform(conn, op, 1.0)
            conn.close()
            history.add(op)
            if op.outcome == "ok":
                break
            k += 1
            time.sleep(0.05)
    return missing


def run_lincheck(path, budget_ms=60000):
    p = subprocess.run([lincheck_binary(), path, "--budget-ms", str(budget_ms)],
                       capture_output=True, text=True, timeout=budget_ms / 1000 + 60)
    return p.returncode, (p.stdout + p.stderr).strip()


def run_scenario(kind, randomized=False, rounds=1, clients=4, rng=None, log=None,
                 warmup_s=2.0, recover_s=1.5, check_budget_ms=60000, mix=None, secure=False):
    """Runs one scenario and returns its Result. Raises netns.NetUnavailable
    when a network scenario cannot build its namespaces."""
    log = log or (lambda s: print(s, flush=True))
    lincheck_binary()  # fail before starting anything when the checker is missing
    node_binary()
    rng = rng or random.Random()
    schedule = SCHEDULES[kind]
    result = Result(kind)
    began = time.monotonic()
    net = None
    cluster = None
    keep = False
    rec = None
    try:
        if kind in NET_KINDS:
            net = netns.TestNet(CLUSTER_SIZE.get(kind, 3) + CLUSTER_SPARES.get(kind, 0)).setup()
        cluster = FaultCluster(CLUSTER_SIZE.get(kind, 3), net, CLUSTER_SPARES.get(kind, 0),
                               secure)
        cluster.start()
        cluster.wait_leader(timeout=15.0)
        history = recorder.History()
        rec = recorder.Recorder(cluster.ctx, cluster.endpoints()[:cluster.bootstrap], clients=clients,
                                seed=rng.getrandbits(64), history=history,
                                **({"mix": mix} if mix else {})).start()
        time.sleep(warmup_s)
        run = Run(cluster, net, rng, randomized, result, log)
        for i in range(rounds):
            schedule(run)
            if i + 1 < rounds:
                time.sleep(run.dur(1.0, 0.5, 2.5))
        # (d) liveness after the last heal
        result.liveness_s = _liveness(cluster, history, run.last_heal, LIVENESS_BOUND_S)
        if result.liveness_s is None or result.liveness_s > LIVENESS_BOUND_S:
            result.problems.append("liveness: no write succeeded within %.0fs of the last heal (%s)"
                                   % (LIVENESS_BOUND_S, cluster.describe()))
        time.sleep(recover_s)
        rec.stop()
        rec = None
        # (b) durability: final linearizable reads join the history
        missing = _final_reads(cluster, history)
        if missing:
            result.problems.append("final reads failed for %d keys: %s" % (len(missing), missing[:5]))
        # (c) convergence (pointless when a node died: that is reported below)
        dead = cluster.dead_nodes()
        if dead:
            result.converged = False
        else:
            try:
                harness.wait_for(lambda: cluster.convergence()[0], 20.0, "convergence")
                result.converged = True
            except AssertionError:
                result.converged = False
                result.problems.append("nodes did not converge: %s" % cluster.convergence()[1])
        if dead:
            result.problems.append("node(s) exited unexpectedly (id, code): %s" % dead)
        # (a) linearizability
        result.counts = history.counts()
        result.kinds = history.kinds()
        result.ops = sum(result.counts.values())
        path = os.path.join(cluster.dir, "history.txt")
        history.write(path)
        history.write_details(os.path.join(cluster.dir, "history-details.txt"))
        code, out = run_lincheck(path, check_budget_ms)
        result.checker_output = out
        with open(os.path.join(cluster.dir, "checker-output.txt"), "w") as f:
            f.write(out + "\n")
        result.problems.extend(history.metadata_problems()[:20])
        if code == 0:
            result.verdict = "linearizable"
        elif code == 1:
            result.verdict = "VIOLATION"
            result.problems.append("not linearizable:\n" + out[-20000:])
        else:
            result.verdict = "no verdict (exit %d)" % code
            result.problems.append("checker gave no verdict (exit %d): %s" % (code, out[-4000:]))
        if result.problems:
            keep = True
    except netns.NetUnavailable:
        raise
    except Exception as e:  # noqa: BLE001
        keep = cluster is not None
        result.problems.append("harness error: %s: %s" % (type(e).__name__, e))
    finally:
        if rec is not None:
            rec.stop()
        if cluster is not None:
            if keep:
                result.kept_dir = cluster.dir
                log(cluster.log_tails())
                if net is not None:
                    try:
                        for i, rs in net.rules().items():
                            log("nft ruleset n%d at teardown:\n%s" % (i, rs))
                    except Exception:  # noqa: BLE001
                        pass
                log("----- history, checker output and node logs kept in %s -----" % cluster.dir)
            cluster.close(keep_dir=keep)
        if net is not None:
            net.teardown()
        result.elapsed_s = time.monotonic() - began
    return result
