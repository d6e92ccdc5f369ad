// checker: splits a history into components (keys tied by multi-key
// operations), prepares each one's operations for the search (interned
// values, dropped operations), runs key_search or map_search and turns the
// result into a CheckResult with a readable explanation.
#include "tests/linearizability/checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "node/raft/assert.h"
#include "tests/linearizability/key_search.h"
#include "tests/linearizability/map_search.h"

namespace cabildo::lincheck {
namespace {

// How much of the deepest point an explanation shows.
constexpr std::size_t explain_linearized_max = 8;
constexpr std::size_t explain_pending_max = 12;

// One component's values as small integers, so a register state is cheap to cache.
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

using Kind = Operation::Kind;

bool has_write(const std::vector<TxnOp>& branch) {
    return std::any_of(branch.begin(), branch.end(),
                       [](const TxnOp& t) { return t.kind != TxnOp::Kind::get; });
}

// Failed operations never took effect, and a read without a known output
// constrains nothing (a get, or a txn without put or del, that is not ok),
// so neither reaches the search.
bool reaches_search(const Operation& op) {
    if (op.outcome == Operation::Outcome::failed)
        return false;
    if (op.outcome == Operation::Outcome::ok)
        return true;
    if (op.kind == Kind::get)
        return false;
    return op.kind != Kind::txn || has_write(op.success) || has_write(op.failure);
}

// Whether a txn's success (or failure) branch may have run.
bool may_run(const Operation& op, bool success_branch) {
    return !op.succeeded || *op.succeeded == success_branch;
}

// The keys a search must know of to model `op`: a delp's are the keys with
// its prefix that some operation may have written (any other key with it is
// absent throughout), `written` is the set of those.
std::vector<std::string> keys_of(const Operation& op, const std::set<std::string>& written) {
    std::vector<std::string> keys;
    switch (op.kind) {
        case Kind::get:
        case Kind::put:
        case Kind::del:
        case Kind::cas: keys.push_back(op.key); break;
        case Kind::delp:
            for (auto it = written.lower_bound(op.key);
                 it != written.end() && it->compare(0, op.key.size(), op.key) == 0; ++it) {
                keys.push_back(*it);
            }
            break;
        case Kind::txn:
            for (const TxnCompare& c : op.compares) keys.push_back(c.key);
            for (const bool branch : {true, false}) {
                if (!may_run(op, branch))
                    continue;
                for (const TxnOp& t : branch ? op.success : op.failure) keys.push_back(t.key);
            }
            break;
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

std::set<std::string> written_keys(const std::vector<Operation>& ops) {
    std::set<std::string> written;
    for (const Operation& op : ops) {
        if (!reaches_search(op))
            continue;
        if (op.kind == Kind::put || op.kind == Kind::cas)
            written.insert(op.key);
        if (op.kind != Kind::txn)
            continue;
        for (const bool branch : {true, false}) {
            if (!may_run(op, branch))
                continue;
            for (const TxnOp& t : branch ? op.success : op.failure) {
                if (t.kind == TxnOp::Kind::put)
                    written.insert(t.key);
            }
        }
    }
    return written;
}

// Keys tied together by multi-key operations, and those operations. A
// component without keys holds one operation that touches no key that was
// ever written (e.g. a delp of a prefix nobody wrote).
struct Component {
    std::vector<std::string> keys;  // in byte order
    std::vector<std::size_t> ops;   // into the history, in history order
    // Reported as the component's name: its first key, else its op's key
    // (a delp's prefix).
    std::string name;
};

class DisjointSets {
public:
    explicit DisjointSets(std::size_t n) : parent_(n) {
        for (std::size_t i = 0; i < n; ++i) parent_[i] = i;
    }
    std::size_t find(std::size_t i) {
        while (parent_[i] != i) {
            parent_[i] = parent_[parent_[i]];
            i = parent_[i];
        }
        return i;
    }
    void unite(std::size_t a, std::size_t b) {
        a = find(a);
        b = find(b);
        if (a != b)
            parent_[std::max(a, b)] = std::min(a, b);
    }

private:
    std::vector<std::size_t> parent_;
};

// Splits the operations that reach the search into components, in the
// order of their names (the smallest key of each).
std::vector<Component> split_into_components(const std::vector<Operation>& ops) {
    const std::set<std::string> written = written_keys(ops);
    std::vector<std::vector<std::string>> op_keys(ops.size());
    std::map<std::string, std::size_t> key_ids;  // in byte order
    for (std::size_t i = 0; i < ops.size(); ++i) {
        CABILDO_ASSERT(!validate_operation(ops[i]), "check_history needs well-formed operations");
        if (!reaches_search(ops[i]))
            continue;
        op_keys[i] = keys_of(ops[i], written);
        for (const std::string& key : op_keys[i]) key_ids.try_emplace(key, 0);
    }
    std::vector<const std::string*> names;
    for (auto& [key, id] : key_ids) {
        id = names.size();
        names.push_back(&key);
    }
    DisjointSets sets(key_ids.size());
    for (const std::vector<std::string>& keys : op_keys) {
        for (std::size_t k = 1; k < keys.size(); ++k) {
            sets.unite(key_ids.at(keys[0]), key_ids.at(keys[k]));
        }
    }
    // A root is its set's smallest id, so components come out in key order.
    std::vector<Component> components;
    std::vector<std::size_t> component_of_root(key_ids.size(), 0);
    for (std::size_t id = 0; id < names.size(); ++id) {
        const std::size_t root = sets.find(id);
        if (root == id) {
            component_of_root[id] = components.size();
            components.push_back(Component{{}, {}, *names[id]});
        }
        components[component_of_root[root]].keys.push_back(*names[id]);
    }
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (!reaches_search(ops[i]))
            continue;
        if (op_keys[i].empty()) {
            components.push_back(Component{{}, {i}, ops[i].key});
        } else {
            const std::size_t root = sets.find(key_ids.at(op_keys[i][0]));
            components[component_of_root[root]].ops.push_back(i);
        }
    }
    std::stable_sort(components.begin(), components.end(),
                     [](const Component& a, const Component& b) { return a.name < b.name; });
    return components;
}

bool single_register(const Component& component, const std::vector<Operation>& ops) {
    if (component.keys.size() != 1)
        return false;
    return std::all_of(component.ops.begin(), component.ops.end(), [&](std::size_t i) {
        return ops[i].kind != Kind::txn && ops[i].kind != Kind::delp;
    });
}

KeyOp make_key_op(const Operation& op, std::size_t index, ValueTable& values) {
    KeyOp key_op;
    key_op.index = index;
    key_op.kind = op.kind;
    key_op.unknown = op.outcome == Operation::Outcome::unknown;
    key_op.call_ns = op.call_ns;
    key_op.return_ns = op.return_ns;
    if (op.kind != Kind::del)
        key_op.value = values.intern(op.value);
    if (op.kind == Kind::cas)
        key_op.expected = values.intern(op.expected);
    if (!key_op.unknown)
        key_op.succeeded = op.succeeded;
    return key_op;
}

// Slots are positions in the component's (sorted) keys.
class SlotTable {
public:
    explicit SlotTable(const std::vector<std::string>& keys) {
        for (std::size_t i = 0; i < keys.size(); ++i) slots_.emplace(keys[i], i);
    }
    std::size_t slot(const std::string& key) const { return slots_.at(key); }
    // Every key of the component with that prefix.
    std::vector<std::size_t> with_prefix(const std::string& prefix) const {
        std::vector<std::size_t> out;
        for (auto it = slots_.lower_bound(prefix);
             it != slots_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
            out.push_back(it->second);
        }
        return out;
    }

private:
    std::map<std::string, std::size_t> slots_;
};

MapStep make_step(const TxnOp& t, const SlotTable& slots, ValueTable& values) {
    MapStep step;
    step.slot = slots.slot(t.key);
    switch (t.kind) {
        case TxnOp::Kind::get:
            step.kind = MapStep::Kind::get;
            step.read_known = t.read_known;
            step.value = values.intern(t.value);
            break;
        case TxnOp::Kind::put:
            step.kind = MapStep::Kind::put;
            step.value = values.intern(t.value);
            break;
        case TxnOp::Kind::del:
            step.kind = MapStep::Kind::del;
            if (t.existed)
                step.count = *t.existed ? 1 : 0;
            break;
    }
    return step;
}

// Any operation as compares and branches over the component's slots; an
// unknown one keeps no output. Only branches that may have run are built
// (the others name keys outside the component).
MapOp make_map_op(const Operation& op, std::size_t index, const SlotTable& slots,
                  ValueTable& values) {
    MapOp map_op;
    map_op.index = index;
    map_op.unknown = op.outcome == Operation::Outcome::unknown;
    map_op.call_ns = op.call_ns;
    map_op.return_ns = op.return_ns;
    MapStep step;
    switch (op.kind) {
        case Kind::get:
            step.kind = MapStep::Kind::get;
            step.slot = slots.slot(op.key);
            step.read_known = true;
            step.value = values.intern(op.value);
            map_op.success.push_back(step);
            break;
        case Kind::put:
            step.kind = MapStep::Kind::put;
            step.slot = slots.slot(op.key);
            step.value = values.intern(op.value);
            map_op.success.push_back(step);
            break;
        case Kind::del:
            step.kind = MapStep::Kind::del;
            step.slot = slots.slot(op.key);
            if (op.succeeded)
                step.count = *op.succeeded ? 1 : 0;
            map_op.success.push_back(step);
            break;
        case Kind::cas:
            map_op.compares.push_back(MapCompare{slots.slot(op.key), values.intern(op.expected)});
            map_op.succeeded = op.succeeded;
            step.kind = MapStep::Kind::put;
            step.slot = slots.slot(op.key);
            step.value = values.intern(op.value);
            map_op.success.push_back(step);
            break;
        case Kind::delp:
            step.kind = MapStep::Kind::delp;
            step.slots = slots.with_prefix(op.key);
            step.count = op.deleted;
            map_op.success.push_back(step);
            break;
        case Kind::txn:
            for (const TxnCompare& c : op.compares) {
                map_op.compares.push_back(MapCompare{slots.slot(c.key), values.intern(c.value)});
            }
            map_op.succeeded = op.succeeded;
            for (const bool branch : {true, false}) {
                if (!may_run(op, branch))
                    continue;
                for (const TxnOp& t : branch ? op.success : op.failure) {
                    (branch ? map_op.success : map_op.failure)
                        .push_back(make_step(t, slots, values));
                }
            }
            break;
    }
    if (map_op.unknown) {
        map_op.succeeded = std::nullopt;
        for (std::vector<MapStep>* branch : {&map_op.success, &map_op.failure}) {
            for (MapStep& s : *branch) {
                s.read_known = false;
                s.count = std::nullopt;
            }
        }
    }
    return map_op;
}

// How an explanation names a component: key "k", keys "a", "b", ...
std::string describe_component(const Component& component) {
    constexpr std::size_t keys_shown_max = 8;
    if (component.keys.empty())
        return fmt::format("prefix {} (no key with it was written)",
                           describe_value(component.name));
    std::string out = component.keys.size() == 1 ? "key " : "keys ";
    for (std::size_t i = 0; i < component.keys.size() && i < keys_shown_max; ++i) {
        out += (i == 0 ? "" : ", ") + describe_value(component.keys[i]);
    }
    if (component.keys.size() > keys_shown_max)
        out += fmt::format(" and {} more", component.keys.size() - keys_shown_max);
    return out;
}

std::string describe_map(const Component& component, const std::vector<ValueId>& map,
                         const ValueTable& values) {
    if (component.keys.size() == 1)
        return "The register then holds " + describe_value(values.name(map[0]));
    if (component.keys.empty())
        return "No key is present";
    std::string out = "The keys then hold";
    for (std::size_t slot = 0; slot < map.size(); ++slot) {
        out += fmt::format("{} {} = {}", slot == 0 ? "" : ",", describe_value(component.keys[slot]),
                           describe_value(values.name(map[slot])));
    }
    return out;
}

std::string describe_listed(const std::vector<Operation>& ops, std::size_t index,
                            std::int64_t origin_ns, bool show_key) {
    return fmt::format("    #{} {}\n", index, describe_operation(ops[index], origin_ns, show_key));
}

// `indices` maps search positions to history indices.
std::string explain_violation(const std::vector<Operation>& ops, const Component& component,
                              const std::vector<std::size_t>& indices, const SearchResult& found,
                              const std::string& state, std::int64_t origin_ns) {
    const bool show_key = component.keys.size() > 1;
    const std::size_t shown = std::min(found.linearized.size(), explain_linearized_max);
    std::string out =
        fmt::format("{}: not linearizable. At best {} of its {} operations linearize",
                    describe_component(component), found.linearized.size(), indices.size());
    out += shown == 0 ? ".\n" : fmt::format("; the last {} of them, in order:\n", shown);
    for (std::size_t i = found.linearized.size() - shown; i < found.linearized.size(); ++i) {
        out += describe_listed(ops, indices[found.linearized[i]], origin_ns, show_key);
    }
    out += fmt::format(
        "  {}, and this operation must take effect before it returns,\n"
        "  but no order of the pending operations lets it (operation numbers are 0-based in\n"
        "  history order; times are relative to the first call):\n",
        state);
    out += describe_listed(ops, indices[found.blocker], origin_ns, show_key);
    std::vector<std::size_t> others;
    for (const std::size_t position : found.pending) {
        if (position != found.blocker)
            others.push_back(position);
    }
    if (!others.empty())
        out += "  Other operations pending at that point:\n";
    for (std::size_t i = 0; i < others.size() && i < explain_pending_max; ++i) {
        out += describe_listed(ops, indices[others[i]], origin_ns, show_key);
    }
    if (others.size() > explain_pending_max) {
        out += fmt::format("    ... and {} more\n", others.size() - explain_pending_max);
    }
    return out;
}

std::string explain_gave_up(const Component& component, std::size_t op_count,
                            const SearchResult& found, std::chrono::milliseconds budget) {
    const bool memory = found.cache_entries > cache_entries_max;
    return fmt::format(
        "{}: gave up on its {} operations after exploring {} states ({}); neither "
        "linearizable nor a violation is known\n",
        describe_component(component), op_count, found.cache_entries,
        memory ? fmt::format("more than the {} allowed", cache_entries_max)
               : fmt::format("the {} ms budget ran out", budget.count()));
}

// Searches one component: as a register when it is one key with single-key
// operations only (the fast path), else over the map of its keys. Returns
// the search's result and, for a violation, its explanation.
std::pair<SearchResult, std::string> search_component(const std::vector<Operation>& ops,
                                                      const Component& component,
                                                      const SearchLimits& limits,
                                                      std::int64_t origin_ns) {
    ValueTable values;
    if (single_register(component, ops)) {
        std::vector<KeyOp> key_ops;
        for (const std::size_t index : component.ops) {
            key_ops.push_back(make_key_op(ops[index], index, values));
        }
        SearchResult found = search_key(key_ops, limits);
        std::string explanation;
        if (found.verdict == SearchResult::Verdict::violation) {
            explanation = explain_violation(
                ops, component, component.ops, found,
                "The register then holds " +
                    describe_value(values.name(static_cast<ValueId>(found.state))),
                origin_ns);
        }
        return {std::move(found), std::move(explanation)};
    }
    const SlotTable slots(component.keys);
    std::vector<MapOp> map_ops;
    for (const std::size_t index : component.ops) {
        map_ops.push_back(make_map_op(ops[index], index, slots, values));
    }
    MapSearchResult found = search_map(map_ops, component.keys.size(), limits);
    std::string explanation;
    if (found.search.verdict == SearchResult::Verdict::violation) {
        explanation = explain_violation(ops, component, component.ops, found.search,
                                        describe_map(component, found.state, values), origin_ns);
    }
    return {std::move(found.search), std::move(explanation)};
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
    for (const Component& component : split_into_components(ops)) {
        auto [found, explanation] = search_component(ops, component, limits, origin_ns);
        result.operations_checked += component.ops.size();
        result.keys_checked += component.keys.size();
        ++result.components_checked;
        if (found.verdict == SearchResult::Verdict::linearizable)
            continue;
        result.key = component.name;
        result.keys = component.keys;
        if (found.verdict == SearchResult::Verdict::gave_up) {
            result.timed_out = true;
            result.explanation = explain_gave_up(component, component.ops.size(), found, budget);
        } else {
            result.explanation = std::move(explanation);
        }
        return result;
    }
    result.linearizable = true;
    return result;
}

}  // namespace cabildo::lincheck
