// POSIX file helpers: see posix_file.h.
#include "storage/posix_file.h"

#include <fcntl.h>
#include <unistd.h>

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

}  // namespace cabildo::storage
