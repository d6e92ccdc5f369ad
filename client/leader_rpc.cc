// LeaderRpc: the retry loop around request_once() (leader_rpc.h).
//
// The branching lives in call(); on_reply() and on_no_reply() decide per
// attempt whether the call is over, and keep the leader hint and the
// round-robin position up to date.
#include "client/leader_rpc.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "client/request_once.h"
#include "node/raft/assert.h"
#include "wire/protocol.h"

namespace cabildo::client {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// An attempt shorter than this cannot expect a reply (a TCP connect alone
// takes longer on a busy host), so the deadline is treated as passed.
constexpr milliseconds attempt_timeout_min{10};

milliseconds remaining_until(Clock::time_point deadline) {
    return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
}

}  // namespace

struct LeaderRpc::CallState {
    RequestKind kind = RequestKind::read;
    Clock::time_point start;
    Clock::time_point deadline;
    std::uint32_t attempts = 0;
    // A write was sent and no reply ruled out that it executed.
    bool maybe_delivered = false;
    // The last attempt followed a fresh leader hint without backing off; the
    // next refusal backs off, so two nodes pointing at each other cannot spin.
    bool hopped = false;
    // Some node answered (a refusal counts): the cluster is up and takes
    // this client's key, so giving up needs no hint about keys.
    bool answered = false;
    Status last_status = Status::unavailable;
    std::string last_detail = "no attempt was made";
};

Status status_for_error_code(std::string_view code) {
    if (code == wire::error_bad_request)
        return Status::bad_request;
    if (code == wire::error_too_large)
        return Status::too_large;
    if (code == wire::error_no_leader)
        return Status::no_leader;
    if (code == wire::error_timeout)
        return Status::timeout;
    if (code == wire::error_unavailable)
        return Status::unavailable;
    if (code == wire::error_storage_full)
        return Status::storage_full;
    if (code == wire::error_stale_session)
        return Status::bad_request;
    if (code == wire::error_session_expired)
        return Status::session_expired;
    if (code == wire::error_not_found)
        return Status::not_found;
    if (code == wire::error_change_pending)
        return Status::change_pending;
    if (code == wire::error_lagging)
        return Status::lagging;
    if (code == wire::error_no_quorum)
        return Status::no_quorum;
    if (code == wire::error_exists)
        return Status::exists;
    if (code == wire::error_permission_denied)
        return Status::permission_denied;
    if (code == wire::error_quota_exceeded)
        return Status::quota_exceeded;
    if (code == wire::error_rate_limited)
        return Status::unavailable;
    return Status::io_error;  // internal, and codes newer than this client
}

bool is_retryable_error_code(std::string_view code) {
    return code == wire::error_no_leader || code == wire::error_unavailable ||
           code == wire::error_timeout || code == wire::error_overloaded ||
           code == wire::error_rate_limited;
}

LeaderRpc::LeaderRpc(zmq::context_t& context, LeaderRpcOptions options)
    : context_(context), options_(std::move(options)), backoff_(options_.backoff) {
    CABILDO_ASSERT(!options_.endpoints.empty(), "LeaderRpc needs at least one endpoint");
}

const std::string& LeaderRpc::next_endpoint() const {
    if (leader_hint_ && *leader_hint_ != distrusted_hint_)
        return *leader_hint_;
    return options_.endpoints[next_index_ % options_.endpoints.size()];
}

Result<wire::ClientReply> LeaderRpc::call(const wire::ClientRequest& request, RequestKind kind) {
    const std::string frame = wire::encode_request(request);
    CallState state;
    state.kind = kind;
    state.start = Clock::now();
    // A request that waits (lock, campaign, queue_get) is held by the node
    // for up to wait_ms before its answer: each attempt, and the call, get
    // that much more.
    const milliseconds wait{wire::is_waiting_op(request.op) ? request.wait_ms : 0};
    state.deadline = state.start + options_.total_timeout + wait;
    backoff_.reset();
    while (state.attempts < options_.attempts_max) {
        const milliseconds remaining = remaining_until(state.deadline);
        if (remaining < std::clamp(options_.request_timeout, milliseconds{1}, attempt_timeout_min))
            break;
        // A copy: the attempt may change the hint the reference points into.
        const std::string endpoint = next_endpoint();
        ++state.attempts;
        Result<wire::ClientReply> result =
            request_once(context_, endpoint, frame,
                         std::min(options_.request_timeout + wait, remaining), options_.curve);
        std::optional<Result<wire::ClientReply>> done =
            result ? on_reply(endpoint, std::move(result.value()), state)
                   : on_no_reply(endpoint, result.error(), state);
        if (done)
            return std::move(*done);
    }
    return give_up(state);
}

std::optional<Result<wire::ClientReply>> LeaderRpc::on_no_reply(const std::string& endpoint,
                                                                const Error& error,
                                                                CallState& state) {
    // Something answered with bytes that are not a v1 reply: a version skew or
    // a foreign service on the port. Retrying elsewhere would hide it.
    if (error.status == Status::io_error)
        return Result<wire::ClientReply>(error);
    if (error.status == Status::timeout)
        state.maybe_delivered = true;
    state.last_status = Status::unavailable;
    state.last_detail = error.detail;
    state.hopped = false;
    forget_endpoint(endpoint);
    // No backoff: the attempt already waited request_timeout (or the connect
    // failed locally, which another endpoint may not).
    return std::nullopt;
}

std::optional<Result<wire::ClientReply>> LeaderRpc::on_reply(const std::string& endpoint,
                                                             wire::ClientReply reply,
                                                             CallState& state) {
    state.answered = true;
    note_leader(endpoint, reply.leader);
    if (reply.ok)
        return Result<wire::ClientReply>(std::move(reply));
    const Status status = status_for_error_code(reply.error);
    if (!is_retryable_error_code(reply.error)) {
        // The code goes into the detail unless the status says it already.
        const bool code_is_status = reply.error == status_name(status);
        std::string detail =
            code_is_status ? reply.message : fmt::format("{}: {}", reply.error, reply.message);
        return Result<wire::ClientReply>(Error{status, std::move(detail)});
    }
    if (reply.error == wire::error_timeout)
        state.maybe_delivered = true;
    state.last_status = status;
    state.last_detail = fmt::format("{}: {}: {}", endpoint, reply.error, reply.message);
    const bool new_hint = reply.leader && !reply.leader->empty() && *reply.leader != endpoint;
    if (new_hint && !state.hopped && next_endpoint() == *reply.leader) {
        state.hopped = true;  // go to the leader at once
        return std::nullopt;
    }
    if (!new_hint && !(reply.leader && *reply.leader == endpoint))
        forget_endpoint(endpoint);  // it knows no leader: ask another node next
    state.hopped = false;
    wait_before_retry(state);
    return std::nullopt;
}

void LeaderRpc::note_leader(const std::string& endpoint, const std::optional<std::string>& leader) {
    if (endpoint == distrusted_hint_)
        distrusted_hint_.clear();  // it answers again
    if (!leader || leader->empty()) return;
    leader_hint_ = *leader;
    // A leader the start-up list does not name joined the cluster since:
    // it stays known when the hint is forgotten (the members change).
    std::vector<std::string>& endpoints = options_.endpoints;
    if (std::find(endpoints.begin(), endpoints.end(), *leader) == endpoints.end() &&
        endpoints.size() < endpoints_max) {
        endpoints.push_back(*leader);
    }
}

void LeaderRpc::forget_endpoint(const std::string& endpoint) {
    if (leader_hint_ && *leader_hint_ == endpoint) {
        distrusted_hint_ = endpoint;
        leader_hint_.reset();
    }
    const std::vector<std::string>& endpoints = options_.endpoints;
    const auto found = std::find(endpoints.begin(), endpoints.end(), endpoint);
    if (found != endpoints.end()) {
        const auto index = static_cast<std::size_t>(found - endpoints.begin());
        next_index_ = (index + 1) % endpoints.size();
    }
}

void LeaderRpc::wait_before_retry(const CallState& state) {
    const milliseconds delay = std::min(backoff_.next_delay(), remaining_until(state.deadline));
    if (delay.count() > 0)
        std::this_thread::sleep_for(delay);
}

Error LeaderRpc::give_up(const CallState& state) const {
    const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - state.start);
    std::string detail = fmt::format("gave up after {} attempt(s) in {} ms; last: {}",
                                     state.attempts, elapsed.count(), state.last_detail);
    if (!state.answered && state.attempts > 0) {
        detail = fmt::format("no node answered: {}; {}", detail,
                             no_answer_hint(options_.curve.has_value()));
    }
    if (state.kind == RequestKind::write && state.maybe_delivered)
        return Error{Status::timeout, "outcome unknown: " + detail};
    if (state.last_status == Status::no_leader)
        return Error{Status::no_leader, detail};
    return Error{Status::unavailable, detail};
}

}  // namespace cabildo::client
