// Shared by the fuzz targets in tests/fuzz/: the properties every wire/
// decoder must keep, checked with CABILDO_ASSERT so that libFuzzer records a
// violation as a crash (SIGABRT) and keeps the input.
//
// Not a test framework: a failed check prints what differed and aborts. A
// decoder that throws needs no check here: the exception escapes
// LLVMFuzzerTestOneInput, which libFuzzer reports as a crash ("deadly
// signal" after std::terminate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "node/raft/assert.h"
#include "node/raft/result.h"

namespace cabildo::fuzz {

inline std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

inline std::string_view as_bytes(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Decoders reject bad input with one of these two, never another status.
template <typename T>
void check_error_status(const Result<T>& result, const char* what) {
    if (result.ok())
        return;
    const Status status = result.error().status;
    if (status != Status::bad_request && status != Status::too_large) {
        std::fprintf(stderr, "%s: unexpected error status %s: %s\n", what, status_name(status),
                     result.error().detail.c_str());
        CABILDO_ASSERT(false, "decoder returned a status other than bad_request/too_large");
    }
}

// Collects the names of fields that differ between two decoded values.
class Diff {
public:
    template <typename F>
    void field(const char* name, const F& a, const F& b) {
        if (!(a == b)) {
            if (!names_.empty())
                names_ += ", ";
            names_ += name;
        }
    }
    bool empty() const { return names_.empty(); }
    const std::string& names() const { return names_; }

private:
    std::string names_;
};

// The round-trip property: `first` was decoded from `input`; its encoding
// `again` must decode, to a value equal to `first`. diff(first, second)
// names the fields that differ (for the report).
template <typename T, typename Decode, typename DiffFn>
void check_round_trip(const char* what, std::string_view input, const T& first,
                      const std::string& again, Decode decode, DiffFn diff) {
    const Result<T> second = decode(again.data(), again.size());
    if (!second.ok()) {
        std::fprintf(stderr, "%s: re-encoding of an accepted input was rejected: %s\n", what,
                     second.error().detail.c_str());
        std::fprintf(stderr, "  input:      %s\n  re-encoded: %s\n", to_hex(input).c_str(),
                     to_hex(again).c_str());
        CABILDO_ASSERT(false, "round trip: re-encoded value rejected");
    }
    if (!(*second == first)) {
        Diff d;
        diff(d, first, *second);
        std::fprintf(stderr, "%s: decode(encode(decode(x))) != decode(x); fields: %s\n", what,
                     d.names().c_str());
        std::fprintf(stderr, "  input:      %s\n  re-encoded: %s\n", to_hex(input).c_str(),
                     to_hex(again).c_str());
        CABILDO_ASSERT(false, "round trip: value changed");
    }
}

}  // namespace cabildo::fuzz
