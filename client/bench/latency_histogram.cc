// LatencyHistogram (latency_histogram.h). Bucket layout: index v for v < 128;
// for larger v with highest set bit b, shift = b - 6 and the bucket is
// 128 + 64 * (shift - 1) + (v >> shift) - 64.
#include "client/bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "node/raft/assert.h"

namespace cabildo::client::bench {
namespace {

constexpr std::size_t linear_max = 128;
constexpr std::size_t sub_buckets = 64;
constexpr std::size_t bucket_count = linear_max + 57 * sub_buckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(bucket_count, 0) {}

std::size_t LatencyHistogram::index_of(std::uint64_t value) {
    if (value < linear_max) return static_cast<std::size_t>(value);
    const int msb = 63 - std::countl_zero(value);
    const int shift = msb - 6;
    return linear_max + sub_buckets * static_cast<std::size_t>(shift - 1) +
           static_cast<std::size_t>((value >> shift) - sub_buckets);
}

std::uint64_t LatencyHistogram::lowest_of(std::size_t index) {
    if (index < linear_max) return index;
    const std::size_t k = index - linear_max;
    const int shift = static_cast<int>(k / sub_buckets) + 1;
    return (k % sub_buckets + sub_buckets) << shift;
}

std::uint64_t LatencyHistogram::highest_of(std::size_t index) {
    if (index < linear_max) return index;
    const std::size_t k = index - linear_max;
    const int shift = static_cast<int>(k / sub_buckets) + 1;
    return ((k % sub_buckets + sub_buckets + 1) << shift) - 1;
}

void LatencyHistogram::record(std::int64_t ns) {
    if (ns < 0) ns = 0;
    const std::size_t index = index_of(static_cast<std::uint64_t>(ns));
    CABILDO_ASSERT(index < buckets_.size(), "latency bucket out of range");
    ++buckets_[index];
    if (count_ == 0 || ns < min_ns_) min_ns_ = ns;
    max_ns_ = std::max(max_ns_, ns);
    sum_ns_ += static_cast<long double>(ns);
    ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
    min_ns_ = count_ == 0 ? other.min_ns_ : std::min(min_ns_, other.min_ns_);
    max_ns_ = std::max(max_ns_, other.max_ns_);
    sum_ns_ += other.sum_ns_;
    count_ += other.count_;
}

double LatencyHistogram::mean_ns() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_ / static_cast<long double>(count_));
}

std::int64_t LatencyHistogram::percentile_ns(double fraction) const {
    if (count_ == 0) return 0;
    if (fraction >= 1.0) return max_ns_;
    const auto rank = std::clamp<std::uint64_t>(
        static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(count_))), 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen < rank) continue;
        const std::uint64_t middle = lowest_of(i) + (highest_of(i) - lowest_of(i)) / 2;
        return std::clamp(static_cast<std::int64_t>(middle), min_ns_, max_ns_);
    }
    return max_ns_;
}

}  // namespace cabildo::client::bench
