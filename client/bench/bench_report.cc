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

std::uint64_t events_lost(const WatchFanoutResult& r) {
    return r.events_expected > r.events_delivered ? r.events_expected - r.events_delivered : 0;
}

double per_s(std::uint64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }

std::string json_watch(const BenchOptions& o, const WatchFanoutResult& r) {
    return fmt::format(
        R"({{"kind":{},"watchers":{},"rate":{},"puts_ok":{},"events_expected":{},"events_delivered":{},"events_lost":{},"events_unacked":{},"duplicates":{},"watch_from_calls":{},"errors":{},"compacted":{},"timeouts":{},"error_replies":{},"bad_frames":{},"caught_up":{},"setup_s":{:.3f},"catch_up_s":{:.3f},"lag_ms":{},"delivery_per_s":{:.1f}}})",
        quote(watch_kind_name(o.watch_kind)), o.watchers, o.rate, r.puts.ok, r.events_expected,
        r.events_delivered, events_lost(r), r.events_unacked, r.duplicates, r.watch_from_calls,
        watch_error_total(r), r.compacted, r.timeouts, r.error_replies, r.bad_frames, r.caught_up,
        r.setup_s, r.catch_up_s, json_latency(r.lag), per_s(r.events_delivered, r.wall_s));
}

void print_watch_json(const BenchOptions& o, const WatchFanoutResult& r, const ProcessUsage& u) {
    const WatchPutResult& p = r.puts;
    fmt::print(
        R"({{"tool":"cabildo-bench","loop":"open","mode":"watch","rate":{},"watchers":{},"threads":{},"key_space":{},"value_size":{},"endpoints":{},"grace_ms":{},"request_timeout_ms":{},"nofile_limit":{},"wall_s":{:.3f},"send_s":{:.3f},"scheduled":{},"sent":{},"not_sent":{},"ops":{},"ok":{},"errors":{},"errors_by_kind":{},"ops_per_s":{:.1f},"send_lag_ms_max":{:.3f},"lat_ms":{},"process":{},"watch":{}}})"
        "\n",
        o.rate, o.watchers, o.threads, o.key_space, o.value_size, json_endpoints(o.endpoints),
        std::chrono::duration_cast<std::chrono::milliseconds>(o.grace).count(),
        std::chrono::duration_cast<std::chrono::milliseconds>(o.request_timeout).count(),
        r.nofile_limit, r.wall_s, p.send_s, p.scheduled, p.sent, p.not_sent, p.ok, p.ok, error_total(p.errors),
        json_errors(p.errors), per_s(p.ok, p.send_s), p.send_lag_ms_max, json_latency(p.latency),
        json_process(u, r.wall_s), json_watch(o, r));
}

void print_watch_text(const BenchOptions& o, const WatchFanoutResult& r, const ProcessUsage& u) {
    const WatchPutResult& p = r.puts;
    fmt::print("cabildo bench: watch fan-out ({}), {} watchers of watch/ on {} nodes over {} "
               "threads, puts at {}/s, {} keys, {} B values\n",
               watch_kind_name(o.watch_kind), o.watchers, o.endpoints.size(), o.threads, o.rate,
               o.key_space, o.value_size);
    fmt::print("  wall           {:.2f} s from the first put (set-up before it {:.2f} s, "
               "catch-up after the last {:.2f} s)\n", r.wall_s, r.setup_s, r.catch_up_s);
    fmt::print("  puts           {} ok of {} sent over {:.2f} s ({:.1f}/s), {} errors, {} not sent, "
               "send lag max {:.2f} ms\n", p.ok, p.sent, p.send_s, per_s(p.ok, p.send_s),
               error_total(p.errors), p.not_sent, p.send_lag_ms_max);
    print_latency_line(p.latency);
    print_errors_line(p.errors);
    fmt::print("  events         expected {}, delivered {} ({:.1f}/s), lost {}, duplicates {}, "
               "other revisions {}\n", r.events_expected, r.events_delivered,
               per_s(r.events_delivered, r.wall_s), events_lost(r), r.duplicates, r.events_unacked);
    fmt::print("  delivery lag   p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  max {:.2f} ms (n {})\n",
               ms(r.lag.percentile_ns(0.50)), ms(r.lag.percentile_ns(0.90)),
               ms(r.lag.percentile_ns(0.99)), ms(r.lag.max_ns()), r.lag.count());
    fmt::print("  watch_from     {} calls; errors {} (compacted {}, timeouts {}, refused {}, "
               "bad frames {})\n", r.watch_from_calls, watch_error_total(r), r.compacted,
               r.timeouts, r.error_replies, r.bad_frames);
    fmt::print("  caught up      {} of {} watchers at the last put's revision (grace {:.1f} s)\n",
               r.caught_up, o.watchers, std::chrono::duration<double>(o.grace).count());
    print_process_line(u, r.wall_s);
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

void print_watch_report(const BenchOptions& o, const WatchFanoutResult& r, const ProcessUsage& u) {
    if (o.json) return print_watch_json(o, r, u);
    print_watch_text(o, r, u);
}

}  // namespace cabildo::client::bench
