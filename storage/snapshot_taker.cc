// SnapshotTaker: see snapshot_taker.h.
#include "storage/snapshot_taker.h"

#include <unistd.h>

#include <cerrno>

#include "node/raft/assert.h"
#include "storage/databases.h"
#include "storage/posix_file.h"
#include "storage/storage.h"

namespace cabildo::storage {

namespace {
// The final name, durably. This and deleting the old files wait for the
// file system's journal, which under load took 100-360 ms on the loop
// (measured at 1M keys): they belong on this thread.
Result<bool> name_snapshot(const std::string& path, const std::string& dir,
                           const SnapshotInfo& info) {
    const std::string target = dir + "/" + snapshot_file_name(info.meta.index, info.meta.term);
    if (::rename(path.c_str(), target.c_str()) != 0) {
        const int err = errno;
        ::unlink(path.c_str());
        return errno_error("rename " + path + " to " + target, err);
    }
    return sync_directory(dir);
}
}  // namespace

struct SnapshotTaker::Job {
    std::atomic<bool> cancel{false};
    std::atomic<bool> done{false};
    std::optional<Result<SnapshotInfo>> result;  // written by the thread before done
};

void SnapshotTaker::start(Storage& storage, raft::Membership members,
                          std::uint64_t bytes_per_second) {
    CABILDO_ASSERT(!running(), "a snapshot is already being taken");
    job_ = std::make_shared<Job>();
    started_ = std::chrono::steady_clock::now();
    const Databases& dbs = storage.databases();
    auto pin = std::make_shared<Env::ReaderPin>(*dbs.state_env);
    const std::uint64_t cluster = storage.cluster_id();
    const std::string path = storage.snapshot_part_path();
    const std::string dir = storage.snapshots_dir();
    thread_ = std::thread([job = job_, pin, &dbs, cluster, members = std::move(members), path,
                           dir, bytes_per_second] {
        auto written =
            write_snapshot(dbs, cluster, members, path, &job->cancel, bytes_per_second);
        if (written) {
            auto named = name_snapshot(path, dir, *written);
            if (!named) written = named.error();
        }
        // What adopting it would delete: the one before the loop's newest.
        if (written) Storage::remove_old_snapshots(dir, 2);
        job->result = std::move(written);
        job->done.store(true);
    });
}

std::optional<Result<SnapshotInfo>> SnapshotTaker::poll() {
    if (!running() || !job_->done.load()) return std::nullopt;
    thread_.join();
    auto result = std::move(job_->result);
    job_.reset();
    return result;
}

void SnapshotTaker::cancel() {
    if (!running()) return;
    job_->cancel.store(true);
    thread_.join();
    job_.reset();
}

}  // namespace cabildo::storage
