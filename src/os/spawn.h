// Spawn: starts a child process the way corefork needs every child started:
// chosen fds placed at 3, 4, ... (everything else closed), a clean signal
// mask and default dispositions, optionally its own process group, and
// PR_SET_PDEATHSIG so it never outlives the thread that spawned it.
// Uses vfork: the caller's (possibly large) address space is never copied.
// Call from the event-loop thread only (the death signal follows that thread).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/status.h"

namespace corefork {

struct SpawnOptions {
  std::string path;               // absolute path (see ResolveExecutable)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the complete environment, KEY=VALUE
  std::vector<int> pass_fds;      // become fds 3, 4, ... in the child
  int stdin_fd = -1;              // -1: inherit corefork's
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool new_process_group = true;  // so a group kill reaches its children
  bool die_with_parent = true;    // PR_SET_PDEATHSIG(SIGKILL)
  std::string workdir;            // empty: inherit
  // When set (e.g. "LISTEN_PID"), the child's environment gets NAME=<its own
  // pid>: only the child knows it before exec.
  std::string pid_env_var;
  // Drop to this group/user before exec (corefork running as root); -1: keep.
  gid_t gid = static_cast<gid_t>(-1);
  uid_t uid = static_cast<uid_t>(-1);
};

struct SpawnFailure {
  int error = 0;     // errno of the failing step; 0 if spawned
  std::string step;  // "execve", "chdir", "dup2", ...
};

// Returns the child's pid. On failure, returns an error status such as
// `execve /app: Permission denied` and fills *failure (when given) so the
// caller can choose 126 vs 127. A child that failed has already been reaped.
Result<pid_t> Spawn(const SpawnOptions& options,
                    SpawnFailure* failure = nullptr);

// Resolves `name` the way execvp would, against `path_env` (a PATH value)
// when it has no '/'. Errors: "app: command not found in PATH (...)",
// "/x/app: Permission denied". *error gets ENOENT or EACCES-like errno.
Result<std::string> ResolveExecutable(const std::string& name,
                                      const std::string& path_env,
                                      int* error = nullptr);

// 127 for "not found" errnos (ENOENT, ENOTDIR), 126 for the rest, as shells do.
int ExitCodeForExecError(int error);

}  // namespace corefork
