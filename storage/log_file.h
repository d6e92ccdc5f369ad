// LogFile: the Raft log and hard state of a node in one append-only file,
// synced on every write: one write() and one fdatasync per Ready.
//
// Why not LMDB, which keeps everything else: an LMDB commit is durable only
// after two flushes (data pages, then the meta page that points to them),
// and a copy-on-write B-tree rewrites pages for each batch. A record with a
// checksum needs neither order nor rewriting: one flush makes it durable, and
// a torn record at the tail is recognised and dropped. On a shared disk the
// flushes are what the write path waits for.
//
// File <dir>/raft.log (integers big-endian):
//   file header, 36 bytes, written once (to a temporary file, synced, then
//   renamed into place, so raft.log never exists without one):
//     [magic "CABILDOL"][format u32 = 1][zero u32][cluster_id u64]
//     [node_id u64][crc32 u32 of the 32 bytes before]
//   then a sequence of records, each
//     [payload_len u32][crc32 u32 of payload][crc32 u32 of the 8 bytes before]
//     [payload]
//   payload = [term u64][voted_for u64][commit_index u64]   the hard state
//             [first u64][count u32]                        then count entries:
//             [value_len u32][value]   value = [term u64][type u8][data]
// A record's entries replace the log from index `first` on (Raft's
// conflicting suffix); count may be 0 (a term or vote change). The last
// valid record's hard state is the current one. The header checksum lets
// recovery find records after a damaged one without trusting its length.
//
// Past the last record the file holds zeros: it grows in zero-filled steps
// so that most writes change no file metadata and their fdatasync is a
// single flush (reserve()). A zero record header ends the log.
//
// Recovery at open FAILS CLOSED. Every record is synced before anything
// depends on it, so only the last one can be torn, and nothing is written
// after it. A damaged record (short, oversized, bad checksum) with no valid
// record anywhere after it is such a torn write: it is cut off, and
// torn_bytes() says how much went. Anything else is damage that cutting
// would make worse (it would drop synced entries and votes): a damaged
// record with valid records after it, a valid record that does not fit the
// log, a missing or damaged file header, another cluster's or node's file.
// Then open() fails with `corrupt`, naming the file, the offset and what to
// do, and changes nothing. Recovery::repair (cabildo-node --repair-log) is
// the operator's knowing override: it cuts the log at the first damage.
//
// The index of every entry (file offset, size, term) is kept in memory;
// entry bytes are read back with pread.
//
// Invariants: last_index() == number of entries (no compaction yet: the
// first index is 1); every entry below the stored commit index is never
// removed or changed (asserted). Not thread-safe: the node's loop owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/result.h"
#include "node/raft/types.h"

namespace cabildo::storage {

// Whose log a file is: written into its header, checked at every open.
struct LogIdentity {
    std::uint64_t cluster_id = 1;
    raft::NodeId node_id = 1;
};

enum class Recovery {
    normal,  // cut a torn tail; refuse (corrupt) any other damage
    repair,  // also cut at the first damaged record, losing what follows
};

// What recovery found; for logs and for `cabildo-node --check`.
struct LogReport {
    LogIdentity identity;
    std::uint64_t file_bytes = 0;
    std::uint64_t records = 0;
    std::uint64_t records_end = 0;  // offset after the last valid record
    raft::LogIndex last_index = 0;
    raft::HardState hard_state;
    std::uint64_t torn_bytes = 0;  // a torn last write (cut, unless checking)
    // Damage that is not a torn tail: where and what, and the next valid
    // record after it, if any (its offset).
    std::optional<std::uint64_t> damage_offset;
    std::string damage;
    std::optional<std::uint64_t> next_record_offset;
};

class LogFile {
public:
    // Creates dir and the file (with identity's header) if missing, then
    // recovers the log as the class comment says.
    static Result<std::unique_ptr<LogFile>> open(const std::string& dir,
                                                 const LogIdentity& identity,
                                                 Recovery recovery = Recovery::normal);
    // Reads the log without changing anything. An error only for a file
    // that cannot be read or has no valid header; damage is in the report.
    static Result<LogReport> check(const std::string& dir);
    ~LogFile();
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;

    raft::LogIndex last_index() const { return slots_.size(); }
    // Precondition: 1 <= index <= last_index().
    raft::Term term_at(raft::LogIndex index) const { return slots_[index - 1].term; }
    // Entries [lo, hi): at least one, then only while their data stays
    // within bytes_max. Precondition: 1 <= lo < hi <= last_index() + 1.
    std::vector<raft::Entry> entries(raft::LogIndex lo, raft::LogIndex hi,
                                     std::size_t bytes_max) const;
    const raft::HardState& hard_state() const { return hard_state_; }
    // What recovery at open found and did (torn bytes cut, damage repaired).
    const LogReport& report() const { return report_; }
    std::uint64_t torn_bytes() const { return report_.torn_bytes; }

    // Appends one record and syncs it. entries (consecutive, starting at
    // most at last_index() + 1) replace the log from entries.front().index.
    // Entries at or below commit_index may only be rewritten with the same
    // term (asserted). storage_full or io_error if the disk refuses; then
    // nothing changed (a partial record is overwritten by the next append).
    Result<bool> append(const raft::HardState& hard_state,
                        const std::vector<raft::Entry>& entries, raft::LogIndex commit_index);

private:
    struct Slot {
        std::uint64_t offset = 0;  // of the entry's value in the file
        std::uint32_t size = 0;    // of the value
        raft::Term term = 0;
    };

    LogFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    static Result<int> open_or_create(const std::string& dir, const std::string& path,
                                      const LogIdentity& identity);
    Result<bool> read_header();
    Result<bool> scan();
    Result<bool> classify_damage(const std::string& damage);
    Result<bool> finish_recovery(Recovery recovery);
    std::string damage_message() const;
    Result<bool> cut_at(std::uint64_t offset);
    Result<std::optional<std::uint64_t>> find_record(std::uint64_t from) const;
    // Applies one record's payload found at file offset `at`; false if the
    // payload is malformed or does not fit the log (then nothing changed).
    bool replay(const std::string& payload, std::uint64_t at);
    void check_replace(const std::vector<raft::Entry>& entries,
                       raft::LogIndex commit_index) const;
    bool reserve(std::uint64_t bytes);

    int fd_;
    std::string path_;
    std::uint64_t end_ = 0;       // where the next record goes
    std::uint64_t reserved_ = 0;  // the file's size: zeros from end_ on
    std::vector<Slot> slots_;
    raft::HardState hard_state_;
    LogReport report_;
};

}  // namespace cabildo::storage
