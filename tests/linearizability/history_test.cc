// history_test: the text format round-trips every kind, outcome and byte
// value, and malformed lines are rejected with their line number.
#include "tests/linearizability/history.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/linearizability/op_builders.h"

namespace cabildo::lincheck {
namespace {

using namespace test;

void expect_same(const Operation& a, const Operation& b) {
    EXPECT_EQ(a.client, b.client);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.expected, b.expected);
    EXPECT_EQ(a.succeeded, b.succeeded);
    EXPECT_EQ(a.outcome, b.outcome);
    EXPECT_EQ(a.call_ns, b.call_ns);
    EXPECT_EQ(a.return_ns, b.return_ns);
    EXPECT_EQ(a.deleted, b.deleted);
    ASSERT_EQ(a.compares.size(), b.compares.size());
    for (std::size_t i = 0; i < a.compares.size(); ++i) {
        EXPECT_EQ(a.compares[i].key, b.compares[i].key);
        EXPECT_EQ(a.compares[i].value, b.compares[i].value);
    }
    for (const auto branch : {&Operation::success, &Operation::failure}) {
        ASSERT_EQ((a.*branch).size(), (b.*branch).size());
        for (std::size_t i = 0; i < (a.*branch).size(); ++i) {
            const TxnOp& x = (a.*branch)[i];
            const TxnOp& y = (b.*branch)[i];
            EXPECT_EQ(x.kind, y.kind);
            EXPECT_EQ(x.key, y.key);
            EXPECT_EQ(x.value, y.value);
            EXPECT_EQ(x.read_known, y.read_known);
            EXPECT_EQ(x.existed, y.existed);
        }
    }
}

TEST(History, FormatThenParseGivesBackTheOperations) {
    Operation unknown_with_time = unknown(put(7, "k", "late", 40, 0));
    unknown_with_time.return_ns = 90;  // the harness recorded when it gave up
    const std::vector<Operation> ops = {
        put(1, "k", "a", -5, 10),
        get(2, "k", absent, 0, 3),
        get(2, "k", std::string(), 4, 6),  // the empty value, not absent
        get(3, std::string("\0\xff k", 4), std::string("\x01\"\\", 3), 1, 2),
        del(4, "", true, 8, 9),
        del(4, "", std::nullopt, 10, 11),
        cas(5, "k", absent, "b", false, 12, 20),
        cas(5, "k", "a", "", std::nullopt, 21, 21),
        unknown(cas(6, "k", "b", "c", true, 30, 40)),
        failed(put(6, "k", "z", 50, 60)),
        failed(get(18446744073709551615ULL, "k", "x", 61, 62)),
        unknown_with_time,
        delp(8, "p/", 3, 70, 71),
        delp(8, "", std::nullopt, 72, 73),
        unknown(delp(8, "p/", 1, 74, 0)),
        txn(9, {holds("a", "1"), holds(std::string("\0,:=", 4), absent)},
            {tput("a", ""), tput("b", "2"), tget("c", absent), tget("a", ""), tget_unread("d"),
             tdel("e", true), tdel("f", false), tdel("g", std::nullopt)},
            {tget_unread("a"), tdel("b", std::nullopt), tput("c", "3")}, true, 80, 90),
        txn(9, {}, {tput("a", "1")}, {tget("b", "x")}, false, 91, 92),
        txn(9, {holds("a", absent)}, {}, {}, std::nullopt, 93, 94),
        unknown(txn(9, {}, {tput("a", "1")}, {tget("b", "x")}, false, 95, 0)),
        failed(txn(9, {holds("k", "v")}, {tdel("k", true)}, {}, true, 96, 97)),
    };
    const std::string text = format_history(ops);
    const auto parsed = parse_history(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().detail << "\n" << text;
    ASSERT_EQ(parsed->size(), ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        SCOPED_TRACE(i);
        expect_same((*parsed)[i], ops[i]);
    }
    EXPECT_EQ(format_history(*parsed), text);
}

TEST(History, ParsesTheDocumentedExample) {
    const auto parsed = parse_history(
        "# comment\n\n  1 put x6b x61 - - ok 100 250\r\n2\tget x6b x61 - - ok 120 300\n"
        "3 cas x6B x62 - 1 ok 1 2\n4 del x6b - - - unknown 5 -\n");
    ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
    ASSERT_EQ(parsed->size(), 4u);
    expect_same((*parsed)[0], put(1, "k", "a", 100, 250));
    expect_same((*parsed)[1], get(2, "k", "a", 120, 300));
    expect_same((*parsed)[2], cas(3, "k", absent, "b", true, 1, 2));
    expect_same((*parsed)[3], unknown(del(4, "k", std::nullopt, 5, 0)));
}

TEST(History, ParsesTheDocumentedTxnAndDelpExamples) {
    const auto parsed = parse_history(
        "3 txn x6b31=x61 put:x6b31:x62,put:x6b32:x62 get:x6b32:x63 0 ok 400 650\n"
        "4 txn - - del:x6B:? - unknown 1 -\n"
        "5 delp x702f - - 12 ok 7 8\n");
    ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
    ASSERT_EQ(parsed->size(), 3u);
    expect_same((*parsed)[0], txn(3, {holds("k1", "a")}, {tput("k1", "b"), tput("k2", "b")},
                                  {tget("k2", "c")}, false, 400, 650));
    expect_same((*parsed)[1],
                unknown(txn(4, {}, {}, {tdel("k", std::nullopt)}, std::nullopt, 1, 0)));
    expect_same((*parsed)[2], delp(5, "p/", 12, 7, 8));
}

TEST(History, RejectsMalformedLinesWithTheirNumber) {
    struct Case {
        std::string name;
        std::string line;
        std::string error;  // expected substring of the detail
    };
    const std::vector<Case> cases = {
        {"too few fields", "1 put x6b x61 - - ok 1", "expected 9 fields, got 8"},
        {"too many fields", "1 put x6b x61 - - ok 1 2 3", "expected 9 fields, got 10"},
        {"bad client", "one put x6b x61 - - ok 1 2", "client"},
        {"negative client", "-1 put x6b x61 - - ok 1 2", "client"},
        {"bad kind", "1 delete x6b - - - ok 1 2", "kind"},
        {"absent key", "1 put - x61 - - ok 1 2", "key: must be a string"},
        {"hex without x", "1 put 6b x61 - - ok 1 2", "key"},
        {"odd hex", "1 put x6b x6 - - ok 1 2", "value"},
        {"bad hex digit", "1 put x6b xzz - - ok 1 2", "bad hex"},
        {"bad succeeded", "1 cas x6b x61 - yes ok 1 2", "succeeded"},
        {"bad outcome", "1 put x6b x61 - - timeout 1 2", "outcome"},
        {"bad call time", "1 put x6b x61 - - ok 1.5 2", "call_ns"},
        {"return before call", "1 put x6b x61 - - ok 5 4", "before call_ns"},
        {"ok never returned", "1 put x6b x61 - - ok 5 -", "only an unknown"},
        {"put without value", "1 put x6b - - - ok 1 2", "must carry the value"},
        {"cas without value", "1 cas x6b - x61 1 ok 1 2", "must carry the value"},
        {"del with value", "1 del x6b x61 - - ok 1 2", "a del carries no value"},
        {"unknown get with value", "1 get x6b x61 - - unknown 1 -", "no value read"},
        {"expected on put", "1 put x6b x61 x61 - ok 1 2", "only a cas"},
        {"succeeded on get", "1 get x6b - - 1 ok 1 2", "only a cas, del or txn"},
        {"output of a failed cas", "1 cas x6b x61 - 0 failed 1 2", "has no output"},
        {"delp with a value", "1 delp x70 x61 - - ok 1 2", "a delp carries no value"},
        {"delp with a bad count", "1 delp x70 - - many ok 1 2", "deleted"},
        {"delp with a negative count", "1 delp x70 - - -1 ok 1 2", "deleted"},
        {"count of an unknown delp", "1 delp x70 - - 1 unknown 1 -", "has no output"},
        {"count on a del", "1 del x70 - - 2 ok 1 2", "succeeded"},
        {"txn without keys", "1 txn - - - - ok 1 2", "at least one key"},
        {"txn compare without =", "1 txn x6b put:x6b:x61 - 1 ok 1 2", "KEY=VALUE"},
        {"txn compare on an absent key name", "1 txn -=x61 put:x6b:x61 - 1 ok 1 2",
         "a key must be a string"},
        {"txn compare with bad hex", "1 txn x6b=xz put:x6b:x61 - 1 ok 1 2", "compares"},
        {"txn with an unknown step", "1 txn - set:x6b:x61 - 1 ok 1 2", "put, get or del"},
        {"txn step with two fields", "1 txn - put:x6b - 1 ok 1 2", "put:KEY:VALUE"},
        {"txn put without value", "1 txn - put:x6b:- - 1 ok 1 2", "must carry the value"},
        {"txn put of an unknown value", "1 txn - put:x6b:? - 1 ok 1 2", "success"},
        {"txn del with a bad output", "1 txn - del:x6b:2 - 1 ok 1 2", "1, 0 or '?'"},
        {"txn step with an absent key", "1 txn - get:-:x61 - 1 ok 1 2", "a key must be a string"},
        {"txn output in the branch that did not run", "1 txn x6b=x61 - get:x6b:x61 1 ok 1 2",
         "failure branch"},
        {"txn output with unknown succeeded", "1 txn x6b=x61 get:x6b:- - - ok 1 2",
         "success branch"},
        {"txn output of an unknown txn", "1 txn - del:x6b:1 - - unknown 1 -", "success branch"},
        {"succeeded of an unknown txn", "1 txn - put:x6b:x61 - 1 unknown 1 -", "has no output"},
        {"txn list with an empty item", "1 txn - put:x6b:x61, - 1 ok 1 2", "put:KEY:VALUE"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const auto parsed = parse_history("1 get x6b - - - ok 0 1\n# fine\n" + c.line + "\n");
        ASSERT_FALSE(parsed.ok());
        EXPECT_EQ(parsed.error().status, Status::bad_request);
        const std::string& detail = parsed.error().detail;
        EXPECT_EQ(detail.rfind("line 3: ", 0), 0u) << detail;
        EXPECT_NE(detail.find(c.error), std::string::npos) << detail;
    }
}

TEST(History, DescribesOperationsReadably) {
    EXPECT_EQ(describe_value(absent), "absent");
    EXPECT_EQ(describe_value(std::string("k1")), "\"k1\"");
    EXPECT_EQ(describe_value(std::string("\x01", 1)), "x01");
    EXPECT_EQ(describe_operation(cas(2, "k", "a", "b", true, 1'250'000, 2'000'000), 0),
              "client 2: cas \"a\" -> \"b\" => true  [+1.250ms, +2.000ms]");
    EXPECT_EQ(describe_operation(unknown(put(3, "k", "c", 5'000'000, 0)), 1'000'000),
              "client 3: put \"c\"  [+4.000ms, never] unknown");
    EXPECT_EQ(describe_operation(get(1, "k", absent, 0, 500), 0),
              "client 1: get => absent  [+0.000ms, +0.001ms]");
    EXPECT_EQ(describe_operation(failed(del(4, "k", std::nullopt, 0, 2'000'000)), 0),
              "client 4: del  [+0.000ms, +2.000ms] failed");
    Operation gave_up = unknown(del(4, "k", std::nullopt, 0, 0));
    gave_up.return_ns = 3'000'000;
    EXPECT_EQ(describe_operation(gave_up, 0),
              "client 4: del  [+0.000ms, gave up +3.000ms] unknown");
    EXPECT_EQ(describe_operation(cas(2, "k", "a", "b", true, 0, 0), 0, true),
              "client 2: cas \"k\" \"a\" -> \"b\" => true  [+0.000ms, +0.000ms]");
    EXPECT_EQ(describe_operation(get(1, "k", "v", 0, 0), 0, true),
              "client 1: get \"k\" => \"v\"  [+0.000ms, +0.000ms]");
    EXPECT_EQ(describe_operation(delp(5, "p/", 2, 0, 1'000'000), 0),
              "client 5: delp \"p/\" => deleted 2  [+0.000ms, +1.000ms]");
    EXPECT_EQ(describe_operation(txn(3, {holds("k1", "a"), holds("k3", absent)},
                                     {tput("k1", "b"), tdel("k2", std::nullopt)},
                                     {tget("k2", "c"), tdel("k1", false)}, false, 0, 0),
                                 0),
              "client 3: txn if \"k1\" = \"a\" and \"k3\" = absent then put \"k1\" \"b\", "
              "del \"k2\" else get \"k2\" => \"c\", del \"k1\" => was absent => failed "
              "compare  [+0.000ms, +0.000ms]");
    EXPECT_EQ(describe_operation(unknown(txn(3, {}, {tget("a", absent)}, {}, true, 0, 0)), 0),
              "client 3: txn then get \"a\" else nothing  [+0.000ms, never] unknown");
}

}  // namespace
}  // namespace cabildo::lincheck
