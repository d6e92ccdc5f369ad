// Tests for wire/raft_messages.h: peer messages, entry and hard state records.
//
// Round trips cover every MessageType; rejection tables build malformed
// frames by hand (msgpack_bytes.h) and check the error names the field.
// Truncation and random input for every decoder are in robustness_test.cc.
#include "wire/raft_messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"
#include "wire/protocol.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::MessageType;

Message make_message(MessageType type) {
    Message message;
    message.type = type;
    message.from = 1;
    message.to = 2;
    message.term = 7;
    return message;
}

std::vector<Entry> make_entries(raft::LogIndex first, raft::Term term, int count) {
    std::vector<Entry> entries;
    for (int i = 0; i < count; ++i) {
        Entry entry{term, first + i, i == 0 ? EntryType::noop : EntryType::normal, ""};
        if (i > 0)
            entry.data = std::string("cmd\0\xff", 5) + std::to_string(i);
        entries.push_back(entry);
    }
    return entries;
}

struct MessageCase {
    std::string name;
    Message message;
};

std::vector<MessageCase> message_cases() {
    std::vector<MessageCase> cases;
    Message vote = make_message(MessageType::request_vote);
    vote.last_log_index = 10;
    vote.last_log_term = 6;
    vote.transfer = true;
    cases.push_back({"request_vote", vote});
    Message vote_response = make_message(MessageType::request_vote_response);
    vote_response.granted = true;
    cases.push_back({"request_vote_response", vote_response});
    Message pre_vote = make_message(MessageType::request_pre_vote);
    pre_vote.last_log_index = UINT64_MAX;
    pre_vote.last_log_term = UINT64_MAX - 1;
    cases.push_back({"request_pre_vote", pre_vote});
    cases.push_back(
        {"request_pre_vote_response", make_message(MessageType::request_pre_vote_response)});
    Message append = make_message(MessageType::append_entries);
    append.prev_log_index = 4;
    append.prev_log_term = 3;
    append.entries = make_entries(5, 7, 3);
    append.leader_commit = 4;
    append.read_round = 99;
    cases.push_back({"append_entries", append});
    Message empty_append = make_message(MessageType::append_entries);
    empty_append.prev_log_index = 4;
    empty_append.prev_log_term = 3;
    cases.push_back({"append_entries_empty", empty_append});
    Message first_append = make_message(MessageType::append_entries);
    first_append.entries = make_entries(1, 1, 2);
    cases.push_back({"append_entries_from_index_1", first_append});
    Message append_response = make_message(MessageType::append_entries_response);
    append_response.success = true;
    append_response.match_index = 8;
    append_response.read_round = 3;
    cases.push_back({"append_entries_response_success", append_response});
    Message reject = make_message(MessageType::append_entries_response);
    reject.reject_index = 9;
    reject.hint_index = 6;
    reject.hint_term = 5;
    cases.push_back({"append_entries_response_reject", reject});
    Message heartbeat = make_message(MessageType::heartbeat);
    heartbeat.leader_commit = 12;
    heartbeat.read_round = 4;
    cases.push_back({"heartbeat", heartbeat});
    Message heartbeat_response = make_message(MessageType::heartbeat_response);
    heartbeat_response.read_round = 4;
    cases.push_back({"heartbeat_response", heartbeat_response});
    cases.push_back({"timeout_now", make_message(MessageType::timeout_now)});
    Message install = make_message(MessageType::install_snapshot);
    install.snapshot = raft::SnapshotMeta{41, 2, raft::voters_membership({1, 2, 3})};
    install.snapshot.membership.put(raft::Member{4, true, "10.0.0.4:7000"});
    cases.push_back({"install_snapshot", install});
    Message config = make_message(MessageType::append_entries);
    config.prev_log_index = 9;
    config.prev_log_term = 2;
    config.entries = {raft::Entry{3, 10, raft::EntryType::config,
                                  raft::encode_membership(install.snapshot.membership)}};
    cases.push_back({"append_entries with a configuration entry", config});
    return cases;
}

TEST(RaftMessages, RoundTripEveryType) {
    std::vector<bool> seen(raft::message_type_max + 1, false);
    for (const MessageCase& c : message_cases()) {
        SCOPED_TRACE(c.name);
        const std::string bytes = encode_message(c.message);
        Result<Message> decoded = decode_message(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, c.message);
        seen[static_cast<std::size_t>(c.message.type)] = true;
    }
    for (std::size_t type = 0; type <= raft::message_type_max; ++type) {
        EXPECT_TRUE(seen[type]) << "no round trip case for type " << type;
    }
}

// The 19 elements of a valid heartbeat from 1 to 2 at term 7, one per field.
std::vector<std::string> heartbeat_elements() {
    std::vector<std::string> elements(19, mp_uint(0));
    elements[0] = mp_uint(protocol_version);
    elements[1] = mp_uint(static_cast<std::uint64_t>(MessageType::heartbeat));
    elements[2] = mp_uint(1);
    elements[3] = mp_uint(2);
    elements[4] = mp_uint(7);
    elements[7] = mp_bool(false);
    elements[8] = mp_bool(false);
    elements[11] = mp_array({});
    elements[13] = mp_bool(false);
    return elements;
}

const std::vector<std::string> field_names = {
    "version",        "type",          "from",          "to",         "term",
    "last_log_index", "last_log_term", "transfer",      "granted",    "prev_log_index",
    "prev_log_term",  "entries",       "leader_commit", "success",    "match_index",
    "reject_index",   "hint_index",    "hint_term",     "read_round",
};

TEST(RaftMessages, HandBuiltHeartbeatDecodes) {
    const std::string bytes = mp_array(heartbeat_elements());
    Result<Message> decoded = decode_message(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, make_message(MessageType::heartbeat));
}

TEST(RaftMessages, WrongTypePerFieldNamesTheField) {
    for (std::size_t i = 0; i < field_names.size(); ++i) {
        SCOPED_TRACE(field_names[i]);
        std::vector<std::string> elements = heartbeat_elements();
        elements[i] = mp_str("x");
        const std::string bytes = mp_array(elements);
        Result<Message> decoded = decode_message(bytes.data(), bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, Status::bad_request);
        EXPECT_NE(decoded.error().detail.find(field_names[i]), std::string::npos)
            << decoded.error().detail;
    }
}

std::string entry_bytes(std::uint64_t term, std::uint64_t index, std::uint64_t type,
                        const std::string& data) {
    return mp_array({mp_uint(term), mp_uint(index), mp_uint(type), data});
}

std::string append_with(const std::vector<std::string>& entries, std::uint64_t prev_index = 4) {
    std::vector<std::string> elements = heartbeat_elements();
    elements[1] = mp_uint(static_cast<std::uint64_t>(MessageType::append_entries));
    elements[9] = mp_uint(prev_index);
    elements[10] = mp_uint(3);
    elements[11] = mp_array(entries);
    return mp_array(elements);
}

struct RejectCase {
    std::string name;
    std::string bytes;
    Status status;
    std::string detail_part;
};

std::vector<RejectCase> reject_cases() {
    std::vector<std::string> with_from_0 = heartbeat_elements();
    with_from_0[2] = mp_uint(0);
    std::vector<std::string> to_self = heartbeat_elements();
    to_self[3] = mp_uint(1);
    std::vector<std::string> type_10 = heartbeat_elements();
    type_10[1] = mp_uint(10);
    std::vector<std::string> snapshot_index_0 = heartbeat_elements();
    snapshot_index_0[1] = mp_uint(static_cast<std::uint64_t>(MessageType::install_snapshot));
    std::vector<std::string> version_2 = heartbeat_elements();
    version_2[0] = mp_uint(2);
    std::vector<std::string> heartbeat_entries = heartbeat_elements();
    heartbeat_entries[11] = mp_array({entry_bytes(7, 1, 0, mp_bin(""))});
    std::vector<std::string> short_array = heartbeat_elements();
    short_array.pop_back();
    const std::string good_entry = entry_bytes(7, 5, 0, mp_bin("a"));
    // The header alone claims too many entries; no entries follow.
    std::vector<std::string> too_many_entries = heartbeat_elements();
    too_many_entries[1] = mp_uint(static_cast<std::uint64_t>(MessageType::append_entries));
    too_many_entries[11] = mp_array_header(entries_per_message_max + 1);
    // Elements 19-21 (snapshot index, term, voters) without element 22: a
    // voter id 0 (found by fuzzing: accepted, then not re-encodable).
    std::vector<std::string> voter_0 = heartbeat_elements();
    voter_0.push_back(mp_uint(0));
    voter_0.push_back(mp_uint(0));
    voter_0.push_back(mp_array({mp_uint(14), mp_uint(0)}));
    return {
        {"snapshot_voter_0", mp_array(voter_0), Status::bad_request, "id 0"},
        {"from_0", mp_array(with_from_0), Status::bad_request, "from"},
        {"to_self", mp_array(to_self), Status::bad_request, "itself"},
        {"type_10", mp_array(type_10), Status::bad_request, "type: unknown 10"},
        {"install_snapshot_without_snapshot", mp_array(snapshot_index_0), Status::bad_request,
         "install_snapshot"},
        {"version_2", mp_array(version_2), Status::bad_request, "version"},
        {"entries_on_heartbeat", mp_array(heartbeat_entries), Status::bad_request, "entries"},
        {"18_elements", mp_array(short_array), Status::bad_request, "at least 19"},
        {"not_an_array", mp_map({{"type", mp_uint(6)}}), Status::bad_request, "array"},
        {"entry_gap", append_with({good_entry, entry_bytes(7, 7, 0, mp_bin(""))}),
         Status::bad_request, "does not follow"},
        {"entry_not_after_prev", append_with({entry_bytes(7, 4, 0, mp_bin(""))}),
         Status::bad_request, "does not follow"},
        {"entry_term_above_message", append_with({entry_bytes(8, 5, 0, mp_bin(""))}),
         Status::bad_request, "term 8"},
        {"entry_term_below_prev", append_with({entry_bytes(2, 5, 0, mp_bin(""))}),
         Status::bad_request, "term 2"},
        {"entry_terms_decrease",
         append_with({entry_bytes(6, 5, 0, mp_bin("")), entry_bytes(5, 6, 0, mp_bin(""))}),
         Status::bad_request, "term 5"},
        {"entry_term_0", append_with({entry_bytes(0, 1, 0, mp_bin(""))}, 0), Status::bad_request,
         "term 0"},
        {"entry_type_3", append_with({entry_bytes(7, 5, 3, mp_bin(""))}), Status::bad_request,
         "entry type"},
        {"config_entry_not_a_membership", append_with({entry_bytes(7, 5, 2, mp_bin("x"))}),
         Status::bad_request, "not a membership"},
        {"entry_data_str", append_with({entry_bytes(7, 5, 0, mp_str("a"))}), Status::bad_request,
         "entry data"},
        {"entry_3_elements", append_with({mp_array({mp_uint(7), mp_uint(5), mp_uint(0)})}),
         Status::bad_request, "entry"},
        {"entry_not_array", append_with({mp_uint(7)}), Status::bad_request, "entry"},
        {"entries_over_max", mp_array(too_many_entries), Status::too_large, "array"},
    };
}

TEST(RaftMessages, RejectsMalformed) {
    for (const RejectCase& c : reject_cases()) {
        SCOPED_TRACE(c.name);
        Result<Message> decoded = decode_message(c.bytes.data(), c.bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, c.status) << decoded.error().detail;
        EXPECT_NE(decoded.error().detail.find(c.detail_part), std::string::npos)
            << decoded.error().detail;
    }
}

TEST(RaftMessages, AcceptsAppendedFieldsAndWideIntegers) {
    std::vector<std::string> elements = heartbeat_elements();
    elements[4] = mp_uint64_wide(7);
    elements.push_back(mp_str("a field from a later version"));
    const std::string bytes = mp_array(elements);
    Result<Message> decoded = decode_message(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, make_message(MessageType::heartbeat));
}

TEST(RaftMessages, RejectsFrameOverLimit) {
    const std::string bytes(raft_frame_bytes_max + 1, '\0');
    Result<Message> decoded = decode_message(bytes.data(), bytes.size());
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().status, Status::too_large);
}

TEST(StorageRecords, EntryRoundTrip) {
    const std::vector<Entry> entries = {
        {1, 1, EntryType::noop, ""},
        {3, 17, EntryType::normal, std::string("\0\x01\xff binary", 10)},
        {UINT64_MAX, UINT64_MAX, EntryType::normal, std::string(value_bytes_max, 'v')},
    };
    for (const Entry& entry : entries) {
        SCOPED_TRACE(entry.index);
        const std::string bytes = encode_entry(entry);
        Result<Entry> decoded = decode_entry(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, entry);
    }
}

TEST(StorageRecords, EntryRejects) {
    struct Case {
        std::string name;
        std::string bytes;
    };
    const std::vector<Case> cases = {
        {"term_0", mp_array({mp_uint(1), mp_uint(0), mp_uint(1), mp_uint(0), mp_bin("")})},
        {"index_0", mp_array({mp_uint(1), mp_uint(1), mp_uint(0), mp_uint(0), mp_bin("")})},
        {"type_7", mp_array({mp_uint(1), mp_uint(1), mp_uint(1), mp_uint(7), mp_bin("")})},
        {"version_0", mp_array({mp_uint(0), mp_uint(1), mp_uint(1), mp_uint(0), mp_bin("")})},
        {"data_nil", mp_array({mp_uint(1), mp_uint(1), mp_uint(1), mp_uint(0), mp_nil()})},
        {"short", mp_array({mp_uint(1), mp_uint(1), mp_uint(1), mp_uint(0)})},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_FALSE(decode_entry(c.bytes.data(), c.bytes.size()).ok());
    }
}

TEST(StorageRecords, HardStateRoundTrip) {
    const std::vector<raft::HardState> states = {
        {0, raft::node_none, 0},
        {5, 3, 40},
        {UINT64_MAX, UINT64_MAX, UINT64_MAX},
    };
    for (const raft::HardState& state : states) {
        SCOPED_TRACE(state.term);
        const std::string bytes = encode_hard_state(state);
        Result<raft::HardState> decoded = decode_hard_state(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, state);
    }
    const std::string wrong = mp_array({mp_uint(1), mp_uint(1), mp_bool(true), mp_uint(0)});
    Result<raft::HardState> decoded = decode_hard_state(wrong.data(), wrong.size());
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().detail.find("voted_for"), std::string::npos);
}

}  // namespace
}  // namespace cabildo::wire
