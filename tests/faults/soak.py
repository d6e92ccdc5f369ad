#!/usr/bin/python3
"""Soak: longer, randomized fault schedules across every scenario kind.

    /usr/bin/python3 tests/faults/soak.py --minutes 2 --clients 8
    /usr/bin/python3 tests/faults/soak.py --minutes 10 --kinds isolate_leader,one_way --seed 7
    /usr/bin/python3 tests/faults/soak.py --minutes 10 --kinds coord_kill_leader,coord_pause_leader

The coord_<kind> kinds (not in the default list) run the locks, elections
and queues workload of coord_scenarios.py under that kind's faults.

Runs scenarios back to back until the time is up, cycling through the kinds in
a shuffled order; each run gets a fresh cluster, 1-3 rounds of its fault with
random durations and targets, and the full checks (linearizability, final
reads, convergence, liveness). Network kinds are left out, with a note, when
namespaces or nftables are unavailable. Prints a summary table; exit status 1
if any run found a problem (their histories and node logs are kept, paths
printed), 0 otherwise.

Needs the node binary ($CABILDO_BIN_DIR/node/cabildo-node, default
<repo>/build) and cabildo-lincheck ($CABILDO_LINCHECK or
$CABILDO_BIN_DIR/tests/linearizability/cabildo-lincheck).
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import netns  # noqa: E402
import scenarios  # noqa: E402
import coord_scenarios  # noqa: E402

COORD_KINDS = tuple("coord_" + k for k in coord_scenarios.KINDS)


def _is_net(kind):
    return kind[len("coord_"):] in scenarios.NET_KINDS if kind.startswith("coord_") \
        else kind in scenarios.NET_KINDS


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--kinds", default=",".join(scenarios.ALL_KINDS),
                    help="comma-separated scenario kinds (default: all but coord_*): %s"
                    % ", ".join(scenarios.ALL_KINDS + COORD_KINDS))
    ap.add_argument("--max-rounds", type=int, default=3)
    ap.add_argument("--quiet", action="store_true", help="no per-fault lines")
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in scenarios.SCHEDULES and k not in COORD_KINDS:
            ap.error("unknown kind %r" % k)
    ok, why = netns.availability()
    skipped = []
    if not ok:
        skipped = [k for k in kinds if _is_net(k)]
        kinds = [k for k in kinds if not _is_net(k)]
        print("SKIPPING network kinds %s: %s" % (", ".join(skipped), why), flush=True)
    if not kinds:
        print("nothing to run")
        return 2
    print("soak: %.1f min, %d clients, seed %d, kinds %s" % (args.minutes, args.clients, seed,
                                                           ", ".join(kinds)), flush=True)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))

    end = time.monotonic() + args.minutes * 60
    table = {k: {"runs": 0, "ops": 0, "ok": 0, "failed": 0, "unknown": 0, "faults": 0,
                 "violations": 0, "problems": 0, "liveness": []} for k in kinds}
    failures = []
    order = []
    while time.monotonic() < end:
        if not order:
            order = list(kinds)
            rng.shuffle(order)
        kind = order.pop()
        rounds = rng.randint(1, args.max_rounds)
        print("--- %s, %d round(s)" % (kind, rounds), flush=True)
        try:
            if kind.startswith("coord_"):
                res = coord_scenarios.run_coord_scenario(
                    kind[len("coord_"):], randomized=True, rounds=rounds, rng=rng, log=log,
                    warmup_s=rng.uniform(0.5, 2.0))
            else:
                res = scenarios.run_scenario(kind, randomized=True, rounds=rounds,
                                             clients=args.clients, rng=rng, log=log,
                                             warmup_s=rng.uniform(0.5, 2.0),
                                             recover_s=rng.uniform(0.5, 2.0))
        except netns.NetUnavailable as e:
            print("SKIPPING %s: %s" % (kind, e), flush=True)
            kinds.remove(kind)
            if not kinds:
                break
            continue
        print(res.summary().split("\n")[0], flush=True)
        row = table[kind]
        row["runs"] += 1
        row["ops"] += res.ops
        for o in ("ok", "failed", "unknown"):
            row[o] += res.counts[o]
        row["faults"] += len(res.faults)
        if res.verdict == "VIOLATION":
            row["violations"] += 1
        if not res.passed:
            row["problems"] += 1
            failures.append(res)
        if res.liveness_s is not None:
            row["liveness"].append(res.liveness_s)

    print()
    hdr = "%-24s %5s %8s %8s %7s %8s %7s %10s %9s %12s" % (
        "scenario", "runs", "ops", "ok", "failed", "unknown", "faults", "violations",
        "problems", "max_liveness")
    print(hdr)
    print("-" * len(hdr))
    total = {"runs": 0, "ops": 0, "ok": 0, "failed": 0, "unknown": 0, "faults": 0,
             "violations": 0, "problems": 0}
    for k in table:
        row = table[k]
        for f in total:
            total[f] += row[f]
        print("%-24s %5d %8d %8d %7d %8d %7d %10d %9d %12s" % (
            k, row["runs"], row["ops"], row["ok"], row["failed"], row["unknown"], row["faults"],
            row["violations"], row["problems"],
            "%.2fs" % max(row["liveness"]) if row["liveness"] else "-"))
    print("-" * len(hdr))
    print("%-24s %5d %8d %8d %7d %8d %7d %10d %9d" % (
        "TOTAL", total["runs"], total["ops"], total["ok"], total["failed"], total["unknown"],
        total["faults"], total["violations"], total["problems"]))
    for k in skipped:
        print("%-24s SKIPPED: %s" % (k, why))
    print("seed %d" % seed)
    for res in failures:
        print("\nFAILED %s (kept in %s):\n%s" % (res.kind, res.kept_dir, res.summary()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
