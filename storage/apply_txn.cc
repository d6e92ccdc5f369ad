// ApplyTxn: see apply_txn.h.
#include "storage/apply_txn.h"

#include <utility>

#include "node/raft/assert.h"
#include "storage/codec.h"
#include "storage/databases.h"
#include "storage/storage.h"

namespace cabildo::storage {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

ApplyTxn::ApplyTxn(Storage& storage, Databases& dbs, std::unique_ptr<WriteTxn> txn)
    : storage_(&storage), dbs_(&dbs), txn_(std::move(txn)) {
    kv_hash_begin_ = dbs_->state_meta.kv_hash(txn_->raw());
    kv_hash_ = kv_hash_begin_;
    events_bytes_begin_ = dbs_->state_meta.events_bytes(txn_->raw());
    events_bytes_ = events_bytes_begin_;
}

ApplyTxn::ApplyTxn(ApplyTxn&& other) noexcept = default;

ApplyTxn::~ApplyTxn() = default;  // txn_'s destructor aborts an uncommitted batch

std::optional<std::string> ApplyTxn::get(std::string_view key) {
    std::optional<StoredValue> entry = get_entry(key);
    if (!entry) return std::nullopt;
    return std::move(entry->value);
}

std::optional<StoredValue> ApplyTxn::get_entry(std::string_view key) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_ || !dbs_->kv.key_fits(key))
        return std::nullopt;
    std::optional<std::string> stored = dbs_->kv.get(txn_->raw(), key);
    if (!stored) return std::nullopt;
    const codec::KvView view = codec::decode_kv(*stored);
    return StoredValue{std::string(view.value), view.meta};
}

std::optional<KeyMeta> ApplyTxn::get_meta(std::string_view key) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_ || !dbs_->kv.key_fits(key))
        return std::nullopt;
    return dbs_->kv.get_meta(txn_->raw(), key);
}

RangeResult ApplyTxn::range(std::string_view prefix, std::size_t limit, std::size_t bytes_max,
                            bool keys_only, std::string_view skip) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    RangeResult result;
    if (error_) return result;
    dbs_->kv.range(txn_->raw(), prefix, limit, bytes_max, &result, keys_only, skip);
    return result;
}

Status ApplyTxn::put(std::string_view key, std::string_view value, const KeyMeta& meta) {
    if (key.empty())
        return Status::bad_request;
    if (!dbs_->kv.key_fits(key))
        return Status::too_large;
    if (!record(Put{std::string(key), codec::encode_kv(meta, value)}))
        return error_->status;
    return Status::ok;
}

bool ApplyTxn::erase(std::string_view key) {
    if (!dbs_->kv.key_fits(key))
        return false;
    return record(Erase{std::string(key)}) && erase_existed_;
}

std::optional<LeaseRecord> ApplyTxn::lease(std::uint64_t id) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_) return std::nullopt;
    return dbs_->leases.get(txn_->raw(), id);
}

std::vector<std::string> ApplyTxn::lease_keys(std::uint64_t id, std::size_t limit) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_) return {};
    return dbs_->leases.keys(txn_->raw(), id, limit);
}

std::optional<std::string> ApplyTxn::lease_key_with_prefix(std::uint64_t id,
                                                           std::string_view prefix) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_) return std::nullopt;
    return dbs_->leases.key_with_prefix(txn_->raw(), id, prefix);
}

std::uint64_t ApplyTxn::last_lease_id() {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_) return 0;
    return dbs_->leases.last_id(txn_->raw());
}

void ApplyTxn::set_lease(std::uint64_t id, const LeaseRecord& record) {
    this->record(SetLease{id, record});
}

void ApplyTxn::erase_lease(std::uint64_t id) { record(EraseLease{id}); }

void ApplyTxn::attach_key(std::uint64_t id, std::string_view key) {
    record(AttachKey{id, std::string(key), true});
}

void ApplyTxn::detach_key(std::uint64_t id, std::string_view key) {
    record(AttachKey{id, std::string(key), false});
}

std::optional<SessionRecord> ApplyTxn::session(std::uint64_t session_id) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_)
        return std::nullopt;
    return dbs_->sessions.get(txn_->raw(), session_id);
}

void ApplyTxn::set_session(std::uint64_t session_id, std::uint64_t seq, raft::LogIndex index,
                           std::string_view reply) {
    record(SetSession{session_id, seq, index, std::string(reply)});
}

void ApplyTxn::add_event(raft::LogIndex index, std::string_view key, std::string_view event) {
    // Storage::events() relies on this: a scan that reached the end has seen
    // every event up to the applied index.
    CABILDO_ASSERT(index > storage_->applied_index(), "event for an entry already applied");
    CABILDO_ASSERT(index >= event_index_, "events out of index order");
    CABILDO_ASSERT(key.size() <= codec::event_key_bytes_max, "event key too long");
    event_position_ = index == event_index_ ? event_position_ + 1 : 0;
    event_index_ = index;
    record(AddEvent{index, event_position_, std::string(key), std::string(event)});
}

void ApplyTxn::set_applied(raft::LogIndex index, raft::Term term) {
    CABILDO_ASSERT(index >= storage_->applied_index(), "applied index going backwards");
    CABILDO_ASSERT(!applied_ || index >= *applied_, "applied index going backwards");
    applied_ = index;
    record(SetApplied{index, term});
}

void ApplyTxn::set_membership(const raft::Membership& membership) {
    record(SetMembership{membership});
}

Result<bool> ApplyTxn::commit() {
    CABILDO_ASSERT(!finished_, "ApplyTxn committed twice");
    if (!error_ && (kv_hash_ != kv_hash_begin_ || events_bytes_ != events_bytes_begin_))
        record(SetTotals{});  // last, so a replay stores the replayed totals
    finished_ = true;
    if (error_)
        return *error_;
    if (dbs_->take_injected_failure()) {
        txn_.reset();
        return Error{Status::io_error, "apply: injected commit failure"};
    }
    int rc = txn_->commit();
    while (rc == MDB_MAP_FULL) {
        if (!restart_after_map_full())
            return *error_;
        rc = replay();
        if (rc == 0)
            rc = txn_->commit();
    }
    txn_.reset();
    if (rc != 0)
        return lmdb_error(rc, "apply commit");
    if (applied_)
        storage_->applied_index_ = *applied_;
    return true;
}

// Runs one write, then keeps it for replay. Writes after a failure are dropped.
bool ApplyTxn::record(Write write) {
    CABILDO_ASSERT(!finished_, "ApplyTxn used after commit");
    if (error_)
        return false;
    writes_.push_back(std::move(write));
    int rc = run(writes_.back());
    while (rc == MDB_MAP_FULL) {
        if (!restart_after_map_full())
            return false;
        rc = replay();
    }
    if (rc != 0) {
        fail(lmdb_error(rc, "apply"));
        return false;
    }
    return true;
}

int ApplyTxn::run(const Write& write) {
    MDB_txn* txn = txn_->raw();
    Databases& d = *dbs_;
    return std::visit(Overloaded{
                          [&](const Put& w) { return run_put(w); },
                          [&](const Erase& w) { return run_erase(w); },
                          [&](const SetSession& w) {
                              return d.sessions.set(txn, w.session_id, w.seq, w.index, w.reply,
                                                    d.sessions_max);
                          },
                          [&](const AddEvent& w) { return run_add_event(w); },
                          [&](const SetApplied& w) {
                              const int rc = d.state_meta.set_applied(txn, w.index);
                              return rc != 0 ? rc : d.state_meta.set_applied_term(txn, w.term);
                          },
                          [&](const SetTotals&) { return run_set_totals(); },
                          [&](const SetMembership& w) {
                              return d.state_meta.set_membership(txn, w.membership);
                          },
                          [&](const SetLease& w) { return d.leases.put(txn, w.id, w.record); },
                          [&](const EraseLease& w) { return d.leases.erase(txn, w.id); },
                          [&](const AttachKey& w) {
                              return w.attach ? d.leases.attach(txn, w.id, w.key)
                                              : d.leases.detach(txn, w.id, w.key);
                          },
                      },
                      write);
}

// The state hash follows every kv write: the old pair's hash out, the new
// one's in (kv_db.h).
int ApplyTxn::run_put(const Put& write) {
    MDB_txn* txn = txn_->raw();
    if (auto old = dbs_->kv.stored_pair_hash(txn, write.key)) kv_hash_ -= *old;
    const int rc = dbs_->kv.put(txn, write.key, write.value);
    if (rc == 0) kv_hash_ += KvDb::pair_hash(write.key, write.value);
    return rc;
}

int ApplyTxn::run_erase(const Erase& write) {
    MDB_txn* txn = txn_->raw();
    const auto old = dbs_->kv.stored_pair_hash(txn, write.key);
    const int rc = dbs_->kv.erase(txn, write.key, &erase_existed_);
    if (rc == 0 && old) kv_hash_ -= *old;
    return rc;
}

// The event and, if it evicted older ones, the new "events_compacted".
int ApplyTxn::run_add_event(const AddEvent& write) {
    MDB_txn* txn = txn_->raw();
    raft::LogIndex evicted_through = 0;
    int rc = dbs_->events.add(txn, write.index, write.position, write.key, write.event,
                              dbs_->event_bounds, &events_bytes_, &evicted_through);
    if (rc != 0 || evicted_through == 0)
        return rc;
    return dbs_->state_meta.set_events_compacted(txn, evicted_through);
}

// The running totals, stored once per batch.
int ApplyTxn::run_set_totals() {
    MDB_txn* txn = txn_->raw();
    const int rc = dbs_->state_meta.set_kv_hash(txn, kv_hash_);
    return rc != 0 ? rc : dbs_->state_meta.set_events_bytes(txn, events_bytes_);
}

int ApplyTxn::replay() {
    // The aborted transaction's changes are gone.
    kv_hash_ = kv_hash_begin_;
    events_bytes_ = events_bytes_begin_;
    for (const Write& write : writes_) {
        int rc = run(write);
        if (rc != 0)
            return rc;
    }
    return 0;
}

// Aborts the batch, doubles the map and opens a fresh transaction to replay
// into. False (and the ApplyTxn failed) if the map cannot grow.
bool ApplyTxn::restart_after_map_full() {
    ++map_grows_;
    CABILDO_ASSERT(map_grows_ <= map_grows_per_txn_max, "map growth did not terminate");
    txn_.reset();
    Status grown = dbs_->state_env->grow();
    if (grown != Status::ok) {
        fail(Error{grown, "apply: map is full and cannot grow now"});
        return false;
    }
    auto txn = WriteTxn::begin(*dbs_->state_env);
    if (!txn) {
        fail(txn.error());
        return false;
    }
    txn_ = std::move(*txn);
    return true;
}

void ApplyTxn::fail(Error error) {
    txn_.reset();
    error_ = std::move(error);
}

}  // namespace cabildo::storage
