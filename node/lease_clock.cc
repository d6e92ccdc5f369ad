// LeaseClock; see lease_clock.h.
#include "node/lease_clock.h"

namespace cabildo::node {

void LeaseClock::renew(std::uint64_t lease, std::uint64_t renewed, std::uint64_t ttl_ms,
                       Clock::time_point now) {
    forget(lease);
    const Clock::time_point deadline = now + std::chrono::milliseconds(ttl_ms);
    leases_[lease] = Timed{deadline, renewed};
    by_deadline_.emplace(deadline, lease);
}

void LeaseClock::forget(std::uint64_t lease) {
    auto it = leases_.find(lease);
    if (it == leases_.end()) return;
    by_deadline_.erase({it->second.deadline, lease});
    leases_.erase(it);
}

void LeaseClock::clear() {
    leases_.clear();
    by_deadline_.clear();
}

std::vector<wire::LeaseExpiry> LeaseClock::take_due(Clock::time_point now, std::size_t max,
                                                    Clock::duration retry) {
    std::vector<wire::LeaseExpiry> due;
    while (due.size() < max && !by_deadline_.empty() && by_deadline_.begin()->first <= now) {
        const std::uint64_t lease = by_deadline_.begin()->second;
        Timed& timed = leases_.at(lease);
        due.push_back({lease, timed.renewed});
        // Pushed back by `retry`: due again only if its expiry never applies.
        by_deadline_.erase(by_deadline_.begin());
        timed.deadline = now + retry;
        by_deadline_.emplace(timed.deadline, lease);
    }
    return due;
}

std::uint64_t LeaseClock::remaining_ms(std::uint64_t lease, Clock::time_point now) const {
    auto it = leases_.find(lease);
    if (it == leases_.end() || it->second.deadline <= now) return 0;
    return std::chrono::duration_cast<std::chrono::milliseconds>(it->second.deadline - now)
        .count();
}

}  // namespace cabildo::node
