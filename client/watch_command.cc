// `cabildo watch` (watch_command.h): argument parsing and output; the
// watching itself is Watcher's.
#include "client/watch_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "client/cli_commands.h"
#include "client/json_writer.h"
#include "client/watcher.h"

namespace cabildo::client {

namespace {

// The longest next() call: the idle deadline is checked at least this often.
constexpr std::chrono::milliseconds wait_slice_max{1000};
// One request to one node, at most; the global --timeout-ms may lower it.
constexpr std::chrono::milliseconds request_timeout_max{1000};

struct WatchArguments {
    std::string prefix;
    std::uint64_t from = 0;   // 0 = from now
    std::uint64_t count = 0;  // 0 = no limit
    double timeout_s = 0;     // 0 = never
};

using Clock = std::chrono::steady_clock;

void write_raw(std::FILE* file, std::string_view bytes) {
    std::fwrite(bytes.data(), 1, bytes.size(), file);
}

void print_event(const CliOutput& output, const wire::Event& event) {
    if (output.json) {
        JsonObject object;
        object.add_uint("revision", event.revision)
            .add_text("op", event.deleted ? "delete" : "put")
            .add_bytes("key", event.key);
        if (event.value)
            object.add_bytes("value", *event.value);
        else
            object.add_null("value");
        fmt::print(output.out, "{}\n", object.str());
        return;
    }
    fmt::print(output.out, "{} {} ", event.revision, event.deleted ? "delete" : "put");
    write_raw(output.out, event.key);
    if (!event.deleted) {
        write_raw(output.out, " ");
        write_raw(output.out, event.value.value_or(""));
    }
    write_raw(output.out, "\n");
}

void print_resync_marker(const CliOutput& output, std::uint64_t revision, std::size_t keys) {
    if (output.json) {
        JsonObject object;
        object.add_uint("revision", revision).add_text("op", "resync").add_uint("keys", keys);
        fmt::print(output.out, "{}\n", object.str());
    } else {
        fmt::print(output.out, "{} resync {}\n", revision, keys);
    }
}

WatchOptions watch_options(const WatchArguments& args, const CliCommon& common) {
    WatchOptions options;
    options.endpoints = common.endpoints;
    options.prefix = args.prefix;
    options.from_revision = args.from;
    options.request_timeout =
        std::clamp(common.timeout, std::chrono::milliseconds{1}, request_timeout_max);
    options.curve = common.curve;
    // A watch that never reached a node (down, or secured and refusing the
    // key) says so after --timeout-ms instead of waiting silently forever.
    options.unanswered_max = common.timeout;
    return options;
}

int run_watch(const WatchArguments& args, const CliCommon& common) {
    const CliOutput output{stdout, stderr, common.json};
    Watcher watcher(watch_options(args, common));
    const std::optional<Clock::duration> idle_max =
        args.timeout_s > 0
            ? std::optional<Clock::duration>(std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(args.timeout_s)))
            : std::nullopt;
    Clock::time_point last_event = Clock::now();
    std::uint64_t printed = 0;
    while (args.count == 0 || printed < args.count) {
        std::chrono::milliseconds wait = wait_slice_max;
        if (idle_max) {
            const Clock::time_point idle_at = last_event + *idle_max;
            if (Clock::now() >= idle_at)
                return exit_ok;
            wait = std::min(wait,
                            std::chrono::ceil<std::chrono::milliseconds>(idle_at - Clock::now()));
        }
        Result<std::vector<wire::Event>> batch = watcher.next(wait);
        if (!batch)
            return report_error(output, batch.error());
        if (watcher.resynced())
            print_resync_marker(output, watcher.covered_revision(), batch->size());
        for (const wire::Event& event : *batch) {
            if (args.count != 0 && printed == args.count)
                break;
            print_event(output, event);
            ++printed;
        }
        if (!batch->empty() || watcher.resynced())
            last_event = Clock::now();
        std::fflush(output.out);
    }
    return exit_ok;
}

}  // namespace

CliRunner add_watch_command(CLI::App& app) {
    auto args = std::make_shared<WatchArguments>();
    CLI::App* watch = app.add_subcommand(
        "watch", "Print every change under PREFIX, once each, in revision order");
    watch->add_option("PREFIX", args->prefix, "Key prefix; empty = every key")->required();
    watch
        ->add_option("--from", args->from,
                     "First revision to print (default: changes from now on); a revision "
                     "no longer kept prints a resync snapshot instead")
        ->check(CLI::PositiveNumber);
    watch->add_option("--count", args->count, "Exit after printing N events")
        ->check(CLI::PositiveNumber);
    watch
        ->add_option("--timeout-s", args->timeout_s,
                     "Exit after S seconds without events (default: never)")
        ->check(CLI::PositiveNumber);
    return [args](const CliCommon& common) { return run_watch(*args, common); };
}

}  // namespace cabildo::client
