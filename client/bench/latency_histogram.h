// LatencyHistogram: a log-linear histogram of latencies in nanoseconds, in
// the spirit of HdrHistogram but much smaller.
//
// Values below 128 ns get one bucket each; above, every power of two is cut
// into 64 equal buckets, so a percentile is within 1/64 (1.6 %) of the true
// value. Recording is an index computation and an increment: no allocation
// after construction. One histogram per thread; merge() at the end. The exact
// minimum, maximum and sum are kept beside the buckets.
#pragma once

#include <cstdint>
#include <vector>

namespace cabildo::client::bench {

class LatencyHistogram {
public:
    LatencyHistogram();

    void record(std::int64_t ns);
    void merge(const LatencyHistogram& other);

    std::uint64_t count() const { return count_; }
    std::int64_t max_ns() const { return max_ns_; }
    std::int64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
    double mean_ns() const;
    // The value at `fraction` (0..1] of the recorded values: the middle of
    // its bucket, never above max_ns(). 0 when empty.
    std::int64_t percentile_ns(double fraction) const;

private:
    static std::size_t index_of(std::uint64_t value);
    static std::uint64_t lowest_of(std::size_t index);
    static std::uint64_t highest_of(std::size_t index);

    std::vector<std::uint64_t> buckets_;
    std::uint64_t count_ = 0;
    std::int64_t min_ns_ = 0;
    std::int64_t max_ns_ = 0;
    long double sum_ns_ = 0;
};

}  // namespace cabildo::client::bench
