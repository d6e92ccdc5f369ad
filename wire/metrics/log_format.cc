#include "wire/metrics/log_format.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace cabildo::wire {

namespace {

void append_json_escaped(std::string_view text, spdlog::memory_buf_t& dest) {
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            dest.push_back('\\');
            dest.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            dest.append(escaped, escaped + 6);
        } else {
            dest.push_back(static_cast<char>(c));  // UTF-8 passes as it is
        }
    }
}

// %* in the pattern: the message, escaped for a JSON string.
class JsonMessage : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return spdlog::details::make_unique<JsonMessage>();
    }
};

std::string json_escaped(const std::string& text) {
    spdlog::memory_buf_t buf;
    append_json_escaped(text, buf);
    std::string out(buf.data(), buf.size());
    // '%' starts a flag in spdlog's patterns.
    std::string safe;
    for (char c : out) {
        safe.push_back(c);
        if (c == '%') safe.push_back('%');
    }
    return safe;
}

}  // namespace

void set_up_logging(const std::string& component, const std::string& level,
                    const std::string& format) {
    spdlog::set_default_logger(spdlog::stderr_color_mt("cabildo"));
    spdlog::set_level(spdlog::level::from_str(level));
    if (format != "json") {
        spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + component + "] %v");
        return;
    }
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessage>('*').set_pattern(
        "{\"time\":\"%Y-%m-%dT%H:%M:%S.%e%z\",\"level\":\"%l\",\"component\":\"" +
        json_escaped(component) + "\",\"msg\":\"%*\"}");
    spdlog::set_formatter(std::move(formatter));
}

}  // namespace cabildo::wire
