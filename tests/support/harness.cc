#include "support/harness.h"

#include <unistd.h>

#include <iostream>

namespace corefork::harness {

std::vector<std::string> HelloArgs(int port, int workers) {
  return {"--workers",   std::to_string(workers),
          "--host",      "127.0.0.1",
          "--port",      std::to_string(port),
          "--log-level", "debug",
          "--",          HELLO_BIN};
}

void CoreforkTest::SetUp() {
  SetChildSubreaper();
  ASSERT_FALSE(tmp_.path().empty());
}

void CoreforkTest::TearDown() {
  if (HasFailure()) {
    for (const auto& p : procs_) {
      std::cerr << "---- " << p->CommandLine() << " (pid " << p->pid()
                << ", exit "
                << (p->exit_code() ? std::to_string(*p->exit_code()) : "-")
                << ")\n---- stdout:\n"
                << p->Stdout() << "---- stderr:\n"
                << p->Stderr() << "---- end\n";
    }
  }
  KillAll();
}

void CoreforkTest::KillAll() {
  for (auto& p : procs_) p->Kill();
  ReapOrphans();
}

Process& CoreforkTest::StartCorefork(
    const std::vector<std::string>& args,
    const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{COREFORK_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return Spawn(argv, env);
}

Process& CoreforkTest::Spawn(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env) {
  // Tests run in parallel: each corefork gets its own admin port and control
  // socket unless the test chose them.
  std::map<std::string, std::string> full = env;
  if (admin_port_ == 0) admin_port_ = FreePort();
  full.emplace("COREFORK_ADMIN", "127.0.0.1:" + std::to_string(admin_port_));
  full.emplace("COREFORK_CONTROL_SOCKET", ControlSocket());
  procs_.push_back(std::make_unique<Process>(argv, full));
  Process& p = *procs_.back();
  EXPECT_TRUE(p.ok()) << p.CommandLine() << ": " << p.error();
  return p;
}

std::string CoreforkTest::WriteConfig(const std::string& yaml,
                                      const std::string& name) {
  std::string path = Path(name);
  EXPECT_TRUE(WriteFile(path, yaml)) << path;
  return path;
}

bool CoreforkTest::WaitServing(Process& proc, int port, Millis timeout) {
  return PollUntil(
             [&] {
               if (!proc.Running()) return true;  // reported below
               return HttpGet("127.0.0.1", port, "/healthz", Millis(500))
                          .status == 200;
             },
             timeout, Millis(20)) &&
         proc.Running();
}

std::map<int, pid_t> CoreforkTest::CollectWorkers(int port, size_t n,
                                                  Millis timeout) {
  std::map<int, pid_t> seen;
  auto record = [&](const HttpResponse& r) {
    if (r.status != 200) return;
    if (auto h = ParseHello(r.body)) seen[h->worker] = h->pid;
  };
  int round = 0;
  PollUntil(
      [&] {
        if (round++ % 2 == 0) {
          // Sequential: each new connection gets a new source port, which
          // SO_REUSEPORT hashes over the slots.
          for (int i = 0; i < 20 && seen.size() < n; ++i) {
            record(HttpGet("127.0.0.1", port, "/", Millis(2000)));
          }
        } else {
          // Concurrent slow requests: a busy worker leaves the next
          // connection of a shared socket to another one.
          std::vector<std::unique_ptr<HttpConnection>> conns;
          for (size_t i = 0; i < 2 * n; ++i) {
            auto c = std::make_unique<HttpConnection>();
            if (c->Connect("127.0.0.1", port, Millis(1000)) &&
                c->SendGet("/slow?ms=50")) {
              conns.push_back(std::move(c));
            }
          }
          for (auto& c : conns) record(c->ReadResponse(Millis(2000)));
        }
        return seen.size() >= n;
      },
      timeout, Millis(1));
  return seen;
}

std::vector<pid_t> CoreforkTest::WaitChildren(Process& proc, size_t n,
                                              Millis timeout) {
  std::vector<pid_t> children;
  PollUntil(
      [&] {
        children.clear();
        for (pid_t c : ChildrenOf(proc.pid())) {
          if (!GoneOrZombie(c)) children.push_back(c);
        }
        return children.size() >= n;
      },
      timeout);
  return children;
}

}  // namespace corefork::harness
