// Tests of RaftLog: conflicts, truncation, the unstable tail and commit.
#include <gtest/gtest.h>

#include "node/raft/raft_log.h"
#include "tests/support/memory_log.h"

namespace cabildo::raft {
namespace {

using test::MemoryLog;

std::vector<Entry> entries_with_terms(LogIndex first, const std::vector<Term>& terms) {
    std::vector<Entry> out;
    for (std::size_t i = 0; i < terms.size(); ++i) {
        out.push_back(Entry{terms[i], first + i, EntryType::normal, "x"});
    }
    return out;
}

std::vector<Term> terms(const RaftLog& log) {
    std::vector<Term> out;
    for (LogIndex i = 1; i <= log.last_index(); ++i) out.push_back(*log.term_at(i));
    return out;
}

TEST(RaftLog, AppendAfterFindsConflicts) {
    struct Case {
        const char* name;
        std::vector<Term> stored;
        LogIndex prev;
        std::vector<Term> incoming;
        std::vector<Term> want;
        LogIndex want_last_new;
    };
    const std::vector<Case> cases = {
        {"append at the end", {1, 1}, 2, {2, 2}, {1, 1, 2, 2}, 4},
        {"duplicate is a no-op", {1, 1, 2}, 1, {1, 2}, {1, 1, 2}, 3},
        {"older shorter message keeps the suffix", {1, 1, 2, 2}, 1, {1}, {1, 1, 2, 2}, 2},
        {"conflict truncates the rest", {1, 1, 2, 2, 2}, 2, {3}, {1, 1, 3}, 3},
        {"conflict in the middle of the batch", {1, 1, 2, 2}, 1, {1, 3, 3}, {1, 1, 3, 3}, 4},
        {"empty heartbeat-like append", {1, 2}, 2, {}, {1, 2}, 2},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        MemoryLog stored = MemoryLog::with_terms(c.stored);
        RaftLog log(stored, 0, 0, {});
        EXPECT_EQ(log.append_after(c.prev, entries_with_terms(c.prev + 1, c.incoming)),
                  c.want_last_new);
        EXPECT_EQ(terms(log), c.want);
        // What Ready hands out, persisted, gives the same log.
        stored.persist(log.unstable());
        if (!log.unstable().empty()) log.stable_to(log.last_index(), log.last_term());
        EXPECT_TRUE(log.unstable().empty());
        EXPECT_EQ(test::terms_of(stored), c.want);
    }
}

TEST(RaftLog, FindConflictByTerm) {
    // Raft Figure 7, follower (f): 1 1 1 2 2 2 3 3 3 3 3
    MemoryLog stored = MemoryLog::with_terms({1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3});
    RaftLog log(stored, 0, 0, {});
    struct Case {
        const char* name;
        LogIndex index;
        Term term;
        LogIndex want;
    };
    const std::vector<Case> cases = {
        {"term higher than all", 11, 6, 11},
        {"skip the term-3 run", 11, 2, 6},
        {"skip to term 1", 10, 1, 3},
        {"index beyond the log is clamped", 20, 6, 11},
        {"term 0 goes to the start", 5, 0, 0},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(log.find_conflict_by_term(c.index, c.term), c.want);
    }
}

TEST(RaftLog, UpToDateIsLastTermThenLength) {
    MemoryLog stored = MemoryLog::with_terms({1, 2, 2});
    RaftLog log(stored, 0, 0, {});
    EXPECT_TRUE(log.is_up_to_date(3, 2));
    EXPECT_TRUE(log.is_up_to_date(1, 3)) << "higher last term wins even if shorter";
    EXPECT_FALSE(log.is_up_to_date(2, 2));
    EXPECT_FALSE(log.is_up_to_date(9, 1)) << "longer with an older term loses";
}

TEST(RaftLog, EntriesHonourCountAndBytes) {
    MemoryLog stored = MemoryLog::with_terms({1, 1, 1});
    RaftLog log(stored, 0, 0, {});
    log.append(Entry{2, 4, EntryType::normal, "abcd"});
    log.append(Entry{2, 5, EntryType::normal, "efgh"});
    EXPECT_EQ(log.entries(1, 6, 100, 1 << 20).size(), 5u) << "across durable and unstable";
    EXPECT_EQ(log.entries(1, 6, 2, 1 << 20).size(), 2u);
    EXPECT_EQ(log.entries(4, 6, 100, 1).size(), 1u) << "at least one even over bytes_max";
    EXPECT_TRUE(log.entries(6, 6, 100, 100).empty());
}

TEST(RaftLog, ApplyOnlyCommitted) {
    MemoryLog stored = MemoryLog::with_terms({1, 1, 1, 1});
    RaftLog log(stored, 1, 0, {});
    EXPECT_EQ(log.entries_to_apply(1 << 20).size(), 1u);
    log.commit_to(3);
    log.commit_to(2);  // commit never moves back
    EXPECT_EQ(log.commit_index(), 3u);
    auto to_apply = log.entries_to_apply(1 << 20);
    ASSERT_EQ(to_apply.size(), 3u);
    log.applied_to(to_apply.back().index);
    EXPECT_FALSE(log.has_entries_to_apply());
}

}  // namespace
}  // namespace cabildo::raft
