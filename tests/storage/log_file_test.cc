// Tests of LogFile, the append-only Raft log: records survive a reopen,
// including a replaced suffix; every kind of torn or corrupt tail is cut
// off at open without losing the records before it; and a write the disk
// refuses (a file size limit standing in for a full disk) changes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "storage/log_file.h"
#include "tests/storage/storage_test_util.h"

namespace cabildo::storage {
namespace {

using testing::FileSizeLimit;
using testing::make_entries;
using testing::TempDir;

std::unique_ptr<LogFile> open_log(const std::string& dir) {
    auto log = LogFile::open(dir);
    EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error().detail);
    return log.ok() ? std::move(*log) : nullptr;
}

void append_ok(LogFile& log, const raft::HardState& hs, const std::vector<raft::Entry>& entries) {
    auto result = log.append(hs, entries, 0);
    ASSERT_TRUE(result.ok()) << result.error().detail;
}

// Five entries of term 1, then 3..4 replaced by term 2, then a vote alone.
std::vector<raft::Entry> write_history(LogFile& log) {
    append_ok(log, {1, 1, 0}, make_entries(1, 5, 1, 100));
    append_ok(log, {2, 2, 2}, make_entries(3, 2, 2, 100));
    append_ok(log, {3, 3, 2}, {});
    auto want = make_entries(1, 2, 1, 100);
    for (const raft::Entry& e : make_entries(3, 2, 2, 100)) want.push_back(e);
    return want;
}

void append_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

TEST(LogFileTest, ReopenReplaysRecordsAndReplacedSuffixes) {
    TempDir dir;
    std::vector<raft::Entry> want;
    {
        auto log = open_log(dir.path());
        ASSERT_NE(log, nullptr);
        want = write_history(*log);
        EXPECT_EQ(log->entries(1, 5, SIZE_MAX), want);
    }
    auto log = open_log(dir.path());
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->torn_bytes(), 0u);
    EXPECT_EQ(log->last_index(), 4u);
    EXPECT_EQ(log->term_at(2), 1u);
    EXPECT_EQ(log->term_at(4), 2u);
    EXPECT_EQ(log->hard_state(), (raft::HardState{3, 3, 2}));
    EXPECT_EQ(log->entries(1, 5, SIZE_MAX), want);
    EXPECT_EQ(log->entries(2, 5, 150).size(), 1u);  // bytes_max, but at least one
}

// The bytes of the record that appends entries to a log of `before` entries.
std::string last_record(std::size_t before, const std::vector<raft::Entry>& entries) {
    TempDir dir;
    std::uintmax_t start = 0;
    {
        auto log = open_log(dir.path());
        append_ok(*log, {3, 3, 2}, make_entries(1, before, 3, 10));
        start = std::filesystem::file_size(dir.path() + "/raft.log");
        append_ok(*log, {3, 3, 2}, entries);
    }
    std::ifstream in(dir.path() + "/raft.log", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.substr(start);
}

TEST(LogFileTest, TornOrCorruptTailIsCutAtOpen) {
    // What a crash in the middle of a write, or a damaged last record, leaves.
    const std::string header_only("\x00\x00\x00\x30", 4);
    const std::string too_long = std::string("\x00\x10\x00\x00\x00\x00\x00\x00", 8) + "abc";
    struct Case {
        const char* name;
        std::function<void(const std::string& path)> damage;
    };
    std::vector<Case> cases = {
        {"half a header", [&](const std::string& p) { append_bytes(p, header_only); }},
        {"length past the end", [&](const std::string& p) { append_bytes(p, too_long); }},
        {"checksum mismatch",
         [&](const std::string& p) {
             std::string record = last_record(4, make_entries(5, 1, 3, 10));
             record[record.size() - 1] ^= 1;  // one payload bit flipped
             append_bytes(p, record);
         }},
        {"a hole in the log",  // a valid record for index 7 after a log ending at 4
         [&](const std::string& p) { append_bytes(p, last_record(6, make_entries(7, 1, 3, 10))); }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        std::vector<raft::Entry> want;
        {
            auto log = open_log(dir.path());
            ASSERT_NE(log, nullptr);
            want = write_history(*log);
        }
        const std::string path = dir.path() + "/raft.log";
        const auto good_size = std::filesystem::file_size(path);
        c.damage(path);
        ASSERT_GT(std::filesystem::file_size(path), good_size);
        {
            auto log = open_log(dir.path());
            ASSERT_NE(log, nullptr);
            EXPECT_GT(log->torn_bytes(), 0u);
            EXPECT_EQ(std::filesystem::file_size(path), good_size);
            EXPECT_EQ(log->hard_state(), (raft::HardState{3, 3, 2}));
            EXPECT_EQ(log->entries(1, 5, SIZE_MAX), want);
            // Writing goes on after the cut.
            append_ok(*log, {3, 3, 2}, make_entries(5, 1, 3, 10));
        }
        auto log = open_log(dir.path());
        ASSERT_NE(log, nullptr);
        EXPECT_EQ(log->torn_bytes(), 0u);
        EXPECT_EQ(log->last_index(), 5u);
        EXPECT_EQ(log->term_at(5), 3u);
    }
}

TEST(LogFileTest, RefusedWriteChangesNothing) {
    TempDir dir;
    std::vector<raft::Entry> want;
    auto log = open_log(dir.path());
    ASSERT_NE(log, nullptr);
    want = write_history(*log);
    const std::string path = dir.path() + "/raft.log";
    const auto size = std::filesystem::file_size(path);
    {
        FileSizeLimit limit(size + 1000);  // room for part of the record only
        auto failed = log->append({4, 4, 2}, make_entries(5, 3, 4, 2000), 2);
        ASSERT_FALSE(failed.ok());
        EXPECT_EQ(failed.error().status, Status::storage_full);
    }
    EXPECT_EQ(std::filesystem::file_size(path), size);  // the partial record is gone
    EXPECT_EQ(log->last_index(), 4u);
    EXPECT_EQ(log->hard_state(), (raft::HardState{3, 3, 2}));
    EXPECT_EQ(log->entries(1, 5, SIZE_MAX), want);
    append_ok(*log, {4, 4, 2}, make_entries(5, 3, 4, 2000));
    log.reset();
    auto reopened = open_log(dir.path());
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(reopened->torn_bytes(), 0u);
    EXPECT_EQ(reopened->last_index(), 7u);
    EXPECT_EQ(reopened->hard_state(), (raft::HardState{4, 4, 2}));
}

}  // namespace
}  // namespace cabildo::storage
