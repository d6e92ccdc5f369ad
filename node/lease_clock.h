// LeaseClock: when each lease expires, by this node's monotonic clock.
//
// Not replicated state: every node keeps one, renewing a lease when it
// applies the lease's grant or keepalive (a time after the client sent it:
// applying follows committing), and dropping it when it applies its revoke
// or expiry. Only the leader acts on it, proposing a lease_expire command
// for the leases that are due. So a lease never expires before its TTL has
// passed since the last keepalive a client saw acknowledged, on any
// leader's clock, and a new leader keeps each lease's own remaining time
// instead of granting every lease a full TTL. steady_clock: a change of
// the wall clock changes nothing (ARCHITECTURE.md, "Leases").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wire/command.h"

namespace cabildo::node {

class LeaseClock {
public:
    using Clock = std::chrono::steady_clock;

    // Granted or renewed (at log index `renewed`) when applied at `now`.
    void renew(std::uint64_t lease, std::uint64_t renewed, std::uint64_t ttl_ms,
               Clock::time_point now);
    void forget(std::uint64_t lease);
    void clear();

    // Up to max leases due at `now`, earliest first, each with the renewal
    // it is judged on; a lease handed out here is not handed out again until
    // `retry` has passed (its expiry may have been lost with a leadership
    // change).
    std::vector<wire::LeaseExpiry> take_due(Clock::time_point now, std::size_t max,
                                            Clock::duration retry);
    // Milliseconds until the lease is due (0: due now or unknown).
    std::uint64_t remaining_ms(std::uint64_t lease, Clock::time_point now) const;
    std::size_t size() const { return leases_.size(); }

private:
    struct Timed {
        Clock::time_point deadline;
        std::uint64_t renewed = 0;
    };
    std::unordered_map<std::uint64_t, Timed> leases_;
    std::set<std::pair<Clock::time_point, std::uint64_t>> by_deadline_;
};

}  // namespace cabildo::node
