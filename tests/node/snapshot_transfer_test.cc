// Tests of SnapshotSender's pacing: chunks go out within the window and,
// when a rate is set, no faster than it (on the caller's clock).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "node/snapshot_transfer.h"

namespace cabildo::node {
namespace {

using std::chrono::milliseconds;

constexpr std::uint64_t mb = 1000000;

class SnapshotSenderTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = (std::filesystem::temp_directory_path() /
                 ("cabildo-sender-" + std::to_string(::getpid()) + ".snap"))
                    .string();
        std::ofstream(path_, std::ios::binary) << std::string(3 * SnapshotSender::chunk_bytes, 'x');
        message_.type = raft::MessageType::install_snapshot;
        message_.from = 1;
        message_.to = 2;
        message_.term = 4;
        message_.snapshot = {100, 3, raft::voters_membership({1, 2, 3})};
    }
    void TearDown() override { std::filesystem::remove(path_); }

    std::string path_;
    raft::Message message_;
    SnapshotClock::time_point t0_ = SnapshotClock::now();
};

TEST_F(SnapshotSenderTest, WithoutARateTheWindowIsTheLimit) {
    SnapshotSender sender(1);
    ASSERT_TRUE(sender.start(message_, path_, t0_));
    EXPECT_EQ(sender.chunks_to_send(t0_).size(), 3u);  // 3 MiB fit the 8 MiB window
    EXPECT_TRUE(sender.chunks_to_send(t0_).empty());
}

TEST_F(SnapshotSenderTest, ARateSpreadsTheChunksOverTime) {
    SnapshotSender sender(1);
    sender.set_rate(1 * mb);  // a chunk (1 MiB) a little over a second
    ASSERT_TRUE(sender.start(message_, path_, t0_));
    auto first = sender.chunks_to_send(t0_);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].offset, 0u);
    EXPECT_TRUE(sender.chunks_to_send(t0_ + milliseconds(1000)).empty());  // 1 MB < 1 MiB
    auto second = sender.chunks_to_send(t0_ + milliseconds(1100));
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].offset, SnapshotSender::chunk_bytes);
    EXPECT_EQ(sender.chunks_to_send(t0_ + milliseconds(10000)).size(), 1u);  // the last one
}

}  // namespace
}  // namespace cabildo::node
