// map_search: the map model (map_search.h), with its states interned so
// that the search and its cache see small integers.
#include "tests/linearizability/map_search.h"

#include <unordered_map>

#include "node/raft/assert.h"

namespace cabildo::lincheck {
namespace {

using Map = std::vector<ValueId>;

struct MapHash {
    std::size_t operator()(const Map& map) const {
        std::uint64_t hash = 0x9e3779b97f4a7c15ULL;
        for (const ValueId value : map) {
            hash ^= static_cast<std::uint64_t>(static_cast<std::uint32_t>(value)) +
                    0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
        }
        hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
        hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
        return static_cast<std::size_t>(hash ^ (hash >> 31));
    }
};

// Every map the search reached, numbered in order of arrival.
class MapTable {
public:
    StateId intern(const Map& map) {
        const auto [it, inserted] = ids_.try_emplace(map, static_cast<StateId>(maps_.size()));
        if (inserted)
            maps_.push_back(&it->first);  // node-based: the key never moves
        return it->second;
    }
    const Map& map(StateId id) const { return *maps_.at(static_cast<std::size_t>(id)); }

private:
    std::unordered_map<Map, StateId, MapHash> ids_;
    std::vector<const Map*> maps_;  // Invariant: ids_[*maps_[i]] == i
};

class MapModel final : public SearchModel {
public:
    MapModel(const std::vector<MapOp>& ops, std::size_t slots) : ops_(ops) {
        initial_ = table_.intern(Map(slots, absent_value));
    }
    StateId initial() const { return initial_; }
    const Map& map(StateId id) const { return table_.map(id); }

    std::optional<StateId> step(StateId state, std::size_t position) override {
        const MapOp& op = ops_[position];
        scratch_ = table_.map(state);
        bool holds = true;
        for (const MapCompare& compare : op.compares) {
            holds = holds && scratch_[compare.slot] == compare.value;
        }
        if (op.succeeded && *op.succeeded != holds)
            return std::nullopt;
        for (const MapStep& step : holds ? op.success : op.failure) {
            if (!apply(step, scratch_))
                return std::nullopt;
        }
        return table_.intern(scratch_);
    }

private:
    // One step of a branch on `map`; false if its output is impossible there.
    static bool apply(const MapStep& step, Map& map) {
        switch (step.kind) {
            case MapStep::Kind::get: return !step.read_known || map[step.slot] == step.value;
            case MapStep::Kind::put: map[step.slot] = step.value; return true;
            case MapStep::Kind::del: {
                const std::uint64_t existed = map[step.slot] != absent_value ? 1 : 0;
                map[step.slot] = absent_value;
                return !step.count || *step.count == existed;
            }
            case MapStep::Kind::delp: {
                std::uint64_t deleted = 0;
                for (const std::size_t slot : step.slots) {
                    deleted += map[slot] != absent_value ? 1 : 0;
                    map[slot] = absent_value;
                }
                return !step.count || *step.count == deleted;
            }
        }
        return false;
    }

    const std::vector<MapOp>& ops_;
    MapTable table_;
    StateId initial_ = 0;
    Map scratch_;
};

}  // namespace

MapSearchResult search_map(const std::vector<MapOp>& ops, std::size_t slots,
                           const SearchLimits& limits) {
    std::vector<SearchOp> timing;
    timing.reserve(ops.size());
    for (const MapOp& op : ops) {
        CABILDO_ASSERT(!op.unknown || !op.succeeded, "an unknown op has no output");
        timing.push_back(SearchOp{op.index, op.unknown, op.call_ns, op.return_ns});
    }
    MapModel model(ops, slots);
    MapSearchResult result;
    result.search = search_history(timing, model, model.initial(), limits);
    result.state = model.map(result.search.state);
    return result;
}

}  // namespace cabildo::lincheck
