// `cabildo status`: asks every endpoint for its node's view and prints one row
// per node (cli_commands.h). An unreachable node is a row, not a failure: the
// command fails (exit_unavailable) only when no node answered.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "client/cli_commands.h"
#include "client/json_writer.h"

namespace cabildo::client {

namespace {

constexpr std::size_t column_count = 10;
using Row = std::array<std::string, column_count>;

constexpr Row header_row{"ENDPOINT", "ID",      "ROLE", "TERM", "LEADER",
                         "COMMIT",   "APPLIED", "LAST", "LAG",  "STATE_HASH"};

std::uint64_t max_commit_index(const ClusterStatus& statuses) {
    std::uint64_t commit_max = 0;
    for (const auto& [endpoint, status] : statuses) {
        if (status)
            commit_max = std::max(commit_max, status->commit_index);
    }
    return commit_max;
}

std::uint64_t lag_of(const wire::NodeStatus& status, std::uint64_t commit_max) {
    return commit_max > status.applied_index ? commit_max - status.applied_index : 0;
}

std::string hash_text(std::uint64_t state_hash) {
    return fmt::format("{:016x}", state_hash);
}

Row node_row(const std::string& endpoint, const wire::NodeStatus& status,
             std::uint64_t commit_max) {
    return Row{endpoint,
               std::to_string(status.node_id),
               status.recovering ? status.role + " (recovering)" : status.role,
               std::to_string(status.term),
               status.leader_id == 0 ? "-" : std::to_string(status.leader_id),
               std::to_string(status.commit_index),
               std::to_string(status.applied_index),
               std::to_string(status.last_index),
               std::to_string(lag_of(status, commit_max)),
               hash_text(status.state_hash)};
}

std::string format_row(const Row& row, const std::array<std::size_t, column_count>& widths) {
    std::string line;
    for (std::size_t column = 0; column < column_count; ++column) {
        if (column + 1 == column_count) {
            line += row[column];
        } else {
            line += fmt::format("{:<{}}  ", row[column], widths[column]);
        }
    }
    return line + "\n";
}

std::string node_json(const std::string& endpoint, const Result<wire::NodeStatus>& status,
                      std::uint64_t commit_max) {
    JsonObject object;
    object.add_text("endpoint", endpoint).add_bool("reachable", status.ok());
    if (!status) {
        object.add_text("error", status_name(status.error().status))
            .add_text("message", status.error().detail);
        return object.str();
    }
    object.add_uint("node_id", status->node_id)
        .add_text("role", status->role)
        .add_uint("term", status->term)
        .add_uint("leader_id", status->leader_id)
        .add_uint("commit_index", status->commit_index)
        .add_uint("applied_index", status->applied_index)
        .add_uint("last_index", status->last_index)
        .add_uint("lag", lag_of(*status, commit_max))
        // A string: 64-bit integers lose precision in many JSON readers.
        .add_text("state_hash", hash_text(status->state_hash))
        .add_bool("recovering", status->recovering)
        .add_uint("recovering_to", status->recovering_to)
        .add_uint("requests_pending", status->requests_pending)
        .add_uint("requests_expired", status->requests_expired)
        .add_uint("requests_overloaded", status->requests_overloaded)
        .add_uint("first_index", status->first_index)
        .add_uint("snapshot_index", status->snapshot_index)
        .add_bool("snapshot_in_progress", status->snapshot_in_progress)
        .add_uint("snapshot_transfers", status->snapshot_transfers)
        .add_uint("snapshot_chunks_refused", status->snapshot_chunks_refused);
    return object.str();
}

}  // namespace

std::string format_status_table(const ClusterStatus& statuses) {
    const std::uint64_t commit_max = max_commit_index(statuses);
    std::vector<Row> rows{header_row};
    for (const auto& [endpoint, status] : statuses) {
        if (status)
            rows.push_back(node_row(endpoint, *status, commit_max));
    }
    std::array<std::size_t, column_count> widths{};
    for (const auto& [endpoint, status] : statuses) {
        widths[0] = std::max(widths[0], endpoint.size());
    }
    for (const Row& row : rows) {
        for (std::size_t column = 0; column < column_count; ++column) {
            widths[column] = std::max(widths[column], row[column].size());
        }
    }
    std::string table = format_row(rows[0], widths);
    std::size_t next_row = 1;
    for (const auto& [endpoint, status] : statuses) {
        // Rows in endpoint order, reachable or not.
        table += status ? format_row(rows[next_row++], widths)
                        : fmt::format("{:<{}}  unreachable\n", endpoint, widths[0]);
    }
    return table;
}

std::string format_status_json(const ClusterStatus& statuses) {
    const std::uint64_t commit_max = max_commit_index(statuses);
    std::vector<std::string> nodes;
    for (const auto& [endpoint, status] : statuses) {
        nodes.push_back(node_json(endpoint, status, commit_max));
    }
    const bool any_reachable = std::any_of(statuses.begin(), statuses.end(),
                                           [](const auto& entry) { return entry.second.ok(); });
    JsonObject object;
    object.add_bool("ok", any_reachable).add_json("nodes", json_array(nodes));
    return object.str();
}

int run_status(Client& client, const CliOutput& output) {
    const ClusterStatus statuses = client.cluster_status();
    const bool any_reachable = std::any_of(statuses.begin(), statuses.end(),
                                           [](const auto& entry) { return entry.second.ok(); });
    if (output.json) {
        fmt::print(output.out, "{}\n", format_status_json(statuses));
    } else {
        fmt::print(output.out, "{}", format_status_table(statuses));
        for (const auto& [endpoint, status] : statuses) {
            if (!status)
                fmt::print(output.err, "cabildo: {}\n", status.error().detail);
        }
        if (!any_reachable) {
            fmt::print(output.err, "cabildo: no node answered: {}\n",
                       no_answer_hint(client.options().curve.has_value()));
        }
    }
    return any_reachable ? exit_ok : exit_unavailable;
}

}  // namespace cabildo::client
