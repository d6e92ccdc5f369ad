// BrokerSecurity; see broker_security.h.
#include "broker/broker_security.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "wire/client_messages.h"
#include "wire/protocol.h"

namespace cabildo::broker {

namespace {

bool worth_logging(std::uint64_t count) { return (count & (count - 1)) == 0; }

}  // namespace

BrokerSecurity::BrokerSecurity(zmq::context_t& context,
                               const std::optional<BrokerSecurityConfig>& config)
    : config_(config) {
    if (!config_) return;
    // Bound before any CURVE server socket: without a handler libzmq lets
    // every key in.
    zap_.emplace(context, [this](const std::string& domain, const std::string& key) {
        return decide(domain, key);
    });
    spdlog::info("broker: security on: CURVE to the nodes as {}, {} client identities in {}",
                 config_->own_keys.public_key, config_->acl.identities.size(), config_->acl_file);
}

// Only client identities: nodes never connect to a broker, and the ACL's
// member keys are the nodes', not clients'.
std::optional<std::string> BrokerSecurity::decide(const std::string& domain,
                                                  const std::string& key) const {
    const wire::AclIdentity* identity = config_->acl.identity_of_key(key);
    if (identity == nullptr) return std::nullopt;
    if (domain == "pub") {
        if (!wire::has_right_anywhere(*identity, wire::right_watch)) return std::nullopt;
    } else if (domain != "client" && domain != "pull") {
        return std::nullopt;
    }
    return key;
}

void BrokerSecurity::serve(zmq::socket_t& socket, const char* domain) const {
    if (config_) wire::make_curve_server(socket, config_->server_keys, domain);
}

void BrokerSecurity::link_to_node(zmq::socket_t& socket) const {
    if (config_) {
        wire::make_curve_client(socket, config_->own_keys, config_->server_keys.public_key);
    }
}

std::optional<BrokerSecurity::Denial> BrokerSecurity::admit(const zmq::message_t& body,
                                                            Clock::time_point now) {
    if (!config_) return std::nullopt;
    std::optional<Denial> denial = judge(wire::proven_key(body), body, now);
    if (denial && denial->code != wire::error_bad_request && worth_logging(++denied_)) {
        spdlog::info("broker: security: {}: {} ({} refused so far)", denial->code,
                     denial->message, denied_);
    }
    return denial;
}

// The node would answer a request it cannot decode the same way; the
// broker must decode it to know which keys it touches.
std::optional<BrokerSecurity::Denial> BrokerSecurity::judge(const std::string& key,
                                                            const zmq::message_t& body,
                                                            Clock::time_point now) {
    auto request = wire::decode_request(body.data(), body.size());
    if (!request) {
        return Denial{wire::error_code(request.error().status), request.error().detail};
    }
    const wire::AclIdentity* identity = config_->acl.identity_of_key(key);
    if (identity == nullptr) {
        return Denial{wire::error_permission_denied,
                      "key " + key + " is no longer in the broker's ACL file"};
    }
    if (auto why = wire::check_request(*identity, *request)) {
        return Denial{wire::error_permission_denied, std::move(*why)};
    }
    // A node answers status before its rate limit, and so does the broker.
    if (request->op != wire::Op::status && !rates_.admit(*identity, now)) {
        return Denial{wire::error_rate_limited, wire::RateLimiter::refusal(*identity)};
    }
    return std::nullopt;
}

bool BrokerSecurity::reload() {
    if (!config_) return false;
    auto acl = wire::read_acl_file(config_->acl_file);
    if (!acl) {
        spdlog::error("broker: security: kept the ACL in force: {}", acl.error().detail);
        return false;
    }
    rates_.keep_only(*acl);
    config_->acl = std::move(*acl);
    spdlog::info("broker: security: ACL file {} reloaded: {} identities", config_->acl_file,
                 config_->acl.identities.size());
    return true;
}

}  // namespace cabildo::broker
