// Watcher: exact prefix watches over watch_from with the commit stream as a
// doorbell (watcher.h, PROTOCOL.md §10).
#include "client/watcher.h"

#include <cerrno>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

#include "client/client.h"
#include "client/leader_rpc.h"
#include "client/request_once.h"
#include "wire/protocol.h"

namespace cabildo::client {

namespace {

using Clock = std::chrono::steady_clock;

// Stream messages read per drain before going back to watch_from: one
// doorbell is enough, the rest only tell the same thing.
constexpr std::size_t stream_messages_per_drain_max = 10000;
// A published event is at most a key, a 1 MiB value and a few bytes of map;
// a heartbeat is a status map. Anything bigger is cut off by ZeroMQ.
constexpr std::int64_t stream_message_bytes_max =
    static_cast<std::int64_t>(wire::reply_frame_bytes_max);
// The SUB queue only rings the bell, so a small one loses nothing that
// matters; it bounds memory when the watcher is slow.
constexpr int stream_queue_messages_max = 10000;

constexpr std::string_view event_topic_prefix = "kv/";
constexpr std::string_view heartbeat_topic_prefix = "hb/";

WatchOptions normalized(WatchOptions options) {
    if (options.endpoints.empty())
        options.endpoints = default_endpoints();
    options.events_per_request_max =
        std::clamp(options.events_per_request_max, std::uint32_t{1}, wire::range_limit_max);
    return options;
}

std::chrono::milliseconds until(Clock::time_point when, Clock::time_point now) {
    return std::max(std::chrono::milliseconds{0},
                    std::chrono::ceil<std::chrono::milliseconds>(when - now));
}

bool is_switch_status(Status status) {
    return status == Status::timeout || status == Status::unavailable ||
           status == Status::no_leader || status == Status::io_error;
}

}  // namespace

std::optional<std::string> pub_endpoint_for(std::string_view client_endpoint) {
    constexpr std::string_view scheme = "tcp://";
    if (!client_endpoint.starts_with(scheme))
        return std::nullopt;
    const std::size_t colon = client_endpoint.rfind(':');
    if (colon == std::string_view::npos || colon < scheme.size())
        return std::nullopt;
    const std::string_view port_text = client_endpoint.substr(colon + 1);
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port >= 65535)
        return std::nullopt;
    return fmt::format("{}:{}", client_endpoint.substr(0, colon), port + 1);
}

Watcher::Watcher(WatchOptions options)
    : options_(normalized(std::move(options))), context_(1), created_(Clock::now()) {
    CABILDO_ASSERT(!options_.endpoints.empty(), "a watcher needs an endpoint");
    covered_ = options_.from_revision == 0 ? 0 : options_.from_revision - 1;
    started_ = options_.from_revision != 0;
}

Result<std::vector<wire::Event>> Watcher::next(std::chrono::milliseconds wait) {
    const Clock::time_point deadline = Clock::now() + wait;
    resynced_ = false;
    while (true) {
        if (std::optional<Error> error = check_unanswered())
            return *error;
        if (!subscriber_ && connect_current() != Status::ok) {
            return Error{Status::bad_request,
                         fmt::format("{}: no PUB endpoint can be derived from it", endpoint())};
        }
        if (!started_ || catch_up_pending_) {
            if (!started_) {
                if (std::optional<Error> error = learn_start_revision(deadline))
                    return *error;
            } else {
                Result<std::vector<wire::Event>> batch = fetch();
                if (!batch) {
                    if (std::optional<Error> error = on_refusal(batch.error(), deadline))
                        return *error;
                } else if (!batch->empty() || resynced_) {
                    return batch;
                }
            }
            // A node that failed costs one request; do not start another late.
            if (!subscriber_ && Clock::now() >= deadline)
                return std::vector<wire::Event>{};
            continue;
        }
        wait_for_doorbell(deadline);
        if (subscriber_ && !catch_up_pending_ && Clock::now() >= deadline)
            return std::vector<wire::Event>{};
    }
}

// Step 1 of the recipe: subscribe FIRST, so that whatever is published while
// watch_from runs waits in the SUB queue. The grace period for the first
// heartbeat starts now.
Status Watcher::connect_current() {
    const std::optional<std::string> pub = pub_endpoint_for(endpoint());
    if (!pub)
        return Status::bad_request;
    subscriber_.emplace(context_, zmq::socket_type::sub);
    zmq::socket_t& socket = *subscriber_;
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, stream_message_bytes_max);
    socket.set(zmq::sockopt::rcvhwm, stream_queue_messages_max);
    socket.set(zmq::sockopt::subscribe, std::string(event_topic_prefix) + options_.prefix);
    socket.set(zmq::sockopt::subscribe, heartbeat_topic_prefix);
    apply_curve(socket, options_.curve);
    socket.connect(*pub);
    last_heartbeat_ = Clock::now();
    catch_up_pending_ = true;
    return Status::ok;
}

// Step 4: the next node, from the same covered revision. Closing the SUB
// socket discards what the old node sent, so a stale heartbeat cannot make
// the new node look alive.
void Watcher::switch_node() {
    subscriber_.reset();
    current_ = (current_ + 1) % options_.endpoints.size();
    ++node_switches_;
}

// One request to the watched node. The reply may be a refusal (ok false).
Result<wire::ClientReply> Watcher::ask(const wire::ClientRequest& request) {
    Result<wire::ClientReply> reply =
        request_once(context_, endpoint(), wire::encode_request(request),
                     options_.request_timeout, options_.curve);
    if (reply)
        answered_ = true;
    return reply;
}

Error Watcher::refusal(const wire::ClientReply& reply) const {
    return Error{status_for_error_code(reply.error),
                 fmt::format("{}: {}: {}", endpoint(), reply.error, reply.message)};
}

// A failed request: a node that cannot serve us now is left for the next
// one; anything else is the caller's problem (permission_denied among them:
// every node would refuse it again).
std::optional<Error> Watcher::on_refusal(const Error& error, Clock::time_point deadline) {
    if (!is_switch_status(error.status))
        return error;
    switch_node();
    // A timeout has waited already; a refusal came back at once.
    if (error.status != Status::timeout) {
        const auto delay = std::min(backoff_.next_delay(), until(deadline, Clock::now()));
        if (delay.count() > 0)
            std::this_thread::sleep_for(delay);
    }
    return std::nullopt;
}

std::optional<Error> Watcher::check_unanswered() const {
    if (answered_ || options_.unanswered_max.count() == 0)
        return std::nullopt;
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - created_);
    if (waited < options_.unanswered_max)
        return std::nullopt;
    return Error{Status::unavailable,
                 fmt::format("no node answered in {} ms ({} endpoint(s), {} switch(es)); {}",
                             waited.count(), options_.endpoints.size(), node_switches_,
                             no_answer_hint(options_.curve.has_value()))};
}

// from_revision 0: start after what the watched node has applied. The SUB
// socket is already subscribed, so nothing after that point is missed.
std::optional<Error> Watcher::learn_start_revision(Clock::time_point deadline) {
    wire::ClientRequest request;
    request.op = wire::Op::status;
    Result<wire::ClientReply> reply = ask(request);
    if (!reply)
        return on_refusal(reply.error(), deadline);
    if (!reply->ok)
        return on_refusal(refusal(*reply), deadline);
    backoff_.reset();
    covered_ = reply->status ? reply->status->applied_index : reply->revision;
    started_ = true;
    catch_up_pending_ = true;
    return std::nullopt;
}

// Steps 2 and 3: one watch_from from covered + 1. Events at or below covered_
// are dropped, so no node can make the watcher repeat itself.
Result<std::vector<wire::Event>> Watcher::fetch() {
    wire::ClientRequest request;
    request.op = wire::Op::watch_from;
    request.prefix = options_.prefix;
    request.from = covered_ + 1;
    request.limit = options_.events_per_request_max;
    Result<wire::ClientReply> reply = ask(request);
    if (!reply)
        return reply.error();
    if (!reply->ok && reply->error == wire::error_compacted)
        return resync();
    if (!reply->ok)
        return refusal(*reply);
    backoff_.reset();
    std::vector<wire::Event> batch;
    for (wire::Event& event : reply->events.value_or(std::vector<wire::Event>{})) {
        if (event.revision <= covered_ || event.revision > reply->revision)
            continue;
        // One revision may hold several events (a txn, a lease that ended),
        // all in one reply: only an earlier revision is out of order.
        if (!batch.empty() && event.revision < batch.back().revision)
            continue;
        batch.push_back(std::move(event));
    }
    if (!batch.empty())
        covered_ = batch.back().revision;
    // A node behind us answers with its own lower applied index: never go back.
    covered_ = std::max(covered_, reply->revision);
    catch_up_pending_ = reply->more.value_or(false);
    return batch;
}

// Step 5: the events wanted are gone; the prefix as it is now replaces them.
Result<std::vector<wire::Event>> Watcher::resync() {
    wire::ClientRequest request;
    request.op = wire::Op::range;
    request.prefix = options_.prefix;
    request.limit = wire::range_limit_max;
    request.consistency = wire::Consistency::serializable;
    Result<wire::ClientReply> reply = ask(request);
    if (!reply)
        return reply.error();
    if (!reply->ok)
        return refusal(*reply);
    if (!reply->range)
        return Error{Status::io_error, fmt::format("{}: range reply without kvs", endpoint())};
    if (reply->range->more) {
        return Error{Status::too_large,
                     fmt::format("cannot resync: more than {} keys under the prefix",
                                 wire::range_limit_max)};
    }
    std::vector<wire::Event> snapshot;
    for (wire::KeyValue& kv : reply->range->kvs) {
        snapshot.push_back(
            wire::Event{reply->revision, false, std::move(kv.key), std::move(kv.value), kv.meta});
    }
    covered_ = std::max(covered_, reply->revision);
    resynced_ = true;
    catch_up_pending_ = true;
    return snapshot;
}

// Step 3: sleeps on the SUB socket until it rings (catch_up_pending_), the
// deadline passes, or the node has been silent too long (switch_node()).
// Queued messages are read BEFORE the silence check: heartbeats that arrived
// during a long catch-up still count.
void Watcher::wait_for_doorbell(Clock::time_point deadline) {
    while (true) {
        drain_subscriber();
        if (catch_up_pending_)
            return;
        const Clock::time_point now = Clock::now();
        const Clock::time_point silent_at = last_heartbeat_ + options_.silence_timeout;
        if (now >= silent_at) {
            switch_node();
            return;
        }
        if (now >= deadline)
            return;
        std::vector<zmq::pollitem_t> items{{subscriber_->handle(), 0, ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, until(std::min(deadline, silent_at), now));
        } catch (const zmq::error_t& error) {
            // A signal (Ctrl-C on `cabildo watch`): return, so the caller
            // can look at its flag. (It used to end the process.)
            if (error.num() != EINTR) throw;
            return;
        }
    }
}

void Watcher::drain_subscriber() {
    for (std::size_t i = 0; i < stream_messages_per_drain_max; ++i) {
        zmq::message_t topic;
        if (!subscriber_->recv(topic, zmq::recv_flags::dontwait))
            return;
        zmq::message_t body;
        bool complete = topic.more() && subscriber_->recv(body, zmq::recv_flags::dontwait);
        // Skip any further frames: a v1 stream message has exactly two.
        bool more = complete && body.more();
        while (more) {
            zmq::message_t extra;
            more = subscriber_->recv(extra, zmq::recv_flags::dontwait) && extra.more();
            complete = false;
        }
        if (complete)
            on_stream_message(topic.to_string_view(), body);
    }
}

// The stream is untrusted and lossy: a message that does not decode is
// ignored, and one that decodes only rings the bell.
void Watcher::on_stream_message(std::string_view topic, const zmq::message_t& body) {
    if (topic.starts_with(heartbeat_topic_prefix)) {
        Result<wire::ClientReply> heartbeat = wire::decode_reply(body.data(), body.size());
        if (!heartbeat || !heartbeat->status)
            return;
        last_heartbeat_ = Clock::now();
        answered_ = true;
        if (heartbeat->status->applied_index > covered_)
            catch_up_pending_ = true;
    } else if (topic.starts_with(event_topic_prefix)) {
        Result<wire::Event> event = wire::decode_event(body.data(), body.size());
        if (event && event->revision > covered_)
            catch_up_pending_ = true;
    }
}

}  // namespace cabildo::client
