// Tests for replies in wire/client_messages.h: every reply shape round trips
// through encode_reply()/decode_reply(), Python-style replies decode, and
// wrong types are rejected naming the field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"
#include "wire/client_messages.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;

ClientReply ok_reply(std::uint64_t revision) {
    ClientReply reply;
    reply.ok = true;
    reply.revision = revision;
    reply.leader = "tcp://10.0.0.1:7001";
    return reply;
}

NodeStatus make_status() {
    NodeStatus status;
    status.node_id = 2;
    status.role = "follower";
    status.term = 9;
    status.leader_id = 1;
    status.commit_index = 40;
    status.applied_index = 39;
    status.last_index = 41;
    status.state_hash = 0xfeedfacecafebeefull;
    status.members = {{1, "tcp://10.0.0.1:7001", {}, false, 0, {}, false}, {2, "tcp://10.0.0.2:7001", {}, false, 0, {}, false}};
    status.recovering = true;
    status.recovering_to = 77;
    status.requests_pending = 3;
    status.requests_expired = 4;
    status.requests_overloaded = 5;
    status.forward_reply_queues = 6;
    status.quota_bytes = std::uint64_t{8} << 30;
    status.state_bytes = 123 * 4096;
    status.writes_per_s = 9100;
    status.reads_per_s = 18000;
    status.fsync_p99_us = 2400;
    status.rss_bytes = 48u << 20;
    status.leader_changes = 3;
    status.uptime_ms = 86400000;
    return status;
}

std::vector<std::pair<std::string, ClientReply>> reply_cases() {
    std::vector<std::pair<std::string, ClientReply>> cases;
    ClientReply get = ok_reply(42);
    get.value = std::optional<std::string>(std::string("bl\0ue", 5));
    get.id = mp_uint(1);
    cases.emplace_back("get_found", get);
    ClientReply get_absent = ok_reply(42);
    get_absent.value = std::optional<std::string>();
    cases.emplace_back("get_absent", get_absent);
    cases.emplace_back("put", ok_reply(43));
    ClientReply del = ok_reply(44);
    del.succeeded = false;
    cases.emplace_back("delete_missing_key", del);
    ClientReply cas = ok_reply(45);
    cas.succeeded = true;
    cas.id = mp_array({mp_str("a"), mp_map({{"b", mp_nil()}})});
    cases.emplace_back("cas", cas);
    ClientReply range = ok_reply(45);
    range.range = RangePage{{{"color", "blue", {}}, {std::string("\xff", 1), "", {}}}, true};
    cases.emplace_back("range", range);
    ClientReply empty_range = ok_reply(45);
    empty_range.range = RangePage{};
    cases.emplace_back("range_empty", empty_range);
    ClientReply status = ok_reply(39);
    status.status = make_status();
    cases.emplace_back("status", status);
    ClientReply membership = ok_reply(412);
    membership.membership = MembershipInfo{
        412, true, 99,
        {{1, "tcp://10.0.0.1:7001", "10.0.0.1:7000", false, 980, "9f2c", true},
         {4, "tcp://10.0.0.4:7001", "10.0.0.4:7000", true, 975, "", true}}};
    cases.emplace_back("membership", membership);
    ClientReply no_leader = make_error_reply(error_no_leader, "election in progress", mp_uint(3));
    cases.emplace_back("no_leader", no_leader);
    ClientReply redirect = make_error_reply(error_unavailable, "not the leader", "");
    redirect.leader = "tcp://10.0.0.3:7001";
    cases.emplace_back("unavailable_with_leader", redirect);
    for (std::string_view code : {error_bad_request, error_too_large, error_timeout,
                                  error_storage_full, error_stale_session, error_internal}) {
        cases.emplace_back(std::string(code), make_error_reply(code, "detail", ""));
    }
    return cases;
}

TEST(ClientReply, RoundTripEveryShape) {
    for (const auto& [name, reply] : reply_cases()) {
        SCOPED_TRACE(name);
        const std::string bytes = encode_reply(reply);
        Result<ClientReply> decoded = decode_reply(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, reply);
    }
}

TEST(ClientReply, DocumentedBytes) {
    ClientReply get = ok_reply(42);
    get.value = std::optional<std::string>("blue");
    get.id = mp_uint(1);
    // Python: msgpack.packb({"ok":True,"id":1,"revision":42,
    //                        "leader":"tcp://10.0.0.1:7001","value":b"blue"}).hex()
    EXPECT_EQ(to_hex(encode_reply(get)),
              "85a26f6bc3a2696401a87265766973696f6e2aa66c6561646572b37463703a2f2f31302e302e30"
              "2e313a37303031a576616c7565c404626c7565");
    ClientReply put = ok_reply(43);
    put.id = mp_uint(2);
    // {"ok":True,"id":2,"revision":43,"leader":"tcp://10.0.0.1:7001"}
    EXPECT_EQ(to_hex(encode_reply(put)),
              "84a26f6bc3a2696402a87265766973696f6e2ba66c6561646572b37463703a2f2f31302e302e30"
              "2e313a37303031");
    ClientReply unavailable = make_error_reply(error_unavailable, "not the leader", "");
    unavailable.leader = "tcp://10.0.0.1:7001";
    // {"ok":False,"error":"unavailable","message":"not the leader",
    //  "leader":"tcp://10.0.0.1:7001"}
    EXPECT_EQ(to_hex(encode_reply(unavailable)),
              "84a26f6bc2a56572726f72ab756e617661696c61626c65a76d657373616765ae6e6f7420746865"
              "206c6561646572a66c6561646572b37463703a2f2f31302e302e302e313a37303031");
}

TEST(ClientReply, DecodesPythonStyle) {
    // STR where the node writes BIN, keys in another order, unknown keys.
    const std::string bytes = mp_map(
        {{"value", mp_str("blue")},
         {"watch_id", mp_uint(5)},
         {"ok", mp_bool(true)},
         {"kvs", mp_array({mp_map(
                     {{"key", mp_str("k")}, {"value", mp_str("v")}, {"version", mp_uint(1)}})})}});
    Result<ClientReply> decoded = decode_reply(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    ClientReply expected;
    expected.ok = true;
    expected.value = std::optional<std::string>("blue");
    expected.range = RangePage{{{"k", "v", {0, 0, 1, 0}}}, false};  // metadata keys are read
    EXPECT_EQ(*decoded, expected);
}

TEST(ClientReply, WrongTypeNamesTheField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"ok", mp_uint(1)},           {"error", mp_uint(1)},        {"message", mp_bool(false)},
        {"value", mp_uint(1)},        {"succeeded", mp_nil()},      {"revision", mp_str("1")},
        {"leader", mp_uint(1)},       {"kvs", mp_map({})},          {"more", mp_uint(0)},
        {"node_id", mp_str("2")},     {"role", mp_uint(3)},         {"term", mp_nil()},
        {"leader_id", mp_bool(true)}, {"commit_index", mp_str("")}, {"applied_index", mp_nil()},
        {"last_index", mp_nil()},     {"members", mp_uint(1)},
    };
    for (const auto& [field, value] : cases) {
        SCOPED_TRACE(field);
        const std::string bytes = field == "ok" ? mp_map({{"ok", value}})
                                                : mp_map({{"ok", mp_bool(true)}, {field, value}});
        Result<ClientReply> decoded = decode_reply(bytes.data(), bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().detail.rfind(field + ":", 0), 0u) << decoded.error().detail;
    }
}

TEST(ClientReply, RejectsInvalid) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"no_ok", mp_map({{"revision", mp_uint(1)}})},
        {"not_a_map", mp_array({mp_bool(true)})},
        {"kv_not_a_map", mp_map({{"ok", mp_bool(true)}, {"kvs", mp_array({mp_uint(1)})}})},
        {"member_id_str",
         mp_map({{"ok", mp_bool(true)}, {"members", mp_array({mp_map({{"id", mp_str("1")}})})}})},
        {"trailing", mp_map({{"ok", mp_bool(true)}}) + mp_nil()},
    };
    for (const auto& [name, bytes] : cases) {
        SCOPED_TRACE(name);
        EXPECT_FALSE(decode_reply(bytes.data(), bytes.size()).ok());
    }
}

}  // namespace
}  // namespace cabildo::wire

namespace cabildo::wire {
namespace {

// Regression: an error message quoting untrusted bytes (op "\xff\xfe\xfd")
// was sent as invalid UTF-8 and Python clients could not decode the reply.
TEST(ClientReplyText, ErrorTextIsAlwaysPrintableAscii) {
    ClientReply reply =
        make_error_reply(error_bad_request, std::string("op: unknown '\xff\xfe\x01\\'"), {});
    const std::string bytes = encode_reply(reply);
    auto decoded = decode_reply(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(decoded->message, "op: unknown '\\xff\\xfe\\x01\\'");
    for (char c : decoded->message) EXPECT_TRUE(c >= 0x20 && c < 0x7f);
}

}  // namespace
}  // namespace cabildo::wire
