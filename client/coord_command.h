// The `cabildo` commands for locks, elections and queues (PROTOCOL.md,
// "Coordination"):
//
//   cabildo lock NAME [--ttl 10s] [--wait 1h] [--value V] -- COMMAND [ARG...]
//       runs COMMAND holding the lock; its environment has
//       CABILDO_FENCING_TOKEN and CABILDO_LEASE. The lease is
//       kept alive meanwhile; if it cannot be (the cluster lost it, or no
//       renewal was confirmed within the TTL), COMMAND's process group is sent
//       SIGTERM (SIGKILL 5 s later, or once COMMAND exits) and the exit status
//       is 5. SIGINT and SIGTERM are passed on to the group. Otherwise the lock is released
//       when COMMAND exits, with its exit status; 1 if --wait passed first.
//   cabildo elect NAME VALUE [--ttl 10s]    campaign, print when elected,
//       hold until SIGINT/SIGTERM (then resign) or the lease is lost (exit 5)
//   cabildo elect --observe NAME            print each leader, as it changes
//   cabildo queue put QUEUE VALUE | get QUEUE [--wait 30s] [--visibility 30s]
//       | poll QUEUE | ack QUEUE ITEM RECEIPT | len QUEUE | peek QUEUE
//
// Durations take a unit: ms, s, m or h (a bare number is milliseconds).
#pragma once

#include "client/cli_common.h"

namespace CLI {
class App;
}

namespace cabildo::client {

CliRunner add_lock_command(CLI::App& app);
CliRunner add_elect_command(CLI::App& app);
CliRunner add_queue_command(CLI::App& app);

}  // namespace cabildo::client
