// Test harness for whole-binary tests: real processes, real sockets, real
// signals. Everything here is for the single test thread; nothing is
// thread-safe. Every wait is bounded (PollUntil with a deadline, never a bare
// sleep), and every process a test starts is SIGKILLed and reaped by RAII
// even when the test fails half-way, together with everything it forked.
// Tests include only this header.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/http.h"
#include "support/proc.h"
#include "support/process.h"
#include "support/util.h"

namespace corefork::harness {

// The fixture every whole-binary test uses: a temp dir, the subreaper, owned
// processes (killed in TearDown), and their logs printed when a test fails.
class CoreforkTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts COREFORK_BIN with `args` (argv[0] is added).
  Process& StartCorefork(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {});
  // Starts any program.
  Process& Spawn(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env = {});
  // Kills every process this test started (and their descendants).
  void KillAll();

  // The admin port and control socket every corefork of this test gets
  // (through COREFORK_ADMIN / COREFORK_CONTROL_SOCKET) unless env overrides.
  int admin_port() {
    if (admin_port_ == 0) admin_port_ = FreePort();
    return admin_port_;
  }
  std::string ControlSocket() const { return tmp_.Path("control.sock"); }

  // A file in this test's temp dir.
  std::string Path(const std::string& name) const { return tmp_.Path(name); }
  std::string WriteConfig(const std::string& yaml,
                          const std::string& name = "corefork.yaml");

  // Polls GET /healthz until it answers 200 (false if `proc` exits first).
  bool WaitServing(Process& proc, int port, Millis timeout = Millis(10000));
  // Sends requests (sequential, then concurrent /slow ones) until `n`
  // distinct worker ids answered; returns worker id -> pid seen last.
  std::map<int, pid_t> CollectWorkers(int port, size_t n,
                                      Millis timeout = Millis(5000));
  // Children of `proc` (its workers), polled until there are `n`.
  std::vector<pid_t> WaitChildren(Process& proc, size_t n,
                                  Millis timeout = Millis(5000));

  TempDir tmp_;
  std::vector<std::unique_ptr<Process>> procs_;
  int admin_port_ = 0;
};

// Common argument lists.
std::vector<std::string> HelloArgs(int port, int workers);

}  // namespace corefork::harness
