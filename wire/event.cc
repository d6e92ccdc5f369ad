// Events: one change of the key-value state, as a msgpack map
// {"revision": uint, "op": "put"|"delete", "key": bin, "value": bin|nil,
//  "create_revision", "mod_revision", "version", "lease": uint} (the
// metadata of the key after a put; zeros for a delete).
// The same map is the body of a kv/ notification on the PUB socket and an
// element of a watch_from reply's `events`.
#include "wire/event.h"

#include "wire/protocol.h"

namespace cabildo::wire {

namespace detail {

void pack_event(msgpack::packer<msgpack::sbuffer>& packer, const Event& event) {
    packer.pack_map(8);
    pack_str(packer, "create_revision");
    packer.pack_uint64(event.meta.create_revision);
    pack_str(packer, "mod_revision");
    packer.pack_uint64(event.meta.mod_revision);
    pack_str(packer, "version");
    packer.pack_uint64(event.meta.version);
    pack_str(packer, "lease");
    packer.pack_uint64(event.meta.lease);
    pack_str(packer, "revision");
    packer.pack_uint64(event.revision);
    pack_str(packer, "op");
    pack_str(packer, event.deleted ? "delete" : "put");
    pack_str(packer, "key");
    pack_bin(packer, event.key);
    pack_str(packer, "value");
    if (event.value) {
        pack_bin(packer, *event.value);
    } else {
        packer.pack_nil();
    }
}

Event read_event(FieldReader& reader, const msgpack::object& object) {
    Event event;
    bool has_op = false;
    for (const msgpack::object_kv& field : reader.read_map(object, "event")) {
        if (field.key.type != msgpack::type::STR) continue;
        const std::string_view name(field.key.via.str.ptr, field.key.via.str.size);
        if (name == "revision") {
            event.revision = reader.read_uint(field.val, "event revision");
        } else if (name == "op") {
            const std::string op = reader.read_bytes(field.val, "event op", 16);
            if (op != "put" && op != "delete") reader.fail(Status::bad_request, "event op: " + op);
            event.deleted = op == "delete";
            has_op = true;
        } else if (name == "key") {
            event.key = reader.read_bytes(field.val, "event key", key_bytes_max);
        } else if (name == "value") {
            event.value = reader.read_optional_bytes(field.val, "event value", value_bytes_max);
        } else if (name == "create_revision") {
            event.meta.create_revision = reader.read_uint(field.val, "event create_revision");
        } else if (name == "mod_revision") {
            event.meta.mod_revision = reader.read_uint(field.val, "event mod_revision");
        } else if (name == "version") {
            event.meta.version = reader.read_uint(field.val, "event version");
        } else if (name == "lease") {
            event.meta.lease = reader.read_uint(field.val, "event lease");
        }
    }
    if (!has_op) reader.fail(Status::bad_request, "event op: missing");
    return event;
}

}  // namespace detail

namespace {

constexpr detail::UnpackLimits event_limits{
    .frame_bytes_max = frame_bytes_max,
    .array_size_max = 16,
    .map_size_max = 16,
    .str_bytes_max = frame_bytes_max,
    .bin_bytes_max = frame_bytes_max,
    .depth_max = 2,
};

}  // namespace

std::string encode_event(const Event& event) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    detail::pack_event(packer, event);
    return detail::to_string(buffer);
}

Result<Event> decode_event(const void* data, std::size_t size) {
    return detail::guard_decode(
        [&]() -> Result<Event> {
            auto handle = detail::unpack_frame(data, size, event_limits, "event");
            if (!handle) return handle.error();
            detail::FieldReader reader;
            Event event = detail::read_event(reader, handle->get());
            if (!reader.ok()) return reader.error();
            return event;
        },
        "event");
}

std::string event_topic(std::string_view key) {
    std::string topic = "kv/";
    topic.append(key);
    return topic;
}

}  // namespace cabildo::wire
