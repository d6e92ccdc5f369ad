// Tests for requests in wire/client_messages.h: decode_request() against
// Python-style encodings (hex from python3-msgpack), round trips through
// encode_request(), type and limit checks naming the field, and extract_id().
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"
#include "wire/client_messages.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;

ClientRequest request_of(Op op, std::string key) {
    ClientRequest request;
    request.op = op;
    request.key = std::move(key);
    return request;
}

struct PythonCase {
    std::string name;
    std::string hex;  // /usr/bin/python3 -c 'import msgpack; print(msgpack.packb({...}).hex())'
    ClientRequest expected;
};

std::vector<PythonCase> python_cases() {
    ClientRequest get = request_of(Op::get, "color");
    get.id = mp_uint(1);
    ClientRequest put = request_of(Op::put, "color");
    put.value = "blue";
    put.session = 7;
    put.seq = 1;
    put.id = mp_uint(2);
    ClientRequest put_str = request_of(Op::put, "color");
    put_str.value = "blue";
    ClientRequest del = request_of(Op::del, "color");
    del.session = 7;
    del.seq = 2;
    ClientRequest cas = request_of(Op::cas, "color");
    cas.expected = std::optional<std::string>("blue");
    cas.value = "red";
    cas.session = 7;
    cas.seq = 3;
    ClientRequest cas_absent = request_of(Op::cas, "lock");
    cas_absent.expected = std::optional<std::string>();
    cas_absent.value = "me";
    cas_absent.session = 7;
    cas_absent.seq = 4;
    ClientRequest range = request_of(Op::range, "");
    range.prefix = "col";
    range.limit = 100;
    range.consistency = Consistency::serializable;
    ClientRequest status = request_of(Op::status, "");
    ClientRequest nested_id = status;
    nested_id.id = from_hex("92a16181a1629401cb4004000000000000c0c3");
    ClientRequest member_add = request_of(Op::member_add, "");
    member_add.member_id = 4;
    member_add.peer = "10.0.0.4:7000";
    member_add.learner = true;
    ClientRequest member_remove = request_of(Op::member_remove, "");
    member_remove.member_id = 2;
    return {
        // {"op":"member_add","member_id":4,"peer":"10.0.0.4:7000","learner":True}
        {"member_add",
         "84a26f70aa6d656d6265725f616464a96d656d6265725f696404a470656572ad31302e302e302e343a3730"
         "3030a76c6561726e6572c3",
         member_add},
        // {"op":"member_remove","member_id":2}
        {"member_remove", "82a26f70ad6d656d6265725f72656d6f7665a96d656d6265725f696402",
         member_remove},
        // {"op":"transfer_leader"}: to the most caught-up voter
        {"transfer_leader", "81a26f70af7472616e736665725f6c6561646572",
         request_of(Op::transfer_leader, "")},
        // {"op":"get","key":b"color","id":1}
        {"get", "83a26f70a3676574a36b6579c405636f6c6f72a2696401", get},
        // {"op":"get","key":"color"}
        {"get_key_str", "82a26f70a3676574a36b6579a5636f6c6f72", request_of(Op::get, "color")},
        // {"op":"put","key":b"color","value":b"blue","session":7,"seq":1,"id":2}
        {"put",
         "86a26f70a3707574a36b6579c405636f6c6f72a576616c7565c404626c7565a773657373696f6e07a373"
         "657101a2696402",
         put},
        // {"op":"put","key":"color","value":"blue"}
        {"put_str", "83a26f70a3707574a36b6579a5636f6c6f72a576616c7565a4626c7565", put_str},
        // {"op":"delete","key":b"color","session":7,"seq":2}
        {"delete", "84a26f70a664656c657465a36b6579c405636f6c6f72a773657373696f6e07a373657102", del},
        // {"op":"cas","key":b"color","expected":b"blue","value":b"red","session":7,"seq":3}
        {"cas",
         "86a26f70a3636173a36b6579c405636f6c6f72a86578706563746564c404626c7565a576616c7565c4037"
         "26564a773657373696f6e07a373657103",
         cas},
        // {"op":"cas","key":b"lock","expected":None,"value":b"me","session":7,"seq":4}
        {"cas_absent",
         "86a26f70a3636173a36b6579c4046c6f636ba86578706563746564c0a576616c7565c4026d65a77365737"
         "3696f6e07a373657104",
         cas_absent},
        // {"op":"range","prefix":b"col","limit":100,"consistency":"serializable"}
        {"range",
         "84a26f70a572616e6765a6707265666978c403636f6ca56c696d697464ab636f6e73697374656e6379ac7"
         "3657269616c697a61626c65",
         range},
        // {"op":"status"}
        {"status", "81a26f70a6737461747573", status},
        // {"op":"status","id":["a",{"b":[1,2.5,None,True]}]}
        {"nested_id", "82a26f70a6737461747573a2696492a16181a1629401cb4004000000000000c0c3",
         nested_id},
        // {"op":"get","key":b"k","future":{"x":1},7:"int key"}: unknown keys ignored
        {"unknown_keys", "84a26f70a3676574a36b6579c4016ba666757475726581a1780107a7696e74206b6579",
         request_of(Op::get, "k")},
    };
}

TEST(ClientRequest, DecodesPythonEncodings) {
    for (const PythonCase& c : python_cases()) {
        SCOPED_TRACE(c.name);
        const std::string bytes = from_hex(c.hex);
        Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, c.expected);
    }
}

TEST(ClientRequest, EncodeMatchesPythonForDocumentedExamples) {
    // PROTOCOL.md shows these bytes; encode_request() writes keys in its own
    // order, so compare by decoding both.
    for (const PythonCase& c : python_cases()) {
        SCOPED_TRACE(c.name);
        const std::string bytes = encode_request(c.expected);
        Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, c.expected);
    }
    ClientRequest get = request_of(Op::get, "color");
    get.id = mp_uint(1);
    EXPECT_EQ(to_hex(encode_request(get)),
              "84a26f70a3676574a36b6579c405636f6c6f72ab636f6e73697374656e6379ac6c696e656172697a61"
              "626c65a2696401");
}

TEST(ClientRequest, RoundTripEdgeSizes) {
    ClientRequest put = request_of(Op::put, std::string(key_bytes_max, 'k'));
    put.value = std::string(value_bytes_max, '\0');
    put.session = UINT64_MAX;
    put.seq = UINT64_MAX;
    ClientRequest range = request_of(Op::range, "");
    range.limit = range_limit_max;
    ClientRequest empty_value = request_of(Op::put, std::string("\0", 1));
    empty_value.value = "";
    ClientRequest timeouts = request_of(Op::get, "k");
    timeouts.timeout_ms = timeout_ms_max;
    const std::vector<std::pair<std::string, ClientRequest>> cases = {
        {"max_key_and_value", put},
        {"max_limit", range},
        {"empty_value", empty_value},
        {"max_timeout", timeouts}};
    for (const auto& [name, request] : cases) {
        SCOPED_TRACE(name);
        const std::string bytes = encode_request(request);
        Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, request);
    }
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// A valid cas request, with `field` replaced by `value` (added if absent).
std::string cas_with(const std::string& field, const std::string& value) {
    Fields fields = {{"op", mp_str("cas")},  {"key", mp_bin("k")},    {"value", mp_bin("v")},
                     {"expected", mp_nil()}, {"session", mp_uint(1)}, {"seq", mp_uint(1)}};
    bool replaced = false;
    for (auto& [name, encoded] : fields) {
        if (name == field) {
            encoded = value;
            replaced = true;
        }
    }
    if (!replaced)
        fields.emplace_back(field, value);
    return mp_map(fields);
}

TEST(ClientRequest, WrongTypeNamesTheField) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"op", mp_uint(1)},        {"key", mp_uint(1)},          {"value", mp_bool(true)},
        {"expected", mp_uint(1)},  {"prefix", mp_array({})},     {"limit", mp_str("10")},
        {"consistency", mp_nil()}, {"session", mp_negative(-1)}, {"seq", mp_float64(1.0)},
    };
    for (const auto& [field, value] : cases) {
        SCOPED_TRACE(field);
        const std::string bytes = cas_with(field, value);
        Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, Status::bad_request);
        EXPECT_EQ(decoded.error().detail.rfind(field + ":", 0), 0u) << decoded.error().detail;
    }
}

struct RejectCase {
    std::string name;
    std::string bytes;
    Status status;
    std::string detail_prefix;
};

std::vector<RejectCase> reject_cases() {
    const std::string big_key(key_bytes_max + 1, 'k');
    const std::string big_value(value_bytes_max + 1, 'v');
    return {
        {"not_a_map", mp_array({mp_str("get")}), Status::bad_request, "request: expected map"},
        {"no_op", mp_map({{"key", mp_bin("k")}}), Status::bad_request, "op: missing"},
        {"unknown_op", mp_map({{"op", mp_str("watch")}}), Status::bad_request, "op: unknown"},
        {"get_no_key", mp_map({{"op", mp_str("get")}}), Status::bad_request, "key: missing"},
        {"get_empty_key", mp_map({{"op", mp_str("get")}, {"key", mp_bin("")}}), Status::bad_request,
         "key: empty"},
        {"key_too_long", mp_map({{"op", mp_str("get")}, {"key", mp_bin(big_key)}}),
         Status::too_large, "key:"},
        {"key_str_too_long", mp_map({{"op", mp_str("get")}, {"key", mp_str(big_key)}}),
         Status::too_large, "key:"},
        {"value_too_long", cas_with("value", mp_bin(big_value)), Status::too_large, "value:"},
        {"expected_too_long", cas_with("expected", mp_bin(big_value)), Status::too_large,
         "expected:"},
        {"put_no_value", mp_map({{"op", mp_str("put")}, {"key", mp_bin("k")}}), Status::bad_request,
         "value: missing"},
        {"cas_no_value",
         mp_map({{"op", mp_str("cas")}, {"key", mp_bin("k")}, {"expected", mp_nil()}}),
         Status::bad_request, "value: missing"},
        {"cas_no_expected",
         mp_map({{"op", mp_str("cas")}, {"key", mp_bin("k")}, {"value", mp_bin("v")}}),
         Status::bad_request, "expected/mod_revision: give exactly one"},
        {"prefix_too_long", mp_map({{"op", mp_str("range")}, {"prefix", mp_bin(big_key)}}),
         Status::too_large, "prefix:"},
        {"limit_0", mp_map({{"op", mp_str("range")}, {"limit", mp_uint(0)}}), Status::bad_request,
         "limit:"},
        {"timeout_0", cas_with("timeout_ms", mp_uint(0)), Status::bad_request, "timeout_ms:"},
        {"timeout_over_max", cas_with("timeout_ms", mp_uint(timeout_ms_max + 1)),
         Status::bad_request, "timeout_ms:"},
        {"timeout_str", cas_with("timeout_ms", mp_str("5")), Status::bad_request, "timeout_ms:"},
        {"limit_over_max",
         mp_map({{"op", mp_str("range")}, {"limit", mp_uint(range_limit_max + 1)}}),
         Status::bad_request, "limit:"},
        {"consistency_unknown",
         mp_map({{"op", mp_str("get")}, {"key", mp_str("k")}, {"consistency", mp_str("x")}}),
         Status::bad_request, "consistency:"},
        {"session_without_seq", mp_map({{"op", mp_str("status")}, {"session", mp_uint(1)}}),
         Status::bad_request, "session/seq:"},
        {"seq_0", cas_with("seq", mp_uint(0)), Status::bad_request, "session/seq:"},
        {"member_remove_no_id", mp_map({{"op", mp_str("member_remove")}}), Status::bad_request,
         "member_id: missing"},
        {"member_add_no_peer", mp_map({{"op", mp_str("member_add")}, {"member_id", mp_uint(4)}}),
         Status::bad_request, "peer: missing"},
        {"learner_not_bool",
         mp_map({{"op", mp_str("member_add")}, {"member_id", mp_uint(4)},
                 {"peer", mp_str("h:1")}, {"learner", mp_uint(1)}}),
         Status::bad_request, "learner:"},
        {"session_0", cas_with("session", mp_uint(0)), Status::bad_request, "session/seq:"},
        {"id_too_large", cas_with("id", mp_str(std::string(id_bytes_max, 'i'))), Status::too_large,
         "id:"},
        {"trailing_bytes", mp_map({{"op", mp_str("status")}}) + mp_nil(), Status::bad_request,
         "request: 1 trailing"},
        {"frame_too_large", std::string(frame_bytes_max + 1, '\x90'), Status::too_large,
         "request:"},
    };
}

TEST(ClientRequest, RejectsInvalid) {
    for (const RejectCase& c : reject_cases()) {
        SCOPED_TRACE(c.name);
        Result<ClientRequest> decoded = decode_request(c.bytes.data(), c.bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, c.status) << decoded.error().detail;
        EXPECT_EQ(decoded.error().detail.rfind(c.detail_prefix, 0), 0u) << decoded.error().detail;
    }
}

TEST(ClientRequest, IgnoresFieldsTheOpDoesNotUse) {
    const std::string bytes = mp_map({{"op", mp_str("get")},
                                      {"key", mp_bin("k")},
                                      {"value", mp_bin("ignored")},
                                      {"expected", mp_bin("ignored")},
                                      {"consistency", mp_str("serializable")}});
    Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    ClientRequest expected = request_of(Op::get, "k");
    expected.consistency = Consistency::serializable;
    EXPECT_EQ(*decoded, expected);
}

TEST(ClientRequest, ExtractId) {
    struct Case {
        std::string name;
        std::string bytes;
        std::string id;
    };
    const std::vector<Case> cases = {
        {"unknown_op", mp_map({{"op", mp_str("watch")}, {"id", mp_str("req-1")}}), mp_str("req-1")},
        {"value_too_long",
         mp_map({{"id", mp_uint(9)},
                 {"op", mp_str("put")},
                 {"value", mp_bin(std::string(value_bytes_max + 1, 'v'))}}),
         mp_uint(9)},
        {"no_id", mp_map({{"op", mp_str("get")}}), ""},
        {"not_a_map", mp_array({mp_str("id"), mp_uint(1)}), ""},
        {"garbage", "\xc1\xc1", ""},
        {"truncated", mp_map({{"op", mp_str("get")}, {"id", mp_uint(1)}}).substr(0, 5), ""},
        {"id_too_large", mp_map({{"id", mp_bin(std::string(id_bytes_max, 'i'))}}), ""},
        {"empty", "", ""},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(to_hex(extract_id(c.bytes.data(), c.bytes.size())), to_hex(c.id));
    }
}

TEST(ClientRequest, ErrorCodeOfDecodeErrors) {
    EXPECT_EQ(error_code(Status::bad_request), error_bad_request);
    EXPECT_EQ(error_code(Status::too_large), error_too_large);
    EXPECT_EQ(error_code(Status::storage_full), error_storage_full);
    EXPECT_EQ(error_code(Status::io_error), error_internal);
}

}  // namespace
}  // namespace cabildo::wire
