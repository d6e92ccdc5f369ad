// `cabildo top`: the cluster live in the terminal, from the nodes' `hb/`
// heartbeats (each a `status` reply map, every 100 ms; PROTOCOL.md section
// 10). Registered by add_top_command(); cli_main.cc calls the returned
// runner after parsing.
//
//   cabildo [--endpoints E,..] top [--refresh-ms N]
//   cabildo [--endpoints E,..] top --once [--wait-ms N]
//
// One row per node: role, term, leader, indexes, lag, rates, fsync p99,
// memory and the age of its last heartbeat (top_screen.h); a node silent
// for over 1 s is dimmed and its STATE says `down`, and it is normal again
// with its next heartbeat. Below, the recent leader changes, as seen in the
// heartbeats. Nodes come from --endpoints and from the members the nodes
// report. `q` (or Ctrl-C) quits with exit 0. --once prints one frame as
// text after listening for --wait-ms and exits: 0 if any node was heard,
// 3 (exit_unavailable) if none. The global --timeout-ms plays no part.
#pragma once

#include "client/cli_common.h"

namespace CLI {
class App;
}

namespace cabildo::client {

CliRunner add_top_command(CLI::App& app);

}  // namespace cabildo::client
