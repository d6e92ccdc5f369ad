// The ACL file and the rights a request needs (wire/security/acl.h,
// PROTOCOL.md section 12): the documented example parses, bad files are
// refused saying which entry is wrong, and check_request() asks for the
// right right on every key a request touches.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wire/coord.h"
#include "wire/security/acl.h"
#include "wire/security/curve.h"

namespace cabildo::wire {
namespace {

std::string key() {
    return curve_keypair().public_key;
}

// The example of acl.h and PROTOCOL.md, with real keys.
struct Example {
    std::string node1 = key(), node2 = key(), node3 = key(), ops = key(), web = key();
    std::string text() const {
        return R"({"members": {"1": ")" + node1 + R"(", "2": ")" + node2 + R"(", "3": ")" + node3 +
               R"("},
          "identities": {
            "ops": {"key": ")" +
               ops +
               R"(", "allow": [{"prefix": "", "rights": ["read", "write", "watch", "admin"]}]},
            "web": {"key": ")" +
               web +
               R"(", "allow": [{"prefix": "app/", "rights": ["read", "watch"]},
                                          {"prefix": "app/sessions/", "rights": ["write"]}],
                    "requests_per_s": 500}}})";
    }
};

TEST(AclParse, AcceptsTheDocumentedExample) {
    const Example example;
    Result<Acl> acl = parse_acl(example.text());
    ASSERT_TRUE(acl.ok()) << acl.error().detail;
    EXPECT_EQ(acl->member_keys.size(), 3u);
    EXPECT_EQ(acl->member_of_key(example.node2), 2u);
    EXPECT_EQ(acl->member_of_key(example.web), raft::node_none);
    const AclIdentity* web = acl->identity_of_key(example.web);
    ASSERT_NE(web, nullptr);
    EXPECT_EQ(web->name, "web");
    EXPECT_EQ(web->requests_per_s, 500);
    ASSERT_EQ(web->rules.size(), 2u);
    EXPECT_EQ(web->rules[0].rights, unsigned{right_read | right_watch});
    EXPECT_EQ(acl->identity_of_key(example.node1), nullptr);  // a member is no identity
    const AclIdentity* ops = acl->identity_of_key(example.ops);
    ASSERT_NE(ops, nullptr);
    EXPECT_EQ(ops->requests_per_s, 0);  // no limit
    EXPECT_TRUE(allowed(*ops, "anything", right_read | right_write | right_watch | right_admin));
}

TEST(AclParse, RefusesBadFilesSayingWhichEntry) {
    const std::string a = key();
    const std::string b = key();
    const auto identity = [](const std::string& name, const std::string& k,
                             const std::string& rights) {
        return "\"" + name + "\": {\"key\": \"" + k + "\", \"allow\": [{\"prefix\": \"\", " +
               "\"rights\": " + rights + "}]}";
    };
    struct Case {
        std::string name;
        std::string text;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"not JSON", "{", "JSON"},
        {"not an object", "[1, 2]", "JSON object"},
        {"a key twice: two identities",
         "{\"identities\": {" + identity("x", a, "[\"read\"]") + ", " +
             identity("y", a, "[\"read\"]") + "}}",
         "identities.y"},
        {"a key twice: member and identity",
         "{\"members\": {\"1\": \"" + a + "\"}, \"identities\": {" +
             identity("x", a, "[\"read\"]") + "}}",
         "members.1"},
        {"a key twice: two members", "{\"members\": {\"1\": \"" + b + "\", \"2\": \"" + b + "\"}}",
         "members.2"},
        {"bad Z85 identity key",
         "{\"identities\": {" + identity("x", a.substr(0, 39) + "~", "[\"read\"]") + "}}",
         "identities.x.key"},
        {"short member key", "{\"members\": {\"1\": \"" + a.substr(1) + "\"}}", "members.1"},
        {"unknown right", "{\"identities\": {" + identity("x", a, "[\"read\", \"delete\"]") + "}}",
         "identities.x.allow[0]"},
        {"rights not strings", "{\"identities\": {" + identity("x", a, "[1]") + "}}",
         "identities.x.allow[0]"},
        {"member id 0", "{\"members\": {\"0\": \"" + a + "\"}}", "members.0"},
        {"member id not a number", "{\"members\": {\"one\": \"" + a + "\"}}", "members.one"},
        {"member id with a leading zero", "{\"members\": {\"01\": \"" + a + "\"}}", "members.01"},
        {"member id negative", "{\"members\": {\"-1\": \"" + a + "\"}}", "members.-1"},
        {"negative rate",
         "{\"identities\": {\"x\": {\"key\": \"" + a + "\", \"requests_per_s\": -1}}}",
         "requests_per_s"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Result<Acl> acl = parse_acl(c.text);
        ASSERT_FALSE(acl.ok());
        EXPECT_NE(acl.error().detail.find(c.says), std::string::npos) << acl.error().detail;
    }
}

AclIdentity identity_with(std::vector<AclRule> rules) {
    AclIdentity identity;
    identity.name = "web";
    identity.key = key();
    identity.rules = std::move(rules);
    return identity;
}

ClientRequest request(Op op, std::string key = "app/x") {
    ClientRequest r;
    r.op = op;
    r.key = std::move(key);
    return r;
}

ClientRequest named(Op op, std::string name) {
    ClientRequest r;
    r.op = op;
    r.name = std::move(name);
    return r;
}

ClientRequest over_prefix(Op op, std::string prefix) {
    ClientRequest r;
    r.op = op;
    r.prefix = std::move(prefix);
    r.delete_prefix = op == Op::del;
    return r;
}

TxnOp txn_op(Op op, std::string key, bool prefix = false) {
    TxnOp o;
    o.op = op;
    o.key = std::move(key);
    o.prefix = prefix;
    return o;
}

ClientRequest txn(std::vector<std::string> compares, std::vector<TxnOp> success,
                  std::vector<TxnOp> failure = {}) {
    Txn t;
    for (std::string& k : compares) {
        Compare c;
        c.key = std::move(k);
        t.compare.push_back(std::move(c));
    }
    t.success = std::move(success);
    t.failure = std::move(failure);
    ClientRequest r;
    r.op = Op::txn;
    r.txn = std::move(t);
    return r;
}

// An identity without a single right may only ask status and member_list.
TEST(AclCheck, AnIdentityWithNoRightsIsDeniedEveryOpButStatusAndMemberList) {
    const AclIdentity nobody = identity_with({});
    for (unsigned code = 0; code <= static_cast<unsigned>(op_max); ++code) {
        const Op op = static_cast<Op>(code);
        SCOPED_TRACE(std::string(op_name(op)));
        ClientRequest r = request(op);
        r.name = "n";
        r.txn = Txn{{}, {txn_op(Op::get, "k")}, {}};
        const std::optional<std::string> denied = check_request(nobody, r);
        if (op == Op::status || op == Op::member_list) {
            EXPECT_EQ(denied, std::nullopt);
        } else {
            ASSERT_NE(denied, std::nullopt);
            if (op != Op::lease_expire && op != Op::wait_cancel) {  // not a client's
                EXPECT_NE(denied->find("identity 'web'"), std::string::npos) << *denied;
            }
        }
    }
}

struct CheckCase {
    std::string name;
    ClientRequest request;
    bool allowed;
    std::string says = "";  // for a denial: a piece of the message
};

void run_cases(const AclIdentity& identity, const std::vector<CheckCase>& cases) {
    for (const CheckCase& c : cases) {
        SCOPED_TRACE(c.name);
        const std::optional<std::string> denied = check_request(identity, c.request);
        if (c.allowed) {
            EXPECT_EQ(denied, std::nullopt) << *denied;
        } else {
            ASSERT_NE(denied, std::nullopt);
            EXPECT_NE(denied->find(c.says), std::string::npos) << *denied;
        }
    }
}

TEST(AclCheck, KeysAndPrefixesNeedTheRightOnAPrefixOfThem) {
    const AclIdentity web =
        identity_with({{"app/", right_read | right_watch}, {"app/sessions/", right_write}});
    run_cases(
        web,
        {
            {"get inside", request(Op::get, "app/x"), true},
            {"get outside", request(Op::get, "other/x"), false,
             "no read right on the key 'other/x'"},
            {"get of the bare prefix", request(Op::get, "app"), false, "'app'"},
            {"put without write", request(Op::put, "app/x"), false, "no write right on the key"},
            {"put where write is given", request(Op::put, "app/sessions/1"), true},
            {"delete where write is given", request(Op::del, "app/sessions/1"), true},
            {"cas needs read and write", request(Op::cas, "app/x"), false, "read+write"},
            {"range inside", over_prefix(Op::range, "app/"), true},
            {"range of a longer prefix", over_prefix(Op::range, "app/a"), true},
            {"range of every key", over_prefix(Op::range, ""), false, "the prefix ''"},
            {"range of a shorter prefix", over_prefix(Op::range, "app"), false, "prefix 'app'"},
            {"delete by prefix without write", over_prefix(Op::del, "app/"), false, "write"},
            {"delete by prefix with write", over_prefix(Op::del, "app/sessions/"), true},
            {"delete by a wider prefix", over_prefix(Op::del, "app/sess"), false, "write"},
            {"watch_from with read and watch", over_prefix(Op::watch_from, "app/"), true},
            {"watch_from outside", over_prefix(Op::watch_from, "x/"), false, "read+watch"},
        });
    // watch_from needs both rights: either alone is not enough.
    run_cases(identity_with({{"", right_read}}),
              {{"read only", over_prefix(Op::watch_from, "app/"), false, "read+watch"}});
    run_cases(identity_with({{"", right_watch}}),
              {{"watch only", over_prefix(Op::watch_from, "app/"), false, "read+watch"}});
}

TEST(AclCheck, ATxnIsCheckedAsAWholeEveryBranch) {
    const AclIdentity web = identity_with({{"app/", right_read | right_write}});
    run_cases(
        web,
        {
            {"inside", txn({"app/a"}, {txn_op(Op::put, "app/b")}, {txn_op(Op::get, "app/c")}),
             true},
            {"a write outside",
             txn({"app/a"}, {txn_op(Op::put, "app/b"), txn_op(Op::put, "cfg/x")}), false,
             "no write right on the key 'cfg/x'"},
            {"a write outside in the failure branch",
             txn({}, {txn_op(Op::get, "app/a")}, {txn_op(Op::del, "cfg/x")}), false, "'cfg/x'"},
            {"a compare outside", txn({"cfg/a"}, {txn_op(Op::put, "app/b")}), false,
             "no read right on the key 'cfg/a'"},
            {"a range outside", txn({}, {txn_op(Op::range, "")}), false, "the prefix ''"},
            {"a delete by prefix outside", txn({}, {txn_op(Op::del, "ap", true)}), false,
             "the prefix 'ap'"},
            {"a delete by prefix inside", txn({}, {txn_op(Op::del, "app/tmp/", true)}), true},
        });
    // Reads in a txn need read even when the identity may write there.
    run_cases(identity_with({{"", right_write}}),
              {{"a get without read", txn({}, {txn_op(Op::get, "k")}), false, "no read right"}});
}

TEST(AclCheck, AdminOpsNeedAdminOnAnyPrefix) {
    const AclIdentity writer = identity_with({{"", right_read | right_write | right_watch}});
    const AclIdentity admin = identity_with({{"ops/", right_admin}});
    for (const Op op : {Op::member_add, Op::member_promote, Op::member_remove, Op::transfer_leader,
                        Op::snapshot_read, Op::lease_list}) {
        SCOPED_TRACE(std::string(op_name(op)));
        const std::optional<std::string> denied = check_request(writer, request(op));
        ASSERT_NE(denied, std::nullopt);
        EXPECT_NE(denied->find("no admin right"), std::string::npos) << *denied;
        EXPECT_EQ(check_request(admin, request(op)), std::nullopt);
    }
    // Leases need write somewhere; admin alone is not that.
    EXPECT_EQ(check_request(writer, request(Op::lease_grant)), std::nullopt);
    EXPECT_NE(check_request(admin, request(Op::lease_grant)), std::nullopt);
    EXPECT_EQ(check_request(identity_with({{"svc/", right_write}}), request(Op::lease_revoke)),
              std::nullopt);
}

TEST(AclCheck, LocksElectionsAndQueuesAreCheckedOnTheirReservedKeys) {
    const AclIdentity worker = identity_with({
        {mutex_base(MutexKind::lock, "build"), right_write},
        {mutex_base(MutexKind::election, "db"), right_read},
        {queue_base("jobs"), right_write},
        {queue_base("stats"), right_read},
    });
    run_cases(
        worker,
        {
            {"lock build", named(Op::lock, "build"), true},
            {"unlock build", named(Op::unlock, "build"), true},
            {"unlock by a waiter key of build",
             request(Op::unlock, waiter_key(mutex_base(MutexKind::lock, "build"), 7)), true},
            {"lock another", named(Op::lock, "deploy"), false, "'_cabildo/lock/deploy'"},
            {"leader of db: read", named(Op::leader, "db"), true},
            {"campaign for db needs write", named(Op::campaign, "db"), false,
             "no write right on the key '_cabildo/elect/db'"},
            {"proclaim needs write", named(Op::proclaim, "db"), false, "write"},
            {"resign needs write", named(Op::resign, "db"), false, "write"},
            {"leader of another", named(Op::leader, "cache"), false, "'_cabildo/elect/cache'"},
            {"queue_put jobs", named(Op::queue_put, "jobs"), true},
            {"queue_get jobs", named(Op::queue_get, "jobs"), true},
            {"queue_ack jobs", named(Op::queue_ack, "jobs"), true},
            {"queue_len jobs: write is not read", named(Op::queue_len, "jobs"), false, "read"},
            {"queue_len stats", named(Op::queue_len, "stats"), true},
            {"queue_peek stats", named(Op::queue_peek, "stats"), true},
            {"queue_put stats needs write", named(Op::queue_put, "stats"), false,
             "'_cabildo/queue/stats'"},
            {"a lock name is not a plain key", request(Op::get, "build"), false, "read"},
        });
}

// Rights add up over the rules whose prefix starts the key.
TEST(AclCheck, RulesAddUp) {
    const AclIdentity id = identity_with({{"", right_read}, {"app/", right_write}});
    EXPECT_TRUE(allowed(id, "app/x", right_read | right_write));
    EXPECT_FALSE(allowed(id, "cfg/x", right_write));
    EXPECT_TRUE(has_right_anywhere(id, right_write));
    EXPECT_FALSE(has_right_anywhere(id, right_watch));
    EXPECT_EQ(check_request(id, request(Op::cas, "app/x")), std::nullopt);
}

}  // namespace
}  // namespace cabildo::wire
