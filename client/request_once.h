// request_once: one request/reply exchange with one node over a fresh REQ
// socket. The building block of LeaderRpc's Lazy Pirate loop and of
// Client::status(), which asks one node and never fails over. request_each
// does the same with several nodes at once (Client::cluster_status()).
//
// Each call opens a REQ socket (linger 0, so closing it never blocks the
// context), connects, sends one frame, polls up to the timeout for one reply
// frame and closes the socket again, whatever happened. A REQ socket that
// timed out cannot send again (zguide ch.4, libzmq#3495), so it is never kept.
// No exception escapes: cppzmq errors become values. With `curve` set the
// socket is a CURVE client (client_curve.h); a node that refuses the key
// never answers, which looks like a timeout.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "client/client_curve.h"
#include "node/raft/result.h"
#include "wire/client_messages.h"

namespace cabildo::client {

// The outcome of one exchange, for the caller's retry decision:
//   ok                -> the decoded reply (which may itself carry ok = false);
//   Status::timeout   -> no reply in time: the request MAY have been delivered;
//   Status::unavailable -> connect or send failed: the request was NOT sent;
//   Status::io_error  -> a reply arrived but is not a valid v1 reply map.
// Error::detail always names the endpoint.
Result<wire::ClientReply> request_once(zmq::context_t& context, const std::string& endpoint,
                                       const std::string& frame, std::chrono::milliseconds timeout,
                                       const std::optional<ClientCurve>& curve);

// request_once() to every endpoint in parallel, all within one timeout: the
// results are in endpoint order.
std::vector<Result<wire::ClientReply>> request_each(zmq::context_t& context,
                                                    const std::vector<std::string>& endpoints,
                                                    const std::string& frame,
                                                    std::chrono::milliseconds timeout,
                                                    const std::optional<ClientCurve>& curve);

}  // namespace cabildo::client
