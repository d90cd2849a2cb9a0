// Where corefork puts its unix sockets: the control API socket and the
// notify socket workers report readiness to. Both live in one directory
// (created 0700 when missing): by default /run/corefork, or
// $TMPDIR/corefork-<uid> where /run is not writable. Call from main.
#pragma once

#include <string>

#include "config/config.h"
#include "util/status.h"

namespace corefork {

struct RuntimePaths {
  std::string control_socket;
  std::string notify_socket;  // unique per corefork process
};

// control.socket from the config wins, then $COREFORK_CONTROL_SOCKET, then
// the default directory. Creates the socket's directory if needed.
Result<RuntimePaths> PrepareRuntimePaths(const Config& config);

}  // namespace corefork
