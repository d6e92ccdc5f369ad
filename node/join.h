// Joining a cluster: a node started with --join learns the membership and
// the cluster's id from a member, instead of from --member flags.
#pragma once

#include <string>
#include <vector>

#include "node/node_config.h"
#include "node/raft/result.h"

namespace cabildo::node {

// Asks each address ("host:port", a member's peer port; its client endpoint
// is port + 1) for member_list until one answers within timeout_ms. On
// success config.members and config.joined_cluster are set; the error says
// what to do when this node is not a member yet.
Result<bool> join_cluster(NodeConfig& config, int timeout_ms);

// The data directory's uuid (<dir>/node-uuid), made (random, synced) if the
// directory has none: a wiped directory gets a new one.
Result<std::string> data_dir_uuid(const std::string& dir);

}  // namespace cabildo::node
