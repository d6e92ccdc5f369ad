// Small POSIX file helpers shared by LogFile and StateGuard (internal to
// storage/): errors as Results, and syncing a directory so that a file
// created or renamed in it survives a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

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

}  // namespace cabildo::storage
