// Membership and its encoding; see membership.h.
#include "node/raft/membership.h"

#include <algorithm>

namespace cabildo::raft {

const Member* Membership::find(NodeId id) const {
    auto it = std::lower_bound(members.begin(), members.end(), id,
                               [](const Member& m, NodeId v) { return m.id < v; });
    return it != members.end() && it->id == id ? &*it : nullptr;
}

bool Membership::is_voter(NodeId id) const {
    const Member* m = find(id);
    return m != nullptr && !m->learner;
}

std::vector<NodeId> Membership::voters() const {
    std::vector<NodeId> ids;
    for (const Member& m : members) {
        if (!m.learner) ids.push_back(m.id);
    }
    return ids;
}

std::size_t Membership::voter_count() const {
    return static_cast<std::size_t>(
        std::count_if(members.begin(), members.end(), [](const Member& m) { return !m.learner; }));
}

void Membership::put(Member member) {
    auto it = std::lower_bound(members.begin(), members.end(), member.id,
                               [](const Member& m, NodeId v) { return m.id < v; });
    if (it != members.end() && it->id == member.id) {
        *it = std::move(member);
    } else {
        members.insert(it, std::move(member));
    }
}

bool Membership::erase(NodeId id) {
    auto it = std::find_if(members.begin(), members.end(),
                           [id](const Member& m) { return m.id == id; });
    if (it == members.end()) return false;
    members.erase(it);
    return true;
}

Membership voters_membership(const std::vector<NodeId>& ids) {
    Membership membership;
    for (NodeId id : ids) membership.put(Member{id, false, {}});
    return membership;
}

namespace {

constexpr std::uint8_t encoding_version = 1;
constexpr std::uint8_t flag_learner = 1;
constexpr std::size_t members_max = 1024;
constexpr std::size_t context_bytes_max = 4096;

void put_be(std::string& out, std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
}

// Reads big-endian numbers off the front of a view; false once it ran out.
struct Cursor {
    std::string_view rest;
    bool get(int bytes, std::uint64_t& value) {
        if (rest.size() < static_cast<std::size_t>(bytes)) return false;
        value = 0;
        for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(rest[i]);
        rest.remove_prefix(static_cast<std::size_t>(bytes));
        return true;
    }
};

}  // namespace

// version u8 = 1, count u32, then per member: id u64, flags u8 (1 =
// learner), context length u16, context bytes. Big-endian.
std::string encode_membership(const Membership& membership) {
    std::string out;
    put_be(out, encoding_version, 1);
    put_be(out, membership.members.size(), 4);
    for (const Member& m : membership.members) {
        put_be(out, m.id, 8);
        put_be(out, m.learner ? flag_learner : 0, 1);
        put_be(out, m.context.size(), 2);
        out += m.context;
    }
    return out;
}

std::optional<Membership> decode_membership(std::string_view data) {
    Cursor c{data};
    std::uint64_t version = 0, count = 0;
    if (!c.get(1, version) || version != encoding_version || !c.get(4, count) ||
        count > members_max) {
        return std::nullopt;
    }
    Membership membership;
    for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t id = 0, flags = 0, length = 0;
        if (!c.get(8, id) || !c.get(1, flags) || !c.get(2, length)) return std::nullopt;
        if (id == node_none || (flags & ~std::uint64_t{flag_learner}) != 0 ||
            length > context_bytes_max || c.rest.size() < length) {
            return std::nullopt;
        }
        if (!membership.members.empty() && membership.members.back().id >= id) return std::nullopt;
        membership.members.push_back(
            Member{id, (flags & flag_learner) != 0, std::string(c.rest.substr(0, length))});
        c.rest.remove_prefix(length);
    }
    if (!c.rest.empty()) return std::nullopt;
    return membership;
}

ChangeKind classify_change(const Membership& from, const Membership& to, NodeId* subject) {
    std::vector<const Member*> added, removed, changed;
    for (const Member& m : to.members) {
        const Member* old = from.find(m.id);
        if (old == nullptr) {
            added.push_back(&m);
        } else if (!(*old == m)) {
            changed.push_back(&m);
        }
    }
    for (const Member& m : from.members) {
        if (!to.contains(m.id)) removed.push_back(&m);
    }
    const std::size_t touched = added.size() + removed.size() + changed.size();
    if (touched == 0) return ChangeKind::none;
    if (touched > 1) return ChangeKind::invalid;
    if (!added.empty()) {
        *subject = added[0]->id;
        return added[0]->learner ? ChangeKind::add_learner : ChangeKind::add_voter;
    }
    if (!removed.empty()) {
        *subject = removed[0]->id;
        return ChangeKind::remove;
    }
    const Member* old = from.find(changed[0]->id);
    *subject = changed[0]->id;
    if (old->learner && !changed[0]->learner) return ChangeKind::promote;
    // A demotion is not offered: remove the voter and add it as a learner.
    if (!old->learner && changed[0]->learner) return ChangeKind::invalid;
    return ChangeKind::update;
}

}  // namespace cabildo::raft
