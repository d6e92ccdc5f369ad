// compare_holds; see kv_reads.h.
#include "node/kv_reads.h"

namespace cabildo::node {

namespace {

template <class T>
bool holds(const T& actual, wire::CompareResult result, const T& operand) {
    switch (result) {
        case wire::CompareResult::eq: return actual == operand;
        case wire::CompareResult::ne: return actual != operand;
        case wire::CompareResult::lt: return actual < operand;
        case wire::CompareResult::gt: return actual > operand;
    }
    return false;
}

}  // namespace

bool compare_holds(const wire::Compare& c, const std::optional<storage::StoredValue>& entry) {
    const storage::KeyMeta meta = entry ? entry->meta : storage::KeyMeta{};
    switch (c.target) {
        case wire::CompareTarget::value:
            return entry && holds<std::string_view>(entry->value, c.result, c.value);
        case wire::CompareTarget::version: return holds(meta.version, c.result, c.number);
        case wire::CompareTarget::create_revision:
            return holds(meta.create_revision, c.result, c.number);
        case wire::CompareTarget::mod_revision: return holds(meta.mod_revision, c.result, c.number);
        case wire::CompareTarget::lease: return holds(meta.lease, c.result, c.number);
        case wire::CompareTarget::exists:
            return holds<std::uint64_t>(entry ? 1 : 0, c.result, c.number);
    }
    return false;
}

}  // namespace cabildo::node
