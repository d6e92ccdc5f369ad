// SnapshotTaker: see snapshot_taker.h.
#include "storage/snapshot_taker.h"

#include <unistd.h>

#include "node/raft/assert.h"
#include "storage/databases.h"
#include "storage/storage.h"

namespace cabildo::storage {

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
    thread_ = std::thread([job = job_, pin, &dbs, cluster, members = std::move(members), path,
                           bytes_per_second] {
        job->result = write_snapshot(dbs, cluster, members, path, &job->cancel, bytes_per_second);
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
