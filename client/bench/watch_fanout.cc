// run_watch_fanout (watch_fanout.h): limits, start revision, the worker and
// putter threads, and the merge of their results. The calling thread waits
// and prints the progress line.
#include "client/bench/watch_fanout.h"

#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "client/bench/watch_fanout_worker.h"
#include "client/request_once.h"

namespace cabildo::client::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Descriptors beside the watchers': io threads, stdio, the status probes.
constexpr std::uint64_t descriptors_spare = 64;
constexpr std::uint64_t descriptors_per_socket = 2;  // its TCP connection and its mailbox
constexpr int sockets_spare = 64;
constexpr auto status_timeout = std::chrono::milliseconds(2000);
constexpr auto setup_time_base = std::chrono::seconds(10);
constexpr auto setup_time_per_watcher = std::chrono::milliseconds(10);
constexpr auto wait_step = std::chrono::milliseconds(10);

double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

int socket_count(const BenchOptions& o) {
    const auto dealers = static_cast<int>(o.endpoints.size() * (o.threads + 1));
    return static_cast<int>(o.watchers) + dealers + sockets_spare;
}

// RLIMIT_NOFILE: soft raised to hard when the sockets need more than soft.
Result<std::uint64_t> raise_descriptor_limit(const BenchOptions& o) {
    const std::uint64_t needed =
        descriptors_per_socket * static_cast<std::uint64_t>(socket_count(o)) + descriptors_spare;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return Error{Status::bad_request, "getrlimit failed"};
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed)
            return Error{Status::bad_request,
                         fmt::format("{} watchers need about {} file descriptors, but the hard "
                                     "limit is {} (ulimit -Hn): use fewer --watchers or raise it",
                                     o.watchers, needed, limit.rlim_max)};
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            return Error{Status::bad_request, "setrlimit(RLIMIT_NOFILE) to the hard limit failed"};
    }
    return static_cast<std::uint64_t>(limit.rlim_cur);
}

// ZMQ_MAX_SOCKETS and ZMQ_IO_THREADS: legal only before the first socket.
std::optional<Error> configure_context(zmq::context_t& context, const BenchOptions& o) {
    const int wanted = std::max(socket_count(o), context.get(zmq::ctxopt::max_sockets));
    const int limit = context.get(zmq::ctxopt::socket_limit);
    if (wanted > limit)
        return Error{Status::bad_request,
                     fmt::format("{} watchers need {} ZeroMQ sockets, over libzmq's limit of {} "
                                 "(ZMQ_SOCKET_LIMIT): use fewer --watchers",
                                 o.watchers, wanted, limit)};
    try {
        context.set(zmq::ctxopt::max_sockets, wanted);
        context.set(zmq::ctxopt::io_threads, static_cast<int>(o.threads));
    } catch (const zmq::error_t& error) {
        return Error{Status::bad_request,
                     fmt::format("cannot raise ZMQ_MAX_SOCKETS to {}: {}", wanted, error.what())};
    }
    if (context.get(zmq::ctxopt::max_sockets) < wanted)
        return Error{Status::bad_request,
                     fmt::format("ZMQ_MAX_SOCKETS stayed below {}", wanted)};
    return std::nullopt;
}

// The highest applied index the nodes report; every node must answer (each
// has watchers).
Result<std::uint64_t> applied_revision(zmq::context_t& context, const BenchOptions& o) {
    wire::ClientRequest status;
    status.op = wire::Op::status;
    const auto replies =
        request_each(context, o.endpoints, wire::encode_request(status), status_timeout, o.curve);
    std::uint64_t applied = 0;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (!replies[i].ok()) return replies[i].error();
        if (!replies[i]->ok || !replies[i]->status)
            return Error{Status::unavailable,
                         fmt::format("{}: status refused: {}", o.endpoints[i], replies[i]->error)};
        applied = std::max(applied, replies[i]->status->applied_index);
    }
    return applied;
}

// Watcher w goes to node w % nodes and thread w % threads.
std::vector<std::vector<std::uint32_t>> assign_watchers(const BenchOptions& o) {
    std::vector<std::vector<std::uint32_t>> nodes(o.threads);
    const auto node_count = static_cast<std::uint32_t>(o.endpoints.size());
    for (std::uint32_t w = 0; w < o.watchers; ++w) nodes[w % o.threads].push_back(w % node_count);
    return nodes;
}

void print_progress(double elapsed_s, std::uint64_t puts, std::uint64_t puts_before,
                    std::uint64_t delivered, std::uint64_t delivered_before, std::uint64_t errors) {
    fmt::print(stderr, "[{:5.0f}s] puts/s {:>7}  delivered/s {:>9}  puts {:>9}  delivered {:>11}  errors {}\n",
               elapsed_s, puts - puts_before, delivered - delivered_before, puts, delivered, errors);
    std::fflush(stderr);
}

// Owns the threads of one run; the calling thread drives the phases.
class WatchFanoutRun {
public:
    WatchFanoutRun(zmq::context_t& context, const BenchOptions& options)
        : context_(context), options_(options) {}
    ~WatchFanoutRun() { join_all(); }

    Result<WatchFanoutResult> run(std::uint64_t start_revision);

private:
    void start_workers();
    std::optional<Error> wait_set_up();
    void run_putter();
    void wait_caught_up();
    void join_all();
    void merge();
    void progress_tick(Clock::time_point now);

    zmq::context_t& context_;
    const BenchOptions& options_;
    WatchShared shared_;
    std::deque<WatchFanoutWorker> workers_;
    std::vector<std::thread> threads_;
    std::deque<LiveCounters> live_{1};
    std::unique_ptr<WatchPutter> putter_;
    std::atomic<bool> putter_stop_{false};
    Clock::time_point start_;
    Clock::time_point next_line_;
    std::uint64_t puts_before_ = 0;
    std::uint64_t delivered_before_ = 0;
    WatchFanoutResult result_;
};

void WatchFanoutRun::start_workers() {
    for (std::vector<std::uint32_t>& nodes : assign_watchers(options_))
        workers_.emplace_back(context_, options_, shared_, std::move(nodes));
    for (WatchFanoutWorker& worker : workers_) {
        threads_.emplace_back([&worker] {
            try {
                worker.run();
            } catch (const zmq::error_t& error) {
                fmt::print(stderr, "bench: a watch thread stopped: {}\n", error.what());
            }
        });
    }
}

std::optional<Error> WatchFanoutRun::wait_set_up() {
    const Clock::time_point begin = Clock::now();
    const auto limit = setup_time_base + setup_time_per_watcher * options_.watchers;
    while (shared_.set_up.load() < options_.watchers) {
        if (Clock::now() - begin > limit)
            return Error{Status::unavailable,
                         fmt::format("only {} of {} watchers were set up within {:.0f} s (no "
                                     "heartbeat, or no watch_from answer)",
                                     shared_.set_up.load(), options_.watchers,
                                     std::chrono::duration<double>(limit).count())};
        std::this_thread::sleep_for(wait_step);
    }
    result_.setup_s = seconds_between(begin, Clock::now());
    if (options_.progress)
        fmt::print(stderr, "watch fan-out: {} {} watchers set up in {:.2f} s; putting at {}/s\n",
                   options_.watchers, watch_kind_name(options_.watch_kind), result_.setup_s,
                   options_.rate);
    return std::nullopt;
}

void WatchFanoutRun::progress_tick(Clock::time_point now) {
    if (now < next_line_) return;
    next_line_ += std::chrono::seconds(1);
    const std::uint64_t puts = live_[0].ok.load(std::memory_order_relaxed);
    const std::uint64_t delivered = shared_.delivered.load(std::memory_order_relaxed);
    if (options_.progress)
        print_progress(seconds_between(start_, now), puts, puts_before_, delivered,
                       delivered_before_, live_[0].errors.load(std::memory_order_relaxed));
    puts_before_ = puts;
    delivered_before_ = delivered;
}

void WatchFanoutRun::run_putter() {
    putter_ = std::make_unique<WatchPutter>(context_, options_, live_[0]);
    std::atomic<bool> done{false};
    start_ = Clock::now();
    next_line_ = start_ + std::chrono::seconds(1);
    std::thread thread([this, &done] {
        try {
            putter_->run(putter_stop_);
        } catch (const zmq::error_t& error) {
            fmt::print(stderr, "bench: the putter stopped: {}\n", error.what());
        }
        done.store(true);
    });
    while (!done.load()) {
        std::this_thread::sleep_for(wait_step);
        progress_tick(Clock::now());
    }
    thread.join();
}

void WatchFanoutRun::wait_caught_up() {
    const Clock::time_point begin = Clock::now();
    shared_.target_revision.store(putter_->result().revision_max);
    while (putter_->result().ok > 0 && shared_.caught_up.load() < options_.watchers &&
           Clock::now() - begin < options_.grace) {
        std::this_thread::sleep_for(wait_step);
        progress_tick(Clock::now());
    }
    const Clock::time_point end = Clock::now();
    result_.catch_up_s = seconds_between(begin, end);
    result_.wall_s = seconds_between(start_, end);
    result_.caught_up = shared_.caught_up.load();
}

void WatchFanoutRun::join_all() {
    shared_.stop.store(true);
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
}

Result<WatchFanoutResult> WatchFanoutRun::run(std::uint64_t start_revision) {
    shared_.start_revision = start_revision;
    start_workers();
    if (std::optional<Error> error = wait_set_up()) return *error;
    run_putter();
    wait_caught_up();
    join_all();
    merge();
    return std::move(result_);
}

// Deliveries count for the acknowledged puts' revisions only.
void WatchFanoutRun::merge() {
    result_.puts = std::move(putter_->result());
    std::vector<std::uint64_t> per_revision;
    for (WatchFanoutWorker& worker : workers_) {
        WatchWorkerResult& r = worker.result();
        if (per_revision.size() < r.delivered_by_revision.size())
            per_revision.resize(r.delivered_by_revision.size(), 0);
        for (std::size_t i = 0; i < r.delivered_by_revision.size(); ++i)
            per_revision[i] += r.delivered_by_revision[i];
        result_.events_unacked += r.delivered_untracked;
        result_.duplicates += r.duplicates;
        result_.watch_from_calls += r.watch_from_calls;
        result_.compacted += r.compacted;
        result_.timeouts += r.timeouts;
        result_.error_replies += r.error_replies;
        result_.bad_frames += r.bad_frames;
        result_.lag.merge(r.lag);
    }
    std::uint64_t total = 0;
    for (const std::uint64_t n : per_revision) total += n;
    for (const std::uint64_t revision : result_.puts.revisions) {
        const std::uint64_t at = revision - shared_.start_revision;
        if (revision >= shared_.start_revision && at < per_revision.size())
            result_.events_delivered += per_revision[at];
    }
    result_.events_unacked += total - std::min(total, result_.events_delivered);
    result_.events_expected = result_.puts.ok * options_.watchers;
}

}  // namespace

std::uint64_t watch_error_total(const WatchFanoutResult& r) {
    return r.compacted + r.timeouts + r.error_replies + r.bad_frames;
}

Result<WatchFanoutResult> run_watch_fanout(zmq::context_t& context, const BenchOptions& options) {
    Result<std::uint64_t> nofile = raise_descriptor_limit(options);
    if (!nofile.ok()) return nofile.error();
    if (std::optional<Error> error = configure_context(context, options)) return *error;
    const Result<std::uint64_t> applied = applied_revision(context, options);
    if (!applied.ok()) return applied.error();
    WatchFanoutRun run(context, options);
    Result<WatchFanoutResult> result = run.run(*applied + 1);
    if (result.ok()) result->nofile_limit = *nofile;
    return result;
}

}  // namespace cabildo::client::bench
