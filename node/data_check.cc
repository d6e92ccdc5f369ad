// data_check: see data_check.h.
#include "node/data_check.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>

#include "storage/dir_lock.h"

namespace cabildo::node {

namespace {

void print_report(const storage::LogReport& r) {
    std::printf("raft.log: log format 1, cluster id %llu, node id %llu, %llu bytes\n",
                static_cast<unsigned long long>(r.identity.cluster_id),
                static_cast<unsigned long long>(r.identity.node_id),
                static_cast<unsigned long long>(r.file_bytes));
    std::printf("  %llu valid records ending at offset %llu; entries 1..%llu\n",
                static_cast<unsigned long long>(r.records),
                static_cast<unsigned long long>(r.records_end),
                static_cast<unsigned long long>(r.last_index));
    std::printf("  hard state: term %llu, voted for %llu, commit index %llu\n",
                static_cast<unsigned long long>(r.hard_state.term),
                static_cast<unsigned long long>(r.hard_state.voted_for),
                static_cast<unsigned long long>(r.hard_state.commit_index));
}

std::string marker_text(const std::string& data_dir) {
    std::ifstream in(data_dir + "/state-in-use");
    std::string text;
    if (!(in >> text)) return "missing (the state would be rebuilt from the log)";
    if (text == "clean") return "clean (closed cleanly)";
    return "in use by boot " + text + " (trusted only within that boot)";
}

}  // namespace

int check_data_dir(const std::string& data_dir) {
    auto lock = storage::DirLock::acquire(data_dir);
    if (!lock) {
        std::fprintf(stderr, "cabildo-node --check: %s\n", lock.error().detail.c_str());
        return lock.error().status == Status::locked ? 3 : 1;
    }
    auto report = storage::LogFile::check(data_dir);
    if (!report) {
        std::printf("raft.log: DAMAGED: %s\n", report.error().detail.c_str());
        return 1;
    }
    print_report(*report);
    std::printf("state marker: %s\n", marker_text(data_dir).c_str());
    if (report->damage_offset) {
        std::printf("DAMAGED at offset %llu: %s",
                    static_cast<unsigned long long>(*report->damage_offset),
                    report->damage.c_str());
        if (report->next_record_offset) {
            std::printf("; valid records follow at offset %llu",
                        static_cast<unsigned long long>(*report->next_record_offset));
        }
        std::printf("\nA normal start refuses this log. --repair-log would cut it at offset %llu, "
                    "losing every entry and vote after it.\n",
                    static_cast<unsigned long long>(*report->damage_offset));
        return 1;
    }
    if (report->torn_bytes > 0) {
        std::printf("torn last write: %llu bytes at offset %llu (never acknowledged; the next "
                    "start cuts them)\n",
                    static_cast<unsigned long long>(report->torn_bytes),
                    static_cast<unsigned long long>(report->records_end));
    } else {
        std::printf("intact\n");
    }
    return 0;
}

void log_recovery(const storage::Storage& storage) {
    const storage::LogReport& r = storage.log_report();
    if (r.damage_offset) {
        spdlog::warn("--repair-log: cut raft.log at offset {} ({}); {} bytes after it were "
                     "dropped, the log now ends at index {}",
                     *r.damage_offset, r.damage, r.file_bytes - *r.damage_offset, r.last_index);
    } else if (r.torn_bytes > 0) {
        spdlog::warn("raft.log: cut a torn last write of {} bytes at offset {} (it was never "
                     "acknowledged); the log ends at index {}",
                     r.torn_bytes, r.records_end, r.last_index);
    }
    if (!storage.restored_from().empty()) {
        spdlog::warn("the applied state was loaded from snapshot {} (index {}): {}; the log "
                     "after it is applied again",
                     storage.restored_from(), storage.snapshot().index, storage.discard_reason());
    } else if (storage.state_discarded()) {
        spdlog::warn("the applied state cannot be trusted ({}): it was discarded and is rebuilt "
                     "from the log",
                     storage.discard_reason());
    }
}

}  // namespace cabildo::node
