// Backoff: exponential growth with equal jitter (backoff.h).
#include "client/backoff.h"

#include <algorithm>

namespace cabildo::client {

namespace {

std::uint64_t random_seed() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace

Backoff::Backoff(BackoffLimits limits) : Backoff(limits, random_seed()) {}

Backoff::Backoff(BackoffLimits limits, std::uint64_t seed)
    : limits_(limits), ceiling_(limits.delay_initial), rng_(seed) {
    limits_.delay_max = std::max(limits_.delay_max, limits_.delay_initial);
    limits_.growth_factor = std::max<std::uint32_t>(limits_.growth_factor, 1);
}

std::chrono::milliseconds Backoff::next_delay() {
    const std::int64_t ceiling_ms = ceiling_.count();
    const std::int64_t floor_ms = ceiling_ms / 2;
    // Plain modulo rather than a std distribution: those differ across
    // standard libraries (STYLE §6), and the bias is irrelevant here.
    const auto span = static_cast<std::uint64_t>(ceiling_ms - floor_ms + 1);
    const auto jitter_ms = static_cast<std::int64_t>(rng_() % span);
    const std::chrono::milliseconds delay{floor_ms + jitter_ms};
    ceiling_ = std::min(limits_.delay_max, ceiling_ * limits_.growth_factor);
    return delay;
}

}  // namespace cabildo::client
