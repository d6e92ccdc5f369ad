// WatchFanoutWorker (watch_fanout_worker.h): the poll loop of the watchers.
#include "client/bench/watch_fanout_worker.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "client/bench/request_template.h"
#include "client/bench/watch_putter.h"
#include "node/raft/assert.h"
#include "wire/protocol.h"

namespace cabildo::client::bench {
namespace {

constexpr std::int64_t scan_interval_ns = 10'000'000;
constexpr std::int64_t retry_delay_ns = 20'000'000;  // after an ok=false reply
// Messages taken from one SUB socket per turn, so one busy socket cannot
// starve the others or the watch_from replies.
constexpr int messages_per_turn_max = 256;
// Exact: the stream is a doorbell, a short queue is enough (and lets the
// node's PUB drop, not send, what a busy watcher would only skip).
constexpr int exact_sub_hwm = 1000;
// Stream: every queued event is a delivery; the budget is shared by all the
// watchers of the run (messages, not bytes), each gets between the bounds.
constexpr std::uint64_t stream_queue_budget = 4'000'000;
constexpr int stream_sub_hwm_min = 1000;
constexpr int stream_sub_hwm_max = 100'000;
constexpr int dealer_hwm = 100'000;
constexpr std::uint32_t watch_events_per_request_max = 1000;
// One thread's per-revision counters cover this many revisions at most.
constexpr std::size_t revisions_tracked_max = std::size_t{1} << 24;


int stream_sub_hwm(std::uint32_t watchers) {
    const std::uint64_t share = stream_queue_budget / std::max<std::uint32_t>(watchers, 1);
    return static_cast<int>(std::clamp<std::uint64_t>(share, stream_sub_hwm_min, stream_sub_hwm_max));
}

bool starts_with(const zmq::message_t& message, std::string_view prefix) {
    return message.size() >= prefix.size() &&
           std::string_view(static_cast<const char*>(message.data()), prefix.size()) == prefix;
}

}  // namespace

WatchFanoutWorker::WatchFanoutWorker(zmq::context_t& context, const BenchOptions& options,
                                     WatchShared& shared, std::vector<std::uint32_t> nodes)
    : context_(context), options_(options), shared_(shared),
      exact_(options.watch_kind == WatchKind::exact) {
    for (const std::uint32_t node : nodes) {
        Watcher watcher;
        watcher.node = node;
        watcher.covered = shared.start_revision - 1;
        watchers_.push_back(watcher);
    }
    request_.op = wire::Op::watch_from;
    request_.prefix = std::string(watch_prefix);
    // Not range_limit_max: the node builds a reply on its Raft loop thread,
    // and 10,000 events of 256 B (3 MB) to each of hundreds of watchers at
    // once cost it seconds and gigabytes (seen at 1000 watchers, 5000 puts/s).
    request_.limit = watch_events_per_request_max;
    request_.timeout_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options.request_timeout).count(), 1,
        wire::timeout_ms_max));
}

void WatchFanoutWorker::open_sockets() {
    const int hwm = exact_ ? exact_sub_hwm : stream_sub_hwm(options_.watchers);
    for (const Watcher& watcher : watchers_) {
        zmq::socket_t& sub = subscribers_.emplace_back(context_, zmq::socket_type::sub);
        sub.set(zmq::sockopt::linger, 0);
        sub.set(zmq::sockopt::rcvhwm, hwm);
        apply_curve(sub, options_.curve);
        sub.connect(options_.pub_endpoints[watcher.node]);
        // kv/ first: a heartbeat received then proves both subscriptions live.
        sub.set(zmq::sockopt::subscribe, "kv/" + std::string(watch_prefix));
        sub.set(zmq::sockopt::subscribe, "hb/");
    }
    if (exact_) {
        for (const std::string& endpoint : options_.endpoints) {
            zmq::socket_t& dealer = dealers_.emplace_back(context_, zmq::socket_type::dealer);
            dealer.set(zmq::sockopt::linger, 0);
            dealer.set(zmq::sockopt::sndhwm, dealer_hwm);
            dealer.set(zmq::sockopt::maxmsgsize,
                       static_cast<std::int64_t>(wire::reply_frame_bytes_max));
            apply_curve(dealer, options_.curve);
            dealer.connect(endpoint);
        }
    }
    for (zmq::socket_t& dealer : dealers_) items_.push_back({dealer.handle(), 0, ZMQ_POLLIN, 0});
    for (zmq::socket_t& sub : subscribers_) items_.push_back({sub.handle(), 0, ZMQ_POLLIN, 0});
}

void WatchFanoutWorker::run() {
    open_sockets();
    if (exact_)
        for (std::uint32_t i = 0; i < watchers_.size(); ++i) want_watch_from(i);
    while (!shared_.stop.load(std::memory_order_relaxed)) {
        send_wanted(now_ns());
        poll_once();
    }
    for (zmq::socket_t& socket : subscribers_) socket.close();
    for (zmq::socket_t& socket : dealers_) socket.close();
    shared_.delivered.fetch_add(delivered_ - delivered_published_, std::memory_order_relaxed);
    delivered_published_ = delivered_;
}

void WatchFanoutWorker::poll_once() {
    zmq::poll(items_, std::chrono::milliseconds(wanted_.empty() ? 10 : 1));
    const std::int64_t now = now_ns();
    const auto nodes = static_cast<std::uint32_t>(dealers_.size());
    for (std::uint32_t n = 0; n < nodes; ++n)
        if (items_[n].revents & ZMQ_POLLIN) drain_dealer(n, now);
    for (std::uint32_t i = 0; i < watchers_.size(); ++i)
        if (items_[nodes + i].revents & ZMQ_POLLIN) drain_subscriber(i, now);
    if (now >= next_scan_ns_) scan(now);
}

void WatchFanoutWorker::drain_subscriber(std::uint32_t index, std::int64_t now) {
    zmq::socket_t& sub = subscribers_[index];
    for (int n = 0; n < messages_per_turn_max; ++n) {
        if (!sub.recv(topic_, zmq::recv_flags::dontwait)) return;
        if (!topic_.more()) continue;
        if (!sub.recv(body_, zmq::recv_flags::dontwait)) return;
        while (body_.more()) {  // not a v1 message: drop the rest
            zmq::message_t extra;
            if (!sub.recv(extra, zmq::recv_flags::dontwait)) break;
        }
        if (starts_with(topic_, "hb/")) {
            on_heartbeat(index, body_);
        } else {
            on_event(index, body_, now);
        }
    }
}

void WatchFanoutWorker::on_event(std::uint32_t index, const zmq::message_t& body,
                                 std::int64_t now) {
    const std::optional<SkimmedEvent> event = skim_event(body.data(), body.size());
    if (!event) {
        ++result_.bad_frames;
        return;
    }
    Watcher& watcher = watchers_[index];
    if (!exact_) {
        if (event->revision >= shared_.start_revision) deliver(watcher, *event, now);
        return;
    }
    watcher.announced = std::max(watcher.announced, event->revision);
    if (watcher.answered && event->revision > watcher.covered) want_watch_from(index);
}

void WatchFanoutWorker::on_heartbeat(std::uint32_t index, const zmq::message_t& body) {
    const std::optional<std::uint64_t> applied = skim_applied_index(body.data(), body.size());
    if (!applied) {
        ++result_.bad_frames;
        return;
    }
    Watcher& watcher = watchers_[index];
    watcher.heard = true;
    watcher.announced = std::max(watcher.announced, *applied);
    if (exact_ && watcher.answered && *applied > watcher.covered) want_watch_from(index);
    check_progress(index);
}

void WatchFanoutWorker::drain_dealer(std::uint32_t node, std::int64_t now) {
    zmq::socket_t& dealer = dealers_[node];
    while (dealer.recv(delimiter_, zmq::recv_flags::dontwait)) {
        if (delimiter_.size() != 0 || !delimiter_.more() ||
            !dealer.recv(body_, zmq::recv_flags::dontwait)) {
            ++result_.bad_frames;
            while (delimiter_.more() && dealer.recv(delimiter_, zmq::recv_flags::dontwait)) {
            }
            continue;
        }
        while (body_.more()) {
            zmq::message_t extra;
            if (!dealer.recv(extra, zmq::recv_flags::dontwait)) break;
        }
        on_reply(body_, now);
    }
}

void WatchFanoutWorker::on_reply(const zmq::message_t& body, std::int64_t now) {
    if (!skim_watch_reply(body.data(), body.size(), reply_)) {
        ++result_.bad_frames;
        return;
    }
    const auto index = static_cast<std::uint32_t>(reply_.id & 0xffffffffU);
    const auto generation = static_cast<std::uint32_t>(reply_.id >> 32);
    if (index >= watchers_.size()) {
        ++result_.bad_frames;
        return;
    }
    Watcher& watcher = watchers_[index];
    if (!watcher.outstanding || watcher.generation != generation) return;  // timed out before
    watcher.outstanding = false;
    ++watcher.generation;
    if (!reply_.ok && reply_.error != wire::error_compacted) {
        ++result_.error_replies;
        watcher.retry_at_ns = now + retry_delay_ns;
        want_watch_from(index);
        return;
    }
    if (!reply_.ok) ++result_.compacted;  // skipped to the applied index: those are lost
    for (const SkimmedEvent& event : reply_.events) deliver(watcher, event, now);
    watcher.covered = std::max(watcher.covered, reply_.revision);
    watcher.answered = true;
    after_reply(index);
}

void WatchFanoutWorker::after_reply(std::uint32_t index) {
    check_progress(index);
    const Watcher& watcher = watchers_[index];
    if (reply_.more || watcher.announced > watcher.covered) want_watch_from(index);
}

void WatchFanoutWorker::want_watch_from(std::uint32_t index) {
    Watcher& watcher = watchers_[index];
    if (watcher.outstanding || watcher.wanted) return;  // one at a time; the reply follows up
    watcher.wanted = true;
    wanted_.push_back(index);
}

void WatchFanoutWorker::send_wanted(std::int64_t now) {
    if (wanted_.empty()) return;
    sending_.swap(wanted_);
    wanted_.clear();
    for (const std::uint32_t index : sending_) {
        Watcher& watcher = watchers_[index];
        if (watcher.retry_at_ns > now || !send_watch_from(index, now)) {
            wanted_.push_back(index);  // still wanted: next turn
            continue;
        }
        watcher.wanted = false;
    }
    sending_.clear();
}

bool WatchFanoutWorker::send_watch_from(std::uint32_t index, std::int64_t now) {
    Watcher& watcher = watchers_[index];
    CABILDO_ASSERT(!watcher.outstanding, "a second watch_from for one watcher");
    request_.from = watcher.covered + 1;
    request_.id = msgpack_uint64((std::uint64_t{watcher.generation} << 32) | index);
    const std::string frame = wire::encode_request(request_);
    zmq::socket_t& dealer = dealers_[watcher.node];
    zmq::message_t delimiter;
    if (!dealer.send(delimiter, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    (void)dealer.send(zmq::buffer(frame), zmq::send_flags::dontwait);  // queued with its delimiter
    watcher.outstanding = true;
    watcher.sent_ns = now;
    ++result_.watch_from_calls;
    return true;
}

void WatchFanoutWorker::deliver(Watcher& watcher, const SkimmedEvent& event, std::int64_t now) {
    if (event.revision <= watcher.covered) {
        ++result_.duplicates;
        return;
    }
    watcher.covered = event.revision;
    ++delivered_;
    std::vector<std::uint32_t>& counts = result_.delivered_by_revision;
    const std::uint64_t at = event.revision - shared_.start_revision;
    if (at >= revisions_tracked_max) {
        ++result_.delivered_untracked;
    } else {
        if (at >= counts.size())
            counts.resize(std::min<std::size_t>(revisions_tracked_max,
                                                std::max<std::size_t>(at + 1, 2 * counts.size())));
        ++counts[at];
    }
    if (const std::optional<std::int64_t> sent_ns = leading_number(event.value))
        result_.lag.record(now - *sent_ns);
}

void WatchFanoutWorker::check_progress(std::uint32_t index) {
    Watcher& watcher = watchers_[index];
    if (!watcher.set_up && watcher.heard && (!exact_ || watcher.answered)) {
        watcher.set_up = true;
        shared_.set_up.fetch_add(1, std::memory_order_relaxed);
    }
    const std::uint64_t target = shared_.target_revision.load(std::memory_order_relaxed);
    if (target == 0 || watcher.caught_up || !watcher.set_up) return;
    if ((exact_ ? watcher.covered : watcher.announced) < target) return;
    watcher.caught_up = true;
    shared_.caught_up.fetch_add(1, std::memory_order_relaxed);
}

void WatchFanoutWorker::scan(std::int64_t now) {
    next_scan_ns_ = now + scan_interval_ns;
    const std::int64_t timeout_ns = options_.request_timeout.count();
    for (std::uint32_t index = 0; index < watchers_.size(); ++index) {
        Watcher& watcher = watchers_[index];
        if (watcher.outstanding && now - watcher.sent_ns >= timeout_ns) {
            watcher.outstanding = false;
            ++watcher.generation;
            ++result_.timeouts;
            want_watch_from(index);
        }
        check_progress(index);
    }
    shared_.delivered.fetch_add(delivered_ - delivered_published_, std::memory_order_relaxed);
    delivered_published_ = delivered_;
}

}  // namespace cabildo::client::bench
