// VisitedCache: exact matches on (ok set, state) through a hash map, then a
// subset test over the few unknown sets recorded for it (visited_cache.h).
#include "tests/linearizability/visited_cache.h"

#include <algorithm>

namespace cabildo::lincheck {
namespace {

bool is_subset(const Bitset& small, const Bitset& large) {
    for (std::size_t i = 0; i < small.size(); ++i) {
        if ((small[i] & ~large[i]) != 0)
            return false;
    }
    return true;
}

}  // namespace

std::size_t VisitedCache::KeyHash::operator()(const Key& key) const {
    return (*this)(KeyView{&key.ok_linearized, key.ok_hash, key.state});
}

std::size_t VisitedCache::KeyHash::operator()(const KeyView& key) const {
    // splitmix64's finalizer over the set's hash and the state.
    std::uint64_t hash =
        key.ok_hash ^ (static_cast<std::uint64_t>(key.state) * 0x9e3779b97f4a7c15ULL);
    hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
    hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::size_t>(hash ^ (hash >> 31));
}

bool VisitedCache::KeyEqual::operator()(const Key& a, const Key& b) const {
    return (*this)(KeyView{&a.ok_linearized, a.ok_hash, a.state}, b);
}

bool VisitedCache::KeyEqual::operator()(const KeyView& a, const Key& b) const {
    return a.ok_hash == b.ok_hash && a.state == b.state && *a.ok_linearized == b.ok_linearized;
}

bool VisitedCache::visit(const Bitset& ok_linearized, std::uint64_t ok_hash, std::int32_t state,
                         const Bitset& unknown_linearized) {
    auto it = visited_.find(KeyView{&ok_linearized, ok_hash, state});
    if (it == visited_.end()) {
        visited_.emplace(Key{ok_linearized, ok_hash, state},
                         std::vector<Bitset>{unknown_linearized});
        ++entries_;
        return true;
    }
    std::vector<Bitset>& sets = it->second;
    for (const Bitset& seen : sets) {
        if (is_subset(seen, unknown_linearized))
            return false;
    }
    // The new set dominates any recorded superset of it: drop those.
    const auto dominated = std::remove_if(sets.begin(), sets.end(), [&](const Bitset& seen) {
        return is_subset(unknown_linearized, seen);
    });
    entries_ -= static_cast<std::size_t>(sets.end() - dominated);
    sets.erase(dominated, sets.end());
    sets.push_back(unknown_linearized);
    ++entries_;
    return true;
}

}  // namespace cabildo::lincheck
