// The core's number types: terms, log indexes and node ids.
#pragma once

#include <cstdint>

namespace cabildo::raft {

using Term = std::uint64_t;
using LogIndex = std::uint64_t;
using NodeId = std::uint64_t;  // 1..; 0 means "none"

constexpr NodeId node_none = 0;

}  // namespace cabildo::raft
