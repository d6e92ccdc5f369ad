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
// File <dir>/raft.log: a sequence of records, each
//   [payload_len u32][crc32 u32 of payload][payload]
//   payload = [term u64][voted_for u64][commit_index u64]   the hard state
//             [first u64][count u32]                        then count entries:
//             [value_len u32][value]   value = [term u64][type u8][data]
// (integers big-endian). A record's entries replace the log from index
// `first` on (Raft's conflicting suffix); count may be 0 (a term or vote
// change). The last valid record's hard state is the current one.
//
// Past the last record the file holds zeros: it grows in zero-filled steps
// so that most writes change no file metadata and their fdatasync is a
// single flush (reserve()). A zero header (length 0) ends the log.
//
// At open the file is read from the start; the first record that is short,
// oversized, fails its checksum or does not fit the log ends it, and the
// file is cut there (it can only be the tail of a write that was never
// acknowledged: every record is synced before anything depends on it).
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

class LogFile {
public:
    // Creates dir and the file if missing, then recovers the log.
    static Result<std::unique_ptr<LogFile>> open(const std::string& dir);
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
    // Bytes cut from the end of the file at open (a torn last write).
    std::uint64_t torn_bytes() const { return torn_bytes_; }

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
    Result<bool> recover();
    // Applies one record's payload found at file offset `at`; false if the
    // payload is malformed (then nothing was changed).
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
    std::uint64_t torn_bytes_ = 0;
};

}  // namespace cabildo::storage
