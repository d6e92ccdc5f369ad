// RaftLog: the log as the core sees it, the durable entries (read through
// LogReader) followed by an unstable tail of entries not yet persisted, plus
// the commit and apply positions.
//
// It never writes to storage: the unstable tail leaves through Ready and comes
// back as durable through stable_to(). The shell must call take_ready() and
// advance() in lockstep, so the whole tail is handed out at once.
//
// A snapshot received from the leader is pending from restore() until the
// shell has installed it (snapshot_installed()): meanwhile the log is
// empty up to the snapshot's index, whatever the stable log still holds.
//
// It also tracks the membership in force: thesis §4.1, a server uses the
// latest configuration entry in its log, committed or not, so a truncated
// configuration entry takes the membership back to the one before it.
//
// Invariants: first_index() - 1 <= applied <= commit_index <= last_index();
// unstable entries are consecutive from unstable_offset_; committed entries
// are never truncated.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "node/raft/log_reader.h"
#include "node/raft/types.h"

namespace cabildo::raft {

class RaftLog {
public:
    // `membership` is the one in force at `applied`; configuration entries
    // after it are read from the stable log.
    RaftLog(const LogReader& stable, LogIndex commit_index, LogIndex applied,
            Membership membership);

    LogIndex first_index() const;
    LogIndex last_index() const;
    Term last_term() const;
    std::optional<Term> term_at(LogIndex index) const;
    bool match_term(LogIndex index, Term term) const;

    // Raft §5.4.1: is a log ending at (last_index, last_term) at least as
    // up-to-date as ours?
    bool is_up_to_date(LogIndex last_index, Term last_term) const;

    // Entries in [lo, hi), at most count_max of them, stopping once bytes_max
    // of data is passed (at least one entry if lo < hi).
    std::vector<Entry> entries(LogIndex lo, LogIndex hi, std::size_t count_max,
                               std::size_t bytes_max) const;

    // The largest index <= index whose term is <= term: where a log that has
    // `term` at `index` can possibly match ours (fast backtracking).
    LogIndex find_conflict_by_term(LogIndex index, Term term) const;

    // Leader: append one entry at last_index()+1.
    void append(Entry entry);
    // Follower (§5.3): the entries follow prev_log_index, which matches. An
    // existing entry that conflicts with a new one is deleted with all that
    // follow it. Returns the index of the last new entry.
    LogIndex append_after(LogIndex prev_log_index, const std::vector<Entry>& entries);

    LogIndex commit_index() const { return commit_index_; }
    void commit_to(LogIndex index);
    LogIndex applied() const { return applied_; }
    void applied_to(LogIndex index);
    // The shell's latest snapshot, to send to a follower that needs a
    // compacted entry.
    SnapshotMeta snapshot() const { return stable_.snapshot(); }

    // Follower (§7): the log and the state machine are replaced by a
    // snapshot newer than the commit index. Its entries are all committed.
    void restore(const SnapshotMeta& snapshot);
    const std::optional<SnapshotMeta>& pending_snapshot() const { return pending_snapshot_; }
    // The shell installed the pending snapshot: the stable log now starts
    // after it.
    void snapshot_installed();
    bool has_entries_to_apply() const { return commit_index_ > applied_; }
    std::vector<Entry> entries_to_apply(std::size_t bytes_max) const;

    // The membership in force: the latest configuration entry in the log, or
    // the one known at start (or from the snapshot installed).
    const Membership& membership() const;
    // The index of that configuration entry (or where the known one was
    // learned: the applied index at start, a snapshot's index).
    LogIndex membership_index() const;
    // The latest committed membership (what membership() was before the
    // pending configuration entry, if there is one).
    const Membership& committed_membership() const { return base_membership_; }
    // A configuration entry in the log is not committed yet.
    bool membership_pending() const { return !configs_.empty(); }

    const std::vector<Entry>& unstable() const { return unstable_; }
    // The first index not known to be durable.
    LogIndex first_unstable_index() const {
        return unstable_.empty() ? last_index() + 1 : unstable_offset_;
    }
    // The shell persisted entries up to index (whose term is term).
    void stable_to(LogIndex index, Term term);

private:
    void truncate_and_append(const std::vector<Entry>& entries, std::size_t from);
    void track_config(const Entry& entry);
    void fold_committed_configs();

    const LogReader& stable_;
    std::optional<SnapshotMeta> pending_snapshot_;
    std::vector<Entry> unstable_;
    LogIndex unstable_offset_;  // index of unstable_[0]; meaningful when non-empty
    LogIndex commit_index_;
    LogIndex applied_;
    Membership base_membership_;  // in force at base_membership_index_, committed
    LogIndex base_membership_index_;
    std::vector<std::pair<LogIndex, Membership>> configs_;  // uncommitted config entries, ascending
};

}  // namespace cabildo::raft
