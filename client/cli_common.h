// What every `cabildo` subcommand gets from the global options, and the shape
// of a subcommand that lives in its own files (watch, bench): it registers
// its options on the app and returns a runner called after parsing.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/client_curve.h"

namespace CLI {
class App;
}

namespace cabildo::client {

struct CliCommon {
    std::vector<std::string> endpoints;  // empty: the default local cluster
    bool json = false;
    std::chrono::milliseconds timeout{10000};
    // --curve-key and --server-key, read (cli_curve.h); unset: plain TCP.
    std::optional<ClientCurve> curve{};
};

// Returns the exit code (cli_commands.h ExitCode).
using CliRunner = std::function<int(const CliCommon&)>;

}  // namespace cabildo::client
