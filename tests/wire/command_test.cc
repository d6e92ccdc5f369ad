// Tests for wire/command.h: the replicated command inside a log entry.
#include "wire/command.h"

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
    return {{"put", put},
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
                               mp_uint(0), mp_array({}), mp_nil()})));
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
