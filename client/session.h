// Session: the client's exactly-once identity for writes (PROTOCOL.md §6).
//
// A session is a random non-zero 64-bit id plus a sequence number that starts
// at 1 and grows by one per new write. A retried write reuses the (session,
// seq) it was first sent with, so the replicated state machine executes it
// once and answers every retry with the first reply. The node keeps only the
// last reply per session, so at most one write may be in flight per session;
// the single-threaded Client guarantees that. Reads carry no session. This is
// LogCabin's Client/SessionManager without the keep-alive. The cluster
// remembers a bounded number of sessions; when it answers session_expired,
// the Client starts a new one (renew()).
#pragma once

#include <cstdint>

namespace cabildo::client {

// Invariant: id() != 0; last_seq() counts the writes begun so far.
class Session {
public:
    // A fresh random id from std::random_device.
    Session();
    // A given id, for tests. Precondition: id != 0.
    explicit Session(std::uint64_t id);

    std::uint64_t id() const { return id_; }
    // The seq for a new write: 1, 2, 3, ... Retries of that write must reuse
    // the value returned here, not call this again.
    std::uint64_t begin_write() { return ++last_seq_; }
    // The seq of the latest write begun; 0 before the first.
    std::uint64_t last_seq() const { return last_seq_; }
    // A fresh random id, seq from 1 again: after the cluster forgot this one.
    void renew();

private:
    std::uint64_t id_;
    std::uint64_t last_seq_ = 0;
};

}  // namespace cabildo::client
