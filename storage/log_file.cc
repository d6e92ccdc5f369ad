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

constexpr std::size_t header_bytes = 8;  // payload_len u32, crc32 u32
constexpr std::size_t hard_state_bytes = 3 * codec::u64_bytes;
constexpr std::size_t batch_header_bytes = codec::u64_bytes + 4;  // first, count
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

}  // namespace

Result<std::unique_ptr<LogFile>> LogFile::open(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error{Status::io_error, "create " + dir + ": " + ec.message()};
    const std::string path = dir + "/raft.log";
    const bool existed = std::filesystem::exists(path, ec);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("open " + path, errno);
    std::unique_ptr<LogFile> log(new LogFile(fd, path));
    if (!existed) {
        auto synced = sync_directory(dir);  // the new file's name must survive a crash too
        if (!synced) return synced.error();
    }
    auto recovered = log->recover();
    if (!recovered) return recovered.error();
    return log;
}

LogFile::~LogFile() {
    ::close(fd_);
}

Result<bool> LogFile::recover() {
    struct stat st{};
    if (::fstat(fd_, &st) != 0) return errno_error("stat " + path_, errno);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::string payload;
    while (size - end_ >= header_bytes) {
        char header[header_bytes];
        if (!read_fully(fd_, header, header_bytes, end_)) {
            return errno_error("read " + path_, errno);
        }
        const std::uint32_t length = get_u32(header);
        if (length == 0 && get_u32(header + 4) == 0) {
            reserved_ = size;  // zeros: space reserved past the last record
            return true;
        }
        if (length > size - end_ - header_bytes) break;  // torn: the rest never made it
        payload.resize(length);
        if (!read_fully(fd_, payload.data(), length, end_ + header_bytes)) {
            return errno_error("read " + path_, errno);
        }
        if (checksum(payload.data(), length) != get_u32(header + 4)) break;
        if (!replay(payload, end_ + header_bytes)) break;
        end_ += header_bytes + length;
    }
    reserved_ = end_;
    if (end_ == size) return true;
    // A write that was cut short: never synced, so never acknowledged.
    torn_bytes_ = size - end_;
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0 || ::fdatasync(fd_) != 0) {
        return errno_error("truncate the torn tail of " + path_, errno);
    }
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
    std::string record(header_bytes, '\0');
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
    const std::size_t length = record.size() - header_bytes;
    if (length > std::numeric_limits<std::uint32_t>::max()) {
        return Error{Status::too_large, "a log write over 4 GiB"};
    }
    put_u32(record.data(), static_cast<std::uint32_t>(length));
    put_u32(record.data() + 4, checksum(record.data() + header_bytes, length));
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
