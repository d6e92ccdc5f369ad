// Client: the C++ API of a Cabildo cluster -- get, put, del, cas, range and
// status -- as plain calls that return Result values.
//
// A Client owns one ZeroMQ context, one LeaderRpc (leader finding, failover,
// backoff) and one Session (exactly-once writes). Every write takes the next
// seq of the session, and all retries of it resend the same (session, seq),
// so a put that timed out at the client and is retried executes once. Reads
// carry no session. It is single-threaded: use one Client per thread, which
// also gives each thread its own session (PROTOCOL.md §6 allows one write in
// flight per session). It has no background thread and no watch support.
// Errors are values: bad_request, too_large and storage_full when the cluster
// rejects a request (permission_denied is bad_request and quota_exceeded
// storage_full, the code first in the detail); no_leader, unavailable and
// timeout (a write's outcome is unknown) when it cannot be reached in time;
// io_error for a malformed reply or an internal error at the node.
// Error::detail has the node's message. With ClientOptions::curve every
// socket is a CURVE client (a secured cluster, PROTOCOL.md section 12).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "client/client_curve.h"
#include "client/leader_rpc.h"
#include "client/session.h"
#include "node/raft/result.h"
#include "wire/client_messages.h"

namespace cabildo::client {

struct ClientOptions {
    std::vector<std::string> endpoints;  // client endpoints, e.g. "tcp://127.0.0.1:7101"
    std::chrono::milliseconds request_timeout{1000};  // one attempt at one node
    std::chrono::milliseconds total_timeout{10000};   // one call, all retries included
    // A secured cluster's keys (PROTOCOL.md section 12); unset: plain TCP.
    std::optional<ClientCurve> curve{};
};

// The client endpoints of the default local cluster (node i: 7100+10*(i-1)+1).
std::vector<std::string> default_endpoints();

struct GetResult {
    std::optional<std::string> value;  // nullopt: the key is absent
    std::uint64_t revision = 0;        // the applied index the read saw
};

struct WriteResult {
    std::uint64_t revision = 0;  // the log index the write committed at
};

struct DeleteResult {
    bool deleted = false;  // the key existed
    std::uint64_t revision = 0;
};

struct CasResult {
    bool succeeded = false;  // the swap happened
    std::uint64_t revision = 0;
};

struct RangeResult {
    std::vector<wire::KeyValue> kvs;  // in bytewise key order
    bool more = false;                // more keys matched than were returned
    std::uint64_t revision = 0;
};

// Invariant: the endpoints are not empty (an empty list means
// default_endpoints()).
class Client {
public:
    explicit Client(ClientOptions options);
    // The context must outlive rpc_'s reference to it: neither copy nor move.
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Result<GetResult> get(std::string_view key,
                          wire::Consistency consistency = wire::Consistency::linearizable);
    Result<WriteResult> put(std::string_view key, std::string_view value);
    Result<DeleteResult> del(std::string_view key);
    // Sets key to value only if it holds `expected` now; expected = nullopt
    // means the key must be absent. A failed comparison is not an error.
    Result<CasResult> cas(std::string_view key, std::optional<std::string> expected,
                          std::string_view value);
    // limit: 1..wire::range_limit_max.
    Result<RangeResult> range(std::string_view prefix,
                              std::uint32_t limit = wire::range_limit_default,
                              wire::Consistency consistency = wire::Consistency::linearizable);
    // Asks exactly that node, once, within request_timeout: no failover.
    Result<wire::NodeStatus> status(const std::string& endpoint);
    // status() of every configured endpoint, asked in parallel; in endpoint order.
    std::vector<std::pair<std::string, Result<wire::NodeStatus>>> cluster_status();

    // member_list, member_add/promote/remove, transfer_leader: to the
    // leader (member_list: any node), retried as a read is; the reply holds
    // the membership.
    Result<wire::ClientReply> membership(wire::ClientRequest request) {
        return read(std::move(request));
    }

    // Any request: a write (wire::is_command_op, but a read-only txn) with
    // this client's session and a write's retry rules, otherwise a read.
    Result<wire::ClientReply> call(wire::ClientRequest request);

    const ClientOptions& options() const { return options_; }
    const Session& session() const { return session_; }
    // Where the next request goes first (the leader, once known).
    const std::string& next_endpoint() const { return rpc_.next_endpoint(); }

private:
    Result<wire::ClientReply> read(wire::ClientRequest request);
    Result<wire::ClientReply> write(wire::ClientRequest request);

    ClientOptions options_;
    // Declared before rpc_, which keeps a reference to it.
    zmq::context_t context_;
    Session session_;
    LeaderRpc rpc_;
};

}  // namespace cabildo::client
