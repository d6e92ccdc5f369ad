// `cabildo-bench`: `cabildo bench` as a program of its own, with the same
// global options as `cabildo` (--endpoints, --json, --timeout-ms):
//
//   cabildo-bench [--endpoints E1,E2,..] [--json]
//                 [--curve-key FILE --server-key FILE] bench [bench options]
//
// Handy to run the benchmark without the rest of the CLI.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/bench/bench_command.h"
#include "client/cli_commands.h"
#include "client/cli_curve.h"

int main(int argc, char** argv) {
    CLI::App app{"cabildo-bench: benchmark a Cabildo cluster (same as `cabildo bench`)"};
    cabildo::client::CliCommon common;
    std::int64_t timeout_ms = common.timeout.count();
    app.add_option("--endpoints", common.endpoints,
                   "Client endpoints, comma-separated (default: $CABILDO_ENDPOINTS, else "
                   "tcp://127.0.0.1:7101,tcp://127.0.0.1:7111,tcp://127.0.0.1:7121)")
        ->delimiter(',')
        ->envname("CABILDO_ENDPOINTS");
    app.add_flag("--json", common.json, "Print one JSON object at the end");
    app.add_option("--timeout-ms", timeout_ms, "Global timeout (unused by bench)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{24 * 3600 * 1000}));
    cabildo::client::CurveArguments curve;
    cabildo::client::add_curve_options(app, curve);
    const cabildo::client::CliRunner runner = cabildo::client::add_bench_command(app);
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        return code == 0 ? cabildo::client::exit_ok : cabildo::client::exit_usage;
    }
    common.timeout = std::chrono::milliseconds(timeout_ms);
    auto loaded = cabildo::client::load_curve(curve);
    if (!loaded) {
        return report_key_file_error(cabildo::client::CliOutput{stdout, stderr, common.json},
                                     loaded.error());
    }
    common.curve = std::move(*loaded);
    return runner(common);
}
