// Client protocol v1: the request and reply maps a client exchanges with any
// node's client endpoint, as C++ structs.
//
// This is a contract: clients in other languages are written against the key
// names and error codes in PROTOCOL.md, which documents every field below.
// The node decodes requests and encodes replies; the C++ client does the
// reverse. Decoders never throw and never trust: each known key is type
// checked (a wrong type is bad_request naming the key), unknown keys are
// ignored, and sizes are bounded by wire/protocol.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/result.h"
#include "wire/protocol.h"

namespace cabildo::wire {

// Wire names: "get", "put", "delete", "cas", "range", "status",
// "watch_from", "snapshot_read", "member_list", "member_add",
// "member_promote", "member_remove", "transfer_leader", "lease_grant",
// "lease_keepalive", "lease_revoke", "lease_info", "lease_list", "txn",
// "lock", "unlock", "campaign", "proclaim", "resign", "leader", "queue_put",
// "queue_get", "queue_ack", "queue_len", "queue_peek". The numbers of the
// writes are the op codes of a replicated Command (command.h); lease_expire
// and wait_cancel are Commands only (the node's own), never requests.
enum class Op : std::uint8_t {
    get = 0, put = 1, del = 2, cas = 3, range = 4, status = 5, watch_from = 6, snapshot_read = 7,
    member_list = 8, member_add = 9, member_promote = 10, member_remove = 11,
    transfer_leader = 12, lease_grant = 13, lease_keepalive = 14, lease_revoke = 15,
    lease_info = 16, lease_list = 17, txn = 18, lease_expire = 19,
    lock = 20, unlock = 21, campaign = 22, proclaim = 23, resign = 24, leader = 25,
    queue_put = 26, queue_get = 27, queue_ack = 28, queue_len = 29, queue_peek = 30,
    wait_cancel = 31,
};
constexpr Op op_max = Op::wait_cancel;
// member_add, member_promote, member_remove: they change the membership.
bool is_member_change(Op op);
// The ops that go through the log as a Command: put, delete, cas, txn (with
// or without writes: see is_read_only), lease_grant/keepalive/revoke, and
// the coordination writes (lock, unlock, campaign, proclaim, resign,
// queue_put, queue_get, queue_ack).
bool is_command_op(Op op);
// lock, campaign and queue_get: the node may hold them for wait_ms.
bool is_waiting_op(Op op);
// The ops whose `name` is a lock's or an election's (a mutex: coord.h).
bool is_mutex_op(Op op);
bool is_queue_op(Op op);

// A key's metadata (etcd's): revisions are log indexes; version counts the
// writes since the key was created; lease is 0 when none is attached.
struct KeyMeta {
    std::uint64_t create_revision = 0;
    std::uint64_t mod_revision = 0;
    std::uint64_t version = 0;
    std::uint64_t lease = 0;

    bool operator==(const KeyMeta&) const = default;
};

// Wire names: "value", "version", "create_revision", "mod_revision",
// "lease", "exists"; the operand is sent under the same name.
enum class CompareTarget : std::uint8_t {
    value = 0, version = 1, create_revision = 2, mod_revision = 3, lease = 4, exists = 5,
};
// Wire names: "eq", "ne", "lt", "gt".
enum class CompareResult : std::uint8_t { eq = 0, ne = 1, lt = 2, gt = 3 };

// One condition of a txn. A missing key has version, create_revision,
// mod_revision and lease 0 and no value: a value compare on it is false
// whatever the result asked for.
struct Compare {
    std::string key;
    CompareTarget target = CompareTarget::value;
    CompareResult result = CompareResult::eq;
    std::string value;         // target value
    std::uint64_t number = 0;  // the others (exists: 1 = true, 0 = false)

    bool operator==(const Compare&) const = default;
};

// One operation of a txn branch: get (key), range (key = the prefix,
// limit), put (key, value, lease, prev) or delete (key; with prefix, every
// key starting with key).
struct TxnOp {
    Op op = Op::get;
    std::string key;
    std::string value;
    std::uint64_t lease = 0;
    bool prev = false;
    bool prefix = false;
    std::uint32_t limit = range_limit_default;

    bool operator==(const TxnOp&) const = default;
};

struct Txn {
    std::vector<Compare> compare;
    std::vector<TxnOp> success;
    std::vector<TxnOp> failure;

    bool operator==(const Txn&) const = default;
};
// True if neither branch writes: served as a linearizable read.
bool is_read_only(const Txn& txn);
std::string_view target_name(CompareTarget target);
std::string_view result_name(CompareResult result);
std::string_view op_name(Op op);

// Wire names: "linearizable" (the default), "serializable".
enum class Consistency : std::uint8_t { linearizable, serializable };
std::string_view consistency_name(Consistency consistency);

// A validated request. Fields an op does not use stay at their defaults.
// Invariants after decode_request(): key is 1..key_bytes_max bytes for get,
// put, delete and cas; value is set for put and cas; expected is set exactly
// for cas; limit is in 1..range_limit_max; session and seq are both 0 or both
// non-zero.
struct ClientRequest {
    Op op = Op::get;
    std::string key;
    std::optional<std::string> value;                     // put, cas: the new value
    std::optional<std::optional<std::string>> expected;   // cas: inner nullopt = must be absent
    std::string prefix;                                   // range; empty = every key
    std::uint32_t limit = range_limit_default;            // range, watch_from
    std::uint64_t from = 0;  // watch_from: first revision wanted; snapshot_read: byte offset
    std::uint64_t index = 0;  // snapshot_read: the snapshot's index (0: the newest)
    std::uint64_t at_least = 0;  // snapshot_read, index 0: the newest must be at least this
    // member_add/promote/remove: the member; transfer_leader: the target (0:
    // the most caught-up voter).
    std::uint64_t member_id = 0;
    std::string peer;      // member_add: the new member's "host:port" (its peer port)
    bool learner = false;  // member_add: join as a learner (non-voting)
    // put, cas: the lease to attach (0: none); lease_*: the lease (0 for
    // lease_grant: the cluster picks one).
    std::uint64_t lease = 0;
    std::uint64_t ttl_ms = 0;  // lease_grant
    bool prev = false;         // put: answer the previous value and metadata
    bool keys = false;         // lease_info: list the attached keys
    // delete: `prefix` given instead of `key` deletes every key with it.
    bool delete_prefix = false;
    // cas: swap only if the key's mod_revision is this (0: only if absent),
    // instead of comparing `expected`.
    std::optional<std::uint64_t> mod_revision{};
    std::optional<Txn> txn{};  // txn
    // Coordination (PROTOCOL.md "Coordination"): the lock's, election's or
    // queue's name (request keys `name` or `queue`); `key` is a waiter key
    // for unlock and resign, `value` the holder's or the item's.
    std::string name{};
    std::uint32_t wait_ms = 0;        // lock, campaign, queue_get
    // lock, campaign: when wait_ms ends, stay in the queue (a later lock of
    // the same lease finds its place) instead of leaving it.
    bool keep = false;
    std::uint64_t visibility_ms = 0;  // queue_get (decode fills in the default)
    std::uint64_t token = 0;          // unlock, resign: release only this grant
    std::uint64_t item = 0;           // queue_ack
    std::uint64_t receipt = 0;        // queue_ack
    Consistency consistency = Consistency::linearizable;  // get, range
    std::uint64_t session = 0;                            // 0 = no session
    std::uint64_t seq = 0;
    // How long the client waits for the answer, 1..timeout_ms_max; 0 = not
    // given (the node's --request-timeout-ms). The node drops a request that
    // waited longer than this before it got to it, and answers `timeout` for
    // one it could not finish in time (the lower of this and its own).
    std::uint32_t timeout_ms = 0;
    std::string id;  // the msgpack encoding of the request's `id`; empty if absent

    bool operator==(const ClientRequest&) const = default;
};

struct KeyValue {
    std::string key;
    std::string value;
    KeyMeta meta{};  // sent as its four keys beside key and value

    bool operator==(const KeyValue&) const = default;
};

// A range reply's page: kvs in key order; more = truncated by limit or by
// range_reply_bytes_max.
struct RangePage {
    std::vector<KeyValue> kvs;
    bool more = false;

    bool operator==(const RangePage&) const = default;
};

struct MemberInfo {
    std::uint64_t id = 0;
    std::string client_endpoint;
    // In a `membership` reply (not in `status`'s members):
    std::string peer;             // "host:port", its peer port
    bool learner = false;
    std::uint64_t match_index = 0;  // answered by the leader: how far its log matches
    std::string uuid;  // its data directory's, once bound (empty before)
    bool active = false;  // answered by the leader: heard from lately (itself: true)

    bool operator==(const MemberInfo&) const = default;
};

// The membership in force at the answering node (its latest configuration
// entry, committed or not), for member_* and transfer_leader replies.
struct MembershipInfo {
    std::uint64_t index = 0;   // the log index of its configuration entry (0: the bootstrap's)
    bool pending = false;      // that entry is not committed yet
    std::uint64_t cluster_id = 0;
    std::vector<MemberInfo> members;

    bool operator==(const MembershipInfo&) const = default;
};

// The `status` op's answer; sent as top-level keys of the reply map.
struct NodeStatus {
    std::uint64_t node_id = 0;
    std::string role;  // "follower", "pre_candidate", "candidate", "leader"
    std::uint64_t term = 0;
    std::uint64_t leader_id = 0;  // 0 = unknown
    std::uint64_t commit_index = 0;
    std::uint64_t applied_index = 0;
    std::uint64_t last_index = 0;
    std::uint64_t state_hash = 0;  // sum of per-pair hashes of the key-value data
    std::vector<MemberInfo> members;
    // The node is re-applying its log after a restart (from applied_index up
    // to recovering_to) and refuses every request but status meanwhile.
    bool recovering = false;
    std::uint64_t recovering_to = 0;
    std::uint64_t requests_pending = 0;     // received, not yet answered
    std::uint64_t requests_expired = 0;     // dropped: waited past their timeout
    std::uint64_t requests_overloaded = 0;  // refused with `overloaded`
    std::uint64_t forward_reply_queues = 0;  // followers with answers queued (0 between turns)
    std::uint64_t first_index = 0;     // the first entry the log holds (after compaction)
    std::uint64_t snapshot_index = 0;  // the newest local snapshot's index (0: none)
    bool snapshot_in_progress = false;  // a snapshot is being written
    std::uint64_t snapshot_transfers = 0;  // leader: snapshots being sent to followers
    std::uint64_t snapshot_chunks_refused = 0;  // corrupt snapshot chunks or files refused
    std::uint64_t quota_bytes = 0;  // --quota-bytes (0: no quota)
    std::uint64_t state_bytes = 0;  // the client data's bytes, as the quota counts them
    // Rates and health for monitors (`cabildo top`), over the last full
    // second (node_rates.h): client writes and reads this node received per
    // second, the p99 of its log fsyncs in that second (0: none), its
    // resident memory, the leader changes it saw since it started and how
    // long it has run.
    std::uint64_t writes_per_s = 0;
    std::uint64_t reads_per_s = 0;
    std::uint64_t fsync_p99_us = 0;
    std::uint64_t rss_bytes = 0;
    std::uint64_t leader_changes = 0;
    std::uint64_t uptime_ms = 0;

    bool operator==(const NodeStatus&) const = default;
};

// A change to the key-value state, at the log index (revision) that made it.
// Published on each node's PUB socket under topic "kv/" + key, and returned
// by watch_from. Failed cas, deleting an absent key and a retried command
// make no event.
struct Event {
    std::uint64_t revision = 0;
    bool deleted = false;              // wire: op "put" or "delete"
    std::string key;
    std::optional<std::string> value;  // nil for deletes
    // A put's key metadata after it (mod_revision = revision); zero for a
    // delete. Sent as create_revision, mod_revision, version and lease.
    KeyMeta meta{};

    bool operator==(const Event&) const = default;
};

std::string encode_event(const Event& event);
Result<Event> decode_event(const void* data, std::size_t size);
// The PUB topic of an event: "kv/" + key.
std::string event_topic(std::string_view key);

// A reply. encode_reply() writes ok and leader (str or nil) always; id when
// set; revision when ok (or non-zero); error and message when !ok (or
// non-empty); and each optional part that is set.
// A snapshot_read reply's piece of a snapshot file (storage/snapshot_file.h).
struct SnapshotChunk {
    std::uint64_t index = 0;  // of the snapshot
    std::uint64_t term = 0;
    std::uint64_t total = 0;  // the file's size
    std::uint64_t offset = 0;
    std::string data;

    bool operator==(const SnapshotChunk&) const = default;
};

// A previous value (put with prev): absent keys have none.
struct PrevValue {
    std::string value;
    KeyMeta meta;

    bool operator==(const PrevValue&) const = default;
};

// A lease as lease_info and lease_list answer it.
struct LeaseInfo {
    std::uint64_t id = 0;
    std::uint64_t ttl_ms = 0;        // as granted
    std::uint64_t remaining_ms = 0;  // the leader's view; 0 once expiring
    std::optional<std::vector<std::string>> keys;  // lease_info with keys

    bool operator==(const LeaseInfo&) const = default;
};

struct ClientReply;
// The answer to one operation of a txn branch.
struct TxnResponse {
    Op op = Op::get;
    std::optional<std::optional<std::string>> value;  // get
    std::optional<KeyMeta> meta;                      // get of a present key
    std::optional<RangePage> range;                   // range
    std::optional<std::optional<PrevValue>> prev;     // put with prev
    std::optional<std::uint64_t> deleted;             // delete: keys deleted
    bool more = false;                                // delete prefix: stopped at the limit

    bool operator==(const TxnResponse&) const = default;
};

// queue_len's answer: sent as `items`, `in_flight` and `bytes`.
struct QueueLength {
    std::uint64_t items = 0;      // ready and in flight
    std::uint64_t in_flight = 0;  // delivered, not acknowledged
    std::uint64_t bytes = 0;      // of the items' values

    bool operator==(const QueueLength&) const = default;
};

struct ClientReply {
    bool ok = false;
    std::string error;                                // an error code from protocol.h when !ok
    std::string message;                              // human detail when !ok
    std::optional<std::optional<std::string>> value;  // get: inner nullopt = key absent
    std::optional<bool> succeeded;      // cas: the swap happened; delete: the key existed
    std::uint64_t revision = 0;         // log index a write committed at / index a read saw
    std::optional<std::string> leader;  // the leader's client endpoint; nullopt = unknown
    std::optional<RangePage> range;     // range: sent as `kvs` and `more`
    std::optional<NodeStatus> status;   // status
    std::optional<std::vector<Event>> events;  // watch_from: sent as `events` (and `more`)
    std::optional<bool> more;                  // watch_from: stopped before the end
    std::optional<SnapshotChunk> snapshot;     // snapshot_read: sent as `snapshot`
    std::optional<MembershipInfo> membership;  // member_*, transfer_leader
    std::optional<KeyMeta> meta{};        // get of a present key: sent as its four keys
    std::optional<std::optional<PrevValue>> prev{};  // put with prev: nil = the key was new
    std::optional<std::uint64_t> deleted{};  // delete: how many keys
    std::optional<LeaseInfo> lease{};     // lease_grant/keepalive/info: sent as lease, ttl_ms...
    std::optional<std::vector<LeaseInfo>> leases{};  // lease_list (and `more`)
    std::optional<std::vector<TxnResponse>> responses{};  // txn (with `succeeded`)
    std::optional<std::uint64_t> token{};  // lock, campaign, leader: the grant's revision
    std::optional<std::string> key{};      // lock, campaign, leader: the waiter key
    std::optional<std::uint64_t> item{};     // queue_put, queue_get, queue_peek
    std::optional<std::uint64_t> receipt{};  // queue_get
    std::optional<QueueLength> queue_length{};  // queue_len
    std::string id;                     // msgpack bytes to echo (ClientRequest::id or extract_id())

    bool operator==(const ClientReply&) const = default;
};

// For the node. Errors: bad_request or too_large, detail naming the field.
Result<ClientRequest> decode_request(const void* data, std::size_t size);
// For the C++ client: writes only the keys the op uses.
// Precondition: request.id is empty or one msgpack object (not checked).
std::string encode_request(const ClientRequest& request);

// For the node. Precondition: reply.id is empty or one msgpack object.
std::string encode_reply(const ClientReply& reply);
// For the C++ client. Unknown keys are ignored; unknown error codes are kept.
Result<ClientReply> decode_reply(const void* data, std::size_t size);

// The msgpack bytes of a request map's `id`, or "" when the frame is not a
// map with an id or the id is over id_bytes_max. Best effort for replying to
// a request decode_request() rejected. Never throws.
std::string extract_id(const void* data, std::size_t size);
// The `wait_ms` of a lock, campaign or queue_get request (0 for any other,
// or when absent or not a uint in range), for a broker's deadline. Never throws.
std::uint32_t extract_wait_ms(const void* data, std::size_t size);

// The reply code for an error status: "too_large", "storage_full",
// "bad_request", "unavailable", and the membership changes' "not_found",
// "change_pending", "lagging" and "no_quorum" for the statuses of those
// names; "internal" otherwise.
std::string_view error_code(Status status);

// A reply with ok = false.
ClientReply make_error_reply(std::string_view error, std::string message, std::string id);

}  // namespace cabildo::wire
