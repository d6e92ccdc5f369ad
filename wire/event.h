// Event packing shared by encode_event() and the watch_from reply
// (event.cc, client_reply.cc). Internal to wire/.
#pragma once

#include "wire/client_messages.h"
#include "wire/decode_util.h"

namespace cabildo::wire::detail {

void pack_event(msgpack::packer<msgpack::sbuffer>& packer, const Event& event);
Event read_event(FieldReader& reader, const msgpack::object& object);

}  // namespace cabildo::wire::detail
