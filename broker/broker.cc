// Broker: construction, sockets and the event loop; see broker.h.
#include "broker/broker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "wire/protocol.h"

namespace cabildo::broker {

namespace {

std::vector<NodeId> member_ids(const BrokerConfig& config) {
    std::vector<NodeId> ids;
    for (const node::Member& m : config.members) ids.push_back(m.id);
    return ids;
}

// Replies may be up to reply_frame_bytes_max; heartbeats and events are
// smaller. A little headroom so a legal message is never refused.
constexpr auto inbound_bytes_max = static_cast<int64_t>(wire::reply_frame_bytes_max + (64 << 10));

}  // namespace

Broker::Broker(BrokerConfig config)
    : config_(std::move(config)),
      advertised_(config_.advertised_client_endpoint()),
      tracker_(member_ids(config_), std::chrono::milliseconds(config_.alive_window_ms)),
      context_(1),
      security_(context_, config_.security),
      front_(context_, zmq::socket_type::router),
      xpub_(context_, zmq::socket_type::xpub),
      pull_(context_, zmq::socket_type::pull) {
    open_sockets();
    if (!config_.metrics_listen.empty()) {
        auto http = wire::metrics::HttpExporter::start(config_.metrics_listen);
        if (!http) throw std::runtime_error(http.error().detail);
        http_ = std::move(*http);
    }
    if (security_.enabled()) unheard_warning_at_ = Clock::now() + unheard_warning_after;
    spdlog::info("broker: clients at {}, streams at {}, pull at {}; {} members",
                 config_.client_bind_endpoint(), config_.pub_bind_endpoint(),
                 config_.pull_bind_endpoint(), config_.members.size());
}

void Broker::open_sockets() {
    front_.set(zmq::sockopt::linger, 0);
    front_.set(zmq::sockopt::router_mandatory, 1);
    front_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::frame_bytes_max));
    front_.set(zmq::sockopt::sndhwm, client_hwm);
    front_.set(zmq::sockopt::rcvhwm, client_hwm);
    security_.serve(front_, "client");
    front_.bind(config_.client_bind_endpoint());
    xpub_.set(zmq::sockopt::linger, 0);
    xpub_.set(zmq::sockopt::sndhwm, stream_hwm);
    xpub_.set(zmq::sockopt::maxmsgsize, int64_t{4096});  // subscriptions only
    security_.serve(xpub_, "pub");
    xpub_.bind(config_.pub_bind_endpoint());
    pull_.set(zmq::sockopt::linger, 0);
    pull_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::frame_bytes_max));
    pull_.set(zmq::sockopt::rcvhwm, client_hwm);
    security_.serve(pull_, "pull");
    pull_.bind(config_.pull_bind_endpoint());
    for (const node::Member& m : config_.members) links_.push_back(open_link(m));
}

Broker::NodeLink Broker::open_link(const node::Member& member) {
    NodeLink link{member.id, zmq::socket_t(context_, zmq::socket_type::dealer),
                  zmq::socket_t(context_, zmq::socket_type::push),
                  zmq::socket_t(context_, zmq::socket_type::sub)};
    for (zmq::socket_t* s : {&link.dealer, &link.push}) {
        s->set(zmq::sockopt::linger, 0);
        // No queueing into a connection that is not up: a send to a dead
        // node fails at once, and the broker tries the next node.
        s->set(zmq::sockopt::immediate, 1);
        s->set(zmq::sockopt::sndhwm, client_hwm);
        s->set(zmq::sockopt::reconnect_ivl, 50);
        s->set(zmq::sockopt::reconnect_ivl_max, 1000);
        security_.link_to_node(*s);
    }
    link.dealer.set(zmq::sockopt::rcvhwm, client_hwm);
    link.dealer.set(zmq::sockopt::maxmsgsize, inbound_bytes_max);
    link.dealer.connect(member.client_endpoint());
    link.push.connect(member.pull_endpoint());
    link.sub.set(zmq::sockopt::linger, 0);
    link.sub.set(zmq::sockopt::rcvhwm, stream_hwm);
    link.sub.set(zmq::sockopt::maxmsgsize, inbound_bytes_max);
    link.sub.set(zmq::sockopt::reconnect_ivl, 50);
    link.sub.set(zmq::sockopt::reconnect_ivl_max, 1000);
    link.sub.set(zmq::sockopt::subscribe, "");  // filtering is the XPUB's job
    security_.link_to_node(link.sub);
    link.sub.connect(member.pub_endpoint());
    return link;
}

Broker::NodeLink& Broker::link(NodeId id) {
    auto it =
        std::find_if(links_.begin(), links_.end(), [id](const NodeLink& l) { return l.id == id; });
    CABILDO_ASSERT(it != links_.end(), "a target that is not a member");
    return *it;
}

int Broker::run(const std::atomic<bool>& stop, std::atomic<bool>* reload_acl) {
    while (!stop.load()) {
        if (reload_acl != nullptr && reload_acl->exchange(false)) security_.reload();
        try {
            turn();
        } catch (const zmq::error_t& e) {
            if (e.num() == EINTR)
                continue;  // a signal: the loop condition decides
            spdlog::critical("broker: ZeroMQ error: {}", e.what());
            return 1;
        }
    }
    spdlog::info(
        "broker: shutting down; {} requests pending; counts: bad_request {}, timeout {}, "
        "unavailable {}, replies lost {}, pushes dropped {}, bad stream messages {}, "
        "requests refused {}, pushes refused {}",
        pending_.size() + waiting_.size(), bad_requests_, timeouts_, unavailable_, lost_replies_,
        dropped_pushes_, bad_stream_messages_, security_.denied(), denied_pushes_);
    return 0;
}

void Broker::turn() {
    std::vector<zmq::pollitem_t> items = {
        {front_.handle(), 0, ZMQ_POLLIN, 0},
        {pull_.handle(), 0, ZMQ_POLLIN, 0},
        {xpub_.handle(), 0, ZMQ_POLLIN, 0},
    };
    for (NodeLink& link : links_) {
        items.push_back({link.dealer.handle(), 0, ZMQ_POLLIN, 0});
        items.push_back({link.sub.handle(), 0, ZMQ_POLLIN, 0});
    }
    // Last, so the links' indexes stay 3 + 2i and 4 + 2i.
    if (zmq::socket_t* zap = security_.zap_socket()) {
        items.push_back({zap->handle(), 0, ZMQ_POLLIN, 0});
    }
    zmq::poll(items, poll_timeout(Clock::now()));
    now_ = Clock::now();
    // Handshakes wait on it: answered first, every turn.
    security_.handle_zap();
    // Heartbeats first: the requests of this turn then go to the newest leader.
    for (std::size_t i = 0; i < links_.size(); ++i) {
        if (items[4 + 2 * i].revents & ZMQ_POLLIN)
            drain_sub(links_[i]);
    }
    watch_cluster(now_);
    if (items[0].revents & ZMQ_POLLIN)
        drain_front();
    if (items[1].revents & ZMQ_POLLIN)
        drain_pull();
    if (items[2].revents & ZMQ_POLLIN)
        drain_xpub();
    for (std::size_t i = 0; i < links_.size(); ++i) {
        if (items[3 + 2 * i].revents & ZMQ_POLLIN)
            drain_replies(links_[i]);
    }
    expire_requests(Clock::now());
    if (leader_status_) {  // the links change only here, between turns' poll items
        learn_members(*leader_status_);
        leader_status_.reset();
    }
    if (http_) http_->serve([this](std::string_view path) { return answer_http(path); });
}

std::chrono::milliseconds Broker::poll_timeout(Clock::time_point now) const {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(poll_timeout_max);
    if (!pending_.empty()) {
        const auto until =
            std::chrono::ceil<std::chrono::milliseconds>(pending_.begin()->second.deadline - now);
        wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
    return wait;
}

// Logs leader changes and switches the kv/ source when it went silent.
void Broker::watch_cluster(Clock::time_point now) {
    const std::optional<NodeId> lead = tracker_.leader(now);
    if (lead != last_leader_) {
        if (lead) {
            spdlog::info("broker: leader is node {}", *lead);
        } else {
            spdlog::info("broker: no leader known (alive nodes: {})",
                         tracker_.alive_nodes(now).size());
        }
        last_leader_ = lead;
    }
    warn_if_unheard(now);
    const std::optional<NodeId> old_source = tracker_.source();
    if (!tracker_.refresh_source(now)) {
        if (switch_floor_ && now >= switch_floor_until_)
            switch_floor_.reset();
        return;
    }
    if (!tracker_.source()) {
        spdlog::warn("broker: kv/ source node {} went silent and no node is alive",
                     old_source.value_or(0));
        return;
    }
    spdlog::info("broker: kv/ events now come from node {} (was {})", *tracker_.source(),
                 old_source ? std::to_string(*old_source) : std::string("none"));
    if (last_event_revision_ != 0) {
        switch_floor_ = last_event_revision_;
        switch_floor_until_ = now + switch_floor_window;
    }
}

// Secured, a refused handshake looks like a dead node, and nothing else
// would say why the broker never hears from any: said once, at start.
void Broker::warn_if_unheard(Clock::time_point now) {
    if (!unheard_warning_at_) return;
    if (!tracker_.alive_nodes(now).empty()) {
        unheard_warning_at_.reset();
    } else if (now >= *unheard_warning_at_) {
        spdlog::warn("broker: no node heard from in {} s; security is on: do the nodes' ACL "
                     "files list this broker's --curve-key ({}), and is --server-key the nodes'?",
                     unheard_warning_after.count(), config_.security->own_keys.public_key);
        unheard_warning_at_.reset();
    }
}

}  // namespace cabildo::broker
