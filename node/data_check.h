// What a node says about its data directory: `cabildo-node --check` (an
// operator's read-only inspection) and the log lines after an open that
// repaired something. Printing only; the decisions are storage/'s.
#pragma once

#include <string>

#include "storage/storage.h"

namespace cabildo::node {

// Prints what raft.log and the state marker hold and whether the log is
// damaged; changes nothing. Returns the exit status: 0 intact (or only a
// torn last write, which a normal start cuts), 1 damaged or unreadable,
// 3 if a node is using the directory.
int check_data_dir(const std::string& data_dir);

// Logs what opening storage repaired: a torn tail cut, damage cut by
// --repair-log, a discarded state.
void log_recovery(const storage::Storage& storage);

}  // namespace cabildo::node
