// SafetyChecker; see checker.h.
#include "tests/sim/checker.h"

#include <fmt/format.h>

namespace cabildo::sim {

using raft::Entry;
using raft::LogIndex;
using raft::NodeId;
using raft::Term;

void SafetyChecker::fail(std::string message) {
    if (!violation_) violation_ = std::move(message);
}

const Entry* SafetyChecker::committed_at(LogIndex index) const {
    if (index == 0 || index > committed_.size()) return nullptr;
    return &committed_[index - 1];
}

// The entry at index as the node sees it: unstable tail over the durable log.
static std::optional<Entry> entry_at(const test::MemoryLog& log,
                                     const std::vector<Entry>& unstable, LogIndex index) {
    if (!unstable.empty() && index >= unstable.front().index) {
        if (index > unstable.back().index) return std::nullopt;
        return unstable[index - unstable.front().index];
    }
    return log.at(index);
}

void SafetyChecker::on_leader(NodeId id, Term term, const test::MemoryLog& log,
                              const std::vector<Entry>& unstable) {
    auto [it, inserted] = leaders_.emplace(term, id);
    if (!inserted && it->second != id) {
        fail(fmt::format("election safety: nodes {} and {} both leader in term {}", it->second,
                         id, term));
        return;
    }
    for (LogIndex i = log.first_index(); i <= committed_.size(); ++i) {
        auto e = entry_at(log, unstable, i);
        if (!e || e->term != committed_[i - 1].term || e->data != committed_[i - 1].data) {
            fail(fmt::format("leader completeness: leader {} of term {} lacks committed "
                             "entry {} (term {})",
                             id, term, i, committed_[i - 1].term));
            return;
        }
    }
}

void SafetyChecker::on_persisted(NodeId id, const test::MemoryLog& log, LogIndex first_new) {
    for (LogIndex i = first_new; i <= log.last_index(); ++i) {
        const Entry e = *log.at(i);
        const Term prev_term = *log.term_at(i - 1);
        EntryId entry_id{prev_term, e.data, e.type};
        auto [it, inserted] = seen_.emplace(std::make_pair(i, e.term), entry_id);
        if (!inserted && (it->second.prev_term != prev_term || it->second.data != e.data ||
                          it->second.type != e.type)) {
            fail(fmt::format("log matching: node {} holds a different entry at index {} term {}",
                             id, i, e.term));
            return;
        }
    }
}

void SafetyChecker::on_commit(NodeId id, LogIndex commit_index, const test::MemoryLog& log,
                              const std::vector<Entry>& unstable) {
    LogIndex& checked = commit_checked_[id];
    // Below the first index the node holds a snapshot, checked when taken or
    // installed.
    for (LogIndex i = std::max(checked + 1, log.first_index()); i <= commit_index; ++i) {
        auto e = entry_at(log, unstable, i);
        if (!e) {
            fail(fmt::format("node {} commits index {} it does not hold", id, i));
            return;
        }
        if (const Entry* known = committed_at(i)) {
            if (known->term != e->term || known->data != e->data) {
                fail(fmt::format("state machine safety: node {} committed term {} at index {}, "
                                 "but term {} was committed there",
                                 id, e->term, i, known->term));
                return;
            }
        } else {
            committed_.push_back(*e);
        }
    }
    checked = std::max(checked, commit_index);
}

void SafetyChecker::on_apply(NodeId id, LogIndex durable_applied, const Entry& entry) {
    if (entry.index != durable_applied + 1) {
        fail(fmt::format("node {} applied index {} after {} (out of order or repeated)", id,
                         entry.index, durable_applied));
        return;
    }
    const Entry* known = committed_at(entry.index);
    if (known == nullptr || known->term != entry.term || known->data != entry.data) {
        fail(fmt::format("node {} applied index {} (term {}) which is not the committed entry", id,
                         entry.index, entry.term));
        return;
    }
    if (entry.index <= applied_.size()) {
        if (applied_[entry.index - 1].data != entry.data) {
            fail(fmt::format("state machine safety: two commands applied at index {}",
                             entry.index));
        }
        return;
    }
    applied_.push_back(entry);
}

void SafetyChecker::on_state(NodeId id, LogIndex index, std::uint64_t state) {
    auto [it, inserted] = states_.emplace(index, state);
    if (!inserted && it->second != state) {
        fail(fmt::format("state machine safety: node {} has another state after index {}", id,
                         index));
    }
}

void SafetyChecker::check_snapshot(const char* what, NodeId id,
                                   const raft::SnapshotMeta& snapshot, std::uint64_t state) {
    const Entry* committed = committed_at(snapshot.index);
    if (committed == nullptr || committed->term != snapshot.term) {
        fail(fmt::format("snapshot: node {} {} a snapshot at index {} term {}, which is not a "
                         "committed entry",
                         id, what, snapshot.index, snapshot.term));
        return;
    }
    auto it = states_.find(snapshot.index);
    if (it == states_.end() || it->second != state) {
        fail(fmt::format("snapshot: node {} {} a snapshot at index {} whose state is not the "
                         "state nodes had there",
                         id, what, snapshot.index));
    }
}

void SafetyChecker::on_snapshot_taken(NodeId id, const raft::SnapshotMeta& snapshot,
                                      std::uint64_t state) {
    check_snapshot("took", id, snapshot, state);
}

void SafetyChecker::on_snapshot_installed(NodeId id, LogIndex applied_before,
                                          const raft::SnapshotMeta& snapshot,
                                          std::uint64_t state) {
    if (snapshot.index < applied_before) {
        fail(fmt::format("snapshot: node {} installed a snapshot at index {} over a state "
                         "machine that had applied {} (its state went back)",
                         id, snapshot.index, applied_before));
        return;
    }
    check_snapshot("installed", id, snapshot, state);
}

void SafetyChecker::on_write_acked(LogIndex index) {
    acked_index_max_ = std::max<std::uint64_t>(acked_index_max_, index);
}

void SafetyChecker::on_read(NodeId id, LogIndex read_index, std::uint64_t acked_index_at_start) {
    ++reads_checked_;
    if (read_index < acked_index_at_start) {
        fail(fmt::format("stale read: node {} served a read at index {} though a write at index "
                         "{} was acknowledged before the read started",
                         id, read_index, acked_index_at_start));
    }
}

void SafetyChecker::on_leader_commit(NodeId id, LogIndex index, Term term,
                                     const std::vector<NodeId>& voters,
                                     const std::map<NodeId, const test::MemoryLog*>& logs) {
    std::size_t holders = 0;
    for (NodeId voter : voters) {
        const test::MemoryLog& log = *logs.at(voter);
        // A compacted entry is in the node's snapshot (checked to match).
        if (log.first_index() > index || log.term_at(index) == term) ++holders;
    }
    if (holders < voters.size() / 2 + 1) {
        fail(fmt::format("leader {} committed entry {} (term {}) durable on only {} of its {} "
                         "voters",
                         id, index, term, holders, voters.size()));
    }
}

}  // namespace cabildo::sim

namespace cabildo::sim {

void SafetyChecker::check_node_log(NodeId id, const test::MemoryLog& log,
                                   LogIndex known_committed) {
    if (log.first_index() > log.snapshot().index + 1) {
        fail(fmt::format("compaction: node {} dropped its log through {} but its latest "
                         "snapshot is at {}: an OS crash would lose the entries between",
                         id, log.first_index() - 1, log.snapshot().index));
        return;
    }
    // Log matching: holding the entry at held_ means holding all before it.
    const auto holds = [&](LogIndex i) {
        return i < log.first_index() || log.term_at(i) == committed_[i - 1].term;
    };
    LogIndex& held = held_[id];
    if (held > 0 && !holds(held)) {
        fail(fmt::format("committed entry lost: node {} held committed entry {} (term {}) "
                         "durably and no longer does (log {}..{}, snapshot {})",
                         id, held, committed_[held - 1].term, log.first_index(),
                         log.last_index(), log.snapshot().index));
        return;
    }
    const LogIndex bound = std::min<LogIndex>(committed_.size(), known_committed);
    while (held < bound && holds(held + 1)) ++held;
}

}  // namespace cabildo::sim
