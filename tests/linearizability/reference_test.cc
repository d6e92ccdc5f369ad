// reference_test: the checker's verdict equals that of a brute-force search
// on thousands of tiny random histories, linearizable or not. The reference
// tries every order of every subset of unknown operations, with no cache and
// no pruning, so it checks the pruning rules of search.cc and
// visited_cache.h, which are the subtle part. The multi-key variant runs
// over a whole map with txns and delps, so it also checks the split into
// components (checker.cc) and the map model (map_search.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
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
        case Operation::Kind::delp:
        case Operation::Kind::txn: break;
    }
    return false;
}

// The whole store: keys not in the map are absent.
using Store = std::map<std::string, std::string>;

bool holds(const Store& store, const std::string& key, const Register& value) {
    const auto it = store.find(key);
    return it == store.end() ? !value : value && it->second == *value;
}

void set(Store& store, const std::string& key, const Register& value) {
    if (value) {
        store[key] = *value;
    } else {
        store.erase(key);
    }
}

// The map model again, written independently of map_search.cc and of the
// split into components: one store for the whole history.
bool apply(const Operation& op, Store& store) {
    const bool known = op.outcome == Operation::Outcome::ok;
    switch (op.kind) {
        case Operation::Kind::get: return holds(store, op.key, op.value);
        case Operation::Kind::put: set(store, op.key, op.value); return true;
        case Operation::Kind::del: {
            const bool existed = store.erase(op.key) == 1;
            return !(known && op.succeeded && *op.succeeded != existed);
        }
        case Operation::Kind::cas: {
            const bool matches = holds(store, op.key, op.expected);
            if (known && op.succeeded && *op.succeeded != matches)
                return false;
            if (matches)
                set(store, op.key, op.value);
            return true;
        }
        case Operation::Kind::delp: {
            std::uint64_t deleted = 0;
            for (auto it = store.begin(); it != store.end();) {
                if (it->first.rfind(op.key, 0) == 0) {
                    it = store.erase(it);
                    ++deleted;
                } else {
                    ++it;
                }
            }
            return !(known && op.deleted && *op.deleted != deleted);
        }
        case Operation::Kind::txn: {
            bool all = true;
            for (const TxnCompare& c : op.compares) all = all && holds(store, c.key, c.value);
            if (known && op.succeeded && *op.succeeded != all)
                return false;
            for (const TxnOp& t : all ? op.success : op.failure) {
                switch (t.kind) {
                    case TxnOp::Kind::get:
                        if (t.read_known && !holds(store, t.key, t.value))
                            return false;
                        break;
                    case TxnOp::Kind::put: set(store, t.key, t.value); break;
                    case TxnOp::Kind::del: {
                        const bool existed = store.erase(t.key) == 1;
                        if (t.existed && *t.existed != existed)
                            return false;
                        break;
                    }
                }
            }
            return true;
        }
    }
    return false;
}

bool must_take_effect(const Operation& op) {
    return op.outcome == Operation::Outcome::ok;
}

template <typename State>
bool reference_linearizable(const std::vector<Operation>& ops, std::vector<bool>& done,
                            const State& state) {
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
        State next = state;
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
    op.kind = static_cast<Operation::Kind>(uniform(rng, 4));  // get, put, del or cas
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
        const bool expected = reference_linearizable(kept, done, Register{});
        const CheckResult result = check_history(ops, std::chrono::milliseconds(5'000));
        ASSERT_FALSE(result.timed_out);
        ASSERT_EQ(result.linearizable, expected) << result.explanation << format_history(ops);
        linearizable += expected ? 1 : 0;
    }
    // Both verdicts must be well represented, or the comparison is weak.
    EXPECT_GT(linearizable, seeds / 5);
    EXPECT_LT(linearizable, seeds * 4 / 5);
}

// Multi-key histories: three keys, two of them sharing the prefix "a", so
// delps of "a" cover two keys, of "b" one and of "c" none; txns tie keys
// together.
const char* const multi_keys[] = {"a1", "a2", "b"};
const char* const multi_prefixes[] = {"a", "b", "c"};

std::string random_key(std::mt19937_64& rng) {
    return multi_keys[uniform(rng, 3)];
}

// A random txn operation; outputs are filled in later for the branch that ran.
TxnOp random_txn_op(std::mt19937_64& rng) {
    TxnOp t;
    t.kind = static_cast<TxnOp::Kind>(uniform(rng, 3));
    t.key = random_key(rng);
    if (t.kind == TxnOp::Kind::put)
        t.value = random_value(rng, false);
    return t;
}

Operation random_multi_key_operation(std::mt19937_64& rng) {
    Operation op;
    op.client = uniform(rng, 3);
    const std::uint64_t kind_roll = uniform(rng, 10);
    op.kind = kind_roll < 4   ? static_cast<Operation::Kind>(kind_roll)
              : kind_roll < 6 ? Operation::Kind::delp
                              : Operation::Kind::txn;
    op.call_ns = static_cast<std::int64_t>(uniform(rng, 20));
    op.return_ns = op.call_ns + static_cast<std::int64_t>(uniform(rng, 10));
    const std::uint64_t roll = uniform(rng, 10);
    op.outcome = roll < 3   ? Operation::Outcome::unknown
                 : roll < 4 ? Operation::Outcome::failed
                            : Operation::Outcome::ok;
    const bool known = op.outcome == Operation::Outcome::ok;
    switch (op.kind) {
        case Operation::Kind::get:
            op.key = random_key(rng);
            if (known)
                op.value = random_value(rng, true);
            break;
        case Operation::Kind::put:
            op.key = random_key(rng);
            op.value = random_value(rng, false);
            break;
        case Operation::Kind::del:
            op.key = random_key(rng);
            if (known && uniform(rng, 4) != 0)
                op.succeeded = uniform(rng, 2) == 0;
            break;
        case Operation::Kind::cas:
            op.key = random_key(rng);
            op.value = random_value(rng, false);
            op.expected = random_value(rng, true);
            if (known && uniform(rng, 4) != 0)
                op.succeeded = uniform(rng, 2) == 0;
            break;
        case Operation::Kind::delp:
            op.key = multi_prefixes[uniform(rng, 3)];
            if (known && uniform(rng, 4) != 0)
                op.deleted = uniform(rng, 3);
            break;
        case Operation::Kind::txn: {
            const std::uint64_t compares = uniform(rng, 3);
            for (std::uint64_t i = 0; i < compares; ++i) {
                op.compares.push_back(TxnCompare{random_key(rng), random_value(rng, true)});
            }
            const std::uint64_t successes = (compares == 0 ? 1 : 0) + uniform(rng, 3);
            for (std::uint64_t i = 0; i < successes; ++i) op.success.push_back(random_txn_op(rng));
            const std::uint64_t failures = compares == 0 ? 0 : uniform(rng, 3);
            for (std::uint64_t i = 0; i < failures; ++i) op.failure.push_back(random_txn_op(rng));
            if (known && uniform(rng, 4) != 0)
                op.succeeded = compares == 0 || uniform(rng, 2) == 0;
            if (!op.succeeded)
                break;
            for (TxnOp& t : *op.succeeded ? op.success : op.failure) {
                if (t.kind == TxnOp::Kind::get && uniform(rng, 4) != 0) {
                    t.read_known = true;
                    t.value = random_value(rng, true);
                }
                if (t.kind == TxnOp::Kind::del && uniform(rng, 4) != 0)
                    t.existed = uniform(rng, 2) == 0;
            }
            break;
        }
    }
    if (op.outcome == Operation::Outcome::unknown && uniform(rng, 2) == 0) {
        op.return_ns = never_returned_ns;
    }
    return op;
}

bool dropped_read(const Operation& op) {
    if (op.outcome == Operation::Outcome::ok)
        return false;
    if (op.kind == Operation::Kind::get)
        return true;
    if (op.kind != Operation::Kind::txn)
        return false;
    for (const auto* branch : {&op.success, &op.failure}) {
        for (const TxnOp& t : *branch) {
            if (t.kind != TxnOp::Kind::get)
                return false;
        }
    }
    return true;
}

TEST(Reference, CheckerAgreesWithBruteForceOnTinyMultiKeyHistories) {
    constexpr std::uint64_t multi_key_ops_max = 7;
    std::size_t linearizable = 0;
    std::size_t multi_key = 0;  // histories whose verdict needed a txn or delp
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        std::mt19937_64 rng(seed);
        std::vector<Operation> ops(1 + uniform(rng, multi_key_ops_max));
        for (Operation& op : ops) op = random_multi_key_operation(rng);
        for (const Operation& op : ops) ASSERT_FALSE(validate_operation(op)) << format_history(ops);
        std::vector<Operation> kept;
        for (const Operation& op : ops) {
            if (op.outcome != Operation::Outcome::failed && !dropped_read(op))
                kept.push_back(op);
        }
        std::vector<bool> done(kept.size(), false);
        const bool expected = reference_linearizable(kept, done, Store{});
        const CheckResult result = check_history(ops, std::chrono::milliseconds(5'000));
        ASSERT_FALSE(result.timed_out);
        ASSERT_EQ(result.linearizable, expected) << result.explanation << format_history(ops);
        linearizable += expected ? 1 : 0;
        multi_key += std::any_of(kept.begin(), kept.end(), [](const Operation& op) {
            return op.kind == Operation::Kind::txn || op.kind == Operation::Kind::delp;
        });
    }
    EXPECT_GT(linearizable, seeds / 5);
    EXPECT_LT(linearizable, seeds * 4 / 5);
    EXPECT_GT(multi_key, seeds / 2);
}

}  // namespace
}  // namespace cabildo::lincheck
