// Broker: cabildo-broker, the optional stateless front door of a cluster.
//
// It binds like a node (broker_config.h), so clients use it unchanged:
//
// - Requests (ROUTER): each request frame is forwarded untouched to the
//   leader's client endpoint over one DEALER per node, as
//   [forward-id, "", request]; the node echoes the envelope, so the reply is
//   matched by forward-id and relayed to the client with the client's exact
//   envelope. The `leader` hint of a relayed reply is rewritten to this
//   broker's own endpoint, or clients that follow hints (all of ours) would
//   leave the broker after their first reply. No answer within
//   request_timeout_ms: `timeout`; nothing could be sent: `unavailable`.
// - PULL: each frame goes to the leader's PULL (PUSH per node), dontwait;
//   dropped and counted when no node takes it.
// - Streams (XPUB): `hb/` from every node; `kv/` events from ONE source node
//   at a time (every node publishes every event), switched when the source
//   goes silent (LeaderTracker).
//
// The leader is learned from heartbeats only (LeaderTracker). When none is
// known the broker sends to any live node, which forwards to its leader. It
// keeps no state that matters: several brokers may run side by side, and a
// restarted one is useful after one heartbeat. One thread, one zmq::poll
// loop; every send is dontwait, so a slow peer never blocks the loop.
//
// It is not a client: it never retries a request (the client does, with its
// session), never decodes requests beyond finding their `id` (unless
// security is on: broker_security.h checks each one against its sender's
// rights, and the nodes see only the broker's identity), and is not on any
// path between nodes.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "broker/broker_config.h"
#include "broker/broker_security.h"
#include "broker/leader_tracker.h"
#include "node/frames.h"
#include "wire/client_messages.h"
#include "wire/metrics/http_exporter.h"
#include "wire/metrics/prometheus.h"

namespace cabildo::broker {

// Named limits (STYLE "put a limit on everything").
inline constexpr std::size_t pending_requests_max = 100000;
inline constexpr std::size_t client_frames_max = 8;      // envelope frames + body
inline constexpr std::size_t drain_per_turn_max = 4096;  // per socket and turn
inline constexpr int client_hwm = 100000;
inline constexpr int stream_hwm = 500000;  // XPUB sndhwm and SUB rcvhwm
// After a source switch, events at or below the old source's last one are
// duplicates; the floor is dropped after this long all the same, in case
// the cluster itself started over (revisions from 1 again).
inline constexpr std::chrono::milliseconds switch_floor_window{5000};
inline constexpr std::chrono::milliseconds poll_timeout_max{100};
// Secured and no node heard from for this long after start: say why it may be.
inline constexpr std::chrono::seconds unheard_warning_after{3};

class Broker {
public:
    explicit Broker(BrokerConfig config);

    // Serves until stop is set (by a signal handler). Returns the exit status.
    // reload_acl: set by SIGHUP; the loop reads the ACL file again and clears it.
    int run(const std::atomic<bool>& stop, std::atomic<bool>* reload_acl = nullptr);

private:
    using Envelope = std::vector<std::string>;  // the frames before the request body

    struct Pending {
        Envelope envelope;
        std::string id;  // the request's `id` (msgpack bytes), for our own replies
        Clock::time_point deadline;
        NodeId node = 0;
        Clock::time_point received{};  // for the latency histogram
    };
    // One node's sockets. All connect; the node binds.
    struct NodeLink {
        NodeId id = 0;
        zmq::socket_t dealer;  // to its client ROUTER
        zmq::socket_t push;    // to its PULL
        zmq::socket_t sub;     // from its PUB, subscribed to everything
    };

    // broker.cc: sockets and the loop.
    void open_sockets();
    NodeLink open_link(const node::Member& member);
    NodeLink& link(NodeId id);
    void turn();
    std::chrono::milliseconds poll_timeout(Clock::time_point now) const;
    void watch_cluster(Clock::time_point now);
    void warn_if_unheard(Clock::time_point now);

    // broker_requests.cc: the ROUTER front, the DEALERs and the PULL.
    void drain_front();
    void handle_request(node::Frames& frames);
    void forward(Envelope envelope, const zmq::message_t& body);
    void drain_replies(NodeLink& link);
    void relay(const Pending& pending, const zmq::message_t& reply);
    void reply_error(const Envelope& envelope, std::string_view code, std::string message,
                     std::string id);
    void expire_requests(Clock::time_point now);
    void drain_pull();

    // broker_streams.cc: the SUBs and the XPUB.
    void drain_sub(NodeLink& link);
    void on_heartbeat(NodeId from, const node::Frames& frames);
    void learn_members(const wire::NodeStatus& leader);
    void on_event(NodeId from, const node::Frames& frames);
    void drain_xpub();
    std::optional<std::string> leader_hint() const;

    // broker_metrics.cc: GET /metrics and /health (--metrics-listen).
    wire::metrics::HttpResponse answer_http(std::string_view path) const;
    void render_metrics(wire::metrics::TextWriter& w) const;

    BrokerConfig config_;
    std::string advertised_;  // config_.advertised_client_endpoint()
    LeaderTracker tracker_;
    zmq::context_t context_;
    BrokerSecurity security_;  // before the sockets: its ZAP handler must be bound first
    zmq::socket_t front_;  // ROUTER, clients' requests
    zmq::socket_t xpub_;   // the fanned-out streams
    zmq::socket_t pull_;   // clients' fire-and-forget writes
    std::vector<NodeLink> links_;
    std::optional<wire::NodeStatus> leader_status_;  // the leader's latest heartbeat this turn

    // Invariant: keys grow with time and the timeout is fixed, so deadlines
    // grow with the key: expiry looks only at the front of the map.
    std::map<std::uint64_t, Pending> pending_;
    // Requests that may wait at the node (lock, campaign, queue_get with
    // wait_ms): their deadlines are later by wait_ms, so they are kept
    // apart and scanned (at most every 10 ms).
    std::map<std::uint64_t, Pending> waiting_;
    Clock::time_point next_waiting_scan_;
    std::uint64_t next_forward_id_ = 1;

    Clock::time_point now_;                      // the time of this turn
    std::optional<NodeId> last_leader_;          // for logging changes
    std::optional<Clock::time_point> unheard_warning_at_;  // see unheard_warning_after
    std::uint64_t last_event_revision_ = 0;      // of the last kv/ event passed on
    std::optional<std::uint64_t> switch_floor_;  // see switch_floor_window
    Clock::time_point switch_floor_until_;

    // Counters, logged at shutdown.
    std::uint64_t bad_requests_ = 0;
    std::uint64_t timeouts_ = 0;
    std::uint64_t unavailable_ = 0;
    std::uint64_t lost_replies_ = 0;  // the client was gone or backlogged
    std::uint64_t dropped_pushes_ = 0;
    std::uint64_t denied_pushes_ = 0;  // outside their sender's rights (security on)
    std::uint64_t bad_stream_messages_ = 0;
    std::uint64_t relayed_ = 0;        // replies passed back to clients
    std::uint64_t pushes_passed_ = 0;  // PULL frames sent on to a node
    std::uint64_t events_passed_ = 0;  // kv/ events passed on to the XPUB
    wire::metrics::Histogram latency_{wire::metrics::latency_bounds()};  // arrival to relay
    Clock::time_point started_ = Clock::now();
    std::unique_ptr<wire::metrics::HttpExporter> http_;  // --metrics-listen (none: off)
};

}  // namespace cabildo::broker
