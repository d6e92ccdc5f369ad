// Report printing (bench_report.h).
#include "client/bench/bench_report.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <string>
#include <string_view>

namespace cabildo::client::bench {
namespace {

double seconds_of(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// A JSON string literal for the plain ASCII this report writes (endpoints,
// names); anything unusual is escaped.
std::string quote(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_latency(const LatencyHistogram& h) {
    return fmt::format(
        R"({{"p50":{:.3f},"p90":{:.3f},"p99":{:.3f},"p999":{:.3f},"max":{:.3f},"min":{:.3f},"mean":{:.3f},"count":{}}})",
        ms(h.percentile_ns(0.50)), ms(h.percentile_ns(0.90)), ms(h.percentile_ns(0.99)),
        ms(h.percentile_ns(0.999)), ms(h.max_ns()), ms(h.min_ns()), h.mean_ns() / 1e6, h.count());
}

std::string json_errors(const ErrorCounts& errors) {
    std::string out = "{";
    for (std::size_t k = 0; k < error_kind_count; ++k) {
        if (errors[k] == 0) continue;
        if (out.size() > 1) out += ',';
        out += fmt::format("{}:{}", quote(error_kind_name(static_cast<ErrorKind>(k))), errors[k]);
    }
    return out + "}";
}

std::string json_process(const ProcessUsage& usage, double wall_s) {
    const double cpu = usage.cpu_user_s + usage.cpu_sys_s;
    return fmt::format(
        R"({{"rss_peak_kb":{},"cpu_user_s":{:.3f},"cpu_sys_s":{:.3f},"cpu_s":{:.3f},"cpu_cores":{:.3f}}})",
        usage.rss_peak_kb, usage.cpu_user_s, usage.cpu_sys_s, cpu,
        wall_s > 0 ? cpu / wall_s : 0.0);
}

std::string json_endpoints(const std::vector<std::string>& endpoints) {
    std::string out = "[";
    for (const std::string& e : endpoints) {
        // Appended piece by piece: `"," + quote(e)` made GCC 12 at -O3 see a
        // restrict overlap in std::string's operator+ (-Werror=restrict).
        if (out.size() > 1) out += ',';
        out += quote(e);
    }
    return out + "]";
}

std::uint64_t error_total(const ErrorCounts& errors) {
    std::uint64_t total = 0;
    for (const std::uint64_t n : errors) total += n;
    return total;
}

void print_latency_line(const LatencyHistogram& h) {
    fmt::print("  latency ms     p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  p99.9 {:.2f}  max {:.2f}  (mean {:.2f}, n {})\n",
               ms(h.percentile_ns(0.50)), ms(h.percentile_ns(0.90)), ms(h.percentile_ns(0.99)),
               ms(h.percentile_ns(0.999)), ms(h.max_ns()), h.mean_ns() / 1e6, h.count());
}

void print_process_line(const ProcessUsage& usage, double wall_s) {
    const double cpu = usage.cpu_user_s + usage.cpu_sys_s;
    fmt::print("  bench process  peak RSS {:.1f} MiB, CPU {:.2f} s (user {:.2f}, sys {:.2f}; {:.2f} cores)\n",
               static_cast<double>(usage.rss_peak_kb) / 1024.0, cpu, usage.cpu_user_s,
               usage.cpu_sys_s, wall_s > 0 ? cpu / wall_s : 0.0);
}

void print_errors_line(const ErrorCounts& errors) {
    std::string line;
    for (std::size_t k = 0; k < error_kind_count; ++k)
        if (errors[k] > 0)
            line += fmt::format("{}{} {}", line.empty() ? "" : ", ",
                                error_kind_name(static_cast<ErrorKind>(k)), errors[k]);
    fmt::print("  errors         {}\n", line.empty() ? "none" : line);
}

void print_closed_json(const BenchOptions& o, const ClosedLoopResult& r, const ProcessUsage& u) {
    fmt::print(
        R"({{"tool":"cabildo-bench","loop":"closed","mode":{},"consistency":{},"read_ratio":{},"socket":{},"clients":{},"connections":{},"threads":{},"key_space":{},"value_size":{},"sessions":{},"endpoints":{},"request_timeout_ms":{},"wall_s":{:.3f},"ops":{},"errors":{},"errors_by_kind":{},"ops_per_s":{:.1f},"lat_ms":{},"process":{}}})"
        "\n",
        quote(mode_name(o.mode)), quote(wire::consistency_name(o.consistency)), o.read_ratio,
        quote(socket_name(o.socket)), o.clients, o.connections, o.threads, o.key_space,
        o.value_size, o.sessions, json_endpoints(o.endpoints),
        std::chrono::duration_cast<std::chrono::milliseconds>(o.request_timeout).count(),
        r.wall_s, r.ok, error_total(r.errors), json_errors(r.errors),
        r.wall_s > 0 ? static_cast<double>(r.ok) / r.wall_s : 0.0, json_latency(r.latency),
        json_process(u, r.wall_s));
}

void print_open_json(const BenchOptions& o, const OpenLoopResult& r, const ProcessUsage& u) {
    fmt::print(
        R"({{"tool":"cabildo-bench","loop":"open","mode":"put","rate":{},"value_size":{},"push_endpoints":{},"sub_endpoint":{},"grace_ms":{},"scheduled":{},"sent":{},"not_sent":{},"completed":{},"lost":{},"send_s":{:.3f},"wall_s":{:.3f},"sent_per_s":{:.1f},"ops_per_s":{:.1f},"send_lag_ms_max":{:.3f},"lat_ms":{},"process":{}}})"
        "\n",
        o.rate, o.value_size, json_endpoints(o.push_endpoints), quote(o.sub_endpoint),
        std::chrono::duration_cast<std::chrono::milliseconds>(o.grace).count(), r.scheduled,
        r.sent, r.not_sent, r.completed, r.lost, r.send_s, r.wall_s,
        r.send_s > 0 ? static_cast<double>(r.sent) / r.send_s : 0.0,
        r.send_s > 0 ? static_cast<double>(r.completed) / r.send_s : 0.0, r.send_lag_ms_max,
        json_latency(r.latency), json_process(u, r.wall_s));
}

}  // namespace

ProcessUsage process_usage() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return ProcessUsage{static_cast<std::uint64_t>(usage.ru_maxrss), seconds_of(usage.ru_utime),
                        seconds_of(usage.ru_stime)};
}

void print_closed_loop_report(const BenchOptions& o, const ClosedLoopResult& r,
                              const ProcessUsage& u) {
    if (o.json) return print_closed_json(o, r, u);
    fmt::print("cabildo bench: {} ({}{}), closed loop, {} clients over {} {} connections, {} threads, "
               "{} endpoints, {} keys, {} B values\n",
               mode_name(o.mode),
               o.mode == BenchMode::put ? "writes" : wire::consistency_name(o.consistency),
               o.sessions ? ", sessions" : "", o.clients, o.connections, socket_name(o.socket),
               o.threads, o.endpoints.size(), o.key_space, o.value_size);
    fmt::print("  wall           {:.2f} s\n", r.wall_s);
    fmt::print("  ops            {} ok, {} errors\n", r.ok, error_total(r.errors));
    fmt::print("  throughput     {:.1f} ops/s\n", r.wall_s > 0 ? static_cast<double>(r.ok) / r.wall_s : 0.0);
    print_latency_line(r.latency);
    print_errors_line(r.errors);
    print_process_line(u, r.wall_s);
}

void print_open_loop_report(const BenchOptions& o, const OpenLoopResult& r,
                            const ProcessUsage& u) {
    if (o.json) return print_open_json(o, r, u);
    fmt::print("cabildo bench: open loop, put at {}/s to {} pull endpoints, commit stream {}\n",
               o.rate, o.push_endpoints.size(), o.sub_endpoint);
    fmt::print("  scheduled      {} writes, sent {} over {:.2f} s ({:.1f}/s), not sent {}\n",
               r.scheduled, r.sent, r.send_s,
               r.send_s > 0 ? static_cast<double>(r.sent) / r.send_s : 0.0, r.not_sent);
    fmt::print("  completed      {} seen on the stream, lost {} (not seen {:.1f} s after the last send)\n",
               r.completed, r.lost, std::chrono::duration<double>(o.grace).count());
    print_latency_line(r.latency);
    fmt::print("  send lag max   {:.2f} ms behind schedule\n", r.send_lag_ms_max);
    print_process_line(u, r.wall_s);
}

}  // namespace cabildo::client::bench
