// NodeConfig parsing helpers and validation; see node_config.h.
#include "node/node_config.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace cabildo::node {

const Member& NodeConfig::self() const {
    CABILDO_ASSERT(self_member.id == id, "self_member not set (resolve_self() first)");
    return self_member;
}

void NodeConfig::resolve_self() {
    if (const Member* m = member(id)) self_member = *m;
}

std::optional<Member> member_from(const raft::Member& member) {
    const std::size_t hash = member.context.find('#');
    auto parsed = parse_member(std::to_string(member.id) + "=" + member.context.substr(0, hash));
    if (!parsed) return std::nullopt;
    parsed->learner = member.learner;
    if (hash != std::string::npos) parsed->uuid = member.context.substr(hash + 1);
    return *parsed;
}

const Member* NodeConfig::member(raft::NodeId member_id) const {
    auto it = std::find_if(members.begin(), members.end(),
                           [member_id](const Member& m) { return m.id == member_id; });
    return it == members.end() ? nullptr : &*it;
}

std::uint64_t NodeConfig::cluster_number() const {
    if (joined_cluster != 0) return joined_cluster;
    std::string text = cluster_id;
    if (text.empty()) {
        std::vector<Member> sorted = members;
        std::sort(sorted.begin(), sorted.end(),
                  [](const Member& a, const Member& b) { return a.id < b.id; });
        for (const Member& m : sorted) {
            text += std::to_string(m.id) + "=" + m.host + ":" + std::to_string(m.port) + ",";
        }
    }
    std::uint64_t hash = 14695981039346656037ull;  // FNV-1a 64
    for (char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return hash == 0 ? 1 : hash;
}

raft::Membership NodeConfig::membership() const {
    raft::Membership membership;
    for (const Member& m : members) membership.put(raft::Member{m.id, m.learner, m.context()});
    return membership;
}

std::vector<raft::NodeId> NodeConfig::member_ids() const {
    std::vector<raft::NodeId> ids;
    for (const Member& m : members) ids.push_back(m.id);
    return ids;
}

static bool parse_number(std::string_view text, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

Result<Member> parse_member(const std::string& text) {
    const auto eq = text.find('=');
    const auto colon = text.rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
        return Error{Status::bad_request, "member '" + text + "' is not id=host:port"};
    }
    std::uint64_t id = 0, port = 0;
    if (!parse_number(std::string_view(text).substr(0, eq), id) || id == 0) {
        return Error{Status::bad_request, "member '" + text + "': id must be a number >= 1"};
    }
    if (!parse_number(std::string_view(text).substr(colon + 1), port) || port == 0 ||
        port > 65532) {
        return Error{Status::bad_request, "member '" + text + "': port must be 1..65532"};
    }
    Member m;
    m.id = id;
    m.host = text.substr(eq + 1, colon - eq - 1);
    m.port = static_cast<int>(port);
    if (m.host.empty()) return Error{Status::bad_request, "member '" + text + "': empty host"};
    return m;
}

Result<bool> validate(const NodeConfig& config) {
    if (config.members.empty()) return Error{Status::bad_request, "no --member given"};
    std::set<raft::NodeId> ids;
    for (const Member& m : config.members) {
        if (!ids.insert(m.id).second) {
            return Error{Status::bad_request, "member id " + std::to_string(m.id) + " twice"};
        }
    }
    if (config.member(config.id) == nullptr) {
        return Error{Status::bad_request,
                     "--id " + std::to_string(config.id) + " is not among the members"};
    }
    if (config.data_dir.empty()) return Error{Status::bad_request, "--data-dir is required"};
    if (config.tick_ms < 1 || config.heartbeat_ticks < 1 ||
        config.election_ticks <= config.heartbeat_ticks) {
        return Error{Status::bad_request,
                     "timing: need tick-ms >= 1 and election-ticks > heartbeat-ticks >= 1"};
    }
    if (config.sessions_max < 1 || config.pending_requests_max < 1 || config.events_max < 1 ||
        config.events_bytes_max < 1) {
        return Error{Status::bad_request,
                     "sessions-max, pending-requests-max, events-max and events-bytes-max must be "
                     ">= 1"};
    }
    if (config.queue_items_max < 1 || config.queue_bytes_max < 1) {
        return Error{Status::bad_request, "queue-items-max and queue-bytes-max must be >= 1"};
    }
    if (config.request_timeout_ms < 10) {
        return Error{Status::bad_request, "request-timeout-ms must be >= 10"};
    }
    return true;
}

}  // namespace cabildo::node
