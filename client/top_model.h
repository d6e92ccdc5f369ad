// TopModel: what `cabildo top` knows about a cluster, built from the nodes'
// `hb/` heartbeats (PROTOCOL.md section 10: each is a `status` reply map,
// every 100 ms). Pure: no sockets, no terminal and no clock of its own;
// every call is given the time, so tests drive it with made-up heartbeats
// and instants. Not the drawing (top_screen.h turns it into text lines,
// top_view.h puts them on a terminal) and not the subscribing (top_feed.h).
//
// It keeps one entry per node id, with the node's last heartbeat, and turns
// them into rows: a node silent for more than top_silence_max is `down`
// (its last known values stay on the row), and live again with its next
// heartbeat. Members named in any heartbeat's `members` become entries and
// endpoints to subscribe to, so giving top one node shows the whole cluster.
// From the (term, leader_id) the live nodes report it derives the cluster's
// leader and records each change of it: the "recent leader changes".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wire/client_messages.h"

namespace cabildo::client {

using TopSteadyTime = std::chrono::steady_clock::time_point;
using TopWallTime = std::chrono::system_clock::time_point;

// A moment, on both clocks: steady for ages and silence, wall for display.
struct TopInstant {
    TopSteadyTime steady;
    TopWallTime wall;
};

// A node that sent no heartbeat for longer than this is down. Ten missed
// heartbeats: a busy node is late, not gone.
constexpr std::chrono::milliseconds top_silence_max{1000};
// The leader changes kept; older ones are dropped.
constexpr std::size_t top_leader_changes_max = 100;
// Endpoints (nodes) top subscribes to at most; members past it are not added.
constexpr std::size_t top_endpoints_max = 64;

enum class TopNodeState {
    waiting,     // known (given or a member), nothing heard yet, not silent long enough
    live,        // a heartbeat within top_silence_max
    recovering,  // live, re-applying its log after a restart (status `recovering`)
    down,        // silent for longer than top_silence_max (or never heard since then)
};

// One row of the table. Invariant: status is set iff the node was ever
// heard from; node_id is 0 only for a given endpoint nothing was heard from.
struct TopRow {
    std::uint64_t node_id = 0;
    std::string endpoint;  // its client endpoint
    TopNodeState state = TopNodeState::waiting;
    std::optional<wire::NodeStatus> status;  // the last heartbeat's, kept while down
    // The leader's commit_index (the highest live commit_index without a
    // live leader) minus this node's applied_index; unset without status.
    std::optional<std::uint64_t> lag;
    // Since the last heartbeat; unset when none was ever heard.
    std::optional<std::chrono::milliseconds> age;
    bool is_leader = false;  // the cluster's leader as top sees it (leader())
};

// A change of the cluster's leader as top saw it. leader_id 0: no leader
// (the live nodes know none, or no node is live).
struct TopLeaderChange {
    TopInstant at;
    std::uint64_t term = 0;
    std::uint64_t leader_id = 0;
    std::uint64_t previous_leader_id = 0;  // 0: none, or this is the first one seen
    bool first = false;                    // the leader top found when it started

    // Everything but `at` (for tests).
    bool operator==(const TopLeaderChange& other) const {
        return term == other.term && leader_id == other.leader_id &&
               previous_leader_id == other.previous_leader_id && first == other.first;
    }
};

// The leader as the live nodes report it, at the highest term among them.
struct TopLeader {
    std::uint64_t term = 0;
    std::uint64_t leader_id = 0;  // 0: none known
};

class TopModel {
public:
    // endpoints: the client endpoints given (--endpoints), shown as rows
    // from the start, even before (or without) any heartbeat.
    TopModel(std::vector<std::string> endpoints, TopInstant start);

    // A heartbeat received from the node whose client endpoint is
    // `endpoint` (the one top subscribed to). node_id 0 is ignored.
    void on_heartbeat(const std::string& endpoint, const wire::NodeStatus& status, TopInstant now);
    // Notices silence: a leader that went quiet changes the leader. Call it
    // on every refresh (on_heartbeat() does it too).
    void tick(TopInstant now);

    // The client endpoints to subscribe to: the given ones first, then the
    // members learned, each once, at most top_endpoints_max.
    const std::vector<std::string>& endpoints() const { return endpoints_; }
    // By node id, then the given endpoints nothing was heard from. A down
    // node that no live node lists as a member any more (removed) and that
    // was not given is left out.
    std::vector<TopRow> rows(TopSteadyTime now) const;
    // Oldest first, at most top_leader_changes_max.
    const std::deque<TopLeaderChange>& leader_changes() const { return leader_changes_; }
    // The current leader (as of the last tick() or on_heartbeat()).
    TopLeader leader() const { return leader_; }
    // Whether any heartbeat was ever received.
    bool heard_any() const { return heard_any_; }

private:
    struct Node {
        std::string endpoint;
        TopSteadyTime known_since;  // silence before the first heartbeat counts from here
        std::optional<TopSteadyTime> last_heartbeat;
        std::optional<wire::NodeStatus> status;
    };

    void learn_members(const wire::NodeStatus& status, TopInstant now);
    void add_endpoint(const std::string& endpoint);
    bool is_live(const Node& node, TopSteadyTime now) const;
    TopNodeState state_of(const Node& node, TopSteadyTime now) const;
    bool listed_by_live_node(std::uint64_t node_id, TopSteadyTime now) const;
    bool any_live(TopSteadyTime now) const;
    std::uint64_t lag_reference(TopSteadyTime now) const;
    TopLeader observed_leader(TopSteadyTime now) const;
    void record_leader_change(const TopLeader& observed, TopInstant now);
    TopRow node_row(std::uint64_t node_id, const Node& node, TopSteadyTime now,
                    std::uint64_t reference) const;

    TopSteadyTime start_;
    std::vector<std::string> endpoints_;
    std::set<std::string> given_;                        // the endpoints of the constructor
    std::map<std::string, std::uint64_t> endpoint_ids_;  // endpoint -> the node heard there
    std::map<std::uint64_t, Node> nodes_;
    std::deque<TopLeaderChange> leader_changes_;
    // The leader observed last. Invariant: once leader_known_ (from the
    // first time a node was live), leader_.leader_id is the leader_id of the
    // last recorded change.
    TopLeader leader_;
    bool leader_known_ = false;
    bool heard_any_ = false;
};

}  // namespace cabildo::client
