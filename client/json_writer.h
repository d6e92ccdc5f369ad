// JsonObject: the few lines of JSON the `cabildo --json` output needs, built
// by hand with correct string escaping. Not a JSON library: it only writes,
// one flat-or-nested object at a time, keys in insertion order.
//
// Binary safety: Cabildo keys and values are arbitrary bytes. add_bytes()
// writes a field as a JSON string when the bytes are valid UTF-8, and
// otherwise as base64 (RFC 4648, with padding) under the field name plus
// "_b64": {"value": "blue"} or {"value_b64": "/w=="}. A reader checks which of
// the two names is present.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cabildo::client {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, at most U+10FFFF.
bool is_valid_utf8(std::string_view bytes);
// RFC 4648 base64 with '=' padding.
std::string base64_encode(std::string_view bytes);
// Its inverse (padding optional); nullopt on a character outside the alphabet.
std::optional<std::string> base64_decode(std::string_view text);
// A JSON string literal, quotes included. Precondition: text is valid UTF-8.
// Escapes '"', '\\' and every control character below 0x20.
std::string json_quote(std::string_view text);
// A JSON array of already-encoded JSON values.
std::string json_array(const std::vector<std::string>& items);

class JsonObject {
public:
    // Text that should be valid UTF-8 (messages, endpoints); invalid bytes
    // fall back to the _b64 form, as add_bytes() does.
    JsonObject& add_text(std::string_view name, std::string_view text);
    // Arbitrary bytes: "name": "text" or "name_b64": "base64".
    JsonObject& add_bytes(std::string_view name, std::string_view bytes);
    JsonObject& add_uint(std::string_view name, std::uint64_t value);
    JsonObject& add_bool(std::string_view name, bool value);
    JsonObject& add_null(std::string_view name);
    // An already-encoded JSON value (an object or an array).
    JsonObject& add_json(std::string_view name, std::string_view json);

    // The object, "{...}", without a newline.
    std::string str() const { return "{" + body_ + "}"; }

private:
    void add_name(std::string_view name);

    std::string body_;  // "name":value pairs joined by commas
};

}  // namespace cabildo::client
