// RaftLog: durable entries plus the unstable tail; see raft_log.h.
#include "node/raft/raft_log.h"

#include <algorithm>
#include <iterator>

#include "node/raft/assert.h"

namespace cabildo::raft {

// Entries below the stable log's first index are committed and applied (they
// are in a snapshot), whatever the stored commit index says.
RaftLog::RaftLog(const LogReader& stable, LogIndex commit_index, LogIndex applied,
                 Membership membership)
    : stable_(stable),
      unstable_offset_(stable.last_index() + 1),
      commit_index_(std::max(commit_index, stable.first_index() - 1)),
      applied_(std::max(applied, stable.first_index() - 1)),
      base_membership_(std::move(membership)),
      base_membership_index_(applied) {
    CABILDO_ASSERT(applied_ <= commit_index_, "applied beyond commit");
    CABILDO_ASSERT(commit_index_ <= stable.last_index(), "commit beyond the durable log");
    CABILDO_ASSERT(applied + 1 >= stable.first_index(), "membership older than the log");
    // The configuration entries not yet applied: a startup cost bounded by
    // the unapplied tail of the log, read in chunks.
    for (LogIndex lo = applied + 1; lo <= stable.last_index();) {
        const std::vector<Entry> chunk = stable.entries(lo, stable.last_index() + 1, 4u << 20);
        for (const Entry& e : chunk) track_config(e);
        lo += chunk.size();
    }
    fold_committed_configs();
}

const Membership& RaftLog::membership() const {
    return configs_.empty() ? base_membership_ : configs_.back().second;
}

LogIndex RaftLog::membership_index() const {
    return configs_.empty() ? base_membership_index_ : configs_.back().first;
}

void RaftLog::track_config(const Entry& entry) {
    if (entry.type != EntryType::config) return;
    std::optional<Membership> membership = decode_membership(entry.data);
    CABILDO_ASSERT(membership.has_value(), "undecodable configuration entry in the log");
    configs_.emplace_back(entry.index, std::move(*membership));
}

void RaftLog::fold_committed_configs() {
    auto it = configs_.begin();
    while (it != configs_.end() && it->first <= commit_index_) ++it;
    if (it == configs_.begin()) return;
    base_membership_ = std::prev(it)->second;
    base_membership_index_ = std::prev(it)->first;
    configs_.erase(configs_.begin(), it);
}

LogIndex RaftLog::first_index() const {
    return pending_snapshot_ ? pending_snapshot_->index + 1 : stable_.first_index();
}

LogIndex RaftLog::last_index() const {
    if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
    return pending_snapshot_ ? pending_snapshot_->index : stable_.last_index();
}

Term RaftLog::last_term() const {
    auto term = term_at(last_index());
    CABILDO_ASSERT(term.has_value(), "last entry has no term");
    return *term;
}

std::optional<Term> RaftLog::term_at(LogIndex index) const {
    if (!unstable_.empty() && index >= unstable_offset_) {
        if (index > last_index()) return std::nullopt;
        return unstable_[index - unstable_offset_].term;
    }
    if (pending_snapshot_) {
        if (index == pending_snapshot_->index) return pending_snapshot_->term;
        return index == 0 ? std::optional<Term>(0) : std::nullopt;  // replaced by the snapshot
    }
    return stable_.term_at(index);
}

bool RaftLog::match_term(LogIndex index, Term term) const {
    auto t = term_at(index);
    return t.has_value() && *t == term;
}

bool RaftLog::is_up_to_date(LogIndex last_index, Term last_term) const {
    const Term our_last_term = this->last_term();
    return last_term > our_last_term ||
           (last_term == our_last_term && last_index >= this->last_index());
}

std::vector<Entry> RaftLog::entries(LogIndex lo, LogIndex hi, std::size_t count_max,
                                    std::size_t bytes_max) const {
    CABILDO_ASSERT(lo >= first_index(), "entries below first_index");
    CABILDO_ASSERT(hi <= last_index() + 1, "entries beyond last_index");
    hi = std::min(hi, lo + count_max);
    std::vector<Entry> out;
    if (lo >= hi) return out;
    LogIndex stable_hi = unstable_.empty() ? hi : std::min(hi, unstable_offset_);
    if (pending_snapshot_) stable_hi = lo;  // the stable log is being replaced
    if (lo < stable_hi) {
        out = stable_.entries(lo, stable_hi, bytes_max);
        if (out.size() < stable_hi - lo) return out;  // bytes_max reached
    }
    std::size_t bytes = 0;
    for (const Entry& e : out) bytes += e.data.size();
    if (unstable_.empty()) return out;
    for (LogIndex i = std::max(lo, unstable_offset_); i < hi; ++i) {
        if (!out.empty() && bytes >= bytes_max) break;
        const Entry& e = unstable_[i - unstable_offset_];
        bytes += e.data.size();
        out.push_back(e);
    }
    return out;
}

LogIndex RaftLog::find_conflict_by_term(LogIndex index, Term term) const {
    index = std::min(index, last_index());
    while (index > 0) {
        auto t = term_at(index);
        if (!t.has_value() || *t <= term) break;  // compacted: cannot look further
        --index;
    }
    return index;
}

void RaftLog::append(Entry entry) {
    CABILDO_ASSERT(entry.index == last_index() + 1, "leader append not at the end");
    if (unstable_.empty()) unstable_offset_ = entry.index;
    track_config(entry);
    unstable_.push_back(std::move(entry));
}

LogIndex RaftLog::append_after(LogIndex prev_log_index, const std::vector<Entry>& entries) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        CABILDO_ASSERT(e.index == prev_log_index + 1 + i, "entries not consecutive");
        if (match_term(e.index, e.term)) continue;
        // Raft §5.3: the first conflicting entry and all that follow go.
        CABILDO_ASSERT(e.index > commit_index_, "truncating a committed entry");
        truncate_and_append(entries, i);
        break;
    }
    return prev_log_index + entries.size();
}

void RaftLog::truncate_and_append(const std::vector<Entry>& entries, std::size_t from) {
    const LogIndex at = entries[from].index;
    if (!unstable_.empty() && at >= unstable_offset_) {
        unstable_.resize(at - unstable_offset_);
    } else {
        // The conflict is in the durable part: the new tail replaces it when
        // persisted (entries_to_persist starts below the stored last index).
        unstable_.clear();
        unstable_offset_ = at;
    }
    if (unstable_.empty()) unstable_offset_ = at;
    // A truncated configuration entry is no longer in force (thesis §4.1).
    while (!configs_.empty() && configs_.back().first >= at) configs_.pop_back();
    for (auto it = entries.begin() + from; it != entries.end(); ++it) track_config(*it);
    unstable_.insert(unstable_.end(), entries.begin() + from, entries.end());
}

void RaftLog::commit_to(LogIndex index) {
    if (index <= commit_index_) return;  // commit never moves back
    CABILDO_ASSERT(index <= last_index(), "commit beyond the log");
    commit_index_ = index;
    fold_committed_configs();
}

void RaftLog::applied_to(LogIndex index) {
    CABILDO_ASSERT(index <= commit_index_, "applied beyond commit");
    CABILDO_ASSERT(index >= applied_, "applied moved back");
    applied_ = index;
}

std::vector<Entry> RaftLog::entries_to_apply(std::size_t bytes_max) const {
    if (!has_entries_to_apply()) return {};
    return entries(applied_ + 1, commit_index_ + 1, commit_index_ - applied_, bytes_max);
}

void RaftLog::restore(const SnapshotMeta& snapshot) {
    // An older snapshot would roll the state machine back past entries it
    // applied (and answered clients for).
    CABILDO_ASSERT(snapshot.index > commit_index_, "restoring a snapshot at or below commit");
    pending_snapshot_ = snapshot;
    unstable_.clear();
    unstable_offset_ = snapshot.index + 1;
    commit_index_ = snapshot.index;
    applied_ = snapshot.index;
    configs_.clear();
    base_membership_ = snapshot.membership;
    base_membership_index_ = snapshot.index;
}

void RaftLog::snapshot_installed() {
    CABILDO_ASSERT(pending_snapshot_.has_value(), "no snapshot pending");
    const SnapshotMeta s = *pending_snapshot_;
    pending_snapshot_.reset();
    CABILDO_ASSERT(stable_.first_index() == s.index + 1 && stable_.term_at(s.index) == s.term,
                   "the installed log does not start after the snapshot");
}

void RaftLog::stable_to(LogIndex index, Term term) {
    if (unstable_.empty() || index < unstable_offset_) return;
    // Only drop the tail if it is still what was persisted.
    if (!match_term(index, term)) return;
    const std::size_t persisted = index - unstable_offset_ + 1;
    unstable_.erase(unstable_.begin(), unstable_.begin() + std::min(persisted, unstable_.size()));
    unstable_offset_ = index + 1;
}

}  // namespace cabildo::raft
