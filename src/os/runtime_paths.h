// Where corefork puts its unix sockets: the control API socket and the
// notify socket workers report readiness to. Both live in one directory
// that must be private to corefork's user (see PrepareRuntimePaths). Call
// from main, before any thread starts (reads the environment).
#pragma once

#include <sys/types.h>

#include <string>

#include "util/status.h"

namespace corefork {

struct RuntimePaths {
  std::string control_socket;
  std::string notify_socket;  // unique per corefork process
};

// `control_socket` (control.socket from the config) wins, then
// $COREFORK_CONTROL_SOCKET, then the default directory, the first that applies
// of:
//   /run/corefork                 where /run is writable (root);
//   /run/corefork                 when it already exists, private to us (an
//                                 image made it for a non-root user);
//   $XDG_RUNTIME_DIR/corefork     when $XDG_RUNTIME_DIR is private to us;
//   ${TMPDIR:-/tmp}/corefork-UID  otherwise.
// Creates the socket's directory if needed (0700). The default directory
// must then be a real directory (not a symlink) owned by our euid with no
// access for group or others (no group/other write for /run/corefork),
// else the error names the directory and what is wrong with it: in a shared
// /tmp another user could have made it first and would own our sockets.
// An explicitly configured path is the user's choice and is not checked.
Result<RuntimePaths> PrepareRuntimePaths(const std::string& control_socket);

// The control socket in the default directory above, chosen the same way
// but neither created nor required to be safe: for the client commands,
// which only connect (the server refuses to listen in an unsafe directory).
std::string DefaultControlSocketPath();

// Why `dir` is unsafe to hold corefork's sockets, or OK: it must be a
// directory (a symlink is refused: checked on an O_NOFOLLOW fd), owned by
// `uid`, with none of `forbidden_mode` bits (e.g. 077) set.
Status CheckPrivateDirectory(const std::string& dir, uid_t uid,
                             mode_t forbidden_mode);

}  // namespace corefork
