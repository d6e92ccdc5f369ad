// Snapshot files: a consistent copy of a node's applied state (every LMDB
// database of state/: kv, sessions, the watch history, meta with the applied
// index and term) in one checksummed file, for InstallSnapshot, restart
// after compaction, and backups (Raft §7).
//
// Written by a cursor walk inside ONE read transaction, so the copy is the
// state at one applied index while writes go on; that index and its term are
// read from the state itself (meta "applied", "applied_term"), so a file
// always describes its own position. Written to a temporary file, synced,
// then renamed: a file with a final name is complete.
//
// Layout (integers big-endian):
//   header: [magic "CABILDOS"][format u32 = 2][zero u32][cluster_id u64]
//           [index u64][term u64][voters u32][voter id u64]...
//           [membership_len u32][membership (raft::encode_membership)]
//           [databases u32][name_len u8][name]...[crc32 u32 of all before]
//           Format 1 files (no membership field: every member a voter) are
//           still read.
//   chunks: [payload_len u32 > 0][crc32 u32 of payload][payload], each
//           payload a run of records [db u8][key_len u32][value_len u32]
//           [key][value], db = the database's position in the header;
//           payloads are about chunk_bytes (1 MiB), never split a record
//   end:    [0 u32][records u64][keys u64][state_hash u64][crc32 u32 of the
//           28 bytes before]
// Anything else (a short file, a bad checksum, a record past its payload,
// an unknown database) is `corrupt`, and nothing is installed from it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "node/raft/result.h"
#include "node/raft/types.h"

namespace cabildo::storage {

struct Databases;

struct SnapshotInfo {
    std::uint64_t cluster_id = 0;
    raft::SnapshotMeta meta;
    std::vector<std::string> databases;
    std::uint64_t records = 0;
    std::uint64_t keys = 0;        // pairs in the kv database
    std::uint64_t state_hash = 0;  // meta "kv_hash" (Storage::state_hash)
    std::uint64_t bytes = 0;       // of the file
};

// One record of a snapshot: which database, key and value.
struct SnapshotRecord {
    std::size_t db = 0;
    std::string_view key;
    std::string_view value;
};

// Writes the state in dbs to `path` as one snapshot file. Its membership is
// the one stored in the state (meta "membership"), or `bootstrap` if no
// configuration entry was ever applied. Safe to run on
// another thread than the one that owns dbs, as long as dbs stays open and
// its map is not resized meanwhile (Env::ReaderPin). Stops with `dropped`
// if *cancel becomes true. Written at most at bytes_per_second (0: as fast
// as the disk goes), its writeback paced (WriteBehind).
Result<SnapshotInfo> write_snapshot(const Databases& dbs, std::uint64_t cluster_id,
                                    const raft::Membership& bootstrap,
                                    const std::string& path, const std::atomic<bool>* cancel,
                                    std::uint64_t bytes_per_second = 0);

// Reads and checks the header only (cheap).
Result<SnapshotInfo> read_snapshot_header(const std::string& path);

// Reads the whole file, checking every checksum, and hands each record to
// `each` (if set) in file order. The info comes from the end record.
Result<SnapshotInfo> read_snapshot(const std::string& path,
                                   const std::function<Result<bool>(const SnapshotRecord&)>& each);

// Loads the snapshot into dbs, which must be empty, in batched write
// transactions; checks the end record's key count and state hash against
// what was loaded. On error dbs holds a partial state: discard it.
Result<SnapshotInfo> load_snapshot(const std::string& path, Databases& dbs);

// The file name of the snapshot at (index, term) in a snapshots directory;
// names sort by index.
std::string snapshot_file_name(raft::LogIndex index, raft::Term term);

}  // namespace cabildo::storage
