// Status and Result<T>: expected outcomes as values (STYLE §5).
//
// Used by every layer. Not for bugs: those are CABILDO_ASSERT.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "node/raft/assert.h"

namespace cabildo {

enum class Status {
    ok,
    not_leader,    // this node is not the leader; see the leader hint
    dropped,       // the core refused the work for now (transfer, limits)
    not_found,
    bad_request,   // malformed or wrongly typed input
    too_large,     // a size limit was exceeded
    storage_full,  // the disk (not the map) is full: writes stop
    io_error,      // storage failed for another reason
    no_leader,     // client side: no node knows a leader right now
    unavailable,   // client side: no node answered in time, or the cluster refused for now
    timeout,       // client side: the outcome of a write is unknown
    corrupt,       // stored data is damaged and cannot be repaired safely: stop
    locked,        // another process holds the data directory
    session_expired,  // client side: the cluster no longer remembers the session
    change_pending,   // a membership change is not committed yet: one at a time
    lagging,          // a learner too far behind to be promoted
    no_quorum,        // the change would leave the cluster without a reachable quorum
    exists,           // lease_grant: the lease id is taken
    permission_denied,  // security: outside the identity's rights (PROTOCOL.md section 12)
    quota_exceeded,     // a write that grows the state past --quota-bytes
};

const char* status_name(Status status);

// An error: a status plus a human-readable detail for logs and replies.
struct Error {
    Status status = Status::bad_request;
    std::string detail;
};

template <typename T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() {
        CABILDO_ASSERT(ok(), "value() on an error Result");
        return std::get<0>(v_);
    }
    const T& value() const {
        CABILDO_ASSERT(ok(), "value() on an error Result");
        return std::get<0>(v_);
    }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const {
        CABILDO_ASSERT(!ok(), "error() on an ok Result");
        return std::get<1>(v_);
    }

private:
    std::variant<T, Error> v_;
};

inline const char* status_name(Status status) {
    switch (status) {
    case Status::ok: return "ok";
    case Status::not_leader: return "not_leader";
    case Status::dropped: return "dropped";
    case Status::not_found: return "not_found";
    case Status::bad_request: return "bad_request";
    case Status::too_large: return "too_large";
    case Status::storage_full: return "storage_full";
    case Status::io_error: return "io_error";
    case Status::no_leader: return "no_leader";
    case Status::unavailable: return "unavailable";
    case Status::timeout: return "timeout";
    case Status::corrupt: return "corrupt";
    case Status::locked: return "locked";
    case Status::session_expired: return "session_expired";
    case Status::change_pending: return "change_pending";
    case Status::lagging: return "lagging";
    case Status::no_quorum: return "no_quorum";
    case Status::exists: return "exists";
    case Status::permission_denied: return "permission_denied";
    case Status::quota_exceeded: return "quota_exceeded";
    }
    return "unknown";
}

}  // namespace cabildo
