// Error kind names (bench_result.h).
#include "client/bench/bench_result.h"

#include <string_view>

#include "wire/protocol.h"

namespace cabildo::client::bench {

std::string_view error_kind_name(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::no_leader: return "no_leader";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::bad_request: return "bad_request";
    case ErrorKind::too_large: return "too_large";
    case ErrorKind::storage_full: return "storage_full";
    case ErrorKind::stale_session: return "stale_session";
    case ErrorKind::internal: return "internal";
    case ErrorKind::other_code: return "other_code";
    case ErrorKind::client_timeout: return "client_timeout";
    case ErrorKind::bad_reply: return "bad_reply";
    case ErrorKind::not_sent: return "not_sent";
    }
    return "unknown";
}

ErrorKind error_kind_for_code(std::string_view code) {
    if (code == wire::error_no_leader) return ErrorKind::no_leader;
    if (code == wire::error_unavailable) return ErrorKind::unavailable;
    if (code == wire::error_timeout) return ErrorKind::timeout;
    if (code == wire::error_bad_request) return ErrorKind::bad_request;
    if (code == wire::error_too_large) return ErrorKind::too_large;
    if (code == wire::error_storage_full) return ErrorKind::storage_full;
    if (code == wire::error_stale_session) return ErrorKind::stale_session;
    if (code == wire::error_internal) return ErrorKind::internal;
    return ErrorKind::other_code;
}

bool is_retry_later(ErrorKind kind) {
    return kind == ErrorKind::no_leader || kind == ErrorKind::unavailable ||
           kind == ErrorKind::timeout;
}

}  // namespace cabildo::client::bench
