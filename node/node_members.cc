// Node: the membership. The members this node links to follow the core's
// membership (its latest configuration entry); member_* requests become
// configuration entries, answered once applied; transfer_leader hands
// leadership over; a node whose removal it applied leaves.
#include <spdlog/spdlog.h>

#include "node/node.h"
#include "wire/protocol.h"

namespace cabildo::node {

namespace {

std::string describe(const raft::Membership& membership) {
    std::string text;
    for (const raft::Member& m : membership.members) {
        if (!text.empty()) text += ", ";
        text += std::to_string(m.id) + (m.learner ? " (learner)" : "") + " at " + m.context;
    }
    return text.empty() ? "none" : text;
}

// The core refuses for now (dropped: a handover, a leader new in its term)
// what the client may retry: unavailable.
std::string_view change_error(Status status) {
    return wire::error_code(status == Status::dropped ? Status::unavailable : status);
}

}  // namespace

// After each Ready: a new configuration entry in the log (appended,
// truncated, or from a snapshot) changes who this node talks to. A node
// that joins knows no membership until its first one arrives: it keeps the
// members it learned with --join.
//
// While a change is pending, the members of the committed membership stay
// linked too: a leader removing itself leads until the change commits, and
// a member being removed must hear that it committed.
//
// A member that leaves stays linked for a few seconds more: a removed
// leader hands over only once the new voters acknowledge its last entries,
// which they must still be able to send it.
void Node::sync_membership() {
    const raft::Membership& latest = raft_.membership();
    const raft::Membership& committed = raft_.committed_membership();
    // Every loop turn: nothing is copied unless the log's membership changed
    // or a departed member's grace period runs.
    if (departed_.empty() && latest == latest_seen_ && committed == committed_seen_) return;
    if (!(latest == latest_seen_)) {
        latest_seen_ = latest;
        if (!latest.empty()) {
            spdlog::info("node {}: membership at index {}{}: {}", config_.id,
                         raft_.membership_index(),
                         raft_.membership_pending() ? " (not committed yet)" : "",
                         describe(latest));
        }
    }
    committed_seen_ = committed;
    const auto now = Clock::now();
    raft::Membership linked = latest;
    for (const raft::Member& m : committed.members) {
        if (!linked.contains(m.id)) linked.put(m);
    }
    for (const raft::Member& m : membership_seen_.members) {
        if (!linked.contains(m.id) && departed_.count(m.id) == 0) {
            departed_.emplace(m.id, Departed{m, now + std::chrono::seconds(5)});
        }
    }
    std::erase_if(departed_, [&](const auto& kv) {
        return kv.second.until <= now || linked.contains(kv.first);
    });
    for (const auto& [id, d] : departed_) linked.put(d.member);
    if (!(linked == membership_seen_)) relink(std::move(linked));
}

// config_.members, the peer links and the client links become `linked`.
void Node::relink(raft::Membership linked) {
    // An id bound to a data directory before and unbound now was removed
    // and added again: the uuid heard from its old directory is not its own.
    for (const raft::Member& m : linked.members) {
        const raft::Member* old = membership_seen_.find(m.id);
        if (old != nullptr && old->context.find('#') != std::string::npos &&
            m.context.find('#') == std::string::npos) {
            peers_.forget_uuid(m.id);
        }
    }
    membership_seen_ = std::move(linked);
    if (membership_seen_.empty()) return;
    std::vector<Member> members;
    for (const raft::Member& m : membership_seen_.members) {
        if (auto member = member_from(m)) {
            members.push_back(*member);
        } else {
            spdlog::warn("node {}: member {} has no usable address '{}'", config_.id, m.id,
                         m.context);
        }
    }
    config_.members = std::move(members);
    peers_.update_members();
    update_member_links();
}

// Leader: a member whose data directory the membership does not name yet
// (bootstrap members, ones just added) is bound to the uuid its messages
// carry, by a membership change that alters nothing else. From then on
// every node refuses that id under another uuid (PeerTransport).
void Node::bind_uuids(Clock::time_point now) {
    if (now < next_bind_ || raft_.role() != raft::Role::leader || cycle_.stalled() ||
        raft_.membership_pending()) {
        return;
    }
    next_bind_ = now + std::chrono::milliseconds(200);
    for (const raft::Member& m : raft_.membership().members) {
        auto member = member_from(m);
        if (!member || !member->uuid.empty()) continue;
        member->uuid = m.id == config_.id ? config_.uuid : peers_.seen_uuid(m.id);
        if (member->uuid.empty()) continue;
        raft::Membership next = raft_.membership();
        next.put(raft::Member{m.id, m.learner, member->context()});
        const raft::ChangeResult r = raft_.propose_membership(next);
        if (r.status == Status::ok) {
            spdlog::info("node {}: node {} is bound to data directory {} (index {})", config_.id,
                         m.id, member->uuid, r.index);
        }
        return;  // one change at a time
    }
}

void Node::note_applied_membership(const raft::Membership& membership, raft::LogIndex index) {
    if (membership.contains(config_.id)) {
        was_member_ = true;
        removed_at_ = 0;
    } else if (was_member_) {
        removed_at_ = index;
    }
}

// Removed (its removal applied): once it no longer leads and has answered
// what it holds, the node stops, saying so. It takes no further part. It
// lingers a moment first: its last answers (the removal's, say) are still
// in its sockets, which drop what they hold when closed.
bool Node::removed_and_done() {
    if (removed_at_ == 0 || raft_.role() == raft::Role::leader) return false;
    // Writes it proposed after the removal may still commit under the new
    // leader, which never tells this node: their outcome is unknown here,
    // and a retry in the same session is exactly-once.
    for (auto& [index, pending] : writes_) {
        reply_error(pending.envelope, wire::error_timeout,
                    "this node was removed from the cluster before it learned whether the "
                    "write committed; retry it (same session and seq) at another node",
                    pending.request.id);
    }
    writes_.clear();
    if (!forwards_.empty()) return false;
    const auto now = Clock::now();
    if (removed_seen_at_ == Clock::time_point{}) removed_seen_at_ = now;
    if (now - removed_seen_at_ < std::chrono::milliseconds(200)) return false;
    spdlog::warn("node {}: removed from the cluster by the configuration entry at index {}; it "
                 "takes no further part and stops. Its data directory is of no further use: "
                 "delete it before adding this id again",
                 config_.id, removed_at_);
    return true;
}

wire::MembershipInfo Node::membership_info() const {
    const raft::RaftStatus s = raft_.status();
    wire::MembershipInfo info;
    info.index = s.membership_index;
    info.pending = s.membership_pending;
    info.cluster_id = storage_->cluster_id();
    for (const raft::Member& m : s.membership.members) {
        wire::MemberInfo member;
        member.id = m.id;
        member.learner = m.learner;
        if (auto parsed = member_from(m)) {
            member.peer = parsed->address();
            member.uuid = parsed->uuid;
            member.client_endpoint = parsed->client_endpoint();
        }
        if (m.id == config_.id) {
            member.match_index = s.last_index;
            member.active = true;
        }
        for (const raft::ProgressStatus& p : s.progress) {
            if (p.id != m.id) continue;
            member.match_index = p.match_index;
            member.active = p.active;
        }
        info.members.push_back(std::move(member));
    }
    return info;
}

// Any node answers from its own view: a follower's may lag the leader's.
void Node::serve_member_list(const Pending& pending) {
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = storage_->applied_index();
    reply.membership = membership_info();
    reply.id = pending.request.id;
    this->reply(pending.envelope, std::move(reply));
}

Result<raft::Membership> Node::next_membership(const wire::ClientRequest& r) const {
    raft::Membership next = raft_.membership();
    const raft::Member* member = next.find(r.member_id);
    const std::string id = std::to_string(r.member_id);
    switch (r.op) {
    case wire::Op::member_add: {
        if (member != nullptr) {
            return Error{Status::bad_request, "node " + id + " is already a member"};
        }
        auto parsed = parse_member(id + "=" + r.peer);
        if (!parsed) return Error{Status::bad_request, "peer: " + parsed.error().detail};
        next.put(raft::Member{r.member_id, r.learner, parsed->address()});
        return next;
    }
    case wire::Op::member_promote:
        if (member == nullptr) return Error{Status::not_found, "no member with id " + id};
        if (!member->learner) return Error{Status::bad_request, "node " + id + " is a voter"};
        next.put(raft::Member{member->id, false, member->context});  // its uuid too
        return next;
    default:
        if (member == nullptr) return Error{Status::not_found, "no member with id " + id};
        next.erase(r.member_id);
        return next;
    }
}

// The leader appends the configuration entry; the answer goes once it is
// applied (answer_change), as for a write. A follower forwards.
void Node::start_change(Pending pending, const zmq::message_t& body, bool forwarded) {
    if (raft_.role() != raft::Role::leader || cycle_.stalled()) {
        refuse_not_leader(pending, forwarded, body);
        return;
    }
    auto next = next_membership(pending.request);
    if (!next) {
        reply_error(pending.envelope, change_error(next.error().status), next.error().detail,
                    pending.request.id);
        return;
    }
    const raft::ChangeResult r = raft_.propose_membership(*next);
    if (r.status == Status::not_leader) {
        refuse_not_leader(pending, forwarded, body);
        return;
    }
    if (r.status != Status::ok) {
        reply_error(pending.envelope, change_error(r.status), r.detail, pending.request.id);
        return;
    }
    spdlog::info("node {}: {} {}: proposed at index {}", config_.id,
                 wire::op_name(pending.request.op), pending.request.member_id, r.index);
    pending.term = r.term;
    writes_.emplace(r.index, std::move(pending));
}

void Node::answer_change(Pending pending, const Applied& applied) {
    if (applied.term != pending.term || !applied.membership) {
        reply_error(pending.envelope, wire::error_unavailable,
                    "leadership changed before the change committed; it was not made",
                    pending.request.id);
        return;
    }
    wire::ClientReply reply;
    reply.ok = true;
    reply.revision = applied.index;
    reply.membership = membership_info();
    reply.id = pending.request.id;
    this->reply(pending.envelope, std::move(reply));
}

// To the given voter, or to the one with the most of the log. Answered once
// this node no longer leads and knows who does.
void Node::start_transfer(Pending pending, const zmq::message_t& body, bool forwarded) {
    if (raft_.role() != raft::Role::leader || cycle_.stalled()) {
        refuse_not_leader(pending, forwarded, body);
        return;
    }
    raft::NodeId target = pending.request.member_id;
    if (target == raft::node_none) target = raft_.most_caught_up_voter().first;
    if (target == config_.id) {
        serve_member_list(pending);  // already the leader
        return;
    }
    if (target == raft::node_none || !raft_.membership().is_voter(target)) {
        const std::string why = target == raft::node_none
                                    ? "no other voter to hand leadership to"
                                    : "node " + std::to_string(target) + " is not a voter";
        reply_error(pending.envelope, wire::error_not_found, why, pending.request.id);
        return;
    }
    if (raft_.transfer_leadership(target) != Status::ok) {
        reply_error(pending.envelope, wire::error_unavailable, "the transfer could not start",
                    pending.request.id);
        return;
    }
    spdlog::info("node {}: transfer_leader: handing leadership to node {}", config_.id, target);
    transfers_.push_back(Transfer{std::move(pending), target});
}

void Node::poll_transfers(Clock::time_point now) {
    for (auto it = transfers_.begin(); it != transfers_.end();) {
        const bool led = raft_.role() == raft::Role::leader;
        const bool done = !led && raft_.leader() != raft::node_none;
        const bool given_up = (led && raft_.transfer_target() == raft::node_none) ||
                              now >= it->pending.deadline;
        if (done) {
            serve_member_list(it->pending);
        } else if (given_up) {
            reply_error(it->pending.envelope, wire::error_unavailable,
                        "node " + std::to_string(it->target) +
                            " did not take over in time; this node still leads",
                        it->pending.request.id);
        } else {
            ++it;
            continue;
        }
        it = transfers_.erase(it);
    }
}

}  // namespace cabildo::node
