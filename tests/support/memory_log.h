// MemoryLog: an in-memory durable log for tests and the simulator.
//
// It plays the role storage/ plays in a node: the core reads it through
// LogReader and the test "persists" Ready's entries into it with persist().
// Whatever is in a MemoryLog survives a simulated crash.
#pragma once

#include <algorithm>
#include <vector>

#include "node/raft/assert.h"
#include "node/raft/log_reader.h"

namespace cabildo::test {

class MemoryLog final : public raft::LogReader {
public:
    raft::LogIndex first_index() const override { return base_index_ + 1; }
    raft::LogIndex last_index() const override { return base_index_ + entries_.size(); }

    std::optional<raft::Term> term_at(raft::LogIndex index) const override {
        if (index == base_index_) return base_term_;
        if (index < base_index_ || index > last_index()) return std::nullopt;
        return entries_[index - base_index_ - 1].term;
    }

    std::vector<raft::Entry> entries(raft::LogIndex lo, raft::LogIndex hi,
                                     std::size_t bytes_max) const override {
        CABILDO_ASSERT(lo > base_index_ && lo <= hi && hi <= last_index() + 1, "range out of log");
        std::vector<raft::Entry> out;
        std::size_t bytes = 0;
        for (raft::LogIndex i = lo; i < hi; ++i) {
            if (!out.empty() && bytes >= bytes_max) break;
            out.push_back(entries_[i - base_index_ - 1]);
            bytes += out.back().data.size();
        }
        return out;
    }

    raft::SnapshotMeta snapshot() const override { return snapshot_; }

    // Ready's rule: the entries replace any stored suffix from their first index.
    void persist(const std::vector<raft::Entry>& entries) {
        if (entries.empty()) return;
        const raft::LogIndex first = entries.front().index;
        CABILDO_ASSERT(first > base_index_ && first <= last_index() + 1,
                       "gap in persisted entries");
        entries_.resize(first - base_index_ - 1);
        entries_.insert(entries_.end(), entries.begin(), entries.end());
    }

    // The shell took a snapshot: it is what a lagging follower will be sent.
    void set_snapshot(const raft::SnapshotMeta& snapshot) { snapshot_ = snapshot; }
    // Drops the entries up to index (the shell's rule: raft::compaction_index).
    void compact(raft::LogIndex index) {
        CABILDO_ASSERT(index >= base_index_ && index <= last_index(), "compact out of log");
        base_term_ = *term_at(index);
        entries_.erase(entries_.begin(), entries_.begin() + (index - base_index_));
        base_index_ = index;
    }
    // A received snapshot replaces the whole log (Ready::snapshot).
    void install(const raft::SnapshotMeta& snapshot) {
        entries_.clear();
        base_index_ = snapshot.index;
        base_term_ = snapshot.term;
        snapshot_ = snapshot;
    }

    // The entry at index, if held.
    std::optional<raft::Entry> at(raft::LogIndex index) const {
        if (index <= base_index_ || index > last_index()) return std::nullopt;
        return entries_[index - base_index_ - 1];
    }

    // Test setup: a log with the given terms at indexes 1..n.
    static MemoryLog with_terms(const std::vector<raft::Term>& terms) {
        MemoryLog log;
        for (std::size_t i = 0; i < terms.size(); ++i) {
            log.entries_.push_back(raft::Entry{terms[i], i + 1, raft::EntryType::normal, {}});
        }
        return log;
    }

    // The entries held, from first_index().
    const std::vector<raft::Entry>& all() const { return entries_; }

private:
    raft::LogIndex base_index_ = 0;  // compacted through here
    raft::Term base_term_ = 0;
    raft::SnapshotMeta snapshot_;
    std::vector<raft::Entry> entries_;
};

inline std::vector<raft::Term> terms_of(const MemoryLog& log) {
    std::vector<raft::Term> terms;
    for (const raft::Entry& e : log.all()) terms.push_back(e.term);
    return terms;
}

}  // namespace cabildo::test
