// The ACL file (`cabildo-node --acl FILE`, reloaded on SIGHUP): who may
// connect, with which Curve public key, and what each identity may do.
//
//     {
//       "members": {"1": "<Z85 public key of node 1>", "2": "...", "3": "..."},
//       "identities": {
//         "ops":   {"key": "<Z85>", "allow": [{"prefix": "", "rights": ["read", "write", "watch", "admin"]}]},
//         "web":   {"key": "<Z85>", "allow": [{"prefix": "app/", "rights": ["read", "watch"]}],
//                   "requests_per_s": 500}
//       }
//     }
//
// Rights are per key prefix: `read` (get, range, the reads of a txn, cas),
// `write` (put, delete, cas, the writes of a txn), `watch` (watch_from and
// the PUB commit stream) and `admin` (membership, snapshots, lease_list;
// given on any prefix, it is cluster-wide). A request over a prefix
// (range, watch_from, delete by prefix) needs the right on a prefix of it.
// Locks, elections and queues are checked on their keys (coord.h):
// `_cabildo/lock/NAME`, `_cabildo/elect/NAME`, `_cabildo/queue/NAME`.
// PROTOCOL.md section 12 is the contract.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/result.h"
#include "node/raft/types.h"
#include "wire/client_messages.h"

namespace cabildo::wire {

enum Right : unsigned { right_read = 1, right_write = 2, right_watch = 4, right_admin = 8 };

struct AclRule {
    std::string prefix;
    unsigned rights = 0;
};

struct AclIdentity {
    std::string name;
    std::string key;  // Z85 public key
    std::vector<AclRule> rules;
    double requests_per_s = 0;  // 0: no limit
};

struct Acl {
    std::map<raft::NodeId, std::string> member_keys;  // node id -> Z85 public key
    std::map<std::string, AclIdentity> identities;    // by name
    std::map<std::string, std::string> names_by_key;  // Z85 public key -> identity name

    const AclIdentity* identity_of_key(const std::string& key) const;
    // The member whose key this is (node_none if none).
    raft::NodeId member_of_key(const std::string& key) const;
};

// Reads and checks the file: every key Z85, no key given twice, rights
// known. The error says which entry is wrong.
Result<Acl> read_acl_file(const std::string& path);
Result<Acl> parse_acl(const std::string& text);

// Does `identity` have all of `rights` on `key` (some rule's prefix starts it)?
bool allowed(const AclIdentity& identity, const std::string& key, unsigned rights);
bool has_right_anywhere(const AclIdentity& identity, unsigned right);

// Why `identity` may not make this request (nullopt: it may). Every key the
// request touches is checked, txn operations included.
std::optional<std::string> check_request(const AclIdentity& identity, const ClientRequest& request);

}  // namespace cabildo::wire
