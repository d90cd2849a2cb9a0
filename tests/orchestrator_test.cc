// Whole-binary tests of what corefork tells an orchestrator: readiness that
// follows the workers' READY=1 (NOTIFY_SOCKET datagrams and
// COREFORK_NOTIFY_FD lines), SIGTERM turning /readyz 503 at once while the
// app keeps serving, a killed worker lowering the ready count, ready.timeout,
// the watchdog, scaling by signal and by control socket (and the socket's
// permissions), and an admin port that idle clients cannot block.
// docs/endpoints.md, docs/signals.md, docs/metrics.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "support/admin_fixture.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

// A sh loop that waits until `file` exists (bounded: 60 s).
std::string WaitForFile(const std::string& file) {
  return "i=0; while [ ! -e " + file +
         " ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done; ";
}

bool PerlHasSocket() {
  Process probe({"/bin/sh", "-c", "perl -MSocket -e 1"});
  return probe.ok() && probe.WaitExit(milliseconds(5000)) == 0;
}

std::string Describe(const CoreforkStatus& st) { return st.raw; }

class OrchestratorTest : public AdminTest {};

// ---- readiness follows READY=1 ---------------------------------------------
// How the worker says READY=1.
enum class NotifyWay {
  kSocket,          // examples/hello on NOTIFY_SOCKET only
  kFd,              // sh writes the line to COREFORK_NOTIFY_FD
  kSocketOtherPgrp  // a child in its own session sends on NOTIFY_SOCKET
};

std::string WayName(NotifyWay way) {
  switch (way) {
    case NotifyWay::kSocket:
      return "NotifySocket";
    case NotifyWay::kFd:
      return "NotifyFd";
    case NotifyWay::kSocketOtherPgrp:
      return "NotifySocketFromChildInOwnSession";
  }
  return "?";
}

void PrintTo(NotifyWay way, std::ostream* os) { *os << WayName(way); }

class ReadinessTest : public AdminTest,
                      public ::testing::WithParamInterface<NotifyWay> {};

// Not ready until each worker said READY=1: /readyz 503 and /status
// "starting" while the workers run without having said it, ready_workers
// counting up one by one, 200 once all did (ready.min_workers 100%).
TEST_P(ReadinessTest, NotReadyUntilEachWorkerSaysReady) {
  const std::string gate = Path("gate.$COREFORK_WORKER_ID");
  std::string say;
  switch (GetParam()) {
    case NotifyWay::kSocket:
      // hello sends READY=1 on NOTIFY_SOCKET (and on the fd, unset here).
      say = "unset COREFORK_NOTIFY_FD; ";
      break;
    case NotifyWay::kFd:
      say =
          "echo READY=1 >&$COREFORK_NOTIFY_FD; "
          "unset NOTIFY_SOCKET COREFORK_NOTIFY_FD; ";
      break;
    case NotifyWay::kSocketOtherPgrp:
      if (!PerlHasSocket()) GTEST_SKIP() << "perl with Socket is not installed";
      // A grandchild of corefork in its own session and process group says
      // READY=1 for the worker (SCM_CREDENTIALS names the grandchild); it
      // stays alive so corefork can look up its parent.
      say =
          "setsid perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or "
          "die \"socket: $!\"; my $p = $ENV{NOTIFY_SOCKET}; $p =~ s/^@/\\0/; "
          "send($s, \"READY=1\", 0, pack_sockaddr_un($p)) or die \"send: $!\"; "
          "sleep 60' & "
          "unset NOTIFY_SOCKET COREFORK_NOTIFY_FD; ";
      break;
  }
  Process& cf = StartWith(
      "ready: {mode: notify, timeout: 60s, min_workers: 100%}\n"
      "shutdown: {drain_delay: 0s, timeout: 5s}\n",
      2, Sh(WaitForFile(gate) + say + "exec " + HELLO_BIN));

  // Both workers run, neither has said READY=1.
  CoreforkStatus st;
  ASSERT_TRUE(WaitStatus(
      [](const CoreforkStatus& s) {
        return s.slots.size() == 2 && s.slots[0].pid > 0 && s.slots[1].pid > 0;
      },
      milliseconds(5000), &st))
      << Describe(st);
  for (int check = 0; check < 5; ++check) {
    st = Status();
    ASSERT_EQ(st.slots.size(), 2u) << Describe(st);
    for (const SlotStatus& s : st.slots) {
      EXPECT_EQ(s.state, "starting") << Describe(st);
      EXPECT_FALSE(s.ready) << Describe(st);
    }
    ReadyzAnswer r = Readyz();
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.ready_workers, 0) << r.body;
    EXPECT_FALSE(r.reason.empty()) << r.body;
    EXPECT_EQ(Metric("corefork_workers", {{"state", "starting"}}, -1), 2);
    EXPECT_EQ(Metric("corefork_ready", {}, -1), 0);
  }

  // Worker 0 says READY=1: it alone is ready, the pod still is not.
  Touch("gate.0");
  ASSERT_TRUE(WaitStatus(
      [](const CoreforkStatus& s) {
        return s.slots.size() == 2 && s.slots[0].state == "ready";
      },
      milliseconds(5000), &st))
      << Describe(st);
  EXPECT_EQ(st.slots[1].state, "starting") << Describe(st);
  EXPECT_EQ(st.ready_workers, 1) << Describe(st);
  ReadyzAnswer half = Readyz();
  EXPECT_EQ(half.status, 503) << half.body;
  EXPECT_EQ(half.ready_workers, 1) << half.body;

  // Worker 1 too: 200.
  Touch("gate.1");
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(5000), &st)) << Describe(st);
  ReadyzAnswer ready = Readyz();
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.ready_workers, 2) << ready.body;
  EXPECT_EQ(Metric("corefork_ready", {}, -1), 1);
  EXPECT_EQ(Metric("corefork_worker_ready_seconds_count", {}, -1), 2);
  // And it is a real app that serves.
  HttpResponse app = HttpGet("127.0.0.1", app_port(), "/", milliseconds(3000));
  EXPECT_EQ(app.status, 200) << app.ToString();
}

INSTANTIATE_TEST_SUITE_P(Ways, ReadinessTest,
                         ::testing::Values(NotifyWay::kSocket, NotifyWay::kFd,
                                           NotifyWay::kSocketOtherPgrp),
                         [](const auto& info) { return WayName(info.param); });

// SIGTERM: /readyz says 503 "draining" at once (within 200 ms), while the
// app keeps answering during the drain delay; then a clean exit.
TEST_F(OrchestratorTest, SigtermMakesReadyz503AtOnceWhileAppStillServes) {
  Process& cf = StartWith(
      "ready: {mode: notify}\nshutdown: {drain_delay: 2s, timeout: 5s}\n", 2,
      {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << Describe(st);
  ASSERT_EQ(Readyz().status, 200);

  const auto sigterm_at = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  ReadyzAnswer r;
  bool turned = PollUntil(
      [&] {
        r = Readyz();
        return r.status == 503;
      },
      milliseconds(200), milliseconds(2));
  const auto took =
      std::chrono::duration_cast<milliseconds>(Clock::now() - sigterm_at);
  ASSERT_TRUE(turned) << "/readyz still " << r.status << " " << r.body
                      << " 200 ms after SIGTERM";
  EXPECT_EQ(r.reason, "draining") << r.body;
  std::cout << "[ figures  ] /readyz 503 " << took.count()
            << " ms after SIGTERM\n";
  RecordProperty("readyz_503_after_sigterm_ms", std::to_string(took.count()));

  // The drain delay: the app still answers, corefork still says why.
  for (int i = 0; i < 10; ++i) {
    HttpResponse app =
        HttpGet("127.0.0.1", app_port(), "/", milliseconds(1000));
    EXPECT_EQ(app.status, 200)
        << "request " << i << " during the drain: " << app.ToString();
  }
  EXPECT_LT(Clock::now() - sigterm_at, milliseconds(1800))
      << "the requests above were not all made within the drain delay";
  EXPECT_EQ(Admin("/livez").status, 200) << "liveness must not follow draining";
  PromScrape during = Scrape();
  EXPECT_EQ(MetricOr(during, "corefork_draining", {}, -1), 1);
  EXPECT_EQ(MetricOr(during, "corefork_ready", {}, -1), 0);
  CoreforkStatus draining = Status();
  EXPECT_TRUE(draining.draining) << Describe(draining);

  std::optional<int> code = cf.WaitExit(milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "corefork did not exit after the drain";
  EXPECT_EQ(*code, 0);
  EXPECT_GE(Clock::now() - sigterm_at, milliseconds(2000))
      << "exited before the drain delay was over";
}

// kill -9 of one worker: the ready count drops (and /readyz with
// min_workers 100% says 503) until its replacement says READY=1. One shared
// listening socket, so the other worker takes every connection meanwhile
// (with reuseport, connections hashed to the dead worker's slot wait in
// that slot's backlog until its replacement accepts).
TEST_F(OrchestratorTest, KilledWorkerLowersReadyCountUntilReplacementIsReady) {
  const std::string script = "if [ -e " + Path("hold") + " ]; then " +
                             WaitForFile(Path("release")) + "fi; " +
                             "unset COREFORK_NOTIFY_FD; exec " + HELLO_BIN;
  Process& cf = StartWith(
      "ready: {mode: notify, timeout: 60s, min_workers: 100%}\n"
      "restart: {initial_delay: 50ms, max_failures: 0}\n"
      "listeners: [{name: http, mode: shared}]\n"
      "shutdown: {drain_delay: 0s, timeout: 5s}\n",
      2, Sh(script));
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << Describe(st);
  const pid_t victim = st.slots[0].pid;
  const pid_t other = st.slots[1].pid;

  Touch("hold");  // the replacement will wait
  ASSERT_EQ(kill(victim, SIGKILL), 0);

  ReadyzAnswer r;
  ASSERT_TRUE(PollUntil(
      [&] {
        r = Readyz();
        return r.ready_workers == 1;
      },
      milliseconds(3000)))
      << "ready count did not drop: " << r.status << " " << r.body;
  EXPECT_EQ(r.status, 503) << r.body;
  // The replacement runs but is not ready.
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        return s.slots.size() == 2 && s.slots[0].pid > 0 &&
               s.slots[0].pid != victim;
      },
      milliseconds(5000), &st))
      << Describe(st);
  EXPECT_EQ(st.slots[0].state, "starting") << Describe(st);
  EXPECT_EQ(st.slots[1].pid, other) << Describe(st);
  EXPECT_EQ(st.ready_workers, 1) << Describe(st);
  EXPECT_EQ(st.slots[0].restarts, 1) << Describe(st);
  EXPECT_EQ(Metric("corefork_workers", {{"state", "ready"}}, -1), 1);
  EXPECT_EQ(Readyz().status, 503);
  // The other worker keeps serving meanwhile.
  for (int i = 0; i < 5; ++i) {
    HttpResponse app =
        HttpGet("127.0.0.1", app_port(), "/", milliseconds(3000));
    EXPECT_EQ(app.status, 200) << app.ToString();
    std::optional<HelloReply> hello = ParseHello(app.body);
    EXPECT_TRUE(hello && hello->pid == other) << app.body;
  }

  Touch("release");
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(5000), &st)) << Describe(st);
  r = Readyz();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.ready_workers, 2) << r.body;
  EXPECT_EQ(st.slots[1].pid, other) << Describe(st);
}

// ready.timeout: a worker that never says READY=1 is killed and restarted,
// counted as ready_timeout.
TEST_F(OrchestratorTest, ReadyTimeoutKillsAndRestartsTheWorker) {
  Process& cf = StartWith(
      "ready: {mode: notify, timeout: 500ms}\n"
      "restart: {initial_delay: 50ms, max_failures: 0}\n"
      "shutdown: {drain_delay: 0s, timeout: 2s}\n",
      1, Sh("exec sleep 60"));
  CoreforkStatus st;
  ASSERT_TRUE(WaitStatus(
      [](const CoreforkStatus& s) {
        return s.slots.size() == 1 && s.slots[0].pid > 0;
      },
      milliseconds(5000), &st))
      << Describe(st);
  const pid_t first = st.slots[0].pid;
  // When the worker started, by corefork's own account.
  const auto started_at =
      Clock::now() -
      std::chrono::duration_cast<milliseconds>(
          std::chrono::duration<double>(st.slots[0].uptime_seconds));
  EXPECT_EQ(st.slots[0].state, "starting") << Describe(st);
  EXPECT_EQ(Metric("corefork_worker_restarts_total",
                   {{"reason", "ready_timeout"}}, -1),
            0)
      << "ready_timeout must be exported at 0 from the start";

  PromScrape m;
  ASSERT_TRUE(WaitMetrics(
      [](const PromScrape& s) {
        return MetricOr(s, "corefork_worker_restarts_total",
                        {{"reason", "ready_timeout"}}) >= 1;
      },
      milliseconds(5000), &m))
      << "no ready_timeout restart";
  EXPECT_GE(Clock::now() - started_at, milliseconds(450))
      << "killed before ready.timeout (500ms) was over";
  EXPECT_GE(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "killed"}, {"code_or_signal", "SIGKILL"}}),
            1);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "crash"}}), 0)
      << "a ready timeout is not a crash";
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(first); }, milliseconds(3000)))
      << "the worker that missed ready.timeout is still there";
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        return s.slots.size() == 1 && s.slots[0].pid > 0 &&
               s.slots[0].pid != first;
      },
      milliseconds(5000), &st))
      << "the slot did not come back: " << Describe(st);
  EXPECT_EQ(Readyz().status, 503);
  EXPECT_TRUE(cf.Running());
}

// Watchdog: a worker that stops sending WATCHDOG=1 gets SIGABRT and, if it
// survives that, SIGKILL after watchdog.grace; the slot comes back with a new
// pid (restart reason watchdog) while a worker that keeps heartbeating stays.
TEST_F(OrchestratorTest, WatchdogAbortsAHungWorkerAndTheSlotComesBack) {
  const std::string dir = tmp_.path();
  const std::string script =
      "ulimit -c 0; "
      "echo \"$WATCHDOG_USEC $COREFORK_CONTROL_SOCKET\" > " +
      dir +
      "/env.$COREFORK_WORKER_ID; "
      "echo READY=1 >&$COREFORK_NOTIFY_FD; "
      "i=0; while [ ! -e " +
      dir +
      "/hang.$$ ] && [ $i -lt 600 ]; do "
      "echo WATCHDOG=1 >&$COREFORK_NOTIFY_FD; sleep 0.1; i=$((i+1)); done; "
      "if [ \"$(cat " +
      dir +
      "/hang.$$)\" = ignore ]; then trap '' ABRT; fi; "
      "exec sleep 60";
  Process& cf = StartWith(
      "ready: {mode: notify, timeout: 10s}\n"
      "watchdog: {timeout: 1s, grace: 500ms}\n"
      "restart: {initial_delay: 50ms, max_failures: 0}\n"
      "shutdown: {drain_delay: 0s, timeout: 2s}\n",
      2, Sh(script));
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << Describe(st);
  const pid_t hung = st.slots[0].pid;
  const pid_t alive = st.slots[1].pid;
  ASSERT_TRUE(PollUntil([&] { return FileExists(dir + "/env.0"); },
                        milliseconds(3000)));
  EXPECT_EQ(ReadFile(dir + "/env.0"), "1000000 " + ControlSocket() + "\n")
      << "WATCHDOG_USEC (1s) and COREFORK_CONTROL_SOCKET as the worker saw "
         "them";

  // Worker 0 stops heartbeating and dies of the SIGABRT.
  ASSERT_TRUE(WriteFile(dir + "/hang." + std::to_string(hung), "abrt"));
  PromScrape m;
  ASSERT_TRUE(WaitMetrics(
      [](const PromScrape& s) {
        return MetricOr(s, "corefork_worker_restarts_total",
                        {{"reason", "watchdog"}}) >= 1;
      },
      milliseconds(6000), &m))
      << "no watchdog restart";
  EXPECT_EQ(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "killed"}, {"code_or_signal", "SIGABRT"}}),
            1);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "crash"}}), 0);
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        return s.AllReady(2) && s.slots[0].pid != hung;
      },
      milliseconds(5000), &st))
      << "slot 0 did not come back: " << Describe(st);
  EXPECT_EQ(st.slots[0].restarts, 1) << Describe(st);
  EXPECT_EQ(st.slots[1].pid, alive)
      << "a worker that kept sending WATCHDOG=1 was restarted: "
      << Describe(st);
  EXPECT_TRUE(ProcessGone(hung));

  // Worker 1 stops too but ignores SIGABRT: SIGKILL after the grace.
  ASSERT_TRUE(WriteFile(dir + "/hang." + std::to_string(alive), "ignore"));
  ASSERT_TRUE(WaitMetrics(
      [](const PromScrape& s) {
        return MetricOr(s, "corefork_worker_restarts_total",
                        {{"reason", "watchdog"}}) >= 2;
      },
      milliseconds(8000), &m))
      << "no second watchdog restart";
  EXPECT_EQ(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "killed"}, {"code_or_signal", "SIGKILL"}}),
            1)
      << "a worker that ignores SIGABRT must get SIGKILL after watchdog.grace";
  EXPECT_EQ(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "killed"}, {"code_or_signal", "SIGABRT"}}),
            1);
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        return s.AllReady(2) && s.slots[1].pid != alive;
      },
      milliseconds(5000), &st))
      << "slot 1 did not come back: " << Describe(st);
  EXPECT_TRUE(cf.Running());
}

// ---- scaling ---------------------------------------------------------------
std::set<pid_t> LivePids(const std::vector<pid_t>& pids) {
  std::set<pid_t> out;
  for (pid_t p : pids) {
    if (!GoneOrZombie(p)) out.insert(p);
  }
  return out;
}

TEST_F(OrchestratorTest, ScaleBySignalsAndControlSocket) {
  Process& cf = StartWith(
      "ready: {mode: notify}\nshutdown: {drain_delay: 0s, timeout: 5s}\n", 2,
      {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << Describe(st);
  const pid_t w0 = st.slots[0].pid, w1 = st.slots[1].pid;

  // SIGTTIN: one more.
  ASSERT_TRUE(cf.Signal(SIGTTIN));
  ASSERT_TRUE(WaitAllReady(cf, 3, milliseconds(5000), &st)) << Describe(st);
  EXPECT_EQ(st.slots[0].pid, w0);
  EXPECT_EQ(st.slots[1].pid, w1);
  const pid_t w2 = st.slots[2].pid;
  EXPECT_EQ(LivePids({w0, w1, w2}).size(), 3u);
  EXPECT_EQ(WaitChildren(cf, 3).size(), 3u);
  EXPECT_EQ(Metric("corefork_workers_desired", {}, -1), 3);

  // SIGTTOU: the highest slot goes.
  ASSERT_TRUE(cf.Signal(SIGTTOU));
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(5000), &st)) << Describe(st);
  EXPECT_EQ(st.slots[0].pid, w0);
  EXPECT_EQ(st.slots[1].pid, w1);
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(w2); }, milliseconds(5000)))
      << "slot 2's worker " << w2 << " is still there";

  // POST /scale with a JSON body.
  UnixHttpResponse up = Control("POST", "/scale", R"({"workers":4})");
  EXPECT_EQ(up.status, 200) << up.ToString();
  ASSERT_TRUE(WaitAllReady(cf, 4, milliseconds(5000), &st)) << Describe(st);
  EXPECT_EQ(st.slots[0].pid, w0);
  EXPECT_EQ(st.slots[1].pid, w1);
  std::vector<pid_t> four = st.Pids();
  EXPECT_EQ(LivePids(four).size(), 4u) << Str(four);
  EXPECT_EQ(Metric("corefork_workers_desired", {}, -1), 4);
  // Slot 2 ran before (until the SIGTTOU): starting it again for a scale-up
  // is no crash, and no restart of a running worker.
  EXPECT_EQ(Metric("corefork_worker_restarts_total", {{"reason", "crash"}}, -1),
            0)
      << "scaling up into a slot used before counts as a crash restart";
  EXPECT_EQ(st.slots[2].restarts, 0)
      << "slot 2 re-created by a scale-up reports restarts: " << st.raw;

  // POST /scale?workers=1: slots 1..3 stop gracefully, slot 0 stays.
  UnixHttpResponse down = Control("POST", "/scale?workers=1");
  EXPECT_EQ(down.status, 200) << down.ToString();
  ASSERT_TRUE(WaitAllReady(cf, 1, milliseconds(5000), &st)) << Describe(st);
  EXPECT_EQ(st.slots[0].pid, w0);
  EXPECT_TRUE(PollUntil(
      [&] {
        return ProcessGone(four[1]) && ProcessGone(four[2]) &&
               ProcessGone(four[3]);
      },
      milliseconds(5000)))
      << "scaled-down workers still there: " << Str(four);
  PromScrape m = Scrape();
  EXPECT_EQ(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "exited"}, {"code_or_signal", "0"}}),
            4)
      << "hello exits 0 after a graceful stop (1 by SIGTTOU, 3 by /scale)";
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "crash"}}), 0)
      << "no worker crashed while scaling";

  // Never below one: SIGTTOU at 1 is refused, then SIGTTIN gives 2.
  ASSERT_TRUE(cf.Signal(SIGTTOU));
  ASSERT_TRUE(PollUntil([&] { return !SignalPending(cf.pid(), SIGTTOU); },
                        milliseconds(2000)));
  ASSERT_TRUE(cf.Signal(SIGTTIN));
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(5000), &st)) << Describe(st);
  EXPECT_EQ(st.slots[0].pid, w0);

  // Bad requests are refused with 400 and change nothing.
  for (const auto& [target, body] :
       std::vector<std::pair<std::string, std::string>>{
           {"/scale", R"({"workers":0})"},
           {"/scale", R"({"workers":"two"})"},
           {"/scale", "not json"},
           {"/scale?workers=-1", ""},
           {"/scale", ""}}) {
    UnixHttpResponse bad = Control("POST", target, body);
    EXPECT_EQ(bad.status, 400)
        << target << " " << body << ": " << bad.ToString();
  }
  // The admin port is read-only.
  UnixHttpResponse admin_scale =
      TcpHttpRequest("127.0.0.1", admin_port(), "POST", "/scale?workers=3");
  EXPECT_TRUE(admin_scale.status == 404 || admin_scale.status == 405)
      << admin_scale.ToString();
  UnixHttpResponse admin_reload =
      TcpHttpRequest("127.0.0.1", admin_port(), "POST", "/reload");
  EXPECT_TRUE(admin_reload.status == 404 || admin_reload.status == 405)
      << admin_reload.ToString();
  st = Status();
  EXPECT_EQ(st.desired, 2) << Describe(st);
  EXPECT_EQ(st.slots.size(), 2u) << Describe(st);
  EXPECT_TRUE(cf.Running());
}

// The control socket is mode 0600 and refuses a process of another user,
// even one that can reach the socket file.
TEST_F(OrchestratorTest, ControlSocketRefusesOtherUsers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a child as nobody";
  // Let uid 65534 reach the socket file, so only its own mode (and the
  // server's peer check) can stop it.
  ASSERT_EQ(chmod(tmp_.path().c_str(), 0755), 0);
  Process& cf =
      StartWith("shutdown: {drain_delay: 0s, timeout: 5s}\n", 1, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 1, milliseconds(10000), &st)) << Describe(st);

  struct stat sb {};
  ASSERT_EQ(lstat(ControlSocket().c_str(), &sb), 0) << ControlSocket();
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 07777, 0600u) << std::oct << (sb.st_mode & 07777);
  EXPECT_EQ(sb.st_uid, geteuid());

  PeerAttempt nobody = TryControlSocketAs(65534, 65534, ControlSocket());
  ASSERT_TRUE(nobody.error.empty()) << nobody.error;
  EXPECT_TRUE(nobody.connect_errno == EACCES || nobody.http_status == 403)
      << "uid 65534: connect errno " << nobody.connect_errno << " ("
      << std::strerror(nobody.connect_errno) << "), HTTP "
      << nobody.http_status;
  // Root may (and the refused request changed nothing).
  UnixHttpResponse ok = Control("POST", "/scale?workers=2");
  EXPECT_EQ(ok.status, 200) << ok.ToString();
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(5000), &st)) << Describe(st);
}

// A TCP connection that sends only what it is told to (or nothing).
struct RawConnection {
  int fd = -1;
  std::string error;
  RawConnection() = default;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection() {
    if (fd >= 0) close(fd);
  }
  bool Connect(int port) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};  // a full backlog must not hang the test
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (fd < 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error = Errno("connect");
      return false;
    }
    return true;
  }
  bool Send(const std::string& data) {
    if (send(fd, data.data(), data.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(data.size())) {
      return true;
    }
    error = Errno("send");
    return false;
  }
};

// ---- the admin port under idle clients -------------------------------------
// 200 connections held open to the admin port, 150 silent and 50 with a
// half-sent request head: /livez (and /readyz, /metrics) still answer within
// 1 s.
TEST_F(OrchestratorTest, LivezAnswersWithin1sWhile200IdleConnectionsAreOpen) {
  Process& cf =
      StartWith("shutdown: {drain_delay: 0s, timeout: 5s}\n", 1, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 1, milliseconds(10000), &st)) << Describe(st);

  constexpr int kIdle = 200;
  constexpr int kPartial = 50;  // of them send half a request head
  std::vector<RawConnection> idle(kIdle);
  int connected = 0;
  for (int i = 0; i < kIdle; ++i) {
    if (idle[i].Connect(admin_port())) ++connected;
  }
  ASSERT_EQ(connected, kIdle)
      << "could not open " << kIdle
      << " connections to the admin port: " << idle.back().error;
  for (int i = 0; i < kPartial; ++i) {
    EXPECT_TRUE(idle[i].Send("GET /livez HTTP/1.1\r\nHost: x\r\n"))
        << idle[i].error;
  }
  // Let the server take them (if it accepts connections before reading).
  PollUntil([&] { return AcceptedConnections(admin_port()) >= kIdle; },
            milliseconds(1000));
  const int accepted = AcceptedConnections(admin_port());

  milliseconds worst{0};
  for (const char* path :
       {"/livez", "/livez", "/readyz", "/metrics", "/livez"}) {
    const auto start = Clock::now();
    UnixHttpResponse r = Admin(path, milliseconds(5000));
    const auto took =
        std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    worst = std::max(worst, took);
    EXPECT_EQ(r.status, 200) << path << ": " << r.ToString();
    EXPECT_LT(took, milliseconds(1000))
        << path << " took " << took.count() << " ms with " << kIdle
        << " idle connections open";
  }
  std::cout << "[ figures  ] " << kIdle << " idle admin connections ("
            << accepted << " accepted): slowest answer " << worst.count()
            << " ms\n";
  RecordProperty("idle_connections", kIdle);
  RecordProperty("slowest_answer_ms", std::to_string(worst.count()));
  EXPECT_TRUE(cf.Running());
}

}  // namespace
}  // namespace corefork::harness
