// corefork as PID 1 of a fresh pid namespace (what it is in a container):
// serves, reaps orphans (every orphan in the namespace comes to it), and
// shuts down cleanly on SIGTERM. Needs root and util-linux unshare; skipped
// when unshare cannot make the namespace.
#include <signal.h>

#include <string>

#include "support/harness.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class Pid1Test : public CoreforkTest {
 protected:
  void SetUp() override {
    CoreforkTest::SetUp();
    Process probe({"unshare", "--pid", "--fork", "--mount-proc", "/bin/true"});
    std::optional<int> code = probe.WaitExit(milliseconds(5000));
    if (!probe.ok() || code != std::optional<int>(0)) {
      GTEST_SKIP() << "unshare --pid --fork --mount-proc does not work here: "
                   << probe.error() << probe.Stderr();
    }
  }

  // Starts `unshare ... corefork args_for(port)` on a free port (*port,
  // SpawnOnFreePort) and returns corefork's host pid (the child of unshare
  // that is pid 1 in its namespace), or -1.
  pid_t StartAsPid1(const ArgvForPort& args_for, int* port) {
    unshare_ = &SpawnOnFreePort(
        [&](int p) {
          std::vector<std::string> argv{"unshare", "--pid", "--fork",
                                        "--mount-proc", COREFORK_BIN};
          const std::vector<std::string> args = args_for(p);
          argv.insert(argv.end(), args.begin(), args.end());
          return argv;
        },
        {}, port);
    pid_t found = -1;
    PollUntil(
        [&] {
          for (pid_t c : ChildrenOf(unshare_->pid())) {
            if (InnermostPid(c) == 1) found = c;
          }
          return found > 0;
        },
        milliseconds(5000));
    return found;
  }

  Process* unshare_ = nullptr;
};

TEST_F(Pid1Test, ServesReapsAndExits0OnSigterm) {
  int port = 0;
  const std::string pid_file = Path("gc.pid");
  const std::string script =
      "( sleep 0.2 & echo $! > " + pid_file + " ) ; exec " HELLO_BIN;
  pid_t cf = StartAsPid1(
      [&](int p) {
        return std::vector<std::string>{"--workers",
                                        "2",
                                        "--host",
                                        "127.0.0.1",
                                        "--port",
                                        std::to_string(p),
                                        "--drain-delay",
                                        "100ms",
                                        "--shutdown-timeout",
                                        "5s",
                                        "--",
                                        "/bin/sh",
                                        "-c",
                                        script};
      },
      &port);
  ASSERT_GT(cf, 0) << "no pid-1 child of unshare";
  ASSERT_TRUE(WaitServing(*unshare_, port));

  std::map<int, pid_t> workers = CollectWorkers(port, 2);
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_NE(workers[0], workers[1]);
  // Each worker orphaned a `sleep 0.2`; as PID 1 corefork inherits and must
  // reap them: once they exit, no zombie is left among its children.
  ASSERT_TRUE(
      PollUntil([&] { return FileExists(pid_file); }, milliseconds(3000)));
  bool clean = PollUntil(
      [&] {
        std::vector<pid_t> children = ChildrenOf(cf);
        for (pid_t c : children) {
          if (ProcState(c) == 'Z') return false;
          if (ReadFile("/proc/" + std::to_string(c) + "/comm") == "sleep\n") {
            return false;
          }
        }
        return children.size() == 2;
      },
      milliseconds(2500));
  std::string states;
  for (pid_t c : ChildrenOf(cf)) {
    states += std::to_string(c) + ":" + ProcState(c) + " ";
  }
  EXPECT_TRUE(clean) << "children of pid 1: " << states;
  std::vector<pid_t> host_workers = ChildrenOf(cf);
  EXPECT_EQ(host_workers.size(), 2u) << Str(host_workers);

  ASSERT_EQ(kill(cf, SIGTERM), 0);
  std::optional<int> code = unshare_->WaitExit(milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "corefork (pid 1) did not exit on SIGTERM";
  EXPECT_EQ(*code, 0) << "exit status of corefork as pid 1 (via unshare)";
  for (pid_t w : host_workers) {
    EXPECT_TRUE(PollUntil([&] { return ProcessGone(w); }, milliseconds(2000)))
        << "worker " << w << " state " << ProcState(w);
  }
}

// A daemon that left its worker's process group (setsid) is out of reach of
// the group kill; as PID 1 corefork ends it before it exits, politely first.
TEST_F(Pid1Test, EndsProcessesThatLeftTheirGroup) {
  int port = 0;
  const std::string got_term = Path("daemon.term");
  // The daemon notes a polite SIGTERM (the kernel's SIGKILL at PID 1's exit
  // would give it no chance to); $0 = "daemon-4242" finds it from outside.
  const std::string script = "setsid sh -c 'trap \"echo term > " + got_term +
                             "; exit 0\" TERM; while :; do sleep 0.1; done' "
                             "daemon-4242 & exec " HELLO_BIN;
  pid_t cf = StartAsPid1(
      [&](int p) {
        return std::vector<std::string>{"--workers",
                                        "1",
                                        "--host",
                                        "127.0.0.1",
                                        "--port",
                                        std::to_string(p),
                                        "--drain-delay",
                                        "50ms",
                                        "--shutdown-timeout",
                                        "3s",
                                        "--",
                                        "/bin/sh",
                                        "-c",
                                        script};
      },
      &port);
  ASSERT_GT(cf, 0) << "no pid-1 child of unshare";
  ASSERT_TRUE(WaitServing(*unshare_, port));
  pid_t daemon = -1;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (pid_t p : DescendantsOf(cf)) {
          std::optional<std::string> cmd =
              TryReadFile("/proc/" + std::to_string(p) + "/cmdline");
          if (cmd && cmd->find("daemon-4242") != std::string::npos &&
              cmd->starts_with(std::string("sh\0-c", 5))) {
            daemon = p;
          }
        }
        return daemon > 0;
      },
      milliseconds(3000)))
      << "the setsid daemon never showed up";
  ASSERT_EQ(kill(cf, SIGTERM), 0);
  std::optional<int> code = unshare_->WaitExit(milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "corefork (pid 1) did not exit";
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(
      PollUntil([&] { return ProcessGone(daemon); }, milliseconds(2000)))
      << "daemon " << daemon << " outlived corefork";
  EXPECT_TRUE(FileExists(got_term)) << "the daemon got no SIGTERM first";
  EXPECT_NE(unshare_->Stderr().find("sent SIGTERM to every remaining process"),
            std::string::npos)
      << unshare_->Stderr();
}

}  // namespace
}  // namespace corefork::harness
