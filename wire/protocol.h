// Protocol constants shared by every wire/ codec: versions, size limits and
// the client error codes.
//
// This is the one header a reader needs to see what Cabildo accepts on the
// wire, in the spirit of Majordomo's mdp.h. It holds numbers and names only;
// the encoders and decoders live in raft_messages.h, client_messages.h and
// command.h, and PROTOCOL.md explains all of it to client authors. Changing a
// limit here changes the documented contract: update PROTOCOL.md with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cabildo::wire {

// The first element of every msgpack array this layer writes (peer messages,
// log entries, hard state, commands). A decoder rejects any other value.
// Client maps carry no version: v1 grows by adding keys and ops only.
inline constexpr std::uint64_t protocol_version = 1;

// LMDB's compiled-in key size limit (mdb_env_get_maxkeysize() == 511).
inline constexpr std::size_t key_bytes_max = 511;
inline constexpr std::size_t value_bytes_max = std::size_t{1} << 20;
// The encoded `id` a client may attach to a request; it is echoed back.
inline constexpr std::size_t id_bytes_max = 1024;
// One client request frame: a maximal value plus room for key and framing.
inline constexpr std::size_t frame_bytes_max = value_bytes_max + (std::size_t{64} << 10);
// A log entry's data (an encoded Command) is never larger than a request.
inline constexpr std::size_t entry_data_bytes_max = frame_bytes_max;

// Range requests: `limit` defaults to range_limit_default and may not exceed
// range_limit_max. The node also stops adding pairs once their key and value
// bytes pass range_reply_bytes_max (always returning at least one pair) and
// sets `more`.
inline constexpr std::uint32_t range_limit_default = 1000;
inline constexpr std::uint32_t range_limit_max = 10000;
inline constexpr std::size_t range_reply_bytes_max = std::size_t{4} << 20;
// A request's `timeout_ms`: 1 ms to one hour.
inline constexpr std::uint32_t timeout_ms_max = 3600000;
// One reply frame, as the C++ client accepts it.
inline constexpr std::size_t reply_frame_bytes_max = std::size_t{8} << 20;
// Leases: a TTL from lease_ttl_ms_min to lease_ttl_ms_max; at most
// lease_keys_max keys attached to one (a revoke deletes them in one entry).
inline constexpr std::uint64_t lease_ttl_ms_min = 1000;
inline constexpr std::uint64_t lease_ttl_ms_max = 30ull * 24 * 3600 * 1000;
inline constexpr std::uint64_t lease_keys_max = 10000;
inline constexpr std::uint32_t lease_list_limit_max = 10000;
// A delete with `prefix` deletes at most this many keys (`more` if others
// remain): one entry's work and events stay bounded.
inline constexpr std::uint64_t delete_prefix_max = 10000;
// A txn: compares and operations (both branches together) at most.
inline constexpr std::size_t txn_compares_max = 128;
inline constexpr std::size_t txn_ops_max = 128;
// Coordination (locks, elections, queues): names are 1..coord_name_bytes_max
// bytes without NUL; their keys live under coord_prefix (coord.h), which
// clients may read but not write.
inline constexpr std::string_view coord_prefix = "_cabildo/";
inline constexpr std::size_t coord_name_bytes_max = 256;
inline constexpr std::uint32_t wait_ms_max = timeout_ms_max;
inline constexpr std::uint64_t visibility_ms_min = 100;
inline constexpr std::uint64_t visibility_ms_max = lease_ttl_ms_max;
inline constexpr std::uint64_t visibility_ms_default = 30000;
// A queue's limits unless the node is told otherwise (--queue-items-max,
// --queue-bytes-max); the leader writes its own into each queue_put.
inline constexpr std::uint64_t queue_items_max_default = 1000000;
inline constexpr std::uint64_t queue_bytes_max_default = std::uint64_t{1} << 30;
// Members listed in a status reply.
inline constexpr std::size_t members_max = 64;

// One peer (node to node) frame. msgpack-c builds an object per element, so
// a frame of 1-byte elements costs many times its size in memory and time
// (measured while fuzzing: a 16 MiB frame of nils, 465 MB and 2.2 s): this
// cap bounds that. The core's appends stay below it (4 MiB of entry data
// plus at most one value of 1 MiB).
inline constexpr std::size_t raft_frame_bytes_max = std::size_t{8} << 20;
// Entries in one append_entries message (the core sends at most 512).
inline constexpr std::size_t entries_per_message_max = 4096;

// Client error codes: the `error` string of a reply whose `ok` is false.
// These names are a contract with clients in other languages; never rename.
inline constexpr std::string_view error_bad_request = "bad_request";
inline constexpr std::string_view error_too_large = "too_large";
inline constexpr std::string_view error_no_leader = "no_leader";
inline constexpr std::string_view error_timeout = "timeout";  // outcome unknown
inline constexpr std::string_view error_unavailable = "unavailable";
inline constexpr std::string_view error_storage_full = "storage_full";
inline constexpr std::string_view error_stale_session = "stale_session";
inline constexpr std::string_view error_internal = "internal";
inline constexpr std::string_view error_compacted = "compacted";
inline constexpr std::string_view error_overloaded = "overloaded";
inline constexpr std::string_view error_session_expired = "session_expired";
// Membership changes (member_*, transfer_leader):
inline constexpr std::string_view error_not_found = "not_found";  // no member with that id
inline constexpr std::string_view error_change_pending = "change_pending";  // one at a time
inline constexpr std::string_view error_lagging = "lagging";      // learner too far behind
inline constexpr std::string_view error_no_quorum = "no_quorum";  // would leave no quorum
// Leases: lease_grant of an id in use. (An unknown lease is not_found.)
inline constexpr std::string_view error_exists = "exists";
// queue_put: the queue holds its limit of items or bytes; nothing stored.
inline constexpr std::string_view error_queue_full = "queue_full";
// Security (--acl): the request is outside the identity's rights; nothing
// was done.
inline constexpr std::string_view error_permission_denied = "permission_denied";
// The identity sent more requests per second than the ACL grants it.
inline constexpr std::string_view error_rate_limited = "rate_limited";
// A write that grows the applied state past --quota-bytes; deletes work.
inline constexpr std::string_view error_quota_exceeded = "quota_exceeded";

}  // namespace cabildo::wire
