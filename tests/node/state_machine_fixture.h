// StateMachineTest: a KvStateMachine over a real Storage in a temporary
// directory, applying one command per entry (state_machine_test.cc,
// coord_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>

#include "node/state_machine.h"
#include "tests/storage/storage_test_util.h"
#include "wire/command.h"

namespace cabildo::node {

using storage::testing::open_ok;
using storage::testing::TempDir;

class StateMachineTest : public ::testing::Test {
protected:
    void SetUp() override {
        storage_ = open_ok(dir_.db_path());
        ASSERT_NE(storage_, nullptr);
        machine_ = std::make_unique<KvStateMachine>(*storage_);
    }

    // Applies one command as the next entry; returns what it did.
    Applied apply(const wire::Command& command) {
        raft::Entry entry;
        entry.index = ++index_;
        entry.term = 1;
        entry.type = raft::EntryType::normal;
        entry.data = wire::encode_command(command);
        EXPECT_TRUE(storage_->persist(raft::HardState{1, 0, index_}, {entry}).ok());
        auto staged = machine_->stage(std::span<const raft::Entry>(&entry, 1));
        EXPECT_TRUE(staged.ok());
        EXPECT_TRUE(staged->txn.commit().ok());
        return staged->applied.at(0);
    }

    static wire::Command put(std::string key, std::string value, std::uint64_t lease = 0) {
        wire::Command c;
        c.op = wire::Op::put;
        c.key = std::move(key);
        c.value = std::move(value);
        c.lease = lease;
        return c;
    }
    static wire::Command lease_op(wire::Op op, std::uint64_t lease, std::uint64_t ttl = 0) {
        wire::Command c;
        c.op = op;
        c.lease = lease;
        c.ttl_ms = ttl;
        return c;
    }

    TempDir dir_;
    std::unique_ptr<storage::Storage> storage_;
    std::unique_ptr<KvStateMachine> machine_;
    raft::LogIndex index_ = 0;
};

}  // namespace cabildo::node
