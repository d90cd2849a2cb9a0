#include "support/harness.h"

#include <unistd.h>

#include <iostream>
#include <regex>

namespace corefork::harness {

std::vector<std::string> HelloArgs(int port, int workers) {
  return {"--workers",   std::to_string(workers),
          "--host",      "127.0.0.1",
          "--port",      std::to_string(port),
          "--log-level", "debug",
          "--",          HELLO_BIN};
}

namespace {

// HOST is an IPv4 literal or [IPv6]: the port is the digits after the last
// colon of that word.
std::optional<int> PortAfter(const std::string& log, const std::regex& re) {
  std::smatch m;
  if (!std::regex_search(log, m, re)) return std::nullopt;
  const int port = std::stoi(m[1].str());
  if (port <= 0 || port > 65535) return std::nullopt;
  return port;
}

}  // namespace

std::optional<int> AdminPortInLog(const std::string& log) {
  static const auto* const re =
      new std::regex(R"(admin \(read-only\) on \S*:([0-9]{1,5}))");
  return PortAfter(log, *re);
}

std::optional<int> ListenPortInLog(const std::string& log) {
  static const auto* const re =
      new std::regex(R"(listening on \S*:([0-9]{1,5}))");
  return PortAfter(log, *re);
}

int PortFromLog(Process& proc,
                std::optional<int> (*parse)(const std::string& log),
                Millis timeout) {
  std::optional<int> port;
  PollUntil(
      [&] {
        port = parse(proc.Stderr());
        if (!port) port = parse(proc.Stdout());
        return port.has_value() || !proc.Running();
      },
      timeout, Millis(10));
  if (!port) port = parse(proc.Stderr() + proc.Stdout());  // exited just now
  return port.value_or(0);
}

int CoreforkTest::admin_port() {
  if (admin_port_ == 0 && newest_corefork_ != nullptr) {
    admin_port_ = PortFromLog(*newest_corefork_, AdminPortInLog);
    EXPECT_NE(admin_port_, 0)
        << newest_corefork_->CommandLine()
        << ": no \"admin (read-only) on\" line in its log";
  }
  return admin_port_;
}

int CoreforkTest::app_port_bound() {
  if (bound_app_port_ == 0 && newest_corefork_ != nullptr) {
    bound_app_port_ = PortFromLog(*newest_corefork_, ListenPortInLog);
    EXPECT_NE(bound_app_port_, 0) << newest_corefork_->CommandLine()
                                  << ": no \"listening on\" line in its log";
  }
  return bound_app_port_;
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
  // Tests run in parallel: each corefork gets its own admin port (the
  // kernel's pick) and control socket unless the test chose them.
  std::map<std::string, std::string> full = env;
  full.emplace("COREFORK_ADMIN", "127.0.0.1:0");
  full.emplace("COREFORK_CONTROL_SOCKET", ControlSocket());
  procs_.push_back(std::make_unique<Process>(argv, full));
  Process& p = *procs_.back();
  bool is_corefork = false;
  for (const std::string& arg : argv) {
    if (arg.find(COREFORK_BIN) != std::string::npos) is_corefork = true;
  }
  if (is_corefork) {
    newest_corefork_ = &p;
    admin_port_ = 0;
    bound_app_port_ = 0;
  }
  EXPECT_TRUE(p.ok()) << p.CommandLine() << ": " << p.error();
  return p;
}

Process& CoreforkTest::SpawnOnFreePort(
    const ArgvForPort& make_argv, const std::map<std::string, std::string>& env,
    int* port) {
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    const int candidate = FreePort();
    Process& p = Spawn(make_argv(candidate), env);
    // It listens, or it exited. Only an exit before "listening on" is a
    // lost race: an app that binds the port itself fails with the same
    // EADDRINUSE after corefork bound it, and that corefork may have given
    // up (a crash loop) before the log was first read.
    const bool listened = PortFromLog(p, ListenPortInLog) != 0;
    const bool lost_race =
        !listened && !p.Running() &&
        ContainsNoCase(p.Stderr() + p.Stdout(), "address already in use");
    if (!lost_race || attempt == kAttempts) {
      if (lost_race) ADD_FAILURE() << "port taken " << kAttempts << " times";
      bound_app_port_ = candidate;
      if (port != nullptr) *port = candidate;
      return p;
    }
    std::cerr << "[ retry    ] port " << candidate
              << " was taken before corefork bound it; another port\n";
  }
}

Process& CoreforkTest::StartCoreforkOnFreePort(
    const ArgvForPort& make_args, const std::map<std::string, std::string>& env,
    int* port) {
  return SpawnOnFreePort(
      [&](int p) {
        std::vector<std::string> argv{COREFORK_BIN};
        const std::vector<std::string> args = make_args(p);
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
      },
      env, port);
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
