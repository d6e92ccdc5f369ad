// NodeConfig: what one cabildo-node needs to know, from flags and/or a file.
//
// A member is `id=host:port`; its four endpoints are consecutive ports:
// peer ROUTER = port, client ROUTER = port+1, PUB = port+2, PULL = port+3.
// Timing is in ticks of tick_ms. Parsing is CLI11's (node/main.cc); this
// file only holds the result and validates it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "node/raft/membership.h"
#include "node/raft/result.h"
#include "node/raft/types.h"
#include "wire/security/acl.h"
#include "wire/security/curve.h"

namespace cabildo::node {

struct Member {
    raft::NodeId id = raft::node_none;
    std::string host;
    int port = 0;
    bool learner = false;
    // The uuid of its data directory once the cluster bound it (the leader
    // does at first contact); empty until then.
    std::string uuid;

    std::string address() const { return host + ":" + std::to_string(port); }
    // As the membership holds it: "host:port", or "host:port#uuid".
    std::string context() const { return uuid.empty() ? address() : address() + "#" + uuid; }

    std::string peer_endpoint() const { return endpoint(0); }
    std::string client_endpoint() const { return endpoint(1); }
    std::string pub_endpoint() const { return endpoint(2); }
    std::string pull_endpoint() const { return endpoint(3); }

private:
    std::string endpoint(int offset) const {
        return "tcp://" + host + ":" + std::to_string(port + offset);
    }
};

// Security on (--curve-key): the keys and the ACL as read at start
// (node_security.h; PROTOCOL.md section 12).
struct SecurityConfig {
    wire::CurveKeys node_keys;    // --curve-key: peers know this node by it
    wire::CurveKeys server_keys;  // --server-key: its client, PUB and PULL endpoints
    std::string acl_file;         // --acl, read again on SIGHUP
    wire::Acl acl;
};

struct NodeConfig {
    raft::NodeId id = raft::node_none;
    std::string data_dir;
    std::vector<Member> members;
    // Names the cluster; raft.log's header records it and a node refuses a
    // log of another cluster. Empty: derived from the members (ids and
    // addresses), so nodes started with one member list agree.
    std::string cluster_id;
    // --join: members' host:port to learn the membership from (a node that
    // starts empty, added with `cabildo member add`); then the cluster's id
    // as they answered it (0: not joined this way).
    std::vector<std::string> join;
    std::uint64_t joined_cluster = 0;
    // This node's own endpoints, fixed for its life (members changes).
    Member self_member;
    // Its data directory's uuid (<data-dir>/node-uuid, made when the
    // directory is new): a wiped directory is another node to the cluster.
    std::string uuid;

    int tick_ms = 10;
    int election_ticks = 30;   // election timeout drawn from [30, 60) ticks: 300-600 ms
    int heartbeat_ticks = 5;
    int request_timeout_ms = 5000;  // a client write or read not answered by then: timeout
    int status_interval_ms = 100;   // hb/ status publication on the PUB socket
    std::size_t map_bytes_initial = 64u << 20;
    std::size_t events_max = 100000;  // change history kept for watch_from
    std::uint64_t events_bytes_max = std::uint64_t{1} << 30;  // ... and its bytes at most
    std::size_t sessions_max = 100000;  // client sessions remembered (exactly-once)
    // Client requests received and not yet answered (waiting to be served,
    // proposed, confirming a read, forwarded): past this, new ones get
    // `overloaded` at once.
    std::size_t pending_requests_max = 50000;
    // A queue's limits (PROTOCOL.md, queues): the leader writes them into
    // each queue_put, so give every node the same.
    std::uint64_t queue_items_max = 1000000;
    std::uint64_t queue_bytes_max = std::uint64_t{1} << 30;
    // --quota-bytes: past this many bytes of client data in the applied
    // state (Storage::state_bytes) the leader refuses the writes that can
    // grow it with `quota_exceeded` (node_quota.cc; PROTOCOL.md section 8,
    // "Quota"). 0: no quota. 8 GiB: a refusal that deletes undo, well
    // before the LMDB map's 64 GiB maximum or a full disk stops all writes.
    std::uint64_t quota_bytes = std::uint64_t{8} << 30;
    // Take a snapshot of the applied state once this many entries were
    // applied since the last one (and the log since then is a quarter of
    // its size); then compact the log up to it, keeping snapshot_trailing
    // entries for followers a little behind.
    std::uint64_t snapshot_entries = 100000;  // etcd 3.4's --snapshot-count default too
    std::uint64_t snapshot_trailing = 5000;
    // A snapshot is written, and sent to each follower, at most this fast
    // (MB/s; 0: as fast as the disk goes), so that the log syncs sharing
    // the disk keep their latency.
    std::uint64_t snapshot_rate_mb = 0;
    std::uint64_t test_corrupt_snapshot_chunk = 0;  // tests: damage the Nth chunk sent (0: none)
    std::string log_level = "info";
    std::string log_format = "text";  // or "json": one JSON object per line
    // --metrics-listen HOST:PORT: GET /metrics, /health, /livez (empty: off).
    std::string metrics_listen;
    // /health answers 503 when the applied index is further than this
    // behind the commit index.
    std::uint64_t health_max_lag = 1000;
    // A log write + fsync slower than this is logged (once a second at
    // most) and counted.
    int slow_fsync_ms = 100;
    std::optional<SecurityConfig> security;  // none: every socket is open (no CURVE)

    const Member& self() const;
    void resolve_self();  // self_member := the member with this id
    // The 64-bit number of cluster_id (FNV-1a of its text, or of the
    // sorted member list when it is empty), never 0.
    std::uint64_t cluster_number() const;
    const Member* member(raft::NodeId id) const;
    std::vector<raft::NodeId> member_ids() const;
    // The members as the core's membership: every one a voter unless marked
    // a learner, each one's context its peer address "host:port".
    raft::Membership membership() const;
    // The membership as of index 0: the --member flags', none with --join.
    raft::Membership bootstrap_membership() const {
        return join.empty() ? membership() : raft::Membership{};
    }
};

// Parses "id=host:port".
Result<Member> parse_member(const std::string& text);
// A member of the core's membership (context "host:port" or
// "host:port#uuid"); nullopt if the context is not that.
std::optional<Member> member_from(const raft::Member& member);
// Checks ids, ports and timing; the error says what is wrong.
Result<bool> validate(const NodeConfig& config);

}  // namespace cabildo::node
