// Backoff: how long the client waits before retrying a request the cluster
// refused for now (no_leader, unavailable, a node-side timeout).
//
// Exponential growth with jitter, after LogCabin's Client/Backoff and the
// "equal jitter" scheme: each delay is drawn from [ceiling / 2, ceiling], and
// the ceiling doubles per retry up to a cap. The jitter keeps many clients
// that were refused at the same moment (an election) from retrying in step.
// This class only computes delays; it never sleeps. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace cabildo::client {

// Named limits (STYLE "put a limit on everything").
struct BackoffLimits {
    std::chrono::milliseconds delay_initial{20};
    std::chrono::milliseconds delay_max{500};
    std::uint32_t growth_factor = 2;
};

// Invariant: delay_initial <= ceiling_ <= delay_max (once delay_initial > 0).
class Backoff {
public:
    // Seeds the jitter from std::random_device.
    explicit Backoff(BackoffLimits limits = {});
    // A fixed seed, for tests.
    Backoff(BackoffLimits limits, std::uint64_t seed);

    // The delay to wait before the next retry; grows the ceiling for the one
    // after. The result is in [ceiling() / 2, ceiling()] as it was before the
    // call.
    std::chrono::milliseconds next_delay();
    // The current ceiling without jitter: what next_delay() draws below.
    std::chrono::milliseconds ceiling() const { return ceiling_; }
    // Back to delay_initial, after a request that got an answer.
    void reset() { ceiling_ = limits_.delay_initial; }

    const BackoffLimits& limits() const { return limits_; }

private:
    BackoffLimits limits_;
    std::chrono::milliseconds ceiling_;
    std::mt19937_64 rng_;
};

}  // namespace cabildo::client
