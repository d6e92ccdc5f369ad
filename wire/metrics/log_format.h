// The log's format for a node or broker: text (the default, for people) or
// json (--log-format json: one object per line for log shippers, with
// "time" (ISO 8601, UTC offset), "level", "component" and "msg").
#pragma once

#include <string>

namespace cabildo::wire {

// Sets spdlog's default logger (stderr) up; component names the process in
// each line ("node 2", "broker"). format: "text" or "json".
void set_up_logging(const std::string& component, const std::string& level,
                    const std::string& format);

}  // namespace cabildo::wire
