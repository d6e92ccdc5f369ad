// TopScreen (top_screen.h): the text of one frame of `cabildo top`.
#include "client/top_screen.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace cabildo::client {

namespace {

constexpr std::size_t column_count = 14;
using Cells = std::array<std::string, column_count>;

constexpr Cells header_cells{"ID",     "ENDPOINT",   "STATE",   "ROLE", "TERM",
                             "LEADER", "COMMIT",     "APPLIED", "LAG",  "WRITE/S",
                             "READ/S", "FSYNC99_MS", "RSS_MIB", "AGE"};
// Text columns are left-aligned, numbers right-aligned.
constexpr std::array<bool, column_count> left_aligned{
    false, true, true, true, false, false, false, false, false, false, false, false, false, false};

constexpr double mib = 1024.0 * 1024.0;

std::string or_dash(std::uint64_t value) {
    return value == 0 ? "-" : std::to_string(value);
}

Cells status_cells(const TopRow& row, const wire::NodeStatus& status) {
    return Cells{
        std::to_string(row.node_id),
        row.endpoint,
        top_state_name(row.state),
        status.role,
        std::to_string(status.term),
        or_dash(status.leader_id),
        std::to_string(status.commit_index),
        std::to_string(status.applied_index),
        row.lag ? std::to_string(*row.lag) : "-",
        std::to_string(status.writes_per_s),
        std::to_string(status.reads_per_s),
        status.fsync_p99_us == 0 ? "-" : fmt::format("{:.2f}", status.fsync_p99_us / 1000.0),
        status.rss_bytes == 0 ? "-" : fmt::format("{:.1f}", status.rss_bytes / mib),
        row.age ? format_top_age(*row.age) : "-"};
}

Cells row_cells(const TopRow& row) {
    if (row.status)
        return status_cells(row, *row.status);
    Cells cells;
    cells.fill("-");
    cells[0] = row.node_id == 0 ? "?" : std::to_string(row.node_id);
    cells[1] = row.endpoint;
    cells[2] = top_state_name(row.state);
    return cells;
}

std::string join_cells(const Cells& cells, const std::array<std::size_t, column_count>& widths) {
    std::string line;
    for (std::size_t column = 0; column < column_count; ++column) {
        if (column > 0)
            line += "  ";
        if (left_aligned[column])
            line += fmt::format("{:<{}}", cells[column], widths[column]);
        else
            line += fmt::format("{:>{}}", cells[column], widths[column]);
    }
    return line;
}

std::string clock_text(TopWallTime wall) {
    return fmt::format("{:%H:%M:%S}", fmt::localtime(std::chrono::system_clock::to_time_t(wall)));
}

std::string title_text(const TopModel& model, const std::vector<TopRow>& rows, TopInstant now) {
    const auto live = std::count_if(rows.begin(), rows.end(), [](const TopRow& row) {
        return row.state == TopNodeState::live || row.state == TopNodeState::recovering;
    });
    const TopLeader leader = model.leader();
    const std::string leader_text =
        leader.leader_id == 0 ? "no leader" : fmt::format("leader {}", leader.leader_id);
    return fmt::format("cabildo top  {}  {} nodes, {} live  {}, term {}", clock_text(now.wall),
                       rows.size(), live, leader_text, leader.term);
}

}  // namespace

const char* top_state_name(TopNodeState state) {
    switch (state) {
        case TopNodeState::waiting: return "waiting";
        case TopNodeState::live: return "live";
        case TopNodeState::recovering: return "recovering";
        case TopNodeState::down: return "down";
    }
    return "?";
}

std::string format_top_age(std::chrono::milliseconds age) {
    const auto ms = std::max<std::int64_t>(0, age.count());
    if (ms < 10'000)
        return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
    if (ms < 60'000)
        return fmt::format("{}s", ms / 1000);
    if (ms < 3'600'000)
        return fmt::format("{}m", ms / 60'000);
    return fmt::format("{}h", ms / 3'600'000);
}

std::string format_leader_change(const TopLeaderChange& change, TopInstant now) {
    const auto ago =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.steady - change.at.steady);
    std::string text = fmt::format("{} ({} ago)  term {}  ", clock_text(change.at.wall),
                                   format_top_age(ago), change.term);
    text += change.leader_id == 0 ? "no leader" : fmt::format("leader {}", change.leader_id);
    if (change.first)
        text += " (when top started)";
    else if (change.previous_leader_id != 0)
        text += fmt::format(" (was {})", change.previous_leader_id);
    return text;
}

TopScreen build_top_screen(const TopModel& model, TopInstant now) {
    const std::vector<TopRow> rows = model.rows(now.steady);
    std::vector<Cells> cells;
    cells.reserve(rows.size());
    std::array<std::size_t, column_count> widths{};
    for (std::size_t column = 0; column < column_count; ++column)
        widths[column] = header_cells[column].size();
    for (const TopRow& row : rows) {
        cells.push_back(row_cells(row));
        for (std::size_t column = 0; column < column_count; ++column)
            widths[column] = std::max(widths[column], cells.back()[column].size());
    }
    TopScreen screen;
    screen.title = title_text(model, rows, now);
    screen.header = join_cells(header_cells, widths);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        screen.rows.push_back(TopLine{join_cells(cells[i], widths),
                                      rows[i].state == TopNodeState::down, rows[i].is_leader});
    }
    const auto& changes = model.leader_changes();
    screen.changes_title = fmt::format("recent leader changes ({})", changes.size());
    for (auto it = changes.rbegin(); it != changes.rend(); ++it)
        screen.changes.push_back(format_leader_change(*it, now));
    return screen;
}

}  // namespace cabildo::client
