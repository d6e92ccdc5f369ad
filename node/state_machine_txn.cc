// KvStateMachine: txns with writes (state_machine.h). All compares are
// evaluated, then the chosen branch runs in order, each operation seeing the
// ones before it, all at the entry's revision; it runs whole or not at all.
#include <map>
#include <set>

#include "node/kv_reads.h"
#include "node/state_machine.h"
#include "wire/protocol.h"

namespace cabildo::node {

wire::ClientReply KvStateMachine::run_txn(const wire::Txn& txn, Effects& fx) {
    storage::ApplyTxn& view = *fx.txn;
    const bool succeeded = compares_hold(txn.compare, view);
    const std::vector<wire::TxnOp>& branch = succeeded ? txn.success : txn.failure;
    // Every lease the branch attaches must exist and have room, checked
    // before anything is written (a put that fails would leave half a txn).
    // A key counts once, and not if it is on that lease already.
    std::set<std::pair<std::uint64_t, std::string_view>> attached;
    std::map<std::uint64_t, std::uint64_t> adding;
    for (const wire::TxnOp& op : branch) {
        if (op.op != wire::Op::put || op.lease == 0) continue;
        if (!attached.emplace(op.lease, op.key).second) continue;
        adding[op.lease] += attaching(op.key, op.lease, fx);
    }
    for (const auto& [lease, count] : adding) {
        if (auto refused = check_lease(lease, count, fx)) return *refused;
    }
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = fx.index;
    reply.succeeded = succeeded;
    reply.responses.emplace();
    std::size_t budget = wire::range_reply_bytes_max;
    for (const wire::TxnOp& op : branch) {
        wire::TxnResponse response;
        response.op = op.op;
        if (op.op == wire::Op::get || op.op == wire::Op::range) {
            response = txn_read(op, view, &budget);
        } else if (op.op == wire::Op::put) {
            std::optional<storage::StoredValue> old;
            const Status status = write_key(op.key, op.value, op.lease, fx, &old);
            // Keys and values were checked at decode: only a failed
            // storage transaction gets here, and then nothing is committed.
            if (status != Status::ok) return wire::make_error_reply(wire::error_code(status), "txn put", {});
            if (op.prev) {
                response.prev = old ? std::optional<wire::PrevValue>(
                                          wire::PrevValue{old->value, to_wire(old->meta)})
                                    : std::nullopt;
            }
        } else if (op.prefix) {
            bool more = false;
            response.deleted = delete_prefix(op.key, fx, &more);
            response.more = more;
        } else {
            response.deleted = delete_key(op.key, fx) ? 1 : 0;
        }
        reply.responses->push_back(std::move(response));
    }
    return reply;
}

}  // namespace cabildo::node
