// Coordination on the wire: the requests of PROTOCOL.md "Coordination" as a
// client in another language encodes them, their round trips, the checks
// that name the field, the reserved _cabildo/ keys, the new reply fields,
// and the key layout of wire/coord.h.
#include <gtest/gtest.h>

#include "tests/wire/msgpack_bytes.h"
#include "wire/client_messages.h"
#include "wire/coord.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;

Result<ClientRequest> decode(const std::string& bytes) {
    return decode_request(bytes.data(), bytes.size());
}

TEST(CoordRequest, DecodesTheDocumentedExamples) {
    auto lock = decode(mp_map({{"op", mp_str("lock")}, {"name", mp_bin("build")},
                               {"lease", mp_uint(40)}, {"wait_ms", mp_uint(30000)}}));
    ASSERT_TRUE(lock.ok()) << lock.error().detail;
    EXPECT_EQ(lock->name, "build");
    EXPECT_EQ(lock->lease, 40u);
    EXPECT_EQ(lock->wait_ms, 30000u);
    EXPECT_EQ(lock->value, std::optional<std::string>(""));

    auto get = decode(mp_map({{"op", mp_str("queue_get")}, {"queue", mp_str("jobs")},
                              {"wait_ms", mp_uint(20000)}}));
    ASSERT_TRUE(get.ok()) << get.error().detail;
    EXPECT_EQ(get->name, "jobs");
    EXPECT_EQ(get->visibility_ms, visibility_ms_default);

    auto ack = decode(mp_map({{"op", mp_str("queue_ack")}, {"queue", mp_bin("jobs")},
                              {"item", mp_uint(1)}, {"receipt", mp_uint(71)}}));
    ASSERT_TRUE(ack.ok()) << ack.error().detail;
    EXPECT_EQ(ack->item, 1u);
    EXPECT_EQ(ack->receipt, 71u);

    const std::string key = waiter_key(mutex_base(MutexKind::lock, "build"), 41);
    auto by_key = decode(mp_map({{"op", mp_str("unlock")}, {"key", mp_bin(key)}}));
    ASSERT_TRUE(by_key.ok()) << by_key.error().detail;
    EXPECT_EQ(by_key->key, key);
    EXPECT_TRUE(by_key->name.empty());
}

TEST(CoordRequest, RoundTrips) {
    std::vector<ClientRequest> requests;
    ClientRequest r;
    r.op = Op::campaign;
    r.name = "db";
    r.lease = 5;
    r.value = "10.0.0.1:80";
    r.wait_ms = 100;
    r.keep = true;
    requests.push_back(r);
    r = {};
    r.op = Op::resign;
    r.name = "db";
    r.token = 9;
    requests.push_back(r);
    r = {};
    r.op = Op::queue_get;
    r.name = "q";
    r.visibility_ms = 500;
    requests.push_back(r);
    r = {};
    r.op = Op::queue_ack;
    r.name = "q";
    r.item = 3;
    r.receipt = 8;
    requests.push_back(r);
    r = {};
    r.op = Op::unlock;
    r.key = waiter_key(mutex_base(MutexKind::lock, "x"), 2);
    requests.push_back(r);
    for (const ClientRequest& request : requests) {
        SCOPED_TRACE(op_name(request.op));
        auto decoded = decode(encode_request(request));
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, request);
    }
}

TEST(CoordRequest, RejectsNamingTheField) {
    const std::string election_key = waiter_key(mutex_base(MutexKind::election, "x"), 2);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {mp_map({{"op", mp_str("lock")}, {"lease", mp_uint(1)}}), "name: missing"},
        {mp_map({{"op", mp_str("lock")}, {"name", mp_bin("")}, {"lease", mp_uint(1)}}),
         "name: empty"},
        {mp_map({{"op", mp_str("lock")}, {"name", mp_bin(std::string("a\0b", 3))},
                 {"lease", mp_uint(1)}}),
         "name: contains a NUL"},
        {mp_map({{"op", mp_str("lock")}, {"name", mp_bin("x")}}), "lease: missing"},
        {mp_map({{"op", mp_str("lock")}, {"name", mp_bin("x")}, {"lease", mp_uint(1)},
                 {"wait_ms", mp_uint(wait_ms_max + 1)}}),
         "wait_ms:"},
        {mp_map({{"op", mp_str("queue_get")}, {"queue", mp_bin("q")},
                 {"visibility_ms", mp_uint(visibility_ms_min - 1)}}),
         "visibility_ms:"},
        {mp_map({{"op", mp_str("queue_ack")}, {"queue", mp_bin("q")}, {"item", mp_uint(1)}}),
         "item/receipt:"},
        {mp_map({{"op", mp_str("queue_put")}, {"queue", mp_bin("q")}}), "value: missing"},
        {mp_map({{"op", mp_str("unlock")}, {"name", mp_bin("x")}}), "lease/token:"},
        {mp_map({{"op", mp_str("resign")}, {"name", mp_bin("db")}, {"token", mp_uint(0)}}),
         "lease/token:"},
        {mp_map({{"op", mp_str("unlock")}, {"key", mp_bin(election_key)}}), "key: not a waiter"},
        {mp_map({{"op", mp_str("put")}, {"key", mp_bin("_cabildo/lock/x")},
                 {"value", mp_bin("")}}),
         "key: keys under _cabildo/"},
        {mp_map({{"op", mp_str("delete")}, {"prefix", mp_bin("_cabildo/q")}}),
         "prefix: keys under _cabildo/"},
    };
    for (const auto& [bytes, prefix] : cases) {
        SCOPED_TRACE(prefix);
        auto decoded = decode(bytes);
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, Status::bad_request);
        EXPECT_EQ(decoded.error().detail.rfind(prefix, 0), 0u) << decoded.error().detail;
    }
    // A delete by a shorter prefix is allowed: it passes over them.
    EXPECT_TRUE(decode(mp_map({{"op", mp_str("delete")}, {"prefix", mp_bin("_")}})).ok());
}

TEST(CoordRequest, ExtractWaitMsForABroker) {
    const std::string lock = mp_map({{"op", mp_str("lock")}, {"name", mp_bin("x")},
                                     {"lease", mp_uint(1)}, {"wait_ms", mp_uint(4500)}});
    EXPECT_EQ(extract_wait_ms(lock.data(), lock.size()), 4500u);
    const std::string put = mp_map({{"op", mp_str("put")}, {"wait_ms", mp_uint(4500)}});
    EXPECT_EQ(extract_wait_ms(put.data(), put.size()), 0u);
    const std::string huge = mp_map({{"op", mp_str("queue_get")},
                                     {"wait_ms", mp_uint(std::uint64_t{wait_ms_max} + 1)}});
    EXPECT_EQ(extract_wait_ms(huge.data(), huge.size()), 0u);
    EXPECT_EQ(extract_wait_ms("\xc1", 1), 0u);
}

TEST(CoordReply, RoundTripsTheNewFields) {
    ClientReply reply;
    reply.ok = true;
    reply.revision = 9;
    reply.succeeded = true;
    reply.token = 7;
    reply.key = waiter_key(mutex_base(MutexKind::lock, "x"), 7);
    reply.item = 3;
    reply.receipt = 9;
    reply.queue_length = QueueLength{4, 1, 100};
    const std::string bytes = encode_reply(reply);
    auto decoded = decode_reply(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, reply);
}

TEST(CoordKeys, Layout) {
    const std::string base = mutex_base(MutexKind::lock, "a/b");
    EXPECT_EQ(base, "_cabildo/lock/a/b");
    const std::string key = waiter_key(base, 0x29);
    EXPECT_EQ(key, std::string("_cabildo/lock/a/b\0", 18) + "0000000000000029");
    EXPECT_EQ(waiter_base(key), base);
    EXPECT_EQ(mutex_kind(key), MutexKind::lock);
    EXPECT_FALSE(waiter_base(base));
    EXPECT_FALSE(waiter_base("_cabildo/lock/x" + std::string(1, '\0') + "zz"));
    const std::string q = queue_base("jobs");
    const std::string flight = in_flight_key(q, 12);
    ASSERT_TRUE(parse_in_flight_key(flight));
    EXPECT_EQ(parse_in_flight_key(flight)->base, q);
    EXPECT_EQ(parse_in_flight_key(flight)->item, 12u);
    EXPECT_FALSE(parse_in_flight_key(ready_key(q, 12)));
    EXPECT_EQ(item_of(ready_key(q, 12)), 12u);
    EXPECT_TRUE(ready_key(q, 2) < ready_key(q, 10));  // key order is item order
    const QueueMeta meta{5, 4, 3, 2};
    EXPECT_EQ(decode_queue_meta(encode_queue_meta(meta)), meta);
    EXPECT_EQ(decode_queue_meta("not msgpack \xc1"), QueueMeta{});
    EXPECT_TRUE(covers_coord_keys(""));
    EXPECT_TRUE(covers_coord_keys("_cab"));
    EXPECT_FALSE(covers_coord_keys("app/"));
}

}  // namespace
}  // namespace cabildo::wire
