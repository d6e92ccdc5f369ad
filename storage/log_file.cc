// LogFile: see log_file.h.
#include "storage/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "node/raft/assert.h"
#include "storage/codec.h"
#include "storage/posix_file.h"

namespace cabildo::storage {

namespace {

constexpr std::string_view magic = "CABILDOL";
constexpr std::uint32_t log_format = 1;          // the first segment, raft.log
constexpr std::uint32_t segment_format = 2;      // later segments: with their base
constexpr std::size_t file_header_bytes = 36;    // magic, format, zero, cluster, node, crc
constexpr std::size_t segment_header_bytes = 52; // ... with base index and term before the crc
constexpr std::size_t record_header_bytes = 12;  // payload_len, payload crc, header crc
constexpr std::size_t hard_state_bytes = 3 * codec::u64_bytes;
constexpr std::size_t batch_header_bytes = codec::u64_bytes + 4;  // first, count
constexpr std::size_t min_payload_bytes = hard_state_bytes + batch_header_bytes;
// find_record() reads this much at a time.
constexpr std::size_t scan_chunk_bytes = 1 << 20;
// The file grows in zero-filled steps of this size (see reserve()).
constexpr std::uint64_t reserve_step_bytes = 512 << 10;

// raft.log's header (format 1), or a later segment's (format 2, with the
// index and term of the entry before its first: where the log stood when
// the segment began).
std::string encode_file_header(const LogIdentity& identity,
                               std::optional<std::pair<raft::LogIndex, raft::Term>> base) {
    std::string header(magic);
    append_u32(header, base ? segment_format : log_format);
    append_u32(header, 0);
    codec::append_u64(header, identity.cluster_id);
    codec::append_u64(header, identity.node_id);
    if (base) {
        codec::append_u64(header, base->first);
        codec::append_u64(header, base->second);
    }
    append_u32(header, checksum(header.data(), header.size()));
    return header;
}

// Writes and syncs the file header at offset 0; false with errno set.
bool write_file_header(int fd, const LogIdentity& identity,
                       std::optional<std::pair<raft::LogIndex, raft::Term>> base = {}) {
    const std::string header = encode_file_header(identity, base);
    return write_fully(fd, header.data(), header.size(), 0) && ::fdatasync(fd) == 0;
}

// Segment files after raft.log: raft.log.<seq>, seq >= 1, 10 digits.
std::string segment_path(const std::string& dir, std::uint32_t seq) {
    if (seq == 0) return dir + "/raft.log";
    char name[32];
    std::snprintf(name, sizeof name, "/raft.log.%010u", seq);
    return dir + name;
}

// Segments compaction dropped but a crash left on disk (compact()).
void remove_deleted_segments(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("raft.log.", 0) == 0 && name.size() > 8 &&
            name.substr(name.size() - 8) == ".deleted") {
            std::filesystem::remove(e.path(), ec);
        }
    }
}

// The segments present in dir, by seq.
std::vector<std::uint32_t> list_segments(const std::string& dir) {
    std::vector<std::uint32_t> seqs;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name == "raft.log") {
            seqs.push_back(0);
        } else if (name.size() == 19 && name.rfind("raft.log.", 0) == 0 &&
                   name.find_first_not_of("0123456789", 9) == std::string::npos) {
            seqs.push_back(static_cast<std::uint32_t>(std::stoul(name.substr(9))));
        }
    }
    std::sort(seqs.begin(), seqs.end());
    return seqs;
}

// True if [from, to) of the file holds only zero bytes.
std::optional<bool> all_zero(int fd, std::uint64_t from, std::uint64_t to) {
    std::string buffer;
    for (std::uint64_t at = from; at < to; at += buffer.size()) {
        buffer.resize(static_cast<std::size_t>(std::min<std::uint64_t>(scan_chunk_bytes, to - at)));
        if (!read_fully(fd, buffer.data(), buffer.size(), at)) return std::nullopt;
        if (buffer.find_first_not_of('\0') != std::string::npos) return false;
    }
    return true;
}

}  // namespace

Result<std::unique_ptr<LogFile>> LogFile::open(const std::string& dir, const LogIdentity& identity,
                                               Recovery recovery) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error{Status::io_error, "create " + dir + ": " + ec.message()};
    remove_deleted_segments(dir);
    std::vector<std::uint32_t> seqs = list_segments(dir);
    if (seqs.empty()) {
        auto fd = open_or_create(dir, segment_path(dir, 0), identity);
        if (!fd) return fd.error();
        ::close(*fd);
        seqs.push_back(0);
    }
    std::unique_ptr<LogFile> log(new LogFile(-1, ""));
    log->dir_ = dir;
    log->identity_ = identity;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        const bool last = i + 1 == seqs.size();
        auto opened = log->open_segment(seqs[i], identity);
        if (!opened) return opened.error();
        if (identity.cluster_id == 0) log->identity_ = log->report_.identity;
        if (last) break;
        // Only the newest segment can end in a torn write: every earlier one
        // was complete and synced before the next was created.
        if (log->report_.torn_bytes > 0 && !log->report_.damage_offset) {
            log->report_.damage_offset = log->report_.records_end;
            log->report_.damage = "a damaged record at the end of a segment that is not the last";
        }
        if (log->report_.damage_offset) {
            if (recovery != Recovery::repair) return Error{Status::corrupt, log->damage_message()};
            // Repair: cut here and drop every later segment.
            auto done = log->finish_recovery(recovery);
            if (!done) return done.error();
            for (std::size_t j = i + 1; j < seqs.size(); ++j) {
                ::unlink(segment_path(dir, seqs[j]).c_str());
            }
            return log;
        }
    }
    if (auto done = log->finish_recovery(recovery); !done) return done.error();
    return log;
}

// Opens segment seq, checks its header and identity, and replays it. All
// stay open for reads; the newest is the one appended to.
Result<bool> LogFile::open_segment(std::uint32_t seq, const LogIdentity& identity) {
    const std::string path = segment_path(dir_, seq);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + path, errno);
    segments_.push_back({seq, path, fd, 0});
    fd_ = fd;
    path_ = path;
    report_ = LogReport{};
    report_.segments = segments_.size();
    if (auto header = read_header(); !header) return header.error();
    const LogIdentity& found = report_.identity;
    // Cluster 0: whatever cluster the log names (a restart with --join).
    const bool cluster_ok = identity.cluster_id == 0 || found.cluster_id == identity.cluster_id;
    if (!cluster_ok || found.node_id != identity.node_id) {
        return Error{Status::bad_request,
                     path + " belongs to node " + std::to_string(found.node_id) + " of cluster " +
                         std::to_string(found.cluster_id) + ", not to node " +
                         std::to_string(identity.node_id) + " of cluster " +
                         std::to_string(identity.cluster_id) +
                         ": check --id, --data-dir and --cluster-id (nothing was changed)"};
    }
    if (auto scanned = scan(); !scanned) return scanned.error();
    return true;
}

Result<LogReport> LogFile::check(const std::string& dir) {
    const std::vector<std::uint32_t> seqs = list_segments(dir);
    if (seqs.empty()) return errno_error("open " + dir + "/raft.log", ENOENT);
    LogFile log(-1, "");
    log.dir_ = dir;
    for (std::uint32_t seq : seqs) {
        const std::string path = segment_path(dir, seq);
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno_error("open " + path, errno);
        log.segments_.push_back({seq, path, fd, 0});
        log.fd_ = fd;
        log.path_ = path;
        log.report_ = LogReport{};
        log.report_.segments = log.segments_.size();
        if (auto header = log.read_header(); !header) return header.error();
        if (auto scanned = log.scan(); !scanned) return scanned.error();
        if (log.report_.damage_offset || (seq != seqs.back() && log.report_.torn_bytes > 0)) break;
    }
    return log.report_;
}

LogFile::~LogFile() {
    for (const Segment& segment : segments_) ::close(segment.fd);
}

// A new log gets its header through a synced temporary file and a rename, so
// raft.log never exists without one. A zero-length raft.log (left by an
// earlier version that had not written yet) gets it in place.
Result<int> LogFile::open_or_create(const std::string& dir, const std::string& path,
                                    const LogIdentity& identity,
                                    std::optional<std::pair<raft::LogIndex, raft::Term>> base) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        const std::string tmp = path + ".new";
        int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return errno_error("create " + tmp, errno);
        if (!write_file_header(fd, identity, base) || ::rename(tmp.c_str(), path.c_str()) != 0) {
            const int err = errno;
            ::close(fd);
            return errno_error("create " + path, err);
        }
        auto synced = sync_directory(dir);  // the new name must survive a crash too
        if (!synced) {
            ::close(fd);
            return synced.error();
        }
        return fd;
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + path, errno);
    struct stat st{};
    if (::fstat(fd, &st) == 0 && st.st_size == 0) {
        if (!write_file_header(fd, identity, base)) {
            const int err = errno;
            ::close(fd);
            return errno_error("write the header of " + path, err);
        }
    }
    return fd;
}

Result<bool> LogFile::read_header() {
    struct stat st{};
    if (::fstat(fd_, &st) != 0) return errno_error("stat " + path_, errno);
    report_.file_bytes = static_cast<std::uint64_t>(st.st_size);
    char header[segment_header_bytes] = {};
    const bool whole = report_.file_bytes >= file_header_bytes &&
                       read_fully(fd_, header, file_header_bytes, 0);
    if (!whole || std::string_view(header, magic.size()) != magic) {
        return Error{Status::corrupt,
                     path_ + " does not start with a Cabildo log header: it was written by an "
                             "older Cabildo (before log format 1) or is not a Raft log. Nothing "
                             "was changed. Rejoin this node with an empty data directory (README, "
                             "'Repairing a node')"};
    }
    const std::uint32_t format = get_u32(header + magic.size());
    const std::size_t size = format == segment_format ? segment_header_bytes : file_header_bytes;
    if (format == segment_format &&
        (report_.file_bytes < size || !read_fully(fd_, header, size, 0))) {
        return Error{Status::corrupt, path_ + ": the segment header is cut short. Nothing was "
                                              "changed (README, 'Repairing a node')"};
    }
    if (checksum(header, size - 4) != get_u32(header + size - 4)) {
        return Error{Status::corrupt, path_ + ": the file header's checksum does not match (the "
                                              "header is damaged). Nothing was changed. Restore "
                                              "this node's data directory from a backup, or rejoin "
                                              "it empty (README, 'Repairing a node')"};
    }
    if (format != log_format && format != segment_format) {
        return Error{Status::corrupt, path_ + " has log format " + std::to_string(format) +
                                          "; this cabildo-node reads formats 1 and 2 (use a "
                                          "newer version)"};
    }
    report_.identity = {codec::get_u64(header + 16), codec::get_u64(header + 24)};
    if (format == segment_format) {
        start_segment_at(codec::get_u64(header + 32), codec::get_u64(header + 40));
    }
    end_ = size;
    return true;
}

// A segment's header says where the log stood when it began: at base. If
// the log replayed so far ends there, the segment continues it; otherwise
// the segment began a new log after a snapshot (reset()), or the segments
// before it were compacted away: the log starts after base.
void LogFile::start_segment_at(raft::LogIndex base_index, raft::Term base_term) {
    if (last_index() == base_index && term_at_or_base(base_index) == base_term) return;
    slots_.clear();
    first_index_ = base_index + 1;
    base_term_ = base_term;
}

// Reads every record from the start, replaying the valid ones, and stops at
// the end of the records: a zero header, the end of the file, or damage
// (recorded in report_ as torn or not, see the class comment).
Result<bool> LogFile::scan() {
    const std::uint64_t size = report_.file_bytes;
    std::string payload;
    std::string damage;
    while (damage.empty()) {
        if (size - end_ < record_header_bytes) {
            auto zeros = all_zero(fd_, end_, size);
            if (!zeros) return errno_error("read " + path_, errno);
            if (!*zeros) damage = "a partial record header";
            break;
        }
        char header[record_header_bytes];
        if (!read_fully(fd_, header, record_header_bytes, end_)) {
            return errno_error("read " + path_, errno);
        }
        const std::uint32_t length = get_u32(header);
        if (length == 0 && get_u32(header + 4) == 0 && get_u32(header + 8) == 0) {
            auto next = find_record(end_);
            if (!next) return next.error();
            if (*next) damage = "a zeroed record header";
            break;
        }
        if (checksum(header, 8) != get_u32(header + 8)) {
            damage = "the record header's checksum does not match";
        } else if (length < min_payload_bytes || length > size - end_ - record_header_bytes) {
            damage = "a record length of " + std::to_string(length) + " bytes";
        } else {
            payload.resize(length);
            if (!read_fully(fd_, payload.data(), length, end_ + record_header_bytes)) {
                return errno_error("read " + path_, errno);
            }
            if (checksum(payload.data(), length) != get_u32(header + 4)) {
                damage = "the record's checksum does not match";
            } else if (!replay(payload, end_ + record_header_bytes)) {
                // Whole and checksummed, so not torn: corrupt or a bug.
                report_.damage_offset = end_;
                report_.damage = "a record that does not fit the log before it";
                break;
            } else {
                end_ += record_header_bytes + length;
                ++report_.records;
                continue;
            }
        }
    }
    return classify_damage(damage);
}

// A damaged record at end_ is a torn last write if no valid record follows
// it anywhere in the file; otherwise it is damage (report_.damage*).
Result<bool> LogFile::classify_damage(const std::string& damage) {
    if (!damage.empty()) {
        auto next = find_record(end_ + 1);
        if (!next) return next.error();
        if (*next) {
            report_.damage_offset = end_;
            report_.damage = damage;
            report_.next_record_offset = *next;
        } else {
            report_.torn_bytes = report_.file_bytes - end_;
        }
    }
    report_.records_end = end_;
    report_.last_index = last_index();
    report_.hard_state = hard_state_;
    return true;
}

// The offset of the first whole, checksummed record starting at or after
// `from`, if any. Only run when recovery met damage or a zero header, so
// its cost (a pass over the rest of the file) is paid on that path alone.
Result<std::optional<std::uint64_t>> LogFile::find_record(std::uint64_t from) const {
    const std::uint64_t size = report_.file_bytes;
    std::string chunk;
    std::string payload;
    for (std::uint64_t base = from; base + record_header_bytes <= size;
         base += chunk.size() - (record_header_bytes - 1)) {
        const auto want = std::min<std::uint64_t>(scan_chunk_bytes, size - base);
        chunk.resize(static_cast<std::size_t>(want));
        if (!read_fully(fd_, chunk.data(), chunk.size(), base)) {
            return errno_error("read " + path_, errno);
        }
        for (std::size_t i = 0; i + record_header_bytes <= chunk.size(); ++i) {
            const char* h = chunk.data() + i;
            const std::uint32_t length = get_u32(h);
            const std::uint64_t at = base + i;
            if (length < min_payload_bytes || length > size - at - record_header_bytes) continue;
            if (checksum(h, 8) != get_u32(h + 8)) continue;
            payload.resize(length);
            if (!read_fully(fd_, payload.data(), length, at + record_header_bytes)) {
                return errno_error("read " + path_, errno);
            }
            if (checksum(payload.data(), length) == get_u32(h + 4)) return {at};
        }
    }
    return std::optional<std::uint64_t>();
}

// After scan(): cuts a torn tail; refuses other damage unless repairing.
Result<bool> LogFile::finish_recovery(Recovery recovery) {
    if (report_.damage_offset) {
        if (recovery != Recovery::repair) return Error{Status::corrupt, damage_message()};
        return cut_at(*report_.damage_offset);
    }
    if (report_.torn_bytes > 0) return cut_at(end_);
    reserved_ = report_.file_bytes;  // zeros past the records: reserved space
    return true;
}

std::string LogFile::damage_message() const {
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    std::string text = path_ + " is damaged at offset " + std::to_string(*report_.damage_offset) +
                       " (" + report_.damage + ")";
    if (report_.next_record_offset) {
        text += ", and valid records follow at offset " +
                std::to_string(*report_.next_record_offset);
    }
    return text + ". This is not a torn last write: cutting the log there would lose synced "
                  "entries and votes, so nothing was changed and the node stops. Inspect it with "
                  "`cabildo-node --check --data-dir " + dir +
           "`. Then restore this data directory from a backup; or, with a healthy majority, rejoin "
           "the node empty, or cut the log at the damage with --repair-log, knowingly (entries "
           "and the vote after it are lost; README, 'Repairing a node')";
}

Result<bool> LogFile::cut_at(std::uint64_t offset) {
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ::fdatasync(fd_) != 0) {
        return errno_error("truncate " + path_ + " at offset " + std::to_string(offset), errno);
    }
    end_ = offset;
    reserved_ = offset;
    return true;
}

bool LogFile::replay(const std::string& payload, std::uint64_t at) {
    if (payload.size() < hard_state_bytes + batch_header_bytes) return false;
    const char* p = payload.data();
    const raft::HardState hard_state{codec::get_u64(p), codec::get_u64(p + 8),
                                     codec::get_u64(p + 16)};
    const raft::LogIndex first = codec::get_u64(p + hard_state_bytes);
    const std::uint32_t count = get_u32(p + hard_state_bytes + codec::u64_bytes);
    if (count > 0 && (first == 0 || first > last_index() + 1)) return false;
    std::vector<Slot> slots;
    std::size_t pos = hard_state_bytes + batch_header_bytes;
    const std::uint32_t seq = segments_.back().seq;
    for (std::uint32_t i = 0; i < count; ++i) {
        if (payload.size() - pos < 4) return false;
        const std::uint32_t value_size = get_u32(p + pos);
        pos += 4;
        if (value_size < codec::entry_header_bytes || payload.size() - pos < value_size) {
            return false;
        }
        slots.push_back({at + pos, value_size, seq, codec::get_u64(p + pos)});
        pos += value_size;
    }
    if (pos != payload.size()) return false;
    hard_state_ = hard_state;
    if (count > 0) replace_from(first, std::move(slots));
    return true;
}

// The slots of entries first.. replace the log from first on. Entries below
// first_index_ were compacted (they are committed, so the same): skipped,
// but for the one just below it, whose term is the base's.
void LogFile::replace_from(raft::LogIndex first, std::vector<Slot> slots) {
    std::size_t skip = 0;
    if (first < first_index_) {
        skip = std::min<std::size_t>(first_index_ - first, slots.size());
        if (first + skip - 1 == first_index_ - 1 && skip > 0) base_term_ = slots[skip - 1].term;
        first = first_index_;
    }
    slots_.resize(first - first_index_);
    slots_.insert(slots_.end(), slots.begin() + static_cast<std::ptrdiff_t>(skip), slots.end());
    if (!slots_.empty()) {
        segments_.back().max_index = std::max(segments_.back().max_index, last_index());
    }
}

// After replace_from(entries): the tail drops what they replaced and takes
// copies of those still in the log (any below first_index_ are not), then
// sheds its oldest entries beyond tail_bytes_max_.
void LogFile::remember_tail(const std::vector<raft::Entry>& entries) {
    const raft::LogIndex from = std::max(entries.front().index, first_index_);
    while (!tail_.empty() && tail_.back().index >= from) {
        tail_bytes_ -= tail_.back().data.size();
        tail_.pop_back();
    }
    if (!tail_.empty() && tail_.back().index + 1 != from) {  // not contiguous: start afresh
        tail_.clear();
        tail_bytes_ = 0;
    }
    for (const raft::Entry& entry : entries) {
        if (entry.index < from) continue;
        tail_.push_back(entry);
        tail_bytes_ += entry.data.size();
    }
    while (!tail_.empty() && tail_bytes_ > tail_bytes_max_) {
        tail_bytes_ -= tail_.front().data.size();
        tail_.pop_front();
    }
}

void LogFile::forget_tail_through(raft::LogIndex through) {
    while (!tail_.empty() && tail_.front().index <= through) {
        tail_bytes_ -= tail_.front().data.size();
        tail_.pop_front();
    }
}

raft::Term LogFile::term_at_or_base(raft::LogIndex index) const {
    if (index + 1 == first_index_) return base_term_;
    CABILDO_ASSERT(index >= first_index_ && index <= last_index(), "term_at outside the log");
    return slots_[index - first_index_].term;
}

int LogFile::segment_fd(std::uint32_t seq) const {
    for (const Segment& segment : segments_) {
        if (segment.seq == seq) return segment.fd;
    }
    CABILDO_ASSERT(false, "an entry in a segment that is gone");
    return -1;
}

std::vector<raft::Entry> LogFile::entries(raft::LogIndex lo, raft::LogIndex hi,
                                          std::size_t bytes_max) const {
    CABILDO_ASSERT(lo >= first_index_ && hi <= last_index() + 1, "entries() outside the log");
    std::vector<raft::Entry> out;
    std::size_t bytes = 0;
    std::string value;
    const raft::LogIndex cached_from = tail_first();
    for (raft::LogIndex index = lo; index < hi; ++index) {
        const Slot& slot = slots_[index - first_index_];
        bytes += slot.size - codec::entry_header_bytes;
        // At least one entry, then only while the total stays within bytes_max.
        if (!out.empty() && bytes > bytes_max) break;
        if (index >= cached_from) {
            out.push_back(tail_[index - cached_from]);
            continue;
        }
        value.resize(slot.size);
        // No error channel for reads (as with LMDB's): a log that cannot be
        // read back is fatal rather than answered wrongly.
        CABILDO_ASSERT(read_fully(segment_fd(slot.segment), value.data(), slot.size, slot.offset),
                       "cannot read the Raft log file");
        out.push_back(codec::decode_entry(index, value));
    }
    return out;
}

void LogFile::check_replace(const std::vector<raft::Entry>& entries,
                            raft::LogIndex commit_index) const {
    const raft::LogIndex from = entries.front().index;
    CABILDO_ASSERT(from >= first_index_, "persist below the first index");
    CABILDO_ASSERT(from <= last_index() + 1, "persist leaves a hole in the log");
    for (raft::LogIndex index = from; index <= last_index() && index <= commit_index; ++index) {
        CABILDO_ASSERT(index - from < entries.size(), "truncating a committed entry");
        CABILDO_ASSERT(term_at(index) == entries[index - from].term,
                       "rewriting a committed entry with another term");
    }
}

Result<bool> LogFile::append(const raft::HardState& hard_state,
                             const std::vector<raft::Entry>& entries,
                             raft::LogIndex commit_index) {
    if (!entries.empty()) check_replace(entries, commit_index);
    std::string record(record_header_bytes, '\0');
    codec::append_u64(record, hard_state.term);
    codec::append_u64(record, hard_state.voted_for);
    codec::append_u64(record, hard_state.commit_index);
    codec::append_u64(record, entries.empty() ? 0 : entries.front().index);
    append_u32(record, static_cast<std::uint32_t>(entries.size()));
    std::vector<Slot> slots;
    slots.reserve(entries.size());
    const std::uint32_t seq = segments_.back().seq;
    for (const raft::Entry& entry : entries) {
        const std::string value = codec::encode_entry(entry);
        append_u32(record, static_cast<std::uint32_t>(value.size()));
        slots.push_back({end_ + record.size(), static_cast<std::uint32_t>(value.size()), seq,
                         entry.term});
        record += value;
    }
    const std::size_t length = record.size() - record_header_bytes;
    if (length > std::numeric_limits<std::uint32_t>::max()) {
        return Error{Status::too_large, "a log write over 4 GiB"};
    }
    put_u32(record.data(), static_cast<std::uint32_t>(length));
    put_u32(record.data() + 4, checksum(record.data() + record_header_bytes, length));
    put_u32(record.data() + 8, checksum(record.data(), 8));
    if (!reserve(end_ + record.size()) || !write_fully(fd_, record.data(), record.size(), end_) ||
        ::fdatasync(fd_) != 0) {
        const int err = errno;
        // Best effort: drop the partial record and whatever was reserved.
        if (::ftruncate(fd_, static_cast<off_t>(end_)) == 0) reserved_ = end_;
        return errno_error("append to " + path_, err);
    }
    end_ += record.size();
    hard_state_ = hard_state;
    if (!entries.empty()) {
        replace_from(entries.front().index, std::move(slots));
        remember_tail(entries);
    }
    if (end_ >= segment_bytes_max_) {
        // A failed roll is retried at the next append; this one is durable.
        (void)start_segment(last_index(), term_at_or_base(last_index()));
    }
    return true;
}

// Creates the next segment, beginning at base, and makes it the one appended
// to. The previous one is complete: its reserved zeros are cut off.
Result<bool> LogFile::start_segment(raft::LogIndex base_index, raft::Term base_term) {
    const std::uint32_t seq = segments_.back().seq + 1;
    const std::string path = segment_path(dir_, seq);
    auto fd = open_or_create(dir_, path, identity_, std::make_pair(base_index, base_term));
    if (!fd) return fd.error();
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) {
        ::close(*fd);
        ::unlink(path.c_str());
        return errno_error("truncate " + path_, errno);
    }
    segments_.push_back({seq, path, *fd, 0});
    fd_ = *fd;
    path_ = path;
    end_ = segment_header_bytes;
    reserved_ = segment_header_bytes;
    return true;
}

void LogFile::compact(raft::LogIndex through, raft::LogIndex commit_index) {
    if (through < first_index_) return;
    CABILDO_ASSERT(through <= last_index(), "compacting past the log");
    CABILDO_ASSERT(through <= commit_index, "compacting uncommitted entries");
    base_term_ = term_at_or_base(through);
    slots_.erase(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(through + 1 -
                                                                              first_index_));
    first_index_ = through + 1;
    forget_tail_through(through);
    // A segment may go once no entry it holds is still in the log. The
    // newest always stays: it is the one appended to. A dropped segment is
    // renamed out of the log at once (*.deleted, cheap) and unlinked on a
    // thread of its own: unlinking a 64 MiB file takes milliseconds, and
    // one compaction may drop several. open() removes leftovers.
    std::vector<std::string> doomed;
    while (segments_.size() > 1 && segments_.front().max_index <= through) {
        const Segment& old = segments_.front();
        ::close(old.fd);
        const std::string gone = old.path + ".deleted";
        if (::rename(old.path.c_str(), gone.c_str()) == 0) doomed.push_back(gone);
        segments_.erase(segments_.begin());
    }
    if (!doomed.empty()) {
        std::thread([doomed = std::move(doomed)] {
            for (const std::string& path : doomed) ::unlink(path.c_str());
        }).detach();
    }
}

Result<bool> LogFile::reset(raft::LogIndex base_index, raft::Term base_term,
                            const raft::HardState& hard_state) {
    auto started = start_segment(base_index, base_term);
    if (!started) return started.error();
    slots_.clear();
    tail_.clear();
    tail_bytes_ = 0;
    first_index_ = base_index + 1;
    base_term_ = base_term;
    auto written = append(hard_state, {}, 0);
    if (!written) return written.error();
    while (segments_.size() > 1) {
        ::close(segments_.front().fd);
        ::unlink(segments_.front().path.c_str());
        segments_.erase(segments_.begin());
    }
    return sync_directory(dir_);
}

// Makes the file at least `bytes` long, zero-filled, in reserve_step_bytes
// steps. A write inside the file's size changes no metadata, so its
// fdatasync is one flush of the data; a write that grows the file also
// commits the file system's journal. Zeros (not fallocate, whose unwritten
// extents need the journal on first write) make the steps rare. False with
// errno set if the disk refuses.
bool LogFile::reserve(std::uint64_t bytes) {
    if (bytes <= reserved_) return true;
    static const std::string zeros(64 << 10, '\0');
    const std::uint64_t target = (bytes / reserve_step_bytes + 1) * reserve_step_bytes;
    for (std::uint64_t at = reserved_; at < target; at += zeros.size()) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), target - at));
        if (!write_fully(fd_, zeros.data(), n, at)) return false;
    }
    reserved_ = target;
    return true;
}

}  // namespace cabildo::storage
