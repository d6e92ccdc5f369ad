// Tests of the event history (watch_from): the events of applied changes,
// read back by index with a key prefix filter and page limits, evicted
// oldest-first past events_max, and written in the same transaction as the
// kv change they describe (restart, abort, MAP_FULL replay, failed commit).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "storage/storage.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::commit_ok;
using testing::open_ok;
using testing::TempDir;
using testing::TmpdirInside;

using Events = std::vector<std::pair<raft::LogIndex, std::string>>;

constexpr std::size_t unlimited = SIZE_MAX;

struct Change {
    raft::LogIndex index;
    std::string key;
};

std::string event_for(raft::LogIndex index, std::size_t bytes = 0) {
    std::string event = "ev" + std::to_string(index);
    if (event.size() < bytes)
        event.resize(bytes, '.');
    return event;
}

// One batch: per change, key := event bytes, the event, then the applied index.
void apply_changes(Storage& storage, const std::vector<Change>& changes,
                   std::size_t event_bytes = 0) {
    testing::log_through(storage, changes.back().index);
    auto txn = storage.begin_apply();
    ASSERT_TRUE(txn.ok());
    for (const Change& c : changes) {
        std::string event = event_for(c.index, event_bytes);
        if (!c.key.empty()) {
            ASSERT_EQ(txn->put(c.key, event), Status::ok);
        }
        txn->add_event(c.index, c.key, event);
    }
    txn->set_applied(changes.back().index);
    commit_ok(*txn);
}

Events events_of(const std::vector<raft::LogIndex>& indexes, std::size_t event_bytes = 0) {
    Events out;
    for (raft::LogIndex index : indexes) out.emplace_back(index, event_for(index, event_bytes));
    return out;
}

// Indexes with gaps (entries that changed nothing have no event).
const std::vector<Change> history = {
    {2, "a/x"}, {3, "b/y"}, {5, "a/z"}, {8, "ab"}, {9, ""}, {12, "b/w"},
};

TEST(EventsTest, RoundTripWithPrefix) {
    struct Case {
        const char* name;
        raft::LogIndex from;
        std::string prefix;
        std::vector<raft::LogIndex> expected;
    };
    std::vector<Case> cases = {
        {"all from 0", 0, "", {2, 3, 5, 8, 9, 12}},
        {"all from 1", 1, "", {2, 3, 5, 8, 9, 12}},
        {"from an event", 5, "", {5, 8, 9, 12}},
        {"from a gap", 6, "", {8, 9, 12}},
        {"prefix a", 0, "a", {2, 5, 8}},
        {"prefix a/", 0, "a/", {2, 5}},
        {"prefix b/ from 4", 4, "b/", {12}},
        {"no match", 0, "zz", {}},
        {"past the end", 13, "", {}},
    };
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->events(0, "", 10, unlimited, unlimited).events, Events{});
    apply_changes(*storage, {history.begin(), history.begin() + 3});
    apply_changes(*storage, {history.begin() + 3, history.end()});
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EventsResult result = storage->events(c.from, c.prefix, 100, unlimited, unlimited);
        EXPECT_EQ(result.events, events_of(c.expected));
        EXPECT_FALSE(result.more);
        EXPECT_EQ(result.scanned_through, 12u);  // the end: at least applied_index
        EXPECT_EQ(result.applied_index, 12u);
        EXPECT_EQ(result.compacted_through, 0u);
    }
    EXPECT_EQ(storage->get("a/z"), event_for(5));
    EXPECT_EQ(storage->events_compacted_through(), 0u);
    // From a revision not yet applied: nothing examined, nothing skipped.
    EXPECT_EQ(storage->events(20, "", 100, unlimited, unlimited).scanned_through, 19u);
}

// The events of history are "evN": 3 bytes, 4 for index 12. A page that
// stops before a match leaves scanned_through just below it.
TEST(EventsTest, LimitsAndContinuation) {
    struct Case {
        const char* name;
        std::string prefix;
        std::size_t limit;
        std::size_t bytes_max;
        std::size_t scan_max;
        // first page
        std::vector<raft::LogIndex> expected;
        raft::LogIndex scanned_through;
        bool more;
    };
    std::vector<Case> cases = {
        {"limit 2", "", 2, unlimited, unlimited, {2, 3}, 3, true},
        {"limit 2 with prefix", "a", 2, unlimited, unlimited, {2, 5}, 5, true},
        {"limit hit at the last event", "b/", 2, unlimited, unlimited, {3, 12}, 12, false},
        {"bytes_max 6 fits two", "", 100, 6, unlimited, {2, 3}, 3, true},
        {"bytes_max 0 still gives one", "", 100, 0, unlimited, {2}, 2, true},
        {"bytes_max counts only matches", "b/", 100, 3, unlimited, {3}, 9, true},
        {"scan_max 3", "", 100, unlimited, 3, {2, 3, 5}, 5, true},
        {"scan_max without a match", "b/w", 100, unlimited, 4, {}, 8, true},
        {"scan_max 0", "", 100, unlimited, 0, {}, 0, true},
        {"limit 0", "", 0, unlimited, unlimited, {}, 0, true},
        {"scan_max exactly the rest", "", 100, unlimited, 6, {2, 3, 5, 8, 9, 12}, 12, false},
    };
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    apply_changes(*storage, history);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EventsResult page = storage->events(1, c.prefix, c.limit, c.bytes_max, c.scan_max);
        EXPECT_EQ(page.events, events_of(c.expected));
        EXPECT_EQ(page.scanned_through, c.scanned_through);
        EXPECT_EQ(page.more, c.more);
        if (c.limit == 0 || c.scan_max == 0)
            continue;  // no progress possible: continuing would not end
        // Continuing from scanned_through + 1 yields every match exactly once.
        Events all = page.events;
        for (int pages = 0; page.more; ++pages) {
            ASSERT_LT(pages, 20) << "continuation does not progress";
            page = storage->events(page.scanned_through + 1, c.prefix, c.limit, c.bytes_max,
                                   c.scan_max);
            all.insert(all.end(), page.events.begin(), page.events.end());
        }
        EXPECT_EQ(all, storage->events(0, c.prefix, 100, unlimited, unlimited).events);
        EXPECT_EQ(page.scanned_through, 12u);
    }
}

TEST(EventsTest, EvictsOldestPastEventsMax) {
    struct Case {
        const char* name;
        std::vector<std::vector<raft::LogIndex>> batches;
        std::vector<raft::LogIndex> kept;
        raft::LogIndex compacted_through;
    };
    std::vector<Case> cases = {
        {"under the limit", {{1}, {2}, {4}}, {1, 2, 4}, 0},
        {"one past", {{1}, {2}, {4}, {7}}, {2, 4, 7}, 1},
        {"many past, one per batch", {{1}, {2}, {3}, {4}, {5}, {6}}, {4, 5, 6}, 3},
        {"many past in one batch", {{1, 3, 5, 7, 9, 11}}, {7, 9, 11}, 5},
        {"gaps", {{10, 20}, {30, 40, 50}}, {30, 40, 50}, 20},
    };
    Options options;
    options.events_max = 3;
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        auto storage = open_ok(dir.db_path(), options);
        ASSERT_NE(storage, nullptr);
        for (const auto& batch : c.batches) {
            std::vector<Change> changes;
            for (raft::LogIndex index : batch)
                changes.push_back({index, "k" + std::to_string(index)});
            apply_changes(*storage, changes);
        }
        EventsResult result = storage->events(0, "", 100, unlimited, unlimited);
        EXPECT_EQ(result.events, events_of(c.kept));
        EXPECT_EQ(result.compacted_through, c.compacted_through);
        EXPECT_EQ(storage->events_compacted_through(), c.compacted_through);
        // The kv state is not touched by eviction.
        EXPECT_EQ(storage->get("k" + std::to_string(c.batches.front().front())),
                  event_for(c.batches.front().front()));
    }
}

// The history is bounded by bytes too: each event here is stored as about
// 104 bytes, so 350 bytes keep three; a larger event than the bound keeps
// itself alone; the running total survives a reopen.
TEST(EventsTest, EvictedPastTheByteBound) {
    TempDir dir;
    Options options;
    options.events_max = 1000;
    options.events_bytes_max = 350;
    {
        auto storage = open_ok(dir.db_path(), options);
        ASSERT_NE(storage, nullptr);
        for (raft::LogIndex index = 1; index <= 6; ++index) {
            apply_changes(*storage, {{index, "k" + std::to_string(index)}}, 100);
        }
        EventsResult result = storage->events(0, "", 100, unlimited, unlimited);
        ASSERT_EQ(result.events.size(), 3u);
        EXPECT_EQ(result.events.front().first, 4u);
        EXPECT_EQ(storage->events_compacted_through(), 3u);
    }
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    apply_changes(*storage, {{7, "k7"}}, 100);  // the total was kept: one more goes
    EventsResult result = storage->events(0, "", 100, unlimited, unlimited);
    ASSERT_EQ(result.events.size(), 3u);
    EXPECT_EQ(result.events.front().first, 5u);
    apply_changes(*storage, {{8, "k8"}}, 1000);  // alone over the bound: kept, alone
    result = storage->events(0, "", 100, unlimited, unlimited);
    ASSERT_EQ(result.events.size(), 1u);
    EXPECT_EQ(result.events.front().first, 8u);
    EXPECT_EQ(storage->events_compacted_through(), 7u);
}

TEST(EventsTest, SurviveRestart) {
    TempDir dir;
    Options options;
    options.events_max = 4;
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    apply_changes(*storage, history);
    EventsResult before = storage->events(0, "", 100, unlimited, unlimited);
    EXPECT_EQ(before.events, events_of({5, 8, 9, 12}));
    EXPECT_EQ(before.compacted_through, 3u);
    storage.reset();
    storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    EventsResult after = storage->events(0, "", 100, unlimited, unlimited);
    EXPECT_EQ(after.events, before.events);
    EXPECT_EQ(after.compacted_through, 3u);
    EXPECT_EQ(after.applied_index, 12u);
    EXPECT_EQ(storage->events_compacted_through(), 3u);
    apply_changes(*storage, {{13, "c"}});  // appends after the reopened history, evicts 5
    EXPECT_EQ(storage->events(0, "", 100, unlimited, unlimited).events, events_of({8, 9, 12, 13}));
    EXPECT_EQ(storage->events_compacted_through(), 5u);
}

TEST(EventsTest, AbortedApplyAddsNoEvent) {
    TempDir dir;
    Options options;
    options.events_max = 2;
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    apply_changes(*storage, {{1, "a"}, {2, "b"}});
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        ASSERT_EQ(txn->put("c", "x"), Status::ok);
        txn->add_event(3, "c", "x");  // would evict 1
        txn->set_applied(3);
    }  // destroyed without commit
    EventsResult result = storage->events(0, "", 100, unlimited, unlimited);
    EXPECT_EQ(result.events, events_of({1, 2}));
    EXPECT_EQ(result.compacted_through, 0u);
    EXPECT_EQ(result.applied_index, 2u);
    EXPECT_EQ(storage->get("c"), std::nullopt);
    apply_changes(*storage, {{3, "c"}});  // the same index is free again
    EXPECT_EQ(storage->events(0, "", 100, unlimited, unlimited).events, events_of({2, 3}));
}

// A 1 MiB map takes 40 events of 64 KiB plus their values in one batch: the
// batch hits MAP_FULL, grows and replays, eviction included.
TEST(EventsTest, MapFullReplayKeepsEvents) {
    constexpr std::size_t event_bytes = 64 << 10;
    struct Case {
        const char* name;
        std::size_t events_max;
        std::vector<raft::LogIndex> kept;
        raft::LogIndex compacted_through;
    };
    std::vector<raft::LogIndex> all;
    for (raft::LogIndex index = 1; index <= 40; ++index) all.push_back(index);
    std::vector<Case> cases = {
        {"no eviction", 100, all, 0},
        {"eviction replayed", 10, {all.end() - 10, all.end()}, 30},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        Options options;
        options.map_bytes_initial = 1 << 20;
        options.events_max = c.events_max;
        auto storage = open_ok(dir.db_path(), options);
        ASSERT_NE(storage, nullptr);
        std::vector<Change> changes;
        for (raft::LogIndex index : all) changes.push_back({index, "k/" + std::to_string(index)});
        apply_changes(*storage, changes, event_bytes);
        EXPECT_GT(storage->map_bytes(), std::size_t{1} << 20);
        EXPECT_EQ(storage->key_count(), all.size());
        EventsResult result = storage->events(0, "k/", 100, unlimited, unlimited);
        EXPECT_EQ(result.events, events_of(c.kept, event_bytes));
        EXPECT_EQ(result.compacted_through, c.compacted_through);
        EXPECT_EQ(result.applied_index, 40u);
    }
}

TEST(EventsTest, FailedCommitLeavesNeitherKvNorEvent) {
    TempDir dir;
    Options options;
    options.events_max = 2;
    auto storage = open_ok(dir.db_path(), options);
    ASSERT_NE(storage, nullptr);
    apply_changes(*storage, {{1, "a"}, {2, "b"}});
    storage->set_fail_next_commits(1);
    {
        auto txn = storage->begin_apply();
        ASSERT_TRUE(txn.ok());
        ASSERT_EQ(txn->put("c", event_for(3)), Status::ok);
        txn->add_event(3, "c", event_for(3));
        txn->set_applied(3);
        auto committed = txn->commit();
        ASSERT_FALSE(committed.ok());
        EXPECT_EQ(committed.error().status, Status::io_error);
    }
    EXPECT_EQ(storage->get("c"), std::nullopt);
    EventsResult result = storage->events(0, "", 100, unlimited, unlimited);
    EXPECT_EQ(result.events, events_of({1, 2}));
    EXPECT_EQ(result.compacted_through, 0u);
    EXPECT_EQ(result.applied_index, 2u);
    apply_changes(*storage, {{3, "c"}});  // the hook was used up: both land together
    EXPECT_EQ(storage->get("c"), event_for(3));
    result = storage->events(0, "", 100, unlimited, unlimited);
    EXPECT_EQ(result.events, events_of({2, 3}));
    EXPECT_EQ(result.compacted_through, 1u);
}

TEST(EventsTest, ZeroEventsMaxIsRejected) {
    TempDir dir;
    Options options;
    options.events_max = 0;
    auto storage = Storage::open(dir.db_path(), options);
    ASSERT_FALSE(storage.ok());
    EXPECT_EQ(storage.error().status, Status::bad_request);
}

TEST(EventsDeathTest, IndexNotAboveEarlierEventsAborts) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    TempDir root;
    TmpdirInside tmpdir(root);
    TempDir dir;
    auto storage = open_ok(dir.db_path());
    ASSERT_NE(storage, nullptr);
    apply_changes(*storage, {{5, "a"}});
    EXPECT_DEATH(apply_changes(*storage, {{5, "b"}}), "already applied");
    EXPECT_DEATH(
        {
            auto txn = storage->begin_apply();
            txn->add_event(7, "b", "x");
            txn->add_event(6, "b", "y");
        },
        "events out of index order");
}

}  // namespace
}  // namespace cabildo::storage
