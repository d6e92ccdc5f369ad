// Log compaction policy: how far a shell may drop its log (Raft §7).
//
// The node and the simulator both ask this one function, so the rule the
// simulator checks is the rule the node runs. A shell may drop entries only
// once they are applied AND in its latest snapshot (a follower that needs
// them is then sent that snapshot instead); `trailing` entries more are kept
// so that a follower a little behind catches up from the log, not a snapshot.
#pragma once

#include <algorithm>

#include "node/raft/types.h"

namespace cabildo::raft {

// The highest index the log may be compacted through (0: nothing).
inline LogIndex compaction_index(LogIndex snapshot_index, LogIndex applied, LogIndex trailing) {
    const LogIndex safe = std::min(snapshot_index, applied);
    return safe > trailing ? safe - trailing : 0;
}

}  // namespace cabildo::raft
