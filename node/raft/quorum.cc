// Majority arithmetic; see quorum.h.
#include "node/raft/quorum.h"

#include <algorithm>
#include <functional>

#include "node/raft/assert.h"

namespace cabildo::raft {

std::uint64_t quorum_value(std::vector<std::uint64_t> values) {
    CABILDO_ASSERT(!values.empty(), "quorum of no voters");
    std::sort(values.begin(), values.end(), std::greater<>());
    // Sorted descending, the value at position quorum-1 is reached by exactly
    // quorum voters (and by every voter before it).
    return values[quorum_size(values.size()) - 1];
}

VoteResult tally_votes(std::size_t voters, std::size_t granted, std::size_t rejected) {
    CABILDO_ASSERT(granted + rejected <= voters, "more votes than voters");
    const std::size_t quorum = quorum_size(voters);
    if (granted >= quorum) return VoteResult::won;
    if (voters - rejected < quorum) return VoteResult::lost;
    return VoteResult::pending;
}

}  // namespace cabildo::raft
