// cabildo-lincheck: checks one recorded key-value history for
// linearizability and prints the verdict.
//
//   cabildo-lincheck history.txt               # default budget 10 s
//   cabildo-lincheck history.txt --budget-ms 60000
//
// The history format is documented in tests/linearizability/history.h.
// Exit status: 0 linearizable, 1 not linearizable (the violation is printed),
// 2 when no verdict: unreadable file, parse error, bad usage or the budget ran
// out.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "tests/linearizability/checker.h"
#include "tests/linearizability/history.h"

namespace {

constexpr int exit_linearizable = 0;
constexpr int exit_violation = 1;
constexpr int exit_no_verdict = 2;

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Checks a Cabildo key-value history for linearizability"};
    std::string path;
    std::int64_t budget_ms = 10'000;
    app.add_option("HISTORY_FILE", path, "history, one operation a line")->required();
    app.add_option("--budget-ms", budget_ms, "time budget for the whole search")
        ->check(CLI::PositiveNumber);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_linearizable : exit_no_verdict;
    }

    std::ifstream file(path, std::ios::binary);
    if (!file) {
        fmt::print(stderr, "cannot read {}\n", path);
        return exit_no_verdict;
    }
    std::stringstream text;
    text << file.rdbuf();
    const auto ops = cabildo::lincheck::parse_history(text.str());
    if (!ops.ok()) {
        fmt::print(stderr, "{}: {}\n", path, ops.error().detail);
        return exit_no_verdict;
    }

    const auto began = std::chrono::steady_clock::now();
    const cabildo::lincheck::CheckResult result =
        cabildo::lincheck::check_history(*ops, std::chrono::milliseconds(budget_ms));
    const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - began)
                                .count();
    if (result.linearizable) {
        fmt::print("linearizable: {} operations, {} keys in {} components\n",
                   result.operations_checked, result.keys_checked, result.components_checked);
        return exit_linearizable;
    }
    fmt::print("{}", result.explanation);
    if (result.timed_out) {
        fmt::print("no verdict: search budget exhausted after {} ms\n", elapsed_ms);
        return exit_no_verdict;
    }
    return exit_violation;
}
