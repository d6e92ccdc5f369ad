// Robustness of every wire/ decoder against hostile bytes: every proper
// prefix of a valid encoding, trailing bytes, headers claiming a billion
// elements or bytes, and seeded random and mutated inputs. The only
// acceptable outcomes are a value or an error: never an exception or a crash
// (run under CABILDO_SANITIZE for the memory side).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"
#include "wire/client_messages.h"
#include "wire/command.h"
#include "wire/raft_messages.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;

// A decoder under test and valid encodings for it. decode returns whether it
// accepted the bytes; for accepted bytes it also checks that re-encoding the
// value decodes to the same value.
struct Decoder {
    std::string name;
    std::function<bool(const std::string&)> decode;
    std::vector<std::string> valid;
};

template <typename T, typename DecodeFn, typename EncodeFn>
std::function<bool(const std::string&)> checked(DecodeFn decode, EncodeFn encode) {
    return [decode, encode](const std::string& bytes) {
        Result<T> first = decode(bytes.data(), bytes.size());
        if (!first.ok())
            return false;
        const std::string again = encode(*first);
        Result<T> second = decode(again.data(), again.size());
        EXPECT_TRUE(second.ok());
        if (second.ok()) {
            EXPECT_TRUE(*second == *first);
        }
        return true;
    };
}

std::vector<std::string> valid_messages() {
    raft::Message append;
    append.type = raft::MessageType::append_entries;
    append.from = 1;
    append.to = 3;
    append.term = 5;
    append.prev_log_index = 9;
    append.prev_log_term = 4;
    append.entries = {{5, 10, raft::EntryType::noop, ""}, {5, 11, raft::EntryType::normal, "x"}};
    raft::Message vote;
    vote.type = raft::MessageType::request_vote;
    vote.from = 2;
    vote.to = 1;
    vote.term = 6;
    vote.last_log_index = 11;
    vote.last_log_term = 5;
    return {encode_message(append), encode_message(vote)};
}

std::vector<std::string> valid_requests() {
    ClientRequest put;
    put.op = Op::put;
    put.key = "key";
    put.value = "value";
    put.session = 1;
    put.seq = 2;
    put.id = mp_str("id");
    ClientRequest cas;
    cas.op = Op::cas;
    cas.key = "k";
    cas.value = "v";
    cas.expected = std::optional<std::string>();
    ClientRequest range;
    range.op = Op::range;
    range.prefix = "p";
    return {encode_request(put), encode_request(cas), encode_request(range)};
}

std::vector<std::string> valid_replies() {
    ClientReply range;
    range.ok = true;
    range.revision = 3;
    range.range = RangePage{{{"a", "1"}, {"b", "2"}}, true};
    ClientReply status;
    status.ok = true;
    status.status = NodeStatus{1, "leader", 2, 1, 3, 3, 3, 99, {{1, "tcp://a:1", {}, false, 0, {}, false}}};
    ClientReply error = make_error_reply(error_timeout, "gave up", mp_array({mp_uint(1)}));
    return {encode_reply(range), encode_reply(status), encode_reply(error)};
}

std::vector<Decoder> decoders() {
    return {
        {"message", checked<raft::Message>(decode_message, encode_message), valid_messages()},
        {"entry",
         checked<raft::Entry>(decode_entry, encode_entry),
         {encode_entry({3, 7, raft::EntryType::normal, "data"})}},
        {"hard_state",
         checked<raft::HardState>(decode_hard_state, encode_hard_state),
         {encode_hard_state({4, 2, 9})}},
        {"command",
         checked<Command>(decode_command, encode_command),
         {encode_command({Op::cas, "k", "v", std::optional<std::string>("e"), 1, 1})}},
        {"request", checked<ClientRequest>(decode_request, encode_request), valid_requests()},
        {"reply", checked<ClientReply>(decode_reply, encode_reply), valid_replies()},
        {"extract_id",
         [](const std::string& bytes) { return !extract_id(bytes.data(), bytes.size()).empty(); },
         {}},
    };
}

TEST(Robustness, EveryProperPrefixIsRejected) {
    for (const Decoder& d : decoders()) {
        for (const std::string& valid : d.valid) {
            SCOPED_TRACE(d.name + " " + to_hex(valid));
            ASSERT_TRUE(d.decode(valid));
            for (std::size_t size = 0; size < valid.size(); ++size) {
                bool accepted = true;
                EXPECT_NO_THROW(accepted = d.decode(valid.substr(0, size)));
                EXPECT_FALSE(accepted) << "prefix of " << size << " bytes accepted";
            }
        }
    }
}

TEST(Robustness, TrailingBytesAreRejected) {
    for (const Decoder& d : decoders()) {
        for (const std::string& valid : d.valid) {
            SCOPED_TRACE(d.name + " " + to_hex(valid));
            for (const std::string& tail : {mp_nil(), mp_uint(0), std::string("\xc1")}) {
                EXPECT_FALSE(d.decode(valid + tail));
            }
        }
    }
}

TEST(Robustness, HugeHeadersAreRejectedQuickly) {
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"array32", "\xdd" + be_bytes(1000000000, 4)},
        {"map32", "\xdf" + be_bytes(1000000000, 4)},
        {"str32", "\xdb" + be_bytes(1000000000, 4)},
        {"bin32", "\xc6" + be_bytes(1000000000, 4)},
        {"nested_array32", mp_array_header(1) + "\xdd" + be_bytes(1000000000, 4)},
        {"map_value_bin32", mp_map_header(1) + mp_str("key") + "\xc6" + be_bytes(1000000000, 4)},
        {"deep", std::string(100000, '\x91')},
    };
    const auto start = std::chrono::steady_clock::now();
    for (const Decoder& d : decoders()) {
        for (const auto& [name, bytes] : headers) {
            SCOPED_TRACE(d.name + " " + name);
            bool accepted = true;
            EXPECT_NO_THROW(accepted = d.decode(bytes));
            EXPECT_FALSE(accepted);
        }
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Draws from the generator directly: the std distributions differ across
// standard libraries (STYLE §6).
std::string random_bytes(std::mt19937_64& rng, std::size_t size_max) {
    std::string bytes(rng() % (size_max + 1), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    return bytes;
}

TEST(Robustness, SeededRandomBytesNeverThrow) {
    std::mt19937_64 rng(20240611);
    for (const Decoder& d : decoders()) {
        SCOPED_TRACE(d.name);
        int accepted = 0;
        for (int i = 0; i < 20000; ++i) {
            const std::string bytes = random_bytes(rng, 64);
            EXPECT_NO_THROW(accepted += d.decode(bytes) ? 1 : 0);
        }
        RecordProperty(d.name + "_random_accepted", accepted);
    }
}

TEST(Robustness, SeededMutationsNeverThrow) {
    std::mt19937_64 rng(7);
    for (const Decoder& d : decoders()) {
        for (const std::string& valid : d.valid) {
            SCOPED_TRACE(d.name + " " + to_hex(valid));
            for (int i = 0; i < 5000; ++i) {
                std::string bytes = valid;
                const int flips = 1 + static_cast<int>(rng() % 3);
                for (int f = 0; f < flips; ++f) {
                    bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
                }
                EXPECT_NO_THROW(d.decode(bytes));
            }
        }
    }
}

}  // namespace
}  // namespace cabildo::wire
