// Env, ReadTxn, WriteTxn: see env.h.
#include "storage/env.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "node/raft/assert.h"

namespace cabildo::storage {

namespace {

// The map size LMDB actually uses: on reopen it is at least the size of the
// committed data, whatever we asked for.
std::size_t current_map_bytes(MDB_env* env) {
    MDB_envinfo info{};
    int rc = mdb_env_info(env, &info);
    CABILDO_ASSERT(rc == 0, "mdb_env_info failed");
    return info.me_mapsize;
}

Result<MDB_env*> create_env(std::size_t map_bytes_initial, unsigned dbs_max) {
    MDB_env* env = nullptr;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return lmdb_error(rc, "mdb_env_create");
    rc = mdb_env_set_maxdbs(env, dbs_max);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, map_bytes_initial);
    if (rc != 0) {
        mdb_env_close(env);
        return lmdb_error(rc, "mdb_env_set");
    }
    return env;
}

// Allocates data.mdb's blocks up to `bytes` (see env.h: WRITEMAP and SIGBUS).
Status reserve_blocks(MDB_env* env, std::size_t bytes) {
    mdb_filehandle_t fd = -1;
    if (mdb_env_get_fd(env, &fd) != 0)
        return Status::io_error;
    int rc = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (rc == 0)
        return Status::ok;
    return rc == ENOSPC || rc == EDQUOT || rc == EFBIG ? Status::storage_full : Status::io_error;
}

}  // namespace

Result<std::unique_ptr<Env>> Env::open(const std::string& dir, std::size_t map_bytes_initial,
                                       std::size_t map_bytes_max, unsigned dbs_max) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        return Error{Status::io_error, "create " + dir + ": " + ec.message()};
    auto env = create_env(map_bytes_initial, dbs_max);
    if (!env)
        return env.error();
    int rc = mdb_env_open(*env, dir.c_str(), MDB_NOTLS | MDB_NOSYNC | MDB_WRITEMAP, 0644);
    if (rc != 0) {
        mdb_env_close(*env);
        return lmdb_error(rc, "mdb_env_open " + dir);
    }
    // Readers left behind by a crashed process would pin old pages forever.
    int dead = 0;
    rc = mdb_reader_check(*env, &dead);
    if (rc != 0) {
        mdb_env_close(*env);
        return lmdb_error(rc, "mdb_reader_check");
    }
    std::size_t map_bytes = current_map_bytes(*env);
    Status reserved = reserve_blocks(*env, map_bytes);
    if (reserved != Status::ok) {
        mdb_env_close(*env);
        return Error{reserved, "allocate " + dir + "/data.mdb: no room on the disk"};
    }
    return std::unique_ptr<Env>(new Env(*env, map_bytes, std::max(map_bytes, map_bytes_max)));
}

Env::Env(MDB_env* env, std::size_t map_bytes, std::size_t map_bytes_max)
    : env_(env), map_bytes_(map_bytes), map_bytes_max_(map_bytes_max) {}

Env::~Env() {
    CABILDO_ASSERT(txns_active_ == 0, "Env closed with a live transaction");
    if (read_idle_ != nullptr)
        mdb_txn_abort(read_idle_);
    mdb_env_close(env_);
}

std::size_t Env::key_bytes_max() const {
    return static_cast<std::size_t>(mdb_env_get_maxkeysize(env_));
}

Status Env::grow() {
    CABILDO_ASSERT(txns_active_ == 0, "map resize with a live transaction");
    // A snapshot being written on another thread reads through the map:
    // the caller fails this write and retries once the snapshot is done.
    if (pinned_.load() > 0)
        return Status::unavailable;
    if (map_bytes_ >= map_bytes_max_)
        return Status::storage_full;
    // A reset reader holds no pointers into the map, but drop it anyway so
    // nothing at all survives the remap.
    if (read_idle_ != nullptr) {
        mdb_txn_abort(read_idle_);
        read_idle_ = nullptr;
    }
    std::size_t bytes = map_bytes_ > map_bytes_max_ / 2 ? map_bytes_max_ : map_bytes_ * 2;
    Status reserved = reserve_blocks(env_, bytes);
    if (reserved != Status::ok)
        return reserved;
    if (mdb_env_set_mapsize(env_, bytes) != 0)
        return Status::io_error;
    map_bytes_ = current_map_bytes(env_);
    return Status::ok;
}

std::size_t Env::used_bytes() const {
    MDB_envinfo info{};
    MDB_stat stat{};
    if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &stat) != 0) return map_bytes_;
    return (info.me_last_pgno + 1) * static_cast<std::size_t>(stat.ms_psize);
}

int Env::sync() {
    return mdb_env_sync(env_, 1);
}

ReadTxn::ReadTxn(Env& env) : env_(env) {
    int rc = 0;
    if (env_.read_idle_ != nullptr) {
        txn_ = env_.read_idle_;
        env_.read_idle_ = nullptr;
        rc = mdb_txn_renew(txn_);
        if (rc != 0)
            mdb_txn_abort(txn_);
    } else {
        rc = mdb_txn_begin(env_.env_, nullptr, MDB_RDONLY, &txn_);
    }
    CABILDO_ASSERT(rc == 0, "cannot start an LMDB read transaction");
    ++env_.txns_active_;
}

ReadTxn::~ReadTxn() {
    --env_.txns_active_;
    if (env_.read_idle_ == nullptr) {
        mdb_txn_reset(txn_);
        env_.read_idle_ = txn_;
    } else {
        mdb_txn_abort(txn_);
    }
}

Result<std::unique_ptr<WriteTxn>> WriteTxn::begin(Env& env) {
    CABILDO_ASSERT(!env.write_active_, "a second write transaction in one process");
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env.env_, nullptr, 0, &txn);
    if (rc != 0)
        return lmdb_error(rc, "mdb_txn_begin");
    env.write_active_ = true;
    ++env.txns_active_;
    return std::unique_ptr<WriteTxn>(new WriteTxn(env, txn));
}

WriteTxn::~WriteTxn() {
    abort();
}

int WriteTxn::commit() {
    CABILDO_ASSERT(txn_ != nullptr, "commit of a finished transaction");
    int rc = mdb_txn_commit(txn_);
    finish();
    return rc;
}

void WriteTxn::abort() {
    if (txn_ == nullptr)
        return;
    mdb_txn_abort(txn_);
    finish();
}

void WriteTxn::finish() {
    txn_ = nullptr;
    env_.write_active_ = false;
    --env_.txns_active_;
}

Cursor::Cursor(MDB_txn* txn, MDB_dbi dbi) {
    int rc = mdb_cursor_open(txn, dbi, &cursor_);
    CABILDO_ASSERT(rc == 0, "mdb_cursor_open failed");
}

Error lmdb_error(int rc, std::string_view what) {
    bool full = rc == ENOSPC || rc == EDQUOT || rc == MDB_MAP_FULL;
    std::string detail(what);
    detail += ": ";
    detail += mdb_strerror(rc);
    return Error{full ? Status::storage_full : Status::io_error, std::move(detail)};
}

int open_dbi(MDB_txn* txn, const char* name, MDB_dbi* dbi, unsigned flags) {
    return mdb_dbi_open(txn, name, MDB_CREATE | flags, dbi);
}

}  // namespace cabildo::storage
