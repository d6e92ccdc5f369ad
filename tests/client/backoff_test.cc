// Backoff and Session: table-driven checks of growth, cap, jitter bounds and
// sequence numbering.
#include "client/backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "client/session.h"

namespace cabildo::client {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, GrowsToTheCapWithJitterInTheUpperHalf) {
    struct Case {
        std::string name;
        BackoffLimits limits;
        std::vector<std::int64_t> ceilings_ms;  // before each next_delay()
    };
    const std::vector<Case> cases = {
        {"defaults", {}, {20, 40, 80, 160, 320, 500, 500, 500}},
        {"factor three", {milliseconds{10}, milliseconds{35}, 3}, {10, 30, 35, 35}},
        {"cap below initial is raised to it",
         {milliseconds{100}, milliseconds{50}, 2},
         {100, 100, 100}},
        {"factor one stays flat", {milliseconds{7}, milliseconds{500}, 1}, {7, 7, 7}},
        {"factor zero is treated as one", {milliseconds{7}, milliseconds{500}, 0}, {7, 7}},
        {"zero initial stays zero", {milliseconds{0}, milliseconds{500}, 2}, {0, 0}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        for (std::uint64_t seed = 1; seed <= 20; ++seed) {
            Backoff backoff(c.limits, seed);
            for (const std::int64_t ceiling_ms : c.ceilings_ms) {
                ASSERT_EQ(backoff.ceiling().count(), ceiling_ms);
                const milliseconds delay = backoff.next_delay();
                EXPECT_GE(delay.count(), ceiling_ms / 2);
                EXPECT_LE(delay.count(), ceiling_ms);
            }
        }
    }
}

TEST(BackoffTest, ResetReturnsToTheInitialDelay) {
    Backoff backoff(BackoffLimits{}, 7);
    for (int i = 0; i < 10; ++i) {
        backoff.next_delay();
    }
    EXPECT_EQ(backoff.ceiling(), milliseconds{500});
    backoff.reset();
    EXPECT_EQ(backoff.ceiling(), milliseconds{20});
}

TEST(BackoffTest, SameSeedSameDelaysAndTheJitterVaries) {
    Backoff a(BackoffLimits{}, 42);
    Backoff b(BackoffLimits{}, 42);
    std::vector<std::int64_t> delays;
    for (int i = 0; i < 50; ++i) {
        const milliseconds delay = a.next_delay();
        EXPECT_EQ(delay, b.next_delay());
        delays.push_back(delay.count());
    }
    // At the cap the delays are drawn from [250, 500]: not all equal.
    EXPECT_NE(std::count(delays.begin() + 10, delays.end(), delays.back()),
              static_cast<std::ptrdiff_t>(delays.size() - 10));
}

TEST(SessionTest, SeqStartsAtOneAndGrowsByOnePerWrite) {
    Session session(99);
    EXPECT_EQ(session.id(), 99u);
    EXPECT_EQ(session.last_seq(), 0u);
    EXPECT_EQ(session.begin_write(), 1u);
    EXPECT_EQ(session.begin_write(), 2u);
    EXPECT_EQ(session.last_seq(), 2u);
}

TEST(SessionTest, RandomIdsAreNonZeroAndDiffer) {
    const Session a;
    const Session b;
    EXPECT_NE(a.id(), 0u);
    EXPECT_NE(b.id(), 0u);
    EXPECT_NE(a.id(), b.id());  // 2^-64 odds of a false failure
}

}  // namespace
}  // namespace cabildo::client
