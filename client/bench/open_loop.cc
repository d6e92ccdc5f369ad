// run_open_loop (open_loop.h): one thread sends on schedule and reads the
// commit stream; the calling thread prints progress.
#include "client/bench/open_loop.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "client/bench/progress.h"
#include "client/bench/request_template.h"

namespace cabildo::client::bench {
namespace {

constexpr std::size_t key_digits = 10;
// One int64 of send time per scheduled write is kept: bound the memory.
constexpr std::uint64_t scheduled_max = 50'000'000;
constexpr int push_hwm = 100'000;
constexpr auto probe_interval = std::chrono::milliseconds(200);
constexpr auto probe_timeout = std::chrono::seconds(10);


std::string run_prefix(std::uint64_t seed) {
    std::mt19937_64 rng(seed != 0 ? seed : std::random_device{}());
    return fmt::format("bench-{:08x}/", rng() & 0xffffffffU);
}

class OpenLoop {
public:
    OpenLoop(zmq::context_t& context, const BenchOptions& options, LiveCounters& live)
        : options_(options), live_(live), sub_(context, zmq::socket_type::sub),
          prefix_(run_prefix(options.seed)) {
        for (const std::string& endpoint : options.push_endpoints) {
            zmq::socket_t& push = pushes_.emplace_back(context, zmq::socket_type::push);
            push.set(zmq::sockopt::linger, 0);
            push.set(zmq::sockopt::immediate, 1);  // no queueing to a node that is not there
            push.set(zmq::sockopt::sndhwm, push_hwm);
            apply_curve(push, options.curve);
            push.connect(endpoint);
        }
        sub_.set(zmq::sockopt::linger, 0);
        sub_.set(zmq::sockopt::rcvhwm, 0);  // never drop on our side
        sub_.set(zmq::sockopt::subscribe, "kv/" + prefix_);
        apply_curve(sub_, options.curve);
        sub_.connect(options.sub_endpoint);
        wire::ClientRequest put;
        put.op = wire::Op::put;
        put.key = numbered_key(prefix_, 0, key_digits);
        std::string value(options.value_size, 'a');
        for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 26);
        put.value = value;
        template_ = RequestTemplate(put, key_digits, false);
        put.key = prefix_ + "probe";
        probe_frame_ = wire::encode_request(put);
        const double planned = options.count > 0
                                   ? static_cast<double>(options.count)
                                   : std::ceil(options.rate *
                                               std::chrono::duration<double>(options.duration).count());
        result_.scheduled = std::min<std::uint64_t>(static_cast<std::uint64_t>(planned), scheduled_max);
        sent_ns_.assign(result_.scheduled, 0);
    }

    std::optional<Error> probe();
    void run();
    OpenLoopResult& result() { return result_; }
    const std::string& prefix() const { return prefix_; }

private:
    void send_due();
    // Returns true when the probe's event was among those taken.
    bool drain_sub(std::int64_t now);
    std::optional<std::uint64_t> write_number(std::string_view key) const;

    const BenchOptions& options_;
    LiveCounters& live_;
    std::vector<zmq::socket_t> pushes_;
    zmq::socket_t sub_;
    std::string prefix_;
    RequestTemplate template_;
    std::string probe_frame_;
    // Send time per write number; 0 = not sent, -1 = already seen.
    std::vector<std::int64_t> sent_ns_;
    std::uint64_t next_ = 0;
    std::int64_t start_ns_ = 0;
    std::int64_t last_send_ns_ = 0;
    zmq::message_t topic_;
    zmq::message_t body_;
    OpenLoopResult result_;
};

std::optional<Error> OpenLoop::probe() {
    const auto give_up = std::chrono::steady_clock::now() + probe_timeout;
    std::size_t attempt = 0;
    while (std::chrono::steady_clock::now() < give_up) {
        zmq::socket_t& push = pushes_[attempt++ % pushes_.size()];
        (void)push.send(zmq::buffer(probe_frame_), zmq::send_flags::dontwait);
        const auto until = std::chrono::steady_clock::now() + probe_interval;
        while (std::chrono::steady_clock::now() < until) {
            std::vector<zmq::pollitem_t> items{{sub_.handle(), 0, ZMQ_POLLIN, 0}};
            zmq::poll(items, std::chrono::milliseconds(20));
            if (drain_sub(now_ns())) return std::nullopt;
        }
    }
    return Error{Status::unavailable,
                 fmt::format("no event for a probe write on {} within {} s (push endpoints: {})",
                             options_.sub_endpoint, probe_timeout.count(),
                             fmt::join(options_.push_endpoints, ","))};
}

std::optional<std::uint64_t> OpenLoop::write_number(std::string_view key) const {
    if (key.size() != prefix_.size() + key_digits || key.substr(0, prefix_.size()) != prefix_)
        return std::nullopt;
    std::uint64_t number = 0;
    for (const char c : key.substr(prefix_.size())) {
        if (c < '0' || c > '9') return std::nullopt;
        number = number * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return number;
}

bool OpenLoop::drain_sub(std::int64_t now) {
    bool probe_seen = false;
    while (sub_.recv(topic_, zmq::recv_flags::dontwait)) {
        if (!topic_.more() || !sub_.recv(body_, zmq::recv_flags::dontwait)) continue;
        while (body_.more()) {
            if (!sub_.recv(body_, zmq::recv_flags::dontwait)) break;
        }
        const Result<wire::Event> event = wire::decode_event(body_.data(), body_.size());
        if (!event.ok()) continue;
        if (event->key == prefix_ + "probe") {
            probe_seen = true;
            continue;
        }
        const std::optional<std::uint64_t> number = write_number(event->key);
        if (!number || *number >= sent_ns_.size() || sent_ns_[*number] <= 0) continue;
        result_.latency.record(now - sent_ns_[*number]);
        sent_ns_[*number] = -1;
        ++result_.completed;
        live_.ok.store(result_.completed, std::memory_order_relaxed);
    }
    return probe_seen;
}

void OpenLoop::send_due() {
    const double period_ns = 1e9 / options_.rate;
    while (next_ < result_.scheduled) {
        const std::int64_t due =
            start_ns_ + static_cast<std::int64_t>(static_cast<double>(next_) * period_ns);
        const std::int64_t now = now_ns();
        if (due > now) return;
        result_.send_lag_ms_max = std::max(result_.send_lag_ms_max, static_cast<double>(now - due) / 1e6);
        template_.set_key_number(next_);
        const std::string_view frame = template_.frame();
        zmq::socket_t& push = pushes_[next_ % pushes_.size()];
        if (push.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)) {
            sent_ns_[next_] = now;
            last_send_ns_ = now;
            live_.sent.store(++result_.sent, std::memory_order_relaxed);
        } else {
            live_.errors.store(++result_.not_sent, std::memory_order_relaxed);
        }
        ++next_;
    }
}

void OpenLoop::run() {
    start_ns_ = now_ns();
    const std::int64_t grace_ns = options_.grace.count();
    std::vector<zmq::pollitem_t> items{{sub_.handle(), 0, ZMQ_POLLIN, 0}};
    while (true) {
        send_due();
        const std::int64_t now = now_ns();
        drain_sub(now);
        const bool all_sent = next_ >= result_.scheduled;
        if (all_sent && (result_.completed == result_.sent || now - last_send_ns_ > grace_ns)) break;
        std::int64_t wait_ns = 10'000'000;
        if (!all_sent) {
            const std::int64_t due =
                start_ns_ + static_cast<std::int64_t>(static_cast<double>(next_) * 1e9 / options_.rate);
            wait_ns = std::clamp<std::int64_t>(due - now, 0, wait_ns);
        }
        zmq::poll(items, std::chrono::milliseconds((wait_ns + 999'999) / 1'000'000));
    }
    const std::int64_t end_ns = now_ns();
    result_.lost = result_.sent - result_.completed;
    result_.send_s = static_cast<double>(last_send_ns_ - start_ns_) / 1e9;
    result_.wall_s = static_cast<double>(end_ns - start_ns_) / 1e9;
}

}  // namespace

Result<OpenLoopResult> run_open_loop(zmq::context_t& context, const BenchOptions& options) {
    std::deque<LiveCounters> live(1);
    OpenLoop loop(context, options, live[0]);
    if (std::optional<Error> error = loop.probe()) return *error;
    if (options.progress)
        fmt::print(stderr, "open loop: {} writes at {}/s, keys {}*, commit stream {}\n",
                   loop.result().scheduled, options.rate, loop.prefix(), options.sub_endpoint);
    std::atomic<int> running{1};
    const auto start = std::chrono::steady_clock::now();
    std::thread thread([&] {
        try {
            loop.run();
        } catch (const zmq::error_t& error) {
            fmt::print(stderr, "bench: open loop stopped: {}\n", error.what());
        }
        running.fetch_sub(1);
    });
    wait_with_progress(live, running, start, options.progress, true);
    thread.join();
    return std::move(loop.result());
}

}  // namespace cabildo::client::bench
