// The CLI's CURVE options (cli_curve.h).
#include "client/cli_curve.h"

#include <CLI/CLI.hpp>

namespace cabildo::client {

void add_curve_options(CLI::App& app, CurveArguments& args) {
    app.add_option("--curve-key", args.curve_key,
                   "This client's CURVE key pair (a .key file of `cabildo keygen`, whose public "
                   "key the cluster's ACL lists), for a secured cluster (default: "
                   "$CABILDO_CURVE_KEY)")
        ->envname("CABILDO_CURVE_KEY");
    app.add_option("--server-key", args.server_key,
                   "The secured cluster's server public key: the .pub (or .key) file of the "
                   "nodes' --server-key (default: $CABILDO_SERVER_KEY)")
        ->envname("CABILDO_SERVER_KEY");
}

Result<std::optional<ClientCurve>> load_curve(const CurveArguments& args) {
    if (args.curve_key.empty() && args.server_key.empty())
        return std::optional<ClientCurve>();
    if (args.server_key.empty()) {
        return Error{Status::bad_request,
                     "--curve-key " + args.curve_key +
                         " needs --server-key (or $CABILDO_SERVER_KEY) too: the cluster's server "
                         "public key (its .pub file)"};
    }
    if (args.curve_key.empty()) {
        return Error{Status::bad_request,
                     "--server-key " + args.server_key +
                         " needs --curve-key (or $CABILDO_CURVE_KEY) too: this client's key pair "
                         "(a .key file)"};
    }
    Result<ClientCurve> curve = read_client_curve(args.curve_key, args.server_key);
    if (!curve)
        return curve.error();
    return std::optional<ClientCurve>(std::move(*curve));
}

}  // namespace cabildo::client
