// TopScreen: one frame of `cabildo top` as plain text lines, made from a
// TopModel (top_model.h). Pure formatting: the ncurses view (top_view.h)
// draws these lines, dimming the rows of down nodes, and `top --once` prints
// them as they are, so both show the same text.
//
// The table, one row per node (columns sized to their widest cell):
//
//   ID  ENDPOINT              STATE  ROLE      TERM  LEADER  COMMIT  APPLIED  LAG
//       WRITE/S  READ/S  FSYNC99_MS  RSS_MIB  AGE
//
// STATE is live, recovering, waiting (nothing heard yet) or down; a down row
// keeps the node's last known values. LEADER is the leader_id the node
// reports ("-": none). AGE is the time since its last heartbeat. "-" marks
// what is not known (and a fsync p99 or RSS of 0: none measured).
// Below it, the recent leader changes, newest first:
//
//   12:04:05 (3.2s ago)  term 7  leader 2 (was 1)
//   12:04:04 (4.0s ago)  term 6  no leader (was 1)
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "client/top_model.h"

namespace cabildo::client {

struct TopLine {
    std::string text;
    bool dim = false;   // a down node
    bool bold = false;  // the leader
};

struct TopScreen {
    std::string title;                 // "cabildo top  12:04:08  3 nodes, 2 live  leader 2, term 7"
    std::string header;                // the table's column names
    std::vector<TopLine> rows;         // one per node, as TopModel::rows() orders them
    std::string changes_title;         // "recent leader changes (N)"
    std::vector<std::string> changes;  // newest first
};

TopScreen build_top_screen(const TopModel& model, TopInstant now);

// "STATE" column texts: "live", "recovering", "waiting", "down".
const char* top_state_name(TopNodeState state);
// "0.3s" below 10 s, "42s" below 1 min, "5m" below 1 h, then "2h".
std::string format_top_age(std::chrono::milliseconds age);
// "12:04:05 (3.2s ago)  term 7  leader 2 (was 1)" (local time of day).
std::string format_leader_change(const TopLeaderChange& change, TopInstant now);

}  // namespace cabildo::client
