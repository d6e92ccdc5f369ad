// VisitedCache: the memo of the linearizability search (search.h): which
// configurations were already reached, so that none is explored twice.
//
// A configuration is (ok ops linearized, unknown ops linearized, model
// state). Lowe's cache matches configurations exactly. This one also prunes a
// configuration DOMINATED by one already reached: same ok set, same state,
// and a superset of unknown ops linearized. An unknown op never has to take
// effect and never returns, so it constrains nothing while pending: every
// completion of the dominated configuration is also a completion of the
// dominating one, which the search has explored or is exploring. This keeps
// histories with many unknown writes from costing 2^unknowns when the search
// must exhaust them (always, for a violation). Not a general subsumption
// index: the sets are compared one by one, which is cheap because few unknown
// sets share one (ok set, state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace cabildo::lincheck {

using Bitset = std::vector<std::uint64_t>;

class VisitedCache {
public:
    // Records the configuration and returns true, unless it equals or is
    // dominated by one recorded before (then returns false, recording nothing).
    // `ok_hash` is any hash of `ok_linearized` (equal sets, equal hashes);
    // the search keeps one incrementally so that a visit need not rehash.
    // Precondition: all ok sets have one size, and all unknown sets another.
    bool visit(const Bitset& ok_linearized, std::uint64_t ok_hash, std::int32_t state,
               const Bitset& unknown_linearized);

    // Unknown sets currently recorded; a dominated set is dropped when a
    // set it contains arrives.
    std::size_t entries() const { return entries_; }

private:
    struct Key {
        Bitset ok_linearized;
        std::uint64_t ok_hash = 0;
        std::int32_t state = 0;
    };
    // A lookup that does not copy the bitset.
    struct KeyView {
        const Bitset* ok_linearized = nullptr;
        std::uint64_t ok_hash = 0;
        std::int32_t state = 0;
    };
    struct KeyHash {
        using is_transparent = void;
        std::size_t operator()(const Key& key) const;
        std::size_t operator()(const KeyView& key) const;
    };
    struct KeyEqual {
        using is_transparent = void;
        bool operator()(const Key& a, const Key& b) const;
        bool operator()(const KeyView& a, const Key& b) const;
        bool operator()(const Key& a, const KeyView& b) const { return (*this)(b, a); }
    };

    // Invariant: no set in a list contains another set of the same list.
    std::unordered_map<Key, std::vector<Bitset>, KeyHash, KeyEqual> visited_;
    std::size_t entries_ = 0;  // Invariant: the total length of the lists
};

}  // namespace cabildo::lincheck
