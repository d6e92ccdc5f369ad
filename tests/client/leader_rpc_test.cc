// Failover, retry and exactly-once behaviour of the Client's LeaderRpc loop,
// against scripted fake nodes: dead endpoints, no_leader, leader hints,
// dropped requests, the total deadline and malformed replies.
#include "client/leader_rpc.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/client/fake_server.h"

namespace cabildo::client {
namespace {

using std::chrono::milliseconds;
using testing::dead_endpoint;
using testing::error_reply;
using testing::FakeAction;
using testing::FakeServer;
using testing::ok_reply;

using Clock = std::chrono::steady_clock;

ClientOptions options_for(std::vector<std::string> endpoints,
                          milliseconds request_timeout = milliseconds{200},
                          milliseconds total_timeout = milliseconds{5000}) {
    return ClientOptions{std::move(endpoints), request_timeout, total_timeout};
}

FakeAction always_ok(const wire::ClientRequest&, std::size_t index) {
    wire::ClientReply reply = ok_reply(100 + index);
    reply.value = std::optional<std::string>("v");
    reply.succeeded = true;
    return FakeAction::send(reply);
}

TEST(LeaderRpcTest, DeadEndpointTimesOutAndFailsOverToTheNext) {
    FakeServer live(always_ok);
    Client client(options_for({dead_endpoint(), live.endpoint()}));
    const Clock::time_point start = Clock::now();
    Result<WriteResult> result = client.put("k", "v");
    ASSERT_TRUE(result.ok()) << result.error().detail;
    // Waited out the dead one (zmq_poll may wake a fraction of a millisecond early).
    EXPECT_GE(Clock::now() - start, milliseconds{190});
    EXPECT_EQ(live.request_count(), 1u);
    EXPECT_EQ(client.next_endpoint(), live.endpoint());  // stays on the live node
    ASSERT_TRUE(client.put("k", "w").ok());
    EXPECT_EQ(live.request_count(), 2u);
}

TEST(LeaderRpcTest, NoLeaderIsRetriedAfterBackoff) {
    FakeServer server([](const wire::ClientRequest& request, std::size_t index) {
        if (index < 2)
            return FakeAction::send(error_reply("no_leader", "election in progress"));
        return always_ok(request, index);
    });
    Client client(options_for({server.endpoint()}));
    Result<GetResult> result = client.get("k");
    ASSERT_TRUE(result.ok()) << result.error().detail;
    EXPECT_EQ(result->value, std::optional<std::string>("v"));
    EXPECT_EQ(server.request_count(), 3u);
}

TEST(LeaderRpcTest, LeaderHintIsFollowedAndRemembered) {
    FakeServer leader(always_ok);
    FakeServer follower([&](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(error_reply("unavailable", "not the leader", leader.endpoint()));
    });
    Client client(options_for({follower.endpoint()}));
    ASSERT_TRUE(client.put("k", "v").ok());
    EXPECT_EQ(follower.request_count(), 1u);
    ASSERT_EQ(leader.request_count(), 1u);
    EXPECT_EQ(client.next_endpoint(), leader.endpoint());
    // The retry at the leader was the same write.
    EXPECT_EQ(leader.requests()[0].seq, follower.requests()[0].seq);
    ASSERT_TRUE(client.put("k", "w").ok());
    EXPECT_EQ(follower.request_count(), 1u);  // went straight to the leader
    EXPECT_EQ(leader.request_count(), 2u);
}

TEST(LeaderRpcTest, HintInASuccessfulReplyRedirectsTheNextRequest) {
    FakeServer leader(always_ok);
    FakeServer follower([&](const wire::ClientRequest&, std::size_t) {
        wire::ClientReply reply = ok_reply(5, leader.endpoint());  // forwarded for us
        return FakeAction::send(reply);
    });
    Client client(options_for({follower.endpoint(), leader.endpoint()}));
    ASSERT_TRUE(client.put("k", "v").ok());
    ASSERT_TRUE(client.put("k", "w").ok());
    EXPECT_EQ(follower.request_count(), 1u);
    EXPECT_EQ(leader.request_count(), 1u);
}

TEST(LeaderRpcTest, UnreachableHintIsNotFollowedAgainUntilItAnswers) {
    const std::string dead = dead_endpoint();
    FakeServer node([&](const wire::ClientRequest& request, std::size_t index) {
        if (index == 0)
            return FakeAction::send(error_reply("unavailable", "not the leader", dead));
        FakeAction action = always_ok(request, index);
        action.reply.leader = dead;  // still advertises the unreachable address
        return action;
    });
    Client client(options_for({node.endpoint()}));
    ASSERT_TRUE(client.put("k", "v").ok());  // node, dead (times out), node
    EXPECT_EQ(node.request_count(), 2u);
    const Clock::time_point start = Clock::now();
    ASSERT_TRUE(client.put("k", "w").ok());  // straight to node
    EXPECT_LT(Clock::now() - start, milliseconds{200});
    EXPECT_EQ(node.request_count(), 3u);
}

TEST(LeaderRpcTest, RetriedWriteReusesSessionAndSeqAndANewWriteIncrementsSeq) {
    FakeServer server([](const wire::ClientRequest& request, std::size_t index) {
        if (index == 0)
            return FakeAction::drop();  // as if the reply was lost
        return always_ok(request, index);
    });
    Client client(options_for({server.endpoint()}));
    ASSERT_TRUE(client.put("k", "v").ok());
    ASSERT_TRUE(client.del("k").ok());
    const std::vector<wire::ClientRequest> requests = server.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_NE(requests[0].session, 0u);
    EXPECT_EQ(requests[0].session, client.session().id());
    EXPECT_EQ(requests[1], requests[0]);  // the very same request, byte for byte
    EXPECT_EQ(requests[0].seq, 1u);
    EXPECT_EQ(requests[2].op, wire::Op::del);
    EXPECT_EQ(requests[2].session, requests[0].session);
    EXPECT_EQ(requests[2].seq, 2u);
}

TEST(LeaderRpcTest, NodeSideTimeoutIsRetriedWithTheSameSeq) {
    FakeServer server([](const wire::ClientRequest& request, std::size_t index) {
        if (index == 0)
            return FakeAction::send(error_reply("timeout", "commit wait timed out"));
        return always_ok(request, index);
    });
    Client client(options_for({server.endpoint()}));
    ASSERT_TRUE(client.cas("k", std::nullopt, "v").ok());
    const std::vector<wire::ClientRequest> requests = server.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0], requests[1]);
}

TEST(LeaderRpcTest, TotalTimeoutIsTimeoutForWritesAndUnavailableForReads) {
    FakeServer server([](const wire::ClientRequest&, std::size_t) { return FakeAction::drop(); });
    Client client(options_for({server.endpoint()}, milliseconds{100}, milliseconds{450}));
    const Clock::time_point start = Clock::now();
    Result<WriteResult> put = client.put("k", "v");
    const auto elapsed = Clock::now() - start;
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.error().status, Status::timeout) << put.error().detail;
    EXPECT_NE(put.error().detail.find("outcome unknown"), std::string::npos);
    EXPECT_GE(elapsed, milliseconds{440});
    EXPECT_LT(elapsed, milliseconds{450 + 1000});
    const std::size_t put_attempts = server.request_count();
    EXPECT_GE(put_attempts, 4u);
    for (const wire::ClientRequest& request : server.requests()) {
        EXPECT_EQ(request.seq, 1u);
    }

    Result<GetResult> get = client.get("k");
    ASSERT_FALSE(get.ok());
    EXPECT_EQ(get.error().status, Status::unavailable) << get.error().detail;
}

TEST(LeaderRpcTest, RefusedUntilTheDeadlineIsNoLeaderEvenForWrites) {
    FakeServer server([](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(error_reply("no_leader", "no quorum"));
    });
    Client client(options_for({server.endpoint()}, milliseconds{200}, milliseconds{300}));
    // Every attempt was refused outright, so the write surely did not happen.
    Result<WriteResult> put = client.put("k", "v");
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.error().status, Status::no_leader) << put.error().detail;
    EXPECT_NE(put.error().detail.find("no quorum"), std::string::npos);
    EXPECT_GE(server.request_count(), 2u);
}

TEST(LeaderRpcTest, RejectionsAreFinalAndCarryTheServerMessage) {
    struct Case {
        std::string name;
        std::string code;
        std::string message;
        Status status;
        std::string detail;
    };
    const std::vector<Case> cases = {
        {"bad_request", "bad_request", "key: expected bin", Status::bad_request,
         "key: expected bin"},
        {"too_large", "too_large", "value: too long", Status::too_large, "value: too long"},
        {"storage_full", "storage_full", "disk full", Status::storage_full, "disk full"},
        {"stale_session", "stale_session", "seq 1 < 2", Status::bad_request,
         "stale_session: seq 1 < 2"},
        {"internal", "internal", "bug", Status::io_error, "internal: bug"},
        {"unknown code", "brand_new", "later version", Status::io_error,
         "brand_new: later version"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        FakeServer server([&](const wire::ClientRequest&, std::size_t) {
            return FakeAction::send(error_reply(c.code, c.message));
        });
        Client client(options_for({server.endpoint()}));
        Result<WriteResult> put = client.put("k", "v");
        ASSERT_FALSE(put.ok());
        EXPECT_EQ(put.error().status, c.status);
        EXPECT_EQ(put.error().detail, c.detail);
        EXPECT_EQ(server.request_count(), 1u);  // never retried
    }
}

TEST(LeaderRpcTest, MalformedRepliesAreReportedNotCrashes) {
    struct Case {
        std::string name;
        std::string raw;
    };
    const std::vector<Case> cases = {
        {"not msgpack", std::string("\xc1", 1)},
        {"empty frame", ""},
        {"not a map", std::string("\x93\x01\x02\x03", 4)},
        {"map without ok", std::string("\x81\xa1x\x01", 4)},
        {"ok of the wrong type", std::string("\x81\xa2ok\x01", 5)},
        {"truncated", std::string("\x82\xa2ok\xc3\xa6leader\xb3tcp", 16)},
        {"trailing bytes", std::string("\x81\xa2ok\xc3\x00", 5)},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        FakeServer server(
            [&](const wire::ClientRequest&, std::size_t) { return FakeAction::send_raw(c.raw); });
        Client client(options_for({server.endpoint()}));
        Result<GetResult> get = client.get("k");
        ASSERT_FALSE(get.ok());
        EXPECT_EQ(get.error().status, Status::io_error);
        EXPECT_NE(get.error().detail.find("malformed reply"), std::string::npos)
            << get.error().detail;
        EXPECT_EQ(server.request_count(), 1u);
    }
}

TEST(LeaderRpcTest, StatusCodeTable) {
    EXPECT_EQ(status_for_error_code("no_leader"), Status::no_leader);
    EXPECT_EQ(status_for_error_code("unavailable"), Status::unavailable);
    EXPECT_EQ(status_for_error_code("timeout"), Status::timeout);
    EXPECT_TRUE(is_retryable_error_code("no_leader"));
    EXPECT_TRUE(is_retryable_error_code("unavailable"));
    EXPECT_TRUE(is_retryable_error_code("timeout"));
    EXPECT_FALSE(is_retryable_error_code("bad_request"));
    EXPECT_FALSE(is_retryable_error_code("internal"));
}

}  // namespace
}  // namespace cabildo::client
