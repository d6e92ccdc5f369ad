// Tests for wire/command.h: the replicated command inside a log entry.
#include "wire/command.h"
#include "wire/coord.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;

std::vector<std::pair<std::string, Command>> command_cases() {
    Command put{Op::put, "color", "blue", std::nullopt, 0, 0};
    Command put_session{Op::put,
                        std::string(key_bytes_max, 'k'),
                        std::string(value_bytes_max, '\0'),
                        std::nullopt,
                        UINT64_MAX,
                        1};
    Command del{Op::del, "color", "", std::nullopt, 7, 2};
    Command cas{Op::cas, "color", "red", std::optional<std::string>("blue"), 7, 3};
    Command cas_absent{Op::cas, "lock", "me", std::optional<std::string>(), 7, 4};
    Command cas_empty{Op::cas, "lock", "", std::optional<std::string>(""), 0, 0};
    Command lock{Op::lock, "", "holder-1", std::nullopt, 9, 1};
    lock.name = "build";
    lock.lease = 40;
    lock.wait = true;
    Command unlock_key{Op::unlock, waiter_key(mutex_base(MutexKind::lock, "build"), 41), "",
                       std::nullopt, 0, 0};
    Command resign_token{Op::resign, "", "", std::nullopt, 0, 0};
    resign_token.name = "db";
    resign_token.token = 77;
    Command queue_put{Op::queue_put, "", "job", std::nullopt, 3, 1};
    queue_put.name = "jobs";
    queue_put.items_max = 10;
    queue_put.bytes_max = 100;
    Command queue_get{Op::queue_get, "", "", std::nullopt, 0, 0};
    queue_get.name = "jobs";
    queue_get.ttl_ms = visibility_ms_min;
    queue_get.wait = true;
    Command queue_ack{Op::queue_ack, "", "", std::nullopt, 0, 0};
    queue_ack.name = "jobs";
    queue_ack.item = 4;
    queue_ack.lease = 71;
    Command cancel{Op::wait_cancel, waiter_key(mutex_base(MutexKind::election, "db"), 3), "",
                   std::nullopt, 0, 0};
    return {{"put", put},
            {"lock", lock},
            {"unlock_by_key", unlock_key},
            {"resign_by_token", resign_token},
            {"queue_put", queue_put},
            {"queue_get", queue_get},
            {"queue_ack", queue_ack},
            {"wait_cancel", cancel},
            {"put_session_max_sizes", put_session},
            {"delete", del},
            {"cas", cas},
            {"cas_absent", cas_absent},
            {"cas_expect_empty_value", cas_empty}};
}

TEST(Command, RoundTrip) {
    for (const auto& [name, command] : command_cases()) {
        SCOPED_TRACE(name);
        const std::string bytes = encode_command(command);
        Result<Command> decoded = decode_command(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, command);
    }
}

TEST(Command, Layout) {
    const Command cas{Op::cas, "k", "v", std::optional<std::string>(), 7, 3};
    EXPECT_EQ(to_hex(encode_command(cas)),
              to_hex(mp_array({mp_uint(1), mp_uint(3), mp_bin("k"), mp_bin("v"), mp_nil(),
                               mp_uint(7), mp_uint(3), mp_uint(0), mp_uint(0), mp_nil(),
                               mp_uint(0), mp_array({}), mp_nil(), mp_bin(""), mp_uint(0),
                               mp_uint(0), mp_uint(0), mp_uint(0)})));
}

// Entries of the lease-and-txn layout (13 elements) decode with the
// coordination fields at their defaults.
TEST(Command, DecodesTheLeaseLayout) {
    const std::string old = mp_array({mp_uint(1), mp_uint(1), mp_bin("k"), mp_bin("v"), mp_nil(),
                                      mp_uint(0), mp_uint(0), mp_uint(5), mp_uint(1), mp_nil(),
                                      mp_uint(0), mp_array({}), mp_nil()});
    Result<Command> decoded = decode_command(old.data(), old.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    Command expected{Op::put, "k", "v", std::nullopt, 0, 0};
    expected.lease = 5;
    expected.prev = true;
    EXPECT_EQ(*decoded, expected);
}

// Entries written before the appended fields existed stay readable: every
// log and snapshot holds them.
TEST(Command, DecodesTheSevenFieldLayout) {
    const std::string old = mp_array({mp_uint(1), mp_uint(3), mp_bin("k"), mp_bin("v"), mp_nil(),
                                      mp_uint(7), mp_uint(3)});
    Result<Command> decoded = decode_command(old.data(), old.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, (Command{Op::cas, "k", "v", std::optional<std::string>(), 7, 3}));
}

std::string command_with(std::size_t index, const std::string& value) {
    std::vector<std::string> elements = {mp_uint(1), mp_uint(1), mp_bin("k"), mp_bin("v"),
                                         mp_nil(),   mp_uint(0), mp_uint(0)};
    if (index < elements.size()) {
        elements[index] = value;
    } else {
        elements.push_back(value);
    }
    return mp_array(elements);
}

TEST(Command, Rejects) {
    struct Case {
        std::string name;
        std::string bytes;
        std::string detail_part;
    };
    const std::vector<Case> cases = {
        {"version_2", command_with(0, mp_uint(2)), "version"},
        {"op_get", command_with(1, mp_uint(0)), "op"},
        {"op_unknown", command_with(1, mp_uint(200)), "op"},
        {"op_str", command_with(1, mp_str("put")), "op"},
        {"key_str", command_with(2, mp_str("k")), "key"},
        {"key_empty", command_with(2, mp_bin("")), "key"},
        {"key_too_long", command_with(2, mp_bin(std::string(key_bytes_max + 1, 'k'))), "key"},
        {"value_nil", command_with(3, mp_nil()), "value"},
        {"expected_on_put", command_with(4, mp_bin("x")), "expected"},
        {"expected_uint", command_with(4, mp_uint(1)), "expected"},
        {"session_without_seq", command_with(5, mp_uint(3)), "session/seq"},
        {"seq_str", command_with(6, mp_str("1")), "seq"},
        {"short", mp_array({mp_uint(1), mp_uint(1), mp_bin("k")}), "command"},
        {"delete_with_value",
         mp_array(
             {mp_uint(1), mp_uint(2), mp_bin("k"), mp_bin("v"), mp_nil(), mp_uint(0), mp_uint(0)}),
         "value"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Result<Command> decoded = decode_command(c.bytes.data(), c.bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_NE(decoded.error().detail.find(c.detail_part), std::string::npos)
            << decoded.error().detail;
    }
}

TEST(Command, AcceptsAppendedFields) {
    const std::string bytes = command_with(7, mp_str("later"));
    Result<Command> decoded = decode_command(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, (Command{Op::put, "k", "v", std::nullopt, 0, 0}));
}

}  // namespace
}  // namespace cabildo::wire
