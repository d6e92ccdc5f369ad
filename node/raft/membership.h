// Membership: who is in the cluster, as of one point of the log.
//
// Voters elect leaders and count in every quorum; learners (non-voting
// members) receive the log and snapshots but count in no quorum and never
// campaign. Each member carries a context the core never looks at: the
// shell's address (and whatever else it needs) for that member.
//
// A configuration entry (EntryType::config) holds the whole new membership,
// not a delta, so any one entry says all there is to know. The encoding is
// the core's own (it links no codec library) and is documented in
// wire/PROTOCOL.md, "Configuration entries".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/ids.h"

namespace cabildo::raft {

struct Member {
    NodeId id = node_none;
    bool learner = false;
    std::string context{};  // the shell's: e.g. the member's peer address

    bool operator==(const Member&) const = default;
};

struct Membership {
    std::vector<Member> members{};  // sorted by id, ids unique

    bool operator==(const Membership&) const = default;

    const Member* find(NodeId id) const;
    bool contains(NodeId id) const { return find(id) != nullptr; }
    bool is_voter(NodeId id) const;
    std::vector<NodeId> voters() const;
    std::size_t voter_count() const;
    bool empty() const { return members.empty(); }
    // Inserts or replaces the member with this id, keeping the order.
    void put(Member member);
    bool erase(NodeId id);
};

// Every member a voter, with empty contexts (tests, bootstrap).
Membership voters_membership(const std::vector<NodeId>& ids);

std::string encode_membership(const Membership& membership);
// nullopt: not a membership this version wrote (bad version, truncated,
// trailing bytes, ids not ascending, id 0).
std::optional<Membership> decode_membership(std::string_view data);

// Thesis §4.1: a change may add or remove one server at a time, so any
// majority of the old voters overlaps any majority of the new ones. What one
// change from `from` to `to` does, or why it is not one change.
enum class ChangeKind { add_voter, add_learner, promote, remove, update, none, invalid };
ChangeKind classify_change(const Membership& from, const Membership& to, NodeId* subject);

}  // namespace cabildo::raft
