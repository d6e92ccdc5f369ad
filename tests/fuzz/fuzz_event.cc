// Fuzz target: wire::decode_event (kv/ notifications a watcher receives).
// Property: as fuzz_raft_message.cc.
#include "tests/fuzz/fuzz_check.h"
#include "wire/client_messages.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::wire::Event;

void diff_event(Diff& d, const Event& a, const Event& b) {
    d.field("revision", a.revision, b.revision);
    d.field("deleted", a.deleted, b.deleted);
    d.field("key", a.key, b.key);
    d.field("value", a.value, b.value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);
    const Result<Event> first = wire::decode_event(data, size);
    fuzz::check_error_status(first, "event");
    if (!first.ok())
        return 0;
    fuzz::check_round_trip("event", input, *first, wire::encode_event(*first), wire::decode_event,
                           diff_event);
    return 0;
}
