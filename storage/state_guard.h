// StateGuard: decides at open whether a node's unsynced state environment
// can be trusted, and marks it in use while the node runs.
//
// The state environment (kv, sessions, events, applied index) commits
// without fsync (see env.h): everything in it is derived from the
// synced Raft log, so only the log pays for durability on the write path.
// Such an environment is consistent on disk after a clean close (which
// syncs), and after a crash of the process alone (the OS page cache still
// holds every page it wrote, in order). Only an OS crash or power loss while
// it was open can leave it stale or torn. So:
//
//   <dir>/state-in-use   exists while the state environment is open, holding
//                        the boot id (/proc/sys/kernel/random/boot_id) of the
//                        system that opened it; written and fsynced before the
//                        first unsynced commit, removed after the final sync.
//
// At open: no marker, or a marker from this same boot -> trusted. A marker
// from another boot -> discarded: the directory is emptied and the node
// re-applies the log from index 1 (the log is never compacted yet; when it
// is, this must restore a synced snapshot instead).
#pragma once

#include <string>

#include "node/raft/result.h"

namespace cabildo::storage {

class StateGuard {
public:
    // boot_id empty: this system's. Tests pass their own to act out a reboot.
    StateGuard(std::string dir, std::string boot_id);

    std::string state_dir() const { return dir_ + "/state"; }
    // Empties the state environment's directory if it cannot be trusted.
    // bad_request for a data directory in the older one-environment layout.
    Result<bool> prepare();
    // True if prepare() discarded the state.
    bool discarded() const { return discarded_; }
    // Writes and syncs the marker. Call before the first unsynced commit.
    Result<bool> mark_in_use();
    // Removes the marker. Call only after the state environment was synced.
    Result<bool> mark_clean();

private:
    std::string marker_path() const { return dir_ + "/state-in-use"; }

    std::string dir_;
    std::string boot_id_;
    bool discarded_ = false;
};

}  // namespace cabildo::storage
