// checker_test: hand-made histories, each small enough to reason about by
// hand, that are linearizable and that are not; the violations must name the
// key. Times are in nanoseconds and every key starts absent.
#include "tests/linearizability/checker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "tests/linearizability/op_builders.h"

namespace cabildo::lincheck {
namespace {

using namespace test;

constexpr std::chrono::milliseconds budget{5'000};

struct Case {
    std::string name;
    std::vector<Operation> ops;
};

TEST(Checker, AcceptsLinearizableHistories) {
    const std::vector<Case> cases = {
        {"empty history", {}},
        {"fresh key reads absent", {get(1, "k", absent, 0, 10)}},
        {"concurrent get sees the old value",
         {put(1, "k", "a", 0, 10), put(1, "k", "b", 20, 40), get(2, "k", "a", 25, 30)}},
        {"concurrent get sees the new value",
         {put(1, "k", "a", 0, 10), put(1, "k", "b", 20, 40), get(2, "k", "b", 25, 30)}},
        {"get overlapping a put sees absent",
         {put(1, "k", "a", 0, 10), get(2, "k", absent, 5, 15)}},
        {"equal times count as concurrent", {put(1, "k", "a", 0, 10), get(2, "k", absent, 10, 20)}},
        {"unknown write takes effect late",
         {put(1, "k", "a", 0, 10), unknown(put(2, "k", "b", 20, 0)), get(3, "k", "a", 100, 110),
          get(3, "k", "b", 200, 210), get(1, "k", "b", 300, 310)}},
        {"unknown write never takes effect",
         {put(1, "k", "a", 0, 10), unknown(put(2, "k", "b", 20, 0)), get(3, "k", "a", 100, 110),
          get(3, "k", "a", 200, 210)}},
        {"unknown delete takes effect",
         {put(1, "k", "a", 0, 10), unknown(del(2, "k", std::nullopt, 20, 0)),
          get(3, "k", absent, 100, 110)}},
        {"unknown get is dropped",
         {put(1, "k", "a", 0, 10), unknown(get(2, "k", absent, 20, 0)), get(3, "k", "a", 30, 40)}},
        {"failed write is ignored",
         {put(1, "k", "a", 0, 10), failed(put(2, "k", "b", 20, 30)), get(3, "k", "a", 40, 50)}},
        {"cas chain",
         {put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", true, 20, 30),
          cas(3, "k", "b", "c", true, 40, 50), cas(1, "k", "a", "d", false, 60, 70),
          get(2, "k", "c", 80, 90)}},
        {"cas from absent",
         {cas(1, "k", absent, "a", true, 0, 10), cas(2, "k", absent, "b", false, 20, 30),
          get(3, "k", "a", 40, 50)}},
        {"two concurrent cas, one wins",
         {put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", true, 20, 40),
          cas(3, "k", "a", "c", false, 20, 40), get(1, "k", "b", 50, 60)}},
        {"cas with unknown output",
         {put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", std::nullopt, 20, 30),
          get(3, "k", "b", 40, 50)}},
        {"unknown cas takes effect",
         {put(1, "k", "a", 0, 10), unknown(cas(2, "k", "a", "b", true, 20, 30)),
          get(3, "k", "b", 40, 50)}},
        {"delete reports whether the key existed",
         {put(1, "k", "a", 0, 10), del(2, "k", true, 20, 30), del(3, "k", false, 40, 50),
          del(1, "k", std::nullopt, 60, 70), get(2, "k", absent, 80, 90)}},
        {"keys are independent",
         {put(1, "k1", "a", 0, 10), put(2, "k2", "b", 5, 15), get(3, "k1", "a", 20, 30),
          get(3, "k2", "b", 40, 50), get(1, "k3", absent, 60, 70)}},
        {"overlapping reads may disagree while a write is in flight",
         {put(1, "k", "a", 0, 100), get(2, "k", absent, 10, 50), get(3, "k", "a", 20, 30)}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const CheckResult result = check_history(c.ops, budget);
        EXPECT_TRUE(result.linearizable) << result.explanation;
        EXPECT_FALSE(result.timed_out);
        EXPECT_EQ(result.explanation, "");
    }
}

TEST(Checker, RejectsHistoriesThatAreNotLinearizable) {
    const std::vector<Case> cases = {
        {"stale read after an acknowledged write",
         {put(1, "k", "a", 0, 10), put(1, "k", "b", 20, 30), get(2, "k", "a", 40, 50)}},
        {"lost acknowledged write", {put(1, "k", "a", 0, 10), get(2, "k", absent, 20, 30)}},
        {"two cas winners from the same expected value",
         {put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", true, 20, 40),
          cas(3, "k", "a", "c", true, 20, 40)}},
        {"read of a failed write's value",
         {put(1, "k", "a", 0, 10), failed(put(2, "k", "b", 20, 30)), get(3, "k", "b", 40, 50)}},
        {"read of a value never written", {put(1, "k", "a", 0, 10), get(2, "k", "z", 20, 30)}},
        {"unknown write cannot act before its call",
         {get(1, "k", "b", 0, 10), unknown(put(2, "k", "b", 20, 0))}},
        {"cas failed although it had to match",
         {put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", false, 20, 30)}},
        {"delete claims the key existed", {del(1, "k", true, 0, 10)}},
        {"delete claims the key was absent", {put(1, "k", "a", 0, 10), del(2, "k", false, 20, 30)}},
        {"read flips back after both writes ended",
         {put(1, "k", "a", 0, 10), put(2, "k", "b", 0, 10), get(3, "k", "a", 20, 30),
          get(3, "k", "b", 40, 50)}},
        {"reads disagree in real-time order",
         {put(1, "k", "a", 0, 100), get(2, "k", "a", 10, 20), get(3, "k", absent, 30, 40)}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const CheckResult result = check_history(c.ops, budget);
        EXPECT_FALSE(result.linearizable);
        EXPECT_FALSE(result.timed_out);
        EXPECT_EQ(result.key, "k");
        EXPECT_NE(result.explanation.find("key \"k\": not linearizable"), std::string::npos)
            << result.explanation;
    }
}

TEST(Checker, ExplanationNamesTheBrokenKeyAndTheStuckOperation) {
    const std::vector<Operation> ops = {
        put(1, "fine", "x", 1'000'000, 2'000'000),   put(1, "broken", "a", 1'000'000, 2'000'000),
        put(2, "broken", "b", 3'000'000, 4'000'000), get(3, "broken", "a", 5'000'000, 6'000'000),
        get(3, "fine", "x", 7'000'000, 8'000'000),
    };
    const CheckResult result = check_history(ops, budget);
    ASSERT_FALSE(result.linearizable);
    EXPECT_EQ(result.key, "broken");
    EXPECT_EQ(result.keys_checked, 1u);  // "broken" sorts first and stops the check
    const std::string& text = result.explanation;
    EXPECT_NE(text.find("key \"broken\": not linearizable"), std::string::npos) << text;
    EXPECT_NE(text.find("#3 client 3: get => \"a\"  [+4.000ms, +5.000ms]"), std::string::npos)
        << text;
    EXPECT_NE(text.find("#2 client 2: put \"b\""), std::string::npos) << text;
    EXPECT_NE(text.find("holds \"b\""), std::string::npos) << text;
}

TEST(Checker, CountsOperationsAndKeys) {
    const std::vector<Operation> ops = {
        put(1, "a", "1", 0, 10),
        failed(put(1, "a", "2", 20, 30)),
        unknown(get(2, "b", absent, 0, 0)),
        get(2, "b", absent, 40, 50),
        unknown(put(3, "c", "3", 0, 0)),
    };
    const CheckResult result = check_history(ops, budget);
    EXPECT_TRUE(result.linearizable) << result.explanation;
    EXPECT_EQ(result.operations_checked, 3u);
    EXPECT_EQ(result.keys_checked, 3u);
}

TEST(Checker, AcceptsLinearizableMultiKeyHistories) {
    const std::vector<Case> cases = {
        {"txn writes two keys, later reads see both",
         {txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, true, 0, 10), get(2, "a", "1", 20, 30),
          get(2, "b", "1", 40, 50)}},
        {"reader overlapping the txn sees none of it, then all of it",
         {txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, true, 0, 100),
          get(2, "a", absent, 10, 20), get(2, "b", absent, 30, 40), get(3, "a", "1", 50, 60),
          get(3, "b", "1", 70, 80)}},
        {"reads of b before a may see b new and a old while the txn is in flight",
         {txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, true, 0, 100),
          get(2, "a", absent, 10, 20), get(3, "b", "1", 5, 15)}},
        {"compare holds: success branch",
         {put(1, "k1", "a", 0, 10),
          txn(2, {holds("k1", "a")}, {tput("k1", "b"), tput("k2", "b")}, {tget_unread("k2")}, true,
              20, 30),
          get(3, "k1", "b", 40, 50), get(3, "k2", "b", 60, 70)}},
        {"compare fails: failure branch reads",
         {put(1, "k1", "a", 0, 10), put(1, "k2", "c", 20, 30),
          txn(2, {holds("k1", "z")}, {tput("k1", "b"), tput("k2", "b")}, {tget("k2", "c")}, false,
              40, 50),
          get(3, "k1", "a", 60, 70)}},
        {"compare on an absent key",
         {txn(1, {holds("k", absent)}, {tput("k", "a")}, {}, true, 0, 10),
          txn(2, {holds("k", absent)}, {tput("k", "b")}, {tget("k", "a")}, false, 20, 30)}},
        {"concurrent txns on the same compare: one wins",
         {put(1, "k", "a", 0, 10),
          txn(2, {holds("k", "a")}, {tput("k", "b"), tput("j", "b")}, {}, true, 20, 40),
          txn(3, {holds("k", "a")}, {tput("k", "c"), tput("j", "c")}, {tget("j", "b")}, false, 20,
              40),
          get(1, "j", "b", 50, 60)}},
        {"a branch sees its own earlier operations",
         {put(1, "k", "a", 0, 10),
          txn(2, {},
              {tget("k", "a"), tdel("k", true), tget("k", absent), tput("k", "b"), tget("k", "b")},
              {}, true, 20, 30),
          get(3, "k", "b", 40, 50)}},
        {"txn del reports whether the key existed",
         {put(1, "a", "1", 0, 10),
          txn(2, {}, {tdel("a", true), tdel("b", false)}, {}, true, 20, 30),
          get(3, "a", absent, 40, 50)}},
        {"txn with unknown succeeded",
         {put(1, "k", "a", 0, 10),
          txn(2, {holds("k", "a")}, {tput("j", "x")}, {tput("j", "y")}, std::nullopt, 20, 30),
          get(3, "j", "x", 40, 50)}},
        {"unknown txn takes effect late",
         {unknown(txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, std::nullopt, 0, 0)),
          get(2, "a", absent, 100, 110), get(2, "a", "1", 200, 210), get(2, "b", "1", 300, 310)}},
        {"unknown txn never takes effect",
         {unknown(txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, std::nullopt, 0, 0)),
          get(2, "a", absent, 100, 110), get(2, "b", absent, 200, 210)}},
        {"unknown txn takes its failure branch",
         {put(1, "k", "a", 0, 10),
          unknown(
              txn(2, {holds("k", "z")}, {tput("j", "x")}, {tput("j", "y")}, std::nullopt, 20, 0)),
          get(3, "j", "y", 40, 50)}},
        {"read-only txn sees a consistent snapshot",
         {put(1, "a", "1", 0, 10), put(1, "b", "1", 20, 30),
          txn(2, {}, {tget("a", "1"), tget("b", absent)}, {}, true, 5, 25)}},
        {"failed txn is ignored",
         {failed(txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, std::nullopt, 0, 10)),
          get(2, "a", absent, 20, 30)}},
        {"delp deletes its prefix only",
         {put(1, "p/a", "1", 0, 10), put(1, "p/b", "1", 20, 30), put(1, "q", "1", 40, 50),
          delp(2, "p/", 2, 60, 70), get(3, "p/a", absent, 80, 90), get(3, "p/b", absent, 80, 90),
          get(3, "q", "1", 80, 90)}},
        {"delp concurrent with a put of its prefix",
         {put(1, "p/a", "1", 0, 10), delp(2, "p/", 1, 20, 40), put(3, "p/b", "1", 25, 35),
          get(1, "p/b", "1", 50, 60), get(1, "p/a", absent, 50, 60)}},
        {"delp of a prefix nobody wrote",
         {get(1, "z/a", absent, 0, 10), delp(1, "z/", 0, 20, 30),
          delp(2, "y/", std::nullopt, 20, 30)}},
        {"unknown delp takes effect late",
         {put(1, "p/a", "1", 0, 10), unknown(delp(2, "p/", std::nullopt, 20, 0)),
          get(3, "p/a", "1", 40, 50), get(3, "p/a", absent, 60, 70)}},
        {"delp with unknown count",
         {put(1, "p/a", "1", 0, 10), delp(2, "p/", std::nullopt, 20, 30),
          get(3, "p/a", absent, 40, 50)}},
        {"txn then delp then txn",
         {txn(1, {}, {tput("p/a", "1"), tput("p/b", "1")}, {}, true, 0, 10),
          delp(2, "p/", 2, 20, 30),
          txn(3, {holds("p/a", absent)}, {tput("p/b", "2")}, {}, true, 40, 50),
          get(1, "p/b", "2", 60, 70), get(1, "p/a", absent, 60, 70)}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const CheckResult result = check_history(c.ops, budget);
        EXPECT_TRUE(result.linearizable) << result.explanation;
        EXPECT_FALSE(result.timed_out);
        EXPECT_EQ(result.explanation, "");
    }
}

TEST(Checker, RejectsMultiKeyHistoriesThatAreNotLinearizable) {
    struct BrokenCase {
        std::string name;
        std::vector<Operation> ops;
        std::string key;  // the broken component's smallest key (or a keyless delp's prefix)
    };
    const std::vector<BrokenCase> cases = {
        {"txn's two puts seen half-applied by a later reader",
         {txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, true, 0, 100), get(2, "a", "1", 10, 20),
          get(2, "b", absent, 30, 40)},
         "a"},
        {"txn's two puts seen half-applied after it returned",
         {txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, true, 0, 10), get(2, "a", "1", 20, 30),
          get(2, "b", absent, 40, 50)},
         "a"},
        {"read-only txn sees a later write but not an earlier one",
         {put(1, "a", "1", 0, 10), put(1, "b", "1", 20, 30),
          txn(2, {}, {tget("a", absent), tget("b", "1")}, {}, true, 5, 35)},
         "a"},
        {"txn claims succeeded while its compare cannot have held",
         {put(1, "k1", "a", 0, 10),
          txn(2, {holds("k1", "z")}, {tput("k2", "b")}, {}, true, 20, 30)},
         "k1"},
        {"txn claims failed while its compare must have held",
         {put(1, "k1", "a", 0, 10),
          txn(2, {holds("k1", "a")}, {tput("k2", "b")}, {tget("k2", absent)}, false, 20, 30)},
         "k1"},
        {"failure branch reads the value the compare ruled out",
         {put(1, "k", "a", 0, 10), put(3, "k", "b", 0, 10),
          txn(2, {holds("k", "a")}, {}, {tget("k", "a")}, false, 20, 30)},
         "k"},
        {"two txns win the same compare",
         {put(1, "k", "a", 0, 10),
          txn(2, {holds("k", "a")}, {tput("k", "b"), tput("j", "b")}, {}, true, 20, 40),
          txn(3, {holds("k", "a")}, {tput("k", "c"), tput("j", "c")}, {}, true, 20, 40)},
         "j"},
        {"a branch does not see its own put",
         {txn(1, {}, {tput("k", "a"), tget("k", absent)}, {}, true, 0, 10)},
         "k"},
        {"txn del claims a key existed that never did",
         {txn(1, {}, {tput("a", "1"), tdel("b", true)}, {}, true, 0, 10)},
         "a"},
        {"unknown txn cannot act before its call",
         {get(1, "a", "1", 0, 10),
          unknown(txn(2, {}, {tput("a", "1"), tput("b", "1")}, {}, std::nullopt, 20, 0))},
         "a"},
        {"failed txn's write is read",
         {failed(txn(1, {}, {tput("a", "1"), tput("b", "1")}, {}, std::nullopt, 0, 10)),
          get(2, "b", "1", 20, 30)},
         "b"},
        {"get sees a key after a delp that returned before the get was called",
         {put(1, "p/a", "1", 0, 10), delp(2, "p/", 1, 20, 30), get(3, "p/a", "1", 40, 50)},
         "p/a"},
        {"delp claims more keys than were present",
         {put(1, "p/a", "1", 0, 10), put(1, "p/b", "1", 20, 30), del(1, "p/b", true, 40, 50),
          delp(2, "p/", 2, 60, 70)},
         "p/a"},
        {"delp claims fewer keys than were present",
         {put(1, "p/a", "1", 0, 10), put(1, "p/b", "1", 20, 30), delp(2, "p/", 1, 40, 50)},
         "p/a"},
        {"delp deleted half of its prefix",
         {put(1, "p/a", "1", 0, 10), put(1, "p/b", "1", 0, 10), delp(2, "p/", std::nullopt, 20, 30),
          get(3, "p/a", absent, 40, 50), get(3, "p/b", "1", 40, 50)},
         "p/a"},
        {"delp of a prefix nobody wrote claims a deletion",
         {put(1, "q", "1", 0, 10), delp(2, "z/", 1, 20, 30)},
         "z/"},
    };
    for (const BrokenCase& c : cases) {
        SCOPED_TRACE(c.name);
        const CheckResult result = check_history(c.ops, budget);
        EXPECT_FALSE(result.linearizable);
        EXPECT_FALSE(result.timed_out);
        EXPECT_EQ(result.key, c.key) << result.explanation;
        EXPECT_NE(result.explanation.find("not linearizable"), std::string::npos)
            << result.explanation;
    }
}

TEST(Checker, SplitsMultiKeyOperationsIntoComponents) {
    const std::vector<Operation> ops = {
        txn(1, {holds("a", absent)}, {tput("b", "1")}, {tput("z", "1")}, true, 0, 10),
        put(1, "c", "1", 20, 30),
        put(2, "p/1", "1", 0, 10),
        put(2, "p/2", "1", 20, 30),
        get(2, "p/3", absent, 40, 50),  // only read: no delp can change it
        delp(3, "p/", 2, 60, 70),
        delp(3, "x/", 0, 80, 90),  // no key written: a component of its own
    };
    const CheckResult result = check_history(ops, budget);
    EXPECT_TRUE(result.linearizable) << result.explanation;
    // {a, b} (z is in the branch that did not run), {c}, {p/1, p/2}, {p/3}, {x/}
    EXPECT_EQ(result.components_checked, 5u);
    EXPECT_EQ(result.keys_checked, 6u);
    EXPECT_EQ(result.operations_checked, 7u);
}

TEST(Checker, ExplanationNamesTheComponentAndItsValues) {
    const std::vector<Operation> ops = {
        put(1, "fine", "x", 1'000'000, 2'000'000),
        txn(1, {holds("a", absent)}, {tput("a", "1"), tput("b", "1")}, {}, true, 1'000'000,
            2'000'000),
        get(2, "a", "1", 3'000'000, 4'000'000),
        get(2, "b", absent, 5'000'000, 6'000'000),
    };
    const CheckResult result = check_history(ops, budget);
    ASSERT_FALSE(result.linearizable);
    EXPECT_EQ(result.key, "a");
    EXPECT_EQ(result.keys, (std::vector<std::string>{"a", "b"}));
    const std::string& text = result.explanation;
    EXPECT_NE(text.find("keys \"a\", \"b\": not linearizable"), std::string::npos) << text;
    EXPECT_NE(text.find("#3 client 2: get \"b\" => absent  [+4.000ms, +5.000ms]"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("#1 client 1: txn if \"a\" = absent then put \"a\" \"1\", put \"b\" \"1\" "
                        "else nothing => succeeded"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("The keys then hold \"a\" = \"1\", \"b\" = \"1\""), std::string::npos)
        << text;
}

TEST(Checker, ReportsTimeoutInsteadOfAVerdict) {
    // Twenty writers all concurrent, then a read nobody wrote: the search
    // must exhaust every order, far more than a zero budget allows.
    std::vector<Operation> ops;
    for (int i = 0; i < 20; ++i) ops.push_back(put(i, "k", std::to_string(i), 0, 100));
    ops.push_back(get(99, "k", "none", 200, 300));
    const CheckResult result = check_history(ops, std::chrono::milliseconds(0));
    EXPECT_FALSE(result.linearizable);
    EXPECT_TRUE(result.timed_out);
    EXPECT_EQ(result.key, "k");
    EXPECT_NE(result.explanation.find("gave up"), std::string::npos) << result.explanation;
}

}  // namespace
}  // namespace cabildo::lincheck
