"""`cabildo top` tested the way a person uses it: it runs in a detached tmux
session (160x40) over a 3-node cluster, and the test reads the screen with
`tmux capture-pane` and types with `tmux send-keys`:

1. all three rows show up live, one of them the leader;
2. kill -9 of the leader: its row says `down` (and is dimmed), and the
   "recent leader changes" list shows a new leader in a later term;
3. the killed node is restarted: its row is live again;
4. a resize to 40x6 and back: top redraws and goes on;
5. `q` quits top with exit status 0.

Every wait polls the screen up to a deadline. Skipped when tmux is not
installed (Debian package tmux). With $CABILDO_TOP_CAPTURE set, the screen
after the kill is written to that file.
"""

import os
import re
import shlex
import shutil
import subprocess
import unittest

import harness
from harness import wait_for

CLI = os.path.join(harness.BIN_DIR, "client", "cabildo")
TMUX = shutil.which("tmux")
# "  2  tcp://127.0.0.1:12345  live   leader  4  2 ..." (top_screen.h)
ROW = re.compile(r"^\s*(\d+)\s+(tcp://\S+)\s+(live|down|waiting|recovering)\s+(\S+)\s+(\d+)\s")
CHANGE = re.compile(r"term (\d+)  leader (\d+)")
# SGR 2 (faint) in any SGR sequence, as capture-pane -e shows A_DIM: "\x1b[0;2m".
DIM = re.compile(r"\x1b\[(?:[0-9]*;)*2(?:;[0-9]*)*m")


class Top:
    """`cabildo top` in a tmux session on a private tmux server (-L), so no
    user's tmux is touched; closed by close()."""

    def __init__(self, directory, endpoints):
        self.server = "cabildo-top-%d" % os.getpid()
        self.session = "top"
        self.exit_file = os.path.join(directory, "top.exit")
        command = "%s --endpoints %s top; echo EXIT=$? > %s" % (
            shlex.quote(CLI), shlex.quote(",".join(endpoints)), shlex.quote(self.exit_file))
        env = dict(os.environ, TERM=os.environ.get("TERM") or "xterm")
        subprocess.run(self.tmux("new-session", "-d", "-s", self.session, "-x", "160",
                                 "-y", "40", "sh -c %s" % shlex.quote(command)),
                       check=True, env=env, timeout=10)

    def tmux(self, *args):
        return [TMUX, "-L", self.server, "-f", "/dev/null"] + list(args)

    def capture(self, escapes=False):
        args = ["capture-pane", "-p", "-t", self.session] + (["-e"] if escapes else [])
        return subprocess.run(self.tmux(*args), check=True, capture_output=True, text=True,
                              timeout=10).stdout

    def rows(self):
        """{node id: (state, role, term)} from the screen."""
        out = {}
        for line in self.capture().splitlines():
            m = ROW.match(line)
            if m:
                out[int(m.group(1))] = (m.group(3), m.group(4), int(m.group(5)))
        return out

    def row_line(self, node_id, escapes):
        for line in self.capture(escapes).splitlines():
            plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
            m = ROW.match(plain)
            if m and int(m.group(1)) == node_id:
                return line
        return None

    def changes(self):
        """[(term, leader)] of the leader-change lines naming a leader."""
        text = self.capture()
        section = text.split("recent leader changes", 1)
        return [(int(t), int(l)) for t, l in CHANGE.findall(section[1])] if len(section) == 2 else []

    def resize(self, width, height):
        subprocess.run(self.tmux("resize-window", "-t", self.session, "-x", str(width),
                                 "-y", str(height)), check=True, timeout=10)

    def send(self, *keys):
        subprocess.run(self.tmux("send-keys", "-t", self.session, *keys), check=True, timeout=10)

    def exit_status(self):
        try:
            with open(self.exit_file) as f:
                return f.read().strip()
        except OSError:
            return None

    def close(self):
        subprocess.run(self.tmux("kill-server"), capture_output=True, timeout=10)


@unittest.skipIf(TMUX is None, "tmux is not installed (apt-get install tmux): "
                               "this test drives cabildo top in a tmux pane")
class TopTest(harness.ClusterTestCase):
    def screen(self, top):
        try:
            return top.capture()
        except Exception as e:  # noqa: BLE001
            return "(no capture: %r)" % e

    def wait_screen(self, top, cond, what, timeout=10.0):
        try:
            return wait_for(cond, timeout, what, interval=0.1)
        except AssertionError as e:
            raise AssertionError("%s\n--- screen ---\n%s" % (e, self.screen(top))) from None

    def test_leader_kill_and_return(self):
        c = self.start_cluster(3)
        top = Top(c.dir, c.endpoints())
        self.addCleanup(top.close)

        def three_live_one_leader():
            rows = top.rows()
            if sorted(rows) != [1, 2, 3] or any(r[0] != "live" for r in rows.values()):
                return None
            leaders = [i for i, r in rows.items() if r[1] == "leader"]
            return (leaders[0], rows[leaders[0]][2]) if len(leaders) == 1 else None

        leader, term = self.wait_screen(top, three_live_one_leader,
                                        "three live rows, one of them the leader")

        c.kill(leader)

        def down_and_new_leader():
            rows = top.rows()
            if rows.get(leader, ("",))[0] != "down":
                return None
            new = [(t, l) for t, l in top.changes() if t > term and l != leader]
            return new[0] if new else None

        new_term, new_leader = self.wait_screen(
            top, down_and_new_leader,
            "node %d shown down and a new leader in the leader changes" % leader)
        self.assertIn(new_leader, [n.id for n in c.nodes if n.id != leader],
                      "term %d" % new_term)
        down_line = top.row_line(leader, escapes=True)
        self.assertIsNotNone(down_line)
        self.assertRegex(down_line, DIM, "the down node's row is not dimmed")
        capture_path = os.environ.get("CABILDO_TOP_CAPTURE")
        if capture_path:
            with open(capture_path, "w") as f:
                f.write(top.capture())

        c.start(leader)
        self.wait_screen(top, lambda: top.rows().get(leader, ("",))[0] == "live",
                         "node %d live again after its restart" % leader)
        self.assertNotRegex(top.row_line(leader, escapes=True) or "", DIM)

        # A resize, down to a few lines and columns and back, changes nothing.
        top.resize(40, 6)
        self.wait_screen(top, lambda: top.capture().startswith("cabildo top")
                         and max(len(l) for l in top.capture().splitlines()) <= 40,
                         "top redrawn at 40x6")
        top.resize(160, 40)
        self.wait_screen(top, lambda: sorted(top.rows()) == [1, 2, 3],
                         "all rows back at 160x40")
        self.assertIsNone(top.exit_status(), "top ended during the resize")

        top.send("q")
        status = self.wait_screen(top, top.exit_status, "top to exit after q", timeout=5.0)
        self.assertEqual(status, "EXIT=0")
        self.assertAllAlive()


if __name__ == "__main__":
    unittest.main()
