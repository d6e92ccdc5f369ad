// RateLimiter: the ACL's per-identity `requests_per_s`, as a token bucket
// per identity holding one second's worth (so a burst of that many passes).
// One per process (node or broker): the limit is per node and per broker.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "wire/security/acl.h"

namespace cabildo::wire {

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    // Takes a token for one request of `identity`; false: over its rate.
    bool admit(const AclIdentity& identity, Clock::time_point now);
    // A reloaded ACL: forget the identities it no longer has.
    void keep_only(const Acl& acl);
    // The message of a `rate_limited` refusal.
    static std::string refusal(const AclIdentity& identity);

private:
    struct Bucket {
        double tokens = 0;
        Clock::time_point refilled{};
    };
    std::map<std::string, Bucket> buckets_;  // by identity name
};

}  // namespace cabildo::wire
