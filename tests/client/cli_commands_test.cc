// The CLI's commands against a fake node: printed output in both modes and
// the documented exit codes.
#include "client/cli_commands.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "tests/client/fake_server.h"

namespace cabildo::client {
namespace {

using std::chrono::milliseconds;
using testing::dead_endpoint;
using testing::error_reply;
using testing::FakeAction;
using testing::FakeServer;
using testing::ok_reply;

// A memory-backed FILE*: what the command printed, read back after close.
class Capture {
public:
    Capture() : file_(open_memstream(&buffer_, &size_)) {}
    ~Capture() {
        close();
        std::free(buffer_);
    }
    std::FILE* file() { return file_; }
    std::string text() {
        close();
        return std::string(buffer_, size_);
    }

private:
    void close() {
        if (file_ != nullptr)
            std::fclose(file_);
        file_ = nullptr;
    }

    char* buffer_ = nullptr;
    std::size_t size_ = 0;
    std::FILE* file_ = nullptr;
};

struct CommandRun {
    int code = 0;
    std::string out;
    std::string err;
};

template <typename F>
CommandRun run_command(bool json, F command) {
    Capture out;
    Capture err;
    const CliOutput output{out.file(), err.file(), json};
    CommandRun run;
    run.code = command(output);
    run.out = out.text();
    run.err = err.text();
    return run;
}

ClientOptions options_for(std::vector<std::string> endpoints) {
    return ClientOptions{std::move(endpoints), milliseconds{200}, milliseconds{600}};
}

FakeAction kv_node(const wire::ClientRequest& request, std::size_t) {
    wire::ClientReply reply = ok_reply(7);
    if (request.op == wire::Op::get) {
        reply.value = request.key == "bin" ? std::optional<std::string>(std::string("\xff\n", 2))
                                           : std::nullopt;
    }
    if (request.op == wire::Op::cas)
        reply.succeeded = !request.expected->has_value();
    if (request.op == wire::Op::del)
        reply.succeeded = false;
    if (request.op == wire::Op::range)
        reply.range = wire::RangePage{{{"a", "1"}, {std::string("\xfe", 1), "2"}}, false};
    return FakeAction::send(reply);
}

TEST(CliCommandsTest, HumanOutputAndExitCodes) {
    FakeServer server(kv_node);
    Client client(options_for({server.endpoint()}));
    const auto human = [&](auto command) { return run_command(false, command); };

    CommandRun get = human([&](const CliOutput& o) {
        return run_get(client, o, "bin", wire::Consistency::linearizable);
    });
    EXPECT_EQ(get.code, exit_ok);
    EXPECT_EQ(get.out, std::string("\xff\n\n", 3));  // raw value, then a newline
    CommandRun missing = human([&](const CliOutput& o) {
        return run_get(client, o, "nope", wire::Consistency::linearizable);
    });
    EXPECT_EQ(missing.code, exit_not_found);
    EXPECT_EQ(missing.out, "");
    CommandRun put = human([&](const CliOutput& o) { return run_put(client, o, "k", "v"); });
    EXPECT_EQ(put.code, exit_ok);
    EXPECT_EQ(put.out, "OK revision 7\n");
    CommandRun swapped =
        human([&](const CliOutput& o) { return run_cas(client, o, "k", std::nullopt, "v"); });
    EXPECT_EQ(swapped.code, exit_ok);
    EXPECT_EQ(swapped.out, "SWAPPED revision 7\n");
    CommandRun not_swapped =
        human([&](const CliOutput& o) { return run_cas(client, o, "k", std::string("old"), "v"); });
    EXPECT_EQ(not_swapped.code, exit_not_found);
    EXPECT_EQ(not_swapped.out, "NOT SWAPPED (current value differs) revision 7\n");
    CommandRun del = human([&](const CliOutput& o) { return run_del(client, o, "k"); });
    EXPECT_EQ(del.code, exit_ok);
    EXPECT_EQ(del.out, "NOT FOUND revision 7\n");
    CommandRun range = human([&](const CliOutput& o) {
        return run_range(client, o, "", 10, wire::Consistency::linearizable);
    });
    EXPECT_EQ(range.code, exit_ok);
    EXPECT_EQ(range.out, "a\t1\n\xfe\t2\n");
}

TEST(CliCommandsTest, JsonOutputIsOneObjectPerCommand) {
    FakeServer server(kv_node);
    Client client(options_for({server.endpoint()}));
    const auto json = [&](auto command) { return run_command(true, command); };

    CommandRun get = json([&](const CliOutput& o) {
        return run_get(client, o, "bin", wire::Consistency::linearizable);
    });
    EXPECT_EQ(get.out,
              "{\"ok\":true,\"revision\":7,\"key\":\"bin\",\"found\":true,"
              "\"value_b64\":\"/wo=\"}\n");
    CommandRun missing = json([&](const CliOutput& o) {
        return run_get(client, o, "nope", wire::Consistency::linearizable);
    });
    EXPECT_EQ(missing.code, exit_not_found);
    EXPECT_EQ(missing.out,
              "{\"ok\":true,\"revision\":7,\"key\":\"nope\",\"found\":false,"
              "\"value\":null}\n");
    CommandRun range = json([&](const CliOutput& o) {
        return run_range(client, o, "", 10, wire::Consistency::linearizable);
    });
    EXPECT_EQ(range.out,
              "{\"ok\":true,\"revision\":7,\"more\":false,\"kvs\":["
              "{\"key\":\"a\",\"value\":\"1\"},{\"key_b64\":\"/g==\",\"value\":\"2\"}]}\n");
}

TEST(CliCommandsTest, ErrorsMapToExitCodes) {
    FakeServer rejecting([](const wire::ClientRequest&, std::size_t) {
        return FakeAction::send(error_reply("too_large", "value: too long"));
    });
    Client client(options_for({rejecting.endpoint()}));
    CommandRun rejected =
        run_command(false, [&](const CliOutput& o) { return run_put(client, o, "k", "v"); });
    EXPECT_EQ(rejected.code, exit_rejected);
    EXPECT_EQ(rejected.err, "cabildo: too_large: value: too long\n");
    CommandRun json =
        run_command(true, [&](const CliOutput& o) { return run_put(client, o, "k", "v"); });
    EXPECT_EQ(json.out, "{\"ok\":false,\"error\":\"too_large\",\"message\":\"value: too long\"}\n");

    Client unreachable(options_for({dead_endpoint()}));
    CommandRun timeout =
        run_command(false, [&](const CliOutput& o) { return run_put(unreachable, o, "k", "v"); });
    EXPECT_EQ(timeout.code, exit_unavailable);
    EXPECT_EQ(exit_code_for(Status::no_leader), exit_unavailable);
    EXPECT_EQ(exit_code_for(Status::storage_full), exit_rejected);
    EXPECT_EQ(exit_code_for(Status::io_error), exit_rejected);
}

TEST(CliCommandsTest, StatusTableHasOneRowPerNodeAndLag) {
    wire::NodeStatus leader;
    leader.node_id = 1;
    leader.role = "leader";
    leader.term = 3;
    leader.leader_id = 1;
    leader.commit_index = 50;
    leader.applied_index = 50;
    leader.last_index = 50;
    leader.state_hash = 0xab;
    wire::NodeStatus follower = leader;
    follower.node_id = 2;
    follower.role = "follower";
    follower.commit_index = 45;
    follower.applied_index = 44;
    ClusterStatus statuses;
    statuses.emplace_back("tcp://a:1", leader);
    statuses.emplace_back("tcp://b:1", Error{Status::unavailable, "no reply"});
    statuses.emplace_back("tcp://c:1", follower);
    EXPECT_EQ(
        format_status_table(statuses),
        "ENDPOINT   ID  ROLE      TERM  LEADER  COMMIT  APPLIED  LAST  LAG  STATE_HASH\n"
        "tcp://a:1  1   leader    3     1       50      50       50    0    00000000000000ab\n"
        "tcp://b:1  unreachable\n"
        "tcp://c:1  2   follower  3     1       45      44       50    6    00000000000000ab\n");
    const std::string json = format_status_json(statuses);
    EXPECT_NE(json.find("\"endpoint\":\"tcp://b:1\",\"reachable\":false,\"error\":\"unavailable\""),
              std::string::npos);
    EXPECT_NE(json.find("\"lag\":6"), std::string::npos);
    EXPECT_EQ(json.rfind("{\"ok\":true,\"nodes\":[", 0), 0u);
}

}  // namespace
}  // namespace cabildo::client
