// DirLock: one process per data directory.
//
// Two nodes on one data directory would interleave writes to the same log
// and state (and the second would remove the first's state-in-use marker on
// its way out). So a node holds an exclusive flock(2) on <dir>/lock for as
// long as it runs; the kernel releases it when the process dies, however it
// dies, so a crash never leaves a stale lock. The file holds the holder's pid,
// for the message a second process prints. Taken before anything in the
// directory is read or written.
#pragma once

#include <memory>
#include <string>

#include "node/raft/result.h"

namespace cabildo::storage {

class DirLock {
public:
    // `locked` if another process holds it, naming that process; then
    // nothing in dir was changed (the lock file's content included).
    static Result<std::unique_ptr<DirLock>> acquire(const std::string& dir);
    ~DirLock();
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

private:
    explicit DirLock(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace cabildo::storage
