// DirLock: see dir_lock.h.
#include "storage/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "storage/posix_file.h"

namespace cabildo::storage {

namespace {

std::string holder_of(int fd) {
    char text[32] = {};
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    std::string pid = n > 0 ? std::string(text, static_cast<std::size_t>(n)) : std::string();
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return pid.empty() ? "another process" : "process " + pid;
}

}  // namespace

Result<std::unique_ptr<DirLock>> DirLock::acquire(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error{Status::io_error, "create " + dir + ": " + ec.message()};
    const std::string path = dir + "/lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("open " + path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err == EWOULDBLOCK) {
            const std::string holder = holder_of(fd);
            ::close(fd);
            return Error{Status::locked, dir + " is in use by " + holder +
                                             " (it holds " + path +
                                             "); one node per data directory. Nothing was "
                                             "changed: stop that node first, or pick another "
                                             "--data-dir"};
        }
        ::close(fd);
        return errno_error("lock " + path, err);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        const int err = errno;
        ::close(fd);
        return errno_error("write " + path, err);
    }
    return std::unique_ptr<DirLock>(new DirLock(fd));
}

DirLock::~DirLock() {
    ::close(fd_);  // releases the flock
}

}  // namespace cabildo::storage
