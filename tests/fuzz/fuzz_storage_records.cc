// Fuzz target: wire::decode_entry and wire::decode_hard_state, the records
// storage/ reads back from LMDB (a corrupt or foreign database must give an
// error, not a crash). Both decoders see every input; the seeds hold both.
// Property: as fuzz_raft_message.cc, per decoder.
#include "tests/fuzz/fuzz_check.h"
#include "wire/raft_messages.h"

namespace {

using cabildo::fuzz::Diff;
using cabildo::raft::Entry;
using cabildo::raft::HardState;

void diff_entry(Diff& d, const Entry& a, const Entry& b) {
    d.field("term", a.term, b.term);
    d.field("index", a.index, b.index);
    d.field("type", a.type, b.type);
    d.field("data", a.data, b.data);
}

void diff_hard_state(Diff& d, const HardState& a, const HardState& b) {
    d.field("term", a.term, b.term);
    d.field("voted_for", a.voted_for, b.voted_for);
    d.field("commit_index", a.commit_index, b.commit_index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace cabildo;
    const std::string_view input = fuzz::as_bytes(data, size);

    const Result<Entry> entry = wire::decode_entry(data, size);
    fuzz::check_error_status(entry, "entry record");
    if (entry.ok()) {
        fuzz::check_round_trip("entry record", input, *entry, wire::encode_entry(*entry),
                               wire::decode_entry, diff_entry);
    }

    const Result<HardState> hard_state = wire::decode_hard_state(data, size);
    fuzz::check_error_status(hard_state, "hard state record");
    if (hard_state.ok()) {
        fuzz::check_round_trip("hard state record", input, *hard_state,
                               wire::encode_hard_state(*hard_state), wire::decode_hard_state,
                               diff_hard_state);
    }
    return 0;
}
