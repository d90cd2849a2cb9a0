// Test harness for whole-binary tests: real processes, real sockets, real
// signals. Everything here is for the single test thread; nothing is
// thread-safe. Every wait is bounded (PollUntil with a deadline, never a bare
// sleep), and every process a test starts is SIGKILLed and reaped by RAII
// even when the test fails half-way, together with everything it forked.
// Tests include only this header.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
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
  // Spawn(make_argv(port)) on a port FreePort() picked, then waits (up to
  // 10 s) for its "listening on" log line or its exit. When it exited
  // because its bind lost a race for the port ("Address already in use"),
  // starts again on another port, up to 5 times. app_port_bound() and
  // *port (when given) get the port of the attempt returned.
  using ArgvForPort = std::function<std::vector<std::string>(int port)>;
  Process& SpawnOnFreePort(const ArgvForPort& make_argv,
                           const std::map<std::string, std::string>& env = {},
                           int* port = nullptr);
  // The same with COREFORK_BIN prepended to make_args(port).
  Process& StartCoreforkOnFreePort(
      const ArgvForPort& make_args,
      const std::map<std::string, std::string>& env = {}, int* port = nullptr);
  // Kills every process this test started (and their descendants).
  void KillAll();

  // Every corefork of this test gets COREFORK_ADMIN=127.0.0.1:0 and
  // COREFORK_CONTROL_SOCKET=ControlSocket() unless env overrides. The kernel
  // picks the admin port (no pick-close-reuse race between parallel tests);
  // admin_port() reads it back from the newest corefork's log line "admin
  // (read-only) on 127.0.0.1:N", waiting for it up to 10 s. 0, with a test
  // failure, when there is none (it exited, or logs elsewhere: see
  // set_admin_port).
  int admin_port();
  // The app port of the newest corefork: the one *OnFreePort gave it, else
  // its first listener's from its log line "listening on 127.0.0.1:N".
  int app_port_bound();
  // For a corefork whose log the harness does not capture (stderr
  // redirected): the test read the port itself (AdminPortInLog).
  void set_admin_port(int port) { admin_port_ = port; }
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
  // The newest process spawned with COREFORK_BIN in its argv, and its ports
  // once read from its log (0: not yet).
  Process* newest_corefork_ = nullptr;
  int admin_port_ = 0;
  int bound_app_port_ = 0;
};

// Common argument lists. `port` 0: the kernel picks one (app_port_bound()).
std::vector<std::string> HelloArgs(int port, int workers);

// The port in the first line of `log` that contains "admin (read-only) on
// HOST:PORT" / "listening on HOST:PORT"; nullopt when there is none yet.
std::optional<int> AdminPortInLog(const std::string& log);
std::optional<int> ListenPortInLog(const std::string& log);

// Polls `proc`'s stdout + stderr until `parse` finds a port, `proc` exits or
// `timeout` passes; 0 when it did not.
int PortFromLog(Process& proc,
                std::optional<int> (*parse)(const std::string& log),
                Millis timeout = Millis(10000));

}  // namespace corefork::harness
