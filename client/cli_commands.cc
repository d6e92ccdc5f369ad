// The key-value commands of the `cabildo` CLI (cli_commands.h); status is in
// cli_status.cc.
#include "client/cli_commands.h"

#include <fmt/format.h>

#include "client/json_writer.h"

namespace cabildo::client {

namespace {

void write_raw(std::FILE* file, std::string_view bytes) {
    std::fwrite(bytes.data(), 1, bytes.size(), file);
}

void print_json(const CliOutput& output, const JsonObject& object) {
    fmt::print(output.out, "{}\n", object.str());
}

JsonObject ok_object(std::uint64_t revision) {
    JsonObject object;
    object.add_bool("ok", true).add_uint("revision", revision);
    return object;
}

}  // namespace

ExitCode exit_code_for(Status status) {
    switch (status) {
        case Status::ok: return exit_ok;
        case Status::not_found: return exit_not_found;
        case Status::no_leader:
        case Status::unavailable:
        case Status::timeout: return exit_unavailable;
        default: return exit_rejected;
    }
}

ClientOptions options_for(const CliCommon& common) {
    ClientOptions options;
    options.endpoints = common.endpoints;
    options.total_timeout = common.timeout;
    options.curve = common.curve;
    return options;
}

int report_error(const CliOutput& output, const Error& error) {
    if (output.json) {
        JsonObject object;
        object.add_bool("ok", false)
            .add_text("error", status_name(error.status))
            .add_text("message", error.detail);
        print_json(output, object);
    } else {
        fmt::print(output.err, "cabildo: {}: {}\n", status_name(error.status), error.detail);
    }
    return exit_code_for(error.status);
}

int report_key_file_error(const CliOutput& output, const Error& error) {
    if (output.json) {
        report_error(output, error);
    } else {
        fmt::print(output.err, "cabildo: {}\n", error.detail);
    }
    return exit_key_file;
}

int run_get(Client& client, const CliOutput& output, std::string_view key,
            wire::Consistency consistency) {
    Result<GetResult> result = client.get(key, consistency);
    if (!result)
        return report_error(output, result.error());
    const std::optional<std::string>& value = result->value;
    if (output.json) {
        JsonObject object = ok_object(result->revision);
        object.add_bytes("key", key).add_bool("found", value.has_value());
        if (value) {
            object.add_bytes("value", *value);
        } else {
            object.add_null("value");
        }
        print_json(output, object);
    } else if (value) {
        write_raw(output.out, *value);
        write_raw(output.out, "\n");
    } else {
        fmt::print(output.err, "cabildo: key not found\n");
    }
    return value ? exit_ok : exit_not_found;
}

int run_put(Client& client, const CliOutput& output, std::string_view key, std::string_view value) {
    Result<WriteResult> result = client.put(key, value);
    if (!result)
        return report_error(output, result.error());
    if (output.json) {
        print_json(output, ok_object(result->revision));
    } else {
        fmt::print(output.out, "OK revision {}\n", result->revision);
    }
    return exit_ok;
}

int run_del(Client& client, const CliOutput& output, std::string_view key) {
    Result<DeleteResult> result = client.del(key);
    if (!result)
        return report_error(output, result.error());
    if (output.json) {
        JsonObject object = ok_object(result->revision);
        object.add_bool("deleted", result->deleted);
        print_json(output, object);
    } else {
        fmt::print(output.out, "{} revision {}\n", result->deleted ? "DELETED" : "NOT FOUND",
                   result->revision);
    }
    return exit_ok;
}

int run_cas(Client& client, const CliOutput& output, std::string_view key,
            std::optional<std::string> expected, std::string_view value) {
    Result<CasResult> result = client.cas(key, std::move(expected), value);
    if (!result)
        return report_error(output, result.error());
    if (output.json) {
        JsonObject object = ok_object(result->revision);
        object.add_bool("succeeded", result->succeeded);
        print_json(output, object);
    } else if (result->succeeded) {
        fmt::print(output.out, "SWAPPED revision {}\n", result->revision);
    } else {
        fmt::print(output.out, "NOT SWAPPED (current value differs) revision {}\n",
                   result->revision);
    }
    return result->succeeded ? exit_ok : exit_not_found;
}

int run_range(Client& client, const CliOutput& output, std::string_view prefix, std::uint32_t limit,
              wire::Consistency consistency) {
    Result<RangeResult> result = client.range(prefix, limit, consistency);
    if (!result)
        return report_error(output, result.error());
    if (output.json) {
        std::vector<std::string> kvs;
        for (const wire::KeyValue& kv : result->kvs) {
            kvs.push_back(JsonObject().add_bytes("key", kv.key).add_bytes("value", kv.value).str());
        }
        JsonObject object = ok_object(result->revision);
        object.add_bool("more", result->more).add_json("kvs", json_array(kvs));
        print_json(output, object);
        return exit_ok;
    }
    for (const wire::KeyValue& kv : result->kvs) {
        write_raw(output.out, kv.key);
        write_raw(output.out, "\t");
        write_raw(output.out, kv.value);
        write_raw(output.out, "\n");
    }
    if (result->more) {
        fmt::print(output.err,
                   "cabildo: more keys match (at most {} shown); narrow the prefix "
                   "or raise --limit\n",
                   limit);
    }
    return exit_ok;
}

}  // namespace cabildo::client
