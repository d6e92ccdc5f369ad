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

Operation::Kind random_kind(std::mt19937_64& rng) {
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

// One client's operation at `time_ns`; fills `planned` if it takes effect.
Operation draw_shape(std::mt19937_64& rng, const RandomHistoryOptions& options,
                     std::uint64_t client, std::int64_t time_ns, std::vector<Planned>& planned,
                     std::size_t index) {
    Operation op;
    op.client = client;
    op.kind = random_kind(rng);
    op.key = "k" + std::to_string(uniform(rng, options.keys));
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
        std::optional<std::string>& state = state_[op.key];
        switch (op.kind) {
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

private:
    std::map<std::string, std::optional<std::string>> state_;
    std::map<std::string, std::vector<std::string>> written_;
    std::uint64_t values_ = 0;
};

// Outputs the client never saw are removed; some ok deletes lose theirs too.
void hide_outputs(std::mt19937_64& rng, Operation& op) {
    if (op.outcome != Operation::Outcome::ok) {
        op.succeeded = std::nullopt;
        if (op.kind == Operation::Kind::get)
            op.value = std::nullopt;
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
        if (!applied[i] && op.kind != Operation::Kind::get && op.kind != Operation::Kind::del) {
            op.value = store.fresh_value();
        }
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
