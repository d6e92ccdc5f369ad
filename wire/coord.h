// The keys behind locks, elections and queues (PROTOCOL.md, "The keys
// behind them"). The state machine keeps the primitives' whole state in
// ordinary keys under coord_prefix, so they are replicated, snapshotted,
// hashed and published like any key; this is their layout.
//
//   <base> = "_cabildo/lock/" + name or "_cabildo/elect/" + name (a mutex)
//     <base>                      the holder's record: value = the holder's
//                                 value, create_revision = its token
//     <base> \0 <16 hex digits>   a waiter (the first holds), attached to its
//                                 lease; the digits: the revision it joined
//   <queue base> = "_cabildo/queue/" + name
//     <queue base>                [next item, items, bytes, in flight]
//     <queue base> \0 r <16 hex>  a ready item, by item number
//     <queue base> \0 f <16 hex>  an item in flight, attached to its receipt
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cabildo::wire {

enum class MutexKind : std::uint8_t { lock, election };

bool is_coord_key(std::string_view key);
// True if some coordination key starts with prefix ("", "_", "_cabildo/l"...).
bool covers_coord_keys(std::string_view prefix);

std::string mutex_base(MutexKind kind, std::string_view name);
std::string waiter_prefix(std::string_view base);  // base + "\0"
std::string waiter_key(std::string_view base, std::uint64_t joined);
// The base of a waiter key; nullopt if key is not one.
std::optional<std::string> waiter_base(std::string_view key);
// The kind of a mutex key (base or waiter) under the lock or elect prefix.
std::optional<MutexKind> mutex_kind(std::string_view key);

std::string queue_base(std::string_view name);
std::string ready_prefix(std::string_view base);
std::string ready_key(std::string_view base, std::uint64_t item);
std::string in_flight_key(std::string_view base, std::uint64_t item);
// For an in-flight key: its queue base and item number.
struct InFlightKey {
    std::string base;
    std::uint64_t item = 0;
};
std::optional<InFlightKey> parse_in_flight_key(std::string_view key);
// The item number of a ready or in-flight key (the last 16 hex digits).
std::uint64_t item_of(std::string_view key);

// A queue's counters, the value of its base key.
struct QueueMeta {
    std::uint64_t next_item = 1;
    std::uint64_t items = 0;      // ready and in flight
    std::uint64_t bytes = 0;
    std::uint64_t in_flight = 0;

    bool operator==(const QueueMeta&) const = default;
};
std::string encode_queue_meta(const QueueMeta& meta);
// A stored value that does not decode reads as a new queue (it cannot
// happen: only the state machine writes these keys).
QueueMeta decode_queue_meta(std::string_view bytes);

// NOTIFY: the PUB topic "q/" + queue of an item that became ready, and its
// body {"queue": bin, "item": uint, "revision": uint}.
std::string queue_topic(std::string_view queue);
std::string encode_queue_notice(std::string_view queue, std::uint64_t item,
                                std::uint64_t revision);

// The name rule: 1..coord_name_bytes_max bytes, no NUL. The error detail or
// nullopt.
std::optional<std::string> check_coord_name(std::string_view name);

}  // namespace cabildo::wire
