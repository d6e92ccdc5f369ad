#!/usr/bin/python3
"""Benchmarks for snapshots and log compaction (issue "runs for years").
Each prints a table and a RESULT_JSON line.

  /usr/bin/python3 examples/bench/snapshots.py long-run [--writes 10000000]
          [--keys 1000000] [--value-size 256] [--batch 500000]
      A 3-node cluster (default --snapshot-entries and --snapshot-trailing).
      --writes puts of --value-size bytes over --keys keys, in batches of
      --batch (cabildo bench, 64 clients); after each batch: the batch's
      throughput and p99, and per node RSS, data directory size, first_index
      and snapshot_index. Then the restart times of a follower with that
      state and history: a clean restart, and an OS crash (another
      --test-boot-id: the state is discarded and loaded from the snapshot),
      each from exec to `status` answering with applied_index caught up.

  /usr/bin/python3 examples/bench/snapshots.py snapshot-stall [--keys 1000000]
      A 3-node cluster (--snapshot-entries 0: snapshots only when asked)
      filled with --keys keys of 256 B. Write runs of 10 s
      (closed loop, 16 clients) without and with a snapshot being taken on
      the leader (`cabildo snapshot save`, which also downloads it): write
      throughput, p99 and max of each; the snapshot's size and time. Then a
      follower is stopped while 60,000 more writes let the leader compact
      past it, and restarted: time until it serves the same state_hash
      (through InstallSnapshot), and the transfer rate.

Runs the built binaries (build/node/cabildo-node, build/client/cabildo, or
$CABILDO_NODE and $CABILDO_CLI) on ports 7100-7123; data in
/tmp/cabildo-snapshot-bench (wiped first). Needs /usr/bin/python3 with
python3-zmq and python3-msgpack.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounded  # noqa: E402  (the cluster and probe helpers)

bounded.DATA = "/tmp/cabildo-snapshot-bench"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def dir_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total / 1e6


def wait_serving(ctx, node, applied_at_least, t0, timeout=120.0):
    """Seconds from t0 until `node` answers status with applied_index caught up."""
    probe = bounded.StatusProbe(ctx, bounded.ENDPOINTS[node - 1])
    while time.monotonic() - t0 < timeout:
        st, _ = probe.call(0.5)
        if st and not st.get("recovering") and st["applied_index"] >= applied_at_least:
            return time.monotonic() - t0
        time.sleep(0.005)
    sys.exit("node %d did not catch up within %.0f s (logs in %s)" % (node, timeout, bounded.DATA))


def long_run(a):
    ctx = zmq.Context()
    c = bounded.Cluster()
    for i in (1, 2, 3):
        c.start(i, ["--test-boot-id", "boot-1"])
    rows = []
    try:
        bounded.wait_leader(ctx)
        done = 0
        print("%10s %9s %8s | %s" % ("writes", "writes/s", "p99 ms",
                                     " | ".join("node%d RSS MB  disk MB  first_index  snapshot" % i
                                                for i in (1, 2, 3))))
        while done < a.writes:
            n = min(a.batch, a.writes - done)
            r = bounded.bench("--mode", "put", "--key-space", str(a.keys), "--value-size",
                              str(a.value_size), "--count", str(n), "--clients", "64")
            done += n
            sts = bounded.statuses(ctx)
            row = {"writes": done, "ops_per_s": r["ops_per_s"], "p99_ms": r["lat_ms"]["p99"],
                   "nodes": {}}
            for i in (1, 2, 3):
                st = sts[i] or {}
                row["nodes"][i] = {"rss_mb": rss_kb(c.procs[i].pid) / 1e3,
                                   "disk_mb": dir_mb("%s/node%d" % (bounded.DATA, i)),
                                   "first_index": st.get("first_index"),
                                   "snapshot_index": st.get("snapshot_index")}
            rows.append(row)
            print("%10d %9.0f %8.2f | %s" % (
                done, row["ops_per_s"], row["p99_ms"],
                " | ".join("%13.0f %8.0f %12s %9s" % (v["rss_mb"], v["disk_mb"], v["first_index"],
                                                    v["snapshot_index"])
                           for v in row["nodes"].values())), flush=True)
        leader = bounded.wait_leader(ctx)
        follower = [i for i in (1, 2, 3) if i != leader][0]
        applied = bounded.statuses(ctx)[leader]["applied_index"]
        c.procs[follower].terminate()
        c.procs[follower].wait()
        t0 = time.monotonic()
        c.start(follower, ["--test-boot-id", "boot-1"])
        clean = wait_serving(ctx, follower, applied, t0)
        c.kill(follower)  # kill -9 with the state in use, read as after an OS crash
        t0 = time.monotonic()
        c.start(follower, ["--test-boot-id", "boot-2"])
        crash = wait_serving(ctx, follower, applied, t0)
    finally:
        c.stop_all()
    first, last = rows[0], rows[-1]
    print("\nthroughput: first batch %.0f/s, last batch %.0f/s (ratio %.2f)" % (
        first["ops_per_s"], last["ops_per_s"], last["ops_per_s"] / first["ops_per_s"]))
    print("restart to serving with %d keys and %d writes of history: clean %.2f s, after an OS "
          "crash %.2f s" % (a.keys, a.writes, clean, crash))
    slow = slow_turns()
    print("loop turns over 100 ms (the nodes log them, at most one a second): %d, %d of them "
          "mostly the log's sync" % (slow["turns"], slow["mostly_sync"]))
    print("RESULT_JSON " + json.dumps({"bench": "snapshots-long-run", "writes": a.writes,
                                       "keys": a.keys, "value_size": a.value_size, "rows": rows,
                                       "restart_clean_s": clean, "restart_os_crash_s": crash,
                                       "slow_turns": slow}))


def slow_turns():
    """The nodes' "a loop turn took N ms, M ms of it syncing the log" lines."""
    turns = mostly_sync = 0
    for i in (1, 2, 3):
        text = open("%s/node%d.log" % (bounded.DATA, i)).read()
        for took, sync in re.findall(r"a loop turn took (\d+) ms, (\d+) ms of it syncing", text):
            turns += 1
            mostly_sync += int(sync) * 2 > int(took)
    return {"turns": turns, "mostly_sync": mostly_sync}


def start_snapshot(ctx, endpoint):
    """Asks a node for its newest snapshot at its commit index: with none
    there yet, it starts one and answers `unavailable` (PROTOCOL.md,
    snapshot_read). Nothing is downloaded."""
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send(msgpack.packb({"op": "snapshot_read"}))
    if not s.poll(5000):
        sys.exit("no answer to snapshot_read from %s" % endpoint)
    reply = msgpack.unpackb(s.recv(), raw=False)
    s.close()
    if reply.get("error") != "unavailable":
        sys.exit("snapshot_read did not start a snapshot: %r" % reply)


def snapshot_stall(a):
    ctx = zmq.Context()
    # No automatic snapshots: the quiet run has none, and each one here is
    # started by a `snapshot save` (which compacts the log too).
    c = bounded.Cluster(["--snapshot-entries", "0", "--snapshot-rate-mb", str(a.rate_mb)])
    for i in (1, 2, 3):
        c.start(i)
    try:
        leader = bounded.filled(ctx, a.keys)
        # The kernel writes the fill's dirty state pages back 30 s later
        # (vm.dirty_expire_centisecs), at full speed, and every log sync
        # on the disk waits meanwhile (150 ms, measured). Written now, they
        # are in neither run.
        t0 = time.monotonic()
        os.sync()
        print("synced the fill's writes in %.1f s" % (time.monotonic() - t0))
        common = ["--mode", "put", "--key-space", str(a.keys), "--value-size", "256",
                  "--duration", "10s", "--clients", "16"]
        quiet = bounded.bench(*common)
        start_snapshot(ctx, bounded.ENDPOINTS[leader - 1])
        alone = bounded.bench(*common)
        backup = os.path.join(bounded.DATA, "backup.snap")
        saver = subprocess.Popen([bounded.CLI, "--endpoints", bounded.ENDPOINTS[leader - 1],
                                  "snapshot", "save", "--rate-mb", str(a.rate_mb), backup],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        during = bounded.bench(*common)
        out, err = saver.communicate(timeout=300)
        if saver.returncode != 0:
            sys.exit("snapshot save failed: %s" % err)
        log = open("%s/node%d.log" % (bounded.DATA, leader)).read()
        took = re.findall(r"snapshot at index \d+ \(term \d+\): (\d+) keys, (\d+) bytes, (\d+) ms",
                          log)
        keys, size, ms = (int(x) for x in took[-1])
        print("\n%-28s %10s %8s %9s %8s %7s" % ("", "writes/s", "p99 ms", "p99.9 ms", "max ms",
                                           "p99 x"))
        for name, r in (("no snapshot", quiet), ("snapshot being taken", alone),
                        ("snapshot + backup download", during)):
            print("%-28s %10.0f %8.2f %9.2f %8.2f %7.2f" % (
                name, r["ops_per_s"], r["lat_ms"]["p99"], r["lat_ms"]["p999"],
                r["lat_ms"]["max"], r["lat_ms"]["p99"] / quiet["lat_ms"]["p99"]))
        print("snapshot: %d keys, %.0f MB, written in %.2f s" % (keys, size / 1e6, ms / 1e3))

        # A follower down while the leader compacts past it comes back
        # through InstallSnapshot.
        follower = [i for i in (1, 2, 3) if i != leader][0]
        behind = bounded.statuses(ctx)[follower]["last_index"]
        c.kill(follower)
        bounded.bench("--mode", "put", "--key-space", str(a.keys), "--value-size", "256",
                      "--count", "100000", "--clients", "64")
        subprocess.run([bounded.CLI, "--endpoints", bounded.ENDPOINTS[leader - 1], "snapshot",
                        "save", backup], capture_output=True, check=True, timeout=300)
        if bounded.statuses(ctx)[leader]["first_index"] <= behind + 1:
            sys.exit("the leader did not compact past the follower (logs in %s)" % bounded.DATA)
        applied = bounded.statuses(ctx)[leader]["applied_index"]
        t0 = time.monotonic()
        c.start(follower)
        catch_up = wait_serving(ctx, follower, applied, t0, timeout=300)
        sts = bounded.statuses(ctx)
        same = sts[follower]["state_hash"] == sts[leader]["state_hash"]
        flog = open("%s/node%d.log" % (bounded.DATA, follower)).read()
        recv = re.findall(r"received snapshot \d+ \((\d+) bytes\)", flog)
        inst = re.findall(r"installed snapshot \d+ \(term \d+\) in (\d+) ms", flog)
        got = int(recv[-1]) if recv else 0
        print("follower behind the compacted log: serving again after %.2f s (same state_hash: %s); received %.0f MB "
              "(%.0f MB/s over the whole catch-up), installed in %.2f s" % (
                  catch_up, same, got / 1e6, got / 1e6 / catch_up,
                  int(inst[-1]) / 1e3 if inst else float("nan")))

        # A wiped follower (README, "Repairing a node"): its data directory
        # removed, started again, and the leader restarted; a new leader
        # probes every follower's log and sends it the snapshot.
        c.kill(follower)
        shutil.rmtree("%s/node%d" % (bounded.DATA, follower))
        applied = bounded.statuses(ctx)[leader]["applied_index"]
        t0 = time.monotonic()
        c.start(follower)
        c.kill(leader)
        c.start(leader)
        wiped = wait_serving(ctx, follower, applied, t0, timeout=300)
        sts = bounded.statuses(ctx)
        wiped_same = len({st["state_hash"] for st in sts.values() if st}) == 1
        print("wiped follower, leader restarted: serving again after %.2f s (same state_hash "
              "on all: %s)" % (wiped, wiped_same))
    finally:
        c.stop_all()
    print("RESULT_JSON " + json.dumps({
        "bench": "snapshots-stall", "keys": a.keys, "quiet": quiet, "during_snapshot": alone,
        "during_snapshot_and_backup": during,
        "snapshot_keys": keys, "snapshot_bytes": size, "snapshot_ms": ms,
        "catch_up_s": catch_up, "catch_up_bytes": got, "same_state_hash": same,
        "wiped_catch_up_s": wiped, "wiped_same_state_hash": wiped_same}))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lr = sub.add_parser("long-run")
    lr.add_argument("--writes", type=int, default=10_000_000)
    lr.add_argument("--keys", type=int, default=1_000_000)
    lr.add_argument("--value-size", type=int, default=256)
    lr.add_argument("--batch", type=int, default=500_000)
    st = sub.add_parser("snapshot-stall")
    st.add_argument("--keys", type=int, default=1_000_000)
    st.add_argument("--rate-mb", type=int, default=0,
                    help="--snapshot-rate-mb of the nodes and --rate-mb of the backup (0: none)")
    a = ap.parse_args()
    long_run(a) if a.cmd == "long-run" else snapshot_stall(a)


if __name__ == "__main__":
    main()
