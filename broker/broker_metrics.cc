// Broker: GET /metrics and /health on --metrics-listen (wire/metrics/).
#include "broker/broker.h"

namespace cabildo::broker {

using wire::metrics::Labels;
using wire::metrics::TextWriter;

void Broker::render_metrics(TextWriter& w) const {
    w.counter("cabildo_broker_requests_relayed_total",
              "Replies of the nodes passed back to clients.", relayed_);
    w.family("cabildo_broker_request_duration_seconds", "histogram",
             "Time from a request's arrival at the broker to its reply's relay.");
    w.histogram("cabildo_broker_request_duration_seconds", latency_);
    w.family("cabildo_broker_requests_failed_total", "counter",
             "Requests the broker answered itself: timeout (no node answered in time), "
             "unavailable (no node could take it), bad (malformed), denied (outside the "
             "sender's rights), lost (the reply could not be sent to the client).");
    w.sample("cabildo_broker_requests_failed_total", timeouts_, Labels{{"reason", "timeout"}});
    w.sample("cabildo_broker_requests_failed_total", unavailable_,
             Labels{{"reason", "unavailable"}});
    w.sample("cabildo_broker_requests_failed_total", bad_requests_, Labels{{"reason", "bad"}});
    w.sample("cabildo_broker_requests_failed_total", security_.denied(),
             Labels{{"reason", "denied"}});
    w.sample("cabildo_broker_requests_failed_total", lost_replies_, Labels{{"reason", "lost"}});
    w.gauge("cabildo_broker_requests_pending", "Requests forwarded and not yet answered.",
            static_cast<double>(pending_.size() + waiting_.size()));
    w.family("cabildo_broker_pushes_total", "counter",
             "Pushed writes: passed on to a node, dropped (no node took it), denied.");
    w.sample("cabildo_broker_pushes_total", pushes_passed_, Labels{{"outcome", "passed"}});
    w.sample("cabildo_broker_pushes_total", dropped_pushes_, Labels{{"outcome", "dropped"}});
    w.sample("cabildo_broker_pushes_total", denied_pushes_, Labels{{"outcome", "denied"}});
    w.counter("cabildo_broker_events_total", "kv/ events passed on to subscribers.",
              events_passed_);
    w.counter("cabildo_broker_bad_stream_messages_total",
              "Messages from the nodes' streams that did not decode.", bad_stream_messages_);
    w.gauge("cabildo_broker_nodes_alive", "Nodes heard from within --alive-window-ms.",
            static_cast<double>(tracker_.alive_nodes(Clock::now()).size()));
    const auto leader = tracker_.leader(Clock::now());
    w.gauge("cabildo_broker_leader_id", "The leader the broker knows (0: none).",
            static_cast<double>(leader.value_or(0)));
    w.gauge("cabildo_resident_memory_bytes", "The process's resident memory.",
            static_cast<double>(wire::metrics::resident_bytes()));
    w.gauge("cabildo_uptime_seconds", "How long the process has run.",
            std::chrono::duration<double>(Clock::now() - started_).count());
}

// 200 when the broker knows a live leader to send requests to.
wire::metrics::HttpResponse Broker::answer_http(std::string_view path) const {
    if (path == "/metrics") {
        TextWriter w;
        render_metrics(w);
        return {200, "text/plain; version=0.0.4; charset=utf-8", w.take()};
    }
    if (path == "/health") {
        const auto now = Clock::now();
        const auto leader = tracker_.leader(now);
        const std::size_t alive = tracker_.alive_nodes(now).size();
        std::string body = "{\"healthy\": " + std::string(leader ? "true" : "false") +
                           ", \"leader_id\": " + std::to_string(leader.value_or(0)) +
                           ", \"nodes_alive\": " + std::to_string(alive);
        if (!leader) body += ", \"reason\": \"no live leader is known to the broker\"";
        body += "}\n";
        return {leader ? 200u : 503u, "application/json", std::move(body)};
    }
    return wire::metrics::not_found();
}

}  // namespace cabildo::broker
