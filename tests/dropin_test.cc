// Whole-binary tests of issue 8 (drop-in): real, unmodified apps from
// tests/apps (Express, Fastify, Koa, npm start, Python http.server,
// uvicorn) that listen on $PORT themselves run as corefork workers through
// the listen shim; PM2's process.send('ready') and 'shutdown' message; the
// clear message for a static binary; and the `--` trap. The apps' packages
// come from tests/apps/install.sh; these tests never install anything.
#include "support/dropin.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/admin_fixture.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kAppStart{30000};  // node on a busy 2-core machine
constexpr milliseconds kDrainDelay{200};

class DropInTest : public AdminTest {
 protected:
  // corefork on a free 127.0.0.1 port (app_port()) with a short drain delay,
  // debug logs, `extra` flags, then `--` and `command`.
  Process& StartDropIn(int workers, const std::vector<std::string>& command,
                       const std::vector<std::string>& extra = {},
                       const std::map<std::string, std::string>& env = {}) {
    // npm must not ask the registry whether it is outdated.
    std::map<std::string, std::string> full = env;
    full.emplace("NPM_CONFIG_UPDATE_NOTIFIER", "false");
    return StartCoreforkOnFreePort(
        [&](int port) {
          std::vector<std::string> args = {
              "--workers",     std::to_string(workers),
              "--host",        "127.0.0.1",
              "--port",        std::to_string(port),
              "--drain-delay", std::to_string(kDrainDelay.count()) + "ms",
              "--log-level",   "debug"};
          args.insert(args.end(), extra.begin(), extra.end());
          args.push_back("--");
          args.insert(args.end(), command.begin(), command.end());
          return args;
        },
        full);
  }

  // Polls until the admin port answers /readyz at all.
  ReadyzAnswer FirstReadyz(Process& cf) {
    ReadyzAnswer rz;
    PollUntil(
        [&] {
          if (!cf.Running()) return true;
          rz = Readyz();
          return rz.status != 0;
        },
        milliseconds(10000));
    return rz;
  }
};

struct AppCase {
  std::string name;     // gtest-safe
  std::string command;  // shell, run in tests/apps after the gate
  AppNeeds needs;
};

void PrintTo(const AppCase& c, std::ostream* os) { *os << c.name; }

class DropInAppTest : public DropInTest,
                      public ::testing::WithParamInterface<AppCase> {};

// The slot whose process is `pid` or an ancestor of it; -1 if none.
int SlotOf(const CoreforkStatus& st, pid_t pid) {
  for (const SlotStatus& s : st.slots) {
    if (s.pid > 0 && IsSelfOrAncestor(s.pid, pid)) return s.id;
  }
  return -1;
}

// The full life of one unmodified app under corefork, 2 workers started
// through `sh -c` (a wrapper): /readyz 503 while the apps have not called
// listen() yet and 200 once they have; both workers serve a share of 200
// fresh connections (20-80% each) with 0 restarts; kill -9 of one app
// process gets it replaced while the connections made in the meantime wait
// in its socket's backlog and are all answered; SIGTERM exits 0 promptly.
TEST_P(DropInAppTest, RunsUnmodifiedAsTwoWorkers) {
  const AppCase& app = GetParam();
  std::string missing = MissingAppDeps(app.needs);
  ASSERT_TRUE(missing.empty()) << missing;

  Process& cf = StartDropIn(2, GatedCommand(Path("gate"), app.command));

  // Gated: the apps have not even started, so nothing listens yet.
  ReadyzAnswer rz = FirstReadyz(cf);
  ASSERT_TRUE(cf.Running()) << cf.Stderr();
  EXPECT_EQ(rz.status, 503) << rz.body;
  CoreforkStatus st;
  ASSERT_TRUE(
      WaitStatus([](const CoreforkStatus& s) { return s.Pids().size() == 2; },
                 milliseconds(10000), &st))
      << st.raw;
  EXPECT_EQ(st.ready_workers, 0) << st.raw;
  EXPECT_EQ(Readyz().status, 503);

  Touch("gate");
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;

  // Both workers serve, from the apps' own answers.
  constexpr int kRequests = 200;
  AnswerCount share = CountAnswers(app_port(), kRequests);
  EXPECT_EQ(share.failed, 0) << share.Summary();
  ASSERT_EQ(share.by_pid.size(), 2u) << share.Summary();
  for (const auto& [pid, n] : share.by_pid) {
    EXPECT_GE(n, kRequests * 20 / 100) << share.Summary();
    EXPECT_LE(n, kRequests * 80 / 100) << share.Summary();
  }
  st = Status();
  ASSERT_EQ(st.slots.size(), 2u) << st.raw;
  std::set<int> serving_slots;
  for (const auto& [pid, n] : share.by_pid)
    serving_slots.insert(SlotOf(st, pid));
  EXPECT_EQ(serving_slots, (std::set<int>{0, 1}))
      << "answering pids are not the workers' processes (or below them): "
      << share.Summary() << " " << st.raw;
  for (const SlotStatus& s : st.slots) {
    EXPECT_EQ(s.restarts, 0) << st.raw;
  }

  // kill -9 of one app process: while it is dead and its replacement
  // starts, new connections go to the survivor only (steering), so none
  // waits for the replacement; once it is ready it serves its share again.
  pid_t victim = share.by_pid.begin()->first;
  pid_t survivor = share.by_pid.rbegin()->first;
  int slot = SlotOf(st, victim);
  ASSERT_GE(slot, 0) << st.raw;
  pid_t old_slot_pid = st.Slot(slot).at(0).pid;
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(
      PollUntil([&] { return GoneOrZombie(victim); }, milliseconds(5000)));
  constexpr int kMeanwhile = 48;
  AnswerCount meanwhile = ConnectAllThenRead(app_port(), kMeanwhile, kAppStart);
  EXPECT_EQ(meanwhile.failed, 0) << meanwhile.Summary();
  for (const auto& [pid, n] : meanwhile.by_pid) {
    EXPECT_NE(pid, victim) << meanwhile.Summary();
  }

  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  std::vector<SlotStatus> entries = st.Slot(slot);
  ASSERT_EQ(entries.size(), 1u) << st.raw;
  EXPECT_NE(entries[0].pid, old_slot_pid) << st.raw;
  EXPECT_EQ(entries[0].restarts, 1) << st.raw;
  AnswerCount after = CountAnswers(app_port(), kRequests);
  EXPECT_EQ(after.failed, 0) << after.Summary();
  std::set<pid_t> replacement;
  for (const auto& [pid, n] : after.by_pid) {
    if (pid != survivor) replacement.insert(pid);
  }
  ASSERT_EQ(replacement.size(), 1u)
      << "the replacement should serve once ready: " << after.Summary();
  EXPECT_EQ(SlotOf(st, *replacement.begin()), slot) << st.raw;

  // SIGTERM: drain, stop the apps, exit 0 in well under the 30 s default
  // shutdown timeout.
  ASSERT_TRUE(cf.Signal(SIGTERM));
  std::optional<int> code = cf.WaitExit(kDrainDelay + milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "still running 8 s after SIGTERM";
  EXPECT_EQ(*code, 0) << cf.Stderr();
}

INSTANTIATE_TEST_SUITE_P(
    Apps, DropInAppTest,
    ::testing::Values(
        AppCase{"Express", "exec node express_app.js", AppNeeds::kNodeModules},
        AppCase{"Fastify", "exec node fastify_app.js", AppNeeds::kNodeModules},
        AppCase{"Koa", "exec node koa_app.js", AppNeeds::kNodeModules},
        AppCase{"NpmStart", "cd npm_start && exec npm start",
                AppNeeds::kNodeModules},
        AppCase{"PythonHttpServer", "exec /usr/bin/python3 python_app.py",
                AppNeeds::kNothing},
        AppCase{"Uvicorn",
                "exec /usr/bin/python3 -m uvicorn asgi_app:app "
                "--host 0.0.0.0 --port \"$PORT\"",
                AppNeeds::kUvicorn}),
    [](const ::testing::TestParamInfo<AppCase>& info) {
      return info.param.name;
    });

// A statically linked app that binds PORT itself cannot get the shim: one
// clear line at start-up names the problem, and the crash loop ends (exit 4)
// with the likely cause instead of a bare failure count.
TEST_F(DropInTest, StaticBinaryGetsAClearMessage) {
  std::string config = WriteConfig(
      "restart: {initial_delay: 50ms, max_delay: 100ms, max_failures: 2}\n");
  Process& cf = StartDropIn(1, {STATIC_BIND_BIN}, {"--config", config});
  std::optional<int> code = cf.WaitExit(milliseconds(15000));
  ASSERT_TRUE(code.has_value()) << "no crash-loop exit within 15 s\n"
                                << cf.Stderr();
  EXPECT_EQ(*code, 4) << cf.Stderr();
  std::string err = cf.Stderr();
  EXPECT_TRUE(ContainsNoCase(err, "statically linked")) << err;
  // The crash-loop message is corefork's last error line (the start-up
  // warning already says EADDRINUSE; this must say it again at the end).
  std::string last;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("corefork[") != std::string::npos &&
        line.find(" error: ") != std::string::npos) {
      last = line;
    }
  }
  EXPECT_TRUE(ContainsNoCase(last, "EADDRINUSE") ||
              ContainsNoCase(last, "binds the port itself"))
      << "final message: " << last << "\n"
      << err;
}

// PM2's wait_ready: with ready.mode notify and a Node IPC channel (through
// `sh -c`, so compat.node_ipc must be on explicitly) the worker is ready only
// once the app calls process.send('ready'), not when it listens: the app
// already answers requests while /readyz is still 503.
TEST_F(DropInTest, ProcessSendReadyMarksTheWorkerReady) {
  std::string config = WriteConfig(
      "ready: {mode: notify, timeout: 60s}\n"
      "compat: {node_ipc: on}\n");
  Process& cf = StartDropIn(
      2, GatedCommand(Path("gate"), "exec node pm2_app.js"),
      {"--config", config},
      {{"WARMUP_FILE", Path("warm")}, {"EVENT_LOG", Path("events")}});
  ReadyzAnswer rz = FirstReadyz(cf);
  ASSERT_TRUE(cf.Running()) << cf.Stderr();
  EXPECT_EQ(rz.status, 503) << rz.body;

  // Listening but not warmed up: it answers, yet it is not ready.
  Touch("gate");
  AnswerCount answers;
  ASSERT_TRUE(PollUntil(
      [&] {
        answers = CountAnswers(app_port(), 1, milliseconds(2000));
        return answers.failed == 0 || !cf.Running();
      },
      kAppStart))
      << answers.Summary();
  ASSERT_TRUE(PollUntil(
      [&] {
        std::string events = ReadFile(Path("events"));
        return std::count(events.begin(), events.end(), '\n') >= 2;
      },
      kAppStart))
      << ReadFile(Path("events"));
  CoreforkStatus st = Status();
  EXPECT_EQ(st.ready_workers, 0) << st.raw;
  EXPECT_EQ(Readyz().status, 503);

  Touch("warm");
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  std::string events = ReadFile(Path("events"));
  for (const SlotStatus& s : st.slots) {
    EXPECT_NE(events.find(std::to_string(s.pid) + " ready"), std::string::npos)
        << events;
  }
}

// PM2's shutdown_with_message: with shutdown.message true a Node worker
// (`node` directly, so compat.node_ipc auto turns the channel on) gets the
// message 'shutdown' instead of SIGTERM, closes its server and exits 0, and
// corefork exits 0 without waiting for the SIGKILL fallback.
TEST_F(DropInTest, ShutdownMessageInsteadOfSignal) {
  std::string config = WriteConfig("shutdown: {message: true, timeout: 20s}\n");
  Process& cf =
      StartDropIn(2, {"node", AppsDir() + "/pm2_app.js"}, {"--config", config},
                  {{"EVENT_LOG", Path("events")}});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  AnswerCount answers = CountAnswers(app_port(), 20);
  EXPECT_EQ(answers.failed, 0) << answers.Summary();
  std::vector<pid_t> pids = st.Pids();

  ASSERT_TRUE(cf.Signal(SIGTERM));
  std::optional<int> code = cf.WaitExit(kDrainDelay + milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "still running 8 s after SIGTERM";
  EXPECT_EQ(*code, 0) << cf.Stderr();
  std::string events = ReadFile(Path("events"));
  for (pid_t pid : pids) {
    std::string p = std::to_string(pid) + " ";
    EXPECT_NE(events.find(p + "message \"shutdown\""), std::string::npos)
        << events;
    EXPECT_NE(events.find(p + "exit 0"), std::string::npos) << events;
  }
  EXPECT_EQ(events.find("signal"), std::string::npos)
      << "an app got a signal instead of only the message:\n"
      << events;
}

// `corefork --workers 1 -- --config x.yaml`: the worker command is one of
// corefork's own options (the chart's args after an ENTRYPOINT that already
// ends in `--`). Refused with exit 2 and a message that explains the fix.
TEST_F(DropInTest, WorkerCommandThatLooksLikeAnOptionIsRefused) {
  std::string config = WriteConfig("workers: 1\n", "x.yaml");
  Process& cf = StartCorefork({"--workers", "1", "--", "--config", config});
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << cf.Stderr();
  EXPECT_EQ(*code, 2) << cf.Stderr();
  std::string err = cf.Stderr();
  EXPECT_NE(err.find("--config"), std::string::npos) << err;
}

}  // namespace
}  // namespace corefork::harness
