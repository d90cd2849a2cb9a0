// Process: one child the test starts, owned RAII-style. Its destructor
// SIGKILLs it with its group and every descendant and reaps what comes back,
// so a failing test leaves nothing running. For the single test thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/util.h"

namespace corefork::harness {

// A child process in its own process group, stdin /dev/null, stdout/stderr to
// files (readable while it runs), a clean signal mask, default dispositions,
// no inherited fd above 2, and PR_SET_PDEATHSIG(SIGKILL) so it cannot outlive
// a crashed test. The destructor SIGKILLs it, its process group and all its
// descendants, and reaps what comes back to us.
class Process {
 public:
  // argv[0] is looked up in PATH when it has no '/'. `env` entries override or
  // add to the test's environment.
  Process(std::vector<std::string> argv,
          const std::map<std::string, std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // False when fork/exec failed; error() says why.
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }
  std::string CommandLine() const;

  bool Signal(int sig);  // kill(pid, sig); false once reaped
  bool Running();        // not yet exited (reaps if it has)
  // Exit code (WEXITSTATUS, or 128+signal) once it exits within `timeout`.
  std::optional<int> WaitExit(Millis timeout);
  std::optional<int> exit_code() const { return exit_code_; }

  std::string Stdout() const;
  std::string Stderr() const;

  // SIGKILL + reap everything now (the destructor does the same).
  void Kill();

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::optional<int> exit_code_;
  std::string error_;
  TempDir logs_;
};

}  // namespace corefork::harness
