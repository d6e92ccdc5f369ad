// `cabildo top` (top_command.h): options, the refresh loop and --once. The
// heartbeats' meaning is TopModel's, the text TopScreen's, the terminal
// TopView's and the sockets TopFeed's.
#include "client/top_command.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "client/cli_commands.h"
#include "client/client.h"
#include "client/top_feed.h"
#include "client/top_model.h"
#include "client/top_screen.h"
#include "client/top_view.h"
#include "client/watcher.h"

namespace cabildo::client {

namespace {

using Clock = std::chrono::steady_clock;

struct TopArguments {
    std::int64_t refresh_ms = 200;  // five frames a second
    bool once = false;
    std::int64_t wait_ms = 1500;  // --once: past top_silence_max, so silent nodes show down
};

volatile std::sig_atomic_t stop_signal = 0;

void on_stop_signal(int signal_number) {
    stop_signal = signal_number;
}

// BEFORE ncurses starts: it keeps handlers it finds installed. No
// SA_RESTART: the signal must end the poll.
void install_stop_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal_number, &action, nullptr);
}

TopInstant now_instant() {
    return TopInstant{Clock::now(), std::chrono::system_clock::now()};
}

std::chrono::milliseconds until(Clock::time_point when) {
    return std::max(std::chrono::milliseconds{0},
                    std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now()));
}

// Subscribes to every endpoint the model knows (the given ones, then the
// members learned); one that is not tcp://host:port is left out.
void watch_all(TopFeed& feed, const TopModel& model) {
    for (const std::string& endpoint : model.endpoints()) feed.watch(endpoint);
}

void listen_once(TopFeed& feed, TopModel& model, std::chrono::milliseconds wait, int input_fd) {
    for (TopHeartbeat& heartbeat : feed.poll(wait, input_fd))
        model.on_heartbeat(heartbeat.endpoint, heartbeat.status, now_instant());
    watch_all(feed, model);
}

void print_screen(std::FILE* out, const TopScreen& screen) {
    fmt::print(out, "{}\n\n{}\n", screen.title, screen.header);
    for (const TopLine& line : screen.rows) fmt::print(out, "{}\n", line.text);
    fmt::print(out, "\n{}\n", screen.changes_title);
    for (const std::string& change : screen.changes) fmt::print(out, "{}\n", change);
}

int run_once(const TopArguments& args, const CliCommon& common,
             const std::vector<std::string>& endpoints) {
    TopFeed feed(common.curve);
    TopModel model(endpoints, now_instant());
    watch_all(feed, model);
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(args.wait_ms);
    while (Clock::now() < deadline && stop_signal == 0)
        listen_once(feed, model, until(deadline), -1);
    const TopInstant now = now_instant();
    model.tick(now);
    if (!model.heard_any()) {
        fmt::print(stderr, "cabildo: unavailable: no heartbeat from any node in {} ms; {}\n",
                   args.wait_ms, no_answer_hint(common.curve.has_value()));
        return exit_unavailable;
    }
    print_screen(stdout, build_top_screen(model, now));
    std::fflush(stdout);
    return exit_ok;
}

int run_live(const TopArguments& args, const CliCommon& common,
             const std::vector<std::string>& endpoints) {
    std::string error;
    std::unique_ptr<TopView> view = TopView::open(&error);
    if (!view) {
        fmt::print(stderr, "cabildo: {}\n", error);
        return exit_usage;
    }
    TopFeed feed(common.curve);
    TopModel model(endpoints, now_instant());
    watch_all(feed, model);
    const std::chrono::milliseconds refresh{args.refresh_ms};
    Clock::time_point next_draw = Clock::now();
    while (stop_signal == 0) {
        if (Clock::now() >= next_draw) {
            const TopInstant now = now_instant();
            model.tick(now);
            view->draw(build_top_screen(model, now));
            next_draw = now.steady + refresh;
        }
        listen_once(feed, model, until(next_draw), view->input_fd());
        const TopKey key = view->read_keys();
        if (key == TopKey::quit)
            break;
        if (key == TopKey::redraw)
            next_draw = Clock::now();
    }
    return exit_ok;
}

int run_top(const TopArguments& args, const CliCommon& common) {
    const std::vector<std::string> endpoints =
        common.endpoints.empty() ? default_endpoints() : common.endpoints;
    for (const std::string& endpoint : endpoints) {
        if (!pub_endpoint_for(endpoint)) {
            fmt::print(stderr, "cabildo: {}: not tcp://HOST:PORT, no PUB endpoint to watch\n",
                       endpoint);
            return exit_usage;
        }
    }
    install_stop_handlers();
    return args.once ? run_once(args, common, endpoints) : run_live(args, common, endpoints);
}

}  // namespace

CliRunner add_top_command(CLI::App& app) {
    auto args = std::make_shared<TopArguments>();
    CLI::App* top = app.add_subcommand(
        "top",
        "Show the cluster live: every node's role, term, indexes, lag, rates, memory, "
        "and the recent leader changes (q quits)");
    top->add_option("--refresh-ms", args->refresh_ms, "Redraw every N ms (default 200)")
        ->check(CLI::Range(std::int64_t{50}, std::int64_t{10000}));
    top->add_flag("--once", args->once,
                  "Print one frame as text after listening for --wait-ms, then exit");
    top->add_option("--wait-ms", args->wait_ms,
                    "--once: listen to the heartbeats this long first (default 1500)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{60000}));
    return [args](const CliCommon& common) { return run_top(*args, common); };
}

}  // namespace cabildo::client
