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
// Segments: the log is raft.log followed by raft.log.0000000001, ...; a new
// segment starts once the current one passes segment_bytes_max (64 MiB),
// and one whose entries were all compacted away is deleted, so compaction
// frees disk and memory at once. A later segment's header (format 2) adds
// [base_index u64][base_term u64] before its crc: the log's last entry when
// the segment began. Replaying the segments in order rebuilds the log; a
// segment whose base is not where the replayed log ends starts a new log
// after base (the older segments were compacted away, or a snapshot was
// installed: reset()). Only the newest segment may end in a torn write.
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
// Invariants: last_index() == first_index() - 1 + number of entries; every
// entry below the stored commit index is never changed (asserted), and is
// removed only by compact(). Not thread-safe: the node's loop owns it.
#pragma once

#include <cstdint>
#include <deque>
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
    std::size_t segments = 0;  // files read
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

    raft::LogIndex first_index() const { return first_index_; }
    raft::LogIndex last_index() const { return first_index_ - 1 + slots_.size(); }
    // Precondition: first_index() - 1 <= index <= last_index() (the term of
    // the entry before the first is kept: where the log was compacted).
    raft::Term term_at(raft::LogIndex index) const { return term_at_or_base(index); }
    // Entries [lo, hi): at least one, then only while their data stays
    // within bytes_max. Precondition: first_index() <= lo < hi <= last_index() + 1.
    std::vector<raft::Entry> entries(raft::LogIndex lo, raft::LogIndex hi,
                                     std::size_t bytes_max) const;
    const raft::HardState& hard_state() const { return hard_state_; }
    // What recovery at open found and did (torn bytes cut, damage repaired).
    const LogReport& report() const { return report_; }
    const LogIdentity& identity() const { return identity_; }
    std::uint64_t torn_bytes() const { return report_.torn_bytes; }

    // Appends one record and syncs it. entries (consecutive, starting at
    // most at last_index() + 1) replace the log from entries.front().index.
    // Entries at or below commit_index may only be rewritten with the same
    // term (asserted). storage_full or io_error if the disk refuses; then
    // nothing changed (a partial record is overwritten by the next append).
    Result<bool> append(const raft::HardState& hard_state,
                        const std::vector<raft::Entry>& entries, raft::LogIndex commit_index);

    // Drops the entries up to `through` (committed: <= commit_index,
    // asserted) from memory, and deletes the segments that hold nothing
    // newer (on a thread of its own, so the files go a moment later). Nothing is written: after a restart the log may start a little
    // earlier again (at its oldest segment's base), never later.
    void compact(raft::LogIndex through, raft::LogIndex commit_index);
    // Empties the log to start after (base_index, base_term), an installed
    // snapshot's position, with hard_state: a new segment, synced, then the
    // older ones deleted. On error the log is unchanged (on disk as in
    // memory, up to a new empty segment that replays as the same log).
    Result<bool> reset(raft::LogIndex base_index, raft::Term base_term,
                       const raft::HardState& hard_state);
    // Tests: a smaller segment size, to see segments come and go.
    void set_segment_bytes_max(std::uint64_t bytes) { segment_bytes_max_ = bytes; }
    // Tests: a smaller in-memory tail (see tail_), to see it evict.
    void set_tail_bytes_max(std::size_t bytes) { tail_bytes_max_ = bytes; }

private:
    struct Slot {
        std::uint64_t offset = 0;  // of the entry's value in its segment
        std::uint32_t size = 0;    // of the value
        std::uint32_t segment = 0;  // the segment's seq
        raft::Term term = 0;
    };
    struct Segment {
        std::uint32_t seq = 0;
        std::string path;
        int fd = -1;
        raft::LogIndex max_index = 0;  // the highest index written to it
    };

    LogFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    static Result<int> open_or_create(
        const std::string& dir, const std::string& path, const LogIdentity& identity,
        std::optional<std::pair<raft::LogIndex, raft::Term>> base = {});
    Result<bool> open_segment(std::uint32_t seq, const LogIdentity& identity);
    void start_segment_at(raft::LogIndex base_index, raft::Term base_term);
    Result<bool> start_segment(raft::LogIndex base_index, raft::Term base_term);
    void replace_from(raft::LogIndex first, std::vector<Slot> slots);
    raft::Term term_at_or_base(raft::LogIndex index) const;
    int segment_fd(std::uint32_t seq) const;
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
    void remember_tail(const std::vector<raft::Entry>& entries);
    void forget_tail_through(raft::LogIndex through);
    raft::LogIndex tail_first() const { return last_index() + 1 - tail_.size(); }

    int fd_;            // of the newest segment, appended to
    std::string path_;  // ... and its path
    std::string dir_;
    LogIdentity identity_;
    std::vector<Segment> segments_;  // oldest first
    std::uint64_t segment_bytes_max_ = 64 << 20;
    raft::LogIndex first_index_ = 1;
    raft::Term base_term_ = 0;  // of the entry at first_index_ - 1
    std::uint64_t end_ = 0;       // where the next record goes
    std::uint64_t reserved_ = 0;  // the file's size: zeros from end_ on
    std::deque<Slot> slots_;  // from first_index_
    // Copies of the newest entries appended since open, ending at
    // last_index(), at most tail_bytes_max_ of data: a node applies and
    // sends entries right after persisting them, and reading each back
    // with a pread and decoding it had cost more than the write.
    std::deque<raft::Entry> tail_;
    std::size_t tail_bytes_ = 0;
    std::size_t tail_bytes_max_ = 16 << 20;
    raft::HardState hard_state_;
    LogReport report_;
};

}  // namespace cabildo::storage
