// WatchPutter (watch_putter.h): one poll loop that sends what is due and
// takes the replies.
#include "client/bench/watch_putter.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "client/bench/request_template.h"
#include "wire/protocol.h"

namespace cabildo::client::bench {
namespace {

constexpr std::size_t key_digits = 6;
// One int64 of send time per scheduled put is kept: bound the memory.
constexpr std::uint64_t scheduled_max = 50'000'000;
constexpr int dealer_hwm = 100'000;
constexpr std::int64_t poll_ms_max = 10;



}  // namespace

WatchPutter::WatchPutter(zmq::context_t& context, const BenchOptions& options,
                         LiveCounters& live)
    : options_(options), live_(live), rng_(options.seed) {
    for (const std::string& endpoint : options.endpoints) {
        zmq::socket_t& dealer = dealers_.emplace_back(context, zmq::socket_type::dealer);
        dealer.set(zmq::sockopt::linger, 0);
        dealer.set(zmq::sockopt::sndhwm, dealer_hwm);
        dealer.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(wire::reply_frame_bytes_max));
        apply_curve(dealer, options.curve);
        dealer.connect(endpoint);
    }
    for (zmq::socket_t& dealer : dealers_) items_.push_back({dealer.handle(), 0, ZMQ_POLLIN, 0});
    const double planned = std::ceil(options.rate * std::chrono::duration<double>(options.duration).count());
    result_.scheduled = std::min<std::uint64_t>(static_cast<std::uint64_t>(planned), scheduled_max);
    sent_ns_.assign(result_.scheduled, 0);
    result_.revisions.reserve(result_.scheduled);
    request_.op = wire::Op::put;
    request_.timeout_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options.request_timeout).count(), 1,
        wire::timeout_ms_max));
}

std::int64_t WatchPutter::due_ns(std::uint64_t number) const {
    return start_ns_ + static_cast<std::int64_t>(static_cast<double>(number) * 1e9 / options_.rate);
}

std::uint64_t WatchPutter::next_key_number() { return next_random(rng_) % options_.key_space; }

void WatchPutter::run(const std::atomic<bool>& stop) {
    start_ns_ = now_ns();
    const std::int64_t timeout_ns = options_.request_timeout.count();
    // Sending stops here even when the schedule fell behind: the rest is not_sent.
    const std::int64_t end_ns = start_ns_ + options_.duration.count();
    while (!stop.load(std::memory_order_relaxed)) {
        std::int64_t now = now_ns();
        if (now < end_ns) send_due(now);
        const bool all_sent = next_ >= result_.scheduled || now >= end_ns;
        if (all_sent && (inflight_ == 0 || now - last_send_ns_ > timeout_ns)) break;
        std::int64_t wait_ns = poll_ms_max * 1'000'000;
        if (!all_sent && inflight_ < inflight_puts_max)
            wait_ns = std::clamp<std::int64_t>(due_ns(next_) - now, 0, wait_ns);
        zmq::poll(items_, std::chrono::milliseconds((wait_ns + 999'999) / 1'000'000));
        now = now_ns();
        for (std::size_t i = 0; i < items_.size(); ++i)
            if (items_[i].revents & ZMQ_POLLIN) receive(dealers_[i], now);
        expire(now);
    }
    result_.send_s = static_cast<double>(last_send_ns_ - start_ns_) / 1e9;
    result_.not_sent = result_.scheduled - result_.sent;
}

void WatchPutter::send_due(std::int64_t now) {
    while (next_ < result_.scheduled && inflight_ < inflight_puts_max) {
        const std::int64_t due = due_ns(next_);
        if (due > now) return;
        result_.send_lag_ms_max =
            std::max(result_.send_lag_ms_max, static_cast<double>(now - due) / 1e6);
        if (!send_put(next_, now)) return;  // the socket is backlogged: try again next turn
        ++next_;
    }
}

bool WatchPutter::send_put(std::uint64_t number, std::int64_t now) {
    value_ = std::to_string(now);
    if (value_.size() < options_.value_size) value_.resize(options_.value_size, 'x');
    request_.key = numbered_key(watch_key_prefix, next_key_number(), key_digits);
    request_.value = value_;
    request_.id = msgpack_uint64(number);
    const std::string frame = wire::encode_request(request_);
    zmq::socket_t& dealer = dealers_[number % dealers_.size()];
    zmq::message_t delimiter;
    if (!dealer.send(delimiter, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    (void)dealer.send(zmq::buffer(frame), zmq::send_flags::dontwait);  // queued with its delimiter
    sent_ns_[number] = now;
    outstanding_.push_back(number);
    ++inflight_;
    last_send_ns_ = now;
    live_.sent.store(++result_.sent, std::memory_order_relaxed);
    return true;
}

void WatchPutter::receive(zmq::socket_t& socket, std::int64_t now) {
    while (socket.recv(delimiter_, zmq::recv_flags::dontwait)) {
        if (delimiter_.size() != 0 || !delimiter_.more() ||
            !socket.recv(body_, zmq::recv_flags::dontwait)) {
            ++result_.errors[static_cast<std::size_t>(ErrorKind::bad_reply)];
            while (delimiter_.more() && socket.recv(delimiter_, zmq::recv_flags::dontwait)) {
            }
            continue;
        }
        while (body_.more()) {  // extra frames: not v1; drop them
            zmq::message_t extra;
            if (!socket.recv(extra, zmq::recv_flags::dontwait)) break;
        }
        on_reply(body_, now);
    }
}

void WatchPutter::on_reply(const zmq::message_t& body, std::int64_t now) {
    const Result<wire::ClientReply> reply = wire::decode_reply(body.data(), body.size());
    std::uint64_t number = 0;
    if (!reply.ok() || !read_msgpack_uint(reply->id, number) || number >= sent_ns_.size()) {
        ++result_.errors[static_cast<std::size_t>(ErrorKind::bad_reply)];
        live_.errors.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (sent_ns_[number] <= 0) return;  // expired already: a late reply
    const std::int64_t latency_ns = now - sent_ns_[number];
    sent_ns_[number] = -1;
    --inflight_;
    if (!reply->ok) {
        ++result_.errors[static_cast<std::size_t>(error_kind_for_code(reply->error))];
        live_.errors.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    ++result_.ok;
    result_.latency.record(latency_ns);
    result_.revisions.push_back(reply->revision);
    result_.revision_max = std::max(result_.revision_max, reply->revision);
    live_.ok.store(result_.ok, std::memory_order_relaxed);
}

void WatchPutter::expire(std::int64_t now) {
    const std::int64_t timeout_ns = options_.request_timeout.count();
    while (!outstanding_.empty()) {
        const std::uint64_t number = outstanding_.front();
        if (sent_ns_[number] > 0 && now - sent_ns_[number] < timeout_ns) return;
        outstanding_.pop_front();
        if (sent_ns_[number] <= 0) continue;  // answered
        sent_ns_[number] = -1;
        --inflight_;
        ++result_.errors[static_cast<std::size_t>(ErrorKind::client_timeout)];
        live_.errors.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace cabildo::client::bench
