// POSIX file helpers: see posix_file.h.
#include "storage/posix_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace cabildo::storage {

Error errno_error(const std::string& what, int err) {
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    return Error{full ? Status::storage_full : Status::io_error, what + ": " + std::strerror(err)};
}

Result<bool> sync_directory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_error("fsync " + dir, err);
    return true;
}

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

std::uint32_t checksum(const char* data, std::size_t size) {
    const auto start = crc32(0L, Z_NULL, 0);
    return static_cast<std::uint32_t>(
        crc32(start, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

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

void WriteBehind::wrote(std::uint64_t end) {
    if (end < started_ + window_bytes) return;
    if (wait_ && started_ > previous_) {
        (void)::sync_file_range(fd_, static_cast<off_t>(previous_),
                                static_cast<off_t>(started_ - previous_),
                                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                    SYNC_FILE_RANGE_WAIT_AFTER);
    }
    (void)::sync_file_range(fd_, static_cast<off_t>(started_),
                            static_cast<off_t>(end - started_), SYNC_FILE_RANGE_WRITE);
    previous_ = started_;
    started_ = end;
}

}  // namespace cabildo::storage
