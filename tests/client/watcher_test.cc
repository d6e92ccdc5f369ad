// Watcher (client/watcher.h) against fake nodes: a ROUTER answering
// watch_from, status and range from a scripted history, plus a PUB on the
// client port + 1 that publishes exactly what the test says (so the test
// decides which events the stream drops or repeats) and, when enabled,
// hb/<id> heartbeats. No sleeps: every wait is a loop on a condition with a
// deadline, driven by Watcher::next().
#include "client/watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "wire/protocol.h"

namespace cabildo::client {
namespace {

using namespace std::chrono_literals;
using wire::Event;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds fake_poll_interval{5};
constexpr std::chrono::milliseconds fake_heartbeat_interval{20};
constexpr int bind_attempts_max = 50;

Event put_event(std::uint64_t revision, std::string key, std::string value) {
    return Event{revision, false, std::move(key), std::move(value)};
}

Event delete_event(std::uint64_t revision, std::string key) {
    return Event{revision, true, std::move(key), std::nullopt};
}

// A scripted node: the history is appended by the test; the fake thread
// answers requests from it and sends what the test queued for the PUB.
class FakeNode {
public:
    explicit FakeNode(std::uint64_t node_id) : node_id_(node_id), context_(1) {
        for (int attempt = 0; attempt < bind_attempts_max; ++attempt) {
            if (try_bind())
                break;
        }
        EXPECT_FALSE(endpoint_.empty()) << "no port pair ROUTER=P, PUB=P+1 could be bound";
        thread_ = std::thread([this] { run(); });
    }
    ~FakeNode() {
        stop_ = true;
        thread_.join();
    }

    const std::string& endpoint() const { return endpoint_; }

    void append(Event event) {
        std::lock_guard<std::mutex> lock(mutex_);
        history_.push_back(std::move(event));
    }
    // Queues one stream message; the fake thread publishes it.
    void publish(const Event& event) {
        std::lock_guard<std::mutex> lock(mutex_);
        outbox_.push_back(event);
    }
    void set_heartbeats(bool on) { heartbeats_ = on; }
    // false: requests are read and never answered, like a dead node.
    void set_answering(bool on) { answering_ = on; }
    void set_compacted_through(std::uint64_t revision) {
        std::lock_guard<std::mutex> lock(mutex_);
        compacted_through_ = revision;
    }
    std::vector<wire::ClientRequest> requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }

private:
    bool try_bind() {
        zmq::socket_t router(context_, zmq::socket_type::router);
        router.set(zmq::sockopt::linger, 0);
        router.bind("tcp://127.0.0.1:*");
        const std::string bound = router.get(zmq::sockopt::last_endpoint);
        const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
        zmq::socket_t pub(context_, zmq::socket_type::pub);
        pub.set(zmq::sockopt::linger, 0);
        try {
            pub.bind("tcp://127.0.0.1:" + std::to_string(port + 1));
        } catch (const zmq::error_t&) {
            return false;  // taken: both close, try another pair
        }
        endpoint_ = bound;
        router_ = std::move(router);
        pub_ = std::move(pub);
        return true;
    }

    std::uint64_t applied_locked() const { return history_.empty() ? 0 : history_.back().revision; }

    wire::ClientReply ok_reply() const {
        wire::ClientReply reply;
        reply.ok = true;
        reply.revision = applied_locked();
        return reply;
    }

    wire::ClientReply answer_locked(const wire::ClientRequest& request) const {
        wire::ClientReply reply = ok_reply();
        if (request.op == wire::Op::status) {
            reply.status = status_locked();
        } else if (request.op == wire::Op::range) {
            reply.range = range_locked(request.prefix);
        } else if (request.op == wire::Op::watch_from && request.from <= compacted_through_) {
            reply = wire::make_error_reply(wire::error_compacted, "compacted", "");
            reply.revision = applied_locked();
        } else if (request.op == wire::Op::watch_from) {
            reply.events.emplace();
            reply.more = false;
            for (const Event& event : history_) {
                if (event.revision < request.from || !event.key.starts_with(request.prefix))
                    continue;
                if (reply.events->size() == request.limit) {
                    reply.more = true;
                    reply.revision = reply.events->back().revision;
                    break;
                }
                reply.events->push_back(event);
            }
        }
        return reply;
    }

    wire::NodeStatus status_locked() const {
        wire::NodeStatus status;
        status.node_id = node_id_;
        status.role = "follower";
        status.applied_index = applied_locked();
        status.commit_index = status.applied_index;
        status.last_index = status.applied_index;
        return status;
    }

    wire::RangePage range_locked(const std::string& prefix) const {
        std::map<std::string, std::string> state;
        for (const Event& event : history_) {
            if (event.deleted)
                state.erase(event.key);
            else
                state[event.key] = event.value.value_or("");
        }
        wire::RangePage page;
        for (const auto& [key, value] : state) {
            if (key.starts_with(prefix))
                page.kvs.push_back({key, value});
        }
        return page;
    }

    void serve_one() {
        zmq::multipart_t frames;
        if (!frames.recv(router_, static_cast<int>(zmq::recv_flags::dontwait)) ||
            frames.size() != 3)
            return;
        const std::string body = frames[2].to_string();
        auto request = wire::decode_request(body.data(), body.size());
        if (!request)
            return;
        std::string reply;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            requests_.push_back(*request);
            if (!answering_)
                return;
            reply = wire::encode_reply(answer_locked(*request));
        }
        zmq::multipart_t out;
        out.add(std::move(frames[0]));
        out.addstr("");
        out.addstr(reply);
        out.send(router_);
    }

    void publish_pending(Clock::time_point& next_heartbeat) {
        std::vector<Event> outbox;
        std::string heartbeat;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            outbox.swap(outbox_);
            if (heartbeats_ && Clock::now() >= next_heartbeat) {
                wire::ClientReply reply = ok_reply();
                reply.status = status_locked();
                heartbeat = wire::encode_reply(reply);
                next_heartbeat = Clock::now() + fake_heartbeat_interval;
            }
        }
        for (const Event& event : outbox) {
            zmq::multipart_t message;
            message.addstr(wire::event_topic(event.key));
            message.addstr(wire::encode_event(event));
            message.send(pub_);
        }
        if (!heartbeat.empty()) {
            zmq::multipart_t message;
            message.addstr("hb/" + std::to_string(node_id_));
            message.addstr(heartbeat);
            message.send(pub_);
        }
    }

    void run() {
        Clock::time_point next_heartbeat = Clock::now();
        while (!stop_) {
            std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0}};
            zmq::poll(items, fake_poll_interval);
            if (items[0].revents & ZMQ_POLLIN)
                serve_one();
            publish_pending(next_heartbeat);
        }
    }

    const std::uint64_t node_id_;
    zmq::context_t context_;
    zmq::socket_t router_;
    zmq::socket_t pub_;
    std::string endpoint_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> heartbeats_{true};
    std::atomic<bool> answering_{true};
    mutable std::mutex mutex_;
    std::vector<Event> history_;                 // guarded by mutex_
    std::vector<Event> outbox_;                  // guarded by mutex_
    std::uint64_t compacted_through_ = 0;        // guarded by mutex_
    std::vector<wire::ClientRequest> requests_;  // guarded by mutex_
    std::thread thread_;
};

// Calls next() until done() holds or the deadline passes, running turn()
// before each call (to publish, for example). Every batch must be ok and
// not a resync.
std::vector<Event> collect_until(
    Watcher& watcher, const std::function<bool()>& done, const std::function<void()>& turn = [] {},
    std::chrono::seconds limit = 10s) {
    std::vector<Event> events;
    const Clock::time_point deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
        turn();
        auto batch = watcher.next(20ms);
        EXPECT_TRUE(batch.ok()) << (batch ? "" : batch.error().detail);
        if (!batch)
            break;
        EXPECT_FALSE(watcher.resynced());
        events.insert(events.end(), batch->begin(), batch->end());
    }
    EXPECT_TRUE(done()) << "condition not reached within " << limit.count() << " s";
    return events;
}

std::vector<Event> under(const std::vector<Event>& history, const std::string& prefix,
                         std::uint64_t after = 0) {
    std::vector<Event> out;
    for (const Event& event : history) {
        if (event.revision > after && event.key.starts_with(prefix))
            out.push_back(event);
    }
    return out;
}

// Revision r: a put or (every 5th) a delete of w/k<r%7>, and every 4th
// revision a key outside the prefix.
Event scripted_event(std::uint64_t revision) {
    std::string key =
        revision % 4 == 0 ? "x/" + std::to_string(revision) : "w/k" + std::to_string(revision % 7);
    if (revision % 5 == 0)
        return delete_event(revision, std::move(key));
    return put_event(revision, std::move(key), "v" + std::to_string(revision));
}

WatchOptions options_for(std::vector<std::string> endpoints, std::uint64_t from) {
    WatchOptions options;
    options.endpoints = std::move(endpoints);
    options.prefix = "w/";
    options.from_revision = from;
    options.request_timeout = 300ms;
    options.silence_timeout = 300ms;
    options.events_per_request_max = 3;  // forces `more` paging
    return options;
}

TEST(PubEndpointFor, IsTheClientPortPlusOne) {
    EXPECT_EQ(pub_endpoint_for("tcp://127.0.0.1:7101"), "tcp://127.0.0.1:7102");
    EXPECT_EQ(pub_endpoint_for("tcp://node-a:9"), "tcp://node-a:10");
    EXPECT_EQ(pub_endpoint_for("ipc:///tmp/x"), std::nullopt);
    EXPECT_EQ(pub_endpoint_for("tcp://host"), std::nullopt);
    EXPECT_EQ(pub_endpoint_for("tcp://host:65535"), std::nullopt);
    EXPECT_EQ(pub_endpoint_for("tcp://host:12x"), std::nullopt);
}

// The stream misses every third event and repeats every fifth; with no
// heartbeats, kv/ messages are the only doorbell. The watcher still returns
// each event under w/ once, in order, paging through `more`.
TEST(Watcher, DeliversEachEventOnceInOrderWhenTheStreamDropsAndRepeats) {
    FakeNode node(1);
    node.set_heartbeats(false);
    WatchOptions options = options_for({node.endpoint()}, 1);
    options.silence_timeout = 60s;
    Watcher watcher(options);
    std::vector<Event> history;
    std::vector<Event> seen;
    for (std::uint64_t revision = 1; revision <= 90; ++revision) {
        history.push_back(scripted_event(revision));
        node.append(history.back());
        if (revision % 3 != 0)
            node.publish(history.back());
        if (revision % 5 == 0)
            node.publish(history.back());
        if (revision % 30 == 0) {
            auto batch = watcher.next(0ms);
            ASSERT_TRUE(batch.ok()) << batch.error().detail;
            seen.insert(seen.end(), batch->begin(), batch->end());
        }
    }
    const Event last = put_event(91, "w/last", "end");
    history.push_back(last);
    node.append(last);
    // The watcher's subscription may reach the PUB late (slow joiner): ring
    // until it has everything.
    auto rest = collect_until(
        watcher, [&] { return watcher.covered_revision() >= 91; }, [&] { node.publish(last); });
    seen.insert(seen.end(), rest.begin(), rest.end());
    EXPECT_EQ(seen, under(history, "w/"));
    EXPECT_EQ(watcher.node_switches(), 0u);
}

// One revision may hold several events (a txn, a lease that ended, a lock
// handed over): each is delivered. (Found by `cabildo elect --observe`: the
// watcher kept only the first event of each revision.)
TEST(Watcher, DeliversEveryEventOfARevision) {
    FakeNode node(1);
    WatchOptions options = options_for({node.endpoint()}, 1);
    options.events_per_request_max = 100;
    Watcher watcher(options);
    const std::vector<Event> history = {put_event(1, "w/a", "1"), put_event(1, "w/b", "2"),
                                        delete_event(2, "w/a"), put_event(2, "w/c", "3"),
                                        delete_event(2, "w/b")};
    for (const Event& event : history) node.append(event);
    auto seen = collect_until(
        watcher, [&] { return watcher.covered_revision() >= 2; },
        [&] { node.publish(history.back()); });
    EXPECT_EQ(seen, history);
}

// from_revision 0 starts after the node's applied index; heartbeats alone
// (nothing published on kv/) ring the bell.
TEST(Watcher, StartsFromNowAndHeartbeatsRingTheBell) {
    FakeNode node(1);
    std::vector<Event> history;
    for (std::uint64_t revision = 1; revision <= 10; ++revision) {
        history.push_back(scripted_event(revision));
        node.append(history.back());
    }
    Watcher watcher(options_for({node.endpoint()}, 0));
    auto none = watcher.next(0ms);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(watcher.covered_revision(), 10u);
    for (std::uint64_t revision = 11; revision <= 40; ++revision) {
        history.push_back(scripted_event(revision));
        node.append(history.back());
    }
    auto seen = collect_until(watcher, [&] { return watcher.covered_revision() >= 40; });
    EXPECT_EQ(seen, under(history, "w/", 10));
}

// A start revision the node no longer keeps: the watcher ranges the prefix on
// the same node, returns it as one resync batch at the range's revision, then
// goes on with ordinary events from there.
TEST(Watcher, CompactedResyncsFromRangeThenContinues) {
    FakeNode node(1);
    std::vector<Event> history;
    for (std::uint64_t revision = 1; revision <= 30; ++revision) {
        history.push_back(scripted_event(revision));
        node.append(history.back());
    }
    node.set_compacted_through(20);
    Watcher watcher(options_for({node.endpoint()}, 5));
    auto snapshot = watcher.next(2s);
    ASSERT_TRUE(snapshot.ok()) << snapshot.error().detail;
    EXPECT_TRUE(watcher.resynced());
    EXPECT_EQ(watcher.covered_revision(), 30u);
    std::map<std::string, std::string> state;
    for (const Event& event : history) {
        if (!event.key.starts_with("w/"))
            continue;
        if (event.deleted)
            state.erase(event.key);
        else
            state[event.key] = *event.value;
    }
    std::vector<Event> expected;
    for (const auto& [key, value] : state) expected.push_back(put_event(30, key, value));
    EXPECT_EQ(*snapshot, expected);
    bool ranged_serializably = false;
    for (const auto& request : node.requests()) {
        if (request.op == wire::Op::range)
            ranged_serializably = request.consistency == wire::Consistency::serializable;
    }
    EXPECT_TRUE(ranged_serializably);

    for (std::uint64_t revision = 31; revision <= 45; ++revision) {
        history.push_back(scripted_event(revision));
        node.append(history.back());
    }
    auto seen = collect_until(watcher, [&] { return watcher.covered_revision() >= 45; });
    EXPECT_EQ(seen, under(history, "w/", 30));
}

// The watched node goes silent and stops answering (as after kill -9): the
// watcher moves to the other node and goes on from the revision it covered,
// still once each and in order.
TEST(Watcher, SwitchesNodeWhenHeartbeatsStop) {
    FakeNode a(1);
    FakeNode b(2);
    std::vector<Event> history;
    const auto append_both = [&](std::uint64_t last) {
        for (std::uint64_t revision = history.size() + 1; revision <= last; ++revision) {
            history.push_back(scripted_event(revision));
            a.append(history.back());
            b.append(history.back());
        }
    };
    append_both(20);
    Watcher watcher(options_for({a.endpoint(), b.endpoint()}, 1));
    auto seen = collect_until(watcher, [&] { return watcher.covered_revision() >= 20; });
    EXPECT_EQ(watcher.endpoint(), a.endpoint());
    const std::uint64_t covered_at_failure = watcher.covered_revision();

    a.set_heartbeats(false);
    a.set_answering(false);
    append_both(50);
    auto rest = collect_until(watcher, [&] { return watcher.covered_revision() >= 50; });
    seen.insert(seen.end(), rest.begin(), rest.end());
    EXPECT_EQ(seen, under(history, "w/"));
    EXPECT_EQ(watcher.endpoint(), b.endpoint());
    EXPECT_EQ(watcher.node_switches(), 1u);
    const auto b_requests = b.requests();
    ASSERT_FALSE(b_requests.empty());
    EXPECT_EQ(b_requests.front().op, wire::Op::watch_from);
    EXPECT_EQ(b_requests.front().from, covered_at_failure + 1);
}

}  // namespace
}  // namespace cabildo::client
