// The ACL file and the rights a request needs; see acl.h.
#include "wire/security/acl.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "wire/coord.h"
#include "wire/security/curve.h"

namespace cabildo::wire {

namespace {

using Json = nlohmann::json;

Error bad(const std::string& what) { return Error{Status::bad_request, what}; }

std::optional<unsigned> right_of(const std::string& name) {
    if (name == "read") return right_read;
    if (name == "write") return right_write;
    if (name == "watch") return right_watch;
    if (name == "admin") return right_admin;
    return std::nullopt;
}

std::string rights_text(unsigned rights) {
    std::string text;
    for (const auto& [bit, name] : {std::pair{right_read, "read"}, {right_write, "write"},
                                    {right_watch, "watch"}, {right_admin, "admin"}}) {
        if ((rights & bit) == 0) continue;
        if (!text.empty()) text += "+";
        text += name;
    }
    return text;
}

// Printable bytes of a key for a message (NUL and other control bytes as \xNN).
std::string printable(const std::string& key) {
    std::string out;
    for (unsigned char c : key) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

Result<AclRule> parse_rule(const Json& j, const std::string& where) {
    if (!j.is_object() || !j.contains("rights") || !j["rights"].is_array()) {
        return bad(where + ": expected {\"prefix\": \"...\", \"rights\": [...]}");
    }
    AclRule rule;
    if (j.contains("prefix")) {
        if (!j["prefix"].is_string()) return bad(where + ": prefix must be a string");
        rule.prefix = j["prefix"].get<std::string>();
    }
    for (const Json& r : j["rights"]) {
        auto right = r.is_string() ? right_of(r.get<std::string>()) : std::nullopt;
        if (!right) return bad(where + ": rights are \"read\", \"write\", \"watch\" or \"admin\"");
        rule.rights |= *right;
    }
    return rule;
}

Result<AclIdentity> parse_identity(const std::string& name, const Json& j) {
    const std::string where = "identities." + name;
    if (!j.is_object()) return bad(where + ": expected an object");
    AclIdentity id;
    id.name = name;
    if (!j.contains("key") || !j["key"].is_string() || !is_z85_key(j["key"].get<std::string>())) {
        return bad(where + ".key: expected a 40-character Z85 public key (a .pub file's)");
    }
    id.key = j["key"].get<std::string>();
    if (j.contains("allow")) {
        if (!j["allow"].is_array()) return bad(where + ".allow: expected an array");
        for (std::size_t i = 0; i < j["allow"].size(); ++i) {
            auto rule = parse_rule(j["allow"][i], where + ".allow[" + std::to_string(i) + "]");
            if (!rule) return rule.error();
            id.rules.push_back(std::move(*rule));
        }
    }
    if (j.contains("requests_per_s")) {
        if (!j["requests_per_s"].is_number() || j["requests_per_s"].get<double>() < 0) {
            return bad(where + ".requests_per_s: expected a number >= 0");
        }
        id.requests_per_s = j["requests_per_s"].get<double>();
    }
    return id;
}

// Checks a request's need for `rights` on key (or on every key of a prefix).
struct Checker {
    const AclIdentity& identity;
    std::optional<std::string> denied;

    void need(const std::string& key, unsigned rights, bool prefix = false) {
        if (denied || allowed(identity, key, rights)) return;
        denied = "identity '" + identity.name + "' has no " + rights_text(rights) + " right on " +
                 (prefix ? "the prefix '" : "the key '") + printable(key) + "'";
    }
    void need_anywhere(unsigned right, const char* what) {
        if (denied || has_right_anywhere(identity, right)) return;
        denied = "identity '" + identity.name + "' has no " + rights_text(right) +
                 " right, which " + what + " needs";
    }
};

void check_txn(Checker& c, const Txn& txn) {
    for (const Compare& cmp : txn.compare) c.need(cmp.key, right_read);
    for (const auto* branch : {&txn.success, &txn.failure}) {
        for (const TxnOp& op : *branch) {
            const bool writes = op.op == Op::put || op.op == Op::del;
            c.need(op.key, writes ? right_write : right_read, op.prefix || op.op == Op::range);
        }
    }
}

}  // namespace

const AclIdentity* Acl::identity_of_key(const std::string& key) const {
    auto it = names_by_key.find(key);
    return it == names_by_key.end() ? nullptr : &identities.at(it->second);
}

raft::NodeId Acl::member_of_key(const std::string& key) const {
    for (const auto& [id, k] : member_keys) {
        if (k == key) return id;
    }
    return raft::node_none;
}

Result<Acl> parse_acl(const std::string& text) {
    Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    Acl acl;
    std::map<std::string, std::string> owner;  // key -> who has it, to refuse duplicates
    auto claim = [&](const std::string& key, const std::string& who) -> Result<bool> {
        auto [it, fresh] = owner.emplace(key, who);
        if (!fresh) return bad(who + ": the same key as " + it->second);
        return true;
    };
    if (j.contains("members")) {
        if (!j["members"].is_object()) return bad("members: expected {\"<node id>\": \"<key>\"}");
        for (const auto& [name, key] : j["members"].items()) {
            raft::NodeId id = 0;
            try {
                id = std::stoull(name);
            } catch (...) {
            }
            if (id == 0 || std::to_string(id) != name) {
                return bad("members." + name + ": expected a node id >= 1");
            }
            if (!key.is_string() || !is_z85_key(key.get<std::string>())) {
                return bad("members." + name + ": expected a 40-character Z85 public key");
            }
            auto ok = claim(key.get<std::string>(), "members." + name);
            if (!ok) return ok.error();
            acl.member_keys[id] = key.get<std::string>();
        }
    }
    if (j.contains("identities")) {
        if (!j["identities"].is_object()) return bad("identities: expected an object");
        for (const auto& [name, body] : j["identities"].items()) {
            auto id = parse_identity(name, body);
            if (!id) return id.error();
            auto ok = claim(id->key, "identities." + name);
            if (!ok) return ok.error();
            acl.names_by_key[id->key] = name;
            acl.identities[name] = std::move(*id);
        }
    }
    return acl;
}

Result<Acl> read_acl_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return bad("ACL file " + path + ": cannot read it");
    std::stringstream text;
    text << in.rdbuf();
    auto acl = parse_acl(text.str());
    if (!acl) return bad("ACL file " + path + ": " + acl.error().detail);
    return acl;
}

bool allowed(const AclIdentity& identity, const std::string& key, unsigned rights) {
    unsigned have = 0;
    for (const AclRule& rule : identity.rules) {
        if (key.compare(0, rule.prefix.size(), rule.prefix) == 0) have |= rule.rights;
    }
    return (have & rights) == rights;
}

bool has_right_anywhere(const AclIdentity& identity, unsigned right) {
    for (const AclRule& rule : identity.rules) {
        if ((rule.rights & right) != 0) return true;
    }
    return false;
}

std::optional<std::string> check_request(const AclIdentity& identity, const ClientRequest& r) {
    Checker c{identity, std::nullopt};
    const auto mutex = [&](MutexKind kind) {
        return r.name.empty() ? r.key : mutex_base(kind, r.name);
    };
    switch (r.op) {
    case Op::get: c.need(r.key, right_read); break;
    case Op::put: c.need(r.key, right_write); break;
    case Op::del:
        if (r.delete_prefix) {
            c.need(r.prefix, right_write, true);
        } else {
            c.need(r.key, right_write);
        }
        break;
    case Op::cas: c.need(r.key, right_read | right_write); break;
    case Op::range: c.need(r.prefix, right_read, true); break;
    case Op::watch_from: c.need(r.prefix, right_read | right_watch, true); break;
    case Op::txn:
        if (r.txn) check_txn(c, *r.txn);
        break;
    case Op::status:
    case Op::member_list: break;
    case Op::snapshot_read: c.need_anywhere(right_admin, "snapshot_read"); break;
    case Op::member_add:
    case Op::member_promote:
    case Op::member_remove: c.need_anywhere(right_admin, "a membership change"); break;
    case Op::transfer_leader: c.need_anywhere(right_admin, "transfer_leader"); break;
    case Op::lease_list: c.need_anywhere(right_admin, "lease_list"); break;
    case Op::lease_grant:
    case Op::lease_keepalive:
    case Op::lease_revoke:
    case Op::lease_info: c.need_anywhere(right_write, "a lease op"); break;
    case Op::lock:
    case Op::unlock: c.need(mutex(MutexKind::lock), right_write); break;
    case Op::campaign:
    case Op::proclaim:
    case Op::resign: c.need(mutex(MutexKind::election), right_write); break;
    case Op::leader: c.need(mutex_base(MutexKind::election, r.name), right_read); break;
    case Op::queue_put:
    case Op::queue_get:
    case Op::queue_ack: c.need(queue_base(r.name), right_write); break;
    case Op::queue_len:
    case Op::queue_peek: c.need(queue_base(r.name), right_read); break;
    case Op::lease_expire:
    case Op::wait_cancel: c.denied = "not a client op"; break;
    }
    return c.denied;
}

}  // namespace cabildo::wire
