// Fuzz target: wire::decode_request and wire::extract_id, which the node runs
// on every client frame (extract_id on the ones decode_request rejects).
// Properties:
//   - decode_request: as fuzz_raft_message.cc (round trip through
//     encode_request; the header promises fields an op does not use stay at
//     their defaults, so nothing is lost by encode_request writing only the
//     keys the op uses).
//   - extract_id never throws, returns at most id_bytes_max bytes, and what
//     it returns is one msgpack object a request may carry as its id.
//   - When decode_request accepts a frame, extract_id finds the same id.
#include <cstdio>

#include "tests/fuzz/fuzz_check.h"
#include "wire/client_messages.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::wire::ClientRequest;

void diff_request(Diff& d, const ClientRequest& a, const ClientRequest& b) {
    d.field("op", a.op, b.op);
    d.field("key", a.key, b.key);
    d.field("value", a.value, b.value);
    d.field("expected", a.expected, b.expected);
    d.field("prefix", a.prefix, b.prefix);
    d.field("limit", a.limit, b.limit);
    d.field("from", a.from, b.from);
    d.field("consistency", a.consistency, b.consistency);
    d.field("session", a.session, b.session);
    d.field("seq", a.seq, b.seq);
    d.field("id", a.id, b.id);
}

void fail_id(const char* problem, std::string_view input, const std::string& id) {
    std::fprintf(stderr, "extract_id: %s\n  input: %s\n  id:    %s\n", problem,
                 cabildo::fuzz::to_hex(input).c_str(), cabildo::fuzz::to_hex(id).c_str());
    CABILDO_ASSERT(false, "extract_id property");
}

// The id must be something decode_request accepts back as an id, unchanged.
void check_id_is_one_object(std::string_view input, const std::string& id) {
    using namespace cabildo;
    if (id.size() > wire::id_bytes_max)
        fail_id("longer than id_bytes_max", input, id);
    ClientRequest probe;
    probe.op = wire::Op::status;
    probe.id = id;
    const std::string frame = wire::encode_request(probe);
    const Result<ClientRequest> decoded = wire::decode_request(frame.data(), frame.size());
    if (!decoded.ok())
        fail_id(("not a valid id: " + decoded.error().detail).c_str(), input, id);
    if (decoded->id != id)
        fail_id("changed by a request round trip", input, id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);

    const std::string id = wire::extract_id(data, size);
    if (!id.empty())
        check_id_is_one_object(input, id);

    const Result<ClientRequest> first = wire::decode_request(data, size);
    fuzz::check_error_status(first, "request");
    if (!first.ok())
        return 0;
    if (first->id != id)
        fail_id("differs from the id decode_request accepted", input, first->id + "|" + id);
    fuzz::check_round_trip("request", input, *first, wire::encode_request(*first),
                           wire::decode_request, diff_request);
    return 0;
}
