// Helpers shared by the storage/ tests: a per-test temporary directory
// (mkdtemp, removed afterwards), opening a Storage that must succeed, and
// building runs of log entries. Test-only; not linked into the node.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <csignal>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "node/raft/types.h"
#include "storage/storage.h"

namespace cabildo::storage::testing {

class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "cabildo-storage-XXXXXX").string();
        char* made = mkdtemp(pattern.data());
        if (made == nullptr)
            ADD_FAILURE() << "mkdtemp failed";
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // The environment lives in a subdirectory, so open() must create it.
    std::string db_path() const { return path_ + "/db"; }

private:
    std::string path_;
};

// For death tests: a death test child re-runs the test and aborts, so its own
// TempDirs are never removed. Pointing TMPDIR into the parent's TempDir puts
// the child's directories inside it, and the parent removes them all.
class TmpdirInside {
public:
    explicit TmpdirInside(const TempDir& root) {
        const char* old = getenv("TMPDIR");
        if (old != nullptr)
            old_ = old;
        setenv("TMPDIR", root.path().c_str(), 1);
    }
    ~TmpdirInside() {
        if (old_) {
            setenv("TMPDIR", old_->c_str(), 1);
        } else {
            unsetenv("TMPDIR");
        }
    }
    TmpdirInside(const TmpdirInside&) = delete;
    TmpdirInside& operator=(const TmpdirInside&) = delete;

private:
    std::optional<std::string> old_;
};

// RLIMIT_FSIZE makes the kernel refuse to grow the file (EFBIG, with
// SIGXFSZ ignored): the same path as a full disk.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        getrlimit(RLIMIT_FSIZE, &old_);
        rlimit limit = old_;
        limit.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }

    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

private:
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

inline std::unique_ptr<Storage> open_ok(const std::string& path, const Options& options = {}) {
    auto storage = Storage::open(path, options);
    if (!storage.ok()) {
        ADD_FAILURE() << "open failed: " << storage.error().detail;
        return nullptr;
    }
    return std::move(*storage);
}

// count entries from index first, all of term, data "e<index>" padded to data_bytes.
inline std::vector<raft::Entry> make_entries(raft::LogIndex first, std::size_t count,
                                             raft::Term term, std::size_t data_bytes = 0) {
    std::vector<raft::Entry> out;
    for (std::size_t i = 0; i < count; ++i) {
        raft::Entry entry;
        entry.term = term;
        entry.index = first + i;
        entry.type = entry.index % 5 == 0 ? raft::EntryType::noop : raft::EntryType::normal;
        entry.data = "e" + std::to_string(entry.index);
        if (entry.data.size() < data_bytes)
            entry.data.resize(data_bytes, 'x');
        out.push_back(entry);
    }
    return out;
}

inline void persist_ok(Storage& storage, const std::vector<raft::Entry>& entries,
                       const std::optional<raft::HardState>& hard_state = std::nullopt) {
    auto result = storage.persist(hard_state, entries);
    ASSERT_TRUE(result.ok()) << result.error().detail;
}

// Storage refuses to open a state applied past its log (the log lost
// entries), so tests that apply must log that far first: this appends
// filler entries of term 1 up to index.
inline void log_through(Storage& storage, raft::LogIndex index) {
    const raft::LogIndex last = storage.last_index();
    if (index > last) persist_ok(storage, make_entries(last + 1, index - last, 1));
}

inline void commit_ok(ApplyTxn& txn) {
    auto result = txn.commit();
    ASSERT_TRUE(result.ok()) << result.error().detail;
}

}  // namespace cabildo::storage::testing
