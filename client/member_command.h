// `cabildo member list|add|promote|remove` and `cabildo transfer-leader`:
// membership changes from the command line (PROTOCOL.md, member_* ops).
//
//   cabildo member list
//   cabildo member add ID HOST:PORT [--learner]
//   cabildo member promote ID
//   cabildo member remove ID
//   cabildo transfer-leader [ID]        (no ID: the most caught-up voter)
//
// Output: the membership after the change (or as it is, for list), one
// member a line, "ID  voter|learner  HOST:PORT  CLIENT_ENDPOINT  MATCH",
// after a line "membership at index N[ (pending)], cluster C"; --json: one
// object {"ok":true,"revision":R,"index":N,"pending":false,"cluster_id":C,
// "leader":"tcp://..","members":[{"id":..,"learner":..,"peer":"..",
// "client_endpoint":"..","match_index":..}]}. Errors as every command
// (cli_commands.h); not_found exits 1, change_pending, lagging and
// no_quorum exit 4.
#pragma once

#include "client/cli_common.h"

namespace CLI {
class App;
}

namespace cabildo::client {

CliRunner add_member_command(CLI::App& app);
CliRunner add_transfer_leader_command(CLI::App& app);

}  // namespace cabildo::client
