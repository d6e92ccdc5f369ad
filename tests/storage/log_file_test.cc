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

// A closed log in dir holding write_history's records.
std::vector<raft::Entry> history_in(const TempDir& dir) {
    auto log = open_log(dir.path());
    return log == nullptr ? std::vector<raft::Entry>{} : write_history(*log);
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Where the records end, by their length headers (log_file.h): the file
// goes on with zeros (reserved space).
std::size_t records_end(const std::string& path) {
    const std::string bytes = file_bytes(path);
    std::size_t at = 0;
    while (at + 8 <= bytes.size()) {
        std::size_t length = 0;
        for (int i = 0; i < 4; ++i) {
            length = length << 8 | static_cast<unsigned char>(bytes[at + i]);
        }
        if (length == 0 || at + 8 + length > bytes.size()) break;
        at += 8 + length;
    }
    return at;
}

// What a torn or damaged write leaves: bytes right after the last record.
void write_after_records(const std::string& path, const std::string& bytes) {
    const std::size_t at = records_end(path);
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out << bytes;
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
    const std::string path = dir.path() + "/raft.log";
    std::size_t start = 0;
    {
        auto log = open_log(dir.path());
        append_ok(*log, {3, 3, 2}, make_entries(1, before, 3, 10));
        start = records_end(path);
        append_ok(*log, {3, 3, 2}, entries);
    }
    return file_bytes(path).substr(start, records_end(path) - start);
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
        {"half a header", [&](const std::string& p) { write_after_records(p, header_only); }},
        {"length past the end", [&](const std::string& p) { write_after_records(p, too_long); }},
        {"checksum mismatch",
         [&](const std::string& p) {
             std::string record = last_record(4, make_entries(5, 1, 3, 10));
             record[record.size() - 1] ^= 1;  // one payload bit flipped
             write_after_records(p, record);
         }},
        {"a hole in the log",  // a valid record for index 7 after a log ending at 4
         [&](const std::string& p) {
             write_after_records(p, last_record(6, make_entries(7, 1, 3, 10)));
         }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir dir;
        const std::vector<raft::Entry> want = history_in(dir);
        const std::string path = dir.path() + "/raft.log";
        const std::size_t good_end = records_end(path);
        const std::string before = file_bytes(path);
        c.damage(path);
        ASSERT_NE(file_bytes(path), before);
        {
            auto log = open_log(dir.path());
            ASSERT_NE(log, nullptr);
            EXPECT_GT(log->torn_bytes(), 0u);
            EXPECT_EQ(std::filesystem::file_size(path), good_end);  // cut there
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
    const std::vector<raft::Entry> want = history_in(dir);
    auto log = open_log(dir.path());
    ASSERT_NE(log, nullptr);
    const std::string path = dir.path() + "/raft.log";
    const std::size_t end = records_end(path);
    const auto big = make_entries(5, 3, 4, 300 << 10);  // past the reserved space
    {
        FileSizeLimit limit(std::filesystem::file_size(path) + 1000);
        auto failed = log->append({4, 4, 2}, big, 2);
        ASSERT_FALSE(failed.ok());
        EXPECT_EQ(failed.error().status, Status::storage_full);
    }
    EXPECT_EQ(std::filesystem::file_size(path), end);  // nothing partial is left
    EXPECT_EQ(log->last_index(), 4u);
    EXPECT_EQ(log->hard_state(), (raft::HardState{3, 3, 2}));
    EXPECT_EQ(log->entries(1, 5, SIZE_MAX), want);
    append_ok(*log, {4, 4, 2}, big);
    log.reset();
    auto reopened = open_log(dir.path());
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(reopened->torn_bytes(), 0u);
    EXPECT_EQ(reopened->last_index(), 7u);
    EXPECT_EQ(reopened->hard_state(), (raft::HardState{4, 4, 2}));
}

}  // namespace
}  // namespace cabildo::storage
