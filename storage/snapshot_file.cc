// Snapshot files: see snapshot_file.h.
#include "storage/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "node/raft/assert.h"
#include "storage/codec.h"
#include "storage/databases.h"
#include "storage/posix_file.h"

namespace cabildo::storage {

namespace {

constexpr std::string_view magic = "CABILDOS";
constexpr std::uint32_t snapshot_format = 2;
constexpr std::uint32_t snapshot_format_voters_only = 1;
constexpr std::uint32_t membership_bytes_max = 1 << 15;  // the header is read in 64 KiB
constexpr std::size_t chunk_bytes = 1 << 20;
constexpr std::size_t chunk_bytes_max = 64 << 20;  // what a reader accepts
constexpr std::size_t header_bytes_max = 1 << 16;
constexpr std::size_t record_header_bytes = 1 + 4 + 4;
constexpr std::size_t end_bytes = 4 + 3 * 8 + 4;
constexpr std::size_t load_batch_bytes = 16 << 20;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

Error corrupt(const std::string& path, const std::string& what) {
    return Error{Status::corrupt, "snapshot " + path + ": " + what};
}

std::string encode_header(const SnapshotInfo& info) {
    std::string out(magic);
    append_u32(out, snapshot_format);
    append_u32(out, 0);
    codec::append_u64(out, info.cluster_id);
    codec::append_u64(out, info.meta.index);
    codec::append_u64(out, info.meta.term);
    const std::vector<raft::NodeId> voters = info.meta.membership.voters();
    append_u32(out, static_cast<std::uint32_t>(voters.size()));
    for (raft::NodeId id : voters) codec::append_u64(out, id);
    const std::string membership = raft::encode_membership(info.meta.membership);
    append_u32(out, static_cast<std::uint32_t>(membership.size()));
    out += membership;
    append_u32(out, static_cast<std::uint32_t>(info.databases.size()));
    for (const std::string& name : info.databases) {
        out.push_back(static_cast<char>(name.size()));
        out += name;
    }
    append_u32(out, checksum(out.data(), out.size()));
    return out;
}

// Appends to a file through a buffer of one chunk.
class ChunkWriter {
public:
    ChunkWriter(int fd, std::uint64_t at, std::uint64_t bytes_per_second)
        : fd_(fd), at_(at), pacer_(bytes_per_second), write_behind_(fd, true) {}

    bool add(std::size_t db, std::string_view key, std::string_view value) {
        payload_.push_back(static_cast<char>(db));
        append_u32(payload_, static_cast<std::uint32_t>(key.size()));
        append_u32(payload_, static_cast<std::uint32_t>(value.size()));
        payload_.append(key);
        payload_.append(value);
        return payload_.size() < chunk_bytes || flush();
    }
    bool flush() {
        if (payload_.empty()) return true;
        std::string head;
        append_u32(head, static_cast<std::uint32_t>(payload_.size()));
        append_u32(head, checksum(payload_.data(), payload_.size()));
        if (!write(head) || !write(payload_)) return false;
        payload_.clear();
        return true;
    }
    bool write(const std::string& bytes) {
        if (!write_fully(fd_, bytes.data(), bytes.size(), at_)) return false;
        at_ += bytes.size();
        write_behind_.wrote(at_);
        pacer_.pace(at_);
        return true;
    }
    std::uint64_t end() const { return at_; }

private:
    int fd_;
    std::uint64_t at_;
    std::string payload_;
    Pacer pacer_;  // on the snapshot's own thread: it may sleep and wait
    WriteBehind write_behind_;
};

// The databases a snapshot copies, in file order. meta first: a reader
// learns the format before the data.
std::vector<std::pair<std::string, MDB_dbi>> snapshot_dbs(const Databases& dbs) {
    return {{"meta", dbs.state_meta.dbi()},
            {"kv", dbs.kv.dbi()},
            {"sessions", dbs.sessions.sessions_dbi()},
            {"session_age", dbs.sessions.age_dbi()},
            {"events", dbs.events.dbi()},
            {"leases", dbs.leases.leases_dbi()},
            {"lease_keys", dbs.leases.keys_dbi()}};
}

// A read-only transaction for another thread (the Env's own ones are the
// loop's).
class ThreadReadTxn {
public:
    explicit ThreadReadTxn(MDB_env* env) { rc_ = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_); }
    ~ThreadReadTxn() {
        if (rc_ == 0) mdb_txn_abort(txn_);
    }
    ThreadReadTxn(const ThreadReadTxn&) = delete;
    ThreadReadTxn& operator=(const ThreadReadTxn&) = delete;
    int rc() const { return rc_; }
    MDB_txn* raw() const { return txn_; }

private:
    MDB_txn* txn_ = nullptr;
    int rc_ = 0;
};

Result<bool> walk_into(MDB_txn* txn, const std::vector<std::pair<std::string, MDB_dbi>>& list,
                       ChunkWriter& writer, SnapshotInfo& info, const std::string& path,
                       const std::atomic<bool>* cancel) {
    for (std::size_t db = 0; db < list.size(); ++db) {
        Cursor cursor(txn, list[db].second);
        MDB_val key{}, val{};
        for (int rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cursor.raw(), &key, &val, MDB_NEXT)) {
            if (!writer.add(db, to_view(key), to_view(val))) {
                return errno_error("write " + path, errno);
            }
            ++info.records;
            if (list[db].first == "kv") ++info.keys;
            if (cancel != nullptr && (info.records & 1023) == 0 && cancel->load()) {
                return Error{Status::dropped, "snapshot cancelled"};
            }
        }
    }
    return true;
}

Result<SnapshotInfo> write_snapshot_file(const Databases& dbs, std::uint64_t cluster_id,
                                         const raft::Membership& bootstrap,
                                         const std::string& path, const std::atomic<bool>* cancel,
                                         std::uint64_t bytes_per_second);

}  // namespace

std::string snapshot_file_name(raft::LogIndex index, raft::Term term) {
    char name[64];
    std::snprintf(name, sizeof name, "%020llu-%020llu.snap", static_cast<unsigned long long>(index),
                  static_cast<unsigned long long>(term));
    return name;
}

Result<SnapshotInfo> write_snapshot(const Databases& dbs, std::uint64_t cluster_id,
                                    const raft::Membership& bootstrap,
                                    const std::string& path, const std::atomic<bool>* cancel,
                                    std::uint64_t bytes_per_second) {
    auto written = write_snapshot_file(dbs, cluster_id, bootstrap, path, cancel, bytes_per_second);
    if (!written) ::unlink((path + ".part").c_str());  // a full disk, say: leave nothing
    return written;
}

namespace {

Result<SnapshotInfo> write_snapshot_file(const Databases& dbs, std::uint64_t cluster_id,
                                         const raft::Membership& bootstrap,
                                         const std::string& path,
                                         const std::atomic<bool>* cancel,
                                         std::uint64_t bytes_per_second) {
    const std::string part = path + ".part";
    Fd fd(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return errno_error("create " + part, errno);
    const auto list = snapshot_dbs(dbs);
    SnapshotInfo info;
    {
        ThreadReadTxn txn(dbs.state_env->raw());
        if (txn.rc() != 0) return lmdb_error(txn.rc(), "snapshot read transaction");
        info.cluster_id = cluster_id;
        info.meta = {dbs.state_meta.applied(txn.raw()), dbs.state_meta.applied_term(txn.raw()),
                     dbs.state_meta.membership(txn.raw()).value_or(bootstrap)};
        info.state_hash = dbs.state_meta.kv_hash(txn.raw());
        for (const auto& [name, dbi] : list) info.databases.push_back(name);
        ChunkWriter writer(fd.get(), 0, bytes_per_second);
        if (!writer.write(encode_header(info))) return errno_error("write " + part, errno);
        auto walked = walk_into(txn.raw(), list, writer, info, part, cancel);
        if (!walked) {
            ::unlink(part.c_str());
            return walked.error();
        }
        std::string end;
        append_u32(end, 0);
        codec::append_u64(end, info.records);
        codec::append_u64(end, info.keys);
        codec::append_u64(end, info.state_hash);
        append_u32(end, checksum(end.data(), end.size()));
        if (!writer.flush() || !writer.write(end)) return errno_error("write " + part, errno);
        info.bytes = writer.end();
    }
    if (::fdatasync(fd.get()) != 0) return errno_error("sync " + part, errno);
    if (::rename(part.c_str(), path.c_str()) != 0) return errno_error("rename " + part, errno);
    auto synced = sync_directory(std::filesystem::path(path).parent_path().string());
    if (!synced) return synced.error();
    return info;
}

// Reads a snapshot file front to back.
class SnapshotReader {
public:
    explicit SnapshotReader(std::string path) : path_(std::move(path)) {}

    Result<SnapshotInfo> open() {
        fd_ = std::make_unique<Fd>(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd_->get() < 0) return errno_error("open " + path_, errno);
        std::string head(header_bytes_max, '\0');
        const ssize_t n = ::pread(fd_->get(), head.data(), head.size(), 0);
        if (n < 0) return errno_error("read " + path_, errno);
        head.resize(static_cast<std::size_t>(n));
        return parse_header(head);
    }

    // The next record, or nullopt at the end record (then info is complete).
    Result<std::optional<SnapshotRecord>> next() {
        while (pos_ >= chunk_.size()) {
            auto more = read_chunk();
            if (!more) return more.error();
            if (!*more) return std::optional<SnapshotRecord>();
        }
        if (chunk_.size() - pos_ < record_header_bytes) return corrupt(path_, "record header cut");
        SnapshotRecord r;
        r.db = static_cast<unsigned char>(chunk_[pos_]);
        const std::uint32_t klen = get_u32(chunk_.data() + pos_ + 1);
        const std::uint32_t vlen = get_u32(chunk_.data() + pos_ + 5);
        pos_ += record_header_bytes;
        if (r.db >= info_.databases.size()) return corrupt(path_, "record of an unknown database");
        if (chunk_.size() - pos_ < std::uint64_t{klen} + vlen) return corrupt(path_, "record cut");
        r.key = std::string_view(chunk_).substr(pos_, klen);
        r.value = std::string_view(chunk_).substr(pos_ + klen, vlen);
        pos_ += std::size_t{klen} + vlen;
        ++records_;
        return std::optional<SnapshotRecord>(r);
    }

    SnapshotInfo& info() { return info_; }
    std::uint64_t records() const { return records_; }

private:
    Result<SnapshotInfo> parse_header(const std::string& h) {
        std::size_t at = 0;
        const auto need = [&](std::size_t n) { return h.size() - at >= n; };
        if (!need(magic.size() + 8) || h.compare(0, magic.size(), magic) != 0) {
            return corrupt(path_, "not a snapshot file (no CABILDOS header)");
        }
        at = magic.size();
        const std::uint32_t format = get_u32(h.data() + at);
        if (format != snapshot_format && format != snapshot_format_voters_only) {
            return corrupt(path_, "snapshot format " + std::to_string(format) + ", expected 1 or 2");
        }
        at += 8;
        if (!need(3 * 8 + 4)) return corrupt(path_, "header cut");
        info_.cluster_id = codec::get_u64(h.data() + at);
        info_.meta.index = codec::get_u64(h.data() + at + 8);
        info_.meta.term = codec::get_u64(h.data() + at + 16);
        const std::uint32_t members = get_u32(h.data() + at + 24);
        at += 28;
        if (members > 1024 || !need(std::size_t{members} * 8 + 4)) return corrupt(path_, "members");
        std::vector<raft::NodeId> voters;
        for (std::uint32_t i = 0; i < members; ++i, at += 8) {
            voters.push_back(codec::get_u64(h.data() + at));
        }
        info_.meta.membership = raft::voters_membership(voters);
        if (format != snapshot_format_voters_only) {
            const std::uint32_t length = get_u32(h.data() + at);
            at += 4;
            if (length > membership_bytes_max || !need(std::size_t{length} + 4)) {
                return corrupt(path_, "membership");
            }
            auto membership = raft::decode_membership(std::string_view(h).substr(at, length));
            if (!membership) return corrupt(path_, "membership");
            info_.meta.membership = std::move(*membership);
            at += length;
        }
        const std::uint32_t dbs = get_u32(h.data() + at);
        at += 4;
        if (dbs > 64) return corrupt(path_, "databases");
        for (std::uint32_t i = 0; i < dbs; ++i) {
            if (!need(1)) return corrupt(path_, "header cut");
            const std::size_t len = static_cast<unsigned char>(h[at++]);
            if (!need(len)) return corrupt(path_, "header cut");
            info_.databases.push_back(h.substr(at, len));
            at += len;
        }
        if (!need(4) || get_u32(h.data() + at) != checksum(h.data(), at)) {
            return corrupt(path_, "header checksum mismatch");
        }
        offset_ = at + 4;
        return info_;
    }

    // The next chunk into chunk_; false at the end record.
    Result<bool> read_chunk() {
        char head[8];
        if (!read_fully(fd_->get(), head, 4, offset_)) return corrupt(path_, "cut short");
        const std::uint32_t len = get_u32(head);
        if (len == 0) return read_end();
        if (len > chunk_bytes_max) return corrupt(path_, "chunk too large");
        if (!read_fully(fd_->get(), head + 4, 4, offset_ + 4)) return corrupt(path_, "cut short");
        chunk_.resize(len);
        if (!read_fully(fd_->get(), chunk_.data(), len, offset_ + 8)) {
            return corrupt(path_, "cut short");
        }
        if (checksum(chunk_.data(), len) != get_u32(head + 4)) {
            return corrupt(path_, "chunk at offset " + std::to_string(offset_) +
                                      " fails its checksum");
        }
        offset_ += 8 + len;
        pos_ = 0;
        return true;
    }

    Result<bool> read_end() {
        char end[end_bytes];
        if (!read_fully(fd_->get(), end, end_bytes, offset_)) return corrupt(path_, "end cut short");
        if (get_u32(end + end_bytes - 4) != checksum(end, end_bytes - 4)) {
            return corrupt(path_, "end record checksum mismatch");
        }
        const std::uint64_t records = codec::get_u64(end + 4);
        if (records != records_) {
            return corrupt(path_, "holds " + std::to_string(records_) + " records, its end says " +
                                      std::to_string(records));
        }
        info_.records = records;
        info_.keys = codec::get_u64(end + 12);
        info_.state_hash = codec::get_u64(end + 20);
        info_.bytes = offset_ + end_bytes;
        chunk_.clear();
        pos_ = 0;
        return false;
    }

    std::string path_;
    std::unique_ptr<Fd> fd_;
    SnapshotInfo info_;
    std::uint64_t offset_ = 0;
    std::string chunk_;
    std::size_t pos_ = 0;
    std::uint64_t records_ = 0;
};

}  // namespace

Result<SnapshotInfo> read_snapshot_header(const std::string& path) {
    SnapshotReader reader(path);
    return reader.open();
}

Result<SnapshotInfo> read_snapshot(const std::string& path,
                                   const std::function<Result<bool>(const SnapshotRecord&)>& each) {
    SnapshotReader reader(path);
    auto opened = reader.open();
    if (!opened) return opened.error();
    for (;;) {
        auto record = reader.next();
        if (!record) return record.error();
        if (!*record) return reader.info();
        if (each) {
            auto done = each(**record);
            if (!done) return done.error();
        }
    }
}

namespace {

// State format 5 to 6 while a snapshot loads: kv values get their metadata
// in front (created and last modified at the snapshot's index, version 1, no
// lease: the history before is not known), event keys a position 0, and
// meta "format" becomes 6. Records of format 6 pass unchanged.
class FormatUpgrade {
public:
    explicit FormatUpgrade(raft::LogIndex index) : index_(index) {}

    void convert(const std::string& db, std::string& key, std::string& value) {
        if (db == "meta" && key == "format" && value.size() == codec::u64_bytes &&
            codec::decode_u64(value) == format_before_metadata) {
            active_ = true;
            const codec::U64Key now = codec::u64_key(Databases::state_format);
            value.assign(codec::view(now));
        }
        if (!active_) return;
        if (db == "kv") {
            old_hash_ += KvDb::pair_hash(key, value);
            value = codec::encode_kv(KeyMeta{index_, index_, 1, 0}, value);
        } else if (db == "events" && key.size() == codec::u64_bytes) {
            key.append(4, '\0');
        }
    }
    bool active() const { return active_; }
    std::uint64_t old_hash() const { return old_hash_; }

private:
    static constexpr std::uint64_t format_before_metadata = 5;
    raft::LogIndex index_;
    bool active_ = false;
    std::uint64_t old_hash_ = 0;
};

}  // namespace

Result<SnapshotInfo> load_snapshot(const std::string& path, Databases& dbs) {
    const auto list = snapshot_dbs(dbs);
    struct Pending {
        MDB_dbi dbi;
        bool append;
        std::string key, value;
    };
    std::vector<Pending> batch;
    std::size_t batch_bytes = 0;
    std::vector<int> targets;  // per database in the file: its index in list
    const auto flush = [&]() -> Result<bool> {
        auto written = dbs.write("load snapshot", [&](MDB_txn* txn) {
            for (const Pending& p : batch) {
                MDB_val k = to_val(p.key), v = to_val(p.value);
                // Keys come in order within a database: append is exact
                // and fast. Meta already holds the format stamp.
                const int rc = mdb_put(txn, p.dbi, &k, &v, p.append ? MDB_APPEND : 0);
                if (rc != 0) return rc;
            }
            return 0;
        });
        batch.clear();
        batch_bytes = 0;
        return written;
    };
    // Map the file's databases to ours by name.
    auto header = read_snapshot_header(path);
    if (!header) return header.error();
    targets.clear();
    for (const std::string& name : header->databases) {
        int found = -1;
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (list[i].first == name) found = static_cast<int>(i);
        }
        targets.push_back(found);
    }
    // A file of state format 5 (before key metadata) is converted as it
    // loads: meta comes first, so its "format" is known before any kv or
    // event record (FormatUpgrade).
    FormatUpgrade upgrade(header->meta.index);
    auto loaded = read_snapshot(path, [&](const SnapshotRecord& r) -> Result<bool> {
        const int target = targets[r.db];
        if (target < 0) return corrupt(path, "a database this node does not know");
        const std::string& name = list[target].first;
        // lease_keys holds duplicates of one key: MDB_APPEND would refuse them.
        const bool append = name != "meta" && name != "lease_keys";
        Pending record{list[target].second, append, std::string(r.key), std::string(r.value)};
        upgrade.convert(name, record.key, record.value);
        batch.push_back(std::move(record));
        batch_bytes += r.key.size() + r.value.size() + 64;
        if (batch_bytes >= load_batch_bytes) return flush();
        return true;
    });
    if (!loaded) return loaded.error();
    auto flushed = flush();
    if (!flushed) return flushed.error();
    if (upgrade.active()) {
        if (upgrade.old_hash() != loaded->state_hash) {
            return corrupt(path, "the loaded state does not match the file's state hash");
        }
        // The stored hash was over the old values: the sum anew, once.
        auto rehashed = dbs.write("rehash the upgraded state", [&dbs](MDB_txn* txn) {
            return dbs.state_meta.set_kv_hash(txn, dbs.kv.hash_by_scan(txn));
        });
        if (!rehashed) return rehashed.error();
        ReadTxn check(*dbs.state_env);
        loaded->state_hash = dbs.state_meta.kv_hash(check.raw());
    }
    ReadTxn txn(*dbs.state_env);
    const std::uint64_t format = dbs.state_meta.format(txn.raw());
    if (format != Databases::state_format) {
        return Error{Status::bad_request, "snapshot " + path + " holds state format " +
                                              std::to_string(format) + "; this node reads " +
                                              std::to_string(Databases::state_format)};
    }
    if (dbs.kv.count(txn.raw()) != loaded->keys ||
        dbs.state_meta.kv_hash(txn.raw()) != loaded->state_hash ||
        dbs.state_meta.applied(txn.raw()) != loaded->meta.index) {
        return corrupt(path, "the loaded state does not match the file's key count, hash or index");
    }
    return loaded;
}

}  // namespace cabildo::storage
