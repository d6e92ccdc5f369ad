// Tests of the protocol's leases, txns, key metadata and prefix deletes
// (wire/client_messages.h, wire/command.h): round trips, the documented
// limits (too_large past them) and refusals naming the field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/wire/msgpack_bytes.h"
#include "wire/client_messages.h"
#include "wire/command.h"

namespace cabildo::wire {
namespace {

using namespace cabildo::wire::test;

Txn sample_txn() {
    Txn txn;
    txn.compare = {{"cfg/v", CompareTarget::value, CompareResult::eq, "7", 0},
                   {"cfg/lock", CompareTarget::exists, CompareResult::eq, "", 0},
                   {"cfg/v", CompareTarget::mod_revision, CompareResult::lt, "", 42}};
    TxnOp put{Op::put, "cfg/v", "8", 5, true, false, range_limit_default};
    TxnOp range{Op::range, "cfg/", "", 0, false, false, 10};
    TxnOp del{Op::del, "cfg/cache/", "", 0, false, true, range_limit_default};
    TxnOp get{Op::get, "cfg/v", "", 0, false, false, range_limit_default};
    txn.success = {put, range, del};
    txn.failure = {get};
    return txn;
}

Result<ClientRequest> round_trip(const ClientRequest& request) {
    const std::string bytes = encode_request(request);
    return decode_request(bytes.data(), bytes.size());
}

TEST(TxnRequest, RoundTrip) {
    ClientRequest request;
    request.op = Op::txn;
    request.txn = sample_txn();
    request.session = 3;
    request.seq = 9;
    Result<ClientRequest> decoded = round_trip(request);
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, request);
    EXPECT_FALSE(is_read_only(*request.txn));
    Txn reads;
    reads.success = {sample_txn().failure};
    EXPECT_TRUE(is_read_only(reads));
}

TEST(TxnRequest, LimitsAreTooLarge) {
    ClientRequest request;
    request.op = Op::txn;
    request.txn.emplace();
    request.txn->success.assign(txn_ops_max, TxnOp{Op::get, "k", "", 0, false, false, 1000});
    EXPECT_TRUE(round_trip(request).ok());  // exactly the limit
    request.txn->failure.push_back(TxnOp{Op::get, "k", "", 0, false, false, 1000});
    Result<ClientRequest> over = round_trip(request);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().status, Status::too_large);
    request.txn->failure.clear();
    request.txn->compare.assign(txn_compares_max + 1,
                                Compare{"k", CompareTarget::version, CompareResult::eq, "", 1});
    over = round_trip(request);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().status, Status::too_large);
}

TEST(TxnRequest, RefusesBadCompares) {
    struct Case {
        std::string name;
        std::string compare;
        std::string detail;
    };
    const std::vector<Case> cases = {
        {"unknown target", mp_map({{"key", mp_bin("k")}, {"target", mp_str("colour")},
                                   {"result", mp_str("eq")}}),
         "compare target"},
        {"missing operand", mp_map({{"key", mp_bin("k")}, {"target", mp_str("version")},
                                    {"result", mp_str("eq")}}),
         "compare: operand `version` missing"},
        {"exists lt", mp_map({{"key", mp_bin("k")}, {"target", mp_str("exists")},
                              {"result", mp_str("lt")}, {"exists", mp_bool(true)}}),
         "compare exists: only eq or ne"},
        {"empty key", mp_map({{"key", mp_bin("")}, {"target", mp_str("version")},
                              {"result", mp_str("eq")}, {"version", mp_uint(1)}}),
         "compare key"},
        {"wrong operand type", mp_map({{"key", mp_bin("k")}, {"target", mp_str("version")},
                                       {"result", mp_str("eq")}, {"version", mp_str("1")}}),
         "compare operand"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string bytes =
            mp_map({{"op", mp_str("txn")}, {"compare", mp_array({c.compare})}});
        Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, Status::bad_request);
        EXPECT_NE(decoded.error().detail.find(c.detail), std::string::npos)
            << decoded.error().detail;
    }
}

TEST(TxnRequest, RefusesBadOps) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"cas in txn", mp_map({{"op", mp_str("cas")}, {"key", mp_bin("k")}})},
        {"put without key", mp_map({{"op", mp_str("put")}, {"value", mp_bin("v")}})},
        {"value on get", mp_map({{"op", mp_str("get")}, {"key", mp_bin("k")},
                                 {"value", mp_bin("v")}})},
        {"range limit 0", mp_map({{"op", mp_str("range")}, {"prefix", mp_bin("a")},
                                  {"limit", mp_uint(0)}})},
    };
    for (const auto& [name, op] : cases) {
        SCOPED_TRACE(name);
        const std::string bytes = mp_map({{"op", mp_str("txn")}, {"success", mp_array({op})}});
        Result<ClientRequest> decoded = decode_request(bytes.data(), bytes.size());
        ASSERT_FALSE(decoded.ok());
        EXPECT_EQ(decoded.error().status, Status::bad_request) << decoded.error().detail;
    }
}

TEST(LeaseRequest, RoundTripsAndChecks) {
    ClientRequest grant;
    grant.op = Op::lease_grant;
    grant.ttl_ms = 5000;
    grant.lease = 77;
    Result<ClientRequest> decoded = round_trip(grant);
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, grant);
    grant.ttl_ms = lease_ttl_ms_min - 1;
    EXPECT_FALSE(round_trip(grant).ok());

    ClientRequest info;
    info.op = Op::lease_info;
    info.lease = 77;
    info.keys = true;
    decoded = round_trip(info);
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, info);

    const std::string no_lease = mp_map({{"op", mp_str("lease_keepalive")}});
    decoded = decode_request(no_lease.data(), no_lease.size());
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().detail.rfind("lease: missing", 0), 0u);
}

TEST(KvRequest, PrefixDeleteCasRevisionPutLease) {
    ClientRequest del;
    del.op = Op::del;
    del.prefix = "tmp/";
    del.delete_prefix = true;
    Result<ClientRequest> decoded = round_trip(del);
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, del);

    const std::string both =
        mp_map({{"op", mp_str("delete")}, {"key", mp_bin("k")}, {"prefix", mp_bin("k")}});
    EXPECT_FALSE(decode_request(both.data(), both.size()).ok());
    const std::string empty = mp_map({{"op", mp_str("delete")}, {"prefix", mp_bin("")}});
    EXPECT_FALSE(decode_request(empty.data(), empty.size()).ok());

    ClientRequest cas;
    cas.op = Op::cas;
    cas.key = "k";
    cas.value = "v";
    cas.mod_revision = 0;  // only if absent
    cas.lease = 4;
    decoded = round_trip(cas);
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, cas);
    const std::string two = mp_map({{"op", mp_str("cas")}, {"key", mp_bin("k")},
                                    {"value", mp_bin("v")}, {"expected", mp_nil()},
                                    {"mod_revision", mp_uint(3)}});
    EXPECT_FALSE(decode_request(two.data(), two.size()).ok());

    ClientRequest put;
    put.op = Op::put;
    put.key = "k";
    put.value = "v";
    put.lease = 9;
    put.prev = true;
    decoded = round_trip(put);
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, put);
}

TEST(Replies, MetadataLeasesAndResponsesRoundTrip) {
    ClientReply get;
    get.ok = true;
    get.revision = 9;
    get.value = std::optional<std::string>("v");
    get.meta = KeyMeta{3, 9, 4, 7};
    ClientReply lease;
    lease.ok = true;
    lease.lease = LeaseInfo{7, 5000, 4200, std::vector<std::string>{"a", "b"}};
    ClientReply list;
    list.ok = true;
    list.leases = std::vector<LeaseInfo>{{1, 1000, 10, std::nullopt}, {2, 2000, 0, std::nullopt}};
    list.more = true;
    ClientReply txn;
    txn.ok = true;
    txn.succeeded = false;
    TxnResponse r_get;
    r_get.op = Op::get;
    r_get.value = std::optional<std::string>();
    TxnResponse r_put;
    r_put.op = Op::put;
    r_put.prev = PrevValue{"old", KeyMeta{1, 2, 2, 0}};
    TxnResponse r_del;
    r_del.op = Op::del;
    r_del.deleted = 3;
    r_del.more = true;
    TxnResponse r_range;
    r_range.op = Op::range;
    r_range.range = RangePage{{{"a", "1", KeyMeta{1, 1, 1, 0}}}, false};
    txn.responses = std::vector<TxnResponse>{r_get, r_put, r_del, r_range};
    ClientReply put_prev;
    put_prev.ok = true;
    put_prev.prev = std::optional<PrevValue>();
    put_prev.deleted = 0;
    for (const ClientReply& reply : {get, lease, list, txn, put_prev}) {
        const std::string bytes = encode_reply(reply);
        Result<ClientReply> decoded = decode_reply(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, reply);
    }
}

TEST(Command, NewOpsRoundTrip) {
    Command grant;
    grant.op = Op::lease_grant;
    grant.ttl_ms = 3000;
    Command expire;
    expire.op = Op::lease_expire;
    expire.expiries = {{5, 9}, {6, 11}};
    Command txn;
    txn.op = Op::txn;
    txn.txn = sample_txn();
    txn.session = 1;
    txn.seq = 2;
    Command del;
    del.op = Op::del;
    del.key = "tmp/";
    del.prefix = true;
    Command cas;
    cas.op = Op::cas;
    cas.key = "k";
    cas.value = "v";
    cas.mod_revision = 12;
    cas.lease = 3;
    for (const Command& command : {grant, expire, txn, del, cas}) {
        const std::string bytes = encode_command(command);
        Result<Command> decoded = decode_command(bytes.data(), bytes.size());
        ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
        EXPECT_EQ(*decoded, command);
    }
}

TEST(Event, CarriesMetadata) {
    const Event event{12, false, "k", std::string("v"), KeyMeta{3, 12, 4, 8}};
    const std::string bytes = encode_event(event);
    Result<Event> decoded = decode_event(bytes.data(), bytes.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().detail;
    EXPECT_EQ(*decoded, event);
}

}  // namespace
}  // namespace cabildo::wire
