// Whole-binary tests of steering (net/steering.h, docs/architecture.md):
// a line from a chosen loopback source port reaches that slot's worker;
// new connections avoid a slot whose worker is dead or still starting;
// scaling down under load drops nothing; `steering.mode: off` leaves the
// choice to the kernel.
#include "net/steering.h"

#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "support/admin_fixture.h"
#include "support/http.h"
#include "support/load.h"
#include "support/proc.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

size_t LiveChildren(pid_t parent) {
  size_t n = 0;
  for (pid_t c : ChildrenOf(parent)) n += GoneOrZombie(c) ? 0 : 1;
  return n;
}

class SteeringTest : public AdminTest {
 protected:
  // Line ports of our own, so tests running side by side do not share them.
  int line_base() const { return 21000 + (getpid() % 600) * 16; }
  std::string SteeringYaml(const std::string& mode = "auto") const {
    return "steering: {mode: " + mode +
           ", line_ports: " + std::to_string(line_base()) + "}\n";
  }

  // GET / through a line to `slot` of `group` slots: hello answers with
  // its worker id.
  std::string GetThroughLine(int slot, int group, int turn) {
    LinePorts lines{static_cast<uint16_t>(line_base()), 4};
    Result<Fd> fd = ConnectLine(false, app_port(), lines, slot, group, turn);
    if (!fd.ok()) return fd.status().message();
    const std::string request =
        "GET / HTTP/1.0\r\nHost: t\r\nConnection: close\r\n\r\n";
    pollfd p{fd->get(), POLLOUT, 0};
    if (poll(&p, 1, 2000) != 1) return "connect timed out";
    if (send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return "send failed";
    }
    std::string raw;
    char buf[4096];
    const auto deadline = steady_clock::now() + milliseconds(3000);
    for (;;) {
      p = {fd->get(), POLLIN, 0};
      const auto left = std::chrono::duration_cast<milliseconds>(
          deadline - steady_clock::now());
      if (left.count() <= 0 || poll(&p, 1, left.count()) != 1) break;
      ssize_t n = recv(fd->get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      raw.append(buf, n);
    }
    const size_t body = raw.find("\r\n\r\n");
    return body == std::string::npos ? raw : raw.substr(body + 4);
  }
};

TEST_F(SteeringTest, ALineReachesTheWorkerOfItsSlot) {
  constexpr int kWorkers = 3;
  Process& cf = StartWith(SteeringYaml(), kWorkers, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, kWorkers, milliseconds(10000), &st)) << st.raw;
  for (int turn = 0; turn < 3; ++turn) {
    for (int slot = 0; slot < kWorkers; ++slot) {
      EXPECT_NE(GetThroughLine(slot, kWorkers, turn)
                    .find("\"worker\":" + std::to_string(slot) + ","),
                std::string::npos)
          << "slot " << slot << " turn " << turn;
    }
  }
  EXPECT_NE(cf.Stderr().find("steering: new connections go to ready workers"),
            std::string::npos)
      << cf.Stderr();
}

// Worker 1 is killed and its replacement takes 1.5 s to become ready: in
// the meantime every new connection goes to worker 0 and is answered at
// once. Under the kernel's hash about half would wait for the replacement.
TEST_F(SteeringTest, NewConnectionsAvoidASlotWhoseWorkerIsNotReady) {
  const std::string marker = Path("slow");
  Process& cf =
      StartWith(SteeringYaml() + "ready: {mode: notify, timeout: 10s}\n", 2,
                Sh("[ -e " + marker + " ] && sleep 1.5; exec " HELLO_BIN));
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << st.raw;
  const pid_t victim = st.Slot(1).at(0).pid;
  std::ofstream(marker) << "";
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        return !s.Slot(1).empty() && s.Slot(1)[0].pid != victim &&
               s.Slot(1)[0].pid > 0;
      },
      milliseconds(5000), &st))
      << st.raw;
  int answered = 0;
  milliseconds slowest{0};
  for (int i = 0; i < 20; ++i) {
    const auto start = steady_clock::now();
    HttpResponse r = HttpGet("127.0.0.1", app_port(), "/", milliseconds(5000));
    slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(
                                    steady_clock::now() - start));
    if (r.status == 200) {
      ++answered;
      EXPECT_NE(r.body.find("\"worker\":0,"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(answered, 20);
  EXPECT_LT(slowest, milliseconds(1000))
      << "a connection waited for the starting worker";
  // And once it is ready, slot 1 serves again.
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << st.raw;
  EXPECT_NE(GetThroughLine(1, 2, 0).find("\"worker\":1,"), std::string::npos);
}

// Scale 4 -> 1 -> 4, three times, under 2 keep-alive and 2 fresh-connection
// client threads: no request fails (a slot is steered away and its queue
// empties before its worker stops and its socket closes).
TEST_F(SteeringTest, ScalingDownAndUpUnderLoadFailsNoRequest) {
  Process& cf =
      StartWith(SteeringYaml() + "shutdown: {drain_delay: 0s, timeout: 10s}\n",
                4, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 4, milliseconds(10000), &st)) << st.raw;
  LoadOptions options;
  options.port = app_port();
  options.max_duration = milliseconds(60000);
  LoadGenerator load(options);
  load.Start();
  ASSERT_TRUE(
      PollUntil([&] { return load.Snapshot().ok >= 500; }, milliseconds(10000)))
      << load.Snapshot().Summary();
  for (int cycle = 0; cycle < 3; ++cycle) {
    for (int workers : {1, 4}) {
      SCOPED_TRACE("cycle " + std::to_string(cycle) + " to " +
                   std::to_string(workers));
      UnixHttpResponse r =
          Control("POST", "/scale?workers=" + std::to_string(workers));
      ASSERT_EQ(r.status, 200) << r.body;
      ASSERT_TRUE(WaitStatus(
          [&](const CoreforkStatus& s) {
            return s.AllReady(workers) &&
                   static_cast<int>(LiveChildren(cf.pid())) == workers;
          },
          milliseconds(15000), &st))
          << st.raw;
      const uint64_t ok = load.Snapshot().ok;
      ASSERT_TRUE(PollUntil([&] { return load.Snapshot().ok >= ok + 300; },
                            milliseconds(10000)));
    }
  }
  LoadStats total = load.Stop();
  std::cout << "[ figures  ] scale 4->1->4 x3 under load with steering: "
            << total.Summary() << "\n";
  EXPECT_EQ(total.failed, 0u) << total.Summary();
  EXPECT_TRUE(cf.Running());
}

TEST_F(SteeringTest, OffLeavesTheChoiceToTheKernel) {
  Process& cf = StartWith(SteeringYaml("off"), 2, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << st.raw;
  HttpResponse r = HttpGet("127.0.0.1", app_port(), "/", milliseconds(5000));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(cf.Stderr().find("steering: new connections"), std::string::npos)
      << cf.Stderr();
}

}  // namespace
}  // namespace corefork::harness
