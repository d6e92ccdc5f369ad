// Snapshot transfer: the shell's half of InstallSnapshot (Raft §7). The
// core says which snapshot a follower needs (an install_snapshot message);
// the leader's SnapshotSender streams that file to it in chunks, with a
// window of unacknowledged bytes (flow control), going back to the last
// acknowledged offset when the follower asks (a lost or corrupt chunk);
// the follower's SnapshotReceiver writes verified chunks to a temporary
// file and, once the file is whole and its own checksums pass, hands it
// over. A transfer interrupted by a crash of either side starts again from
// offset 0 (the receiver's temporary file does not survive a restart); it
// is never installed half way: the follower steps install_snapshot into its
// core only once it holds the whole, checked file.
//
// Neither touches sockets: the node sends the pieces they return.
#pragma once

#include <chrono>
#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/types.h"
#include "storage/posix_file.h"
#include "storage/snapshot_file.h"
#include "wire/snapshot_messages.h"

namespace cabildo::node {

using SnapshotClock = std::chrono::steady_clock;

class SnapshotSender {
public:
    static constexpr std::size_t chunk_bytes = 1 << 20;
    static constexpr std::uint64_t window_bytes = 8 << 20;  // unacknowledged, per follower
    static constexpr auto ack_timeout = std::chrono::seconds(10);

    explicit SnapshotSender(raft::NodeId self) : self_(self) {}
    ~SnapshotSender();

    // Starts sending the file of message.snapshot (at path) to message.to,
    // unless that transfer is already under way. False if the file cannot
    // be opened.
    bool start(const raft::Message& message, const std::string& path,
               SnapshotClock::time_point now);
    void on_ack(const wire::SnapshotPiece& ack, SnapshotClock::time_point now);
    // The chunks that may go now, within each window and the rate.
    std::vector<wire::SnapshotPiece> chunks_to_send(SnapshotClock::time_point now);
    // Each transfer sends at most this fast (0: no limit); the follower
    // writes what it gets, on a disk its log shares.
    void set_rate(std::uint64_t bytes_per_second) { rate_ = bytes_per_second; }
    // Transfers with no acknowledgement for ack_timeout: given up (the
    // caller reports them to the core) and dropped.
    std::vector<raft::NodeId> expire(SnapshotClock::time_point now);
    // Transfers fully acknowledged since the last call, dropped: their
    // install_snapshot messages, to send again (the first may have been
    // lost while the file was on its way; a repeat is harmless).
    std::vector<raft::Message> take_finished();
    void stop_all();
    std::size_t active() const { return out_.size(); }
    std::uint64_t bytes_sent() const { return bytes_sent_; }
    // Tests: the nth chunk sent (from 1) goes out damaged.
    void set_corrupt_chunk(std::uint64_t nth) { corrupt_chunk_ = nth; }

private:
    struct Out {
        raft::Message message;  // the core's install_snapshot
        raft::Term term = 0;
        raft::SnapshotMeta snapshot;
        int fd = -1;
        std::uint64_t total = 0;
        std::uint64_t sent = 0;   // bytes sent (from 0)
        std::uint64_t acked = 0;  // bytes the follower holds
        SnapshotClock::time_point last_progress;
        SnapshotClock::time_point started;
    };
    bool within_rate(const Out& out, SnapshotClock::time_point now) const;
    void close(Out& out);

    raft::NodeId self_;
    std::map<raft::NodeId, Out> out_;
    std::uint64_t bytes_sent_ = 0;
    std::uint64_t chunks_sent_ = 0;
    std::uint64_t corrupt_chunk_ = 0;
    std::uint64_t rate_ = 0;  // bytes per second per transfer; 0: no limit
};

class SnapshotReceiver {
public:
    // dir: where the temporary file goes (Storage::snapshots_dir()).
    SnapshotReceiver(raft::NodeId self, std::string dir);
    ~SnapshotReceiver();

    // Takes a chunk; returns the acknowledgement to send back.
    wire::SnapshotPiece on_chunk(const wire::SnapshotPiece& chunk);
    // Once the last chunk is in, the file is synced and checked end to end
    // on a thread of its own (308 MB took the loop 0.5 s). True once, when
    // that check has passed since the last call.
    bool poll();
    // The whole file, synced and checked, for (index, term): its path.
    std::optional<std::string> complete(raft::LogIndex index, raft::Term term) const;
    // The file was installed (moved away) or is not wanted any more.
    void clear();
    std::uint64_t chunks_refused() const { return chunks_refused_; }

private:
    wire::SnapshotPiece ack(const wire::SnapshotPiece& chunk) const;
    void finish();
    struct Check {
        std::atomic<bool> done{false};
        std::optional<Result<storage::SnapshotInfo>> result;  // set before done
    };

    raft::NodeId self_;
    std::string path_;
    int fd_ = -1;
    storage::WriteBehind write_behind_{-1, false};  // on the loop: never waits
    raft::NodeId from_ = raft::node_none;
    raft::LogIndex index_ = 0;
    raft::Term snapshot_term_ = 0;
    std::uint64_t total_ = 0;
    std::uint64_t received_ = 0;
    bool complete_ = false;
    // The check of the whole file, running; dropped (left to finish on its
    // own) if the transfer is cleared meanwhile.
    std::shared_ptr<Check> checking_;
    std::uint64_t chunks_refused_ = 0;
};

}  // namespace cabildo::node
