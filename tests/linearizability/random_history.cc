// random_history: the generator and the corruption (random_history.h). The
// generator works in two passes: first the shape of every operation (client,
// kind, key, times, outcome, linearization point), then its values and
// outputs, by replaying the operations that take effect in point order.
#include "tests/linearizability/random_history.h"

#include <algorithm>
#include <map>
#include <string>

namespace cabildo::lincheck::test {
namespace {

// An operation that takes effect, and when.
struct Planned {
    std::size_t index = 0;
    std::int64_t point_ns = 0;
};

Operation::Kind random_kind(std::mt19937_64& rng, const RandomHistoryOptions& options) {
    if (options.txn_percent + options.delp_percent > 0) {
        const std::uint64_t multi = uniform(rng, 100);
        if (multi < options.txn_percent)
            return Operation::Kind::txn;
        if (multi < options.txn_percent + options.delp_percent)
            return Operation::Kind::delp;
    }
    const std::uint64_t roll = uniform(rng, 100);
    if (roll < 35)
        return Operation::Kind::get;
    if (roll < 65)
        return Operation::Kind::put;
    if (roll < 75)
        return Operation::Kind::del;
    return Operation::Kind::cas;
}

Operation::Outcome random_outcome(std::mt19937_64& rng, const RandomHistoryOptions& options) {
    const std::uint64_t roll = uniform(rng, 100);
    if (roll < options.unknown_percent)
        return Operation::Outcome::unknown;
    if (roll < options.unknown_percent + options.failed_percent)
        return Operation::Outcome::failed;
    return Operation::Outcome::ok;
}

std::int64_t uniform_ns(std::mt19937_64& rng, std::int64_t n) {
    return static_cast<std::int64_t>(uniform(rng, static_cast<std::uint64_t>(n)));
}

std::string random_key(std::mt19937_64& rng, const RandomHistoryOptions& options) {
    return "k" + std::to_string(uniform(rng, options.keys));
}

TxnOp random_txn_op(std::mt19937_64& rng, const RandomHistoryOptions& options, bool success) {
    TxnOp t;
    const std::uint64_t roll = uniform(rng, 4);
    t.kind = roll < 2                ? TxnOp::Kind::put
             : roll == 2 || !success ? TxnOp::Kind::get
                                     : TxnOp::Kind::del;
    t.key = random_key(rng, options);
    return t;
}

// The keys and kinds of a txn's parts; values and outputs come later.
void draw_txn_shape(std::mt19937_64& rng, const RandomHistoryOptions& options, Operation& op) {
    if (uniform(rng, 10) < 7)
        op.compares.push_back(TxnCompare{random_key(rng, options), std::nullopt});
    const std::uint64_t successes = 1 + uniform(rng, 3);
    for (std::uint64_t i = 0; i < successes; ++i) {
        op.success.push_back(random_txn_op(rng, options, true));
    }
    const std::uint64_t failures = op.compares.empty() ? 0 : uniform(rng, 3);
    for (std::uint64_t i = 0; i < failures; ++i) {
        op.failure.push_back(random_txn_op(rng, options, false));
    }
}

// One client's operation at `time_ns`; fills `planned` if it takes effect.
Operation draw_shape(std::mt19937_64& rng, const RandomHistoryOptions& options,
                     std::uint64_t client, std::int64_t time_ns, std::vector<Planned>& planned,
                     std::size_t index) {
    Operation op;
    op.client = client;
    op.kind = random_kind(rng, options);
    if (op.kind == Operation::Kind::txn) {
        draw_txn_shape(rng, options, op);
    } else if (op.kind == Operation::Kind::delp) {
        op.key = uniform(rng, 3) == 0 ? "k" : random_key(rng, options);
    } else {
        op.key = random_key(rng, options);
    }
    op.call_ns = time_ns + uniform_ns(rng, options.think_ns_max + 1);
    const std::int64_t latency_ns = 1 + uniform_ns(rng, options.latency_ns_max);
    op.return_ns = op.call_ns + latency_ns;
    op.outcome = random_outcome(rng, options);
    if (op.outcome == Operation::Outcome::ok) {
        planned.push_back(Planned{index, op.call_ns + uniform_ns(rng, latency_ns + 1)});
    } else if (op.outcome == Operation::Outcome::unknown && uniform(rng, 2) == 0) {
        // Took effect, possibly long after the client gave up.
        planned.push_back(Planned{index, op.call_ns + uniform_ns(rng, 4 * options.latency_ns_max)});
    }
    return op;
}

class Store {
public:
    std::string fresh_value() { return "v" + std::to_string(values_++); }

    std::optional<std::string> pick_expected(std::mt19937_64& rng, const std::string& key) {
        const std::vector<std::string>& written = written_[key];
        const std::uint64_t roll = uniform(rng, 4);
        if (roll < 2)
            return state_[key];
        if (roll == 2 || written.empty())
            return std::nullopt;
        return written[uniform(rng, written.size())];
    }

    // Takes effect: fills the op's contents and outputs from the store.
    void apply(std::mt19937_64& rng, Operation& op) {
        if (op.kind == Operation::Kind::txn)
            return apply_txn(rng, op);
        if (op.kind == Operation::Kind::delp)
            return apply_delp(op);
        std::optional<std::string>& state = state_[op.key];
        switch (op.kind) {
            case Operation::Kind::delp:
            case Operation::Kind::txn: return;
            case Operation::Kind::get: op.value = state; return;
            case Operation::Kind::put: op.value = fresh_value(); break;
            case Operation::Kind::del:
                op.succeeded = state.has_value();
                state = std::nullopt;
                return;
            case Operation::Kind::cas:
                op.expected = pick_expected(rng, op.key);
                op.value = fresh_value();
                op.succeeded = state == op.expected;
                if (!*op.succeeded)
                    return;
                break;
        }
        state = op.value;
        written_[op.key].push_back(*op.value);
    }

    // A txn that never took effect still needs its compares and values.
    void fill_unapplied_txn(std::mt19937_64& rng, Operation& op) {
        for (TxnCompare& c : op.compares) c.value = pick_expected(rng, c.key);
        for (std::vector<TxnOp>* branch : {&op.success, &op.failure}) {
            for (TxnOp& t : *branch) {
                if (t.kind == TxnOp::Kind::put)
                    t.value = fresh_value();
            }
        }
    }

private:
    void apply_txn(std::mt19937_64& rng, Operation& op) {
        fill_unapplied_txn(rng, op);
        bool holds = true;
        for (const TxnCompare& c : op.compares) holds = holds && state_[c.key] == c.value;
        op.succeeded = holds;
        for (TxnOp& t : holds ? op.success : op.failure) {
            std::optional<std::string>& state = state_[t.key];
            switch (t.kind) {
                case TxnOp::Kind::get:
                    t.read_known = true;
                    t.value = state;
                    break;
                case TxnOp::Kind::put:
                    state = t.value;
                    written_[t.key].push_back(*t.value);
                    break;
                case TxnOp::Kind::del:
                    t.existed = state.has_value();
                    state = std::nullopt;
                    break;
            }
        }
    }

    void apply_delp(Operation& op) {
        std::uint64_t deleted = 0;
        for (auto it = state_.lower_bound(op.key);
             it != state_.end() && it->first.compare(0, op.key.size(), op.key) == 0; ++it) {
            deleted += it->second ? 1 : 0;
            it->second = std::nullopt;
        }
        op.deleted = deleted;
    }

    std::map<std::string, std::optional<std::string>> state_;
    std::map<std::string, std::vector<std::string>> written_;
    std::uint64_t values_ = 0;
};

void hide_txn_outputs(Operation& op) {
    op.succeeded = std::nullopt;
    for (std::vector<TxnOp>* branch : {&op.success, &op.failure}) {
        for (TxnOp& t : *branch) {
            if (t.kind == TxnOp::Kind::get) {
                t.read_known = false;
                t.value = std::nullopt;
            }
            t.existed = std::nullopt;
        }
    }
}

// Outputs the client never saw are removed; some ok deletes, delps and txns
// lose theirs too.
void hide_outputs(std::mt19937_64& rng, Operation& op) {
    if (op.outcome != Operation::Outcome::ok) {
        op.succeeded = std::nullopt;
        op.deleted = std::nullopt;
        if (op.kind == Operation::Kind::get)
            op.value = std::nullopt;
        if (op.kind == Operation::Kind::txn)
            hide_txn_outputs(op);
    }
    if (op.outcome == Operation::Outcome::ok && op.kind == Operation::Kind::delp &&
        uniform(rng, 5) == 0) {
        op.deleted = std::nullopt;
    }
    if (op.outcome == Operation::Outcome::ok && op.kind == Operation::Kind::txn &&
        uniform(rng, 10) == 0) {
        hide_txn_outputs(op);
    }
    if (op.outcome == Operation::Outcome::unknown && uniform(rng, 2) == 0) {
        op.return_ns = never_returned_ns;  // else: when the client gave up
    }
    if (op.outcome == Operation::Outcome::ok && op.kind == Operation::Kind::del &&
        uniform(rng, 5) == 0) {
        op.succeeded = std::nullopt;
    }
}

bool overwrites(const Operation& op) {
    if (op.outcome != Operation::Outcome::ok)
        return false;
    if (op.kind == Operation::Kind::put || op.kind == Operation::Kind::del)
        return true;
    return op.kind == Operation::Kind::cas && op.succeeded == true;
}

// A value that `read` cannot return: written by P, then overwritten by W,
// with P before W and W before `read` in real time. Values are unique.
std::optional<std::string> stale_value_for(const std::vector<Operation>& ops,
                                           const Operation& read) {
    for (const Operation& w : ops) {
        if (w.key != read.key || !overwrites(w) || w.return_ns >= read.call_ns)
            continue;
        for (const Operation& p : ops) {
            if (p.key != read.key || !overwrites(p) || p.kind == Operation::Kind::del)
                continue;
            if (p.return_ns < w.call_ns)
                return p.value;
        }
    }
    return std::nullopt;
}

}  // namespace

std::uint64_t uniform(std::mt19937_64& rng, std::uint64_t n) {
    return n == 0 ? 0 : rng() % n;
}

std::vector<Operation> random_history(std::mt19937_64& rng, const RandomHistoryOptions& options) {
    std::vector<Operation> ops;
    std::vector<Planned> planned;
    for (std::uint64_t client = 0; client < options.clients; ++client) {
        std::int64_t time_ns = 0;
        for (std::uint64_t i = 0; i < options.ops_per_client; ++i) {
            ops.push_back(draw_shape(rng, options, client, time_ns, planned, ops.size()));
            time_ns = ops.back().return_ns;
        }
    }
    std::sort(planned.begin(), planned.end(), [](const Planned& a, const Planned& b) {
        return a.point_ns != b.point_ns ? a.point_ns < b.point_ns : a.index < b.index;
    });
    Store store;
    std::vector<bool> applied(ops.size(), false);
    for (const Planned& p : planned) {
        store.apply(rng, ops[p.index]);
        applied[p.index] = true;
    }
    for (std::size_t i = 0; i < ops.size(); ++i) {
        Operation& op = ops[i];
        if (!applied[i] && op.kind == Operation::Kind::cas) {
            op.expected = store.pick_expected(rng, op.key);
        }
        if (!applied[i] && (op.kind == Operation::Kind::put || op.kind == Operation::Kind::cas)) {
            op.value = store.fresh_value();
        }
        if (!applied[i] && op.kind == Operation::Kind::txn)
            store.fill_unapplied_txn(rng, op);
        hide_outputs(rng, op);
    }
    return ops;
}

Corruption corrupt_one_read(std::mt19937_64& rng, std::vector<Operation>& ops) {
    std::vector<std::size_t> reads;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        if (ops[i].kind == Operation::Kind::get && ops[i].outcome == Operation::Outcome::ok) {
            reads.push_back(i);
        }
    }
    if (reads.empty())
        return Corruption::none;
    const std::size_t start = uniform(rng, reads.size());
    for (std::size_t k = 0; k < reads.size(); ++k) {
        Operation& read = ops[reads[(start + k) % reads.size()]];
        if (auto stale = stale_value_for(ops, read)) {
            read.value = std::move(stale);
            return Corruption::stale_read;
        }
    }
    ops[reads[start]].value = "never written";
    return Corruption::unwritten_read;
}

}  // namespace cabildo::lincheck::test
