// `cabildo bench`: the benchmark command. Registers the `bench` subcommand
// and its options on a CLI11 app and returns the runner to call after
// parsing (client/cli_common.h). Used by `cabildo` (cli_main.cc) and by the
// standalone `cabildo-bench` (bench_main.cc).
//
// Closed loop (default): --clients sequential clients over --connections
// DEALER (or REQ) sockets pinned round-robin to the endpoints, driven by
// --threads poll loops; put, get or mixed requests on "key-%06d" keys.
// Open loop (--open-loop --rate R): PUSH writes on a time schedule, completion
// observed on a node's commit stream (PUB). Prints a progress line on stderr
// every second and a report at the end (--json: one JSON object). It measures
// and reports; it never judges: the exit code is 0 whenever the run completed,
// errors or not (2 for a bad command line, 3 if the open loop's probe write is
// never seen).
#pragma once

#include "client/cli_common.h"

namespace cabildo::client {

CliRunner add_bench_command(CLI::App& app);

}  // namespace cabildo::client
