"""Fault scenarios for locks, elections and queues (PROTOCOL.md section 9,
"Coordination"): the same clusters and fault schedules as scenarios.py, with
the coordination workload of coord_recorder.py, checked by coord_checks.py.

    result = run_coord_scenario("kill_leader")          # quick (CI) variant
    result = run_coord_scenario("isolate_leader", randomized=True, rounds=2, rng=rng)

Every scenario:
  1. starts a cluster (3 nodes) like scenarios.py (loopback, or network
     namespaces for the network kinds);
  2. runs lock clients (fenced resource), campaigners and a leader observer,
     queue producers (exactly-once puts) and consumers against all nodes;
  3. injects its fault with scenarios.SCHEDULES[kind], then heals;
  4. checks liveness (a put through every node within LIVENESS_BOUND_S of
     the heal), stops the clients, drains the queue on the healed cluster,
     checks convergence (applied_index and state_hash equal everywhere) and
     runs every coord_checks check on the history.
On failure the history (coord-history.jsonl, re-checkable with
`coord_checks.py FILE`) and the node logs are kept and their path printed.
"""

import os
import random
import time

import scenarios  # noqa: I100  (first: puts tests/integration on sys.path)
import coord_checks  # noqa: E402
import coord_recorder  # noqa: E402
import harness  # noqa: E402
import netns  # noqa: E402
import recorder  # noqa: E402

KINDS = ("kill_leader", "pause_leader", "isolate_leader", "majority_minority", "kill_follower",
         "kill_all")


class CoordResult(scenarios.Result):
    def __init__(self, kind):
        super().__init__("coord_" + kind)
        self.checks = {}
        self.stats = {}
        self.drained = None

    def summary(self):
        st = self.stats
        return ("scenario %s: %d records; locks granted %s (protected holds %s, refused accesses "
                "%s), campaigns won %s, leader reads %s, puts ok %s, deliveries %s (items "
                "redelivered %s), acks ok %s; %d faults: %s; liveness %s; drained %s; converged %s; %d violations; %.1fs%s" % (
                    self.kind, self.ops, st.get("lock.granted", 0),
                    st.get("lock.holds_protected", 0), st.get("access.refused", 0),
                    st.get("campaign.granted", 0), st.get("leader.ok", 0), st.get("qput.ok", 0),
                    st.get("qget.delivered", 0), st.get("qget.redelivered_items", 0),
                    st.get("qack.ok", 0), len(self.faults),
                    ", ".join(self.faults) or "-",
                    "%.2fs" % self.liveness_s if self.liveness_s is not None else "none",
                    self.drained, self.converged,
                    len(coord_checks.violations(self.checks)) if self.checks else 0,
                    self.elapsed_s,
                    "" if self.passed else "; PROBLEMS: " + " | ".join(self.problems)))


def run_coord_scenario(kind, randomized=False, rounds=1, rng=None, log=None, warmup_s=2.0,
                       run_after_s=2.5, sizes=None):
    """Runs one coordination scenario; returns its CoordResult. Raises
    netns.NetUnavailable when a network kind cannot build its namespaces."""
    log = log or (lambda s: print(s, flush=True))
    scenarios.node_binary()
    rng = rng or random.Random()
    schedule = scenarios.SCHEDULES[kind]
    result = CoordResult(kind)
    began = time.monotonic()
    net = None
    cluster = None
    keep = False
    rec = None
    try:
        if kind in scenarios.NET_KINDS:
            net = netns.TestNet(scenarios.CLUSTER_SIZE.get(kind, 3)).setup()
        cluster = scenarios.FaultCluster(scenarios.CLUSTER_SIZE.get(kind, 3), net)
        cluster.start()
        cluster.wait_leader(timeout=15.0)
        history = coord_recorder.CoordHistory()
        rec = coord_recorder.CoordRecorder(cluster.ctx, cluster.endpoints(),
                                           seed=rng.getrandbits(64), history=history,
                                           **(sizes or {})).start()
        time.sleep(warmup_s)
        run = scenarios.Run(cluster, net, rng, randomized, result, log)
        for i in range(rounds):
            schedule(run)
            if i + 1 < rounds:
                time.sleep(run.dur(1.0, 0.5, 2.5))
        result.liveness_s = scenarios._liveness(cluster, recorder.History(), run.last_heal,
                                                scenarios.LIVENESS_BOUND_S)
        if result.liveness_s is None or result.liveness_s > scenarios.LIVENESS_BOUND_S:
            result.problems.append("liveness: no write succeeded within %.0fs of the last heal "
                                   "(%s)" % (scenarios.LIVENESS_BOUND_S, cluster.describe()))
        time.sleep(run.dur(run_after_s, 1.0, 4.0))
        stuck = rec.stop_clients()
        rec = None
        if stuck:
            result.problems.append("clients did not stop: %s" % stuck)
        drainer = coord_recorder.CoordRecorder(cluster.ctx, cluster.endpoints(),
                                               seed=rng.getrandbits(64), history=history,
                                               lock_clients=0, campaigners=0, observers=0,
                                               producers=0, consumers=0,
                                               **{k: v for k, v in (sizes or {}).items()
                                                  if k in ("visibility_ms", "queue")})
        result.drained = drainer.drain()
        if not result.drained:
            result.problems.append("the queue was not drained on the healed cluster")
        dead = cluster.dead_nodes()
        if dead:
            result.converged = False
            result.problems.append("node(s) exited unexpectedly (id, code): %s" % dead)
        else:
            try:
                harness.wait_for(lambda: cluster.convergence()[0], 20.0, "convergence")
                result.converged = True
            except AssertionError:
                result.converged = False
                result.problems.append("nodes did not converge: %s" % cluster.convergence()[1])
        ops = history.ops()
        result.ops = len(ops)
        path = os.path.join(cluster.dir, "coord-history.jsonl")
        history.write(path)
        for o in ops:
            if o.get("outcome") in result.counts:
                result.counts[o["outcome"]] += 1
        result.checks = coord_checks.check_all(ops)
        result.stats = result.checks["stats"]
        bad = coord_checks.violations(result.checks)
        result.verdict = "VIOLATION" if bad else "coord checks passed"
        for section, v in bad:
            result.problems.append("%s: %s" % (section, v))
        if len(result.problems) > 40:
            n = len(result.problems)
            result.problems = result.problems[:40] + ["... %d more" % (n - 40)]
        if result.problems:
            keep = True
    except netns.NetUnavailable:
        raise
    except Exception as e:  # noqa: BLE001
        keep = cluster is not None
        result.problems.append("harness error: %s: %s" % (type(e).__name__, e))
    finally:
        if rec is not None:
            rec.stop_clients()
        if cluster is not None:
            if keep:
                result.kept_dir = cluster.dir
                log(cluster.log_tails())
                log("----- coord history (coord-history.jsonl) and node logs kept in %s -----"
                    % cluster.dir)
            cluster.close(keep_dir=keep)
        if net is not None:
            net.teardown()
        result.elapsed_s = time.monotonic() - began
    return result
