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
// Each command that changed the state (a put, a delete of a present key, a
// cas that swapped) yields an event, stored with its revision in the same
// transaction, for watch_from; the node publishes it once committed.
#pragma once

#include <span>
#include <vector>

#include "node/raft/result.h"
#include "node/raft/types.h"
#include "storage/storage.h"
#include "wire/client_messages.h"
#include "wire/command.h"

namespace cabildo::node {

struct Applied {
    raft::LogIndex index = 0;
    raft::Term term = 0;
    bool is_command = false;  // false for the no-op of a new term
    wire::ClientReply reply;  // without id and leader: the caller fills them in
    std::string event;        // encoded wire::Event if the state changed, else empty
    std::string key;          // the key the event is about
    std::optional<raft::Membership> membership;  // a configuration entry: the new membership
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
    wire::ClientReply execute(const wire::Command& command, raft::LogIndex index,
                              storage::ApplyTxn& txn, std::optional<wire::Event>& event);
    wire::ClientReply run(const wire::Command& command, raft::LogIndex index,
                          storage::ApplyTxn& txn, std::optional<wire::Event>& event);

    storage::Storage& storage_;
};

}  // namespace cabildo::node
