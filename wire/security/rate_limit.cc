// RateLimiter; see rate_limit.h.
#include "wire/security/rate_limit.h"

#include <algorithm>

#include <fmt/format.h>

namespace cabildo::wire {

bool RateLimiter::admit(const AclIdentity& identity, Clock::time_point now) {
    if (identity.requests_per_s <= 0) return true;
    Bucket& b = buckets_[identity.name];
    const double capacity = std::max(1.0, identity.requests_per_s);
    if (b.refilled == Clock::time_point{}) {
        b.tokens = capacity;
    } else {
        const double seconds = std::chrono::duration<double>(now - b.refilled).count();
        b.tokens = std::min(capacity, b.tokens + seconds * identity.requests_per_s);
    }
    b.refilled = now;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

void RateLimiter::keep_only(const Acl& acl) {
    std::erase_if(buckets_, [&](const auto& kv) { return acl.identities.count(kv.first) == 0; });
}

std::string RateLimiter::refusal(const AclIdentity& identity) {
    return fmt::format("identity '{}' may send {:g} requests per second; slow down and retry",
                       identity.name, identity.requests_per_s);
}

}  // namespace cabildo::wire
