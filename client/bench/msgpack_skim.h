// A forward-only reader of msgpack bytes for the watch benchmark's hot path
// (watch_fanout_worker.h), and the three shapes it reads with it: a kv/
// event, a heartbeat's applied_index and a watch_from reply.
//
// Why not wire::decode_event / decode_reply: a fan-out run takes in millions
// of events a second (every put times every watcher), and the decoders copy
// every key and value into owning strings through a msgpack zone. These
// skimmers copy nothing: values are views into the frame, valid while the
// zmq::message_t lives. They check every length against the frame and never
// read past it; anything malformed is "not understood" (false / nullopt),
// never an exception. They are not validators: unknown keys and types are
// skipped, and the node's own encoding (wire/event.cc, client_reply.cc) is
// the only one they need to follow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace cabildo::client::bench {

// Nesting depth skip() follows; deeper objects are "not understood".
inline constexpr int skim_depth_max = 8;

class MsgpackSkim {
public:
    MsgpackSkim(const void* data, std::size_t size)
        : at_(static_cast<const unsigned char*>(data)),
          end_(static_cast<const unsigned char*>(data) + size) {}

    // Each reads one object of that type and moves past it; false (and the
    // position unspecified) when the next object is not one, or is cut off.
    bool read_map(std::uint32_t& size);
    bool read_array(std::uint32_t& size);
    bool read_bytes(std::string_view& bytes);  // str or bin
    bool read_uint(std::uint64_t& value);
    bool read_bool(bool& value);
    bool read_nil();                 // true and moves on only if the next object is nil
    bool skip(int depth = 0);        // any one object, nested ones included

private:
    bool take(std::size_t n, const unsigned char*& start);
    bool read_be(std::size_t width, std::uint64_t& value);

    const unsigned char* at_;
    const unsigned char* end_;
};

struct SkimmedEvent {
    std::uint64_t revision = 0;
    std::string_view value;  // empty for a delete (nil)
};

// A kv/ event body (PROTOCOL.md §10): its revision and value.
std::optional<SkimmedEvent> skim_event(const void* data, std::size_t size);
std::optional<SkimmedEvent> skim_event(MsgpackSkim& skim);

// A heartbeat body (hb/<id>, a status reply map): its applied_index.
std::optional<std::uint64_t> skim_applied_index(const void* data, std::size_t size);

struct SkimmedWatchReply {
    bool ok = false;
    std::string_view error;      // when !ok
    std::uint64_t id = 0;        // the request's id (a uint)
    std::uint64_t revision = 0;  // ok: covered through; compacted: the applied index
    bool more = false;
    std::vector<SkimmedEvent> events;  // views into the frame
};

// A watch_from reply. `reply` is reused so its events vector keeps its
// capacity; false when the frame is not a reply map with a uint id.
bool skim_watch_reply(const void* data, std::size_t size, SkimmedWatchReply& reply);

// The leading decimal digits of a value as a number (the send time the
// putter wrote, watch_putter.h); nullopt when it does not start with one.
std::optional<std::int64_t> leading_number(std::string_view value);

}  // namespace cabildo::client::bench
