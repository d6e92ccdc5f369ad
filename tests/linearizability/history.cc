// history: validation, the text format's parser and printer, and readable
// descriptions of operations. The format itself is documented in history.h.
#include "tests/linearizability/history.h"

#include <fmt/format.h>

#include <charconv>

namespace cabildo::lincheck {
namespace {

constexpr std::size_t fields_per_line = 9;
constexpr std::string_view absent_token = "-";
// Longer values are cut in descriptions; the text format never cuts.
constexpr std::size_t describe_bytes_max = 40;

using NullableBytes = std::optional<std::string>;

Error parse_error(std::string detail) {
    return Error{Status::bad_request, std::move(detail)};
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "x";
    for (const unsigned char byte : bytes) {
        out += digits[byte >> 4];
        out += digits[byte & 0xf];
    }
    return out;
}

std::string format_nullable(const NullableBytes& bytes) {
    return bytes ? to_hex(*bytes) : std::string(absent_token);
}

Result<NullableBytes> parse_nullable(std::string_view token, const char* field) {
    if (token == absent_token)
        return NullableBytes{};
    if (token.empty() || token[0] != 'x' || token.size() % 2 == 0) {
        return parse_error(fmt::format("{}: expected '-' or x followed by hex byte pairs, got '{}'",
                                       field, token));
    }
    std::string bytes;
    for (std::size_t i = 1; i < token.size(); i += 2) {
        const int high = hex_digit(token[i]);
        const int low = hex_digit(token[i + 1]);
        if (high < 0 || low < 0) {
            return parse_error(fmt::format("{}: bad hex in '{}'", field, token));
        }
        bytes += static_cast<char>(high * 16 + low);
    }
    return NullableBytes{std::move(bytes)};
}

template <typename Int>
Result<Int> parse_int(std::string_view token, const char* field) {
    Int out{};
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
    if (ec != std::errc{} || end != token.data() + token.size()) {
        return parse_error(fmt::format("{}: expected a decimal integer, got '{}'", field, token));
    }
    return out;
}

Result<Operation::Kind> parse_kind(std::string_view token) {
    for (const auto kind :
         {Operation::Kind::get, Operation::Kind::put, Operation::Kind::del, Operation::Kind::cas}) {
        if (token == kind_name(kind))
            return kind;
    }
    return parse_error(fmt::format("kind: expected get, put, del or cas, got '{}'", token));
}

Result<Operation::Outcome> parse_outcome(std::string_view token) {
    for (const auto outcome :
         {Operation::Outcome::ok, Operation::Outcome::failed, Operation::Outcome::unknown}) {
        if (token == outcome_name(outcome))
            return outcome;
    }
    return parse_error(fmt::format("outcome: expected ok, failed or unknown, got '{}'", token));
}

Result<std::optional<bool>> parse_succeeded(std::string_view token) {
    if (token == absent_token)
        return std::optional<bool>{};
    if (token == "0")
        return std::optional<bool>{false};
    if (token == "1")
        return std::optional<bool>{true};
    return parse_error(fmt::format("succeeded: expected 0, 1 or '-', got '{}'", token));
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start)
            fields.push_back(line.substr(start, i - start));
    }
    return fields;
}

// Unpacks a Result into `out`, or copies its error into `error`.
template <typename T>
bool take(Result<T> result, T& out, std::optional<Error>& error) {
    if (!result.ok()) {
        if (!error)
            error = result.error();
        return false;
    }
    out = std::move(result.value());
    return true;
}

Result<Operation> parse_operation(const std::vector<std::string_view>& f) {
    if (f.size() != fields_per_line) {
        return parse_error(fmt::format("expected {} fields, got {}", fields_per_line, f.size()));
    }
    Operation op;
    NullableBytes key;
    std::optional<Error> error;
    const bool parsed = take(parse_int<std::uint64_t>(f[0], "client"), op.client, error) &&
                        take(parse_kind(f[1]), op.kind, error) &&
                        take(parse_nullable(f[2], "key"), key, error) &&
                        take(parse_nullable(f[3], "value"), op.value, error) &&
                        take(parse_nullable(f[4], "expected"), op.expected, error) &&
                        take(parse_succeeded(f[5]), op.succeeded, error) &&
                        take(parse_outcome(f[6]), op.outcome, error) &&
                        take(parse_int<std::int64_t>(f[7], "call_ns"), op.call_ns, error);
    if (!parsed)
        return *error;
    if (!key)
        return parse_error("key: must be a string, not '-'");
    op.key = std::move(*key);
    op.return_ns = never_returned_ns;
    if (f[8] != absent_token &&
        !take(parse_int<std::int64_t>(f[8], "return_ns"), op.return_ns, error)) {
        return *error;
    }
    if (auto problem = validate_operation(op))
        return parse_error(std::move(*problem));
    return op;
}

std::optional<std::string> validate_fields(const Operation& op) {
    using Kind = Operation::Kind;
    const bool has_output = op.outcome == Operation::Outcome::ok;
    if ((op.kind == Kind::put || op.kind == Kind::cas) && !op.value) {
        return "value: a put or cas must carry the value it writes";
    }
    if ((op.kind == Kind::del || (op.kind == Kind::get && !has_output)) && op.value) {
        return op.kind == Kind::del ? "value: a del carries no value"
                                    : "value: a get that is not ok has no value read";
    }
    if (op.kind != Kind::cas && op.expected)
        return "expected: only a cas carries one";
    if ((op.kind == Kind::get || op.kind == Kind::put) && op.succeeded) {
        return "succeeded: only a cas or del carries one";
    }
    if (!has_output && op.succeeded)
        return "succeeded: an operation that is not ok has no output";
    return std::nullopt;
}

std::string describe_output(const Operation& op) {
    if (op.outcome != Operation::Outcome::ok)
        return "";
    if (op.kind == Operation::Kind::get)
        return " => " + describe_value(op.value);
    if (!op.succeeded)
        return op.kind == Operation::Kind::put ? "" : " => ?";
    if (op.kind == Operation::Kind::del)
        return *op.succeeded ? " => existed" : " => was absent";
    return *op.succeeded ? " => true" : " => false";
}

std::string describe_time(std::int64_t ns, std::int64_t origin_ns) {
    if (ns == never_returned_ns)
        return "never";
    return fmt::format("{:+.3f}ms", static_cast<double>(ns - origin_ns) / 1e6);
}

// An unknown op's recorded return is when the client gave up, not a bound.
std::string describe_interval(const Operation& op, std::int64_t origin_ns) {
    const bool gave_up =
        op.outcome == Operation::Outcome::unknown && op.return_ns != never_returned_ns;
    return fmt::format("[{}, {}{}]", describe_time(op.call_ns, origin_ns),
                       gave_up ? "gave up " : "", describe_time(op.return_ns, origin_ns));
}

}  // namespace

const char* kind_name(Operation::Kind kind) {
    switch (kind) {
        case Operation::Kind::get: return "get";
        case Operation::Kind::put: return "put";
        case Operation::Kind::del: return "del";
        case Operation::Kind::cas: return "cas";
    }
    return "?";
}

const char* outcome_name(Operation::Outcome outcome) {
    switch (outcome) {
        case Operation::Outcome::ok: return "ok";
        case Operation::Outcome::failed: return "failed";
        case Operation::Outcome::unknown: return "unknown";
    }
    return "?";
}

std::optional<std::string> validate_operation(const Operation& op) {
    if (auto problem = validate_fields(op))
        return problem;
    if (op.return_ns == never_returned_ns) {
        if (op.outcome != Operation::Outcome::unknown) {
            return "return_ns: only an unknown operation may never return";
        }
    } else if (op.return_ns < op.call_ns) {
        return fmt::format("return_ns: {} is before call_ns {}", op.return_ns, op.call_ns);
    }
    return std::nullopt;
}

Result<std::vector<Operation>> parse_history(std::string_view text) {
    std::vector<Operation> ops;
    std::size_t line_number = 0;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        ++line_number;
        const std::vector<std::string_view> fields = split_fields(line);
        if (fields.empty() || fields[0].front() == '#')
            continue;
        Result<Operation> op = parse_operation(fields);
        if (!op.ok()) {
            return parse_error(fmt::format("line {}: {}", line_number, op.error().detail));
        }
        ops.push_back(std::move(op.value()));
    }
    return ops;
}

std::string format_history(const std::vector<Operation>& ops) {
    std::string out = "# client kind key value expected succeeded outcome call_ns return_ns\n";
    for (const Operation& op : ops) {
        const char* succeeded = !op.succeeded ? "-" : *op.succeeded ? "1" : "0";
        const std::string return_ns =
            op.return_ns == never_returned_ns ? "-" : std::to_string(op.return_ns);
        out += fmt::format("{} {} {} {} {} {} {} {} {}\n", op.client, kind_name(op.kind),
                           to_hex(op.key), format_nullable(op.value), format_nullable(op.expected),
                           succeeded, outcome_name(op.outcome), op.call_ns, return_ns);
    }
    return out;
}

std::string describe_value(const std::optional<std::string>& value) {
    if (!value)
        return "absent";
    const std::string_view shown = std::string_view(*value).substr(0, describe_bytes_max);
    const std::string_view more = value->size() > describe_bytes_max ? "..." : "";
    for (const char c : shown) {
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            return fmt::format("{}{}", to_hex(shown), more);
        }
    }
    return fmt::format("\"{}\"{}", shown, more);
}

std::string describe_operation(const Operation& op, std::int64_t origin_ns) {
    std::string action;
    switch (op.kind) {
        case Operation::Kind::get: action = "get"; break;
        case Operation::Kind::put: action = "put " + describe_value(op.value); break;
        case Operation::Kind::del: action = "del"; break;
        case Operation::Kind::cas:
            action =
                fmt::format("cas {} -> {}", describe_value(op.expected), describe_value(op.value));
            break;
    }
    const std::string outcome =
        op.outcome == Operation::Outcome::ok ? "" : fmt::format(" {}", outcome_name(op.outcome));
    return fmt::format("client {}: {}{}  {}{}", op.client, action, describe_output(op),
                       describe_interval(op, origin_ns), outcome);
}

}  // namespace cabildo::lincheck
