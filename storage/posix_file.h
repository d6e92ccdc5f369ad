// Small POSIX file helpers shared by LogFile, StateGuard and the snapshot
// files: errors as Results, syncing a directory so that a file created or
// renamed in it survives a crash, pacing a long write's writeback.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "node/raft/result.h"

namespace cabildo::storage {

// storage_full for ENOSPC, EDQUOT and EFBIG (a disk or quota without room),
// io_error for anything else; detail is "what: strerror(err)".
Error errno_error(const std::string& what, int err);

// fsync of the directory itself.
Result<bool> sync_directory(const std::string& dir);

// Big-endian u32 into/out of bytes.
void append_u32(std::string& out, std::uint32_t value);
std::uint32_t get_u32(const char* in);
void put_u32(char* out, std::uint32_t value);
// zlib's CRC-32 (the common polynomial).
std::uint32_t checksum(const char* data, std::size_t size);
// pread/pwrite until done: false with errno set on failure or end of file.
bool read_fully(int fd, char* out, std::size_t size, std::uint64_t at);
bool write_fully(int fd, const char* data, std::size_t size, std::uint64_t at);

// Paces the writeback of a long sequential write (a snapshot, a backup).
// Every window_bytes it starts writing out what was just written and, if
// `wait`, waits for the window before it, so at most two windows are dirty.
// Otherwise the final fdatasync writes hundreds of megabytes at once, and
// every other sync on the disk (the Raft log's, on every node of a local
// cluster) queues behind it: 100-160 ms write stalls, measured. RocksDB's
// bytes_per_sync does the same. Best effort: the final fdatasync reports
// errors. Without `wait` it never blocks long (for the node's loop).
class WriteBehind;

// Keeps a long write at or under `bytes_per_second` on average (0: no
// limit): pace() sleeps until the bytes written so far are on schedule. A
// snapshot written as fast as the disk goes saturates it, and every
// node's log sync on that disk waits (TiKV limits snapshot I/O likewise).
class Pacer {
public:
    explicit Pacer(std::uint64_t bytes_per_second)
        : rate_(bytes_per_second), start_(std::chrono::steady_clock::now()) {}
    void pace(std::uint64_t bytes_done) const {
        if (rate_ == 0) return;
        std::this_thread::sleep_until(
            start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(static_cast<double>(bytes_done) / rate_)));
    }

private:
    std::uint64_t rate_;
    std::chrono::steady_clock::time_point start_;
};

class WriteBehind {
public:
    static constexpr std::uint64_t window_bytes = 4 << 20;
    WriteBehind(int fd, bool wait) : fd_(fd), wait_(wait) {}
    // The file's bytes [0, end) are written.
    void wrote(std::uint64_t end);

private:
    int fd_;
    bool wait_;
    std::uint64_t previous_ = 0;  // the range last started: [previous_, started_)
    std::uint64_t started_ = 0;   // writeback started for [0, started_)
};

}  // namespace cabildo::storage
