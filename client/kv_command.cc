// Leases, txns and the key-metadata forms of the key-value commands; see
// kv_command.h.
#include "client/kv_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <thread>

#include "client/json_writer.h"

namespace cabildo::client {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------- reading

Error bad(std::string detail) { return Error{Status::bad_request, std::move(detail)}; }

// name, or name + "_b64" (base64) as the output writes bytes.
std::optional<std::string> bytes_field(const json& object, const std::string& name) {
    if (object.contains(name)) {
        if (!object[name].is_string()) throw std::runtime_error(name + ": not a string");
        return object[name].get<std::string>();
    }
    if (object.contains(name + "_b64")) {
        std::optional<std::string> bytes = base64_decode(object[name + "_b64"].get<std::string>());
        if (!bytes) throw std::runtime_error(name + "_b64: not base64");
        return bytes;
    }
    return std::nullopt;
}

wire::Compare parse_compare(const json& c) {
    wire::Compare compare;
    compare.key = bytes_field(c, "key").value_or("");
    const std::string target = c.value("target", "");
    const std::string result = c.value("result", "eq");
    bool known = false;
    for (auto t : {wire::CompareTarget::value, wire::CompareTarget::version,
                   wire::CompareTarget::create_revision, wire::CompareTarget::mod_revision,
                   wire::CompareTarget::lease, wire::CompareTarget::exists}) {
        if (wire::target_name(t) == target) compare.target = t, known = true;
    }
    if (!known) throw std::runtime_error("compare target: unknown '" + target + "'");
    known = false;
    for (auto r : {wire::CompareResult::eq, wire::CompareResult::ne, wire::CompareResult::lt,
                   wire::CompareResult::gt}) {
        if (wire::result_name(r) == result) compare.result = r, known = true;
    }
    if (!known) throw std::runtime_error("compare result: unknown '" + result + "'");
    if (compare.target == wire::CompareTarget::value) {
        auto value = bytes_field(c, "value");
        if (!value) throw std::runtime_error("compare: `value` missing");
        compare.value = *value;
    } else if (compare.target == wire::CompareTarget::exists) {
        compare.number = c.at("exists").get<bool>() ? 1 : 0;
    } else {
        compare.number = c.at(target).get<std::uint64_t>();
    }
    return compare;
}

wire::TxnOp parse_op(const json& o) {
    wire::TxnOp op;
    const std::string name = o.value("op", "");
    bool known = false;
    for (auto k : {wire::Op::get, wire::Op::range, wire::Op::put, wire::Op::del}) {
        if (wire::op_name(k) == name) op.op = k, known = true;
    }
    if (!known) throw std::runtime_error("txn op: unknown '" + name + "' (get, range, put, delete)");
    const std::optional<std::string> key = bytes_field(o, "key");
    const std::optional<std::string> prefix = bytes_field(o, "prefix");
    if (op.op == wire::Op::range) {
        op.key = prefix.value_or("");
        op.limit = o.value("limit", wire::range_limit_default);
    } else if (op.op == wire::Op::del && prefix && !key) {
        op.key = *prefix;
        op.prefix = true;
    } else {
        if (!key) throw std::runtime_error("txn op " + name + ": `key` missing");
        op.key = *key;
    }
    if (op.op == wire::Op::put) {
        op.value = bytes_field(o, "value").value_or("");
        op.lease = o.value("lease", std::uint64_t{0});
        op.prev = o.value("prev", false);
    }
    return op;
}

// ---------------------------------------------------------------- printing

JsonObject meta_fields(JsonObject object, const wire::KeyMeta& meta) {
    object.add_uint("create_revision", meta.create_revision)
        .add_uint("mod_revision", meta.mod_revision)
        .add_uint("version", meta.version)
        .add_uint("lease", meta.lease);
    return object;
}

std::string kvs_json(const wire::RangePage& page) {
    std::vector<std::string> kvs;
    for (const wire::KeyValue& kv : page.kvs) {
        JsonObject object;
        object.add_bytes("key", kv.key).add_bytes("value", kv.value);
        kvs.push_back(meta_fields(std::move(object), kv.meta).str());
    }
    return json_array(kvs);
}

std::string prev_json(const std::optional<wire::PrevValue>& prev) {
    if (!prev) return "null";
    JsonObject object;
    object.add_bytes("value", prev->value);
    return meta_fields(std::move(object), prev->meta).str();
}

std::string lease_json(const wire::LeaseInfo& lease) {
    JsonObject object;
    object.add_uint("lease", lease.id).add_uint("ttl_ms", lease.ttl_ms).add_uint(
        "remaining_ms", lease.remaining_ms);
    if (lease.keys) {
        std::vector<std::string> keys;
        for (const std::string& key : *lease.keys) keys.push_back(JsonObject().add_bytes("key", key).str());
        object.add_json("keys", json_array(keys));
    }
    return object.str();
}

std::string response_json(const wire::TxnResponse& r) {
    JsonObject object;
    object.add_text("op", wire::op_name(r.op));
    if (r.value) {
        if (*r.value) {
            object.add_bytes("value", **r.value);
        } else {
            object.add_null("value");
        }
    }
    if (r.meta) object = meta_fields(std::move(object), *r.meta);
    if (r.range) object.add_json("kvs", kvs_json(*r.range)).add_bool("more", r.range->more);
    if (r.prev) object.add_json("prev", prev_json(*r.prev));
    if (r.deleted) object.add_uint("deleted", *r.deleted).add_bool("more", r.more);
    return object.str();
}

}  // namespace

std::string reply_json(const wire::ClientReply& reply) {
    JsonObject object;
    object.add_bool("ok", true).add_uint("revision", reply.revision);
    if (reply.succeeded) object.add_bool("succeeded", *reply.succeeded);
    if (reply.value) {
        object.add_bool("found", reply.value->has_value());
        if (*reply.value) {
            object.add_bytes("value", **reply.value);
        } else {
            object.add_null("value");
        }
    }
    if (reply.meta) object = meta_fields(std::move(object), *reply.meta);
    if (reply.prev) object.add_json("prev", prev_json(*reply.prev));
    if (reply.deleted) object.add_uint("deleted", *reply.deleted);
    if (reply.more && !reply.range) object.add_bool("more", *reply.more);
    if (reply.range) object.add_json("kvs", kvs_json(*reply.range)).add_bool("more", reply.range->more);
    if (reply.lease) object.add_json("lease", lease_json(*reply.lease));
    if (reply.leases) {
        std::vector<std::string> leases;
        for (const wire::LeaseInfo& lease : *reply.leases) leases.push_back(lease_json(lease));
        object.add_json("leases", json_array(leases));
    }
    if (reply.token) object.add_uint("token", *reply.token);
    if (reply.key) object.add_bytes("key", *reply.key);
    if (reply.item) object.add_uint("item", *reply.item);
    if (reply.receipt) object.add_uint("receipt", *reply.receipt);
    if (reply.queue_length) {
        object.add_uint("items", reply.queue_length->items)
            .add_uint("in_flight", reply.queue_length->in_flight)
            .add_uint("bytes", reply.queue_length->bytes);
    }
    if (reply.responses) {
        std::vector<std::string> responses;
        for (const wire::TxnResponse& r : *reply.responses) responses.push_back(response_json(r));
        object.add_json("responses", json_array(responses));
    }
    return object.str();
}

namespace {

void print_human(const CliOutput& output, const wire::ClientReply& reply) {
    std::FILE* out = output.out;
    if (reply.value && *reply.value) {
        std::fwrite((*reply.value)->data(), 1, (*reply.value)->size(), out);
        std::fputs("\n", out);
    }
    if (reply.meta) {
        fmt::print(out, "create_revision {} mod_revision {} version {} lease {}\n",
                   reply.meta->create_revision, reply.meta->mod_revision, reply.meta->version,
                   reply.meta->lease);
    }
    if (reply.lease) {
        fmt::print(out, "lease {} ttl_ms {} remaining_ms {}\n", reply.lease->id, reply.lease->ttl_ms,
                   reply.lease->remaining_ms);
        for (const std::string& key : reply.lease->keys.value_or(std::vector<std::string>{})) {
            std::fwrite(key.data(), 1, key.size(), out);
            std::fputs("\n", out);
        }
    }
    if (reply.leases) {
        for (const wire::LeaseInfo& l : *reply.leases) {
            fmt::print(out, "{}\tttl_ms {}\tremaining_ms {}\n", l.id, l.ttl_ms, l.remaining_ms);
        }
    }
    if (reply.prev) {
        fmt::print(out, "prev: {}\n", *reply.prev ? (*reply.prev)->value : std::string("(none)"));
    }
    if (reply.deleted) fmt::print(out, "DELETED {}{}\n", *reply.deleted, reply.more.value_or(false) ? " (more remain)" : "");
    if (reply.token) fmt::print(out, "token {}\n", *reply.token);
    if (reply.item) fmt::print(out, "item {}\n", *reply.item);
    if (reply.receipt) fmt::print(out, "receipt {}\n", *reply.receipt);
    if (reply.queue_length) {
        fmt::print(out, "items {} in_flight {} bytes {}\n", reply.queue_length->items,
                   reply.queue_length->in_flight, reply.queue_length->bytes);
    }
    if (reply.responses) {
        fmt::print(out, "{}\n", *reply.succeeded ? "SUCCEEDED" : "FAILED (failure branch)");
        for (const wire::TxnResponse& r : *reply.responses) fmt::print(out, "{}\n", response_json(r));
    } else if (reply.succeeded && !reply.deleted) {
        fmt::print(out, "{}\n", *reply.succeeded ? "SWAPPED" : "NOT SWAPPED");
    }
    fmt::print(out, "revision {}\n", reply.revision);
}

// ---------------------------------------------------------------- commands

struct LeaseArguments {
    std::uint64_t ttl_ms = 0;
    std::uint64_t id = 0;
    bool forever = false;
    bool keys = false;
    std::uint64_t from = 0;
    std::uint32_t limit = 1000;
};


std::atomic<bool> interrupted{false};

// Renews every third of the TTL until the lease is gone or Ctrl-C.
int keep_alive(Client& client, const CliOutput& output, std::uint64_t lease) {
    std::signal(SIGINT, [](int) { interrupted = true; });
    std::signal(SIGTERM, [](int) { interrupted = true; });
    while (!interrupted) {
        wire::ClientRequest request;
        request.op = wire::Op::lease_keepalive;
        request.lease = lease;
        auto reply = client.call(request);
        if (!reply) return report_error(output, reply.error());
        if (output.json) fmt::print(output.out, "{}\n", reply_json(*reply));
        else fmt::print(output.out, "lease {} renewed for {} ms\n", lease, reply->lease->ttl_ms);
        std::fflush(output.out);
        const auto pause = std::chrono::milliseconds(reply->lease->ttl_ms / 3);
        for (auto until = std::chrono::steady_clock::now() + pause;
             !interrupted && std::chrono::steady_clock::now() < until;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    return exit_ok;
}

}  // namespace

Result<wire::Txn> parse_txn_json(const std::string& text) {
    try {
        const json doc = json::parse(text);
        if (!doc.is_object()) return bad("txn: the JSON is not an object");
        wire::Txn txn;
        for (const json& c : doc.value("compare", json::array())) txn.compare.push_back(parse_compare(c));
        for (const json& o : doc.value("success", json::array())) txn.success.push_back(parse_op(o));
        for (const json& o : doc.value("failure", json::array())) txn.failure.push_back(parse_op(o));
        return txn;
    } catch (const std::exception& e) {
        return bad(std::string("txn: ") + e.what());
    }
}

int send_and_print(Client& client, const CliOutput& output, wire::ClientRequest request) {
    auto reply = client.call(std::move(request));
    if (!reply) return report_error(output, reply.error());
    if (output.json) {
        fmt::print(output.out, "{}\n", reply_json(*reply));
    } else {
        print_human(output, *reply);
    }
    const bool absent = reply->value && !*reply->value;
    const bool failed = reply->succeeded && !*reply->succeeded && !reply->deleted;
    return absent || failed ? exit_not_found : exit_ok;
}

CliRunner add_lease_command(CLI::App& app) {
    auto args = std::make_shared<LeaseArguments>();
    CLI::App* lease = app.add_subcommand("lease", "Grant, renew, revoke and list leases");
    CLI::App* grant = lease->add_subcommand("grant", "Grant a lease of TTL_MS milliseconds");
    grant->add_option("TTL_MS", args->ttl_ms, "Its time to live")->required()->check(
        CLI::Range(wire::lease_ttl_ms_min, wire::lease_ttl_ms_max));
    grant->add_option("--id", args->id, "Ask for this lease id (default: the cluster picks)");
    CLI::App* keepalive = lease->add_subcommand("keepalive", "Renew lease ID for its full TTL");
    keepalive->add_option("ID", args->id, "The lease")->required();
    keepalive->add_flag("--forever", args->forever,
                        "Renew every third of the TTL until the lease is gone or Ctrl-C");
    CLI::App* revoke = lease->add_subcommand("revoke", "End lease ID now, deleting its keys");
    revoke->add_option("ID", args->id, "The lease")->required();
    CLI::App* info = lease->add_subcommand("info", "Show lease ID's TTL and remaining time");
    info->add_option("ID", args->id, "The lease")->required();
    info->add_flag("--keys", args->keys, "List its keys too");
    CLI::App* list = lease->add_subcommand("list", "List the leases");
    list->add_option("--from", args->from, "Start at this lease id");
    list->add_option("--limit", args->limit, "At most this many")
        ->check(CLI::Range(std::uint32_t{1}, wire::lease_list_limit_max));
    lease->require_subcommand(1);
    return [args, lease](const CliCommon& common) {
        const std::string which = lease->get_subcommands().front()->get_name();
        Client client(options_for(common));
        const CliOutput output{stdout, stderr, common.json};
        wire::ClientRequest request;
        request.lease = args->id;
        if (which == "grant") {
            request.op = wire::Op::lease_grant;
            request.ttl_ms = args->ttl_ms;
        } else if (which == "keepalive") {
            if (args->forever) return keep_alive(client, output, args->id);
            request.op = wire::Op::lease_keepalive;
        } else if (which == "revoke") {
            request.op = wire::Op::lease_revoke;
        } else if (which == "info") {
            request.op = wire::Op::lease_info;
            request.keys = args->keys;
        } else {
            request.op = wire::Op::lease_list;
            request.from = args->from;
            request.limit = args->limit;
        }
        return send_and_print(client, output, std::move(request));
    };
}

CliRunner add_txn_command(CLI::App& app) {
    auto file = std::make_shared<std::string>("-");
    CLI::App* txn = app.add_subcommand(
        "txn", "Run a transaction described in JSON (see PROTOCOL.md, txn): compare, then "
               "success or failure");
    txn->add_option("FILE", *file, "The JSON file; - or none: standard input");
    return [file](const CliCommon& common) {
        const CliOutput output{stdout, stderr, common.json};
        std::string text;
        if (*file == "-") {
            text.assign(std::istreambuf_iterator<char>(std::cin), {});
        } else {
            std::ifstream in(*file);
            if (!in) return report_error(output, bad("txn: cannot read " + *file));
            text.assign(std::istreambuf_iterator<char>(in), {});
        }
        Result<wire::Txn> parsed = parse_txn_json(text);
        if (!parsed) return report_error(output, parsed.error());
        Client client(options_for(common));
        wire::ClientRequest request;
        request.op = wire::Op::txn;
        request.txn = std::move(*parsed);
        return send_and_print(client, output, std::move(request));
    };
}

}  // namespace cabildo::client
