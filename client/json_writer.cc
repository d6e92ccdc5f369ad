// JSON output helpers: UTF-8 validation, base64 and escaping (json_writer.h).
#include "client/json_writer.h"

#include <fmt/format.h>

#include <algorithm>

namespace cabildo::client {

namespace {

// The length of the UTF-8 sequence starting at bytes[i], or 0 if it is not a
// valid one. Ranges per RFC 3629 §4.
std::size_t utf8_sequence_length(std::string_view bytes, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80)
        return 1;
    std::size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        second_min = lead == 0xE0 ? 0xA0 : 0x80;  // no overlongs
        second_max = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        second_min = lead == 0xF0 ? 0x90 : 0x80;  // no overlongs
        second_max = lead == 0xF4 ? 0x8F : 0xBF;  // at most U+10FFFF
    } else {
        return 0;
    }
    if (i + length > bytes.size())
        return 0;
    if (byte(i + 1) < second_min || byte(i + 1) > second_max)
        return 0;
    for (std::size_t k = 2; k < length; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
            return 0;
    }
    return length;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
    std::size_t i = 0;
    while (i < bytes.size()) {
        const std::size_t length = utf8_sequence_length(bytes, i);
        if (length == 0)
            return false;
        i += length;
    }
    return true;
}

namespace {
constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    int bits = 0;
    std::uint32_t buffer = 0;
    for (char c : text) {
        if (c == '=') break;
        const std::size_t at = base64_alphabet.find(c);
        if (at == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 6) | static_cast<std::uint32_t>(at);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    constexpr std::string_view alphabet = base64_alphabet;
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 3; ++k) {
            const std::uint32_t b = k < n ? static_cast<unsigned char>(bytes[i + k]) : 0;
            group = (group << 8) | b;
        }
        for (std::size_t k = 0; k < 4; ++k) {
            out += k <= n ? alphabet[(group >> (18 - 6 * k)) & 0x3F] : '=';
        }
    }
    return out;
}

std::string json_quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

std::string json_array(const std::vector<std::string>& items) {
    return fmt::format("[{}]", fmt::join(items, ","));
}

void JsonObject::add_name(std::string_view name) {
    if (!body_.empty())
        body_ += ',';
    body_ += json_quote(name);
    body_ += ':';
}

JsonObject& JsonObject::add_text(std::string_view name, std::string_view text) {
    return add_bytes(name, text);
}

JsonObject& JsonObject::add_bytes(std::string_view name, std::string_view bytes) {
    if (is_valid_utf8(bytes)) {
        add_name(name);
        body_ += json_quote(bytes);
    } else {
        add_name(fmt::format("{}_b64", name));
        body_ += json_quote(base64_encode(bytes));
    }
    return *this;
}

JsonObject& JsonObject::add_uint(std::string_view name, std::uint64_t value) {
    add_name(name);
    body_ += std::to_string(value);
    return *this;
}

JsonObject& JsonObject::add_bool(std::string_view name, bool value) {
    add_name(name);
    body_ += value ? "true" : "false";
    return *this;
}

JsonObject& JsonObject::add_null(std::string_view name) {
    add_name(name);
    body_ += "null";
    return *this;
}

JsonObject& JsonObject::add_json(std::string_view name, std::string_view json) {
    add_name(name);
    body_ += json;
    return *this;
}

}  // namespace cabildo::client
