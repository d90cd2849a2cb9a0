// Whole-binary tests of the launcher's core job: bind the port, fork the
// workers onto it with the socket-activation contract, keep them alive
// (restart in the same slot, without losing queued connections), and reap
// whatever they leave behind.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "support/harness.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

std::string SharedConfig(int port, int workers, const std::string& mode,
                         const std::string& initial_delay = "100ms") {
  std::ostringstream y;
  y << "workers: " << workers << "\n"
    << "listeners: [{name: http, host: 127.0.0.1, port: " << port
    << ", mode: " << mode << "}]\n"
    << "restart: {initial_delay: " << initial_delay << "}\n"
    << "shutdown: {drain_delay: 50ms, timeout: 2s}\n"
    << "command: [" << HELLO_BIN << "]\n";
  return y.str();
}

// Runs hello under corefork with `workers` workers in listener `mode`.
class ListenerModeTest : public CoreforkTest,
                         public ::testing::WithParamInterface<std::string> {
 protected:
  // On a free port (*port), retried when it was taken before corefork bound
  // it.
  Process& StartHello(int* port, int workers,
                      const std::string& initial_delay = "100ms") {
    return StartCoreforkOnFreePort(
        [&](int p) {
          std::string config =
              WriteConfig(SharedConfig(p, workers, GetParam(), initial_delay));
          return std::vector<std::string>{"--config", config, "--log-level",
                                          "debug"};
        },
        {}, port);
  }
};

TEST_P(ListenerModeTest, AllWorkersAnswerOnTheSharedPort) {
  int port = 0;
  Process& cf = StartHello(&port, 2);
  ASSERT_TRUE(WaitServing(cf, port)) << "corefork not serving on " << port;

  std::map<int, pid_t> workers = CollectWorkers(port, 2);
  ASSERT_EQ(workers.size(), 2u) << "worker ids seen: " << workers.size();
  EXPECT_EQ(workers.count(0), 1u);
  EXPECT_EQ(workers.count(1), 1u);
  EXPECT_NE(workers[0], workers[1]) << "two worker ids, one pid";

  // The pids that answered are exactly corefork's children.
  std::vector<pid_t> children = WaitChildren(cf, 2);
  std::set<pid_t> answered{workers[0], workers[1]};
  EXPECT_EQ(std::set<pid_t>(children.begin(), children.end()), answered)
      << "children " << Str(children);

  // reuseport: one listening socket per slot; shared: one for everybody.
  size_t expected_sockets = GetParam() == "reuseport" ? 2 : 1;
  EXPECT_EQ(ListeningInodes(port).size(), expected_sockets)
      << "listening sockets on port " << port << " in mode " << GetParam();
}

TEST_P(ListenerModeTest, KilledWorkerIsReplacedInItsSlot) {
  int port = 0;
  Process& cf = StartHello(&port, 2);
  ASSERT_TRUE(WaitServing(cf, port));
  std::map<int, pid_t> before = CollectWorkers(port, 2);
  ASSERT_EQ(before.size(), 2u);

  ASSERT_EQ(kill(before[0], SIGKILL), 0);

  // Every request during the restart window succeeds; worker 1 keeps
  // answering with its old pid, and slot 0 comes back with a new pid.
  pid_t new_pid = -1;
  bool other_answered = false;
  int requests = 0, failures = 0;
  std::string last_failure;
  bool replaced = PollUntil(
      [&] {
        HttpResponse r = HttpGet("127.0.0.1", port, "/", milliseconds(3000));
        ++requests;
        auto h = ParseHello(r.body);
        if (r.status != 200 || !h) {
          ++failures;
          last_failure = r.ToString();
          return false;
        }
        if (h->worker == 1) {
          EXPECT_EQ(h->pid, before[1]) << "worker 1 restarted too";
          other_answered = true;
        } else if (h->worker == 0 && h->pid != before[0]) {
          new_pid = h->pid;
        } else if (h->worker == 0) {
          ADD_FAILURE() << "killed pid " << before[0] << " answered";
        }
        return new_pid > 0 && other_answered;
      },
      milliseconds(10000), milliseconds(5));
  EXPECT_TRUE(replaced) << "new_pid=" << new_pid
                        << " other_answered=" << other_answered;
  EXPECT_EQ(failures, 0) << failures << " of " << requests
                         << " requests failed during the restart, last: "
                         << last_failure;
  EXPECT_GT(new_pid, 0);
  EXPECT_EQ(ParentPid(new_pid), cf.pid()) << "new worker is not a child";
  EXPECT_TRUE(
      PollUntil([&] { return ProcessGone(before[0]); }, milliseconds(2000)))
      << "killed worker " << before[0] << " not reaped, state "
      << ProcState(before[0]);
  EXPECT_TRUE(cf.Running());
}

INSTANTIATE_TEST_SUITE_P(Modes, ListenerModeTest,
                         ::testing::Values("reuseport", "shared"),
                         [](const auto& info) { return info.param; });

class LauncherTest : public CoreforkTest {};

// reuseport keeps the slot's socket open while its worker restarts:
// connections made in that window wait in the backlog and are served by the
// next worker instead of being refused or reset.
TEST_F(LauncherTest, ConnectionsQueuedDuringRestartAreServed) {
  int port = 0;
  Process& cf = StartCoreforkOnFreePort(
      [&](int p) {
        std::string config = WriteConfig(
            "workers: 1\n"
            "listeners: [{name: http, host: 127.0.0.1, port: " +
            std::to_string(p) +
            ", mode: reuseport}]\n"
            "restart: {initial_delay: 1s, factor: 2, max_delay: 2s, "
            "reset_after: 1h}\n"
            "command: [" HELLO_BIN "]\n");
        return std::vector<std::string>{"--config", config};
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  std::map<int, pid_t> before = CollectWorkers(port, 1);
  ASSERT_EQ(before.size(), 1u);
  // The first failure is replaced at once; the second in a row (reset_after
  // 1h: no run is good enough) waits initial_delay, the window we want.
  // SIGUSR2 (hello does not handle it) ends the worker as a crash would; a
  // SIGKILL from outside would be replaced at once every time.
  ASSERT_EQ(kill(before[0], SIGUSR2), 0);
  pid_t old_pid = -1;
  ASSERT_TRUE(PollUntil(
      [&] {
        std::map<int, pid_t> now = CollectWorkers(port, 1, milliseconds(500));
        if (now.size() != 1 || now[0] == before[0]) return false;
        old_pid = now[0];
        return true;
      },
      milliseconds(5000)))
      << "no replacement after the first failure";

  ASSERT_EQ(kill(old_pid, SIGUSR2), 0);
  ASSERT_TRUE(
      PollUntil([&] { return ProcessGone(old_pid); }, milliseconds(3000)))
      << "corefork did not reap the killed worker";

  constexpr int kConnections = 10;
  std::vector<std::unique_ptr<HttpConnection>> conns;
  for (int i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<HttpConnection>();
    ASSERT_TRUE(c->Connect("127.0.0.1", port, milliseconds(1000)))
        << "connection " << i << " while the slot restarts: " << c->error();
    ASSERT_TRUE(c->SendGet("/")) << c->error();
    conns.push_back(std::move(c));
  }
  // Only meaningful if nobody was accepting while we queued them.
  std::vector<pid_t> live;
  for (pid_t c : ChildrenOf(cf.pid())) {
    if (!GoneOrZombie(c)) live.push_back(c);
  }
  EXPECT_TRUE(live.empty())
      << "a worker was already back (" << Str(live)
      << ") before the connections were queued: initial_delay 1s ignored?";

  std::set<pid_t> served_by;
  for (int i = 0; i < kConnections; ++i) {
    HttpResponse r = conns[i]->ReadResponse(milliseconds(5000));
    EXPECT_EQ(r.status, 200)
        << "queued connection " << i << ": " << r.ToString();
    if (auto h = ParseHello(r.body)) {
      EXPECT_NE(h->pid, old_pid);
      EXPECT_EQ(h->worker, 0);
      served_by.insert(h->pid);
    }
  }
  EXPECT_EQ(served_by.size(), 1u) << "expected one new worker";
}

// A worker whose child forks and exits leaves an orphan; corefork (child
// subreaper) must adopt and reap it.
TEST_F(LauncherTest, OrphanedGrandchildIsReaped) {
  int port = 0;
  const std::string pid_file = Path("gc.pid");
  const std::string script =
      "( sleep 0.3 & echo $! > " + pid_file + " ) ; exec " HELLO_BIN;
  Process& cf = StartCoreforkOnFreePort(
      [&](int p) {
        return std::vector<std::string>{
            "--workers",       "1",  "--host",  "127.0.0.1", "--port",
            std::to_string(p), "--", "/bin/sh", "-c",        script};
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  std::string content;
  ASSERT_TRUE(PollUntil(
      [&] {
        content = ReadFile(pid_file);
        return !content.empty() && content.back() == '\n';
      },
      milliseconds(5000)))
      << "grandchild pid file never written";
  const pid_t grandchild = std::atoi(content.c_str());
  ASSERT_GT(grandchild, 0);

  pid_t parent = ParentPid(grandchild);
  if (parent > 0 && ProcState(grandchild) != 'Z') {
    EXPECT_EQ(parent, cf.pid()) << "orphan not adopted by corefork "
                                   "(not a child subreaper?)";
  }
  // sleep 0.3 exits; it must not stay a zombie.
  EXPECT_TRUE(
      PollUntil([&] { return ProcessGone(grandchild); }, milliseconds(2300)))
      << "grandchild " << grandchild << " still there, state '"
      << ProcState(grandchild) << "', parent " << ParentPid(grandchild);
  EXPECT_EQ(HttpGet("127.0.0.1", port, "/").status, 200);
}

// The socket-activation contract, seen from inside a worker: a sh wrapper
// lists its own fds (to corefork's stdout, which the worker shares) and its
// environment, then execs hello keeping the same pid.
TEST_F(LauncherTest, WorkerEnvironmentAndFds) {
  int port = 0;
  const std::string dir = tmp_.path();
  // `ls DIR /dev/null` prints "DIR:" before the listing, so each worker's
  // block names its pid. No redirection in the shell itself: dash would keep
  // a saved copy of fd 1 open while ls runs.
  const std::string script =
      "ls /proc/$$/fd /dev/null; "
      "env > " +
      dir + "/env.tmp.$$ && mv " + dir + "/env.tmp.$$ " + dir +
      "/env.$COREFORK_WORKER_ID; exec " HELLO_BIN;
  Process& cf = StartCoreforkOnFreePort(
      [&](int p) {
        return std::vector<std::string>{
            "--workers",       "2",  "--host",  "127.0.0.1", "--port",
            std::to_string(p), "--", "/bin/sh", "-c",        script};
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  std::map<int, pid_t> workers = CollectWorkers(port, 2);
  ASSERT_EQ(workers.size(), 2u);
  const std::vector<unsigned long> listening = ListeningInodes(port);

  // Not `const auto& [id, pid]`: clang 14 cannot capture a structured
  // binding in the lambda below (C++20 P1091, clang 16+).
  for (const auto& worker : workers) {
    const int id = worker.first;
    const pid_t pid = worker.second;
    SCOPED_TRACE("worker " + std::to_string(id) + " pid " +
                 std::to_string(pid));
    std::string env_text;
    ASSERT_TRUE(PollUntil(
        [&] {
          env_text = ReadFile(dir + "/env." + std::to_string(id));
          return !env_text.empty();
        },
        milliseconds(2000)));
    std::map<std::string, std::string> env;
    std::istringstream lines(env_text);
    std::string line;
    while (std::getline(lines, line)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos)
        env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    EXPECT_EQ(env["LISTEN_PID"], std::to_string(pid));
    EXPECT_EQ(env["LISTEN_FDS"], "1");
    EXPECT_EQ(env["LISTEN_FDNAMES"], "http");
    EXPECT_EQ(env["COREFORK_WORKER_ID"], std::to_string(id));
    EXPECT_EQ(env["COREFORK_WORKERS"], "2");
    EXPECT_EQ(env["PORT"], std::to_string(port));

    // fds of the shell (same pid as hello now): exactly 0, 1, 2, 3.
    std::string out = cf.Stdout();
    std::string header = "/proc/" + std::to_string(pid) + "/fd:\n";
    size_t at = out.find(header);
    ASSERT_NE(at, std::string::npos) << "no fd listing in stdout:\n" << out;
    std::istringstream listing(out.substr(at + header.size()));
    std::set<std::string> fds;
    // The block ends at the first line that is not an fd number.
    while (std::getline(listing, line) && !line.empty() &&
           line.find_first_not_of("0123456789") == std::string::npos) {
      fds.insert(line);
    }
    // 0-2, the listener, and the notify fd when the worker contract
    // advertises one (architecture: COREFORK_NOTIFY_FD); nothing else.
    std::set<std::string> expected{"0", "1", "2", "3"};
    if (env.count("COREFORK_NOTIFY_FD")) {
      EXPECT_FALSE(expected.count(env["COREFORK_NOTIFY_FD"]))
          << "COREFORK_NOTIFY_FD=" << env["COREFORK_NOTIFY_FD"];
      expected.insert(env["COREFORK_NOTIFY_FD"]);
    }
    EXPECT_EQ(fds, expected) << "fd listing:\n" << out.substr(at);

    // fd 3 is a socket listening on the port.
    char target[256] = {};
    std::string link = "/proc/" + std::to_string(pid) + "/fd/3";
    ASSERT_GT(readlink(link.c_str(), target, sizeof target - 1), 0) << link;
    unsigned long inode = 0;
    ASSERT_EQ(std::sscanf(target, "socket:[%lu]", &inode), 1) << target;
    EXPECT_NE(std::find(listening.begin(), listening.end(), inode),
              listening.end())
        << "fd 3 (" << target << ") is not listening on port " << port;
  }
}

// Port taken by someone else (no SO_REUSEPORT): startup fails with exit 3 and
// says which address.
TEST_F(LauncherTest, PortInUseExits3) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  for (const std::string mode : {"reuseport", "shared"}) {
    SCOPED_TRACE("mode " + mode);
    std::string config =
        WriteConfig(SharedConfig(port, 2, mode), "config-" + mode + ".yaml");
    Process& cf = StartCorefork({"--config", config});
    std::optional<int> code = cf.WaitExit(milliseconds(5000));
    ASSERT_TRUE(code.has_value())
        << "still running with port " << port << " taken";
    EXPECT_EQ(*code, 3) << cf.Stderr();
    EXPECT_TRUE(ContainsNoCase(cf.Stderr(), std::to_string(port)))
        << "stderr does not name the port:\n"
        << cf.Stderr();
    EXPECT_TRUE(ContainsNoCase(cf.Stderr(), "in use"))
        << "stderr does not say why:\n"
        << cf.Stderr();
  }
  close(fd);
}

}  // namespace
}  // namespace corefork::harness
