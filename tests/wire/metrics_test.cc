// The Prometheus text writer and the HTTP exporter's hand-over to the loop.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "wire/metrics/http_exporter.h"
#include "wire/metrics/prometheus.h"

namespace cabildo::wire::metrics {
namespace {

TEST(Histogram, CountsEachValueInTheFirstBucketThatHoldsIt) {
    Histogram h(latency_bounds());
    h.observe(0.0001);  // on a bound: that bucket (le is "less or equal")
    h.observe(0.003);
    h.observe(100.0);   // past the last bound: +Inf
    EXPECT_EQ(h.count(), 3u);
    EXPECT_DOUBLE_EQ(h.sum(), 100.0031);
    EXPECT_EQ(h.counts().front(), 1u);
    EXPECT_EQ(h.counts().back(), 1u);
}

TEST(TextWriter, WritesFamiliesSamplesAndCumulativeBuckets) {
    TextWriter w;
    w.counter("cabildo_x_total", "Xs.", 7);
    w.family("cabildo_y", "gauge", "Ys by kind.");
    w.sample("cabildo_y", 1.5, Labels{{"kind", "a\"b\\c\nd"}});
    const std::array<double, 2> bounds = {1, 10};
    Histogram h(bounds);
    h.observe(0.5);
    h.observe(5.0);
    h.observe(50.0);
    w.family("cabildo_z", "histogram", "Zs.");
    w.histogram("cabildo_z", h, Labels{{"op", "put"}});
    EXPECT_EQ(w.text(),
              "# HELP cabildo_x_total Xs.\n# TYPE cabildo_x_total counter\ncabildo_x_total 7\n"
              "# HELP cabildo_y Ys by kind.\n# TYPE cabildo_y gauge\n"
              "cabildo_y{kind=\"a\\\"b\\\\c\\nd\"} 1.5\n"
              "# HELP cabildo_z Zs.\n# TYPE cabildo_z histogram\n"
              "cabildo_z_bucket{op=\"put\",le=\"1\"} 1\n"
              "cabildo_z_bucket{op=\"put\",le=\"10\"} 2\n"
              "cabildo_z_bucket{op=\"put\",le=\"+Inf\"} 3\n"
              "cabildo_z_sum{op=\"put\"} 55.5\n"
              "cabildo_z_count{op=\"put\"} 3\n");
}

TEST(ResidentBytes, IsThisProcesssMemory) {
    EXPECT_GT(resident_bytes(), 1u << 20);
}

int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

// A raw HTTP/1.0 GET: the status line and body.
std::string http_get(int port, const std::string& path) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return "connect failed";
    }
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
    (void)!write(fd, request.data(), request.size());
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    close(fd);
    return out;
}

TEST(HttpExporter, TheLoopAnswersAndLivezNeedsNoLoop) {
    const int port = free_port();
    auto exporter = HttpExporter::start("127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(exporter) << exporter.error().detail;
    // No loop serving: /livez still answers.
    EXPECT_NE(http_get(port, "/livez").find("200 OK"), std::string::npos);
    std::atomic<bool> stop{false};
    std::thread loop([&] {
        while (!stop) {
            (*exporter)->serve([](std::string_view path) {
                return HttpResponse{200, "text/plain", "served " + std::string(path) + "\n"};
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    const std::string got = http_get(port, "/metrics");
    stop = true;
    loop.join();
    EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
    EXPECT_NE(got.find("served /metrics"), std::string::npos) << got;
}

TEST(HttpExporter, ALoopThatDoesNotAnswerIs503) {
    const int port = free_port();
    auto exporter = HttpExporter::start("127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(exporter);
    const std::string got = http_get(port, "/metrics");  // nobody calls serve()
    EXPECT_NE(got.find("503"), std::string::npos) << got;
    EXPECT_NE(got.find("did not answer"), std::string::npos) << got;
}

TEST(HttpExporter, ABadAddressOrATakenPortIsAClearError) {
    EXPECT_FALSE(HttpExporter::start("nohostport"));
    const int port = free_port();
    auto first = HttpExporter::start("127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(first);
    auto second = HttpExporter::start("127.0.0.1:" + std::to_string(port));
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().detail.find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace cabildo::wire::metrics
