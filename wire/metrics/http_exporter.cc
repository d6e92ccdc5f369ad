#include "wire/metrics/http_exporter.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace cabildo::wire::metrics {

namespace {

constexpr unsigned connections_max = 16;
constexpr unsigned connection_timeout_s = 10;

// libmicrohttpd's access handler: one call per request (a GET has no body
// to wait for), answered at once.
MHD_Result on_request(void* self, MHD_Connection* connection, const char* url,
                      const char* method, const char* /*version*/, const char* /*upload*/,
                      std::size_t* /*upload_size*/, void** /*state*/) {
    HttpResponse r = static_cast<HttpExporter*>(self)->answer(method, url);
    MHD_Response* response = MHD_create_response_from_buffer(r.body.size(), r.body.data(),
                                                             MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    const MHD_Result queued = MHD_queue_response(connection, r.status, response);
    MHD_destroy_response(response);
    return queued;
}

Result<sockaddr_in> resolve(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
        return Error{Status::bad_request,
                     "--metrics-listen " + listen + ": give HOST:PORT, e.g. 127.0.0.1:9100"};
    }
    const std::string host = listen.substr(0, colon);
    const std::string port = listen.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return Error{Status::bad_request,
                     "--metrics-listen " + listen + ": " + gai_strerror(rc)};
    }
    sockaddr_in address{};
    std::memcpy(&address, found->ai_addr, sizeof address);
    freeaddrinfo(found);
    return address;
}

}  // namespace

HttpResponse not_found() {
    return {404, "text/plain; charset=utf-8", "not found: try /metrics, /health or /livez\n"};
}

Result<std::unique_ptr<HttpExporter>> HttpExporter::start(const std::string& listen) {
    auto address = resolve(listen);
    if (!address) return address.error();
    std::unique_ptr<HttpExporter> exporter(new HttpExporter());
    // MHD_USE_ERROR_LOG off: a client's bad request is not ours to log.
    exporter->daemon_ = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, nullptr, nullptr,
        &on_request, exporter.get(), MHD_OPTION_SOCK_ADDR, &*address,
        MHD_OPTION_CONNECTION_LIMIT, connections_max, MHD_OPTION_CONNECTION_TIMEOUT,
        connection_timeout_s, MHD_OPTION_END);
    if (exporter->daemon_ == nullptr) {
        return Error{Status::io_error, "--metrics-listen " + listen +
                                           ": cannot listen there (in use, or not this "
                                           "host's address?)"};
    }
    return exporter;
}

HttpExporter::~HttpExporter() {
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
        for (auto& exchange : waiting_) {
            exchange->answer.set_value({503, "text/plain; charset=utf-8", "shutting down\n"});
        }
        waiting_.clear();
    }
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

HttpResponse HttpExporter::answer(std::string_view method, std::string path) {
    requests_.fetch_add(1);
    if (method != "GET" && method != "HEAD") {
        return {405, "text/plain; charset=utf-8", "only GET\n"};
    }
    if (path == "/livez") return {200, "text/plain; charset=utf-8", "ok\n"};
    return ask_loop(std::move(path));
}

HttpResponse HttpExporter::ask_loop(std::string path) {
    auto exchange = std::make_shared<Exchange>();
    exchange->path = std::move(path);
    std::future<HttpResponse> answer = exchange->answer.get_future();
    {
        std::lock_guard lock(mutex_);
        if (closing_) return {503, "text/plain; charset=utf-8", "shutting down\n"};
        waiting_.push_back(exchange);
        any_waiting_.store(true);
    }
    if (answer.wait_for(answer_timeout) != std::future_status::ready) {
        // The loop answers it later (it holds a reference), to nobody.
        return {503, "text/plain; charset=utf-8",
                "the loop did not answer within 2 s (stopped, or a turn far over its "
                "budget)\n"};
    }
    return answer.get();
}

void HttpExporter::serve(const Handler& handler) {
    if (!any_waiting_.load(std::memory_order_relaxed)) return;
    std::deque<std::shared_ptr<Exchange>> taken;
    {
        std::lock_guard lock(mutex_);
        taken.swap(waiting_);
        any_waiting_.store(false);
    }
    for (auto& exchange : taken) {
        HttpResponse response = handler(exchange->path);
        exchange->answer.set_value(std::move(response));
    }
}

}  // namespace cabildo::wire::metrics
