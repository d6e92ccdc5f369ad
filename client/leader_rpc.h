// LeaderRpc: sends one client request to the cluster and returns the first
// definitive reply, finding the leader, failing over and retrying on the way.
//
// This is LogCabin's Client/LeaderRPC over ZeroMQ's Lazy Pirate pattern
// (zguide ch.4): every attempt is one request_once() on a fresh REQ socket to
// the best endpoint known -- the last `leader` hint, else the endpoints in
// round-robin order. An attempt that gets no reply in request_timeout moves on
// to the next endpoint at once. A reply refusing the request for now
// (no_leader, unavailable, or a node-side timeout) is retried after a Backoff
// delay, at the reply's `leader` hint when there is one. Every other reply is
// final. It is not a session manager: the caller puts (session, seq) in the
// request, and every retry resends the very same bytes, so a retried write
// executes once (PROTOCOL.md §6). Single-threaded, like the Client that owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "client/backoff.h"
#include "client/client_curve.h"
#include "node/raft/result.h"
#include "wire/client_messages.h"

namespace cabildo::client {

struct LeaderRpcOptions {
    std::vector<std::string> endpoints;               // client endpoints; tried in this order
    std::chrono::milliseconds request_timeout{1000};  // one attempt's wait for a reply
    std::chrono::milliseconds total_timeout{10000};   // one call, all attempts and backoff
    std::uint32_t attempts_max = 100;                 // per call, whatever the time left
    BackoffLimits backoff;
    std::optional<ClientCurve> curve{};  // set: every attempt is a CURVE client
};

// What a call may do to the cluster, which decides how giving up is reported.
enum class RequestKind {
    read,   // no effect: giving up is unavailable (or no_leader)
    write,  // giving up after a request may have been delivered is timeout
};

// The Status for a reply's `error` code. Unknown codes are io_error, as
// PROTOCOL.md §5 says to treat them like `internal`.
Status status_for_error_code(std::string_view code);
// True for the codes PROTOCOL.md §5 says to retry: no_leader, unavailable,
// timeout, overloaded and rate_limited. Never permission_denied: the same
// request from the same identity is refused again.
bool is_retryable_error_code(std::string_view code);

// Invariant: options_.endpoints is not empty (asserted at construction).
class LeaderRpc {
public:
    // Endpoints learned from leader hints are added up to this many in all.
    static constexpr std::size_t endpoints_max = 64;

    // `context` must outlive this object.
    LeaderRpc(zmq::context_t& context, LeaderRpcOptions options);

    // A reply with ok = true, or an Error: the final refusal's status and
    // message (status_for_error_code), io_error for a malformed reply, or after
    // the deadline or attempts_max: timeout for a write that may have been
    // delivered ("outcome unknown"), else the last refusal (no_leader or
    // unavailable).
    Result<wire::ClientReply> call(const wire::ClientRequest& request, RequestKind kind);

    // The endpoint the next attempt goes to.
    const std::string& next_endpoint() const;
    // The leader's client endpoint as last reported by a node, if any.
    const std::optional<std::string>& leader_hint() const { return leader_hint_; }
    const LeaderRpcOptions& options() const { return options_; }

private:
    struct CallState;

    std::optional<Result<wire::ClientReply>> on_no_reply(const std::string& endpoint,
                                                         const Error& error, CallState& state);
    std::optional<Result<wire::ClientReply>> on_reply(const std::string& endpoint,
                                                      wire::ClientReply reply, CallState& state);
    void note_leader(const std::string& endpoint, const std::optional<std::string>& leader);
    void forget_endpoint(const std::string& endpoint);
    void wait_before_retry(const CallState& state);
    Error give_up(const CallState& state) const;

    zmq::context_t& context_;
    LeaderRpcOptions options_;
    Backoff backoff_;
    // Round-robin position in options_.endpoints, used when there is no hint.
    std::size_t next_index_ = 0;
    // The last non-empty `leader` from any reply; cleared when it stops answering.
    std::optional<std::string> leader_hint_;
    // A hint that gave no reply: not followed again until it answers, so an
    // unreachable advertised address cannot trap the client in a loop.
    std::string distrusted_hint_;
};

}  // namespace cabildo::client
