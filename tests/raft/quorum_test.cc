// Table-driven tests of majority arithmetic (quorum.h).
#include <gtest/gtest.h>

#include "node/raft/quorum.h"

namespace cabildo::raft {
namespace {

TEST(Quorum, ValueReachedByMajority) {
    struct Case {
        const char* name;
        std::vector<std::uint64_t> match;
        std::uint64_t want;
    };
    const std::vector<Case> cases = {
        {"single node", {7}, 7},
        {"three, all equal", {5, 5, 5}, 5},
        {"three, one behind", {5, 5, 2}, 5},
        {"three, two behind", {9, 4, 2}, 4},
        {"three, unsorted", {2, 9, 4}, 4},
        {"four needs three", {9, 8, 3, 1}, 3},
        {"five, minority ahead", {10, 10, 3, 2, 1}, 3},
        {"five, majority ahead", {10, 10, 10, 2, 1}, 10},
        {"seven", {7, 6, 5, 4, 3, 2, 1}, 4},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(quorum_value(c.match), c.want);
    }
}

TEST(Quorum, TallyVotes) {
    struct Case {
        const char* name;
        std::size_t voters, granted, rejected;
        VoteResult want;
    };
    const std::vector<Case> cases = {
        {"single self vote wins", 1, 1, 0, VoteResult::won},
        {"three: self only pending", 3, 1, 0, VoteResult::pending},
        {"three: two granted win", 3, 2, 0, VoteResult::won},
        {"three: two rejected lose", 3, 1, 2, VoteResult::lost},
        {"three: one each pending", 3, 1, 1, VoteResult::pending},
        {"five: two granted two rejected pending", 5, 2, 2, VoteResult::pending},
        {"five: three rejected lose", 5, 1, 3, VoteResult::lost},
        {"four: two granted not enough", 4, 2, 1, VoteResult::pending},
        {"four: two rejected lose", 4, 2, 2, VoteResult::lost},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(tally_votes(c.voters, c.granted, c.rejected), c.want);
    }
}

}  // namespace
}  // namespace cabildo::raft
