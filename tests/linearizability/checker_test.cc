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
