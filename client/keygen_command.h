// `cabildo keygen NAME`: a new CURVE key pair for a node, a server key or a
// client identity (PROTOCOL.md section 12).
//
// Writes NAME.key (mode 0600: both keys, keep it secret) and NAME.pub (the
// public key only, for the ACL or for clients' --server-key), then prints
// the public key and where the files went. Never overwrites: if either file
// exists it writes nothing and exits 1 (exit_key_file). Needs no cluster.
#pragma once

#include <string>

#include "client/cli_commands.h"
#include "client/cli_common.h"

namespace CLI {
class App;
}

namespace cabildo::client {

CliRunner add_keygen_command(CLI::App& app);

// The command itself, for tests: base is NAME (a path without .key/.pub).
int run_keygen(const CliOutput& output, const std::string& base);

}  // namespace cabildo::client
