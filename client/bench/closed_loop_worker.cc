// ClosedLoopWorker (closed_loop_worker.h): the hot loop of `cabildo bench`.
#include "client/bench/request_template.h"
#include "client/bench/closed_loop_worker.h"

#include <algorithm>
#include <array>
#include <chrono>

#include "node/raft/assert.h"
#include "wire/protocol.h"

namespace cabildo::client::bench {
namespace {

constexpr std::int64_t scan_interval_ns = 10'000'000;
// A client that got no_leader / unavailable / timeout waits this long.
constexpr std::int64_t retry_later_delay_ns = 20'000'000;
// Keys are "key-%06d".
constexpr std::size_t key_digits = 6;



// Lowercase letters only, so no key or id placeholder can occur in a value.
std::string make_value(std::uint32_t size, std::uint64_t seed) {
    std::string value(size, 'a');
    for (char& c : value) c = static_cast<char>('a' + next_random(seed) % 26);
    return value;
}

}  // namespace

ClosedLoopWorker::ClosedLoopWorker(zmq::context_t& context, const BenchOptions& options,
                                   const ClosedLoopPlan& plan, ClosedLoopShared& shared,
                                   LiveCounters& live, std::vector<ConnectionSpec> connections)
    : context_(context), options_(options), plan_(plan), shared_(shared), live_(live) {
    build_slots(connections);
    for (ConnectionSpec& spec : connections)
        connections_.push_back(Connection{std::move(spec.endpoint), zmq::socket_t()});
}

void ClosedLoopWorker::build_slots(const std::vector<ConnectionSpec>& specs) {
    const std::string value = make_value(options_.value_size, options_.seed);
    wire::ClientRequest put;
    put.op = wire::Op::put;
    put.key = numbered_key("key-", 0, key_digits);
    put.value = value;
    wire::ClientRequest get;
    get.op = wire::Op::get;
    get.key = put.key;
    get.consistency = options_.consistency;
    const RequestTemplate put_template(put, key_digits, true);
    const RequestTemplate get_template(get, key_digits, true);
    session_request_ = put;
    for (std::uint32_t c = 0; c < specs.size(); ++c) {
        for (const std::uint32_t client : specs[c].clients) {
            Slot slot;
            slot.connection = c;
            slot.rng = options_.seed * 0x100000001b3ULL + client + 1;
            slot.session = options_.sessions ? next_random(slot.rng) | 1 : 0;
            slot.put = put_template;
            slot.get = get_template;
            slots_.push_back(std::move(slot));
        }
    }
}

void ClosedLoopWorker::open_socket(Connection& connection) {
    const auto type = options_.socket == SocketKind::dealer ? zmq::socket_type::dealer
                                                            : zmq::socket_type::req;
    connection.socket = zmq::socket_t(context_, type);
    connection.socket.set(zmq::sockopt::linger, 0);
    connection.socket.set(zmq::sockopt::maxmsgsize,
                          static_cast<std::int64_t>(wire::reply_frame_bytes_max));
    apply_curve(connection.socket, options_.curve);
    connection.socket.connect(connection.endpoint);
    items_stale_ = true;
}

void ClosedLoopWorker::run() {
    for (Connection& connection : connections_) open_socket(connection);
    active_ = static_cast<std::uint32_t>(slots_.size());
    for (std::uint32_t i = 0; i < slots_.size(); ++i) ready_.push_back(i);
    const std::int64_t deadline_ns = shared_.start_ns + plan_.duration.count();
    while (active_ > 0) {
        std::int64_t now = now_ns();
        if (!stopping_ && plan_.count == 0 && now >= deadline_ns) {
            stopping_ = true;
            for (const auto& [wake_ns, index] : delayed_) ready_.push_back(index);
            delayed_.clear();
        }
        send_ready(now);
        if (active_ == 0) break;
        if (items_stale_) {
            items_.clear();
            for (Connection& c : connections_) items_.push_back({c.socket.handle(), 0, ZMQ_POLLIN, 0});
            items_stale_ = false;
        }
        zmq::poll(items_, std::chrono::milliseconds(poll_timeout_ms(now)));
        now = now_ns();
        for (std::uint32_t c = 0; c < items_.size(); ++c)
            if (items_[c].revents & ZMQ_POLLIN) receive(c, now);
        if (now >= next_scan_ns_) scan(now);
    }
    for (Connection& connection : connections_) connection.socket.close();
}

int ClosedLoopWorker::poll_timeout_ms(std::int64_t now_ns) const {
    if (!ready_.empty()) return 1;  // a send would have blocked: try again soon
    std::int64_t until = next_scan_ns_ - now_ns;
    if (!stopping_ && plan_.count == 0)
        until = std::min(until, shared_.start_ns + plan_.duration.count() - now_ns);
    return static_cast<int>(std::clamp<std::int64_t>((until + 999'999) / 1'000'000, 0, 10));
}

void ClosedLoopWorker::send_ready(std::int64_t now_ns) {
    sending_.swap(ready_);
    ready_.clear();
    for (const std::uint32_t index : sending_) {
        Slot& slot = slots_[index];
        if (stopping_) {
            finish(index);
            continue;
        }
        if (!slot.holds_ticket) {
            slot.ticket = shared_.tickets.fetch_add(1, std::memory_order_relaxed);
            if (plan_.count > 0 && slot.ticket >= plan_.count) {
                finish(index);
                continue;
            }
            slot.holds_ticket = true;
        }
        if (!try_send(index, now_ns)) ready_.push_back(index);
    }
    sending_.clear();
}

std::string_view ClosedLoopWorker::next_frame(Slot& slot, std::uint32_t index) {
    const std::uint64_t key_number = plan_.sequential_keys
                                         ? slot.ticket % options_.key_space
                                         : next_random(slot.rng) % options_.key_space;
    bool read = plan_.mode == BenchMode::get;
    if (plan_.mode == BenchMode::mixed)
        read = static_cast<double>(next_random(slot.rng) >> 11) * 0x1.0p-53 < options_.read_ratio;
    const std::uint64_t id = (std::uint64_t{slot.generation} << 32) | index;
    if (plan_.mode == BenchMode::txn || plan_.mode == BenchMode::keepalive ||
        plan_.mode == BenchMode::lease_grant || (!read && options_.attach_leases)) {
        return lease_or_txn_frame(slot, key_number, id);
    }
    if (!read && options_.sessions) {
        // The seq changes the encoding's width: encode afresh (allocates).
        session_request_.key = numbered_key("key-", key_number, key_digits);
        session_request_.session = slot.session;
        session_request_.seq = ++slot.seq;
        session_request_.id = msgpack_uint64(id);
        session_frame_ = wire::encode_request(session_request_);
        return session_frame_;
    }
    RequestTemplate& request = read ? slot.get : slot.put;
    request.set_key_number(key_number);
    request.set_id(id);
    return request.frame();
}

// Encoded afresh each time (allocates): these shapes have no template.
std::string_view ClosedLoopWorker::lease_or_txn_frame(Slot& slot, std::uint64_t key_number,
                                                      std::uint64_t id) {
    wire::ClientRequest request;
    if (plan_.mode == BenchMode::txn) {
        request.op = wire::Op::txn;
        request.txn.emplace();
        const std::string key = numbered_key("key-", key_number, key_digits);
        const std::string next = numbered_key("key-", (key_number + 1) % options_.key_space,
                                              key_digits);
        const std::uint64_t always = std::uint64_t{1} << 62;
        request.txn->compare = {
            {key, wire::CompareTarget::version, wire::CompareResult::lt, "", always},
            {next, wire::CompareTarget::mod_revision, wire::CompareResult::lt, "", always}};
        request.txn->success = {
            {wire::Op::put, key, *session_request_.value, 0, false, false, 1000},
            {wire::Op::put, next, *session_request_.value, 0, false, false, 1000}};
    } else if (plan_.mode == BenchMode::put || plan_.mode == BenchMode::mixed) {
        request.op = wire::Op::put;
        request.key = numbered_key("key-", key_number, key_digits);
        request.value = *session_request_.value;
        request.lease = key_number + 1;
    } else {
        request.op = plan_.mode == BenchMode::keepalive ? wire::Op::lease_keepalive
                                                        : wire::Op::lease_grant;
        request.lease = key_number + 1;
        if (plan_.mode == BenchMode::lease_grant) request.ttl_ms = options_.lease_ttl_ms;
    }
    if (options_.sessions) {
        request.session = slot.session;
        request.seq = ++slot.seq;
    }
    request.id = msgpack_uint64(id);
    session_frame_ = wire::encode_request(request);
    return session_frame_;
}

bool ClosedLoopWorker::try_send(std::uint32_t index, std::int64_t now_ns) {
    Slot& slot = slots_[index];
    zmq::socket_t& socket = connections_[slot.connection].socket;
    const std::string_view frame = next_frame(slot, index);
    if (options_.socket == SocketKind::dealer) {
        zmq::message_t delimiter;
        if (!socket.send(delimiter, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
            if (options_.sessions && slot.seq > 0) --slot.seq;  // not sent: reuse the seq
            return false;
        }
    }
    // The delimiter went out, so the body is queued with it (one atomic message).
    if (!socket.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)) {
        CABILDO_ASSERT(options_.socket == SocketKind::req, "dealer body refused after its delimiter");
        if (options_.sessions && slot.seq > 0) --slot.seq;
        return false;
    }
    slot.outstanding = true;
    slot.holds_ticket = false;
    slot.sent_ns = now_ns;
    ++outstanding_;
    return true;
}

void ClosedLoopWorker::receive(std::uint32_t connection, std::int64_t now_ns) {
    zmq::socket_t& socket = connections_[connection].socket;
    const bool dealer = options_.socket == SocketKind::dealer;
    while (true) {
        zmq::message_t& first = dealer ? delimiter_ : body_;
        if (!socket.recv(first, zmq::recv_flags::dontwait)) return;
        if (dealer) {
            if (first.size() != 0 || !first.more() ||
                !socket.recv(body_, zmq::recv_flags::dontwait)) {
                count_error(ErrorKind::bad_reply);
                while (first.more() && socket.recv(first, zmq::recv_flags::dontwait)) {
                }
                continue;
            }
        }
        while (body_.more()) {  // extra frames: not v1; drop them
            zmq::message_t extra;
            if (!socket.recv(extra, zmq::recv_flags::dontwait)) break;
        }
        on_reply(connection, body_, now_ns);
        if (!dealer) return;  // a REQ socket holds one reply
    }
}

void ClosedLoopWorker::on_reply(std::uint32_t connection, const zmq::message_t& body,
                                std::int64_t now_ns) {
    const Result<wire::ClientReply> reply = wire::decode_reply(body.data(), body.size());
    std::uint64_t id = 0;
    if (!reply.ok() || !read_msgpack_uint(reply->id, id)) {
        count_error(ErrorKind::bad_reply);
        return;
    }
    const auto index = static_cast<std::uint32_t>(id & 0xffffffffU);
    const auto generation = static_cast<std::uint32_t>(id >> 32);
    if (index >= slots_.size()) {
        count_error(ErrorKind::bad_reply);
        return;
    }
    const Slot& slot = slots_[index];
    if (!slot.outstanding || slot.generation != generation || slot.connection != connection)
        return;  // a late reply to a request that already timed out
    complete(index, now_ns, reply->ok, reply->ok ? ErrorKind::other_code
                                                 : error_kind_for_code(reply->error));
}

void ClosedLoopWorker::complete(std::uint32_t index, std::int64_t now_ns, bool ok,
                                ErrorKind kind) {
    Slot& slot = slots_[index];
    slot.outstanding = false;
    ++slot.generation;
    --outstanding_;
    if (ok) {
        result_.latency.record(now_ns - slot.sent_ns);
        ++result_.ok;
        live_.ok.store(result_.ok, std::memory_order_relaxed);
        ready_.push_back(index);
        return;
    }
    count_error(kind);
    if (is_retry_later(kind) && !stopping_)
        delayed_.emplace_back(now_ns + retry_later_delay_ns, index);
    else
        ready_.push_back(index);
}

void ClosedLoopWorker::count_error(ErrorKind kind) {
    ++result_.errors[static_cast<std::size_t>(kind)];
    live_.errors.fetch_add(1, std::memory_order_relaxed);
}

void ClosedLoopWorker::scan(std::int64_t now_ns) {
    next_scan_ns_ = now_ns + scan_interval_ns;
    const std::int64_t timeout_ns = options_.request_timeout.count();
    for (std::uint32_t index = 0; index < slots_.size(); ++index) {
        Slot& slot = slots_[index];
        if (!slot.outstanding || now_ns - slot.sent_ns < timeout_ns) continue;
        // Lazy Pirate: a REQ socket waiting for a reply cannot send again.
        if (options_.socket == SocketKind::req) open_socket(connections_[slot.connection]);
        complete(index, now_ns, false, ErrorKind::client_timeout);
    }
    auto due = [now_ns](const auto& entry) { return entry.first <= now_ns; };
    for (const auto& entry : delayed_)
        if (due(entry)) ready_.push_back(entry.second);
    std::erase_if(delayed_, due);
}

void ClosedLoopWorker::finish(std::uint32_t index) {
    Slot& slot = slots_[index];
    CABILDO_ASSERT(!slot.outstanding, "finishing a client with a request in flight");
    if (slot.finished) return;
    slot.finished = true;
    --active_;
}

}  // namespace cabildo::client::bench
