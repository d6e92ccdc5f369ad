#!/usr/bin/python3
"""Results and table for compare.sh (stdlib only).

  compare_table.py record --jsonl DIR/results.jsonl --system S --workload W --round N
                          [--raw FILE] [--cpu FILE] [--status ok|n/a|failed] [--note TEXT]
                          [--name NAME] [--idle-cores X] [--idle-ok 0|1] [KEY=VALUE ...]
  compare_table.py table DIR            # DIR/results.jsonl -> markdown on stdout

`record` turns one raw result into one line of results.jsonl and prints a
one-line summary on stderr. The raw result is either a Go load generator's
RESULT_JSON object (kvbench, zkbench, natsbench: CPU from their
cpu_cores.servers_total) or cabildo-bench's --json object plus --cpu, the
nodes' CPU seconds that compare.sh read from /proc around the run.

`table` keeps the last record of each (system, workload, round), so a run
that was repeated into the same DIR replaces the earlier one.
"""

import argparse
import json
import os
import statistics
import sys

SYSTEMS = [  # id, label, fsync on the write path
    ("etcd", "etcd", True),
    ("zookeeper", "ZooKeeper", True),
    ("nats", "NATS (no fsync)", False),
    ("nats-sync", "NATS (fsync always, patched)", True),
    ("cabildo", "Cabildo", True),
]
LABEL = {s: label for s, label, _ in SYSTEMS}
FSYNC = {s: fsync for s, _, fsync in SYSTEMS}
SHORT = {"etcd": "etcd", "zookeeper": "ZK", "nats": "NATS no-fsync",
         "nats-sync": "NATS fsync", "cabildo": "Cabildo"}
WORKLOADS = ["put1", "put16", "put64", "put256", "getl", "gets", "mixed", "put1m",
             "watch", "watchstream"]
WATCH_WORKLOADS = ("watch", "watchstream")

# Which read each system does, per workload (the legend; cells get a short tag).
READS = {
    "getl": {
        "etcd": "linearizable Range (ReadIndex through the leader)",
        "zookeeper": "`sync` + `getData` (sync goes through the leader: ZooKeeper's "
                     "up-to-date read, not formally linearizable)",
        "nats": "leader read: `STREAM.MSG.GET` answered by the stream leader from its "
                "store, no read index or quorum check: **not linearizable**",
        "nats-sync": "as NATS (no fsync): leader read, **not linearizable**",
        "cabildo": "linearizable get (ReadIndex, no log write; followers forward to the leader)",
    },
    "gets": {
        "etcd": "serializable Range, answered by the member the connection is pinned to "
                "(may be stale)",
        "zookeeper": "`getData` answered by the connected server (local, may be stale)",
        "nats": "KV get = direct get, answered by the connected replica (may be stale)",
        "nats-sync": "as NATS (no fsync): direct get",
        "cabildo": "serializable get, answered by the local node (may be stale)",
    },
}
READ_TAGS = {("getl", "zookeeper"): "sync+get", ("getl", "nats"): "leader read",
             ("getl", "nats-sync"): "leader read", ("mixed", "zookeeper"): "sync+get",
             ("mixed", "nats"): "leader read", ("mixed", "nats-sync"): "leader read"}
MIXED_READS = {"etcd": "get-l (linearizable)", "zookeeper": "sync-get (sync + getData)",
               "nats": "get-leader (leader read, not linearizable)",
               "nats-sync": "get-leader (leader read, not linearizable)",
               "cabildo": "linearizable get"}
DURABILITY = {
    "etcd": "etcd 3.4 defaults: WAL fsync once per Raft batch on every member before the ack.",
    "zookeeper": "ZooKeeper 3.8 defaults (`forceSync=yes`): txn-log fdatasync (group commit) "
                 "on every server before it ACKs a proposal.",
    "nats": "nats-server 2.9.10 as shipped: **no fsync on the write path** (page cache of 2 of "
            "3 nodes at the PubAck; background sync every 2 min / 5 min). Survives kill -9, "
            "not a power loss of 2 nodes.",
    "nats-sync": "the same 2.9.10 source plus the anchor's patch (**ours, not upstream**): "
                 "fsync after every filestore write (Raft WAL and stream store) on every "
                 "replica, no group commit in the stream store.",
    "cabildo": "the Raft log (an append-only file) is fdatasync'ed once per Ready batch on every node; a write is answered once a majority has it on disk (the applied state, LMDB, is rebuilt from the log after an OS crash).",
}


# ---------------------------------------------------------------- record

def load_json(path):
    """The JSON object in `path`, or None (missing, empty or not JSON)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    for line in reversed(text.splitlines()):  # a RESULT_JSON line, or the whole object
        if line.startswith("RESULT_JSON "):
            text = line[len("RESULT_JSON "):]
            break
    try:
        obj = json.loads(text) if text else None
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def number(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def us_per_op(cores, per_s):
    if number(cores) is None or not number(per_s):
        return None
    return cores * 1e6 / per_s


def go_cpu(raw):
    """Cores of the Go load generators' cpu_cores: (servers, loadgen, other)."""
    cpu = raw.get("cpu_cores") or {}
    return (number(cpu.get("servers_total")), number(cpu.get("loadgen")),
            number(cpu.get("other_cores")))


def cabildo_cpu(raw, cpu):
    """Cores from compare.sh's /proc readings around a cabildo-bench run."""
    if not cpu:
        return None, None, None
    wall = number(raw.get("wall_s")) or number(cpu.get("elapsed_s"))
    nodes = number(cpu.get("node_cpu_s"))
    servers = nodes / wall if nodes is not None and wall else None
    loadgen = number((raw.get("process") or {}).get("cpu_cores"))
    machine = number(cpu.get("machine_cores"))
    other = None
    if machine is not None and servers is not None:
        other = machine - servers - (loadgen or 0.0)
    return servers, loadgen, other


def watch_fields(raw, rec):
    """Watch runs: throughput is events delivered per second, latency the lag."""
    w = raw.get("watch")
    if not isinstance(w, dict):
        return
    rec["watch"] = w
    lag = w.get("lag_ms") or {}
    rec["ops_per_s"] = number(w.get("delivery_per_s"))
    rec["p50_ms"], rec["p99_ms"] = number(lag.get("p50")), number(lag.get("p99"))
    for key in ("watch_kind", "kind"):
        if key in raw or key in w:
            rec["watch_kind"] = raw.get(key, w.get(key))


def fill_from_raw(rec, raw, cpu):
    lat = raw.get("lat_ms") or {}
    rec["ops_per_s"] = number(raw.get("ops_per_s"))
    rec["p50_ms"], rec["p99_ms"] = number(lat.get("p50")), number(lat.get("p99"))
    rec["errors"] = number(raw.get("errors"))
    for key in ("read_kind", "puts", "reads", "not_found", "leader_at_start", "server_sync",
                "error_kinds", "errors_by_kind", "wall_s"):
        if key in raw:
            rec[key] = raw[key]
    watch_fields(raw, rec)
    if rec["system"] == "cabildo":
        servers, loadgen, other = cabildo_cpu(raw, cpu)
    else:
        servers, loadgen, other = go_cpu(raw)
    rec["server_cores"], rec["loadgen_cores"], rec["other_cores"] = servers, loadgen, other
    rec["cpu_us_per_op"] = us_per_op(servers, rec["ops_per_s"])


def parse_extra(pairs):
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def summary_line(rec):
    if rec["status"] != "ok":
        return "%s %s r%s: %s %s" % (rec["system"], rec["workload"], rec["round"],
                                     rec["status"], rec.get("note", ""))
    return "%s %s r%s: %s ops/s, p50 %s ms, p99 %s ms, errors %s, servers %s cores, %s us/op" % (
        rec["system"], rec["workload"], rec["round"], fmt(rec.get("ops_per_s"), "%.0f"),
        fmt(rec.get("p50_ms"), "%.2f"), fmt(rec.get("p99_ms"), "%.2f"), rec.get("errors", "-"),
        fmt(rec.get("server_cores"), "%.2f"), fmt(rec.get("cpu_us_per_op"), "%.0f"))


def cmd_record(a):
    rec = {"system": a.system, "system_label": LABEL.get(a.system, a.system),
           "workload": a.workload, "workload_name": a.name or a.workload, "round": a.round,
           "status": a.status}
    if a.note:
        rec["note"] = a.note
    rec.update(parse_extra(a.extra))
    if a.idle_cores is not None:
        rec["idle_cores"], rec["idle_ok"] = a.idle_cores, bool(a.idle_ok)
    if a.raw:
        rec["raw"] = os.path.basename(a.raw)
    if a.status == "ok":
        raw = load_json(a.raw) if a.raw else None
        if raw is None:
            rec["status"], rec["note"] = "failed", "no JSON result in %s" % rec.get("raw")
        else:
            fill_from_raw(rec, raw, load_json(a.cpu) if a.cpu else None)
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    print(summary_line(rec), file=sys.stderr)


# ---------------------------------------------------------------- table

def fmt(x, spec):
    return spec % x if number(x) is not None else "-"


def fmt_ops(x):
    return "{:,.0f}".format(x) if number(x) is not None else "-"


def fmt_ms(x):
    if number(x) is None:
        return "-"
    return "%.2f" % x if x < 10 else "%.1f" % x


def median(values):
    values = [v for v in values if number(v) is not None]
    return statistics.median(values) if values else None


def load_records(directory):
    """The last record of each (system, workload, round)."""
    latest = {}
    with open(os.path.join(directory, "results.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                latest[(rec["system"], rec["workload"], rec["round"])] = rec
    return list(latest.values())


def ordered(items, order):
    return sorted(items, key=lambda x: (order.index(x) if x in order else len(order), x))


def group(records):
    """{workload: {system: [records sorted by round]}}"""
    out = {}
    for rec in records:
        out.setdefault(rec["workload"], {}).setdefault(rec["system"], []).append(rec)
    for by_system in out.values():
        for recs in by_system.values():
            recs.sort(key=lambda r: r["round"])
    return out


def ok_runs(recs):
    return [r for r in recs if r["status"] == "ok" and number(r.get("ops_per_s")) is not None]


def not_ok_text(recs):
    """'n/a (mode missing)', 'failed (...)': why a cell has no figures."""
    rec = recs[-1]
    note = rec.get("note", "")
    return "%s (%s)" % (rec["status"], note) if note else rec["status"]


def stats(recs):
    runs = ok_runs(recs)
    if not runs:
        return None
    ops = [r["ops_per_s"] for r in runs]
    return {"ops": median(ops), "min": min(ops), "max": max(ops), "n": len(runs),
            "p99": median([r.get("p99_ms") for r in runs]),
            "us": median([r.get("cpu_us_per_op") for r in runs]),
            "errors": sum(r.get("errors") or 0 for r in runs),
            "by_round": {r["round"]: r["ops_per_s"] for r in runs}}


def system_cell(workload, system, recs, rounds):
    if not recs:
        return "-"
    s = stats(recs)
    if s is None:
        return not_ok_text(recs)
    ops = fmt_ops(s["ops"])
    if rounds > 1:
        ops += " (%s-%s)" % (fmt_ops(s["min"]), fmt_ops(s["max"]))
    cell = "%s / %s / %s" % (ops, fmt_ms(s["p99"]), fmt(s["us"], "%.0f"))
    if s["errors"]:
        cell += " / err %d" % s["errors"]
    if s["n"] < len(recs):
        cell += " / %d of %d rounds" % (s["n"], len(recs))
    tag = READ_TAGS.get((workload, system))
    return cell + (" [%s]" % tag if tag else "")


def best_peer(by_system, fsync_only):
    """The peer (not Cabildo) with the highest median ops/s, or None."""
    best, best_ops = None, None
    for system, recs in by_system.items():
        if system == "cabildo" or (fsync_only and not FSYNC.get(system, False)):
            continue
        s = stats(recs)
        if s and (best_ops is None or s["ops"] > best_ops):
            best, best_ops = system, s["ops"]
    return best


def round_ratios(cabildo, peer):
    """Cabildo ops/s / peer ops/s for every round both have."""
    return [cabildo["by_round"][r] / peer["by_round"][r]
            for r in sorted(cabildo["by_round"]) if peer["by_round"].get(r)]


def ratio_cell(workload, by_system, peer, rounds):
    if peer is None or "cabildo" not in by_system or peer not in by_system:
        return "-"
    c, p = stats(by_system["cabildo"]), stats(by_system[peer])
    if c is None or p is None:
        return "-"
    ratios = round_ratios(c, p)
    if not ratios:
        return "-"
    text = "%.2fx" % statistics.median(ratios)
    if rounds > 1:
        text += " (%.2f-%.2f)" % (min(ratios), max(ratios))
    tag = READ_TAGS.get((workload, peer))
    return text + " vs " + SHORT.get(peer, peer) + (" [%s]" % tag if tag else "")


def main_table(groups, systems, workloads, rounds):
    head = ["workload"] + [LABEL.get(s, s) for s in systems] + [
        "Cabildo / best peer", "Cabildo / best fsync peer", "Cabildo / etcd"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in workloads:
        if w in WATCH_WORKLOADS:
            continue
        by_system = groups[w]
        name = next(iter(by_system.values()))[-1].get("workload_name", w)
        cells = [name] + [system_cell(w, s, by_system.get(s, []), rounds) for s in systems]
        cells.append(ratio_cell(w, by_system, best_peer(by_system, False), rounds))
        cells.append(ratio_cell(w, by_system, best_peer(by_system, True), rounds))
        cells.append(ratio_cell(w, by_system, "etcd", rounds))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def watch_row(label, recs):
    runs = [r for r in recs if r["status"] == "ok" and isinstance(r.get("watch"), dict)]
    if not runs:
        return "| %s | %s | | | | | | |" % (label, not_ok_text(recs))

    def med(key, sub=None):
        vals = [(r["watch"].get(sub) or {}).get(key) if sub else r["watch"].get(key)
                for r in runs]
        return median(vals)

    return "| %s | %s | %s | %s / %s | %s | %s | %s | %s |" % (
        label, fmt_ops(med("delivery_per_s")), fmt(med("events_lost"), "%.0f"),
        fmt(med("events_delivered"), "%.0f"), fmt(med("events_expected"), "%.0f"),
        fmt(med("duplicates"), "%.0f"),
        "%s / %s" % (fmt_ms(med("p50", "lag_ms")), fmt_ms(med("p99", "lag_ms"))),
        fmt(median([r.get("server_cores") for r in runs]), "%.2f"),
        fmt(median([r.get("cpu_us_per_op") for r in runs]), "%.1f"))


def watch_table(groups, systems):
    present = [w for w in WATCH_WORKLOADS if w in groups]
    if not present:
        return []
    first = next(iter(groups[present[0]].values()))[-1]
    lines = ["", "### %s" % first.get("workload_name", "watch"), "",
             "%s watchers on one prefix, open-loop puts at %s/s: every put's event should reach "
             "every watcher. Medians over rounds; server CPU over the put window, us per "
             "delivered event." % (first.get("watchers", "?"), first.get("watch_rate", "?")), "",
             "| system | delivered events/s | lost | delivered / expected | duplicates "
             "| lag p50 / p99 ms | server CPU cores | server CPU us/event |",
             "|---|---|---|---|---|---|---|---|"]
    for workload in present:
        for s in systems:
            recs = groups[workload].get(s)
            if not recs:
                continue
            label = LABEL.get(s, s)
            if workload == "watchstream":
                label += " (stream watch)"
            elif s == "cabildo":
                label += " (exact watch)"
            lines.append(watch_row(label, recs))
    return lines


def conditions_table(groups, systems, workloads):
    lines = ["", "### CPU around each run (cores, medians): servers / load generator / other",
             "", "| workload | " + " | ".join(LABEL.get(s, s) for s in systems) + " |",
             "|" + "---|" * (len(systems) + 1)]
    for w in workloads:
        cells = []
        for s in systems:
            runs = ok_runs(groups[w].get(s, []))
            cells.append("%s / %s / %s" % tuple(
                fmt(median([r.get(k) for r in runs]), "%.2f")
                for k in ("server_cores", "loadgen_cores", "other_cores")) if runs else "-")
        name = next(iter(groups[w].values()))[-1].get("workload_name", w)
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    return lines


def notes(records):
    out = []
    for r in sorted(records, key=lambda r: (r["round"], r["system"], r["workload"])):
        where = "r%s %s %s" % (r["round"], r["system"], r["workload"])
        if r["status"] == "failed":
            out.append("- %s: failed: %s" % (where, r.get("note", "")))
        if r.get("idle_ok") is False:
            out.append("- %s: the machine was still busy (%.2f cores) after the idle wait"
                       % (where, r.get("idle_cores") or 0))
        if (r.get("other_cores") or 0) > 0.3:
            out.append("- %s: %.2f cores used outside the servers and the load generator "
                       "(other processes, or kernel threads such as writeback)"
                       % (where, r["other_cores"]))
        if r.get("not_found"):
            out.append("- %s: %s reads of missing keys (counted as ok)" % (where, r["not_found"]))
    return out


def legend(groups, systems):
    lines = ["", "Legend:", "",
             "- Cells: median ops/s over rounds (min-max when more than one round) / "
             "p99 ms / server CPU us per op (the 3 server processes' user+sys CPU over the run, "
             "cores x 1e6 / ops/s). `err N` = failed requests; `n/a` = not measured.",
             "- Ratios: Cabildo ops/s / the peer's, per round (runs of the same round), median "
             "(min-max over rounds). Best peer = the peer with the highest median ops/s for that "
             "workload, NATS without fsync included; best fsync peer = the same among peers "
             "that fsync before the ack (etcd, ZooKeeper, NATS fsync always).",
             "- Read kinds, get linearizable c=64:"]
    for s in systems:
        lines.append("  - %s: %s" % (LABEL.get(s, s), READS["getl"].get(s, "?")))
    lines.append("- Read kinds, get serializable c=64:")
    for s in systems:
        lines.append("  - %s: %s" % (LABEL.get(s, s), READS["gets"].get(s, "?")))
    if "mixed" in groups:
        lines.append("- mixed 50/50: half puts, half the system's strongest read:")
        for s in systems:
            kinds = sorted({str(r["read_kind"]) for r in groups["mixed"].get(s, [])
                            if r.get("read_kind")})
            seen = " (the load generator reports read_kind %s)" % ", ".join(kinds) if kinds else ""
            lines.append("  - %s: %s%s" % (LABEL.get(s, s), MIXED_READS.get(s, "?"), seen))
    lines.append("- Durability (what an acknowledged write has survived):")
    for s in systems:
        lines.append("  - %s: %s" % (LABEL.get(s, s), DURABILITY.get(s, "?")))
    return lines


def header(records, rounds):
    durations = sorted({str(r.get("duration")) for r in records if r.get("duration")
                        and r["workload"] not in ("put1m",) + WATCH_WORKLOADS})
    long = sorted({str(r.get("duration")) for r in records
                   if r["workload"] == "put1m" and r.get("duration")})
    return ["## Cabildo and its anchors, one cluster at a time on this machine", "",
            "3 nodes on loopback, closed-loop clients pinned round-robin to the nodes, 256 B "
            "values, 10k keys unless the workload says otherwise; a fresh cluster for every "
            "run; %d round(s); %s per run%s." % (
                rounds, ", ".join(durations) or "?",
                " (%s for the long put)" % ", ".join(long) if long else ""), "",
            "Each cell: ops/s / p99 ms / server CPU us per op.", ""]


def cmd_table(a):
    records = load_records(a.dir)
    groups = group(records)
    systems = ordered({r["system"] for r in records}, [s for s, _, _ in SYSTEMS])
    workloads = ordered(groups, WORKLOADS)
    rounds = max([r["round"] for r in records] or [1])
    lines = header(records, rounds)
    lines += main_table(groups, systems, workloads, rounds)
    lines += watch_table(groups, systems)
    lines += conditions_table(groups, systems, workloads)
    lines += legend(groups, systems)
    extra = notes(records)
    if extra:
        lines += ["", "Notes:", ""] + extra
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--jsonl", required=True)
    r.add_argument("--system", required=True)
    r.add_argument("--workload", required=True)
    r.add_argument("--name")
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--status", default="ok", choices=["ok", "n/a", "failed"])
    r.add_argument("--note")
    r.add_argument("--raw")
    r.add_argument("--cpu")
    r.add_argument("--idle-cores", type=float)
    r.add_argument("--idle-ok", type=int, default=1)
    r.add_argument("extra", nargs="*", help="KEY=VALUE fields to copy into the record")
    t = sub.add_parser("table")
    t.add_argument("dir")
    a = p.parse_args()
    (cmd_record if a.cmd == "record" else cmd_table)(a)


if __name__ == "__main__":
    main()
