// reference_test: the checker's verdict equals that of a brute-force search
// on thousands of tiny random histories, linearizable or not. The reference
// tries every order of every subset of unknown operations, with no cache and
// no pruning, so it checks the pruning rules of key_search.cc and
// visited_cache.h, which are the subtle part.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/linearizability/checker.h"
#include "tests/linearizability/random_history.h"

namespace cabildo::lincheck {
namespace {

using test::uniform;

constexpr std::uint64_t ops_max = 8;
constexpr std::uint64_t seeds = 5'000;

using Register = std::optional<std::string>;

// The register model again, written independently of key_search.cc.
bool apply(const Operation& op, Register& state) {
    const bool known = op.outcome == Operation::Outcome::ok;
    switch (op.kind) {
        case Operation::Kind::get: return state == op.value;
        case Operation::Kind::put: state = op.value; return true;
        case Operation::Kind::del:
            if (known && op.succeeded && *op.succeeded != state.has_value())
                return false;
            state = std::nullopt;
            return true;
        case Operation::Kind::cas:
            if (known && op.succeeded && *op.succeeded != (state == op.expected))
                return false;
            if (state == op.expected)
                state = op.value;
            return true;
    }
    return false;
}

bool must_take_effect(const Operation& op) {
    return op.outcome == Operation::Outcome::ok;
}

bool reference_linearizable(const std::vector<Operation>& ops, std::vector<bool>& done,
                            const Register& state) {
    std::int64_t first_return = never_returned_ns;
    bool all_done = true;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (done[i] || !must_take_effect(ops[i]))
            continue;
        all_done = false;
        first_return = std::min(first_return, ops[i].return_ns);
    }
    if (all_done)
        return true;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (done[i] || ops[i].call_ns > first_return)
            continue;
        Register next = state;
        if (!apply(ops[i], next))
            continue;
        done[i] = true;
        const bool found = reference_linearizable(ops, done, next);
        done[i] = false;
        if (found)
            return true;
    }
    return false;
}

std::optional<std::string> random_value(std::mt19937_64& rng, bool may_be_absent) {
    const std::uint64_t roll = uniform(rng, may_be_absent ? 3 : 2);
    if (roll == 2)
        return std::nullopt;
    return roll == 0 ? "a" : "b";
}

Operation random_operation(std::mt19937_64& rng) {
    Operation op;
    op.client = uniform(rng, 3);
    op.kind = static_cast<Operation::Kind>(uniform(rng, 4));
    op.key = "k";
    op.call_ns = static_cast<std::int64_t>(uniform(rng, 20));
    op.return_ns = op.call_ns + static_cast<std::int64_t>(uniform(rng, 10));
    const std::uint64_t roll = uniform(rng, 10);
    op.outcome = roll < 3   ? Operation::Outcome::unknown
                 : roll < 4 ? Operation::Outcome::failed
                            : Operation::Outcome::ok;
    const bool known = op.outcome == Operation::Outcome::ok;
    if (op.kind == Operation::Kind::get && known)
        op.value = random_value(rng, true);
    if (op.kind == Operation::Kind::put || op.kind == Operation::Kind::cas) {
        op.value = random_value(rng, false);
    }
    if (op.kind == Operation::Kind::cas)
        op.expected = random_value(rng, true);
    const bool has_succeeded = op.kind == Operation::Kind::cas || op.kind == Operation::Kind::del;
    if (has_succeeded && known && uniform(rng, 4) != 0)
        op.succeeded = uniform(rng, 2) == 0;
    if (op.outcome == Operation::Outcome::unknown && uniform(rng, 2) == 0) {
        op.return_ns = never_returned_ns;
    }
    return op;
}

TEST(Reference, CheckerAgreesWithBruteForceOnTinyHistories) {
    std::size_t linearizable = 0;
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        std::mt19937_64 rng(seed);
        std::vector<Operation> ops(1 + uniform(rng, ops_max));
        for (Operation& op : ops) op = random_operation(rng);
        std::vector<Operation> kept;  // what the reference must take into account
        for (const Operation& op : ops) {
            const bool dropped_get =
                op.kind == Operation::Kind::get && op.outcome != Operation::Outcome::ok;
            if (op.outcome != Operation::Outcome::failed && !dropped_get)
                kept.push_back(op);
        }
        std::vector<bool> done(kept.size(), false);
        const bool expected = reference_linearizable(kept, done, std::nullopt);
        const CheckResult result = check_history(ops, std::chrono::milliseconds(5'000));
        ASSERT_FALSE(result.timed_out);
        ASSERT_EQ(result.linearizable, expected) << result.explanation << format_history(ops);
        linearizable += expected ? 1 : 0;
    }
    // Both verdicts must be well represented, or the comparison is weak.
    EXPECT_GT(linearizable, seeds / 5);
    EXPECT_LT(linearizable, seeds * 4 / 5);
}

}  // namespace
}  // namespace cabildo::lincheck
