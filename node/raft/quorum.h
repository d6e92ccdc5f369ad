// Majority arithmetic for a fixed set of voters (etcd's quorum/majority.go).
//
// Pure functions: no knowledge of roles or messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cabildo::raft {

inline std::size_t quorum_size(std::size_t voters) { return voters / 2 + 1; }

// The largest value that at least a majority of the given values reach: with
// match indexes this is the highest index replicated on a majority (§5.3).
std::uint64_t quorum_value(std::vector<std::uint64_t> values);

enum class VoteResult { pending, won, lost };

VoteResult tally_votes(std::size_t voters, std::size_t granted, std::size_t rejected);

}  // namespace cabildo::raft
