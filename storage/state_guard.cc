// StateGuard: see state_guard.h.
#include "storage/state_guard.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "storage/posix_file.h"

namespace cabildo::storage {

namespace {

namespace fs = std::filesystem;

// This boot's id. If the kernel does not say, a fresh random one: then any
// crash looks like a reboot, which is safe (it only costs a re-apply).
std::string system_boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    if (in >> id && !id.empty()) return id;
    std::random_device random;
    return "unknown-" + std::to_string(random()) + std::to_string(random());
}

Result<bool> write_synced(const std::string& path, const std::string& text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("open " + path, errno);
    ssize_t written = ::write(fd, text.data(), text.size());
    int err = errno;
    if (written == static_cast<ssize_t>(text.size()) && ::fsync(fd) != 0) {
        err = errno;
        written = -1;
    }
    ::close(fd);
    if (written != static_cast<ssize_t>(text.size())) return errno_error("write " + path, err);
    return true;
}

}  // namespace

StateGuard::StateGuard(std::string dir, std::string boot_id)
    : dir_(std::move(dir)), boot_id_(boot_id.empty() ? system_boot_id() : std::move(boot_id)) {}

Result<bool> StateGuard::prepare() {
    std::error_code ec;
    if (fs::exists(dir_ + "/data.mdb", ec)) {
        return Error{Status::bad_request,
                     dir_ + " holds the older one-environment layout (data.mdb); "
                            "start this node from an empty data directory"};
    }
    if (!fs::exists(state_dir() + "/data.mdb", ec)) return true;  // a fresh node: nothing to trust
    std::ifstream in(marker_path());
    std::string owner;
    if (!(in >> owner)) return discard("its state-in-use marker is missing or unreadable");
    if (owner == clean_mark || owner == boot_id_) return true;
    // In use when another boot ended: unsynced commits may be lost or torn.
    return discard("the system restarted (boot " + owner + " ended) while it was in use");
}

Result<bool> StateGuard::discard(const std::string& reason) {
    std::error_code ec;
    fs::remove_all(state_dir(), ec);
    if (ec) return Error{Status::io_error, "remove " + state_dir() + ": " + ec.message()};
    discarded_ = true;
    reason_ = reason;
    return true;
}

Result<bool> StateGuard::mark_in_use() {
    return write_marker(boot_id_);
}

Result<bool> StateGuard::mark_clean() {
    return write_marker(clean_mark);
}

// Through a synced temporary file and a rename: a crash leaves the old
// marker or the new one, never a half-written one.
Result<bool> StateGuard::write_marker(const std::string& text) {
    const std::string tmp = marker_path() + ".tmp";
    auto written = write_synced(tmp, text + "\n");
    if (!written) return written;
    if (::rename(tmp.c_str(), marker_path().c_str()) != 0) {
        return errno_error("rename " + tmp, errno);
    }
    return sync_directory(dir_);
}

}  // namespace cabildo::storage
