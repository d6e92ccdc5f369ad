// Session: random id and write sequence numbers (session.h).
#include "client/session.h"

#include <random>

#include "node/raft/assert.h"

namespace cabildo::client {

namespace {

// Draws until non-zero: 0 means "no session" on the wire.
std::uint64_t random_session_id() {
    std::random_device device;
    std::uint64_t id = 0;
    while (id == 0) {
        id = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }
    return id;
}

}  // namespace

Session::Session() : id_(random_session_id()) {}

Session::Session(std::uint64_t id) : id_(id) {
    CABILDO_ASSERT(id != 0, "a session id must be non-zero");
}

void Session::renew() {
    id_ = random_session_id();
    last_seq_ = 0;
}

}  // namespace cabildo::client
