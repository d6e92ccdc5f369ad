// TestCluster: a few Raft cores wired together by hand, for scenario tests.
//
// Unlike the simulator it has no randomness in the network: messages queue in
// order and the test decides what is delivered (deliver_all, deliver_if) or
// lost (drop_if), and persists Ready immediately. Each node's durable log is
// a MemoryLog that can be preloaded, as in the paper's figures.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "node/raft/raft.h"
#include "tests/support/memory_log.h"

namespace cabildo::test {

class TestCluster {
public:
    using Tweak = std::function<void(raft::Config&)>;

    // logs[i] are node i+1's terms at indexes 1..n; every node starts at term.
    TestCluster(const std::vector<std::vector<raft::Term>>& logs, raft::Term term,
                const Tweak& tweak = {}) {
        std::vector<raft::NodeId> members;
        for (std::size_t i = 0; i < logs.size(); ++i) members.push_back(i + 1);
        nodes_.resize(logs.size());
        for (std::size_t i = 0; i < logs.size(); ++i) {
            Node& n = nodes_[i];
            n.log = MemoryLog::with_terms(logs[i]);
            n.hard_state.term = term;
            raft::Config config;
            config.id = i + 1;
            config.membership = raft::voters_membership(members);
            if (tweak) tweak(config);
            n.rng = std::make_unique<raft::Rng>(i + 1);
            n.raft = std::make_unique<raft::Raft>(config, n.hard_state, n.log, *n.rng);
        }
    }

    raft::Raft& raft(raft::NodeId id) { return *nodes_.at(id - 1).raft; }
    const MemoryLog& log(raft::NodeId id) const { return nodes_.at(id - 1).log; }
    // For compaction: the shell's snapshot and compact, between Readies.
    MemoryLog& mutable_log(raft::NodeId id) { return nodes_.at(id - 1).log; }
    const std::vector<raft::Entry>& applied(raft::NodeId id) const {
        return nodes_.at(id - 1).applied;
    }
    std::vector<raft::ReadState>& reads(raft::NodeId id) { return nodes_.at(id - 1).reads; }
    std::deque<raft::Message>& queue() { return queue_; }

    // Persists, sends and applies every Ready (no delivery).
    void process_readies() {
        for (Node& n : nodes_) {
            while (n.raft->has_ready()) {
                raft::Ready ready = n.raft->take_ready();
                if (ready.snapshot) n.log.install(*ready.snapshot);  // its state is the test's
                if (ready.hard_state) n.hard_state = *ready.hard_state;
                n.log.persist(ready.entries_to_persist);
                for (raft::Message& m : ready.messages_early) {
                    ++sent_[m.type];
                    queue_.push_back(std::move(m));
                }
                for (raft::Message& m : ready.messages) {
                    ++sent_[m.type];
                    queue_.push_back(std::move(m));
                }
                n.applied.insert(n.applied.end(), ready.entries_to_apply.begin(),
                                 ready.entries_to_apply.end());
                n.reads.insert(n.reads.end(), ready.reads_ready.begin(), ready.reads_ready.end());
                n.raft->advance(ready);
                n.raft->check_invariants();
            }
        }
    }

    // Delivers queued messages that pass `keep` (others are dropped) until
    // the cluster is quiet. Returns how many were delivered.
    std::size_t deliver_if(const std::function<bool(const raft::Message&)>& keep) {
        std::size_t delivered = 0;
        process_readies();
        while (!queue_.empty()) {
            raft::Message m = std::move(queue_.front());
            queue_.pop_front();
            if (keep(m)) {
                raft(m.to).step(m);
                ++delivered;
            }
            process_readies();
        }
        return delivered;
    }
    std::size_t deliver_all() {
        return deliver_if([](const raft::Message&) { return true; });
    }

    void tick(raft::NodeId id, int ticks) {
        for (int i = 0; i < ticks; ++i) raft(id).tick();
    }

    std::size_t sent(raft::MessageType type) const {
        auto it = sent_.find(type);
        return it == sent_.end() ? 0 : it->second;
    }

private:
    struct Node {
        MemoryLog log;
        raft::HardState hard_state;
        std::unique_ptr<raft::Rng> rng;
        std::unique_ptr<raft::Raft> raft;
        std::vector<raft::Entry> applied;
        std::vector<raft::ReadState> reads;
    };
    std::vector<Node> nodes_;
    std::deque<raft::Message> queue_;
    std::map<raft::MessageType, std::size_t> sent_;
};

}  // namespace cabildo::test
