// LogReader: the core's read-only view of the durable log.
//
// storage/ implements it over LMDB, tests implement it in memory. Reads are
// synchronous, so a run of the core is still determined by its inputs. The
// core never writes through this interface: writes leave in Ready.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "node/raft/types.h"

namespace cabildo::raft {

class LogReader {
public:
    virtual ~LogReader() = default;

    // Index of the first entry held (1 for a log never compacted). Entries
    // below it were compacted away: they are committed, applied and in a
    // snapshot. Invariant: first_index() <= last_index() + 1.
    virtual LogIndex first_index() const = 0;
    // Index of the last entry held; 0 for an empty log.
    virtual LogIndex last_index() const = 0;
    // Term of the entry at index, or nullopt if it is not held. term_at(0) ==
    // 0, and the term at first_index() - 1 (the compaction point) is known.
    virtual std::optional<Term> term_at(LogIndex index) const = 0;
    // Entries in [lo, hi), at least one if lo < hi, stopping once their data
    // passes bytes_max. Precondition: first_index() <= lo <= hi <= last_index()+1.
    virtual std::vector<Entry> entries(LogIndex lo, LogIndex hi, std::size_t bytes_max) const = 0;
    // The latest snapshot the shell holds and can send to a follower (index
    // 0: none). Invariant: snapshot().index >= first_index() - 1, so a
    // follower that needs a compacted entry can always be sent one.
    virtual SnapshotMeta snapshot() const = 0;
};

}  // namespace cabildo::raft
