// HttpExporter: the `--metrics-listen HOST:PORT` HTTP endpoint of a node
// or broker (libmicrohttpd, one thread per connection, at most 16).
//
// The loop owns everything the answers are made of, so the HTTP threads
// never read it: a request is handed to the loop, which answers it in its
// next turn with serve() (a turn is at most a tick, 10 ms, away) and the
// HTTP thread waits for that answer up to answer_timeout. A loop that does
// not answer in time is itself the news: 503 "the loop did not answer".
// `GET /livez` is answered by the HTTP thread alone: the process is up.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "node/raft/result.h"

struct MHD_Daemon;

namespace cabildo::wire::metrics {

struct HttpResponse {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

// The answer to a path neither /metrics, /health nor /livez.
HttpResponse not_found();

class HttpExporter {
public:
    using Handler = std::function<HttpResponse(std::string_view path)>;
    static constexpr std::chrono::seconds answer_timeout{2};

    // listen: "HOST:PORT" (an IPv4 address or a name; "0.0.0.0" for all).
    // The error says what is wrong (a bad address, a port in use).
    static Result<std::unique_ptr<HttpExporter>> start(const std::string& listen);
    ~HttpExporter();
    HttpExporter(const HttpExporter&) = delete;
    HttpExporter& operator=(const HttpExporter&) = delete;

    // Loop thread: answers the requests handed over since the last call.
    // One atomic load when there are none.
    void serve(const Handler& handler);
    std::uint64_t requests() const { return requests_.load(); }

    // HTTP threads (libmicrohttpd's callback): the answer to one request.
    HttpResponse answer(std::string_view method, std::string path);

private:
    struct Exchange {
        std::string path;
        std::promise<HttpResponse> answer;
    };
    HttpExporter() = default;
    HttpResponse ask_loop(std::string path);

    MHD_Daemon* daemon_ = nullptr;
    std::mutex mutex_;
    std::deque<std::shared_ptr<Exchange>> waiting_;  // guarded by mutex_
    bool closing_ = false;                           // guarded by mutex_
    std::atomic<bool> any_waiting_{false};
    std::atomic<std::uint64_t> requests_{0};
};

}  // namespace cabildo::wire::metrics
