"""A private test network made of Linux network namespaces, with nftables
partitions and packet loss.

    net = TestNet(3)          # raises NetUnavailable if namespaces/nft cannot be used
    net.setup()
    net.node_ip(1)            # "10.200.S.1"
    net.exec_prefix(1)        # ["ip", "netns", "exec", "<ns of node 1>"]
    ctx = net.client_context()   # a zmq.Context whose sockets live in the client namespace
    net.partition([[1], [2, 3]]) # symmetric: nothing crosses between the groups
    net.cut(src=1, dst=2)        # one way: packets from node 1 to node 2 are dropped
    net.loss(10)                 # every node drops 10% of the packets it receives
    net.heal()                   # remove every rule
    net.teardown()               # deletes every namespace (veths, bridge, nft tables go with them)

Topology (S is a random third octet, unique per run; names carry our PID):

    ns cabf<pid>x<k>sw : bridge br0, one veth per member
    ns cabf<pid>x<k>n<i>: eth0 = 10.200.S.<i>  (node i)
    ns cabf<pid>x<k>cl : eth0 = 10.200.S.200 (all test clients)

Partition rules live in each *node's* namespace (table inet cabfault) and
match node IPs only, so the client address is never cut: clients reach the
nodes on both sides of any partition. Nothing is added to the root namespace.
"""

import ctypes
import os
import random
import re
import subprocess
import threading

SUBNET_FIRST_OCTETS = "10.200"
CLIENT_HOST = 200
TABLE = "cabfault"
_NETNS_DIR = "/var/run/netns"
_CLONE_NEWNET = 0x40000000
_counter = [0]
_lock = threading.Lock()
_live = []  # TestNets not yet torn down (atexit safety net)


class NetUnavailable(Exception):
    """Namespaces or nftables cannot be used here; scenarios must skip."""


def _run(args, input_text=None, check=True):
    p = subprocess.run(args, input=input_text, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (" ".join(args), p.returncode,
                                                       p.stdout.strip(), p.stderr.strip()))
    return p


def _which(name):
    for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


_availability = []


def availability():
    """(True, "") if this machine lets us build the test network, else
    (False, why). Probes once by creating (and deleting) a namespace with an
    nft table in it."""
    if _availability:
        return _availability[0]
    result = (True, "")
    if os.geteuid() != 0:
        result = (False, "network fault scenarios need root (namespaces, nftables)")
    elif not _which("ip"):
        result = (False, "iproute2 'ip' not found")
    elif not _which("nft"):
        result = (False, "nftables 'nft' not found (install the Debian package nftables)")
    else:
        probe = "cabf%dprobe" % os.getpid()
        try:
            _run(["ip", "netns", "add", probe])
            try:
                _run(["ip", "netns", "exec", probe, "nft", "-f", "-"],
                     input_text="table inet %s {\n chain input {\n  type filter hook input priority 0;"
                                " policy accept;\n  ip saddr 10.0.0.1 numgen random mod 100 < 1 drop\n }\n}\n"
                                % TABLE)
                _run(["ip", "-n", probe, "link", "add", "br0", "type", "bridge"])
                _run(["ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
            finally:
                _run(["ip", "netns", "del", probe], check=False)
        except Exception as e:  # noqa: BLE001
            result = (False, "cannot create namespaces / nft tables / veths here: %s" % e)
    _availability.append(result)
    return result


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def cleanup_stale():
    """Deletes namespaces left by earlier runs of this module whose process
    is gone (names cabf<pid>x...). Never touches anything else."""
    try:
        names = os.listdir(_NETNS_DIR)
    except OSError:
        return
    for name in names:
        m = re.match(r"^cabf(\d+)x\d+(sw|cl|n\d+)$", name)
        if m and not _pid_alive(int(m.group(1))):
            _run(["ip", "netns", "del", name], check=False)


class TestNet:
    def __init__(self, n_nodes):
        ok, why = availability()
        if not ok:
            raise NetUnavailable(why)
        with _lock:
            _counter[0] += 1
            k = _counter[0]
        self.n = n_nodes
        self.tag = "cabf%dx%d" % (os.getpid(), k)
        self.octet = random.randrange(1, 255)
        self.switch_ns = self.tag + "sw"
        self.client_ns = self.tag + "cl"
        self.node_ns = {i: "%sn%d" % (self.tag, i) for i in range(1, n_nodes + 1)}
        self.created = []
        self._rules = {}  # node -> dict(drop_from=set, drop_to=set, loss=int)
        self._ctx = None

    # ------------------------------------------------------------ addresses

    def ip(self, host):
        return "%s.%d.%d" % (SUBNET_FIRST_OCTETS, self.octet, host)

    def node_ip(self, i):
        return self.ip(i)

    @property
    def client_ip(self):
        return self.ip(CLIENT_HOST)

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.node_ns[i]]

    # ------------------------------------------------------------ setup

    def setup(self):
        cleanup_stale()
        _live.append(self)
        try:
            self._add_ns(self.switch_ns)
            _run(["ip", "-n", self.switch_ns, "link", "set", "lo", "up"])
            _run(["ip", "-n", self.switch_ns, "link", "add", "br0", "type", "bridge"])
            _run(["ip", "-n", self.switch_ns, "link", "set", "br0", "up"])
            members = [(self.node_ns[i], i, "v%d" % i) for i in sorted(self.node_ns)]
            members.append((self.client_ns, CLIENT_HOST, "vc"))
            for ns, host, port in members:
                self._add_ns(ns)
                _run(["ip", "-n", self.switch_ns, "link", "add", port, "type", "veth",
                      "peer", "name", "eth0", "netns", ns])
                _run(["ip", "-n", self.switch_ns, "link", "set", port, "master", "br0", "up"])
                _run(["ip", "-n", ns, "link", "set", "lo", "up"])
                _run(["ip", "-n", ns, "addr", "add", "%s/24" % self.ip(host), "dev", "eth0"])
                _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            for i in self.node_ns:
                self._rules[i] = {"drop_from": set(), "drop_to": set(), "loss": 0}
                self._apply(i)
        except Exception:
            self.teardown()
            raise
        return self

    def _add_ns(self, ns):
        _run(["ip", "netns", "add", ns])
        self.created.append(ns)

    def teardown(self):
        if self._ctx is not None:
            try:
                self._ctx.destroy(linger=0)
            except Exception:  # noqa: BLE001
                pass
            self._ctx = None
        for ns in reversed(self.created):
            _run(["ip", "netns", "del", ns], check=False)
        self.created = []
        if self in _live:
            _live.remove(self)

    # ------------------------------------------------------------ clients

    def client_context(self):
        """A zmq.Context whose I/O threads were started inside the client
        namespace, so every socket of it connects from 10.200.S.200 whichever
        Python thread uses it. (libzmq starts its I/O threads at the first
        socket; threads inherit the network namespace of their creator, and
        setns() only moves the calling thread.)"""
        if self._ctx is not None:
            return self._ctx
        import zmq
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        box = {}

        def enter():
            try:
                fd = os.open(os.path.join(_NETNS_DIR, self.client_ns), os.O_RDONLY)
                try:
                    if libc.setns(fd, _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns(%s)" % self.client_ns)
                finally:
                    os.close(fd)
                ctx = zmq.Context()
                s = ctx.socket(zmq.REQ)  # starts the I/O threads here, in the namespace
                s.close(linger=0)
                box["ctx"] = ctx
            except Exception as e:  # noqa: BLE001
                box["error"] = e

        t = threading.Thread(target=enter, name="netns-" + self.client_ns)
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]
        self._ctx = box["ctx"]
        return self._ctx

    # ------------------------------------------------------------ faults

    def _apply(self, i):
        r = self._rules[i]
        lines = ["table inet %s {" % TABLE,
                 "  chain input {", "    type filter hook input priority 0; policy accept;"]
        if r["drop_from"]:
            lines.append("    ip saddr { %s } drop" % ", ".join(sorted(r["drop_from"])))
        if r["loss"]:
            lines.append("    ip saddr %s.%d.0/24 numgen random mod 100 < %d drop"
                         % (SUBNET_FIRST_OCTETS, self.octet, r["loss"]))
        lines.append("  }")
        lines.append("  chain output {")
        lines.append("    type filter hook output priority 0; policy accept;")
        if r["drop_to"]:
            lines.append("    ip daddr { %s } drop" % ", ".join(sorted(r["drop_to"])))
        lines.append("  }")
        lines.append("}")
        # Delete and re-create atomically in one transaction.
        script = "table inet %s\ndelete table inet %s\n%s\n" % (TABLE, TABLE, "\n".join(lines))
        _run(["ip", "netns", "exec", self.node_ns[i], "nft", "-f", "-"], input_text=script)

    def rules(self):
        """The nft ruleset of every node namespace (for failure reports)."""
        out = {}
        for i, ns in self.node_ns.items():
            out[i] = _run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"], check=False).stdout
        return out

    def partition(self, groups):
        """Symmetric partition: nodes in different groups cannot exchange
        packets. Nodes not named in any group keep talking to everyone."""
        for g in groups:
            others = {self.node_ip(j) for h in groups if h is not g for j in h}
            for i in g:
                self._rules[i]["drop_from"] |= others
                self._rules[i]["drop_to"] |= others
                self._apply(i)

    def cut(self, src, dst):
        """One way: packets from node src to node dst are dropped (dst still
        sends to src). Dropped on dst's input."""
        self._rules[dst]["drop_from"].add(self.node_ip(src))
        self._apply(dst)

    def loss(self, percent, nodes=None):
        """Every given node (default all) drops `percent`% of the packets it
        receives from the test subnet (peers and clients)."""
        for i in nodes or self.node_ns:
            self._rules[i]["loss"] = int(percent)
            self._apply(i)

    def heal(self):
        for i in self.node_ns:
            self._rules[i] = {"drop_from": set(), "drop_to": set(), "loss": 0}
            self._apply(i)


def _teardown_all():
    for net in list(_live):
        try:
            net.teardown()
        except Exception:  # noqa: BLE001
            pass


import atexit  # noqa: E402

atexit.register(_teardown_all)
