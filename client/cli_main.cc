// `cabildo`: the command-line client of a Cabildo cluster.
//
//   cabildo [--endpoints E1,E2,..] [--json] [--timeout-ms N]
//           [--curve-key FILE --server-key FILE] <command>
//
// Commands: get, put, del, cas, range, status, watch, bench, snapshot,
// member, transfer-leader, lease, txn, lock, elect, queue, keygen, top. This file
// only parses the command line (CLI11) and dispatches to cli_commands.h,
// which prints and picks the exit code. Endpoints come from --endpoints,
// else the environment variable CABILDO_ENDPOINTS, else the default local
// cluster; the CURVE keys of a secured cluster from the flags, else
// CABILDO_CURVE_KEY and CABILDO_SERVER_KEY (cli_curve.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/cli_commands.h"
#include "client/cli_common.h"
#include "client/cli_curve.h"
#include "client/client.h"
#include "client/coord_command.h"
#include "client/kv_command.h"
#include "client/member_command.h"
#include "client/snapshot_command.h"
#include "client/bench/bench_command.h"
#include "client/keygen_command.h"
#include "client/top_command.h"
#include "client/watch_command.h"

namespace {

using cabildo::client::Client;
using cabildo::client::ClientOptions;
using cabildo::client::CliOutput;
using cabildo::wire::Consistency;

constexpr const char* exit_codes_footer =
    "Exit codes:\n"
    "  0  success\n"
    "  1  get: key not found; cas: not swapped (current value differs); a key file\n"
    "     (--curve-key, --server-key) that cannot be used; keygen: a file exists\n"
    "  2  usage error\n"
    "  3  cluster unavailable, no leader, or timeout (a write's outcome is unknown)\n"
    "  4  request rejected (bad_request, too_large, storage_full, other server error)\n"
    "\n"
    "Output: human mode prints a value raw (binary-safe) and then a newline; range prints\n"
    "KEY<TAB>VALUE lines. A value that starts with '-' goes after \"--\" (put k -- -5).\n"
    "With --json each command prints one JSON object; a key or value that is not valid UTF-8\n"
    "appears base64-encoded under the field name plus \"_b64\" (e.g. \"value_b64\").\n"
    "\n"
    "A secured cluster (PROTOCOL.md section 12) answers only CURVE clients whose key its ACL\n"
    "lists: give --curve-key (this client's .key) and --server-key (the cluster's .pub), or\n"
    "set CABILDO_CURVE_KEY and CABILDO_SERVER_KEY. Without them every request times out.\n";

// Everything the command line can say, filled in by CLI11.
struct Arguments {
    std::vector<std::string> endpoints;
    cabildo::client::CurveArguments curve;
    bool json = false;
    std::int64_t timeout_ms = 10000;
    std::string key;
    std::string value;
    std::string prefix;
    std::optional<std::string> expected;
    bool absent = false;
    bool serializable = false;
    std::uint32_t limit = cabildo::wire::range_limit_default;
    std::uint64_t lease = 0;    // put, cas: attach to this lease
    bool prev = false;          // put: print the previous value
    bool meta = false;          // get: print the key's metadata
    bool by_prefix = false;     // del: KEY is a prefix
    std::optional<std::uint64_t> mod_revision;  // cas: instead of --expected
};

void add_commands(CLI::App& app, Arguments& args) {
    CLI::App* get = app.add_subcommand("get", "Print the value of KEY");
    get->add_option("KEY", args.key, "The key")->required();
    get->add_flag("--serializable", args.serializable,
                  "Read from the node reached, possibly stale, without a leader round trip");
    get->add_flag("--meta", args.meta,
                  "Print create_revision, mod_revision, version and lease too");

    CLI::App* put = app.add_subcommand("put", "Set KEY to VALUE");
    put->add_option("KEY", args.key, "The key")->required();
    put->add_option("VALUE", args.value, "The new value")->required();
    put->add_option("--lease", args.lease, "Attach KEY to this lease (deleted when it ends)");
    put->add_flag("--prev", args.prev, "Print the previous value and metadata");

    CLI::App* del = app.add_subcommand("del", "Delete KEY");
    del->add_option("KEY", args.key, "The key")->required();
    del->add_flag("--prefix", args.by_prefix,
                  "Delete every key starting with KEY (at most 10,000 per call)");

    CLI::App* cas = app.add_subcommand(
        "cas", "Set KEY to NEW_VALUE only if it holds OLD now (or is absent, with --absent)");
    cas->add_option("KEY", args.key, "The key")->required();
    cas->add_option("NEW_VALUE", args.value, "The new value")->required();
    CLI::Option_group* expectation = cas->add_option_group("expectation");
    expectation->add_option("--expected", args.expected, "The value KEY must hold now");
    expectation->add_flag("--absent", args.absent, "KEY must not exist now");
    expectation->add_option("--mod-revision", args.mod_revision,
                            "KEY's mod_revision must be this now (0: absent)");
    expectation->require_option(1);
    cas->add_option("--lease", args.lease, "Attach KEY to this lease");

    CLI::App* range = app.add_subcommand("range", "Print KEY<TAB>VALUE for keys under PREFIX");
    range->add_option("PREFIX", args.prefix, "Key prefix; empty = every key")->required();
    range->add_option("--limit", args.limit, "At most this many pairs")
        ->check(CLI::Range(std::uint32_t{1}, cabildo::wire::range_limit_max));
    range->add_flag("--serializable", args.serializable,
                    "Read from the node reached, possibly stale, without a leader round trip");

    app.add_subcommand("status", "Show every node's role, term, indexes, lag and state hash");
    app.require_subcommand(1);
}

void add_global_options(CLI::App& app, Arguments& args) {
    app.add_option("--endpoints", args.endpoints,
                   "Client endpoints, comma-separated (default: $CABILDO_ENDPOINTS, else "
                   "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121)")
        ->delimiter(',')
        ->envname("CABILDO_ENDPOINTS");
    app.add_flag("--json", args.json, "Print one JSON object per command");
    app.add_option("--timeout-ms", args.timeout_ms,
                   "Give up after this many milliseconds (default 10000; status: how long to "
                   "wait for each node, asked all at once, default 1000; snapshot save: each "
                   "chunk's wait, at most 5000)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{24 * 3600 * 1000}));
    cabildo::client::add_curve_options(app, args.curve);
}

// One attempt gets at most the default request_timeout, and a short total
// still leaves time to try every endpoint once.
ClientOptions client_options(const Arguments& args, const cabildo::client::CliCommon& common) {
    ClientOptions options;
    options.endpoints = args.endpoints;
    options.curve = common.curve;
    options.total_timeout = std::chrono::milliseconds(args.timeout_ms);
    const std::size_t endpoint_count = options.endpoints.empty()
                                           ? cabildo::client::default_endpoints().size()
                                           : options.endpoints.size();
    const auto share = options.total_timeout / static_cast<std::int64_t>(endpoint_count);
    options.request_timeout =
        std::clamp(share, std::chrono::milliseconds{1}, options.request_timeout);
    return options;
}

// Subcommands that live in their own files register a runner.
struct Runners {
    cabildo::client::CliRunner watch;
    cabildo::client::CliRunner snapshot;
    cabildo::client::CliRunner bench;
    cabildo::client::CliRunner member;
    cabildo::client::CliRunner transfer_leader;
    cabildo::client::CliRunner lease;
    cabildo::client::CliRunner txn;
    cabildo::client::CliRunner lock;
    cabildo::client::CliRunner elect;
    cabildo::client::CliRunner queue;
    cabildo::client::CliRunner keygen;
    cabildo::client::CliRunner top;
};

// The metadata forms (--meta, --lease, --prev, --prefix, --mod-revision)
// go through the generic request path.
std::optional<cabildo::wire::ClientRequest> extended_request(const std::string& command,
                                                              const Arguments& args) {
    using cabildo::wire::Op;
    cabildo::wire::ClientRequest request;
    request.key = args.key;
    if (command == "get" && args.meta) {
        request.op = Op::get;
        request.consistency =
            args.serializable ? Consistency::serializable : Consistency::linearizable;
    } else if (command == "put" && (args.lease != 0 || args.prev)) {
        request.op = Op::put;
        request.value = args.value;
        request.lease = args.lease;
        request.prev = args.prev;
    } else if (command == "del" && args.by_prefix) {
        request.op = Op::del;
        request.key.clear();
        request.prefix = args.key;
        request.delete_prefix = true;
    } else if (command == "cas" && (args.mod_revision || args.lease != 0)) {
        request.op = Op::cas;
        request.value = args.value;
        request.lease = args.lease;
        request.mod_revision = args.mod_revision;
        if (!args.mod_revision) {
            request.expected = args.absent ? std::optional<std::string>() : args.expected;
        }
    } else {
        return std::nullopt;
    }
    return request;
}

int dispatch(const CLI::App& app, const Arguments& args, const Runners& runners) {
    const std::string command = app.get_subcommands().front()->get_name();
    cabildo::client::CliCommon common{args.endpoints, args.json,
                                      std::chrono::milliseconds(args.timeout_ms)};
    const CliOutput output{stdout, stderr, args.json};
    if (command == "keygen")
        return runners.keygen(common);  // talks to no node: needs no keys
    auto curve = cabildo::client::load_curve(args.curve);
    if (!curve)
        return report_key_file_error(output, curve.error());
    common.curve = std::move(*curve);
    if (command == "top")
        return runners.top(common);
    if (command == "watch")
        return runners.watch(common);
    if (command == "snapshot")
        return runners.snapshot(common);
    if (command == "bench")
        return runners.bench(common);
    if (command == "member")
        return runners.member(common);
    if (command == "transfer-leader")
        return runners.transfer_leader(common);
    if (command == "lease")
        return runners.lease(common);
    if (command == "txn")
        return runners.txn(common);
    if (command == "lock")
        return runners.lock(common);
    if (command == "elect")
        return runners.elect(common);
    if (command == "queue")
        return runners.queue(common);
    ClientOptions options = client_options(args, common);
    if (command == "status" && app.get_option("--timeout-ms")->count() > 0) {
        // Every node is asked at once: a given --timeout-ms is each one's
        // whole wait (without it, 1 s: a dead node costs one second).
        options.request_timeout = options.total_timeout;
    }
    Client client(options);
    const Consistency consistency =
        args.serializable ? Consistency::serializable : Consistency::linearizable;
    if (auto request = extended_request(command, args))
        return cabildo::client::send_and_print(client, output, std::move(*request));
    if (command == "get")
        return run_get(client, output, args.key, consistency);
    if (command == "put")
        return run_put(client, output, args.key, args.value);
    if (command == "del")
        return run_del(client, output, args.key);
    if (command == "cas")
        return run_cas(client, output, args.key, args.absent ? std::nullopt : args.expected,
                       args.value);
    if (command == "range")
        return run_range(client, output, args.prefix, args.limit, consistency);
    return run_status(client, output);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cabildo: command-line client of a Cabildo key-value cluster"};
    app.footer(exit_codes_footer);
    Arguments args;
    add_global_options(app, args);
    add_commands(app, args);
    Runners runners{cabildo::client::add_watch_command(app),
                    cabildo::client::add_snapshot_command(app),
                    cabildo::client::add_bench_command(app),
                    cabildo::client::add_member_command(app),
                    cabildo::client::add_transfer_leader_command(app),
                    cabildo::client::add_lease_command(app),
                    cabildo::client::add_txn_command(app),
                    cabildo::client::add_lock_command(app),
                    cabildo::client::add_elect_command(app),
                    cabildo::client::add_queue_command(app),
                    cabildo::client::add_keygen_command(app),
                    cabildo::client::add_top_command(app)};
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);  // prints help or the error
        return code == 0 ? cabildo::client::exit_ok : cabildo::client::exit_usage;
    }
    return dispatch(app, args, runners);
}
