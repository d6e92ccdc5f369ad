// The watch benchmark's msgpack skimmers (client/bench/msgpack_skim.h) read
// what wire/ encodes: events, heartbeats and watch_from replies, round-tripped
// through the real encoders; every truncation and seeded random bytes are
// "not understood", never a crash or a read past the frame.
#include "client/bench/msgpack_skim.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "client/bench/request_template.h"
#include "wire/client_messages.h"
#include "wire/protocol.h"

namespace cabildo::client::bench {
namespace {

wire::Event make_event(std::uint64_t revision, std::optional<std::string> value) {
    wire::Event event;
    event.revision = revision;
    event.key = "watch/key-000001";
    event.deleted = !value.has_value();
    event.value = std::move(value);
    event.meta = {revision - 1, revision, 2, 0};
    return event;
}

TEST(MsgpackSkimTest, Events) {
    struct Case {
        std::string name;
        wire::Event event;
        std::string value;  // what the skimmer should see
    };
    const std::vector<Case> cases = {
        {"small put", make_event(42, "1234xx"), "1234xx"},
        {"delete", make_event(7, std::nullopt), ""},
        {"empty value", make_event(300, ""), ""},
        {"bin16 value", make_event(70000, std::string(300, 'v')), std::string(300, 'v')},
        {"bin32 value", make_event(1ULL << 40, std::string(70000, 'w')), std::string(70000, 'w')},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string frame = wire::encode_event(c.event);
        const std::optional<SkimmedEvent> skimmed = skim_event(frame.data(), frame.size());
        ASSERT_TRUE(skimmed.has_value());
        EXPECT_EQ(skimmed->revision, c.event.revision);
        EXPECT_EQ(skimmed->value, c.value);
        for (std::size_t cut = 0; cut < frame.size(); cut += 1 + cut / 16)
            EXPECT_FALSE(skim_event(frame.data(), cut).has_value()) << "cut at " << cut;
    }
}

TEST(MsgpackSkimTest, HeartbeatAppliedIndex) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = 99;
    reply.leader = "tcp://127.0.0.1:7101";
    reply.status.emplace();
    reply.status->node_id = 2;
    reply.status->role = "follower";
    reply.status->applied_index = 12345678;
    for (std::uint64_t id = 1; id <= 3; ++id) {
        wire::MemberInfo member;
        member.id = id;
        member.client_endpoint = "tcp://127.0.0.1:71" + std::to_string(id) + "1";
        reply.status->members.push_back(member);
    }
    const std::string frame = wire::encode_reply(reply);
    EXPECT_EQ(skim_applied_index(frame.data(), frame.size()), std::optional<std::uint64_t>(12345678));
    const std::string event = wire::encode_event(make_event(5, "x"));
    EXPECT_FALSE(skim_applied_index(event.data(), event.size()).has_value());
}

TEST(MsgpackSkimTest, WatchReplies) {
    wire::ClientReply ok;
    ok.ok = true;
    ok.revision = 120;
    ok.more = true;
    ok.events = std::vector<wire::Event>{make_event(101, "17x"), make_event(110, std::nullopt)};
    ok.id = msgpack_uint64((3ULL << 32) | 17);
    wire::ClientReply compacted =
        wire::make_error_reply(wire::error_compacted, "too old", msgpack_uint64(5));
    compacted.revision = 900;
    SkimmedWatchReply skimmed;
    std::string frame = wire::encode_reply(ok);
    ASSERT_TRUE(skim_watch_reply(frame.data(), frame.size(), skimmed));
    EXPECT_TRUE(skimmed.ok);
    EXPECT_EQ(skimmed.id, (3ULL << 32) | 17);
    EXPECT_EQ(skimmed.revision, 120U);
    EXPECT_TRUE(skimmed.more);
    ASSERT_EQ(skimmed.events.size(), 2U);
    EXPECT_EQ(skimmed.events[0].revision, 101U);
    EXPECT_EQ(skimmed.events[0].value, "17x");
    EXPECT_EQ(skimmed.events[1].revision, 110U);
    for (std::size_t cut = 0; cut < frame.size(); ++cut)
        EXPECT_FALSE(skim_watch_reply(frame.data(), cut, skimmed)) << "cut at " << cut;
    frame = wire::encode_reply(compacted);
    ASSERT_TRUE(skim_watch_reply(frame.data(), frame.size(), skimmed));
    EXPECT_FALSE(skimmed.ok);
    EXPECT_EQ(skimmed.error, wire::error_compacted);
    EXPECT_EQ(skimmed.revision, 900U);
    EXPECT_TRUE(skimmed.events.empty());
}

TEST(MsgpackSkimTest, RandomBytesNeverCrash) {
    std::mt19937_64 rng(20241203);
    SkimmedWatchReply reply;
    for (int i = 0; i < 20000; ++i) {
        std::string bytes(rng() % 64, '\0');
        for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
        if (!bytes.empty() && i % 2 == 0) bytes[0] = static_cast<char>(0x80 | (rng() & 0x0f));
        (void)skim_event(bytes.data(), bytes.size());
        (void)skim_applied_index(bytes.data(), bytes.size());
        (void)skim_watch_reply(bytes.data(), bytes.size(), reply);
    }
    const std::string deep(64, '\x91');  // arrays nested past skim_depth_max
    MsgpackSkim skim(deep.data(), deep.size());
    EXPECT_FALSE(skim.skip());
}

TEST(MsgpackSkimTest, LeadingNumber) {
    EXPECT_EQ(leading_number("173322000012345678x"),
              std::optional<std::int64_t>(173322000012345678));
    EXPECT_EQ(leading_number("1733220000123456789x"), std::nullopt);  // 19 digits: not ours
    EXPECT_EQ(leading_number("42xxxx"), std::optional<std::int64_t>(42));
    EXPECT_EQ(leading_number("xx42"), std::nullopt);
    EXPECT_EQ(leading_number(""), std::nullopt);
}

}  // namespace
}  // namespace cabildo::client::bench
