// Test helper: builds msgpack bytes by hand, independently of msgpack-c.
//
// Tests use it to write inputs a foreign client could send (STR where we
// write BIN, wrong types, odd integer widths) without including
// <msgpack.hpp> outside wire/. It covers the formats the tests need and makes
// no attempt at being a general encoder.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cabildo::wire::test {

inline std::string be_bytes(std::uint64_t value, int bytes) {
    std::string out;
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
    return out;
}

inline std::string mp_nil() {
    return std::string(1, '\xc0');
}
inline std::string mp_bool(bool value) {
    return std::string(1, value ? '\xc3' : '\xc2');
}

inline std::string mp_uint(std::uint64_t value) {
    if (value < 0x80)
        return std::string(1, static_cast<char>(value));
    if (value <= 0xff)
        return "\xcc" + be_bytes(value, 1);
    if (value <= 0xffff)
        return "\xcd" + be_bytes(value, 2);
    if (value <= 0xffffffff)
        return "\xce" + be_bytes(value, 4);
    return "\xcf" + be_bytes(value, 8);
}

// uint 64 even for small values: a valid, non-minimal encoding.
inline std::string mp_uint64_wide(std::uint64_t value) {
    return "\xcf" + be_bytes(value, 8);
}

inline std::string mp_negative(std::int8_t value) {  // -32..-1 as a negative fixint
    return std::string(1, static_cast<char>(value));
}

inline std::string mp_float64(double value) {
    return "\xcb" + be_bytes(std::bit_cast<std::uint64_t>(value), 8);
}

inline std::string mp_str(std::string_view text) {
    std::string header;
    if (text.size() < 32) {
        header = std::string(1, static_cast<char>(0xa0 | text.size()));
    } else if (text.size() <= 0xff) {
        header = "\xd9" + be_bytes(text.size(), 1);
    } else if (text.size() <= 0xffff) {
        header = "\xda" + be_bytes(text.size(), 2);
    } else {
        header = "\xdb" + be_bytes(text.size(), 4);
    }
    return header + std::string(text);
}

inline std::string mp_bin(std::string_view bytes) {
    std::string header;
    if (bytes.size() <= 0xff) {
        header = "\xc4" + be_bytes(bytes.size(), 1);
    } else if (bytes.size() <= 0xffff) {
        header = "\xc5" + be_bytes(bytes.size(), 2);
    } else {
        header = "\xc6" + be_bytes(bytes.size(), 4);
    }
    return header + std::string(bytes);
}

inline std::string mp_array_header(std::size_t size) {
    if (size < 16)
        return std::string(1, static_cast<char>(0x90 | size));
    if (size <= 0xffff)
        return "\xdc" + be_bytes(size, 2);
    return "\xdd" + be_bytes(size, 4);
}

inline std::string mp_map_header(std::size_t size) {
    if (size < 16)
        return std::string(1, static_cast<char>(0x80 | size));
    if (size <= 0xffff)
        return "\xde" + be_bytes(size, 2);
    return "\xdf" + be_bytes(size, 4);
}

// elements are encoded objects.
inline std::string mp_array(const std::vector<std::string>& elements) {
    std::string out = mp_array_header(elements.size());
    for (const std::string& element : elements) out += element;
    return out;
}

// A map with STR keys; values are encoded objects.
inline std::string mp_map(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out = mp_map_header(fields.size());
    for (const auto& [key, value] : fields) out += mp_str(key) + value;
    return out;
}

// Lowercase hex, as Python's bytes.hex().
inline std::string to_hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

inline std::string from_hex(std::string_view hex) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
    }
    return out;
}

}  // namespace cabildo::wire::test
