// The reads a txn makes, over either view of the key-value state: the
// ApplyTxn of the batch being applied (a txn with writes, in the log) or
// the applied Storage (a read-only txn, served like a linearizable read).
// Both offer get_entry(key) and range(prefix, limit, bytes_max).
//
// Pure functions of the state they read: every node evaluates a txn's
// compares the same way.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "storage/records.h"
#include "wire/client_messages.h"

namespace cabildo::node {

// An ok reply at a revision, for the state machine's commands to fill in.
inline wire::ClientReply ok_reply(std::uint64_t revision) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = revision;
    return reply;
}

inline wire::KeyMeta to_wire(const storage::KeyMeta& m) {
    return {m.create_revision, m.mod_revision, m.version, m.lease};
}

// One compare against the key's stored value (nullopt: absent). A missing
// key reads as version, revisions and lease 0; a value compare on it is false.
bool compare_holds(const wire::Compare& compare, const std::optional<storage::StoredValue>& entry);

template <class Reader>
bool compares_hold(const std::vector<wire::Compare>& compares, Reader& reader) {
    for (const wire::Compare& c : compares) {
        if (!compare_holds(c, reader.get_entry(c.key))) return false;
    }
    return true;
}

inline wire::RangePage to_page(storage::RangeResult&& result) {
    wire::RangePage page;
    page.more = result.more;
    for (std::size_t i = 0; i < result.kvs.size(); ++i) {
        page.kvs.push_back({std::move(result.kvs[i].first), std::move(result.kvs[i].second),
                            to_wire(result.metas[i])});
    }
    return page;
}

// A get or range of a txn branch. *budget is the value and key bytes the
// txn's reads may still return (a range stops early, with `more`, past it).
template <class Reader>
wire::TxnResponse txn_read(const wire::TxnOp& op, Reader& reader, std::size_t* budget) {
    wire::TxnResponse response;
    response.op = op.op;
    if (op.op == wire::Op::get) {
        std::optional<storage::StoredValue> entry = reader.get_entry(op.key);
        if (entry) {
            *budget -= std::min(*budget, op.key.size() + entry->value.size());
            response.meta = to_wire(entry->meta);
            response.value = std::move(entry->value);
        } else {
            response.value = std::optional<std::string>();
        }
        return response;
    }
    storage::RangeResult result = reader.range(op.key, op.limit, std::max<std::size_t>(*budget, 1));
    for (const auto& [key, value] : result.kvs) *budget -= std::min(*budget, key.size() + value.size());
    response.range = to_page(std::move(result));
    return response;
}

}  // namespace cabildo::node
