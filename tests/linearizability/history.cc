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

std::string format_compares(const std::vector<TxnCompare>& compares) {
    if (compares.empty())
        return std::string(absent_token);
    std::string out;
    for (const TxnCompare& c : compares) {
        out +=
            fmt::format("{}{}={}", out.empty() ? "" : ",", to_hex(c.key), format_nullable(c.value));
    }
    return out;
}

std::string format_txn_ops(const std::vector<TxnOp>& ops) {
    if (ops.empty())
        return std::string(absent_token);
    std::string out;
    for (const TxnOp& t : ops) {
        if (!out.empty())
            out += ',';
        switch (t.kind) {
            case TxnOp::Kind::put:
                out += "put:" + to_hex(t.key) + ":" + format_nullable(t.value);
                break;
            case TxnOp::Kind::get:
                out +=
                    "get:" + to_hex(t.key) + ":" + (t.read_known ? format_nullable(t.value) : "?");
                break;
            case TxnOp::Kind::del:
                out += "del:" + to_hex(t.key) + ":" + (!t.existed ? "?" : *t.existed ? "1" : "0");
                break;
        }
    }
    return out;
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
    for (const auto kind : {Operation::Kind::get, Operation::Kind::put, Operation::Kind::del,
                            Operation::Kind::cas, Operation::Kind::delp, Operation::Kind::txn}) {
        if (token == kind_name(kind))
            return kind;
    }
    return parse_error(
        fmt::format("kind: expected get, put, del, cas, delp or txn, got '{}'", token));
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

Result<std::optional<std::uint64_t>> parse_deleted(std::string_view token) {
    if (token == absent_token)
        return std::optional<std::uint64_t>{};
    Result<std::uint64_t> count = parse_int<std::uint64_t>(token, "succeeded (delp: deleted)");
    if (!count.ok())
        return count.error();
    return std::optional<std::uint64_t>{*count};
}

// Splits a txn list field on `separator`; '-' is the empty list.
std::vector<std::string_view> split_list(std::string_view field, char separator) {
    std::vector<std::string_view> items;
    if (field == absent_token)
        return items;
    while (true) {
        const std::size_t end = field.find(separator);
        items.push_back(field.substr(0, end));
        if (end == std::string_view::npos)
            return items;
        field = field.substr(end + 1);
    }
}

Result<std::string> parse_key(std::string_view token, const char* field) {
    Result<NullableBytes> key = parse_nullable(token, field);
    if (!key.ok())
        return key.error();
    if (!*key)
        return parse_error(fmt::format("{}: a key must be a string, not '-'", field));
    return std::move(**key);
}

Result<std::vector<TxnCompare>> parse_compares(std::string_view field) {
    std::vector<TxnCompare> compares;
    for (const std::string_view item : split_list(field, ',')) {
        const std::size_t equals = item.find('=');
        if (equals == std::string_view::npos) {
            return parse_error(fmt::format("compares: expected KEY=VALUE, got '{}'", item));
        }
        TxnCompare compare;
        std::optional<Error> error;
        if (!take(parse_key(item.substr(0, equals), "compares"), compare.key, error) ||
            !take(parse_nullable(item.substr(equals + 1), "compares"), compare.value, error)) {
            return *error;
        }
        compares.push_back(std::move(compare));
    }
    return compares;
}

Result<TxnOp> parse_txn_op(std::string_view item, const char* field) {
    const std::vector<std::string_view> parts = split_list(item, ':');
    if (parts.size() != 3) {
        return parse_error(fmt::format(
            "{}: expected put:KEY:VALUE, get:KEY:READ or del:KEY:EXISTED, got '{}'", field, item));
    }
    TxnOp op;
    std::optional<Error> error;
    if (!take(parse_key(parts[1], field), op.key, error))
        return *error;
    const std::string_view out = parts[2];
    if (parts[0] == "put") {
        op.kind = TxnOp::Kind::put;
        if (!take(parse_nullable(out, field), op.value, error))
            return *error;
        if (!op.value)
            return parse_error(fmt::format("{}: a put must carry the value it writes", field));
    } else if (parts[0] == "get") {
        op.kind = TxnOp::Kind::get;
        op.read_known = out != "?";
        if (op.read_known && !take(parse_nullable(out, field), op.value, error))
            return *error;
    } else if (parts[0] == "del") {
        op.kind = TxnOp::Kind::del;
        if (out == "1" || out == "0") {
            op.existed = out == "1";
        } else if (out != "?") {
            return parse_error(
                fmt::format("{}: a del's output is 1, 0 or '?', got '{}'", field, out));
        }
    } else {
        return parse_error(
            fmt::format("{}: expected an operation put, get or del, got '{}'", field, parts[0]));
    }
    return op;
}

Result<std::vector<TxnOp>> parse_txn_ops(std::string_view field, const char* name) {
    std::vector<TxnOp> ops;
    for (const std::string_view item : split_list(field, ',')) {
        Result<TxnOp> op = parse_txn_op(item, name);
        if (!op.ok())
            return op.error();
        ops.push_back(std::move(op.value()));
    }
    return ops;
}

Result<Operation> parse_operation(const std::vector<std::string_view>& f) {
    if (f.size() != fields_per_line) {
        return parse_error(fmt::format("expected {} fields, got {}", fields_per_line, f.size()));
    }
    Operation op;
    std::optional<Error> error;
    if (!take(parse_int<std::uint64_t>(f[0], "client"), op.client, error) ||
        !take(parse_kind(f[1]), op.kind, error)) {
        return *error;
    }
    bool parsed = false;
    if (op.kind == Operation::Kind::txn) {
        parsed = take(parse_compares(f[2]), op.compares, error) &&
                 take(parse_txn_ops(f[3], "success"), op.success, error) &&
                 take(parse_txn_ops(f[4], "failure"), op.failure, error) &&
                 take(parse_succeeded(f[5]), op.succeeded, error);
    } else {
        NullableBytes key;
        parsed =
            take(parse_nullable(f[2], "key"), key, error) &&
            take(parse_nullable(f[3], "value"), op.value, error) &&
            take(parse_nullable(f[4], "expected"), op.expected, error) &&
            (op.kind == Operation::Kind::delp ? take(parse_deleted(f[5]), op.deleted, error)
                                              : take(parse_succeeded(f[5]), op.succeeded, error));
        if (parsed && !key)
            return parse_error("key: must be a string, not '-'");
        if (parsed)
            op.key = std::move(*key);
    }
    parsed = parsed && take(parse_outcome(f[6]), op.outcome, error) &&
             take(parse_int<std::int64_t>(f[7], "call_ns"), op.call_ns, error);
    if (!parsed)
        return *error;
    op.return_ns = never_returned_ns;
    if (f[8] != absent_token &&
        !take(parse_int<std::int64_t>(f[8], "return_ns"), op.return_ns, error)) {
        return *error;
    }
    if (auto problem = validate_operation(op))
        return parse_error(std::move(*problem));
    return op;
}

// A txn: the outputs of its branches (only the branch that ran has any),
// at least one key, nothing in the single-key fields.
std::optional<std::string> validate_txn(const Operation& op) {
    if (!op.key.empty() || op.value || op.expected || op.deleted)
        return "txn: its keys and values are in its compares and branches only";
    if (op.compares.empty() && op.success.empty() && op.failure.empty())
        return "txn: must name at least one key";
    const bool known = op.outcome == Operation::Outcome::ok && op.succeeded;
    for (const bool success_branch : {true, false}) {
        const bool ran = known && *op.succeeded == success_branch;
        for (const TxnOp& t : success_branch ? op.success : op.failure) {
            if (t.kind == TxnOp::Kind::put && (!t.value || t.read_known || t.existed))
                return "txn: a put carries the value it writes and nothing else";
            if (t.kind == TxnOp::Kind::get && (t.existed || (t.value && !t.read_known)))
                return "txn: a get carries only the value read";
            if (t.kind == TxnOp::Kind::del && (t.value || t.read_known))
                return "txn: a del carries only whether the key existed";
            if (!ran && (t.read_known || t.existed)) {
                return fmt::format(
                    "txn: an operation of the {} branch has an output, but that "
                    "branch is not known to have run",
                    success_branch ? "success" : "failure");
            }
        }
    }
    if (op.outcome != Operation::Outcome::ok && op.succeeded)
        return "succeeded: an operation that is not ok has no output";
    return std::nullopt;
}

std::optional<std::string> validate_fields(const Operation& op) {
    using Kind = Operation::Kind;
    if (op.kind == Kind::txn)
        return validate_txn(op);
    if (!op.compares.empty() || !op.success.empty() || !op.failure.empty())
        return "compares, success, failure: only a txn carries them";
    const bool has_output = op.outcome == Operation::Outcome::ok;
    if ((op.kind == Kind::put || op.kind == Kind::cas) && !op.value) {
        return "value: a put or cas must carry the value it writes";
    }
    if ((op.kind == Kind::del || op.kind == Kind::delp) && op.value)
        return fmt::format("value: a {} carries no value", kind_name(op.kind));
    if (op.kind == Kind::get && !has_output && op.value)
        return "value: a get that is not ok has no value read";
    if (op.kind != Kind::cas && op.expected)
        return "expected: only a cas carries one";
    if ((op.kind == Kind::get || op.kind == Kind::put || op.kind == Kind::delp) && op.succeeded) {
        return "succeeded: only a cas, del or txn carries one";
    }
    if (op.kind != Kind::delp && op.deleted)
        return "deleted: only a delp carries one";
    if (!has_output && (op.succeeded || op.deleted))
        return "succeeded: an operation that is not ok has no output";
    return std::nullopt;
}

std::string describe_txn_op(const TxnOp& t) {
    const std::string key = describe_value(t.key);
    switch (t.kind) {
        case TxnOp::Kind::put: return fmt::format("put {} {}", key, describe_value(t.value));
        case TxnOp::Kind::get:
            return t.read_known ? fmt::format("get {} => {}", key, describe_value(t.value))
                                : "get " + key;
        case TxnOp::Kind::del:
            if (!t.existed)
                return "del " + key;
            return fmt::format("del {} => {}", key, *t.existed ? "existed" : "was absent");
    }
    return "?";
}

std::string describe_txn(const Operation& op) {
    std::string out = "txn";
    for (std::size_t i = 0; i < op.compares.size(); ++i) {
        out +=
            fmt::format("{} {} = {}", i == 0 ? " if" : " and", describe_value(op.compares[i].key),
                        describe_value(op.compares[i].value));
    }
    for (const bool success_branch : {true, false}) {
        const std::vector<TxnOp>& branch = success_branch ? op.success : op.failure;
        out += success_branch ? " then" : " else";
        if (branch.empty())
            out += " nothing";
        for (std::size_t i = 0; i < branch.size(); ++i) {
            out += (i == 0 ? " " : ", ") + describe_txn_op(branch[i]);
        }
    }
    return out;
}

std::string describe_output(const Operation& op) {
    if (op.outcome != Operation::Outcome::ok)
        return "";
    if (op.kind == Operation::Kind::get)
        return " => " + describe_value(op.value);
    if (op.kind == Operation::Kind::delp)
        return op.deleted ? fmt::format(" => deleted {}", *op.deleted) : " => ?";
    if (op.kind == Operation::Kind::txn && op.succeeded)
        return *op.succeeded ? " => succeeded" : " => failed compare";
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
        case Operation::Kind::delp: return "delp";
        case Operation::Kind::txn: return "txn";
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
        const std::string return_ns =
            op.return_ns == never_returned_ns ? "-" : std::to_string(op.return_ns);
        std::string succeeded = !op.succeeded ? "-" : *op.succeeded ? "1" : "0";
        std::string key = to_hex(op.key);
        std::string value = format_nullable(op.value);
        std::string expected = format_nullable(op.expected);
        if (op.kind == Operation::Kind::delp)
            succeeded = op.deleted ? std::to_string(*op.deleted) : "-";
        if (op.kind == Operation::Kind::txn) {
            key = format_compares(op.compares);
            value = format_txn_ops(op.success);
            expected = format_txn_ops(op.failure);
        }
        out +=
            fmt::format("{} {} {} {} {} {} {} {} {}\n", op.client, kind_name(op.kind), key, value,
                        expected, succeeded, outcome_name(op.outcome), op.call_ns, return_ns);
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

std::string describe_operation(const Operation& op, std::int64_t origin_ns, bool show_key) {
    const std::string key = show_key ? " " + describe_value(op.key) : "";
    std::string action;
    switch (op.kind) {
        case Operation::Kind::get: action = "get" + key; break;
        case Operation::Kind::put: action = "put" + key + " " + describe_value(op.value); break;
        case Operation::Kind::del: action = "del" + key; break;
        case Operation::Kind::cas:
            action = fmt::format("cas{} {} -> {}", key, describe_value(op.expected),
                                 describe_value(op.value));
            break;
        case Operation::Kind::delp: action = "delp " + describe_value(op.key); break;
        case Operation::Kind::txn: action = describe_txn(op); break;
    }
    const std::string outcome =
        op.outcome == Operation::Outcome::ok ? "" : fmt::format(" {}", outcome_name(op.outcome));
    return fmt::format("client {}: {}{}  {}{}", op.client, action, describe_output(op),
                       describe_interval(op, origin_ns), outcome);
}

}  // namespace cabildo::lincheck
