// Events (kv/ notifications and watch_from replies) and the watch_from request.
#include <gtest/gtest.h>

#include "wire/client_messages.h"
#include "wire/protocol.h"

namespace cabildo::wire {
namespace {

TEST(Event, RoundTrip) {
    struct Case {
        const char* name;
        Event event;
    };
    const std::vector<Case> cases = {
        {"put", {7, false, "app/x", std::string("v1")}},
        {"put of an empty value", {8, false, "k", std::string()}},
        {"delete has no value", {9, true, "app/x", std::nullopt}},
        {"binary key", {10, false, std::string("\0\xff", 2), std::string(1000, 'z')}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string bytes = encode_event(c.event);
        auto decoded = decode_event(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, c.event);
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            EXPECT_FALSE(decode_event(bytes.data(), n).ok()) << "prefix of " << n << " bytes";
        }
    }
    EXPECT_EQ(event_topic("app/x"), "kv/app/x");
}

TEST(Event, WatchRequestAndReplyRoundTrip) {
    ClientRequest request;
    request.op = Op::watch_from;
    request.prefix = "app/";
    request.from = 42;
    request.limit = 10;
    const std::string bytes = encode_request(request);
    auto decoded = decode_request(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, request);

    ClientReply reply;
    reply.ok = true;
    reply.revision = 50;
    reply.events = std::vector<Event>{{43, false, "app/a", std::string("1")},
                                      {45, true, "app/b", std::nullopt}};
    reply.more = true;
    const std::string reply_bytes = encode_reply(reply);
    auto reply_decoded = decode_reply(reply_bytes.data(), reply_bytes.size());
    ASSERT_TRUE(reply_decoded.ok()) << reply_decoded.error().detail;
    EXPECT_EQ(*reply_decoded, reply);
}

TEST(Event, WatchNeedsFrom) {
    ClientRequest request;
    request.op = Op::watch_from;
    request.from = 0;
    const std::string bytes = encode_request(request);
    auto decoded = decode_request(bytes.data(), bytes.size());
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().detail.find("from"), std::string::npos);
}

}  // namespace
}  // namespace cabildo::wire
