// Client: what each call sends, how each reply is unpacked, local argument
// checks, and status()/cluster_status() asking one node each without failover.
#include "client/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/client/fake_server.h"

namespace cabildo::client {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::dead_endpoint;
using testing::error_reply;
using testing::FakeAction;
using testing::FakeServer;
using testing::ok_reply;

ClientOptions options_for(std::vector<std::string> endpoints) {
    return ClientOptions{std::move(endpoints), milliseconds{200}, milliseconds{3000}};
}

wire::NodeStatus sample_status(std::uint64_t node_id) {
    wire::NodeStatus status;
    status.node_id = node_id;
    status.role = "leader";
    status.term = 9;
    status.leader_id = node_id;
    status.commit_index = 40;
    status.applied_index = 39;
    status.last_index = 41;
    status.state_hash = 0xfedcba9876543210ULL;
    status.members = {{1, "tcp://127.0.0.1:7101", {}, false, 0, {}, false}};
    return status;
}

// Answers like a node holding {"color": "blue", "column": "3"}.
FakeAction kv_node(const wire::ClientRequest& request, std::size_t index) {
    wire::ClientReply reply = ok_reply(10 + index);
    switch (request.op) {
        case wire::Op::get:
            reply.value =
                request.key == "color" ? std::optional<std::string>("blue") : std::nullopt;
            break;
        case wire::Op::del: reply.succeeded = request.key == "color"; break;
        case wire::Op::cas:
            reply.succeeded = request.expected == std::optional<std::string>("blue");
            break;
        case wire::Op::range:
            reply.range = wire::RangePage{{{"color", "blue"}, {"column", "3"}}, true};
            break;
        case wire::Op::status: reply.status = sample_status(1); break;
        default: break;  // put needs only the revision
    }
    return FakeAction::send(reply);
}

TEST(ClientTest, GetSendsKeyAndConsistencyAndUnpacksTheValue) {
    FakeServer server(kv_node);
    Client client(options_for({server.endpoint()}));
    Result<GetResult> found = client.get("color");
    ASSERT_TRUE(found.ok()) << found.error().detail;
    EXPECT_EQ(found->value, std::optional<std::string>("blue"));
    EXPECT_EQ(found->revision, 10u);
    Result<GetResult> absent = client.get("nothing", wire::Consistency::serializable);
    ASSERT_TRUE(absent.ok());
    EXPECT_EQ(absent->value, std::nullopt);
    const std::vector<wire::ClientRequest> requests = server.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].op, wire::Op::get);
    EXPECT_EQ(requests[0].consistency, wire::Consistency::linearizable);
    EXPECT_EQ(requests[1].consistency, wire::Consistency::serializable);
    EXPECT_EQ(requests[0].session, 0u);  // reads carry no session
    EXPECT_EQ(requests[0].seq, 0u);
}

TEST(ClientTest, WritesCarryTheSessionAndUnpackTheirResults) {
    FakeServer server(kv_node);
    Client client(options_for({server.endpoint()}));
    const std::string binary("\x00\xff\x01", 3);
    Result<WriteResult> put = client.put("bin", binary);
    ASSERT_TRUE(put.ok()) << put.error().detail;
    EXPECT_EQ(put->revision, 10u);
    Result<DeleteResult> deleted = client.del("color");
    ASSERT_TRUE(deleted.ok());
    EXPECT_TRUE(deleted->deleted);
    Result<CasResult> swapped = client.cas("color", std::string("blue"), "red");
    ASSERT_TRUE(swapped.ok());
    EXPECT_TRUE(swapped->succeeded);
    Result<CasResult> create = client.cas("lock", std::nullopt, "me");
    ASSERT_TRUE(create.ok());
    EXPECT_FALSE(create->succeeded);
    EXPECT_EQ(create->revision, 13u);

    const std::vector<wire::ClientRequest> requests = server.requests();
    ASSERT_EQ(requests.size(), 4u);
    EXPECT_EQ(requests[0].value, std::optional<std::string>(binary));
    ASSERT_TRUE(requests[3].expected.has_value());  // cas --absent: expected is nil
    EXPECT_FALSE(requests[3].expected->has_value());
    EXPECT_EQ(requests[2].expected, std::optional<std::optional<std::string>>("blue"));
    for (std::size_t i = 0; i < requests.size(); ++i) {
        EXPECT_EQ(requests[i].session, client.session().id());
        EXPECT_EQ(requests[i].seq, i + 1);
    }
}

TEST(ClientTest, RangeSendsPrefixAndLimit) {
    FakeServer server(kv_node);
    Client client(options_for({server.endpoint()}));
    Result<RangeResult> range = client.range("col", 2, wire::Consistency::serializable);
    ASSERT_TRUE(range.ok()) << range.error().detail;
    ASSERT_EQ(range->kvs.size(), 2u);
    EXPECT_EQ(range->kvs[1].key, "column");
    EXPECT_TRUE(range->more);
    const wire::ClientRequest request = server.requests().at(0);
    EXPECT_EQ(request.prefix, "col");
    EXPECT_EQ(request.limit, 2u);
}

TEST(ClientTest, LocalChecksRejectWithoutSendingOrUsingASeq) {
    FakeServer server(kv_node);
    Client client(options_for({server.endpoint()}));
    struct Case {
        std::string name;
        Result<WriteResult> result;
        Status status;
    };
    const std::string long_key(wire::key_bytes_max + 1, 'k');
    const std::string long_value(wire::value_bytes_max + 1, 'v');
    std::vector<Case> cases;
    cases.push_back({"empty key", client.put("", "v"), Status::bad_request});
    cases.push_back({"long key", client.put(long_key, "v"), Status::too_large});
    cases.push_back({"long value", client.put("k", long_value), Status::too_large});
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        ASSERT_FALSE(c.result.ok());
        EXPECT_EQ(c.result.error().status, c.status);
    }
    EXPECT_EQ(client.get("").error().status, Status::bad_request);
    EXPECT_EQ(client.range("", 0).error().status, Status::bad_request);
    EXPECT_EQ(client.range("", wire::range_limit_max + 1).error().status, Status::bad_request);
    EXPECT_EQ(client.range(long_key).error().status, Status::too_large);
    EXPECT_EQ(server.request_count(), 0u);
    EXPECT_EQ(client.session().last_seq(), 0u);
}

TEST(ClientTest, RepliesMissingTheirOpsFieldsAreMalformed) {
    FakeServer server([](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(ok_reply(1));  // no value, succeeded, kvs or status
    });
    Client client(options_for({server.endpoint()}));
    EXPECT_EQ(client.get("k").error().status, Status::io_error);
    EXPECT_EQ(client.del("k").error().status, Status::io_error);
    EXPECT_EQ(client.cas("k", std::nullopt, "v").error().status, Status::io_error);
    EXPECT_EQ(client.range("k").error().status, Status::io_error);
    EXPECT_EQ(client.status(server.endpoint()).error().status, Status::io_error);
    EXPECT_TRUE(client.put("k", "v").ok());  // put needs only the revision
}

TEST(ClientTest, StatusAsksExactlyThatNodeWithoutFailover) {
    FakeServer live(kv_node);
    const std::string dead = dead_endpoint();
    Client client(options_for({dead, live.endpoint()}));
    Result<wire::NodeStatus> status = client.status(live.endpoint());
    ASSERT_TRUE(status.ok()) << status.error().detail;
    EXPECT_EQ(*status, sample_status(1));

    Result<wire::NodeStatus> unreachable = client.status(dead);
    ASSERT_FALSE(unreachable.ok());
    EXPECT_EQ(unreachable.error().status, Status::unavailable);
    EXPECT_NE(unreachable.error().detail.find(dead), std::string::npos);
    EXPECT_EQ(live.request_count(), 1u);  // the dead node's request went nowhere else

    const Clock::time_point start = Clock::now();
    const auto statuses = client.cluster_status();
    // In parallel: the dead node costs one request_timeout, not one each.
    EXPECT_LT(Clock::now() - start, milliseconds{200 + 150});
    ASSERT_EQ(statuses.size(), 2u);
    EXPECT_EQ(statuses[0].first, dead);
    EXPECT_FALSE(statuses[0].second.ok());
    EXPECT_EQ(statuses[1].first, live.endpoint());
    EXPECT_TRUE(statuses[1].second.ok());
}

TEST(ClientTest, ClusterStatusAsksEveryNodeAtOnce) {
    FakeServer first(kv_node);
    FakeServer second(kv_node);
    const std::string dead = dead_endpoint();
    Client client(ClientOptions{
        {dead, first.endpoint(), "not an endpoint", dead_endpoint(), second.endpoint()},
        milliseconds{300},
        milliseconds{3000}});
    const Clock::time_point start = Clock::now();
    const auto statuses = client.cluster_status();
    EXPECT_LT(Clock::now() - start, milliseconds{300 + 250});
    ASSERT_EQ(statuses.size(), 5u);
    EXPECT_TRUE(statuses[1].second.ok());
    EXPECT_TRUE(statuses[4].second.ok());
    for (const std::size_t i : {0, 2, 3}) {
        ASSERT_FALSE(statuses[i].second.ok());
        EXPECT_EQ(statuses[i].second.error().status, Status::unavailable);
    }
    EXPECT_NE(statuses[2].second.error().detail.find("cannot connect"), std::string::npos);
    EXPECT_EQ(first.request_count(), 1u);
    EXPECT_EQ(second.request_count(), 1u);
}

TEST(ClientTest, StatusErrorReplyIsMapped) {
    FakeServer server([](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(error_reply("unavailable", "shutting down"));
    });
    Client client(options_for({server.endpoint()}));
    Result<wire::NodeStatus> status = client.status(server.endpoint());
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().status, Status::unavailable);
    EXPECT_NE(status.error().detail.find("shutting down"), std::string::npos);
    EXPECT_EQ(server.request_count(), 1u);
}

TEST(ClientTest, EmptyEndpointListMeansTheLocalCluster) {
    Client client(ClientOptions{});
    EXPECT_EQ(client.options().endpoints, default_endpoints());
    EXPECT_EQ(client.next_endpoint(), "tcp://127.0.0.1:7101");
}

}  // namespace
}  // namespace cabildo::client
