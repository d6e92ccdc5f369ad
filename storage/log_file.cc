// LogFile: see log_file.h.
#include "storage/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "node/raft/assert.h"
#include "storage/codec.h"
#include "storage/posix_file.h"

namespace cabildo::storage {

namespace {

constexpr std::string_view magic = "CABILDOL";
constexpr std::uint32_t log_format = 1;
constexpr std::size_t file_header_bytes = 36;    // magic, format, zero, cluster, node, crc
constexpr std::size_t record_header_bytes = 12;  // payload_len, payload crc, header crc
constexpr std::size_t hard_state_bytes = 3 * codec::u64_bytes;
constexpr std::size_t batch_header_bytes = codec::u64_bytes + 4;  // first, count
constexpr std::size_t min_payload_bytes = hard_state_bytes + batch_header_bytes;
// find_record() reads this much at a time.
constexpr std::size_t scan_chunk_bytes = 1 << 20;
// The file grows in zero-filled steps of this size (see reserve()).
constexpr std::uint64_t reserve_step_bytes = 512 << 10;

void append_u32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

std::uint32_t get_u32(const char* in) {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(in[i]);
    return value;
}

void put_u32(char* out, std::uint32_t value) {
    for (int i = 3; i >= 0; --i, value >>= 8) out[i] = static_cast<char>(value & 0xff);
}

// zlib's CRC-32 (the common polynomial); records are well under 4 GiB.
std::uint32_t checksum(const char* data, std::size_t size) {
    const auto start = crc32(0L, Z_NULL, 0);
    return static_cast<std::uint32_t>(
        crc32(start, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

// pread/pwrite until done: false with errno set on failure or end of file.
bool read_fully(int fd, char* out, std::size_t size, std::uint64_t at) {
    while (size > 0) {
        ssize_t n = ::pread(fd, out, size, static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        out += n;
        size -= static_cast<std::size_t>(n);
        at += static_cast<std::uint64_t>(n);
    }
    return true;
}

bool write_fully(int fd, const char* data, std::size_t size, std::uint64_t at) {
    while (size > 0) {
        ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
        at += static_cast<std::uint64_t>(n);
    }
    return true;
}

std::string encode_file_header(const LogIdentity& identity) {
    std::string header(magic);
    append_u32(header, log_format);
    append_u32(header, 0);
    codec::append_u64(header, identity.cluster_id);
    codec::append_u64(header, identity.node_id);
    append_u32(header, checksum(header.data(), header.size()));
    return header;
}

// Writes and syncs the file header at offset 0; false with errno set.
bool write_file_header(int fd, const LogIdentity& identity) {
    const std::string header = encode_file_header(identity);
    return write_fully(fd, header.data(), header.size(), 0) && ::fdatasync(fd) == 0;
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
    const std::string path = dir + "/raft.log";
    auto fd = open_or_create(dir, path, identity);
    if (!fd) return fd.error();
    std::unique_ptr<LogFile> log(new LogFile(*fd, path));
    if (auto header = log->read_header(); !header) return header.error();
    const LogIdentity& found = log->report_.identity;
    if (found.cluster_id != identity.cluster_id || found.node_id != identity.node_id) {
        return Error{Status::bad_request,
                     path + " belongs to node " + std::to_string(found.node_id) + " of cluster " +
                         std::to_string(found.cluster_id) + ", not to node " +
                         std::to_string(identity.node_id) + " of cluster " +
                         std::to_string(identity.cluster_id) +
                         ": check --id, --data-dir and --cluster-id (nothing was changed)"};
    }
    if (auto scanned = log->scan(); !scanned) return scanned.error();
    if (auto done = log->finish_recovery(recovery); !done) return done.error();
    return log;
}

Result<LogReport> LogFile::check(const std::string& dir) {
    const std::string path = dir + "/raft.log";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + path, errno);
    LogFile log(fd, path);
    if (auto header = log.read_header(); !header) return header.error();
    if (auto scanned = log.scan(); !scanned) return scanned.error();
    return log.report_;
}

LogFile::~LogFile() {
    ::close(fd_);
}

// A new log gets its header through a synced temporary file and a rename, so
// raft.log never exists without one. A zero-length raft.log (left by an
// earlier version that had not written yet) gets it in place.
Result<int> LogFile::open_or_create(const std::string& dir, const std::string& path,
                                    const LogIdentity& identity) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        const std::string tmp = path + ".new";
        int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return errno_error("create " + tmp, errno);
        if (!write_file_header(fd, identity) || ::rename(tmp.c_str(), path.c_str()) != 0) {
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
        if (!write_file_header(fd, identity)) {
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
    char header[file_header_bytes] = {};
    const bool whole = report_.file_bytes >= file_header_bytes &&
                       read_fully(fd_, header, file_header_bytes, 0);
    if (!whole || std::string_view(header, magic.size()) != magic) {
        return Error{Status::corrupt,
                     path_ + " does not start with a Cabildo log header: it was written by an "
                             "older Cabildo (before log format 1) or is not a Raft log. Nothing "
                             "was changed. Rejoin this node with an empty data directory (README, "
                             "'Repairing a node')"};
    }
    if (checksum(header, file_header_bytes - 4) != get_u32(header + file_header_bytes - 4)) {
        return Error{Status::corrupt, path_ + ": the file header's checksum does not match (the "
                                              "header is damaged). Nothing was changed. Restore "
                                              "this node's data directory from a backup, or rejoin "
                                              "it empty (README, 'Repairing a node')"};
    }
    const std::uint32_t format = get_u32(header + magic.size());
    if (format != log_format) {
        return Error{Status::corrupt, path_ + " has log format " + std::to_string(format) +
                                          "; this cabildo-node reads format " +
                                          std::to_string(log_format) + " (use a newer version)"};
    }
    report_.identity = {codec::get_u64(header + 16), codec::get_u64(header + 24)};
    end_ = file_header_bytes;
    return true;
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
    for (std::uint32_t i = 0; i < count; ++i) {
        if (payload.size() - pos < 4) return false;
        const std::uint32_t value_size = get_u32(p + pos);
        pos += 4;
        if (value_size < codec::entry_header_bytes || payload.size() - pos < value_size) {
            return false;
        }
        slots.push_back({at + pos, value_size, codec::get_u64(p + pos)});
        pos += value_size;
    }
    if (pos != payload.size()) return false;
    hard_state_ = hard_state;
    if (count > 0) {
        slots_.resize(first - 1);
        slots_.insert(slots_.end(), slots.begin(), slots.end());
    }
    return true;
}

std::vector<raft::Entry> LogFile::entries(raft::LogIndex lo, raft::LogIndex hi,
                                          std::size_t bytes_max) const {
    CABILDO_ASSERT(lo >= 1 && hi <= last_index() + 1, "entries() outside the log");
    std::vector<raft::Entry> out;
    std::size_t bytes = 0;
    std::string value;
    for (raft::LogIndex index = lo; index < hi; ++index) {
        const Slot& slot = slots_[index - 1];
        bytes += slot.size - codec::entry_header_bytes;
        // At least one entry, then only while the total stays within bytes_max.
        if (!out.empty() && bytes > bytes_max) break;
        value.resize(slot.size);
        // No error channel for reads (as with LMDB's): a log that cannot be
        // read back is fatal rather than answered wrongly.
        CABILDO_ASSERT(read_fully(fd_, value.data(), slot.size, slot.offset),
                       "cannot read the Raft log file");
        out.push_back(codec::decode_entry(index, value));
    }
    return out;
}

void LogFile::check_replace(const std::vector<raft::Entry>& entries,
                            raft::LogIndex commit_index) const {
    const raft::LogIndex from = entries.front().index;
    CABILDO_ASSERT(from >= 1, "an entry with index 0");
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
    for (const raft::Entry& entry : entries) {
        const std::string value = codec::encode_entry(entry);
        append_u32(record, static_cast<std::uint32_t>(value.size()));
        slots.push_back({end_ + record.size(), static_cast<std::uint32_t>(value.size()),
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
        slots_.resize(entries.front().index - 1);
        slots_.insert(slots_.end(), slots.begin(), slots.end());
    }
    return true;
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
