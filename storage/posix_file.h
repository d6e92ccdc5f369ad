// Small POSIX file helpers shared by LogFile and StateGuard (internal to
// storage/): errors as Results, and syncing a directory so that a file
// created or renamed in it survives a crash.
#pragma once

#include <string>

#include "node/raft/result.h"

namespace cabildo::storage {

// storage_full for ENOSPC, EDQUOT and EFBIG (a disk or quota without room),
// io_error for anything else; detail is "what: strerror(err)".
Error errno_error(const std::string& what, int err);

// fsync of the directory itself.
Result<bool> sync_directory(const std::string& dir);

}  // namespace cabildo::storage
