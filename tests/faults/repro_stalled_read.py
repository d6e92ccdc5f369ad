"""Minimal repro (not in CTest): a linearizable get sent to a node whose storage
has failed (--test-fault-injection, SIGUSR1) aborts the node:
  node/raft/read_index.cc:17: assertion failed: !ready_in_flight_:
  read_index() between take_ready() and advance()
Node::start_write refuses writes while stalled_, but Node::start_read calls
raft_.read_index() although the stalled Ready is still taken. Prints the
node exit code (-6 = SIGABRT while the bug is there).
    /usr/bin/python3 tests/faults/repro_stalled_read.py
"""
import sys, time, signal; sys.path.insert(0,'/work/main/tests/faults')
import scenarios, recorder
c = scenarios.FaultCluster(3); c.start(); l = c.wait_leader()
f = c.followers(l)[0]
conn = recorder.Conn(c.ctx, c.node(f).client_endpoint)
print("put via follower:", conn.call({"op":"put","key":b"a","value":b"1"}, 1))
c.node(f).signal(signal.SIGUSR1); time.sleep(0.3)
print("put via follower (stalled):", conn.call({"op":"put","key":b"a","value":b"2"}, 1))  # the stall happens on the next commit
time.sleep(0.3)
print("get via stalled follower:", conn.call({"op":"get","key":b"a"}, 1))
time.sleep(0.5)
print("follower exit code:", c.node(f).proc.poll())
print(open(c.node(f).log_path).read()[-600:])
c.close()
