// KvStateMachine: applies committed log entries to the key-value state.
//
// Deterministic: every node applies the same entries to the same state and
// gets the same results, so the replies it computes are the same on every
// node. A batch of entries, the session answers and the applied index are
// one storage transaction (a restart never applies an entry twice).
//
// Sessions make retries exactly-once: a command with (session, seq) that was
// already applied is not executed again; its first reply is returned. A
// session is remembered until sessions_max newer ones push it out (least
// recently used first); a command with seq > 1 in a session that is not
// remembered answers session_expired and is not executed.
//
// Each key a command changed (a put, a delete of a present key, a cas that
// swapped, a txn's writes, the keys of a revoked or expired lease) yields an
// event, stored with its revision in the same transaction, for watch_from;
// the node publishes them once committed.
//
// Leases: the state holds each lease's TTL and `renewed` (the index of its
// grant or last keepalive), never a time. Applied tells the node what
// changed so that its LeaseClock (lease_clock.h) can time them.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "node/raft/result.h"
#include "node/raft/types.h"
#include "storage/storage.h"
#include "wire/client_messages.h"
#include "wire/command.h"
#include "wire/coord.h"

namespace cabildo::node {

struct EventOut {
    std::string key;    // the key the event is about
    std::string event;  // encoded wire::Event
};

// A lease granted or renewed (ttl_ms > 0), or gone (revoked or expired).
struct LeaseChange {
    std::uint64_t lease = 0;
    std::uint64_t renewed = 0;
    std::uint64_t ttl_ms = 0;  // 0: gone

    bool operator==(const LeaseChange&) const = default;
};

// What a held request waits for (node_waits.cc): a mutex waiter granted
// (token: the grant's revision) or gone without a grant, or an item ready in
// a queue.
struct Wake {
    enum class Kind : std::uint8_t { granted, removed };
    Kind kind = Kind::granted;
    std::string key;  // the waiter key
    std::uint64_t token = 0;

    bool operator==(const Wake&) const = default;
};
struct QueueReady {
    std::string queue;  // the name
    std::uint64_t item = 0;

    bool operator==(const QueueReady&) const = default;
};

struct Applied {
    raft::LogIndex index = 0;
    raft::Term term = 0;
    bool is_command = false;  // false for the no-op of a new term
    wire::ClientReply reply;  // without id and leader: the caller fills them in
    std::vector<EventOut> events;  // one per key changed, in order
    std::vector<LeaseChange> leases;
    std::optional<raft::Membership> membership;  // a configuration entry: the new membership
    std::vector<Wake> wakes;             // in order: removals, then the entry's grants
    std::vector<QueueReady> queue_ready;  // items that became ready (put or given back)
};

class KvStateMachine {
public:
    explicit KvStateMachine(storage::Storage& storage) : storage_(storage) {}

    // The batch's transaction, written but not yet committed, and the result
    // of every entry. Results are final once the entries are committed in
    // the Raft sense: the same entries always give the same results.
    struct Staged {
        storage::ApplyTxn txn;
        std::vector<Applied> applied;
    };

    // Applies entries (consecutive, after the applied index, already in the
    // synced log) in one transaction. Nothing is stored until
    // staged.txn.commit(); on a storage error nothing is written.
    Result<Staged> stage(std::span<const raft::Entry> entries);
private:
    // What one entry does: its events and lease changes, and its index.
    struct Effects {
        raft::LogIndex index = 0;
        storage::ApplyTxn* txn = nullptr;
        std::vector<wire::Event> events;
        std::vector<LeaseChange> leases;
        // Mutexes (by base key) whose waiters this entry changed, with the
        // first waiter before its first change: settle_mutexes() compares.
        std::map<std::string, std::optional<std::string>> mutexes_touched;
        std::vector<Wake> wakes;
        std::vector<QueueReady> queue_ready;
    };

    wire::ClientReply execute(const wire::Command& command, Effects& fx);
    wire::ClientReply run(const wire::Command& command, Effects& fx);
    wire::ClientReply run_put(const wire::Command& command, Effects& fx);
    wire::ClientReply run_delete(const wire::Command& command, Effects& fx);
    wire::ClientReply run_cas(const wire::Command& command, Effects& fx);
    wire::ClientReply run_txn(const wire::Txn& txn, Effects& fx);
    wire::ClientReply lease_grant(const wire::Command& command, Effects& fx);
    wire::ClientReply lease_keepalive(const wire::Command& command, Effects& fx);
    wire::ClientReply lease_revoke(const wire::Command& command, Effects& fx);
    wire::ClientReply lease_expire(const wire::Command& command, Effects& fx);

    // Checks that `lease` (0: none) can take `adding` more keys; the error
    // reply if not.
    std::optional<wire::ClientReply> check_lease(std::uint64_t lease, std::uint64_t adding,
                                                 Effects& fx);
    std::uint64_t attaching(std::string_view key, std::uint64_t lease, Effects& fx);
    // Stores key = value with its new metadata, moves its lease attachment
    // and records the event; *prev gets the old value if prev is set.
    Status write_key(std::string_view key, std::string_view value, std::uint64_t lease,
                     Effects& fx, std::optional<storage::StoredValue>* prev = nullptr);
    // Deletes the key if present (detaching its lease); true if it was.
    bool delete_key(std::string_view key, Effects& fx);
    // Deletes a key known to be present with that lease.
    void erase_present(std::string_view key, std::uint64_t lease, Effects& fx);
    // Deletes up to delete_prefix_max keys with the prefix; *more if others remain.
    std::uint64_t delete_prefix(std::string_view prefix, Effects& fx, bool* more);
    void adjust_lease_keys(std::uint64_t lease, std::int64_t delta, Effects& fx);
    // Deletes the lease and every key attached to it; how many keys.
    std::uint64_t drop_lease(std::uint64_t lease, Effects& fx);
    // A new lease of ttl_ms, its id chosen as lease_grant's.
    std::uint64_t grant_lease(std::uint64_t wanted, std::uint64_t ttl_ms, Effects& fx);

    // state_machine_mutex.cc: locks and elections.
    wire::ClientReply run_lock(const wire::Command& command, Effects& fx);
    wire::ClientReply run_unlock(const wire::Command& command, Effects& fx);
    wire::ClientReply run_proclaim(const wire::Command& command, Effects& fx);
    wire::ClientReply run_wait_cancel(const wire::Command& command, Effects& fx);
    std::optional<std::string> first_waiter(std::string_view base, Effects& fx);
    void touch_mutex(std::string_view base, Effects& fx);
    // The holder's record follows the first waiter; grants are woken.
    void settle_mutexes(Effects& fx);

    // state_machine_queue.cc: queues.
    wire::ClientReply run_queue_put(const wire::Command& command, Effects& fx);
    wire::ClientReply run_queue_get(const wire::Command& command, Effects& fx);
    wire::ClientReply run_queue_ack(const wire::Command& command, Effects& fx);
    void write_queue_meta(std::string_view base, const wire::QueueMeta& meta, Effects& fx);
    wire::QueueMeta queue_meta(std::string_view base, Effects& fx);
    // An in-flight item whose receipt ended: ready again, in its place.
    void give_back(std::string_view key, Effects& fx);
    // Erases a key if present and records its delete event (no lease, no hooks).
    void erase_plain(std::string_view key, Effects& fx);

    storage::Storage& storage_;
};

}  // namespace cabildo::node
