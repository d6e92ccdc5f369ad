// The `cabildo` commands for leases, txns and the key-metadata forms of the
// key-value commands:
//
//   cabildo lease grant TTL_MS [--id ID]     cabildo lease keepalive ID [--forever]
//   cabildo lease revoke ID                  cabildo lease info ID [--keys]
//   cabildo lease list [--from ID] [--limit N]
//   cabildo txn [FILE]                       (JSON from FILE, or stdin if none or "-")
//   cabildo get --meta KEY, put --lease ID / --prev, del --prefix, cas --mod-revision R
//
// A txn file is the request's own map in JSON (PROTOCOL.md, "txn"):
//   {"compare": [{"key": "cfg/v", "target": "value", "result": "eq", "value": "1"}],
//    "success": [{"op": "put", "key": "cfg/v", "value": "2"}],
//    "failure": [{"op": "get", "key": "cfg/v"}]}
// Keys, values and prefixes are JSON strings (UTF-8), or base64 under the
// name plus "_b64" ("value_b64"), as the output writes them.
#pragma once

#include <string>

#include "client/cli_commands.h"
#include "client/cli_common.h"
#include "node/raft/result.h"
#include "wire/client_messages.h"

namespace CLI {
class App;
}

namespace cabildo::client {

CliRunner add_lease_command(CLI::App& app);
CliRunner add_txn_command(CLI::App& app);

// Parses a txn description (above); bad_request naming what is wrong.
Result<wire::Txn> parse_txn_json(const std::string& text);

// Sends any request (Client::call) and prints its reply: human lines, or
// with --json one object holding every field the reply has. exit_ok, or
// exit_not_found for a get of an absent key, a txn that ran its failure
// branch, or a cas that did not swap.
int send_and_print(Client& client, const CliOutput& output, wire::ClientRequest request);
// The --json form of a reply: every field it has.
std::string reply_json(const wire::ClientReply& reply);

}  // namespace cabildo::client
