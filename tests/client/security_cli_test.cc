// The client side of the security codes and the CLI's key handling
// (PROTOCOL.md section 12): permission_denied and quota_exceeded are final
// and keep their code in the message, rate_limited is retried after a
// backoff; --curve-key/--server-key load or fail naming the file; `cabildo
// keygen` writes a pair it can read back and never overwrites.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "client/cli_commands.h"
#include "client/cli_curve.h"
#include "client/keygen_command.h"
#include "client/watcher.h"
#include "tests/client/fake_server.h"
#include "wire/protocol.h"
#include "wire/security/curve.h"

namespace cabildo::client {
namespace {

using namespace std::chrono_literals;
using testing::error_reply;
using testing::FakeAction;
using testing::FakeServer;
using testing::ok_reply;

ClientOptions options_for(const FakeServer& server) {
    return ClientOptions{{server.endpoint()}, 200ms, 3000ms};
}

TEST(SecurityCodes, PermissionDeniedAndQuotaExceededAreFinal) {
    struct Case {
        std::string code;
        Status status;
    };
    for (const Case& c : {Case{"permission_denied", Status::permission_denied},
                          Case{"quota_exceeded", Status::quota_exceeded}}) {
        SCOPED_TRACE(c.code);
        const std::string message = "identity 'web' has no write right on the key 'x'";
        FakeServer server([&](const wire::ClientRequest&, std::size_t) {
            return FakeAction::send(error_reply(c.code, message));
        });
        Client client(options_for(server));
        Result<WriteResult> put = client.put("x", "1");
        ASSERT_FALSE(put.ok());
        EXPECT_EQ(put.error().status, c.status);
        EXPECT_EQ(put.error().detail, message);  // the status names the code
        EXPECT_EQ(server.request_count(), 1u);  // never retried
    }
    EXPECT_FALSE(is_retryable_error_code(wire::error_permission_denied));
    EXPECT_FALSE(is_retryable_error_code(wire::error_quota_exceeded));
    EXPECT_TRUE(is_retryable_error_code(wire::error_rate_limited));
}

// PROTOCOL.md section 5: back off and retry, with the same session and seq.
TEST(SecurityCodes, RateLimitedIsRetriedWithTheSameSeq) {
    FakeServer server([](const wire::ClientRequest&, std::size_t index) {
        return FakeAction::send(index < 2 ? error_reply("rate_limited", "over 5 requests/s")
                                          : ok_reply(9));
    });
    Client client(options_for(server));
    Result<WriteResult> put = client.put("x", "1");
    ASSERT_TRUE(put.ok()) << put.error().detail;
    EXPECT_EQ(put->revision, 9u);
    const std::vector<wire::ClientRequest> requests = server.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[0], requests[2]);
}

// The watcher used to take a refusal it had no Status for as a node that
// cannot serve, and cycle through the endpoints forever.
TEST(SecurityCodes, AWatcherRefusedPermissionStopsAndSaysSo) {
    FakeServer server([](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(
            error_reply("permission_denied", "identity 'web' has no read+watch right"));
    });
    WatchOptions options;
    options.endpoints = {server.endpoint()};
    options.from_revision = 1;
    options.request_timeout = 500ms;
    Watcher watcher(options);
    Result<std::vector<wire::Event>> batch = watcher.next(2s);
    ASSERT_FALSE(batch.ok());
    EXPECT_EQ(batch.error().status, Status::permission_denied);
    EXPECT_NE(batch.error().detail.find("identity 'web'"), std::string::npos)
        << batch.error().detail;
    EXPECT_EQ(server.request_count(), 1u);
    EXPECT_EQ(watcher.node_switches(), 0u);
}

// A fresh directory per test, removed afterwards.
class KeyFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = ::testing::TempDir() + "cabildo-cli-keys-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    std::string dir_;
};

// What a command printed on its two streams, and its exit code.
struct Printed {
    int code = 0;
    std::string out;
    std::string err;
};

template <typename F>
Printed capture(bool json, F command) {
    char* out_buffer = nullptr;
    char* err_buffer = nullptr;
    std::size_t out_size = 0;
    std::size_t err_size = 0;
    std::FILE* out = open_memstream(&out_buffer, &out_size);
    std::FILE* err = open_memstream(&err_buffer, &err_size);
    Printed printed;
    printed.code = command(CliOutput{out, err, json});
    std::fclose(out);
    std::fclose(err);
    printed.out.assign(out_buffer, out_size);
    printed.err.assign(err_buffer, err_size);
    std::free(out_buffer);
    std::free(err_buffer);
    return printed;
}

TEST_F(KeyFilesTest, KeygenWritesAPairItCanReadBack) {
    const std::string base = path("web");
    const Printed made = capture(false, [&](const CliOutput& o) { return run_keygen(o, base); });
    ASSERT_EQ(made.code, exit_ok) << made.err;
    Result<wire::CurveKeys> keys = wire::read_key_file(base + ".key", true);
    ASSERT_TRUE(keys.ok()) << keys.error().detail;
    EXPECT_NE(made.out.find(keys->public_key), std::string::npos) << made.out;
    EXPECT_NE(made.out.find(base + ".key"), std::string::npos) << made.out;
    EXPECT_NE(made.out.find(base + ".pub"), std::string::npos) << made.out;
    struct stat st {};
    ASSERT_EQ(::stat((base + ".key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    const Printed json =
        capture(true, [&](const CliOutput& o) { return run_keygen(o, path("ops")); });
    ASSERT_EQ(json.code, exit_ok);
    Result<wire::CurveKeys> ops = wire::read_key_file(path("ops.pub"), false);
    ASSERT_TRUE(ops.ok());
    EXPECT_NE(json.out.find("\"public_key\":\"" + ops->public_key + "\""), std::string::npos)
        << json.out;
}

TEST_F(KeyFilesTest, KeygenNeverOverwritesAndLeavesNothingBehind) {
    const std::string base = path("node1");
    ASSERT_EQ(capture(false, [&](const CliOutput& o) { return run_keygen(o, base); }).code,
              exit_ok);
    const Result<wire::CurveKeys> first = wire::read_key_file(base + ".key", true);
    ASSERT_TRUE(first.ok());
    const Printed again = capture(false, [&](const CliOutput& o) { return run_keygen(o, base); });
    EXPECT_EQ(again.code, 1);
    EXPECT_NE(again.err.find(base + ".key exists"), std::string::npos) << again.err;
    EXPECT_EQ(wire::read_key_file(base + ".key", true)->secret_key, first->secret_key);

    // Only the .pub is there: refused before the .key is written.
    std::filesystem::remove(base + ".key");
    const Printed half = capture(false, [&](const CliOutput& o) { return run_keygen(o, base); });
    EXPECT_EQ(half.code, 1);
    EXPECT_NE(half.err.find(base + ".pub exists"), std::string::npos) << half.err;
    EXPECT_FALSE(std::filesystem::exists(base + ".key"));
}

TEST_F(KeyFilesTest, CurveOptionsLoadBothOrNeither) {
    ASSERT_TRUE(wire::write_key_files(path("web"), wire::curve_keypair()).ok());
    ASSERT_TRUE(wire::write_key_files(path("server"), wire::curve_keypair()).ok());

    Result<std::optional<ClientCurve>> none = load_curve({});
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());

    Result<std::optional<ClientCurve>> both = load_curve({path("web.key"), path("server.pub")});
    ASSERT_TRUE(both.ok()) << both.error().detail;
    ASSERT_TRUE(both->has_value());
    EXPECT_EQ((*both)->server_public, wire::read_key_file(path("server.key"), true)->public_key);
    EXPECT_FALSE((*both)->keys.secret_key.empty());
    // The server's .key file does as well as its .pub.
    EXPECT_TRUE(load_curve({path("web.key"), path("server.key")}).ok());

    struct Case {
        std::string name;
        CurveArguments args;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"no server key", {path("web.key"), ""}, "needs --server-key"},
        {"no client key", {"", path("server.pub")}, "needs --curve-key"},
        {"a .pub as the client's pair", {path("web.pub"), path("server.pub")}, path("web.pub")},
        {"a missing server file", {path("web.key"), path("absent.pub")}, path("absent.pub")},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Result<std::optional<ClientCurve>> loaded = load_curve(c.args);
        ASSERT_FALSE(loaded.ok());
        EXPECT_NE(loaded.error().detail.find(c.says), std::string::npos) << loaded.error().detail;
    }
}

TEST(SecurityCli, APermissionDeniedPrintsItsMessageAndIsARejection) {
    FakeServer server([](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(
            error_reply("permission_denied", "identity 'web' has no write right on the key 'x'"));
    });
    Client client(options_for(server));
    const Printed human =
        capture(false, [&](const CliOutput& o) { return run_put(client, o, "x", "1"); });
    EXPECT_EQ(human.code, exit_rejected);
    EXPECT_NE(human.err.find("permission_denied: identity 'web' has no write right on the key 'x'"),
              std::string::npos)
        << human.err;
    const Printed json =
        capture(true, [&](const CliOutput& o) { return run_put(client, o, "x", "1"); });
    EXPECT_EQ(json.code, exit_rejected);
    EXPECT_NE(json.out.find("\"ok\":false"), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("permission_denied"), std::string::npos) << json.out;
}

}  // namespace
}  // namespace cabildo::client
