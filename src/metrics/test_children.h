// Test-only helpers (included by *_test.cc only): real child processes whose
// /proc entries and wait statuses the metrics tests read. The caller owns
// each child it starts and must reap it (KillAndReap).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace corefork::test_children {

// Starts `/bin/sh -c script`; -1 on failure.
inline pid_t SpawnShell(const char* script) {
  char arg0[] = "sh", arg1[] = "-c";
  char* argv[] = {arg0, arg1, const_cast<char*>(script), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) {
    return -1;
  }
  return pid;
}

// A child that stays alive (for a minute) until killed.
inline pid_t SpawnSleeper() { return SpawnShell("exec sleep 60"); }

// Reaps the child and returns its wait status (-1 if waitpid failed).
inline int Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

inline int KillAndReap(pid_t pid, int signo = SIGKILL) {
  kill(pid, signo);
  return Reap(pid);
}

}  // namespace corefork::test_children
