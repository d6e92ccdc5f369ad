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
//   <dir>/state-in-use   holds the boot id (/proc/sys/kernel/random/boot_id)
//                        of the system that has the state environment open,
//                        written and fsynced before the first unsynced
//                        commit; "clean" after the final sync of a clean
//                        close. Replaced through a synced rename, never
//                        removed.
//
// At open, with a state environment present: "clean", or this same boot ->
// trusted. Anything else -> discarded, never trusted: another boot's id (an
// OS crash while in use), and a marker that is missing or unreadable (it
// cannot vouch for the state). The directory is emptied and the node
// re-applies the log from index 1 (the log is never compacted yet; when it
// is, this must restore a synced snapshot instead). Without a state
// environment (a fresh node) there is nothing to decide.
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
    // True if prepare() or discard() emptied the state; reason() says why.
    bool discarded() const { return discarded_; }
    const std::string& reason() const { return reason_; }
    // Empties the state environment's directory (it must not be open).
    Result<bool> discard(const std::string& reason);
    // Writes and syncs the marker. Call before the first unsynced commit.
    Result<bool> mark_in_use();
    // Marks the state clean. Call only after the state environment was synced.
    Result<bool> mark_clean();

private:
    static constexpr const char* clean_mark = "clean";
    std::string marker_path() const { return dir_ + "/state-in-use"; }
    Result<bool> write_marker(const std::string& text);

    std::string dir_;
    std::string boot_id_;
    bool discarded_ = false;
    std::string reason_;
};

}  // namespace cabildo::storage
