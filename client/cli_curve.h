// The CLI's CURVE options, shared by `cabildo` and `cabildo-bench`:
//
//   --curve-key FILE    this client's key pair (a .key file of `cabildo keygen`,
//                       an identity in the cluster's ACL); $CABILDO_CURVE_KEY
//   --server-key FILE   the cluster's server public key (its .pub or .key
//                       file: the nodes' --server-key); $CABILDO_SERVER_KEY
//
// A flag wins over its variable. Both or neither: a secured cluster needs
// both, and a plain one neither (PROTOCOL.md section 12).
#pragma once

#include <optional>
#include <string>

#include "client/client_curve.h"
#include "node/raft/result.h"

namespace CLI {
class App;
}

namespace cabildo::client {

struct CurveArguments {
    std::string curve_key;   // path; empty: not given
    std::string server_key;  // path; empty: not given
};

void add_curve_options(CLI::App& app, CurveArguments& args);

// nullopt when neither is given. Errors (bad_request): only one of them, or
// a file that cannot be used (the error names it).
Result<std::optional<ClientCurve>> load_curve(const CurveArguments& args);

}  // namespace cabildo::client
