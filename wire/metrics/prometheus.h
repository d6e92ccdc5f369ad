// Metrics in the Prometheus text exposition format (version 0.0.4), for
// the node's and the broker's `GET /metrics` (http_exporter.h).
//
// The loop owns plain counters and Histograms and renders them on demand
// with a TextWriter: nothing here locks or allocates on the hot path.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cabildo::wire::metrics {

// A histogram of durations (or sizes) with fixed upper bounds, as
// Prometheus wants it: a count per bucket, their sum, and the total.
class Histogram {
public:
    // Bounds ascending; the +Inf bucket is implicit.
    explicit Histogram(std::span<const double> bounds);

    void observe(double value);
    void observe(std::chrono::steady_clock::duration d) {
        observe(std::chrono::duration<double>(d).count());
    }
    std::span<const double> bounds() const { return bounds_; }
    // Per bucket (not cumulative), the last one +Inf.
    const std::vector<std::uint64_t>& counts() const { return counts_; }
    double sum() const { return sum_; }
    std::uint64_t count() const { return count_; }

private:
    std::span<const double> bounds_;
    std::vector<std::uint64_t> counts_;
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

// Latency buckets in seconds, 100 us to 10 s.
std::span<const double> latency_bounds();
// Size buckets (entries or bytes per batch), 1 to 1M by powers of 4.
std::span<const double> size_bounds();

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// Writes families in the text format. Each family's HELP and TYPE once,
// then its samples; a family must not be begun twice.
class TextWriter {
public:
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, double value, const Labels& labels = {});
    void sample(std::string_view name, std::uint64_t value, const Labels& labels = {});
    // A histogram family's series for one label set: _bucket{le=...}
    // (cumulative), _sum and _count.
    void histogram(std::string_view name, const Histogram& h, const Labels& labels = {});

    // Shorthands: a family with a single sample.
    void counter(std::string_view name, std::string_view help, std::uint64_t value);
    void gauge(std::string_view name, std::string_view help, double value);

    const std::string& text() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void write_labels(const Labels& labels, std::string_view le);
    std::string out_;
};

// Escapes a label value: backslash, double quote and newline.
std::string escape_label(std::string_view value);

// The process's resident memory in bytes, from /proc/self/statm (0 if unreadable).
std::uint64_t resident_bytes();

}  // namespace cabildo::wire::metrics
