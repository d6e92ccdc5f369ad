// checker: splits a history by key, prepares each key's operations for the
// search (interned values, dropped operations), runs key_search and turns
// its result into a CheckResult with a readable explanation.
#include "tests/linearizability/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "node/raft/assert.h"
#include "tests/linearizability/key_search.h"

namespace cabildo::lincheck {
namespace {

// How much of the deepest point an explanation shows.
constexpr std::size_t explain_linearized_max = 8;
constexpr std::size_t explain_pending_max = 12;

// One key's values as small integers, so a register state is cheap to cache.
class ValueTable {
public:
    ValueId intern(const std::optional<std::string>& value) {
        if (!value)
            return absent_value;
        const auto [it, inserted] = ids_.try_emplace(*value, static_cast<ValueId>(names_.size()));
        if (inserted)
            names_.push_back(*value);
        return it->second;
    }
    std::optional<std::string> name(ValueId id) const {
        if (id == absent_value)
            return std::nullopt;
        return names_.at(static_cast<std::size_t>(id));
    }

private:
    std::unordered_map<std::string, ValueId> ids_;
    std::vector<std::string> names_;  // Invariant: names_[ids_[v]] == v
};

// Failed operations never took effect, and a get without a known output
// constrains nothing, so neither reaches the search.
bool reaches_search(const Operation& op) {
    if (op.outcome == Operation::Outcome::failed)
        return false;
    return op.kind != Operation::Kind::get || op.outcome == Operation::Outcome::ok;
}

KeyOp make_key_op(const Operation& op, std::size_t index, ValueTable& values) {
    KeyOp key_op;
    key_op.index = index;
    key_op.kind = op.kind;
    key_op.unknown = op.outcome == Operation::Outcome::unknown;
    key_op.call_ns = op.call_ns;
    key_op.return_ns = op.return_ns;
    if (op.kind != Operation::Kind::del)
        key_op.value = values.intern(op.value);
    if (op.kind == Operation::Kind::cas)
        key_op.expected = values.intern(op.expected);
    if (!key_op.unknown)
        key_op.succeeded = op.succeeded;
    return key_op;
}

std::string describe_listed(const std::vector<Operation>& ops, const std::vector<KeyOp>& key_ops,
                            std::size_t position, std::int64_t origin_ns) {
    const std::size_t index = key_ops[position].index;
    return fmt::format("    #{} {}\n", index, describe_operation(ops[index], origin_ns));
}

std::string explain_violation(const std::vector<Operation>& ops, const std::vector<KeyOp>& key_ops,
                              const KeySearchResult& found, const ValueTable& values,
                              std::int64_t origin_ns) {
    const std::string key = describe_value(ops[key_ops.front().index].key);
    const std::size_t shown = std::min(found.linearized.size(), explain_linearized_max);
    std::string out =
        fmt::format("key {}: not linearizable. At best {} of its {} operations linearize", key,
                    found.linearized.size(), key_ops.size());
    out += shown == 0 ? ".\n" : fmt::format("; the last {} of them, in order:\n", shown);
    for (std::size_t i = found.linearized.size() - shown; i < found.linearized.size(); ++i) {
        out += describe_listed(ops, key_ops, found.linearized[i], origin_ns);
    }
    out += fmt::format(
        "  The register then holds {}, and this operation must take effect before it returns,\n"
        "  but no order of the pending operations lets it (operation numbers are 0-based in\n"
        "  history order; times are relative to the first call):\n",
        describe_value(values.name(found.state)));
    out += describe_listed(ops, key_ops, found.blocker, origin_ns);
    std::vector<std::size_t> others;
    for (const std::size_t position : found.pending) {
        if (position != found.blocker)
            others.push_back(position);
    }
    if (!others.empty())
        out += "  Other operations pending at that point:\n";
    for (std::size_t i = 0; i < others.size() && i < explain_pending_max; ++i) {
        out += describe_listed(ops, key_ops, others[i], origin_ns);
    }
    if (others.size() > explain_pending_max) {
        out += fmt::format("    ... and {} more\n", others.size() - explain_pending_max);
    }
    return out;
}

std::string explain_gave_up(const std::string& key, std::size_t key_ops,
                            const KeySearchResult& found, std::chrono::milliseconds budget) {
    const bool memory = found.cache_entries > cache_entries_max;
    return fmt::format(
        "key {}: gave up on its {} operations after exploring {} states ({}); neither "
        "linearizable nor a violation is known\n",
        describe_value(key), key_ops, found.cache_entries,
        memory ? fmt::format("more than the {} allowed", cache_entries_max)
               : fmt::format("the {} ms budget ran out", budget.count()));
}

std::map<std::string, std::vector<std::size_t>> split_by_key(const std::vector<Operation>& ops) {
    std::map<std::string, std::vector<std::size_t>> by_key;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        CABILDO_ASSERT(!validate_operation(ops[i]), "check_history needs well-formed operations");
        if (reaches_search(ops[i]))
            by_key[ops[i].key].push_back(i);
    }
    return by_key;
}

}  // namespace

CheckResult check_history(const std::vector<Operation>& ops, std::chrono::milliseconds budget) {
    const SearchLimits limits{std::chrono::steady_clock::now() + budget, cache_entries_max};
    std::int64_t origin_ns = 0;
    if (!ops.empty()) {
        origin_ns = std::min_element(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
                        return a.call_ns < b.call_ns;
                    })->call_ns;
    }
    CheckResult result;
    for (const auto& [key, indices] : split_by_key(ops)) {
        ValueTable values;
        std::vector<KeyOp> key_ops;
        for (const std::size_t index : indices) {
            key_ops.push_back(make_key_op(ops[index], index, values));
        }
        const KeySearchResult found = search_key(key_ops, limits);
        result.operations_checked += key_ops.size();
        ++result.keys_checked;
        if (found.verdict == KeySearchResult::Verdict::linearizable)
            continue;
        result.key = key;
        if (found.verdict == KeySearchResult::Verdict::gave_up) {
            result.timed_out = true;
            result.explanation = explain_gave_up(key, key_ops.size(), found, budget);
        } else {
            result.explanation = explain_violation(ops, key_ops, found, values, origin_ns);
        }
        return result;
    }
    result.linearizable = true;
    return result;
}

}  // namespace cabildo::lincheck
