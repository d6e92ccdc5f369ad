// Watcher: an exact watch of one key prefix -- every put and delete under it,
// each exactly once, in revision order -- over a cluster whose commit stream
// (PUB/SUB) may drop, duplicate or miss messages.
//
// It follows PROTOCOL.md §10, which is the Clone pattern (zguide ch.5) with
// the stream demoted to a doorbell: a SUB socket connected to ONE node's PUB
// (client port + 1) subscribes to kv/<prefix> and hb/ BEFORE the first
// watch_from; watch_from on that same node is the source of truth. Anything
// on the SUB socket that says the node has gone past the covered revision (a
// kv/ event, or a heartbeat's applied_index) makes the watcher ask watch_from
// again from covered + 1, until `more` is false. When heartbeats stop for
// silence_timeout, or a request to the node fails, it moves to the next
// endpoint and goes on from the same covered revision (every node applies
// the same history). It is not a cache of the prefix and keeps no key state.
//
// Single-threaded, no background thread: all work happens inside next(). It
// owns its ZeroMQ context; every socket has linger 0.
#pragma once

#include <chrono>
#include <cstddef>
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

struct WatchOptions {
    std::vector<std::string> endpoints;  // client endpoints; empty = default_endpoints()
    std::string prefix;                  // empty = every key
    // The first revision wanted. 0 = from now: the first node's applied
    // index + 1 (asked with `status` after subscribing).
    std::uint64_t from_revision = 0;
    std::chrono::milliseconds request_timeout{1000};  // one request to one node
    std::chrono::milliseconds silence_timeout{1000};  // no heartbeat this long -> next node
    std::uint32_t events_per_request_max = 1000;      // watch_from `limit`, 1..range_limit_max
    // A secured cluster's keys, for the SUB and the requests; unset: plain TCP.
    std::optional<ClientCurve> curve{};
    // 0: keep cycling through the endpoints until one answers, however long.
    // Else next() fails (unavailable) once this long has passed since the
    // watcher was made without any node answering a request or sending a
    // heartbeat: a cluster that is down, or secured and refusing the key,
    // looks the same. After a first answer, failures never end the watch.
    std::chrono::milliseconds unanswered_max{0};
};

// The PUB endpoint of the node with this client endpoint ("tcp://h:P" ->
// "tcp://h:P+1"), or nullopt when it is not a tcp endpoint with a port.
std::optional<std::string> pub_endpoint_for(std::string_view client_endpoint);

// Invariant: covered_ only grows; every event ever returned has a revision
// in (covered before that next() call, covered_] and they were returned in
// increasing revision order. Events at or below covered_ are never returned
// again, whatever a node or the stream repeats.
class Watcher {
public:
    explicit Watcher(WatchOptions options);
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // The next batch of events under the prefix, in revision order, waiting
    // up to `wait` for one (an empty batch: nothing happened in that time).
    // May overrun `wait` by one request_timeout when a node does not answer.
    // Unreachable, silent or failing nodes are not an error: the watcher
    // moves on and keeps cycling through the endpoints. Errors: bad_request
    // (an endpoint has no PUB port, or a node rejected the request, e.g. a
    // prefix over 511 bytes, or permission_denied), unavailable (no node
    // ever answered within unanswered_max), too_large (a resync found more than
    // range_limit_max keys: v1 has no range cursor).
    //
    // RESYNC: when the node no longer keeps the events wanted (`compacted`),
    // the watcher re-reads the prefix with a serializable range on the same
    // node and returns the whole prefix as synthetic put events, all at the
    // range's revision, with resynced() true. Such a batch (possibly EMPTY:
    // the prefix has no keys) replaces the caller's view: keys not in it were
    // deleted in between. Watching then continues from that revision + 1.
    Result<std::vector<wire::Event>> next(std::chrono::milliseconds wait);

    // True iff the batch the last next() returned is a resync snapshot.
    bool resynced() const { return resynced_; }
    // Every event up to this revision has been returned (or folded into a
    // resync snapshot). Start a new Watcher at covered_revision() + 1 to go on.
    std::uint64_t covered_revision() const { return covered_; }
    // The client endpoint of the node being watched.
    const std::string& endpoint() const { return options_.endpoints[current_]; }
    // How often the watcher moved to another node (silence or failed request).
    std::uint64_t node_switches() const { return node_switches_; }

private:
    Status connect_current();
    void switch_node();
    Result<wire::ClientReply> ask(const wire::ClientRequest& request);
    Error refusal(const wire::ClientReply& reply) const;
    Result<std::vector<wire::Event>> fetch();
    Result<std::vector<wire::Event>> resync();
    std::optional<Error> learn_start_revision(std::chrono::steady_clock::time_point deadline);
    std::optional<Error> on_refusal(const Error& error,
                                    std::chrono::steady_clock::time_point deadline);
    std::optional<Error> check_unanswered() const;
    void wait_for_doorbell(std::chrono::steady_clock::time_point deadline);
    void drain_subscriber();
    void on_stream_message(std::string_view topic, const zmq::message_t& body);

    WatchOptions options_;
    zmq::context_t context_;
    // Connected to options_.endpoints[current_]'s PUB; reset on every switch,
    // so whatever it holds came from the current node.
    std::optional<zmq::socket_t> subscriber_;
    std::size_t current_ = 0;
    std::uint64_t covered_ = 0;
    bool started_ = false;          // covered_ holds the start revision - 1
    bool catch_up_pending_ = true;  // watch_from must be asked before waiting
    bool resynced_ = false;
    std::chrono::steady_clock::time_point last_heartbeat_;  // or connect time
    std::uint64_t node_switches_ = 0;
    std::chrono::steady_clock::time_point created_;
    bool answered_ = false;  // some node answered a request or sent a heartbeat
    // Paces switches after a refusal (rate_limited, unavailable...): unlike a
    // request that timed out, it comes back at once, and the next node may
    // well refuse too.
    Backoff backoff_;
};

}  // namespace cabildo::client
