// KvStateMachine; see state_machine.h.
#include "node/state_machine.h"

#include "wire/command.h"
#include "wire/protocol.h"

namespace cabildo::node {

Result<KvStateMachine::Staged> KvStateMachine::stage(std::span<const raft::Entry> entries) {
    auto txn = storage_.begin_apply();
    if (!txn) return txn.error();
    std::vector<Applied> applied;
    applied.reserve(entries.size());
    for (const raft::Entry& entry : entries) {
        Applied a{entry.index, entry.term, entry.type == raft::EntryType::normal, {}, {}, {}, {}};
        if (entry.type == raft::EntryType::config) {
            a.membership = raft::decode_membership(entry.data);  // checked when it was received
            if (a.membership) txn->set_membership(*a.membership);
        }
        if (a.is_command) {
            auto command = wire::decode_command(entry.data.data(), entry.data.size());
            if (command) {
                std::optional<wire::Event> event;
                a.reply = execute(*command, entry.index, *txn, event);
                if (event) {
                    a.event = wire::encode_event(*event);
                    a.key = event->key;
                    txn->add_event(entry.index, a.key, a.event);
                }
            } else {
                // Every node decodes the same bytes the same way, so this is
                // deterministic; it can only mean a bug in whoever proposed it.
                a.reply = wire::make_error_reply(wire::error_internal,
                                                 "undecodable command: " + command.error().detail,
                                                 {});
            }
        }
        applied.push_back(std::move(a));
    }
    if (!entries.empty()) txn->set_applied(entries.back().index, entries.back().term);
    return Staged{std::move(*txn), std::move(applied)};
}

wire::ClientReply KvStateMachine::execute(const wire::Command& command, raft::LogIndex index,
                                          storage::ApplyTxn& txn,
                                          std::optional<wire::Event>& event) {
    if (command.session != 0) {
        if (auto record = txn.session(command.session)) {
            if (command.seq == record->seq) {
                auto first = wire::decode_reply(record->reply.data(), record->reply.size());
                if (first) return *first;  // a retry: the first answer again
            } else if (command.seq < record->seq) {
                return wire::make_error_reply(
                    wire::error_stale_session,
                    "seq " + std::to_string(command.seq) + " is older than the session's last (" +
                        std::to_string(record->seq) + ")",
                    {});
            }
        } else if (command.seq > 1) {
            // A session starts at seq 1, so this one was known and has been
            // evicted (past --sessions-max): whether an earlier attempt of
            // this very command was applied can no longer be told. Say so
            // rather than run it; nothing is recorded, so every later write
            // in the session gets this answer too.
            return wire::make_error_reply(
                wire::error_session_expired,
                "session " + std::to_string(command.session) +
                    " is not remembered (sessions are evicted least recently used first past "
                    "the cluster's --sessions-max): this write was not applied now; start a new "
                    "session",
                {});
        }
    }
    wire::ClientReply reply = run(command, index, txn, event);
    if (command.session != 0) {
        txn.set_session(command.session, command.seq, index, wire::encode_reply(reply));
    }
    return reply;
}

wire::ClientReply KvStateMachine::run(const wire::Command& command, raft::LogIndex index,
                                      storage::ApplyTxn& txn, std::optional<wire::Event>& event) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = index;
    switch (command.op) {
    case wire::Op::put: {
        const Status status = txn.put(command.key, command.value);
        if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "put", {});
        event = wire::Event{index, false, command.key, command.value};
        return reply;
    }
    case wire::Op::del:
        reply.succeeded = txn.erase(command.key);
        if (*reply.succeeded) event = wire::Event{index, true, command.key, std::nullopt};
        return reply;
    case wire::Op::cas: {
        const std::optional<std::string> current = txn.get(command.key);
        const std::optional<std::string>& expected = *command.expected;
        const bool match = expected ? current == expected : !current.has_value();
        if (match) {
            const Status status = txn.put(command.key, command.value);
            if (status != Status::ok) {
                return wire::make_error_reply(wire::error_code(status), "cas", {});
            }
            event = wire::Event{index, false, command.key, command.value};
        }
        reply.succeeded = match;
        return reply;
    }
    default:
        return wire::make_error_reply(wire::error_internal, "not a write operation", {});
    }
}

}  // namespace cabildo::node
