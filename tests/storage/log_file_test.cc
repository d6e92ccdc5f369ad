// Tests of LogFile, the append-only Raft log: records survive a reopen,
// including a replaced suffix; every kind of torn tail is cut off at open
// without losing the records before it; damage anywhere else (a middle
// record, a record that does not fit, the header, another node's file)
// fails closed and leaves the file unchanged, unless repairing; and a
// write the disk refuses (a file size limit standing in for a full disk)
// changes nothing.
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

std::unique_ptr<LogFile> open_log(const std::string& dir, Recovery recovery = Recovery::normal) {
    auto log = LogFile::open(dir, LogIdentity{}, recovery);
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

constexpr std::size_t file_header = 36;    // log_file.h
constexpr std::size_t record_header = 12;

// Where each record starts, by their length headers (log_file.h), and
// where they end: the file goes on with zeros (reserved space).
std::vector<std::size_t> record_starts(const std::string& path, std::size_t* end = nullptr) {
    const std::string bytes = file_bytes(path);
    std::vector<std::size_t> starts;
    std::size_t at = file_header;
    while (at + record_header <= bytes.size()) {
        std::size_t length = 0;
        for (int i = 0; i < 4; ++i) {
            length = length << 8 | static_cast<unsigned char>(bytes[at + i]);
        }
        if (length == 0 || at + record_header + length > bytes.size()) break;
        starts.push_back(at);
        at += record_header + length;
    }
    if (end != nullptr) *end = at;
    return starts;
}

std::size_t records_end(const std::string& path) {
    std::size_t end = 0;
    record_starts(path, &end);
    return end;
}

void overwrite(const std::string& path, std::size_t at, const std::string& bytes) {
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out << bytes;
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

// The in-memory tail of newest entries answers exactly what the file does:
// after appends, a replaced suffix, eviction of its oldest entries (a small
// limit), compaction and a reset, every range read from the open log equals
// the same range read by a freshly opened one (which has no tail).
TEST(LogFileTest, TailOfNewestEntriesAgreesWithTheFile) {
    TempDir dir;
    auto log = open_log(dir.path());
    ASSERT_NE(log, nullptr);
    log->set_tail_bytes_max(1000);  // about 9 entries of 100 B
    const auto agrees = [&](raft::LogIndex lo, raft::LogIndex hi) {
        auto reopened = open_log(dir.path(), Recovery::normal);
        ASSERT_NE(reopened, nullptr);
        for (raft::LogIndex from = lo; from < hi; ++from) {
            EXPECT_EQ(log->entries(from, hi, SIZE_MAX), reopened->entries(from, hi, SIZE_MAX))
                << "from " << from;
            EXPECT_EQ(log->entries(from, hi, 250), reopened->entries(from, hi, 250));
        }
    };
    append_ok(*log, {1, 1, 0}, make_entries(1, 5, 1, 100));
    agrees(1, 6);
    append_ok(*log, {2, 2, 3}, make_entries(4, 4, 2, 100));  // replaces 4..5, adds 6..7
    agrees(1, 8);
    EXPECT_EQ(log->entries(4, 8, SIZE_MAX), make_entries(4, 4, 2, 100));
    append_ok(*log, {2, 2, 3}, make_entries(8, 12, 2, 100));  // the tail evicts 1..10
    agrees(1, 20);
    append_ok(*log, {3, 3, 3}, make_entries(15, 2, 3, 100));  // cut back to 16
    agrees(1, 17);
    EXPECT_EQ(log->last_index(), 16u);
    log->compact(12, 16);
    agrees(13, 17);
    ASSERT_TRUE(log->reset(40, 3, {3, 3, 40}).ok());
    append_ok(*log, {3, 3, 40}, make_entries(41, 3, 3, 100));
    agrees(41, 44);
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
    const std::string too_long =
        std::string("\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12) + "abc";
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
        {"half a record",  // the later pages of a write never reached the disk
         [&](const std::string& p) {
             std::string record = last_record(4, make_entries(5, 3, 3, 100));
             write_after_records(p, record.substr(0, record.size() / 2));
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

namespace cabildo::storage {
namespace {

// A closed log of three records (write_history), and where each starts.
struct ThreeRecords {
    TempDir dir;
    std::string path = dir.path() + "/raft.log";
    std::vector<raft::Entry> want = history_in(dir);
    std::vector<std::size_t> starts = record_starts(path);
};

void flip_byte(const std::string& path, std::size_t at) {
    std::string bytes = file_bytes(path);
    overwrite(path, at, std::string(1, static_cast<char>(bytes[at] ^ 0x40)));
}

TEST(LogFileTest, DamagedMiddleRecordStopsTheNodeAndChangesNothing) {
    struct Case {
        const char* name;
        std::size_t record;  // which record is damaged
        std::function<void(const std::string& path, std::size_t start)> damage;
    };
    std::vector<Case> cases = {
        {"a payload bit in the first record", 0,
         [](const std::string& p, std::size_t at) { flip_byte(p, at + record_header + 30); }},
        {"the length of the middle record, made huge", 1,
         [](const std::string& p, std::size_t at) { overwrite(p, at, std::string("\x7f", 1)); }},
        {"the length of the middle record, made small", 1,
         [](const std::string& p, std::size_t at) { flip_byte(p, at + 3); }},
        {"the middle record's header zeroed", 1,
         [](const std::string& p, std::size_t at) {
             overwrite(p, at, std::string(record_header, '\0'));
         }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        ThreeRecords log;
        ASSERT_EQ(log.starts.size(), 3u);
        const std::size_t damaged = log.starts[c.record];
        c.damage(log.path, damaged);
        const std::string before = file_bytes(log.path);
        auto opened = LogFile::open(log.dir.path(), LogIdentity{});
        ASSERT_FALSE(opened.ok());
        EXPECT_EQ(opened.error().status, Status::corrupt);
        EXPECT_NE(opened.error().detail.find("raft.log is damaged at offset " +
                                             std::to_string(damaged)),
                  std::string::npos)
            << opened.error().detail;
        EXPECT_NE(opened.error().detail.find("--repair-log"), std::string::npos);
        EXPECT_EQ(file_bytes(log.path), before);  // nothing cut, nothing written

        auto report = LogFile::check(log.dir.path());
        ASSERT_TRUE(report.ok());
        EXPECT_EQ(report->damage_offset, damaged);
        EXPECT_EQ(report->next_record_offset, log.starts[c.record + 1]);
        EXPECT_EQ(file_bytes(log.path), before);

        // The operator's override cuts at the damage, and only there.
        auto repaired = open_log(log.dir.path(), Recovery::repair);
        ASSERT_NE(repaired, nullptr);
        EXPECT_EQ(std::filesystem::file_size(log.path), damaged);
        EXPECT_EQ(repaired->report().damage_offset, damaged);
    }
}

TEST(LogFileTest, WholeRecordThatDoesNotFitStopsTheNode) {
    // A checksummed record for index 7 after a log ending at 4 was written
    // whole: not a torn write, so nothing is cut.
    ThreeRecords log;
    write_after_records(log.path, last_record(6, make_entries(7, 1, 3, 10)));
    const std::string before = file_bytes(log.path);
    auto opened = LogFile::open(log.dir.path(), LogIdentity{});
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().status, Status::corrupt);
    EXPECT_NE(opened.error().detail.find("does not fit"), std::string::npos);
    EXPECT_EQ(file_bytes(log.path), before);
}

TEST(LogFileTest, AnotherClusterOrNodeIsRefused) {
    ThreeRecords log;
    const std::string before = file_bytes(log.path);
    for (const LogIdentity& other : {LogIdentity{2, 1}, LogIdentity{1, 2}}) {
        auto opened = LogFile::open(log.dir.path(), other);
        ASSERT_FALSE(opened.ok());
        EXPECT_EQ(opened.error().status, Status::bad_request);
        EXPECT_NE(opened.error().detail.find("belongs to node 1 of cluster 1"), std::string::npos)
            << opened.error().detail;
    }
    EXPECT_EQ(file_bytes(log.path), before);
    EXPECT_NE(open_log(log.dir.path()), nullptr);  // the right identity still opens it
}

TEST(LogFileTest, MissingOrDamagedFileHeaderStopsTheNode) {
    struct Case {
        const char* name;
        std::function<void(const std::string& path)> damage;
    };
    std::vector<Case> cases = {
        {"no header (the format before it)",
         [](const std::string& p) { overwrite(p, 0, std::string(8, '\0')); }},
        {"a header bit flipped", [](const std::string& p) { flip_byte(p, 20); }},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        ThreeRecords log;
        c.damage(log.path);
        const std::string before = file_bytes(log.path);
        auto opened = LogFile::open(log.dir.path(), LogIdentity{});
        ASSERT_FALSE(opened.ok());
        EXPECT_EQ(opened.error().status, Status::corrupt);
        EXPECT_EQ(file_bytes(log.path), before);
    }
}

TEST(LogFileTest, CheckReportsATornTailWithoutCuttingIt) {
    ThreeRecords log;
    const std::size_t end = records_end(log.path);
    std::string record = last_record(4, make_entries(5, 3, 3, 100));
    write_after_records(log.path, record.substr(0, record.size() / 2));
    const std::string before = file_bytes(log.path);
    auto report = LogFile::check(log.dir.path());
    ASSERT_TRUE(report.ok());
    EXPECT_FALSE(report->damage_offset.has_value());
    EXPECT_EQ(report->records, 3u);
    EXPECT_EQ(report->records_end, end);
    EXPECT_EQ(report->torn_bytes, before.size() - end);
    EXPECT_EQ(report->last_index, 4u);
    EXPECT_EQ(file_bytes(log.path), before);
}

}  // namespace
}  // namespace cabildo::storage
