// SnapshotTaker: writes a snapshot of a Storage's applied state on a thread
// of its own, so the node's loop keeps its timing while it runs (one read
// transaction gives the consistent view; applying goes on meanwhile).
//
// The loop starts it, polls it once per turn, and adopts the finished file
// (Storage::adopt_snapshot), which the thread has already given its final
// name in snapshots_dir(), synced. While it runs the state's map cannot grow (an
// apply that needs a bigger map waits for it, see Env::ReaderPin), and the
// state must not be replaced: cancel() first. Not thread-safe itself: the
// loop owns it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "node/raft/result.h"
#include "storage/snapshot_file.h"

namespace cabildo::storage {

class Storage;

class SnapshotTaker {
public:
    SnapshotTaker() = default;
    ~SnapshotTaker() { cancel(); }
    SnapshotTaker(const SnapshotTaker&) = delete;
    SnapshotTaker& operator=(const SnapshotTaker&) = delete;

    bool running() const { return thread_.joinable(); }
    // Starts writing storage's state to storage.snapshot_part_path().
    // Precondition: !running().
    // Written at most at bytes_per_second (0: no limit; write_snapshot).
    void start(Storage& storage, raft::Membership members,
               std::uint64_t bytes_per_second = 0);
    // nullopt while running; then the result once (the file is at
    // snapshots_dir()/snapshot_file_name(index, term), to adopt), and the
    // taker is idle again.
    std::optional<Result<SnapshotInfo>> poll();
    // Stops a running snapshot and waits for its thread; its file is gone.
    void cancel();
    std::chrono::steady_clock::duration elapsed() const {
        return std::chrono::steady_clock::now() - started_;
    }

private:
    struct Job;
    std::shared_ptr<Job> job_;
    std::thread thread_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace cabildo::storage
