// NodeSecurity; see node_security.h.
#include "node/node_security.h"

#include <spdlog/spdlog.h>

#include "wire/protocol.h"

namespace cabildo::node {

namespace {

bool worth_logging(std::uint64_t count) { return (count & (count - 1)) == 0; }

}  // namespace

NodeSecurity::NodeSecurity(zmq::context_t& context, const std::optional<SecurityConfig>& config)
    : config_(config) {
    if (!config_) return;
    // Bound before any CURVE server socket: without a handler libzmq lets
    // every key in.
    zap_.emplace(context, [this](const std::string& domain, const std::string& key) {
        return decide(domain, key);
    });
}

std::optional<std::string> NodeSecurity::decide(const std::string& domain,
                                                const std::string& key) const {
    const wire::Acl& acl = config_->acl;
    if (acl.member_of_key(key) != raft::node_none) return key;
    if (domain == "peer") return std::nullopt;
    const wire::AclIdentity* identity = acl.identity_of_key(key);
    if (identity == nullptr) return std::nullopt;
    if (domain == "pub" && !wire::has_right_anywhere(*identity, wire::right_watch)) {
        return std::nullopt;
    }
    return key;
}

void NodeSecurity::serve(zmq::socket_t& socket, const char* domain) const {
    if (!config_) return;
    // Peers prove the node's own key; clients, the cluster's server key.
    const bool peer = std::string_view(domain) == "peer";
    wire::make_curve_server(socket, peer ? config_->node_keys : config_->server_keys, domain);
}

bool NodeSecurity::link_to_peer(zmq::socket_t& socket, raft::NodeId id) const {
    if (!config_) return true;
    auto it = config_->acl.member_keys.find(id);
    if (it == config_->acl.member_keys.end()) {
        spdlog::error("security: the ACL file {} has no key for member {}: this node cannot "
                      "reach it until the file lists it (then SIGHUP)",
                      config_->acl_file, id);
        return false;
    }
    wire::make_curve_client(socket, config_->node_keys, it->second);
    return true;
}

void NodeSecurity::link_to_server(zmq::socket_t& socket) const {
    if (config_) wire::make_curve_client(socket, config_->node_keys, config_->server_keys.public_key);
}

raft::NodeId NodeSecurity::member_of(const zmq::message_t& message) const {
    if (!config_) return raft::node_none;
    return config_->acl.member_of_key(wire::proven_key(message));
}

std::optional<NodeSecurity::Denial> NodeSecurity::admit(const zmq::message_t& message,
                                                        const wire::ClientRequest& request,
                                                        Clock::time_point now) {
    if (!config_) return std::nullopt;
    const std::string key = wire::proven_key(message);
    if (config_->acl.member_of_key(key) != raft::node_none) return std::nullopt;
    const wire::AclIdentity* identity = config_->acl.identity_of_key(key);
    std::optional<Denial> denial;
    if (identity == nullptr) {
        denial = Denial{wire::error_permission_denied,
                        "key " + key + " is no longer in the ACL file"};
    } else if (auto why = wire::check_request(*identity, request)) {
        denial = Denial{wire::error_permission_denied, std::move(*why)};
    } else if (!rates_.admit(*identity, now)) {
        denial = Denial{wire::error_rate_limited, wire::RateLimiter::refusal(*identity)};
    }
    if (denial && worth_logging(++denied_)) {
        spdlog::info("security: {}: {} ({} refused so far)", denial->code, denial->message,
                     denied_);
    }
    return denial;
}

bool NodeSecurity::reload() {
    if (!config_) return false;
    auto acl = wire::read_acl_file(config_->acl_file);
    if (!acl) {
        spdlog::error("security: kept the ACL in force: {}", acl.error().detail);
        return false;
    }
    if (acl->member_of_key(config_->node_keys.public_key) == raft::node_none) {
        spdlog::error("security: kept the ACL in force: the new {} does not list this node's own "
                      "key ({}) under members",
                      config_->acl_file, config_->node_keys.public_key);
        return false;
    }
    rates_.keep_only(*acl);
    config_->acl = std::move(*acl);
    spdlog::info("security: ACL file {} reloaded: {} members, {} identities", config_->acl_file,
                 config_->acl.member_keys.size(), config_->acl.identities.size());
    return true;
}

std::string NodeSecurity::public_event(const std::string& encoded) const {
    if (!config_) return encoded;
    auto event = wire::decode_event(encoded.data(), encoded.size());
    if (!event) return std::string();  // our own encoding: cannot happen; never leak it
    event->value.reset();
    return wire::encode_event(*event);
}

}  // namespace cabildo::node
