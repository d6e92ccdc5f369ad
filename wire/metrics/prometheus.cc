#include "wire/metrics/prometheus.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace cabildo::wire::metrics {

namespace {

constexpr std::array<double, 16> latency = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};
constexpr std::array<double, 11> sizes = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
                                          1048576};

// Prometheus floats: integers without a fraction, others with enough digits.
void append_number(std::string& out, double value) {
    if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
        return;
    }
    if (std::isnan(value)) {
        out += "NaN";
        return;
    }
    char buf[32];
    if (value == std::floor(value) && std::fabs(value) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", value);
    } else {
        std::snprintf(buf, sizeof buf, "%.9g", value);
    }
    out += buf;
}

}  // namespace

std::span<const double> latency_bounds() { return latency; }
std::span<const double> size_bounds() { return sizes; }

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
    sum_ += value;
    ++count_;
}

std::string escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

void TextWriter::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our own text: no backslashes or newlines
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void TextWriter::write_labels(const Labels& labels, std::string_view le) {
    if (labels.empty() && le.empty()) return;
    out_ += '{';
    bool first = true;
    for (const auto& [name, value] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += name;
        out_ += "=\"";
        out_ += escape_label(value);
        out_ += '"';
    }
    if (!le.empty()) {
        if (!first) out_ += ',';
        out_ += "le=\"";
        out_ += le;
        out_ += '"';
    }
    out_ += '}';
}

void TextWriter::sample(std::string_view name, double value, const Labels& labels) {
    out_ += name;
    write_labels(labels, {});
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
}

void TextWriter::sample(std::string_view name, std::uint64_t value, const Labels& labels) {
    out_ += name;
    write_labels(labels, {});
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
}

void TextWriter::histogram(std::string_view name, const Histogram& h, const Labels& labels) {
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
        cumulative += h.counts()[i];
        std::string le;
        if (i < h.bounds().size()) {
            append_number(le, h.bounds()[i]);
        } else {
            le = "+Inf";
        }
        out_ += bucket;
        write_labels(labels, le);
        out_ += ' ';
        out_ += std::to_string(cumulative);
        out_ += '\n';
    }
    sample(std::string(name) + "_sum", h.sum(), labels);
    sample(std::string(name) + "_count", h.count(), labels);
}

void TextWriter::counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, value);
}

void TextWriter::gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(name, value);
}

std::uint64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0;
    std::uint64_t resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace cabildo::wire::metrics
