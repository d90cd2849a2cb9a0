#include "os/exit_codes.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <string>

namespace corefork {

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;  // stopped/continued are never passed here
}

std::string SignalName(int signo) {
  const char* abbrev = sigabbrev_np(signo);
  if (abbrev == nullptr) return "signal " + std::to_string(signo);
  return std::string("SIG") + abbrev;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited with " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    std::string s = "killed by " + SignalName(WTERMSIG(wait_status));
    if (WCOREDUMP(wait_status)) s += " (core dumped)";
    return s;
  }
  return "unknown wait status " + std::to_string(wait_status);
}

}  // namespace corefork
