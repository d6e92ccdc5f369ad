// Client: request building, local argument checks and reply unpacking
// (client.h). Retrying is LeaderRpc's job and sequencing is Session's.
#include "client/client.h"

#include <fmt/format.h>

#include "client/request_once.h"
#include "wire/protocol.h"

namespace cabildo::client {

namespace {

// Local checks mirror the node's (PROTOCOL.md §8), so an oversized request is
// refused before it costs a round trip or a session seq.
std::optional<Error> check_key(std::string_view key) {
    if (key.empty())
        return Error{Status::bad_request, "key: must not be empty"};
    if (key.size() > wire::key_bytes_max) {
        return Error{Status::too_large,
                     fmt::format("key: {} bytes, at most {}", key.size(), wire::key_bytes_max)};
    }
    return std::nullopt;
}

std::optional<Error> check_value(std::string_view value) {
    if (value.size() > wire::value_bytes_max) {
        return Error{Status::too_large, fmt::format("value: {} bytes, at most {}", value.size(),
                                                    wire::value_bytes_max)};
    }
    return std::nullopt;
}

std::optional<Error> check_range(std::string_view prefix, std::uint32_t limit) {
    if (prefix.size() > wire::key_bytes_max) {
        return Error{Status::too_large, fmt::format("prefix: {} bytes, at most {}", prefix.size(),
                                                    wire::key_bytes_max)};
    }
    if (limit < 1 || limit > wire::range_limit_max) {
        return Error{Status::bad_request,
                     fmt::format("limit: {} is not in 1..{}", limit, wire::range_limit_max)};
    }
    return std::nullopt;
}

Error missing_field(std::string_view op, std::string_view field) {
    return Error{Status::io_error, fmt::format("malformed reply to {}: no `{}`", op, field)};
}

wire::ClientRequest make_request(wire::Op op, std::string_view key) {
    wire::ClientRequest request;
    request.op = op;
    request.key = std::string(key);
    return request;
}

}  // namespace

std::vector<std::string> default_endpoints() {
    return {"tcp://127.0.0.1:7101", "tcp://127.0.0.1:7111", "tcp://127.0.0.1:7121"};
}

namespace {

LeaderRpcOptions rpc_options(const ClientOptions& options) {
    LeaderRpcOptions rpc;
    rpc.endpoints = options.endpoints.empty() ? default_endpoints() : options.endpoints;
    rpc.request_timeout = options.request_timeout;
    rpc.total_timeout = options.total_timeout;
    rpc.curve = options.curve;
    return rpc;
}

}  // namespace

Client::Client(ClientOptions options)
    : options_(std::move(options)), context_(1), session_(), rpc_(context_, rpc_options(options_)) {
    if (options_.endpoints.empty())
        options_.endpoints = default_endpoints();
}

Result<wire::ClientReply> Client::read(wire::ClientRequest request) {
    return rpc_.call(request, RequestKind::read);
}

Result<wire::ClientReply> Client::call(wire::ClientRequest request) {
    const bool write = wire::is_command_op(request.op) &&
                       !(request.op == wire::Op::txn && request.txn && wire::is_read_only(*request.txn));
    return write ? this->write(std::move(request)) : read(std::move(request));
}

Result<wire::ClientReply> Client::write(wire::ClientRequest request) {
    // One seq per new write; LeaderRpc resends these exact bytes on retry.
    request.session = session_.id();
    request.seq = session_.begin_write();
    Result<wire::ClientReply> reply = rpc_.call(request, RequestKind::write);
    if (!reply && reply.error().status == Status::session_expired) {
        // The cluster evicted this session: the state machine did not run
        // this write (it answers that instead), but an earlier attempt of it,
        // if one timed out, may have run. So no silent resend: the caller
        // hears of it, and the next write uses a fresh session.
        session_.renew();
    }
    return reply;
}

Result<GetResult> Client::get(std::string_view key, wire::Consistency consistency) {
    if (std::optional<Error> error = check_key(key))
        return *error;
    wire::ClientRequest request = make_request(wire::Op::get, key);
    request.consistency = consistency;
    Result<wire::ClientReply> reply = read(std::move(request));
    if (!reply)
        return reply.error();
    if (!reply->value)
        return missing_field("get", "value");
    return GetResult{std::move(*reply->value), reply->revision};
}

Result<WriteResult> Client::put(std::string_view key, std::string_view value) {
    if (std::optional<Error> error = check_key(key))
        return *error;
    if (std::optional<Error> error = check_value(value))
        return *error;
    wire::ClientRequest request = make_request(wire::Op::put, key);
    request.value = std::string(value);
    Result<wire::ClientReply> reply = write(std::move(request));
    if (!reply)
        return reply.error();
    return WriteResult{reply->revision};
}

Result<DeleteResult> Client::del(std::string_view key) {
    if (std::optional<Error> error = check_key(key))
        return *error;
    Result<wire::ClientReply> reply = write(make_request(wire::Op::del, key));
    if (!reply)
        return reply.error();
    if (!reply->succeeded)
        return missing_field("delete", "succeeded");
    return DeleteResult{*reply->succeeded, reply->revision};
}

Result<CasResult> Client::cas(std::string_view key, std::optional<std::string> expected,
                              std::string_view value) {
    if (std::optional<Error> error = check_key(key))
        return *error;
    if (std::optional<Error> error = check_value(value))
        return *error;
    if (expected) {
        if (std::optional<Error> error = check_value(*expected))
            return *error;
    }
    wire::ClientRequest request = make_request(wire::Op::cas, key);
    request.value = std::string(value);
    request.expected = std::move(expected);
    Result<wire::ClientReply> reply = write(std::move(request));
    if (!reply)
        return reply.error();
    if (!reply->succeeded)
        return missing_field("cas", "succeeded");
    return CasResult{*reply->succeeded, reply->revision};
}

Result<RangeResult> Client::range(std::string_view prefix, std::uint32_t limit,
                                  wire::Consistency consistency) {
    if (std::optional<Error> error = check_range(prefix, limit))
        return *error;
    wire::ClientRequest request;
    request.op = wire::Op::range;
    request.prefix = std::string(prefix);
    request.limit = limit;
    request.consistency = consistency;
    Result<wire::ClientReply> reply = read(std::move(request));
    if (!reply)
        return reply.error();
    if (!reply->range)
        return missing_field("range", "kvs");
    return RangeResult{std::move(reply->range->kvs), reply->range->more, reply->revision};
}

namespace {

std::string status_request_frame() {
    wire::ClientRequest request;
    request.op = wire::Op::status;
    return wire::encode_request(request);
}

Result<wire::NodeStatus> node_status_from(const std::string& endpoint,
                                          Result<wire::ClientReply> reply) {
    if (!reply) {
        const Error& error = reply.error();
        // No reply from one node is "unavailable", whatever the retry loop
        // would call it: status has no effect whose outcome could be unknown.
        const Status status =
            error.status == Status::io_error ? Status::io_error : Status::unavailable;
        return Error{status, error.detail};
    }
    if (!reply->ok) {
        return Error{status_for_error_code(reply->error),
                     fmt::format("{}: {}: {}", endpoint, reply->error, reply->message)};
    }
    if (!reply->status)
        return missing_field("status", "node_id");
    return std::move(*reply->status);
}

}  // namespace

Result<wire::NodeStatus> Client::status(const std::string& endpoint) {
    return node_status_from(endpoint, request_once(context_, endpoint, status_request_frame(),
                                                   options_.request_timeout, options_.curve));
}

std::vector<std::pair<std::string, Result<wire::NodeStatus>>> Client::cluster_status() {
    // In parallel: an unreachable node costs one request_timeout in all.
    std::vector<Result<wire::ClientReply>> replies =
        request_each(context_, options_.endpoints, status_request_frame(),
                     options_.request_timeout, options_.curve);
    std::vector<std::pair<std::string, Result<wire::NodeStatus>>> statuses;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        const std::string& endpoint = options_.endpoints[i];
        statuses.emplace_back(endpoint, node_status_from(endpoint, std::move(replies[i])));
    }
    return statuses;
}

}  // namespace cabildo::client
