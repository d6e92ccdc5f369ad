// key_search: the register model (key_search.h) and the search over it.
#include "tests/linearizability/key_search.h"

#include "node/raft/assert.h"

namespace cabildo::lincheck {
namespace {

// The register's state is its ValueId: nothing to intern.
class RegisterModel final : public SearchModel {
public:
    explicit RegisterModel(const std::vector<KeyOp>& ops) : ops_(ops) {}
    std::optional<StateId> step(StateId state, std::size_t op) override {
        return step_register(state, ops_[op]);
    }

private:
    const std::vector<KeyOp>& ops_;
};

}  // namespace

std::optional<ValueId> step_register(ValueId state, const KeyOp& op) {
    switch (op.kind) {
        case Operation::Kind::get:
            if (state != op.value)
                return std::nullopt;
            return state;
        case Operation::Kind::put: return op.value;
        case Operation::Kind::del:
            if (op.succeeded && *op.succeeded != (state != absent_value))
                return std::nullopt;
            return absent_value;
        case Operation::Kind::cas: {
            const bool matches = state == op.expected;
            if (op.succeeded && *op.succeeded != matches)
                return std::nullopt;
            return matches ? op.value : state;
        }
        case Operation::Kind::delp:
        case Operation::Kind::txn: break;
    }
    CABILDO_ASSERT(false, "the register model takes get, put, del and cas only");
    return std::nullopt;
}

KeySearchResult search_key(const std::vector<KeyOp>& ops, const SearchLimits& limits) {
    std::vector<SearchOp> timing;
    timing.reserve(ops.size());
    for (const KeyOp& op : ops) {
        CABILDO_ASSERT(!op.unknown || !op.succeeded, "an unknown op has no output");
        CABILDO_ASSERT(!op.unknown || op.kind != Operation::Kind::get, "unknown gets are dropped");
        timing.push_back(SearchOp{op.index, op.unknown, op.call_ns, op.return_ns});
    }
    RegisterModel model(ops);
    return search_history(timing, model, absent_value, limits);
}

}  // namespace cabildo::lincheck
