// corefork's own exit codes (docs/exit-codes.md is the table users read) and
// the mapping from a child's wait status to the shell's conventions.
#pragma once

#include <string>

namespace corefork {

enum class ExitCode : int {
  kOk = 0,               // graceful shutdown; every worker exited cleanly
  kWorkerFailed = 1,     // shutdown done, but a worker failed or was SIGKILLed
  kUsage = 2,            // bad command line or configuration
  kStartup = 3,          // could not start (bind, signals, subreaper, ...)
  kCrashLoop = 4,        // a slot failed restart.max_failures times in a row
  kStartJobFailed = 5,   // a required at-start job failed (jobs)
  kCannotExecute = 126,  // the command exists but cannot be executed
  kNotFound = 127,       // the command was not found
  kFastShutdown = 131,   // SIGQUIT: 128 + SIGQUIT, like a shell reports it
};

inline int ToInt(ExitCode code) { return static_cast<int>(code); }

// A child's wait status as a shell reports it: WEXITSTATUS for a normal exit,
// 128 + signal number when a signal ended it.
int ExitCodeFromWaitStatus(int wait_status);

// "exited with 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
std::string DescribeWaitStatus(int wait_status);

// "SIGTERM" for 15; "signal 64" for numbers without a name.
std::string SignalName(int signo);

}  // namespace corefork
