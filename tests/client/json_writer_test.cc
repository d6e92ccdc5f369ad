// JSON output helpers: UTF-8 validation, base64 vectors, escaping and the
// _b64 fallback for binary keys and values.
#include "client/json_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cabildo::client {
namespace {

TEST(JsonWriterTest, Utf8Validation) {
    struct Case {
        std::string name;
        std::string bytes;
        bool valid;
    };
    const std::vector<Case> cases = {
        {"empty", "", true},
        {"ascii", "hello", true},
        {"nul is valid", std::string("a\0b", 3), true},
        {"two bytes", "\xc3\xa9", true},
        {"three bytes", "\xe2\x82\xac", true},
        {"four bytes", "\xf0\x9f\x98\x80", true},
        {"max code point", "\xf4\x8f\xbf\xbf", true},
        {"lone continuation", "\x80", false},
        {"overlong two", "\xc0\xaf", false},
        {"overlong three", "\xe0\x80\xaf", false},
        {"overlong four", "\xf0\x80\x80\xaf", false},
        {"surrogate", "\xed\xa0\x80", false},
        {"above max", "\xf4\x90\x80\x80", false},
        {"truncated", "\xe2\x82", false},
        {"bad continuation", "\xe2\x28\xa1", false},
        {"ff", "\xff", false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(is_valid_utf8(c.bytes), c.valid);
    }
}

TEST(JsonWriterTest, Base64Rfc4648Vectors) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
        {std::string("\xff\xfe\x00", 3), "//4A"},
    };
    for (const auto& [bytes, encoded] : cases) {
        SCOPED_TRACE(encoded);
        EXPECT_EQ(base64_encode(bytes), encoded);
    }
}

TEST(JsonWriterTest, QuoteEscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(json_quote("plain"), "\"plain\"");
    EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_quote("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(json_quote(std::string("\x01\x1f\0", 3)), "\"\\u0001\\u001f\\u0000\"");
    EXPECT_EQ(json_quote("caf\xc3\xa9 \x7f"), "\"caf\xc3\xa9 \x7f\"");
}

TEST(JsonWriterTest, ObjectWithBinaryFallback) {
    JsonObject object;
    object.add_bool("ok", true)
        .add_uint("revision", 18446744073709551615ULL)
        .add_bytes("key", "k\"1")
        .add_bytes("value", std::string("\xff\x00", 2))
        .add_null("none")
        .add_json("list", json_array({"1", "{}"}));
    EXPECT_EQ(object.str(),
              "{\"ok\":true,\"revision\":18446744073709551615,\"key\":\"k\\\"1\","
              "\"value_b64\":\"/wA=\",\"none\":null,\"list\":[1,{}]}");
    EXPECT_EQ(JsonObject().str(), "{}");
    EXPECT_EQ(json_array({}), "[]");
}

}  // namespace
}  // namespace cabildo::client
