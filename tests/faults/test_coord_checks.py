"""Unit tests of coord_checks.py on hand-made histories (no cluster):
one good and at least one bad history per check.

    /usr/bin/python3 -m unittest -v test_coord_checks
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coord_checks as cc  # noqa: E402

MS = cc.MS


def op(kind, client, call_ms, ret_ms, outcome="ok", **kw):
    d = {"kind": kind, "client": client, "call": int(call_ms * MS), "ret": int(ret_ms * MS),
         "outcome": outcome}
    d.update(kw)
    return d


def grant(client, lease, call_ms, ttl_ms=3000):
    return op("lease_grant", client, call_ms, call_ms + 1, lease=lease, ttl_ms=ttl_ms)


def keepalive(client, lease, call_ms, outcome="ok"):
    return op("keepalive", client, call_ms, call_ms + 1, outcome, lease=lease)


def lock(client, lease, call_ms, ret_ms, token=None, succeeded=True, outcome="ok", name="L",
         kind="lock", value=None):
    d = op(kind, client, call_ms, ret_ms, outcome, lease=lease, name=name,
           succeeded=succeeded if outcome == "ok" else None,
           token=token if outcome == "ok" and succeeded else None)
    if value is not None:
        d["value"] = value
    return d


def unlock(client, lease, call_ms, ret_ms, outcome="ok", name="L", kind="unlock"):
    return op(kind, client, call_ms, ret_ms, outcome, lease=lease, name=name,
              succeeded=True if outcome == "ok" else None)


def access(client, lease, token, t_ms, accepted, order, name="L"):
    return {"kind": "access", "client": client, "lease": lease, "token": token,
            "time": int(t_ms * MS), "accepted": accepted, "order": order, "name": name}


def good_locks():
    """Two clients take turns; leases kept alive."""
    return [
        grant(1, 101, 0), grant(2, 102, 0),
        lock(1, 101, 10, 20, token=5), access(1, 101, 5, 30, True, 1), unlock(1, 101, 40, 50),
        lock(2, 102, 15, 55, token=9), access(2, 102, 9, 60, True, 2), unlock(2, 102, 70, 80),
        lock(1, 101, 60, 90, token=12), access(1, 101, 12, 95, True, 3), unlock(1, 101, 100, 110),
    ]


class LockChecks(unittest.TestCase):
    def test_good(self):
        res = cc.check_all(good_locks())
        self.assertEqual(cc.violations(res), [])
        self.assertEqual(res["stats"]["lock.holds_protected"], 3)

    def test_duplicate_token(self):
        h = good_locks()
        h[5] = lock(2, 102, 15, 55, token=5)  # client 2 told token 5 too
        h[6] = access(2, 102, 5, 60, True, 2)
        v = cc.check_unique_tokens(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("token 5 granted to several leases", v[0])

    def test_overlap_of_protected_holds(self):
        h = good_locks()
        h[5] = lock(2, 102, 15, 35, token=9)  # granted while client 1 still held token 5
        h[6] = access(2, 102, 9, 36, True, 2)
        v = cc.check_exclusive(cc.extract_holds(h))
        self.assertEqual(len(v), 1, v)
        self.assertIn("before the end of", v[0])

    def test_overlap_allowed_when_lease_may_have_expired(self):
        # Client 1's lease (TTL 3 s) was last renewed at 0: it may expire at
        # 3000 ms; client 2's grant at 3500 ms while 1 still "holds" is fine.
        h = [grant(1, 101, 0), grant(2, 102, 0), keepalive(2, 102, 2000), keepalive(2, 102, 4000),
             lock(1, 101, 10, 20, token=5), unlock(1, 101, 4000, 4010),
             lock(2, 102, 30, 3500, token=9), unlock(2, 102, 3600, 3610)]
        holds = cc.extract_holds(h)
        self.assertEqual(cc.check_exclusive(holds), [])
        self.assertFalse([x for x in holds if x.token == 5][0].protected)
        # Renewed at 1500: certainly alive until 4500 > 4000: a violation.
        h.append(keepalive(1, 101, 1500))
        self.assertEqual(len(cc.check_exclusive(cc.extract_holds(h))), 1)

    def test_unknown_unlock_makes_later_hold_unprotected(self):
        h = [grant(1, 101, 0), grant(2, 102, 0),
             lock(1, 101, 10, 20, token=5), unlock(1, 101, 30, 1030, outcome="unknown"),
             lock(1, 101, 1040, 1050, token=5), unlock(1, 101, 1200, 1210),
             lock(2, 102, 35, 1100, token=9), unlock(2, 102, 1300, 1310)]
        holds = cc.extract_holds(h)
        self.assertEqual(cc.check_exclusive(holds), [])
        late = [x for x in holds if x.start == 1050 * MS][0]
        self.assertFalse(late.protected)
        self.assertIn("unknown outcome", late.why)

    def test_token_order(self):
        h = good_locks()
        self.assertEqual(cc.check_token_order(h), [])
        # Client 1's third grant (called at 60 ms, after client 2's grant of
        # 9 was answered at 55 ms) gets token 7 < 9.
        h[8] = lock(1, 101, 60, 90, token=7)
        h[9] = access(1, 101, 7, 95, False, 3)
        v = cc.check_token_order(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("tokens must increase", v[0])

    def test_token_order_allows_late_unknown_request(self):
        # Client 1's lock at 5 ms timed out (unknown); its later lock returns
        # token 7, lower than 9 answered at 55 ms: the grant may come from
        # the first request, before 9. Not a violation of token order.
        h = good_locks()
        h.insert(2, lock(1, 101, 5, 9, outcome="unknown"))
        h[9] = lock(1, 101, 60, 90, token=7)
        h[10] = access(1, 101, 7, 95, False, 3)
        self.assertEqual(cc.check_token_order(h), [])

    def test_grant_sources(self):
        h = good_locks()
        self.assertEqual(cc.check_grant_sources(h), [])
        # Client 2's lock at 15 ms is answered `unavailable` (not carried
        # out); at 100 ms, after revision 9 was seen applied (client 1's
        # unlock answered revision 9 at 50 ms), its new lock is told it
        # already holds token 9: granted through the "failed" request.
        for o in h:
            o.setdefault("revision", None)
        h[4]["revision"] = 9
        h[5] = lock(2, 102, 15, 30, outcome="failed")
        h[5]["error"] = "unavailable"
        h[6] = lock(2, 102, 100, 105, token=9)
        h[6]["revision"] = 12
        h[7] = unlock(2, 102, 110, 120)
        h[8] = lock(1, 101, 125, 130, token=14)
        h[9] = access(1, 101, 14, 131, True, 3)
        h[10] = unlock(1, 101, 135, 140)
        v = cc.check_grant_sources(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("answered as not carried out", v[0])
        # Had the first request been unknown, the grant is explained.
        h[5] = lock(2, 102, 15, 30, outcome="unknown")
        self.assertEqual(cc.check_grant_sources(h), [])

    def test_fencing(self):
        h = good_locks()
        self.assertEqual(cc.check_fencing(h, cc.extract_holds(h)), [])
        # Resource saw 9 then 5 from a protected holder: violation.
        h2 = [grant(1, 101, 0), grant(2, 102, 0),
              lock(1, 101, 10, 20, token=5), access(1, 101, 5, 45, False, 2),
              unlock(1, 101, 50, 60),
              lock(2, 102, 15, 30, token=9), access(2, 102, 9, 40, True, 1),
              unlock(2, 102, 70, 80)]
        v = cc.check_fencing(h2, cc.extract_holds(h2))
        self.assertEqual(len(v), 1, v)
        self.assertIn("refused after token 9", v[0])
        # A wrongly recorded verdict (accepted an older token).
        h3 = list(h2)
        h3[3] = access(1, 101, 5, 45, True, 2)
        v = cc.check_fencing(h3, cc.extract_holds(h3))
        self.assertTrue(any("the rule says False" in x for x in v), v)

    def test_fencing_refusal_of_expired_holder_is_fine(self):
        h = [grant(1, 101, 0), grant(2, 102, 0), keepalive(2, 102, 2000),
             lock(1, 101, 10, 20, token=5), access(1, 101, 5, 3900, False, 2),
             unlock(1, 101, 4000, 4010),
             lock(2, 102, 30, 3500, token=9), access(2, 102, 9, 3550, True, 1),
             unlock(2, 102, 3600, 3610)]
        self.assertEqual(cc.check_fencing(h, cc.extract_holds(h)), [])
        self.assertEqual(cc.check_exclusive(cc.extract_holds(h)), [])

    def test_access_outside_hold(self):
        h = good_locks()
        h.append(access(1, 101, 5, 500, False, 4))
        v = cc.check_fencing(h, cc.extract_holds(h))
        self.assertTrue(any("inside none of its holds" in x for x in v), v)


def good_election():
    return [
        grant(1, 201, 0), grant(2, 202, 0),
        lock(1, 201, 10, 20, token=7, kind="campaign", name="E", value="e1.1"),
        op("leader", 3, 25, 30, name="E", token=7, value="e1.1"),
        op("proclaim", 1, 31, 35, name="E", lease=201, value="e1.1.p1", succeeded=True),
        op("leader", 3, 36, 40, name="E", token=7, value="e1.1.p1"),
        unlock(1, 201, 50, 60, name="E", kind="resign"),
        lock(2, 202, 15, 65, token=12, kind="campaign", name="E", value="e2.1"),
        op("leader", 3, 70, 75, name="E", token=12, value="e2.1"),
        unlock(2, 202, 80, 90, name="E", kind="resign"),
        op("leader", 3, 95, 99, name="E", token=None, value=None),
    ]


class ElectionChecks(unittest.TestCase):
    def test_good(self):
        res = cc.check_all(good_election())
        self.assertEqual(cc.violations(res), [])
        self.assertEqual(res["stats"]["campaign.holds_protected"], 2)

    def test_two_leaders_same_token(self):
        h = good_election()
        h[7] = lock(2, 202, 15, 65, token=7, kind="campaign", name="E", value="e2.1")
        v = cc.check_unique_tokens(h, "campaign")
        self.assertEqual(len(v), 1, v)

    def test_two_leaders_at_once(self):
        h = good_election()
        h[7] = lock(2, 202, 15, 45, token=12, kind="campaign", name="E", value="e2.1")
        self.assertEqual(len(cc.check_exclusive(cc.extract_holds(h, "campaign", "resign"),
                                                "campaign")), 1)

    def test_reads_go_backwards(self):
        h = good_election()
        h.append(op("leader", 4, 100, 105, name="E", token=7, value="e1.1"))
        v = cc.check_leader_reads(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("saw token 7, but token 12", v[0])

    def test_read_before_grant_reply_overlapping_is_fine(self):
        h = good_election()
        # A read overlapping the campaign answered with 12 may still see 7.
        h.append(op("leader", 4, 62, 68, name="E", token=7, value="e1.1"))
        self.assertEqual(cc.check_leader_reads(h), [])

    def test_read_value_of_another_campaigner(self):
        h = good_election()
        h[3] = op("leader", 3, 25, 30, name="E", token=7, value="e2.1")
        v = cc.check_leader_reads(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("granted to e1", v[0])


def qput(client, value, item, call, ret, outcome="ok", queue="Q"):
    return op("qput", client, call, ret, outcome, queue=queue, value=value,
              item=item if outcome == "ok" else None)


def qget(client, call, ret, item=None, value=None, receipt=None, vis=1000, outcome="ok",
         queue="Q"):
    return op("qget", client, call, ret, outcome, queue=queue, item=item, value=value,
              receipt=receipt, succeeded=(item is not None) if outcome == "ok" else None,
              visibility_ms=vis)


def qack(client, item, receipt, call, ret, succeeded=True, outcome="ok", queue="Q"):
    return op("qack", client, call, ret, outcome, queue=queue, item=item, receipt=receipt,
              succeeded=succeeded if outcome == "ok" else None)


def qlen_final(items=0, in_flight=0, queue="Q"):
    return op("qlen", 0, 10000, 10001, queue=queue, items=items, in_flight=in_flight, final=True)


def good_queue():
    return [
        qput(1, "p1.1", 1, 0, 10), qput(1, "p1.2", 2, 11, 20), qput(1, "p1.3", 3, 21, 30),
        qget(5, 31, 40, 1, "p1.1", 100), qack(5, 1, 100, 41, 50),
        qget(6, 32, 45, 2, "p1.2", 101),  # never acked: redelivered after 1 s
        qget(5, 51, 60, 3, "p1.3", 102), qack(5, 3, 102, 61, 70),
        qget(5, 1100, 1110, 2, "p1.2", 103), qack(5, 2, 103, 1111, 1120),
        qlen_final(),
    ]


class QueueChecks(unittest.TestCase):
    def test_good(self):
        res = cc.check_all(good_queue())
        self.assertEqual(cc.violations(res), [])
        self.assertEqual(res["stats"]["queues"]["Q"]["acked"], 3)

    def test_duplicate_put(self):
        h = good_queue()
        h.insert(3, qget(6, 33, 36, 4, "p1.2", 104))  # value p1.2 also as item 4
        v = cc.check_queue_exactly_once(h)
        self.assertTrue(any("several items" in x for x in v), v)

    def test_phantom_and_shared_item(self):
        h = good_queue()
        h.append(qget(7, 1200, 1210, 3, "zz", 105))
        v = cc.check_queue_exactly_once(h)
        self.assertTrue(any("never put" in x for x in v), v)
        self.assertTrue(any("several values" in x for x in v), v)

    def test_put_order(self):
        h = good_queue()
        self.assertEqual(cc.check_queue_put_order(h), [])
        h[2] = qput(1, "p1.3", 1, 21, 30)
        self.assertEqual(len(cc.check_queue_put_order(h)), 1)  # item 1 after item 2

    def test_lost(self):
        h = good_queue()
        del h[9]  # the ack of item 2's redelivery
        v = cc.check_queue_no_loss(h)[0]
        self.assertEqual(len(v), 1, v)
        self.assertIn("lost", v[0])

    def test_uncertain_ack_is_not_a_loss(self):
        h = good_queue()
        h[9] = qack(5, 2, 103, 1111, 2120, outcome="unknown")
        v, st = cc.check_queue_no_loss(h)
        self.assertEqual(v, [])
        self.assertEqual(st["Q"]["uncertain"], 1)

    def test_not_drained(self):
        h = good_queue()
        del h[9]
        h[-1] = qlen_final(items=1)
        v = cc.check_queue_no_loss(h)[0]
        self.assertTrue(v and "not drained" in v[0], v)

    def test_visibility(self):
        h = good_queue()
        self.assertEqual(cc.check_queue_visibility(h), [])
        h[8] = qget(5, 900, 1010, 2, "p1.2", 103)  # 900 + 1000 visibility: returned too early
        v = cc.check_queue_visibility(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("within one window", v[0])

    def test_visibility_counts_from_the_call(self):
        h = good_queue()
        # Returned at 1040 >= 32 + 1000: fine, although 1040 < 45 + 1000.
        h[8] = qget(5, 900, 1040, 2, "p1.2", 103)
        self.assertEqual(cc.check_queue_visibility(h), [])

    def test_nack_gives_back(self):
        h = good_queue()
        h[8] = qget(5, 200, 210, 2, "p1.2", 103)
        self.assertEqual(len(cc.check_queue_visibility(h)), 1)
        h.append(op("qnack", 6, 150, 160, queue="Q", item=2, receipt=101))
        self.assertEqual(cc.check_queue_visibility(h), [])

    def test_delivered_after_ack(self):
        h = good_queue()
        h.append(qget(7, 2500, 2510, 1, "p1.1", 106))
        v = cc.check_queue_visibility(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("after its delivery", v[0])

    def test_fifo(self):
        h = good_queue()
        self.assertEqual(cc.check_queue_fifo(h), [])
        # Item 3 delivered at [31, 40] while items 1 and 2 were ready (first
        # delivered later).
        h = [qput(1, "p1.1", 1, 0, 10), qput(1, "p1.2", 2, 11, 20), qput(1, "p1.3", 3, 21, 30),
             qget(5, 31, 40, 3, "p1.3", 100), qget(5, 41, 50, 1, "p1.1", 101),
             qget(5, 51, 60, 2, "p1.2", 102)]
        v = cc.check_queue_fifo(h)
        self.assertEqual(len(v), 1, v)
        self.assertIn("item 3 delivered", v[0])

    def test_fifo_excuses_lost_get(self):
        # An unknown get at 25 may have taken item 1 and hidden it until
        # 25 + 1000; its first known delivery at 1100 is consistent with that.
        h = [qput(1, "p1.1", 1, 0, 10), qput(1, "p1.2", 2, 11, 20),
             qget(6, 25, 1025, outcome="unknown"),
             qget(5, 31, 40, 2, "p1.2", 100), qget(5, 1100, 1110, 1, "p1.1", 101)]
        self.assertEqual(cc.check_queue_fifo(h), [])
        # But item 1 first delivered at [41, 50] cannot have been hidden by it.
        h[4] = qget(5, 41, 50, 1, "p1.1", 101)
        self.assertEqual(len(cc.check_queue_fifo(h)), 1)


if __name__ == "__main__":
    unittest.main()
