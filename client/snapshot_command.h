// `cabildo snapshot save FILE` and `cabildo snapshot inspect FILE`: backups.
//
// save asks a node (the first of --endpoints that answers) for a fresh
// snapshot of the cluster's state and downloads it in 1 MiB chunks
// (snapshot_read, PROTOCOL.md), with a progress line on stderr, into
// FILE.part; it checks every checksum of the whole file, then renames it to
// FILE. Online: the cluster keeps serving. inspect checks a file and prints
// its index, term, membership, key count and size. Restore a cluster from
// one with `cabildo-node --restore-from FILE` (README, "Backups").
#pragma once

#include "client/cli_common.h"

namespace cabildo::client {

CliRunner add_snapshot_command(CLI::App& app);

}  // namespace cabildo::client
