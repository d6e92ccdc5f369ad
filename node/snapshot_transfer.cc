// Snapshot transfer; see snapshot_transfer.h.
#include "node/snapshot_transfer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "storage/posix_file.h"
#include "storage/snapshot_file.h"

namespace cabildo::node {

namespace {

std::uint32_t crc_of(const std::string& data) {
    return storage::checksum(data.data(), data.size());
}

}  // namespace

SnapshotSender::~SnapshotSender() {
    stop_all();
}

void SnapshotSender::close(Out& out) {
    if (out.fd >= 0) ::close(out.fd);
    out.fd = -1;
}

void SnapshotSender::stop_all() {
    for (auto& [id, out] : out_) close(out);
    out_.clear();
}

bool SnapshotSender::start(const raft::Message& message, const std::string& path,
                           SnapshotClock::time_point now) {
    const raft::NodeId to = message.to;
    const raft::Term term = message.term;
    const raft::SnapshotMeta& snapshot = message.snapshot;
    auto it = out_.find(to);
    if (it != out_.end() && it->second.snapshot == snapshot && it->second.term == term) return true;
    if (it != out_.end()) {
        close(it->second);
        out_.erase(it);
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        return false;
    }
    out_[to] = Out{message, term, snapshot, fd, static_cast<std::uint64_t>(st.st_size), 0, 0, now,
                   now};
    spdlog::info("node {}: sending snapshot {} ({} bytes) to node {}", self_, snapshot.index,
                 st.st_size, to);
    return true;
}

void SnapshotSender::on_ack(const wire::SnapshotPiece& ack, SnapshotClock::time_point now) {
    auto it = out_.find(ack.from);
    if (it == out_.end()) return;
    Out& out = it->second;
    if (ack.snapshot_index != out.snapshot.index || ack.snapshot_term != out.snapshot.term ||
        ack.term != out.term) {
        return;  // about another transfer
    }
    const std::uint64_t offset = std::min(ack.offset, out.total);
    if (offset > out.acked) {
        out.acked = offset;
        out.last_progress = now;
        return;
    }
    // No progress: a chunk was lost or refused, or the follower started
    // over (a restart): resend from what it holds (go-back-N).
    out.acked = offset;
    out.sent = offset;
}

// A chunk may go once the bytes sent so far are within the rate (one chunk
// of burst).
bool SnapshotSender::within_rate(const Out& out, SnapshotClock::time_point now) const {
    if (rate_ == 0) return true;
    const double seconds = std::chrono::duration<double>(now - out.started).count();
    return static_cast<double>(out.sent) <= seconds * static_cast<double>(rate_);
}

std::vector<wire::SnapshotPiece> SnapshotSender::chunks_to_send(SnapshotClock::time_point now) {
    std::vector<wire::SnapshotPiece> pieces;
    for (auto& [to, out] : out_) {
        while (out.sent < out.total && out.sent - out.acked < window_bytes &&
               within_rate(out, now)) {
            wire::SnapshotPiece piece;
            piece.kind = wire::SnapshotPieceKind::chunk;
            piece.from = self_;
            piece.to = to;
            piece.term = out.term;
            piece.snapshot_index = out.snapshot.index;
            piece.snapshot_term = out.snapshot.term;
            piece.offset = out.sent;
            piece.total = out.total;
            piece.data.resize(std::min<std::uint64_t>(chunk_bytes, out.total - out.sent));
            const ssize_t n = ::pread(out.fd, piece.data.data(), piece.data.size(),
                                      static_cast<off_t>(out.sent));
            if (n != static_cast<ssize_t>(piece.data.size())) break;  // expire() gives up
            piece.crc = crc_of(piece.data);
            if (++chunks_sent_ == corrupt_chunk_) piece.data[piece.data.size() / 2] ^= 0x20;
            out.sent += piece.data.size();
            bytes_sent_ += piece.data.size();
            pieces.push_back(std::move(piece));
        }
    }
    return pieces;
}

std::vector<raft::NodeId> SnapshotSender::expire(SnapshotClock::time_point now) {
    std::vector<raft::NodeId> expired;
    for (auto it = out_.begin(); it != out_.end();) {
        if (now - it->second.last_progress > ack_timeout) {
            spdlog::warn("node {}: snapshot transfer to node {} stalled at {} of {} bytes; "
                         "giving up (it is retried)",
                         self_, it->first, it->second.acked, it->second.total);
            close(it->second);
            expired.push_back(it->first);
            it = out_.erase(it);
        } else {
            ++it;
        }
    }
    return expired;
}

std::vector<raft::Message> SnapshotSender::take_finished() {
    std::vector<raft::Message> finished;
    for (auto it = out_.begin(); it != out_.end();) {
        if (it->second.acked == it->second.total) {
            spdlog::info("node {}: snapshot {} delivered to node {}", self_,
                         it->second.snapshot.index, it->first);
            close(it->second);
            finished.push_back(it->second.message);
            it = out_.erase(it);
        } else {
            ++it;
        }
    }
    return finished;
}

SnapshotReceiver::SnapshotReceiver(raft::NodeId self, std::string dir)
    : self_(self), path_(std::move(dir) + "/receiving.snap") {
    ::unlink(path_.c_str());  // a transfer a crash interrupted starts again
}

SnapshotReceiver::~SnapshotReceiver() {
    if (fd_ >= 0) ::close(fd_);
}

void SnapshotReceiver::clear() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    checking_.reset();
    ::unlink(path_.c_str());
    index_ = 0;
    snapshot_term_ = 0;
    received_ = 0;
    total_ = 0;
    complete_ = false;
}

wire::SnapshotPiece SnapshotReceiver::ack(const wire::SnapshotPiece& chunk) const {
    wire::SnapshotPiece a;
    a.kind = wire::SnapshotPieceKind::ack;
    a.from = self_;
    a.to = chunk.from;
    a.term = chunk.term;
    a.snapshot_index = chunk.snapshot_index;
    a.snapshot_term = chunk.snapshot_term;
    a.offset = chunk.snapshot_index == index_ && chunk.snapshot_term == snapshot_term_
                   ? received_
                   : 0;
    a.total = chunk.total;
    return a;
}

wire::SnapshotPiece SnapshotReceiver::on_chunk(const wire::SnapshotPiece& chunk) {
    const bool same = chunk.snapshot_index == index_ && chunk.snapshot_term == snapshot_term_ &&
                      chunk.from == from_ && chunk.total == total_;
    if (!same) {
        if (chunk.offset != 0) return ack(chunk);  // not the start of anything we have
        clear();
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        write_behind_ = storage::WriteBehind(fd_, false);
        if (fd_ < 0) {
            spdlog::error("node {}: cannot create {}: {}", self_, path_, std::strerror(errno));
            return ack(chunk);
        }
        from_ = chunk.from;
        index_ = chunk.snapshot_index;
        snapshot_term_ = chunk.snapshot_term;
        total_ = chunk.total;
    }
    if (complete_ || chunk.offset != received_) return ack(chunk);  // a duplicate or a gap
    if (crc_of(chunk.data) != chunk.crc || chunk.offset + chunk.data.size() > total_) {
        ++chunks_refused_;
        spdlog::warn("node {}: refused a corrupt snapshot chunk at offset {} from node {}", self_,
                     chunk.offset, chunk.from);
        return ack(chunk);  // the leader resends from received_
    }
    if (::pwrite(fd_, chunk.data.data(), chunk.data.size(), static_cast<off_t>(chunk.offset)) !=
        static_cast<ssize_t>(chunk.data.size())) {
        spdlog::error("node {}: cannot write {}: {}", self_, path_, std::strerror(errno));
        return ack(chunk);
    }
    received_ += chunk.data.size();
    write_behind_.wrote(received_);
    if (received_ == total_) finish();
    return ack(chunk);
}

// The whole file is here: synced, then checked end to end before it may be
// installed, off the loop. A file that fails is dropped; the leader sends
// it again.
void SnapshotReceiver::finish() {
    ::close(fd_);  // written: the check opens the file itself
    fd_ = -1;
    auto check = std::make_shared<Check>();
    checking_ = check;
    std::thread([check, path = path_] {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fdatasync(fd) != 0) {
            check->result = Error{Status::io_error, "cannot sync " + path + ": " +
                                                         std::strerror(errno)};
        } else {
            check->result = storage::read_snapshot(path, {});
        }
        if (fd >= 0) ::close(fd);
        check->done.store(true);
    }).detach();
}

bool SnapshotReceiver::poll() {
    if (!checking_ || !checking_->done.load()) return false;
    const Result<storage::SnapshotInfo> checked = std::move(*checking_->result);
    checking_.reset();
    if (!checked || checked->meta.index != index_ || checked->meta.term != snapshot_term_) {
        spdlog::error("node {}: the snapshot received from node {} is not valid ({}); it will be "
                      "sent again",
                      self_, from_, checked ? "another index or term" : checked.error().detail);
        ++chunks_refused_;
        clear();
        return false;
    }
    complete_ = true;
    spdlog::info("node {}: received snapshot {} ({} bytes) from node {}", self_, index_, total_,
                 from_);
    return true;
}

std::optional<std::string> SnapshotReceiver::complete(raft::LogIndex index, raft::Term term) const {
    if (!complete_ || index != index_ || term != snapshot_term_) return std::nullopt;
    return path_;
}

}  // namespace cabildo::node
