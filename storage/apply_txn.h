// ApplyTxn: one write transaction that applies a batch of committed entries
// to the key-value state machine.
//
// The kv changes, the session answers, the events (with their eviction) and
// the applied index of a batch commit together or not at all, so a restart
// resumes exactly after the last applied batch and never applies an entry
// twice. Not the place for command semantics: node/ decides what an entry
// does; this only stores the effects.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "node/raft/result.h"
#include "node/raft/types.h"
#include "storage/records.h"

namespace cabildo::storage {

class Storage;
class WriteTxn;
struct Databases;

// Obtained from Storage::begin_apply(). RAII: destroyed without commit(), it
// aborts and nothing of the batch is stored. Only one may
// be in progress at a time: LMDB has one writer. It must not outlive its
// Storage.
//
// MDB_MAP_FULL, from a write or from the commit, is handled inside: every
// write is also kept in writes_, so the batch is aborted, the map doubled and
// writes_ replayed into a new transaction. The replay is exact because the
// writes (including session and event eviction) depend only on the stored
// state and the writes themselves. If the map cannot grow or LMDB fails, the ApplyTxn
// becomes failed: writes do nothing, reads return nullopt, put() returns
// the error's status and commit() returns the error.
class ApplyTxn {
public:
    using SessionRecord = storage::SessionRecord;

    ApplyTxn(ApplyTxn&& other) noexcept;
    ApplyTxn& operator=(ApplyTxn&&) = delete;
    ~ApplyTxn();

    // Reads see this batch's own writes.
    std::optional<std::string> get(std::string_view key);
    std::optional<StoredValue> get_entry(std::string_view key);
    // Only the metadata: no copy of the value (the write path's read).
    std::optional<KeyMeta> get_meta(std::string_view key);
    // Pairs with the prefix, as Storage::range.
    RangeResult range(std::string_view prefix, std::size_t limit, std::size_t bytes_max,
                      bool keys_only = false, std::string_view skip = {});
    // bad_request for an empty key, too_large for a key over 511 bytes.
    // meta is stored beside the value as given (node/ computes it).
    Status put(std::string_view key, std::string_view value, const KeyMeta& meta = {});
    // True if the key existed. A bad key size exists nowhere: false.
    bool erase(std::string_view key);

    // Leases (lease_db.h): the caller keeps the key count and the kv
    // metadata in step with attach/detach.
    std::optional<LeaseRecord> lease(std::uint64_t id);
    std::vector<std::string> lease_keys(std::uint64_t id, std::size_t limit);
    // The first key attached to the lease that starts with prefix.
    std::optional<std::string> lease_key_with_prefix(std::uint64_t id, std::string_view prefix);
    std::uint64_t last_lease_id();
    void set_lease(std::uint64_t id, const LeaseRecord& record);
    void erase_lease(std::uint64_t id);
    void attach_key(std::uint64_t id, std::string_view key);
    void detach_key(std::uint64_t id, std::string_view key);
    std::optional<SessionRecord> session(std::uint64_t session_id);
    // Records the session's answer; index is the log index of the command
    // and orders eviction (the oldest index goes first past sessions_max).
    void set_session(std::uint64_t session_id, std::uint64_t seq, raft::LogIndex index,
                     std::string_view reply);
    // Records an event (opaque bytes from node/) of the entry at index that
    // changed the state; key is the client key, kept for prefix filtering.
    // One entry may record several, in order. Past Options::events_max
    // events the oldest are evicted in this same transaction.
    // Preconditions (asserted): index >= every earlier event's index and >
    // Storage::applied_index(); key.size() <= 65535.
    void add_event(raft::LogIndex index, std::string_view key, std::string_view event);
    // Precondition: index >= Storage::applied_index(). term is the entry's
    // (kept beside it, so a snapshot of the state knows its position).
    void set_applied(raft::LogIndex index, raft::Term term = 0);
    // A configuration entry applied: the membership as of this batch.
    void set_membership(const raft::Membership& membership);
    // Commit, unsynced (storage.h says why that is safe). storage_full on a
    // full disk or a map at map_bytes_max, io_error otherwise. Either way the
    // ApplyTxn is finished afterwards.
    Result<bool> commit();

private:
    friend class Storage;

    struct Put {
        std::string key;
        std::string value;  // encoded with its metadata (codec::encode_kv)
    };
    struct Erase {
        std::string key;
    };
    struct SetSession {
        std::uint64_t session_id;
        std::uint64_t seq;
        raft::LogIndex index;
        std::string reply;
    };
    struct AddEvent {
        raft::LogIndex index;
        std::uint32_t position;
        std::string key;
        std::string event;
    };
    struct SetApplied {
        raft::LogIndex index;
        raft::Term term;
    };
    struct SetTotals {};  // stores kv_hash_ and events_bytes_ as they are when it runs
    struct SetMembership {
        raft::Membership membership;
    };
    struct SetLease {
        std::uint64_t id;
        LeaseRecord record;
    };
    struct EraseLease {
        std::uint64_t id;
    };
    struct AttachKey {
        std::uint64_t id;
        std::string key;
        bool attach;  // false: detach
    };
    using Write = std::variant<Put, Erase, SetSession, AddEvent, SetApplied, SetTotals,
                               SetMembership, SetLease, EraseLease, AttachKey>;

    ApplyTxn(Storage& storage, Databases& dbs, std::unique_ptr<WriteTxn> txn);

    bool record(Write write);
    int run(const Write& write);
    int run_put(const Put& write);
    int run_erase(const Erase& write);
    int run_add_event(const AddEvent& write);
    int run_set_totals();
    int replay();
    bool restart_after_map_full();
    void fail(Error error);

    Storage* storage_;
    Databases* dbs_;
    std::unique_ptr<WriteTxn> txn_;  // Invariant: null once finished_ or error_.
    std::vector<Write> writes_;      // every write of the batch, in order, for replay
    std::optional<Error> error_;
    std::optional<raft::LogIndex> applied_;
    raft::LogIndex event_index_ = 0;  // of the last add_event, and the next position in it
    std::uint32_t event_position_ = 0;
    bool erase_existed_ = false;  // result of the last Erase run
    std::uint64_t kv_hash_begin_ = 0;  // the stored state hash when the batch began
    std::uint64_t kv_hash_ = 0;        // ... with this batch's kv writes so far
    std::uint64_t events_bytes_begin_ = 0;  // the stored events' bytes when the batch began
    std::uint64_t events_bytes_ = 0;        // ... with this batch's events so far
    int map_grows_ = 0;           // bounded by map_grows_per_txn_max
    bool finished_ = false;
};

}  // namespace cabildo::storage
