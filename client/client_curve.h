// ClientCurve: the CURVE keys a client connects to a secured cluster with
// (PROTOCOL.md section 12), and the one place where a client socket gets
// them. Every socket the client library, the CLI and the benchmark open to
// a node (REQ and DEALER to client endpoints, SUB to PUB, PUSH to PULL)
// goes through apply_curve() before connect: with no keys, a secured node
// lets no message through, and the client only sees a timeout.
//
// Not the key files themselves (wire/security/curve.h reads and writes
// them) and not the command line (client/cli_curve.h).
#pragma once

#include <optional>
#include <string>
#include <zmq.hpp>

#include "node/raft/result.h"
#include "wire/security/curve.h"

namespace cabildo::client {

struct ClientCurve {
    wire::CurveKeys keys;       // this client's pair: an identity's key in the ACL
    std::string server_public;  // Z85: the key the nodes' --server-key proves
};

// Reads the client's pair (a .key file) and the server's public key (a .pub
// or .key file). The error names the file and says what is wrong with it.
Result<ClientCurve> read_client_curve(const std::string& key_file,
                                      const std::string& server_key_file);

// Makes `socket` a CURVE client with these keys; nothing when curve is unset.
// BEFORE connect: the mechanism applies to later connects only.
void apply_curve(zmq::socket_t& socket, const std::optional<ClientCurve>& curve);

// What to say when no node answered at all: a secured cluster and a down
// one look the same to a client (the handshake fails silently), so the
// message names both causes. curve: whether this client had keys.
std::string no_answer_hint(bool curve);

}  // namespace cabildo::client
