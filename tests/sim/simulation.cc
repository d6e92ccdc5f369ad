// Simulation: one seeded run of a whole cluster; see simulation.h.
#include "tests/sim/simulation.h"

#include <fmt/format.h>

#include <map>
#include <span>

#include "node/ready_cycle.h"

namespace cabildo::sim {
namespace {

using raft::Entry;
using raft::LogIndex;
using raft::Message;
using raft::NodeId;
using raft::Ready;
using raft::Role;
using raft::Term;

constexpr std::uint64_t tick_units = 10;
constexpr std::uint64_t restart_ticks_max = 40;
constexpr std::uint64_t partition_ticks_max = 60;

// The per-seed fault profile.
struct Profile {
    NetworkFaults network;
    std::uint64_t crash_per_mille = 0;      // per tick
    std::uint64_t partition_per_mille = 0;  // per tick
    std::uint64_t ready_per_mille = 1000;   // per unit: how promptly a node persists
    std::uint64_t propose_per_mille = 0;    // per unit
    std::uint64_t read_per_mille = 0;       // per unit
    std::uint64_t transfer_per_mille = 0;   // per tick
    std::uint64_t snapshot_per_mille = 0;   // per tick and node: take a snapshot, compact
    LogIndex snapshot_entries = 0;          // the snapshot policy's threshold
    LogIndex trailing_max = 0;              // entries kept after the snapshot: 0..this
    std::uint64_t storage_fail_per_mille = 0;  // per storage call: a full disk, say
    // A targeted nemesis: a newly elected leader is cut off or crashed within
    // a few ticks, before its no-op replicates. That churn is what Figure 8's
    // histories are made of.
    std::uint64_t new_leader_fault_per_mille = 0;
    std::uint64_t membership_per_mille = 0;  // per tick: the leader changes the membership
};

// The state machine is a hash of every entry applied, in order: two nodes
// that applied the same entries up to an index hold the same state there.
std::uint64_t apply_to_state(std::uint64_t state, const Entry& e) {
    std::uint64_t h = state ^ (0x9e3779b97f4a7c15ull * (e.index + 1));
    for (unsigned char c : e.data) h = (h ^ c) * 0x100000001b3ull;
    h ^= static_cast<std::uint64_t>(e.type) << 32;
    h ^= h >> 29;
    return h * 0xbf58476d1ce4e5b9ull;
}

// A node's storage crashes in the middle of a Ready: the shell throws this
// from the step the crash interrupts, and the node is gone at that point.
struct Crashed {};

struct SimNode {
    NodeId id = raft::node_none;
    test::MemoryLog log;         // durable, with the latest snapshot's metadata
    raft::HardState hard_state;  // as the core knows it: a commit-only change is not synced
    raft::HardState synced_hard_state;  // durable
    LogIndex applied = 0;        // durable, with the state machine, but an OS
    std::uint64_t state = 0;     // crash may take both back to the snapshot
    raft::Membership membership;  // as of applied (the state machine's)
    std::uint64_t snapshot_state = 0;  // durable: the state of log.snapshot()
    // Snapshot data that arrived with install_snapshot messages, until the
    // core asks to install it (lost in a crash, like any received message).
    std::map<std::pair<LogIndex, Term>, std::uint64_t> received_snapshots;
    // A snapshot being written (a node writes one off its loop, for a
    // while): it becomes the node's snapshot at done_at, unless it crashes.
    struct Writing {
        raft::SnapshotMeta meta;
        std::uint64_t state = 0;
        std::uint64_t done_at = 0;
    };
    std::optional<Writing> writing;
    std::unique_ptr<raft::Rng> rng;
    std::unique_ptr<raft::Raft> raft;  // null while crashed
    std::unique_ptr<node::ReadyShell> shell;
    std::unique_ptr<node::ReadyCycle> cycle;  // the node's own Ready cycle
    std::optional<std::uint64_t> crash_in;  // steps of the cycle left before a crash
    std::uint64_t retry_at = 0;             // a stalled cycle is retried then
    Term leader_checked = 0;                // the last term its leadership was checked
    std::uint64_t tick_phase = 0;
    std::uint64_t restart_at = 0;

    bool up() const { return raft && !cycle->stalled(); }  // may be ticked and stepped
};

struct PendingWrite {
    Term term = 0;
    std::string command;
};

struct PendingRead {
    NodeId node = raft::node_none;
    std::uint64_t acked_index_at_start = 0;
};

class Simulation {
public:
    Simulation(std::uint64_t seed, const SimOptions& options);
    SimReport run();

private:
    void choose_profile();
    raft::Config node_config(const SimNode& node) const;
    void start(SimNode& node);
    void crash(SimNode& node);
    void step_unit(bool faults);
    void deliver();
    void tick_nodes(bool faults);
    void process_ready(SimNode& node, bool crash_midway);
    // The Ready cycle's steps, as the simulator's shell does them.
    class Shell;
    void crash_point(SimNode& node, bool* lands);
    std::optional<Error> storage_fault(const char* step);
    void apply(SimNode& node, std::span<const Entry> entries);
    void persist(SimNode& node, const std::optional<raft::HardState>& hard_state,
                 const std::vector<Entry>& entries);
    void install_snapshot(SimNode& node, const raft::SnapshotMeta& snapshot);
    void finish(SimNode& node, const Ready& ready);
    void send(SimNode& node, const Message& m);
    void take_snapshot(SimNode& node);
    void finish_snapshot(SimNode& node);
    void compact(SimNode& node, LogIndex through);
    void client_ops(bool faults);
    void inject_faults();
    void partition();
    void isolate(NodeId isolated);
    void fault_new_leader();
    void change_membership();
    std::optional<raft::Membership> next_membership(const raft::Membership& now);
    void check_leader_commit(SimNode& node, Term leader_term, LogIndex commit_before);
    bool run_liveness();
    SimNode* leader();
    SimNode& random_node() { return nodes_[rng_.uniform(nodes_.size())]; }
    bool stopped() const { return checker_.violation().has_value(); }
    template <typename... Args>
    void trace(fmt::format_string<Args...> format, Args&&... args) {
        if (options_.trace) {
            fmt::print(stderr, "[{:>6}] {}\n", now_, fmt::format(format, std::forward<Args>(args)...));
        }
    }

    SimOptions options_;
    raft::Rng rng_;
    SimNetwork network_;
    Profile profile_;
    std::vector<SimNode> nodes_;
    SafetyChecker checker_;
    std::uint64_t now_ = 0;
    std::uint64_t heal_at_ = 0;
    bool faults_on_ = false;
    std::uint64_t leader_fault_at_ = 0;
    NodeId leader_fault_target_ = raft::node_none;
    std::uint64_t next_command_ = 0;
    std::uint64_t next_read_ = 0;
    std::map<std::pair<NodeId, LogIndex>, PendingWrite> writes_;
    std::map<std::uint64_t, PendingRead> reads_;
    bool pre_vote_ = true;
    bool check_quorum_ = true;
    std::size_t entries_per_append_max_ = 64;
    std::size_t inflight_appends_max_ = 8;
    std::size_t voters_at_start_ = 0;
    SimReport report_;
};

// The simulator's storage and network under the node's own Ready cycle.
// Each step may fail (storage_fault) or be where a crash strikes
// (crash_point): a write then lands whole or not at all, as a node's log
// record does (its checksum drops a torn one at open).
class Simulation::Shell final : public node::ReadyShell {
public:
    Shell(Simulation& sim, SimNode& node) : sim_(sim), node_(node) {}

    LogIndex applied_index() const override { return node_.applied; }
    LogIndex snapshot_index() const override { return node_.log.snapshot().index; }
    Result<bool> apply(std::span<const Entry> entries) override {
        return step("apply", [&] { sim_.apply(node_, entries); });
    }
    Result<bool> install_snapshot(const raft::SnapshotMeta& snapshot) override {
        return step("install", [&] { sim_.install_snapshot(node_, snapshot); });
    }
    Result<bool> persist(const std::optional<raft::HardState>& hard_state,
                         const std::vector<Entry>& entries) override {
        return step("persist", [&] { sim_.persist(node_, hard_state, entries); });
    }
    void compact(LogIndex through) override { sim_.compact(node_, through); }
    void send(const Message& m) override {
        bool lands = false;
        sim_.crash_point(node_, &lands);
        sim_.send(node_, m);
    }
    void finish(const Ready& ready) override {
        sim_.finish(node_, ready);
        if (sim_.stopped()) throw Stopped{};
    }

    // A violation was found: the run is over, and the core is called no
    // more (its own asserts would hide the violation).
    struct Stopped {};

private:
    template <typename Write>
    Result<bool> step(const char* what, Write write) {
        if (auto error = sim_.storage_fault(what)) return *error;
        bool lands = true;
        sim_.crash_point(node_, &lands);
        write();
        if (sim_.stopped()) throw Stopped{};
        if (!lands) throw Crashed{};  // written, but the cycle never hears
        return true;
    }

    Simulation& sim_;
    SimNode& node_;
};

Simulation::Simulation(std::uint64_t seed, const SimOptions& options)
    : options_(options), rng_(seed), network_(rng_) {
    report_.seed = seed;
    const std::size_t sizes[] = {3, 5, 7};
    voters_at_start_ = options.nodes != 0 ? options.nodes : sizes[rng_.uniform(3)];
    report_.nodes = voters_at_start_;
    choose_profile();
    // Spare nodes start empty, outside the membership, as a node started
    // with --join does: the membership changes may add them.
    const std::size_t spares = profile_.membership_per_mille == 0 ? 0 : 1 + rng_.uniform(2);
    std::vector<NodeId> voters;
    for (std::size_t i = 0; i < voters_at_start_; ++i) voters.push_back(i + 1);
    nodes_.resize(voters_at_start_ + spares);
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        nodes_[i].id = i + 1;
        nodes_[i].rng = std::make_unique<raft::Rng>(rng_.uniform(UINT64_MAX));
        nodes_[i].tick_phase = rng_.uniform(tick_units);
        if (i < voters_at_start_) nodes_[i].membership = raft::voters_membership(voters);
    }
    for (SimNode& node : nodes_) start(node);
}

void Simulation::choose_profile() {
    const std::uint64_t drops[] = {0, 10, 50, 200};
    const std::uint64_t dups[] = {0, 20, 100};
    const std::uint64_t crashes[] = {0, 3, 10};
    const std::uint64_t partitions[] = {0, 5, 20};
    const std::uint64_t readies[] = {1000, 500, 150};
    const std::uint64_t leader_faults[] = {0, 300, 700};
    const std::size_t batch[] = {1, 4, 64};
    const std::size_t inflight[] = {1, 2, 8};
    profile_.network.delay_max = 1 + rng_.uniform(3 * tick_units);
    profile_.network.drop_per_mille = drops[rng_.uniform(4)];
    profile_.network.duplicate_per_mille = dups[rng_.uniform(3)];
    profile_.crash_per_mille = crashes[rng_.uniform(3)];
    profile_.partition_per_mille = partitions[rng_.uniform(3)];
    profile_.ready_per_mille = readies[rng_.uniform(3)];
    profile_.propose_per_mille = 10 + rng_.uniform(50);
    profile_.read_per_mille = rng_.uniform(40);
    profile_.transfer_per_mille = rng_.uniform(2) * 5;
    profile_.new_leader_fault_per_mille = leader_faults[rng_.uniform(3)];
    const std::uint64_t memberships[] = {0, 0, 20, 80};
    profile_.membership_per_mille = memberships[rng_.uniform(4)];
    const std::uint64_t snapshots[] = {0, 20, 100};
    const LogIndex trailing[] = {0, 3, 20};
    const LogIndex snapshot_entries[] = {1, 4, 16};
    const std::uint64_t storage_faults[] = {0, 0, 10, 50};
    profile_.snapshot_per_mille = snapshots[rng_.uniform(3)];
    profile_.snapshot_entries = snapshot_entries[rng_.uniform(3)];
    profile_.trailing_max = trailing[rng_.uniform(3)];
    profile_.storage_fail_per_mille = storage_faults[rng_.uniform(4)];
    pre_vote_ = rng_.uniform(4) != 0;
    check_quorum_ = rng_.uniform(4) != 0;
    entries_per_append_max_ = batch[rng_.uniform(3)];
    inflight_appends_max_ = inflight[rng_.uniform(3)];
    network_.set_faults(profile_.network);
}

raft::Config Simulation::node_config(const SimNode& node) const {
    raft::Config config;
    config.id = node.id;
    config.membership = node.membership;
    config.promote_lag_max = 5;
    config.election_timeout_ticks = 10;
    config.heartbeat_interval_ticks = 1;
    config.pre_vote = pre_vote_;
    config.check_quorum = check_quorum_;
    config.entries_per_append_max = entries_per_append_max_;
    config.inflight_appends_max = inflight_appends_max_;
    config.applied = node.applied;
    config.snapshot_timeout_ticks = 20;
    return config;
}

// As a node's storage opens: whatever was applied was committed, though a
// commit-only change of the hard state was never synced.
void Simulation::start(SimNode& node) {
    node.hard_state = node.synced_hard_state;
    node.hard_state.commit_index = std::max(node.hard_state.commit_index, node.applied);
    node.raft = std::make_unique<raft::Raft>(node_config(node), node.hard_state, node.log,
                                             *node.rng);
    node.shell = std::make_unique<Shell>(*this, node);
    node.cycle = std::make_unique<node::ReadyCycle>(*node.raft, *node.shell);
    node.raft->check_invariants();
}

// Everything not yet persisted is lost: the unstable tail, unsent messages,
// volatile state. Pending client work on this node has an unknown outcome.
// Half the crashes are OS crashes, which also lose the applied state (a
// node does not sync it): the node restarts from its latest snapshot.
void Simulation::crash(SimNode& node) {
    trace("crash node {}", node.id);
    node.cycle.reset();
    node.shell.reset();
    node.raft.reset();
    node.crash_in.reset();
    node.received_snapshots.clear();
    node.writing.reset();
    if (rng_.chance(1, 2) && node.log.snapshot().index > 0) {
        node.applied = node.log.snapshot().index;
        node.state = node.snapshot_state;
        node.membership = node.log.snapshot().membership;
        trace("node {} lost its applied state: back to snapshot {}", node.id, node.applied);
    }
    node.restart_at = now_ + tick_units * (1 + rng_.uniform(restart_ticks_max));
    std::erase_if(writes_, [&](const auto& w) { return w.first.first == node.id; });
    std::erase_if(reads_, [&](const auto& r) { return r.second.node == node.id; });
    ++report_.crashes;
}

SimNode* Simulation::leader() {
    SimNode* found = nullptr;
    for (SimNode& n : nodes_) {
        if (!n.up() || n.raft->status().role != Role::leader) continue;
        if (found == nullptr || n.raft->status().term > found->raft->status().term) found = &n;
    }
    return found;
}

void Simulation::step_unit(bool faults) {
    ++now_;
    faults_on_ = faults;
    if (faults) {
        inject_faults();
        fault_new_leader();
        change_membership();
    }
    for (SimNode& n : nodes_) {
        if (!n.raft && now_ >= n.restart_at) {
            trace("restart node {}", n.id);
            start(n);
        }
    }
    deliver();
    tick_nodes(faults);
    client_ops(faults);
    for (SimNode& n : nodes_) {
        if (!n.raft) continue;
        finish_snapshot(n);
        if (now_ % tick_units != n.tick_phase) continue;
        if (n.up() && rng_.chance(profile_.snapshot_per_mille, 1000)) take_snapshot(n);
        if (rng_.chance(profile_.snapshot_per_mille, 1000)) {
            n.cycle->compact(rng_.uniform(profile_.trailing_max + 1));
        }
    }
    for (SimNode& n : nodes_) {
        if (stopped()) return;
        if (!n.raft) continue;
        const bool due = n.cycle->stalled() ? now_ >= n.retry_at : n.raft->has_ready();
        if (!due) continue;
        if (faults && !rng_.chance(profile_.ready_per_mille, 1000)) continue;
        const bool crash_midway = faults && rng_.chance(profile_.crash_per_mille, 10000);
        process_ready(n, crash_midway);
    }
    for (const SimNode& n : nodes_) {
        checker_.check_node_log(
            n.id, n.log, std::max(n.synced_hard_state.commit_index, n.log.snapshot().index));
    }
}

void Simulation::deliver() {
    for (SimMessage& sm : network_.take_due(now_)) {
        Message& m = sm.message;
        SimNode& to = nodes_[m.to - 1];
        if (!to.up()) continue;  // a stalled node takes no messages
        if (m.type == raft::MessageType::install_snapshot) {
            to.received_snapshots[{m.snapshot.index, m.snapshot.term}] = sm.snapshot_state;
        }
        trace("deliver {} {}->{} term {}{}", raft::message_type_name(m.type), m.from, m.to, m.term,
              m.granted ? " granted" : "");
        const Term leader_term = to.raft->role() == Role::leader ? to.raft->term() : 0;
        const LogIndex commit_before = to.raft->status().commit_index;
        to.raft->step(m);
        to.raft->check_invariants();
        check_leader_commit(to, leader_term, commit_before);
    }
}

void Simulation::tick_nodes(bool faults) {
    for (SimNode& n : nodes_) {
        if (!n.up() || now_ % tick_units != n.tick_phase) continue;
        n.raft->tick();
        n.raft->check_invariants();
        if (faults && n.raft->status().role == Role::leader &&
            rng_.chance(profile_.transfer_per_mille, 1000)) {
            const NodeId to = random_node().id;
            trace("transfer leadership {} -> {}", n.id, to);
            (void)n.raft->transfer_leadership(to);
        }
    }
}

// One turn of the node's Ready cycle. A crash midway strikes at a random
// step of it (or right after it).
void Simulation::process_ready(SimNode& node, bool crash_midway) {
    if (crash_midway) node.crash_in = rng_.uniform(8);
    const Term leader_term = node.raft->role() == Role::leader ? node.raft->term() : 0;
    const LogIndex commit_before = node.raft->status().commit_index;
    std::optional<Error> error;
    try {
        error = node.cycle->run([] { return false; });
    } catch (const Crashed&) {
        ++report_.crashes_midway;
        crash(node);
        return;
    } catch (const Shell::Stopped&) {
        return;
    }
    if (node.crash_in) {
        crash(node);
        return;
    }
    if (error) {
        trace("node {} stalled: {}", node.id, error->detail);
        ++report_.storage_stalls;
        node.retry_at = now_ + 1 + rng_.uniform(5 * tick_units);
        return;
    }
    node.raft->check_invariants();
    check_leader_commit(node, leader_term, commit_before);
}

// No commit without a quorum of the membership in force: when a leader's
// commit index moves, the entry there is durable on a majority of the
// voters it uses (the leader counts only if it is one of them). A leader
// that hears of a newer term meanwhile learned the commit as a follower.
void Simulation::check_leader_commit(SimNode& node, Term leader_term, LogIndex commit_before) {
    const LogIndex commit = node.raft->status().commit_index;
    if (leader_term == 0 || node.raft->term() != leader_term || commit <= commit_before ||
        stopped()) {
        return;
    }
    trace("leader {} commits through {}", node.id, commit);
    // §5.4.2: a leader commits by counting entries of its own term only.
    std::map<NodeId, const test::MemoryLog*> logs;
    for (const SimNode& n : nodes_) logs.emplace(n.id, &n.log);
    checker_.on_leader_commit(node.id, commit, node.raft->term(), node.raft->membership().voters(),
                              logs);
}

// The crash planned for this Ready strikes at this step: it happens before
// the step or, if *lands may stay true, after its write.
void Simulation::crash_point(SimNode& node, bool* lands) {
    if (!node.crash_in) return;
    if (*node.crash_in > 0) {
        --*node.crash_in;
        return;
    }
    node.crash_in.reset();
    if (!*lands || rng_.chance(1, 2)) throw Crashed{};
}

std::optional<Error> Simulation::storage_fault(const char* step) {
    if (!faults_on_ || !rng_.chance(profile_.storage_fail_per_mille, 1000)) return std::nullopt;
    return Error{Status::io_error, fmt::format("injected failure of {}", step)};
}

// Hard state and entries in one record, as the node's log writes them. As
// there, a change of the commit index alone is not synced: Raft keeps it
// as volatile state.
void Simulation::persist(SimNode& node, const std::optional<raft::HardState>& hard_state,
                         const std::vector<Entry>& entries) {
    const raft::HardState next = hard_state ? *hard_state : node.hard_state;
    const raft::HardState& synced = node.synced_hard_state;
    node.hard_state = next;
    if (!entries.empty() || next.term != synced.term || next.voted_for != synced.voted_for) {
        node.synced_hard_state = next;
    }
    if (!entries.empty()) {
        node.log.persist(entries);
        checker_.on_persisted(node.id, node.log, entries.front().index);
    }
    // A new leader's log, now durable, must hold every committed entry.
    if (node.raft->role() == Role::leader && node.raft->term() != node.leader_checked) {
        node.leader_checked = node.raft->term();
        checker_.on_leader(node.id, node.raft->term(), node.log, {});
    }
    if (hard_state) checker_.on_commit(node.id, node.hard_state.commit_index, node.log, {});
}

void Simulation::finish(SimNode& node, const Ready& ready) {
    if (ready.soft_state) {
        trace("node {} is {} (term {}, leader {})", node.id, raft::role_name(ready.soft_state->role),
              node.hard_state.term, ready.soft_state->leader);
        if (ready.soft_state->role == Role::leader) {
            ++report_.leaders;
            if (faults_on_ && rng_.chance(profile_.new_leader_fault_per_mille, 1000)) {
                leader_fault_at_ = now_ + rng_.uniform(3 * tick_units);
                leader_fault_target_ = node.id;
            }
        }
    }
    for (const raft::ReadState& r : ready.reads_ready) {
        auto it = reads_.find(r.context.id);
        if (it == reads_.end()) continue;
        checker_.on_read(node.id, r.index, it->second.acked_index_at_start);
        reads_.erase(it);
    }
    for (const raft::ReadContext& c : ready.reads_failed) reads_.erase(c.id);
}

// A snapshot goes with the data of the one it names. If the leader has a
// newer one by now, that data is gone: the transfer fails, as a node's
// would whose snapshot file was replaced, and the core is told.
void Simulation::send(SimNode& node, const Message& m) {
    trace("send {} {}->{} term {}", raft::message_type_name(m.type), m.from, m.to, m.term);
    std::uint64_t data = 0;
    if (m.type == raft::MessageType::install_snapshot) {
        if (m.snapshot != node.log.snapshot()) {
            node.cycle->report_snapshot(m.to, false);
            return;
        }
        data = node.snapshot_state;
    }
    network_.send(now_, m, data);
}

// Idempotent, as the node's: a Ready retried after a later failure finds
// it installed.
void Simulation::install_snapshot(SimNode& node, const raft::SnapshotMeta& snapshot) {
    if (node.log.snapshot() == snapshot && node.log.first_index() == snapshot.index + 1 &&
        node.applied == snapshot.index) {
        return;
    }
    auto it = node.received_snapshots.find({snapshot.index, snapshot.term});
    CABILDO_ASSERT(it != node.received_snapshots.end(), "installing a snapshot never received");
    trace("node {} installs snapshot {} (term {})", node.id, snapshot.index, snapshot.term);
    checker_.on_snapshot_installed(node.id, node.applied, snapshot, it->second);
    node.log.install(snapshot);
    node.applied = snapshot.index;
    node.membership = snapshot.membership;
    node.state = it->second;
    node.snapshot_state = it->second;
    node.received_snapshots.clear();
    ++report_.snapshots_installed;
}

// The shell starts a snapshot of its applied state; it is done (durable,
// the one sent to followers) a few ticks later, while the node goes on
// applying.
void Simulation::take_snapshot(SimNode& node) {
    // The node's policy, counting entries only (the state has no size here).
    const node::SnapshotPolicy policy{profile_.snapshot_entries, 0};
    if (node.writing || !node::snapshot_due(policy, node.applied, node.log.snapshot().index, 0, 0)) {
        return;
    }
    const raft::SnapshotMeta snapshot{node.applied, *node.log.term_at(node.applied),
                                      node.membership};
    node.writing = SimNode::Writing{snapshot, node.state, now_ + rng_.uniform(5 * tick_units)};
}

void Simulation::finish_snapshot(SimNode& node) {
    if (!node.writing || now_ < node.writing->done_at) return;
    const SimNode::Writing w = *node.writing;
    node.writing.reset();
    if (w.meta.index <= node.log.snapshot().index) return;  // an installed one is newer
    trace("node {} took snapshot {}", node.id, w.meta.index);
    node.log.set_snapshot(w.meta);
    node.snapshot_state = w.state;
    checker_.on_snapshot_taken(node.id, w.meta, w.state);
    ++report_.snapshots_taken;
    node.cycle->compact(rng_.uniform(profile_.trailing_max + 1));  // as the node does
}

// Through the index the cycle's rule (raft::compaction_index) chose. While
// a Ready is out the core is not checked: its applied index catches up
// with the shell's at advance().
void Simulation::compact(SimNode& node, LogIndex through) {
    test::MemoryLog& log = node.log;
    if (through < log.first_index()) return;
    trace("node {} compacts through {} (snapshot {})", node.id, through, log.snapshot().index);
    log.compact(std::min(through, log.last_index()));
    ++report_.compactions;
    if (!node.cycle->stalled()) node.raft->check_invariants();
}

// Entries the cycle applies are committed and in the node's durable log
// (those it held are applied before this Ready's persist).
void Simulation::apply(SimNode& node, std::span<const Entry> entries) {
    checker_.on_commit(node.id, entries.back().index, node.log, {});
    for (const Entry& e : entries) {
        checker_.on_apply(node.id, node.applied, e);
        node.applied = e.index;
        node.state = apply_to_state(node.state, e);
        if (e.type == raft::EntryType::config) node.membership = *raft::decode_membership(e.data);
        checker_.on_state(node.id, e.index, node.state);
        auto it = writes_.find({node.id, e.index});
        if (it == writes_.end()) continue;
        if (it->second.term == e.term && it->second.command == e.data) {
            checker_.on_write_acked(e.index);
            ++report_.writes_acked;
        }
        writes_.erase(it);
    }
}

void Simulation::client_ops(bool faults) {
    SimNode& node = random_node();
    if (!node.up()) return;
    // After the faults only a trickle: a slow profile (one entry per append,
    // one in flight, long delays) must be able to catch up for liveness.
    if (rng_.chance(faults ? profile_.propose_per_mille : 2, 1000)) {
        std::string command = fmt::format("c{}", next_command_++);
        SimNode* target = &node;
        raft::ProposeResult r = node.raft->propose(command);
        // Like a real client, follow the leader hint once.
        if (r.status == Status::not_leader && r.leader != raft::node_none &&
            nodes_[r.leader - 1].up()) {
            target = &nodes_[r.leader - 1];
            r = target->raft->propose(command);
        }
        if (r.status == Status::ok) writes_[{target->id, r.index}] = PendingWrite{r.term, command};
    }
    if (rng_.chance(profile_.read_per_mille, 1000)) {
        const std::uint64_t id = next_read_++;
        if (node.raft->read_index(raft::ReadContext{id}).status == Status::ok) {
            reads_[id] = PendingRead{node.id, checker_.acked_index_max()};
        }
    }
}

void Simulation::inject_faults() {
    if (now_ % tick_units != 0) return;
    if (network_.partitioned() && now_ >= heal_at_) {
        trace("heal partition");
        network_.heal();
    }
    if (rng_.chance(profile_.crash_per_mille, 1000)) {
        if (rng_.chance(1, 20)) {
            for (SimNode& n : nodes_) {
                if (n.raft) crash(n);  // all at once
            }
        } else if (SimNode& n = random_node(); n.raft) {
            crash(n);
        }
    }
    if (!network_.partitioned() && rng_.chance(profile_.partition_per_mille, 1000)) partition();
}

// The leader is asked for one change: add a learner or a voter, promote a
// learner, or remove any member, itself included. The core refuses what it
// must (a change pending, a lagging learner, no quorum left).
void Simulation::change_membership() {
    if (now_ % tick_units != 0 || !rng_.chance(profile_.membership_per_mille, 1000)) return;
    SimNode* l = leader();
    if (l == nullptr) return;
    const std::optional<raft::Membership> next = next_membership(l->raft->membership());
    if (!next) return;
    const raft::ChangeResult r = l->raft->propose_membership(*next);
    std::string text;
    for (const raft::Member& m : next->members) text += fmt::format(" {}{}", m.id, m.learner ? "L" : "");
    trace("node {} proposes membership{}: {} {}", l->id, text, status_name(r.status), r.detail);
    if (r.status == Status::ok) ++report_.membership_changes;
}

std::optional<raft::Membership> Simulation::next_membership(const raft::Membership& now) {
    raft::Membership next = now;
    std::vector<NodeId> outside, learners;
    for (const SimNode& n : nodes_) {
        if (!now.contains(n.id)) outside.push_back(n.id);
    }
    for (const raft::Member& m : now.members) {
        if (m.learner) learners.push_back(m.id);
    }
    switch (rng_.uniform(4)) {
    case 0:
    case 1:
        if (outside.empty()) return std::nullopt;
        next.put(raft::Member{outside[rng_.uniform(outside.size())], rng_.chance(3, 4), {}});
        return next;
    case 2:
        if (learners.empty()) return std::nullopt;
        next.put(raft::Member{learners[rng_.uniform(learners.size())], false, {}});
        return next;
    default: next.erase(now.members[rng_.uniform(now.members.size())].id); return next;
    }
}

void Simulation::fault_new_leader() {
    if (leader_fault_target_ == raft::node_none || now_ < leader_fault_at_) return;
    SimNode& target = nodes_[leader_fault_target_ - 1];
    leader_fault_target_ = raft::node_none;
    if (!target.raft) return;
    if (rng_.chance(1, 2)) {
        crash(target);
        return;
    }
    trace("partition: isolate new leader {}", target.id);
    ++report_.partitions;
    isolate(target.id);
    heal_at_ = std::max(heal_at_, now_ + tick_units * (5 + rng_.uniform(partition_ticks_max)));
}

void Simulation::isolate(NodeId isolated) {
    for (const SimNode& n : nodes_) {
        if (n.id == isolated) continue;
        network_.cut(isolated, n.id);
        network_.cut(n.id, isolated);
    }
}

void Simulation::partition() {
    ++report_.partitions;
    heal_at_ = now_ + tick_units * (5 + rng_.uniform(partition_ticks_max));
    const std::uint64_t kind = rng_.uniform(3);
    if (kind == 0) {  // isolate the leader (or a random node), both ways
        SimNode* l = leader();
        const NodeId isolated = l != nullptr ? l->id : random_node().id;
        trace("partition: isolate node {}", isolated);
        isolate(isolated);
    } else if (kind == 1) {  // a random split: minority/majority or any other
        std::vector<bool> side(nodes_.size());
        for (std::size_t i = 0; i < side.size(); ++i) side[i] = rng_.chance(1, 2);
        trace("partition: random split");
        for (const SimNode& a : nodes_) {
            for (const SimNode& b : nodes_) {
                if (side[a.id - 1] != side[b.id - 1]) network_.cut(a.id, b.id);
            }
        }
    } else {  // one-way cuts
        trace("partition: one-way cuts");
        for (std::size_t k = 0; k < nodes_.size(); ++k) {
            const NodeId a = random_node().id;
            const NodeId b = random_node().id;
            if (a != b) network_.cut(a, b);
        }
    }
}

// After the faults: heal, restart everyone, and require that a new command
// commits and is applied on every node within liveness_ticks_max.
bool Simulation::run_liveness() {
    network_.heal();
    network_.set_faults(NetworkFaults{profile_.network.delay_max, 0, 0});
    for (SimNode& n : nodes_) n.restart_at = now_;
    const std::uint64_t healed_at = now_;
    // A member added late may have to receive the whole log, and the
    // slowest profile moves one entry per round trip (up to 3 ticks).
    LogIndex catch_up = 0;
    if (profile_.membership_per_mille > 0) {
        for (const SimNode& n : nodes_) catch_up = std::max(catch_up, n.log.last_index());
    }
    const std::uint64_t deadline =
        now_ + (options_.liveness_ticks_max + 3 * catch_up) * tick_units;
    std::optional<std::pair<LogIndex, Term>> probe;
    while (now_ < deadline && !stopped()) {
        step_unit(false);
        if (stopped()) break;  // a Ready may be left in flight: call the core no more
        SimNode* l = leader();
        if (l != nullptr && (!probe || l->raft->status().term != probe->second)) {
            raft::ProposeResult r = l->raft->propose("liveness");
            if (r.status == Status::ok) probe = {{r.index, r.term}};
        }
        if (!probe) continue;
        bool everywhere = l != nullptr;
        for (const SimNode& n : nodes_) {
            if (!everywhere) break;
            if (!l->raft->membership().contains(n.id)) continue;  // not a member now
            // Compacted away is fine: it is then in the node's snapshot.
            const bool held = n.log.first_index() > probe->first ||
                              n.log.term_at(probe->first) == probe->second;
            everywhere = everywhere && n.applied >= probe->first && held;
        }
        if (everywhere) {
            report_.liveness_ticks = (now_ - healed_at) / tick_units;
            return true;
        }
    }
    return false;
}

SimReport Simulation::run() {
    for (std::uint64_t t = 0; t < options_.fault_ticks * tick_units && !stopped(); ++t) {
        step_unit(true);
    }
    if (!stopped() && !run_liveness()) {
        SimNode* l = leader();
        std::string nodes;
        for (const SimNode& n : nodes_) {
            const raft::RaftStatus st = n.raft->status();
            nodes += fmt::format("; node {}: {} term {} commit {} applied {} log {}..{}", n.id,
                                 raft::role_name(st.role), st.term, st.commit_index, n.applied,
                                 n.log.first_index(), n.log.last_index());
        }
        if (l != nullptr) {
            for (const raft::ProgressStatus& p : l->raft->status().progress) {
                nodes += fmt::format("; progress {}: match {} next {} {}", p.id, p.match_index,
                                     p.next_index, raft::progress_state_name(p.state));
            }
        }
        report_.violation = fmt::format(
            "liveness: no command committed on every node within {} ticks after healing "
            "(leader: {}){}",
            options_.liveness_ticks_max, l != nullptr ? l->id : 0, nodes);
    }
    if (checker_.violation()) report_.violation = checker_.violation();
    report_.committed = checker_.committed_max();
    report_.reads_checked = checker_.reads_checked();
    return report_;
}

}  // namespace

SimReport run_simulation(std::uint64_t seed, const SimOptions& options) {
    return Simulation(seed, options).run();
}

}  // namespace cabildo::sim
