// `cabildo watch PREFIX`: prints every change under PREFIX, exactly once and
// in revision order, through a Watcher (watcher.h). Registered by
// add_watch_command(); cli_main.cc calls the returned runner after parsing.
//
//   cabildo watch PREFIX [--from REV] [--count N] [--timeout-s S]
//
// Output, one line per event (flushed per batch):
//   human: "REV put KEY VALUE" / "REV delete KEY" (key and value raw bytes);
//   --json: {"revision":R,"op":"put","key":"..","value":".."} ("_b64" forms
//           of json_writer.h for bytes that are not UTF-8).
// A resync (the start revision is compacted away) first prints a marker,
// "REV resync N" / {"revision":R,"op":"resync","keys":N}, then the N current
// keys as put lines at REV: the reader must drop every key it knew under the
// prefix that is not among them. The marker is not counted by --count.
// Exit: 0 after --count events or --timeout-s idle seconds; report_error()'s
// codes when the watcher fails (cli_commands.h), e.g. when no node answered
// at all within the global --timeout-ms.
#pragma once

#include "client/cli_common.h"

namespace CLI {
class App;
}

namespace cabildo::client {

CliRunner add_watch_command(CLI::App& app);

}  // namespace cabildo::client
