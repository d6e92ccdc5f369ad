// The `cabildo` CLI's commands, apart from argument parsing (cli_main.cc):
// each run_* function calls the Client once, prints the outcome in human or
// JSON form and returns the process exit code.
//
// Output rules. Human mode: values are written raw (binary-safe, then a
// newline); errors go to stderr as "cabildo: <status>: <detail>". JSON mode:
// exactly one JSON object on stdout per command, errors included
// ({"ok":false,"error":"<status>","message":"..."}); keys and values use the
// "_b64" fallback of json_writer.h. These functions take the streams as
// parameters so tests can capture them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/cli_common.h"
#include "client/client.h"

namespace cabildo::client {

// The documented exit codes of `cabildo`.
enum ExitCode : int {
    exit_ok = 0,
    exit_not_found = 1,    // get: key absent; cas: not swapped
    exit_usage = 2,        // bad command line
    exit_unavailable = 3,  // no_leader, unavailable, timeout: cluster not reachable in time
    exit_rejected = 4,     // bad_request, too_large, storage_full, any other error
    exit_lease_lost = 5,   // lock, elect: the lease could not be kept alive
    // 1, as not found: a key file that cannot be used (--curve-key,
    // --server-key), or keygen refused to overwrite a file.
    exit_key_file = 1,
};

ExitCode exit_code_for(Status status);

struct CliOutput {
    std::FILE* out = stdout;
    std::FILE* err = stderr;
    bool json = false;
};

int run_get(Client& client, const CliOutput& output, std::string_view key,
            wire::Consistency consistency);
int run_put(Client& client, const CliOutput& output, std::string_view key, std::string_view value);
int run_del(Client& client, const CliOutput& output, std::string_view key);
// expected = nullopt: the key must be absent (--absent).
int run_cas(Client& client, const CliOutput& output, std::string_view key,
            std::optional<std::string> expected, std::string_view value);
int run_range(Client& client, const CliOutput& output, std::string_view prefix, std::uint32_t limit,
              wire::Consistency consistency);
// Asks every endpoint; exit_ok if at least one node answered.
int run_status(Client& client, const CliOutput& output);

using ClusterStatus = std::vector<std::pair<std::string, Result<wire::NodeStatus>>>;
// The human table: one row per node (endpoint, id, role, term, leader id,
// commit, applied, last index, lag, state hash); lag = the highest commit
// index any node reported minus this node's applied index.
std::string format_status_table(const ClusterStatus& statuses);
std::string format_status_json(const ClusterStatus& statuses);

// The global options' endpoints, total timeout and curve keys, for
// subcommands in their own files.
ClientOptions options_for(const CliCommon& common);

// Prints an error in the current mode and returns its exit code.
int report_error(const CliOutput& output, const Error& error);
// A problem before any request (a key file, keygen's files): human mode
// prints the detail alone, which names the file. Returns exit_key_file.
int report_key_file_error(const CliOutput& output, const Error& error);

}  // namespace cabildo::client
