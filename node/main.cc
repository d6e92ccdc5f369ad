// cabildo-node: one member of a Cabildo cluster.
//
//   cabildo-node --id 1 --data-dir data/1 --member 1=127.0.0.1:7100
//       --member 2=127.0.0.1:7110 --member 3=127.0.0.1:7120      (one line)
//
// Options may also come from a file (--config node.toml, TOML or INI, same
// names). SIGINT/SIGTERM shut down cleanly. Exit status: 0 after a clean
// shutdown, 1 when storage or sockets cannot be opened (a damaged log says
// what to do), 2 for bad options, 3 when another process holds --data-dir.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>

#include "node/data_check.h"
#include "node/join.h"
#include "node/node.h"
#include "wire/metrics/log_format.h"

namespace {

std::atomic<bool> stop_requested{false};
std::atomic<bool> reload_acl{false};  // SIGHUP
std::atomic<int> fail_storage{0};  // --test-fault-injection: SIGUSR1 sets, SIGUSR2 clears

void on_signal(int) { stop_requested.store(true); }
void on_reload(int) { reload_acl.store(true); }
void on_fail_storage(int signal) { fail_storage.store(signal == SIGUSR1 ? 1 : 0); }

struct Modes {
    bool fault_injection = false;
    std::string boot_id;
    bool check = false;
    bool repair_log = false;
    bool storage_failing_at_start = false;
    std::uint64_t corrupt_snapshot_chunk = 0;
    std::string restore_from;
    std::string curve_key;
    std::string server_key;
    std::string acl;
};

void add_options(CLI::App& app, cabildo::node::NodeConfig& config,
                 std::vector<std::string>& members, Modes& modes) {
#ifdef CABILDO_FAULT_INJECTION
    app.add_flag("--test-fault-injection", modes.fault_injection,
                 "FOR TESTS: SIGUSR1 makes every storage commit fail (a broken disk), SIGUSR2 "
                 "heals it");
    app.add_option("--test-boot-id", modes.boot_id,
                   "FOR TESTS: pretend the system's boot id is this (a changed one acts out an "
                   "OS crash since the last run)");
    app.add_flag("--test-storage-failing", modes.storage_failing_at_start,
                 "FOR TESTS: with --test-fault-injection, start as if SIGUSR1 had been sent "
                 "(every storage commit fails until SIGUSR2)");
    app.add_option("--test-corrupt-snapshot-chunk", modes.corrupt_snapshot_chunk,
                   "FOR TESTS: with --test-fault-injection, damage the Nth snapshot chunk this "
                   "node sends (after its checksum was computed)");
#endif
    app.set_config("--config", "", "read options from a TOML/INI file");
    // A misspelt key in the file is an error, as on the command line, not a
    // setting silently left at its default.
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.add_option("--id", config.id, "this node's id (one of the members)");
    app.add_option("--data-dir", config.data_dir, "where this node keeps its log and state")
        ->required();
    app.add_option("--member", members,
                   "a member as id=host:port (repeat for each, this node included); its ports "
                   "are peer=port, client=port+1, pub=port+2, pull=port+3");
    app.add_option("--join", config.join,
                   "instead of --member: learn the membership from these members (host:port, "
                   "repeat or comma-separate); for a node added with `cabildo member add`, which "
                   "starts empty and catches up from the cluster")
        ->delimiter(',');
    app.add_option("--cluster-id", config.cluster_id,
                   "the cluster's name, recorded in raft.log; a node refuses another cluster's "
                   "log (default: derived from the --member list)");
    app.add_flag("--check", modes.check,
                 "inspect the data directory's raft.log and state marker, print what was found, "
                 "change nothing, exit (0: intact or only a torn last write, 1: damaged, 3: a node "
                 "is using the directory)");
    app.add_flag("--repair-log", modes.repair_log,
                 "KNOWINGLY cut raft.log at its first damaged record, losing every entry and "
                 "vote after it, then start (see README, 'Repairing a node')");
    app.add_option("--restore-from", modes.restore_from,
                   "start this node of a new cluster from a backup (`cabildo snapshot save`); "
                   "the data directory must be empty (README, 'Backups')");
    app.add_option("--tick-ms", config.tick_ms, "length of one Raft tick")->capture_default_str();
    app.add_option("--election-ticks", config.election_ticks,
                   "election timeout: randomized in [N, 2N) ticks")
        ->capture_default_str();
    app.add_option("--heartbeat-ticks", config.heartbeat_ticks, "leader heartbeat interval")
        ->capture_default_str();
    app.add_option("--request-timeout-ms", config.request_timeout_ms,
                   "answer timeout to a client request not done by then")
        ->capture_default_str();
    app.add_option("--map-mb", config.map_bytes_initial, "initial LMDB map size (grows)")
        ->transform([](std::string s) { return std::to_string(std::stoull(s) << 20); });
    app.add_option("--events-max", config.events_max,
                   "changes kept for watch_from; older ones answer `compacted`")
        ->capture_default_str();
    app.add_option("--events-bytes-max", config.events_bytes_max,
                   "bytes of changes kept for watch_from (the oldest go first; the newest "
                   "change is always kept)")
        ->capture_default_str();
    app.add_option("--sessions-max", config.sessions_max,
                   "client sessions remembered for exactly-once writes; past this the least "
                   "recently used is evicted and its next write answers `session_expired`")
        ->capture_default_str();
    app.add_option("--pending-requests-max", config.pending_requests_max,
                   "client requests held at once (queued, proposed, forwarded); past this new "
                   "ones answer `overloaded`")
        ->capture_default_str();
    app.add_option("--queue-items-max", config.queue_items_max,
                   "items a queue may hold (ready and in flight); past this queue_put answers "
                   "`queue_full` (give every node the same value)")
        ->capture_default_str();
    app.add_option("--queue-bytes-max", config.queue_bytes_max,
                   "bytes of item values a queue may hold; past this queue_put answers "
                   "`queue_full` (give every node the same value)")
        ->capture_default_str();
    app.add_option("--quota-bytes", config.quota_bytes,
                   "bytes of client data (keys, values, leases) the applied state may hold; at "
                   "or past it the leader refuses writes that can grow it with "
                   "`quota_exceeded`, while deletes still work (0: no quota; give every node "
                   "the same value)")
        ->capture_default_str();
    app.add_option("--snapshot-entries", config.snapshot_entries,
                   "take a snapshot once this many entries were applied since the last one, "
                   "and the log since then is a quarter of its size (then the log is "
                   "compacted; 0: never)")
        ->capture_default_str();
    app.add_option("--snapshot-trailing", config.snapshot_trailing,
                   "entries kept in the log after a snapshot, for slow followers")
        ->capture_default_str();
    app.add_option("--snapshot-rate-mb", config.snapshot_rate_mb,
                   "MB/s at most for writing a snapshot and for sending one to a follower, so "
                   "that the log's syncs on the same disk keep their latency (0: no limit)")
        ->capture_default_str();
    app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error")
        ->capture_default_str();
    app.add_option("--log-format", config.log_format,
                   "text, or json: one JSON object per line (time, level, node, msg) for log "
                   "shippers")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--metrics-listen", config.metrics_listen,
                   "serve HTTP on HOST:PORT: GET /metrics (Prometheus text), /health (200, or "
                   "503 with a JSON reason), /livez (off unless given)");
    app.add_option("--health-max-lag", config.health_max_lag,
                   "/health answers 503 when the applied index is more than this many entries "
                   "behind the commit index")
        ->capture_default_str();
    app.add_option("--slow-fsync-ms", config.slow_fsync_ms,
                   "a log sync slower than this is logged as a warning (at most once a second) "
                   "and counted (cabildo_slow_fsyncs_total)")
        ->capture_default_str();
    app.add_option("--curve-key", modes.curve_key,
                   "security on: this node's Curve key pair (`cabildo keygen`); every socket "
                   "is then CURVE and only keys in --acl get in (PROTOCOL.md section 12)");
    app.add_option("--server-key", modes.server_key,
                   "the key pair the client, PUB and PULL endpoints prove to clients, the same "
                   "file on every node (default: --curve-key)");
    app.add_option("--acl", modes.acl,
                   "with --curve-key: the ACL file (members' keys, identities and their rights); "
                   "read again on SIGHUP");
}

// --curve-key, --server-key and --acl as the node's SecurityConfig; the
// error says which file is wrong and how.
cabildo::Result<std::optional<cabildo::node::SecurityConfig>> load_security(
    const Modes& modes, cabildo::raft::NodeId id) {
    using cabildo::Error;
    using cabildo::Status;
    if (modes.curve_key.empty()) {
        if (!modes.server_key.empty() || !modes.acl.empty()) {
            return Error{Status::bad_request, "--server-key and --acl need --curve-key"};
        }
        return std::optional<cabildo::node::SecurityConfig>{};
    }
    if (!cabildo::wire::curve_available()) {
        return Error{Status::bad_request, "this libzmq was built without CURVE (libsodium)"};
    }
    if (modes.acl.empty()) {
        return Error{Status::bad_request, "--curve-key needs --acl: the ACL file lists who may "
                                          "connect (PROTOCOL.md section 12)"};
    }
    cabildo::node::SecurityConfig security;
    auto node_keys = cabildo::wire::read_key_file(modes.curve_key, true);
    if (!node_keys) return node_keys.error();
    security.node_keys = *node_keys;
    security.server_keys = security.node_keys;
    if (!modes.server_key.empty()) {
        auto server_keys = cabildo::wire::read_key_file(modes.server_key, true);
        if (!server_keys) return server_keys.error();
        security.server_keys = *server_keys;
    }
    auto acl = cabildo::wire::read_acl_file(modes.acl);
    if (!acl) return acl.error();
    auto own = acl->member_keys.find(id);
    if (own == acl->member_keys.end() || own->second != security.node_keys.public_key) {
        return Error{Status::bad_request,
                     "the ACL file " + modes.acl + " must list this node's public key (" +
                         security.node_keys.public_key + ", from " + modes.curve_key +
                         ") under members.\"" + std::to_string(id) + "\""};
    }
    security.acl_file = modes.acl;
    security.acl = std::move(*acl);
    return std::optional<cabildo::node::SecurityConfig>{std::move(security)};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cabildo-node: a member of a Cabildo cluster"};
    cabildo::node::NodeConfig config;
    std::vector<std::string> members;
    Modes modes;
    add_options(app, config, members, modes);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; any bad option (also one in --config's
        // file) is status 2, as the header says, not CLI11's own codes.
        const int printed = app.exit(e);
        return printed == 0 ? 0 : 2;
    }
    if (modes.check) return cabildo::node::check_data_dir(config.data_dir);
    for (const std::string& text : members) {
        auto member = cabildo::node::parse_member(text);
        if (!member) {
            std::fprintf(stderr, "cabildo-node: %s\n", member.error().detail.c_str());
            return 2;
        }
        config.members.push_back(*member);
    }
    if (!config.join.empty() && !config.members.empty()) {
        std::fprintf(stderr, "cabildo-node: give --member or --join, not both\n");
        return 2;
    }
    auto security = load_security(modes, config.id);
    if (!security) {
        std::fprintf(stderr, "cabildo-node: %s\n", security.error().detail.c_str());
        return 2;
    }
    config.security = std::move(*security);
    if (!config.join.empty()) {
        if (auto joined = cabildo::node::join_cluster(config, 2000); !joined) {
            std::fprintf(stderr, "cabildo-node: cannot join: %s\n", joined.error().detail.c_str());
            return 2;
        }
    }
    config.resolve_self();
    if (auto valid = cabildo::node::validate(config); !valid) {
        std::fprintf(stderr, "cabildo-node: %s\n", valid.error().detail.c_str());
        return 2;
    }
    cabildo::wire::set_up_logging("node " + std::to_string(config.id), config.log_level,
                                  config.log_format);
    cabildo::storage::Options options;
    options.map_bytes_initial = config.map_bytes_initial;
    options.events_max = config.events_max;
    options.events_bytes_max = config.events_bytes_max;
    options.sessions_max = config.sessions_max;
    options.boot_id = modes.boot_id;
    options.identity = {config.cluster_number(), config.id};
    options.recovery =
        modes.repair_log ? cabildo::storage::Recovery::repair : cabildo::storage::Recovery::normal;
    if (!modes.restore_from.empty()) {
        std::error_code ec;
        if (std::filesystem::exists(config.data_dir, ec) &&
            !std::filesystem::is_empty(config.data_dir, ec)) {
            std::fprintf(stderr,
                         "cabildo-node: --restore-from needs an empty --data-dir, and %s is not "
                         "empty; nothing was changed\n",
                         config.data_dir.c_str());
            return 2;
        }
    }
    auto storage = cabildo::storage::Storage::open(config.data_dir, options);
    if (!storage) {
        spdlog::critical("cannot open storage at {} ({}): {}", config.data_dir,
                         cabildo::status_name(storage.error().status), storage.error().detail);
        return storage.error().status == cabildo::Status::locked ? 3 : 1;
    }
    cabildo::node::log_recovery(**storage);
    auto uuid = cabildo::node::data_dir_uuid(config.data_dir);
    if (!uuid) {
        spdlog::critical("{}", uuid.error().detail);
        return 1;
    }
    config.uuid = *uuid;
    if (!modes.restore_from.empty()) {
        auto restored = (*storage)->restore_from(modes.restore_from, config.membership());
        if (!restored) {
            spdlog::critical("cannot restore from {} ({}): {}", modes.restore_from,
                             cabildo::status_name(restored.error().status),
                             restored.error().detail);
            return 1;
        }
        spdlog::info("restored from {}: applied index {}, {} keys", modes.restore_from,
                     (*storage)->applied_index(), (*storage)->key_count());
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_reload);
    if (modes.fault_injection) {
        config.test_corrupt_snapshot_chunk = modes.corrupt_snapshot_chunk;
        fail_storage.store(modes.storage_failing_at_start ? 1 : 0);
        std::signal(SIGUSR1, on_fail_storage);
        std::signal(SIGUSR2, on_fail_storage);
    }
    try {
        cabildo::node::Node node(config, std::move(*storage));
        return node.run(stop_requested, modes.fault_injection ? &fail_storage : nullptr,
                        &reload_acl);
    } catch (const zmq::error_t& e) {
        spdlog::critical("cannot start: {}", e.what());  // e.g. an endpoint already in use
        return 1;
    } catch (const std::runtime_error& e) {
        spdlog::critical("cannot start: {}", e.what());  // e.g. --metrics-listen's port in use
        return 1;
    }
}
