// search: the depth-first search itself (see search.h), following the
// structure of Lowe's "Testing for linearizability" (2017) and Porcupine's
// checker: call and return events in one doubly linked list in time order,
// "lifting" an operation's two events out of the list when it is linearized
// and splicing them back in when the search backtracks.
#include "tests/linearizability/search.h"

#include <algorithm>
#include <limits>
#include <tuple>

#include "node/raft/assert.h"
#include "tests/linearizability/visited_cache.h"

namespace cabildo::lincheck {
namespace {

// How many search steps pass between two looks at the clock.
constexpr std::size_t steps_per_clock_check = 1024;
constexpr int no_entry = -1;
constexpr int head_entry = 0;

// A fixed pseudo-random word per ok op (splitmix64 of its slot).
std::uint64_t slot_hash(std::size_t slot) {
    std::uint64_t hash = (slot + 1) * 0x9e3779b97f4a7c15ULL;
    hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
    hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
    return hash ^ (hash >> 31);
}

// One run of the search. Candidates for the next linearization
// are the calls before the earliest pending return: ok ops first, then
// unknown ones, so that the cheaper branch (the unknown op has not taken
// effect yet) is explored first and VisitedCache's dominance prunes the
// other. Invariant: an op's call and return entries are in the list exactly
// when the op is not linearized, and the bitsets, `stack_` and
// `ok_remaining_` all describe that same set.
class Search {
public:
    Search(const std::vector<SearchOp>& ops, SearchModel& model, StateId initial,
           const SearchLimits& limits);
    SearchResult run();

private:
    struct Entry {
        std::size_t op = 0;
        bool is_call = false;
        int prev = no_entry;
        int next = no_entry;
        int match = no_entry;  // a call's return entry
    };
    // Where the scan for the next candidate stands.
    struct Cursor {
        int entry = no_entry;
        bool unknown_phase = false;  // false: trying ok ops; true: unknown ones
    };
    struct Frame {
        Cursor at;  // the call linearized, and the phase it was tried in
        StateId state_before = 0;
        std::optional<StateId> block_start_before;
    };

    void build_entries();
    void lift(int call_entry);
    void unlift(int call_entry);
    bool try_linearize(int call_entry, bool unknown_phase);
    bool worth_trying(std::size_t op, StateId next_state);
    Cursor backtrack();
    void note_blocked(int return_entry);
    bool over_limits();
    void set_linearized(std::size_t op, bool on);

    const std::vector<SearchOp>& ops_;
    SearchModel& model_;
    const SearchLimits limits_;
    std::vector<Entry> entries_;     // [0] is the head sentinel; the list ends at no_entry
    std::vector<std::size_t> slot_;  // an op's bit in ok_linearized_ or unknown_linearized_
    Bitset ok_linearized_;
    std::uint64_t ok_hash_ = 0;  // Zobrist hash of ok_linearized_: xor of slot_hash()
    Bitset unknown_linearized_;
    VisitedCache visited_;
    std::vector<Frame> stack_;
    StateId state_;
    // The state before the run of unknown ops that ends the linearization
    // so far; nullopt when it ends with an ok op (or is empty).
    std::optional<StateId> block_start_;
    std::size_t ok_remaining_ = 0;  // ok (not unknown) ops not yet linearized
    std::size_t steps_ = 0;
    SearchResult result_;
    bool blocked_noted_ = false;
};

Search::Search(const std::vector<SearchOp>& ops, SearchModel& model, StateId initial,
               const SearchLimits& limits)
    : ops_(ops), model_(model), limits_(limits), state_(initial) {
    std::size_t unknowns = 0;
    for (const SearchOp& op : ops_) {
        slot_.push_back(op.unknown ? unknowns++ : ok_remaining_++);
    }
    ok_linearized_.assign((ok_remaining_ + 63) / 64, 0);
    unknown_linearized_.assign((unknowns + 63) / 64, 0);
    build_entries();
}

// Events sorted by time. At equal times a call sorts before a return, so the
// two operations count as concurrent: the lenient reading of a tie.
void Search::build_entries() {
    using Event = std::tuple<std::int64_t, bool, std::size_t>;  // time, is_return, op
    std::vector<Event> events;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
        events.emplace_back(ops_[i].call_ns, false, i);
        events.emplace_back(
            ops_[i].unknown ? std::numeric_limits<std::int64_t>::max() : ops_[i].return_ns, true,
            i);
    }
    std::sort(events.begin(), events.end());
    entries_.resize(events.size() + 1);
    std::vector<int> call_of(ops_.size(), no_entry);
    for (std::size_t i = 0; i < events.size(); ++i) {
        const int at = static_cast<int>(i) + 1;
        const auto [time, is_return, op] = events[i];
        entries_[at] = Entry{op, !is_return, at - 1, no_entry, no_entry};
        entries_[at - 1].next = at;
        if (is_return) {
            entries_[call_of[op]].match = at;
        } else {
            call_of[op] = at;
        }
    }
}

void Search::lift(int call_entry) {
    const Entry& call = entries_[call_entry];
    entries_[call.prev].next = call.next;
    entries_[call.next].prev = call.prev;  // a call is always followed by its return
    const Entry& ret = entries_[call.match];
    entries_[ret.prev].next = ret.next;
    if (ret.next != no_entry)
        entries_[ret.next].prev = ret.prev;
}

void Search::unlift(int call_entry) {
    const Entry& call = entries_[call_entry];
    const Entry& ret = entries_[call.match];
    entries_[ret.prev].next = call.match;
    if (ret.next != no_entry)
        entries_[ret.next].prev = call.match;
    entries_[call.prev].next = call_entry;
    entries_[call.next].prev = call_entry;
}

void Search::set_linearized(std::size_t op, bool on) {
    Bitset& bits = ops_[op].unknown ? unknown_linearized_ : ok_linearized_;
    const std::size_t slot = slot_[op];
    if (!ops_[op].unknown)
        ok_hash_ ^= slot_hash(slot);
    const std::uint64_t bit = std::uint64_t{1} << (slot % 64);
    if (on) {
        bits[slot / 64] |= bit;
    } else {
        bits[slot / 64] &= ~bit;
    }
}

// Prunes linearizations that a shorter one dominates (same ok ops, same
// state, fewer unknown ops taken effect), which the search tries anyway:
// - an unknown op that leaves the state as it was;
// - an op (ok or unknown) right after a run of unknown ops, when it was
//   possible before the run and leaves the same state either way: the run
//   was pointless (for an ok op), or the op erases the run's effect, so
//   starting the run with it is the same, with fewer (for an unknown one;
//   e.g. a put or del on a register).
// Both alternatives are reachable: during a run of unknown ops the pending
// ok ops are those of its start, so an op that is a candidate now was one
// there. This keeps a history with many unknown writes from costing
// 2^unknowns.
bool Search::worth_trying(std::size_t op, StateId next_state) {
    if (ops_[op].unknown && next_state == state_)
        return false;
    if (!block_start_)
        return true;
    const std::optional<StateId> from_start = model_.step(*block_start_, op);
    return !from_start || *from_start != next_state;
}

// Linearizes the op of `call_entry` now, unless its output contradicts the
// model or the resulting configuration was already reached.
bool Search::try_linearize(int call_entry, bool unknown_phase) {
    const std::size_t op = entries_[call_entry].op;
    const std::optional<StateId> next_state = model_.step(state_, op);
    if (!next_state || !worth_trying(op, *next_state))
        return false;
    set_linearized(op, true);
    if (!visited_.visit(ok_linearized_, ok_hash_, *next_state, unknown_linearized_)) {
        set_linearized(op, false);
        return false;
    }
    stack_.push_back(Frame{Cursor{call_entry, unknown_phase}, state_, block_start_});
    if (!ops_[op].unknown) {
        block_start_ = std::nullopt;
    } else if (!block_start_) {
        block_start_ = state_;
    }
    state_ = *next_state;
    if (!ops_[op].unknown)
        --ok_remaining_;
    lift(call_entry);
    return true;
}

// Undoes the most recent linearization; returns where the scan resumes.
Search::Cursor Search::backtrack() {
    const Frame frame = stack_.back();
    stack_.pop_back();
    const std::size_t op = entries_[frame.at.entry].op;
    state_ = frame.state_before;
    block_start_ = frame.block_start_before;
    set_linearized(op, false);
    if (!ops_[op].unknown)
        ++ok_remaining_;
    unlift(frame.at.entry);
    return Cursor{entries_[frame.at.entry].next, frame.at.unknown_phase};
}

// Keeps the deepest point where the search got stuck, for the explanation.
void Search::note_blocked(int return_entry) {
    if (blocked_noted_ && stack_.size() <= result_.linearized.size())
        return;
    blocked_noted_ = true;
    result_.linearized.clear();
    for (const Frame& frame : stack_) result_.linearized.push_back(entries_[frame.at.entry].op);
    result_.state = state_;
    result_.blocker = entries_[return_entry].op;
    result_.pending.clear();
    for (int at = entries_[head_entry].next; at != return_entry; at = entries_[at].next) {
        if (entries_[at].is_call)
            result_.pending.push_back(entries_[at].op);
    }
}

bool Search::over_limits() {
    if (visited_.entries() > limits_.cache_entries_max)
        return true;
    if (++steps_ % steps_per_clock_check != 0)
        return false;
    return std::chrono::steady_clock::now() > limits_.deadline;
}

SearchResult Search::run() {
    using Verdict = SearchResult::Verdict;
    Cursor at{entries_[head_entry].next, false};
    result_.verdict = Verdict::linearizable;
    // Once every ok op is linearized, the unknown ones left never took effect.
    while (ok_remaining_ > 0) {
        if (over_limits()) {
            result_.verdict = Verdict::gave_up;
            break;
        }
        CABILDO_ASSERT(at.entry != no_entry, "an ok op's return is always ahead");
        const Entry& entry = entries_[at.entry];
        if (entry.is_call) {
            const bool linearized = ops_[entry.op].unknown == at.unknown_phase &&
                                    try_linearize(at.entry, at.unknown_phase);
            at = linearized ? Cursor{entries_[head_entry].next, false}
                            : Cursor{entry.next, at.unknown_phase};
            continue;
        }
        CABILDO_ASSERT(!ops_[entry.op].unknown, "unknown ops return after all ok ops");
        if (!at.unknown_phase) {
            at = Cursor{entries_[head_entry].next, true};
            continue;
        }
        note_blocked(at.entry);
        if (stack_.empty()) {
            result_.verdict = Verdict::violation;
            break;
        }
        at = backtrack();
    }
    result_.cache_entries = visited_.entries();
    return result_;
}

}  // namespace

SearchResult search_history(const std::vector<SearchOp>& ops, SearchModel& model, StateId initial,
                            const SearchLimits& limits) {
    Search search(ops, model, initial, limits);
    return search.run();
}

}  // namespace cabildo::lincheck
