// Node: snapshots of the applied state, log compaction and InstallSnapshot
// (Raft §7). A snapshot is written on SnapshotTaker's thread while the loop
// goes on; once it is done the log is compacted by the core's rule
// (raft::compaction_index). A leader streams a snapshot to a follower that
// needs compacted entries (SnapshotSender); the follower steps the leader's
// install_snapshot only once it holds the whole, checked file.
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "node/node.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {
constexpr auto snapshot_retry_interval = std::chrono::seconds(10);
}  // namespace

void Node::maybe_take_snapshot(Clock::time_point now) {
    if (snapshot_taker_.running() || cycle_.stalled() || recovering() || now < next_snapshot_try_) {
        return;
    }
    const SnapshotPolicy policy{config_.snapshot_entries, config_.snapshot_trailing};
    const std::uint64_t logged = storage_->log_bytes_written() - log_bytes_at_snapshot_;
    if (snapshot_due(policy, storage_->applied_index(), storage_->snapshot().index, logged,
                     storage_->snapshot_info().bytes)) {
        start_snapshot();
    }
}

// Grows the map first if it is half full: a snapshot pins the map, and a
// write that needs it bigger meanwhile would have to wait for the snapshot.
void Node::start_snapshot() {
    const auto t0 = Clock::now();
    if (storage_->grow_map_if_half_full() != Status::ok) {
        spdlog::warn("node {}: cannot grow the state's map ahead of a snapshot", config_.id);
    }
    spdlog::debug("node {}: snapshot start: map check {} us", config_.id,
                  std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    log_bytes_at_snapshot_ = storage_->log_bytes_written();
    // The bootstrap members, not config_.members: those follow the log,
    // uncommitted entries included, and the snapshot is of the applied state.
    snapshot_taker_.start(*storage_, bootstrap_, config_.snapshot_rate_mb * 1000000);
}

void Node::poll_snapshot(Clock::time_point now) {
    const auto elapsed = snapshot_taker_.elapsed();
    auto result = snapshot_taker_.poll();
    if (!result) return;
    if (!*result) {
        // A full disk, say: nothing else is affected; try again later.
        spdlog::warn("node {}: taking a snapshot failed ({}): {}; retrying in {} s", config_.id,
                     status_name(result->error().status), result->error().detail,
                     std::chrono::duration_cast<std::chrono::seconds>(snapshot_retry_interval)
                         .count());
        next_snapshot_try_ = now + snapshot_retry_interval;
        ++metrics_.snapshots_failed;
        return;
    }
    const storage::SnapshotInfo& info = **result;
    ++metrics_.snapshots_taken;
    metrics_.snapshot_duration.observe(elapsed);
    metrics_.snapshot_bytes += info.bytes;
    const auto t0 = Clock::now();
    const std::string file = storage_->snapshots_dir() + "/" +
                             storage::snapshot_file_name(info.meta.index, info.meta.term);
    auto adopted = storage_->adopt_snapshot(file, info);
    if (!adopted) {
        spdlog::warn("node {}: keeping the snapshot failed: {}", config_.id,
                     adopted.error().detail);
        next_snapshot_try_ = now + snapshot_retry_interval;
        return;
    }
    const auto adopted_at = Clock::now();
    const raft::LogIndex before = storage_->first_index();
    cycle_.compact(config_.snapshot_trailing);
    spdlog::info("node {}: snapshot at index {} (term {}): {} keys, {} bytes, {} ms; log now "
                 "starts at {} (was {}); adopting took {} us, compacting {} us",
                 config_.id, info.meta.index, info.meta.term, info.keys, info.bytes,
                 std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(),
                 storage_->first_index(), before,
                 std::chrono::duration_cast<std::chrono::microseconds>(adopted_at - t0).count(),
                 std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - adopted_at)
                     .count());
}

// Leader: the core wants `message.to` to get its snapshot. The file must be
// the one the message names: if a newer one replaced it meanwhile, the
// transfer fails and the core sends the newer one next time.
void Node::begin_transfer(const raft::Message& message) {
    const auto path = storage_->snapshot_path();
    const bool same = path && storage_->snapshot().index == message.snapshot.index &&
                      storage_->snapshot().term == message.snapshot.term;
    if (!same || !snapshot_sender_.start(message, *path, Clock::now())) {
        cycle_.report_snapshot(message.to, false);
        return;
    }
    ++metrics_.snapshots_sent;
}

// Sends what the windows allow and tells the core how transfers ended (the
// cycle holds the news while a Ready is out).
void Node::pump_transfers(Clock::time_point now) {
    for (const wire::SnapshotPiece& piece : snapshot_sender_.chunks_to_send(now)) {
        (void)peers_.send(piece);  // a backlogged peer: the ack timeout resends
    }
    // A received file whose check passed, and no staging under way: its
    // install_snapshot is offered now (the core is never stepped while a
    // Ready is out).
    (void)snapshot_receiver_.poll();
    poll_staging();
    if (!cycle_.stalled() && !staging_ && install_offer_ &&
        snapshot_receiver_.complete(install_offer_->snapshot.index,
                                    install_offer_->snapshot.term)) {
        raft::Message offer = std::move(*install_offer_);
        install_offer_.reset();
        offer_install(offer);
    }
    for (raft::NodeId to : snapshot_sender_.expire(now)) cycle_.report_snapshot(to, false);
    for (const raft::Message& m : snapshot_sender_.take_finished()) {
        peers_.send(m);
        cycle_.report_snapshot(m.to, true);
    }
}

void Node::receive_piece(const wire::SnapshotPiece& piece) {
    if (piece.kind == wire::SnapshotPieceKind::ack) {
        snapshot_sender_.on_ack(piece, Clock::now());
        return;
    }
    (void)peers_.send(snapshot_receiver_.on_chunk(piece));
    if (install_offer_) {
        raft::Message offer = std::move(*install_offer_);
        install_offer_.reset();
        offer_install(offer);
    }
}

// Follower: a leader's install_snapshot. Stepped once its file is here
// (kept, the newest, until then) and loaded (poll_staging). The file moves
// aside first, so a new transfer cannot take it away before the core's
// Ready installs it. One at a time: a newer offer waits for the staging.
void Node::offer_install(const raft::Message& message) {
    if (staging_) {
        install_offer_ = message;
        return;
    }
    const auto path = snapshot_receiver_.complete(message.snapshot.index, message.snapshot.term);
    if (!path) {
        install_offer_ = message;
        return;
    }
    const std::string installing = storage_->snapshots_dir() + "/installing.snap";
    if (::rename(path->c_str(), installing.c_str()) != 0) {
        spdlog::error("node {}: cannot move {} aside: {}", config_.id, *path, std::strerror(errno));
        snapshot_receiver_.clear();
        return;
    }
    snapshot_receiver_.clear();
    // Loading it grows with the state: on a thread. The old state serves
    // meanwhile; the core hears of the snapshot once it is loaded.
    auto staging = std::make_shared<Staging>();
    staging->message = message;
    staging_ = staging;
    const storage::Storage& storage = *storage_;
    if (staging_thread_.joinable()) staging_thread_.join();  // done: it was polled
    staging_thread_ = std::thread([staging, &storage, installing] {
        staging->result = storage.stage_install(installing);
        staging->done.store(true);
    });
}

// The staged state is loaded: the core may now restore the snapshot (its
// Ready then swaps the state in), or find it needs only a commit.
void Node::poll_staging() {
    if (!staging_ || !staging_->done.load() || cycle_.stalled()) return;
    std::shared_ptr<Staging> staging = std::move(staging_);
    staging_.reset();
    if (!*staging->result) {
        spdlog::error("node {}: cannot load the received snapshot {}: {}; it will be sent again",
                      config_.id, staging->message.snapshot.index,
                      staging->result->error().detail);
        return;
    }
    staged_ = std::move(**staging->result);
    installing_ = staging->message.snapshot;
    raft_.step(staging->message);
}

// Ready.snapshot: replace the state and the log with the received file.
// Idempotent, so a Ready retried after a later storage failure is fine.
Result<bool> Node::install_snapshot(const raft::SnapshotMeta& snapshot) {
    if (storage_->first_index() == snapshot.index + 1 && storage_->snapshot() == snapshot) {
        // Adopted and the log reset already (a retry): only the state may
        // be missing.
        if (storage_->applied_index() == snapshot.index) return true;
        auto reloaded = storage_->reload_from_snapshot();
        if (reloaded) load_lease_clock();
        return reloaded;
    }
    // The core restores only a snapshot it was stepped with, and it was
    // stepped only with its file moved here (offer_install).
    CABILDO_ASSERT(installing_ == snapshot, "installing a snapshot that was not received");
    snapshot_taker_.cancel();  // the state it reads is about to go
    const auto start = Clock::now();
    // Staged: a swap. Otherwise (a retry after the swap failed) loaded here.
    std::unique_ptr<storage::StagedInstall> staged = std::move(staged_);
    auto installed =
        staged && staged->info.meta.index == snapshot.index && staged->info.meta.term == snapshot.term
            ? storage_->install_staged(*staged)
            : storage_->install_snapshot(storage_->snapshots_dir() + "/installing.snap");
    if (!installed) return installed.error();
    load_lease_clock();
    ++metrics_.snapshots_installed;
    spdlog::info("node {}: installed snapshot {} (term {}) in {} ms: {} keys", config_.id,
                 snapshot.index, snapshot.term,
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)
                     .count(),
                 storage_->key_count());
    return true;
}

// A backup (`cabildo snapshot save`) reads a snapshot file in chunks. The
// first request (index 0) gets the newest snapshot if it is at least at
// `at_least`, or (0) at this node's commit index: then it holds every write
// this node knew committed. Otherwise this node starts a snapshot and
// answers `unavailable`, with that index as `revision`, for the client to
// ask again with at_least = revision. Later requests name the index and an
// offset. Snapshots are kept two deep, so a
// download survives one newer snapshot; past that it answers `compacted`.
void Node::serve_snapshot_read(const Pending& pending) {
    constexpr std::size_t chunk_bytes = 1 << 20;
    const wire::ClientRequest& r = pending.request;
    const std::string& id = r.id;
    raft::LogIndex index = r.index;
    if (index == 0) {
        const raft::LogIndex newest = storage_->snapshot().index;
        const raft::LogIndex wanted =
            r.at_least != 0 ? r.at_least : std::max<raft::LogIndex>(1, raft_.status().commit_index);
        if (newest < wanted) {
            if (!snapshot_taker_.running() && !cycle_.stalled()) start_snapshot();
            wire::ClientReply reply = wire::make_error_reply(
                wire::error_unavailable,
                "taking a snapshot at index " + std::to_string(wanted) +
                    " or later; ask again with at_least " + std::to_string(wanted),
                id);
            reply.revision = wanted;
            this->reply(pending.envelope, std::move(reply));
            return;
        }
        index = newest;
    }
    const auto path = storage_->snapshot_file(index);
    if (!path) {
        reply_error(pending.envelope, wire::error_compacted,
                    "snapshot " + std::to_string(index) + " is no longer kept here; start again",
                    id);
        return;
    }
    auto header = storage::read_snapshot_header(*path);
    const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st{};
    if (!header || fd < 0 || ::fstat(fd, &st) != 0) {
        if (fd >= 0) ::close(fd);
        reply_error(pending.envelope, wire::error_internal,
                    "cannot read " + *path + (header ? "" : ": " + header.error().detail), id);
        return;
    }
    wire::SnapshotChunk chunk;
    chunk.index = header->meta.index;
    chunk.term = header->meta.term;
    chunk.total = static_cast<std::uint64_t>(st.st_size);
    chunk.offset = std::min(r.from, chunk.total);
    chunk.data.resize(std::min<std::uint64_t>(chunk_bytes, chunk.total - chunk.offset));
    const ssize_t n =
        ::pread(fd, chunk.data.data(), chunk.data.size(), static_cast<off_t>(chunk.offset));
    ::close(fd);
    if (n != static_cast<ssize_t>(chunk.data.size())) {
        reply_error(pending.envelope, wire::error_internal, "short read of " + *path, id);
        return;
    }
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = chunk.index;
    reply.snapshot = std::move(chunk);
    reply.id = id;
    this->reply(pending.envelope, std::move(reply));
}

}  // namespace cabildo::node
