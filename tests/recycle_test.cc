// Issue 12 part 2, recycling, with real processes: a Python worker that
// leaks memory on a route is replaced at recycle.max_rss under load without a
// failed request; 20 workers with a 1 s +-50% lifetime recycle spread out,
// each on time; in a real cgroup v1 memory controller with a limit, two
// leaking workers, the memory-pressure guard replaces the bigger one before
// the OOM killer acts (the cgroup's oom_kill counter stays 0).

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/harness.h"
#include "support/load.h"
#include "support/prom_text.h"
#include "support/real_cgroup.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

const std::string kLeakApp =
    std::string(COREFORK_SOURCE_DIR) + "/tests/apps/leak_app.py";

// GET /leak?worker=W&mb=M on new connections until worker W answers (other
// workers answer 409); the pid that leaked, or -1.
pid_t LeakInto(int port, int worker, int mb) {
  const std::string path =
      "/leak?worker=" + std::to_string(worker) + "&mb=" + std::to_string(mb);
  for (int attempt = 0; attempt < 300; ++attempt) {
    HttpResponse r = HttpGet("127.0.0.1", port, path);
    if (r.status == 200) {
      std::optional<HelloReply> hello = ParseHello(r.body);
      return hello ? hello->pid : -1;
    }
  }
  return -1;
}

PromScrape Scrape(int admin_port) {
  return ParsePromText(HttpGet("127.0.0.1", admin_port, "/metrics").body);
}

double Recycles(const PromScrape& s, const std::string& reason) {
  return s.Get("corefork_worker_recycles_total", {{"reason", reason}})
      .value_or(-1);
}
double Restarts(const PromScrape& s, const std::string& reason) {
  return s.Get("corefork_worker_restarts_total", {{"reason", reason}})
      .value_or(-1);
}

// A config: `settings` (workers, recycle...), no drain delay, one listener
// on 127.0.0.1:`port`, and `command` (a YAML flow list).
std::string ConfigYaml(const std::string& settings, int port,
                       const std::string& command) {
  return settings + "shutdown: {drain_delay: 0s}\n" +
         "listeners: [{name: http, host: 127.0.0.1, port: " +
         std::to_string(port) + "}]\ncommand: " + command + "\n";
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// The log time (ms of the day) of each line that has `needle`, in order.
std::vector<int64_t> LogTimes(const std::string& log,
                              const std::string& needle) {
  // 2026-12-03T22:14:31.126Z corefork[28786] warning: ...
  const std::regex stamp(
      "^\\d{4}-\\d\\d-\\d\\dT(\\d\\d):(\\d\\d):(\\d\\d)\\.(\\d{3})Z ");
  std::vector<int64_t> at_ms;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (line.find(needle) == std::string::npos ||
        !std::regex_search(line, m, stamp)) {
      continue;
    }
    at_ms.push_back(
        ((std::stoll(m[1]) * 60 + std::stoll(m[2])) * 60 + std::stoll(m[3])) *
            1000 +
        std::stoll(m[4]));
  }
  return at_ms;
}
std::vector<int64_t> RecycleTimes(const std::string& log) {
  return LogTimes(log, "recycling it");
}

class RecycleTest : public CoreforkTest {
 protected:
  // corefork with ConfigYaml(settings, port, command) on a free port (set in
  // *port); `args` go before --config, `env` into its environment.
  Process& Start(const std::string& settings, const std::string& command,
                 int* port, const std::vector<std::string>& args = {},
                 const std::map<std::string, std::string>& env = {}) {
    return StartCoreforkOnFreePort(
        [&](int p) {
          std::vector<std::string> argv = args;
          argv.push_back("--config");
          argv.push_back(WriteConfig(ConfigYaml(settings, p, command)));
          return argv;
        },
        env, port);
  }
};

// Worker 0 leaks 20 MiB per GET /leak; at 120 MiB of tree RSS it is replaced
// (successor ready first), while a closed loop of requests to / sees no
// failure. Worker 1 is left alone.
TEST_F(RecycleTest, MaxRssReplacesTheLeakerWithoutAFailedRequest) {
  int port = 0;
  Process& cf = Start(
      "workers: 2\n"
      "recycle: {max_rss: 120Mi, check_interval: 200ms}\n",
      std::string("[/usr/bin/python3, ") + kLeakApp + "]", &port);
  ASSERT_TRUE(WaitServing(cf, port)) << cf.Stderr();
  std::map<int, pid_t> before = CollectWorkers(port, 2);
  ASSERT_EQ(before.size(), 2u) << cf.Stderr();

  LoadOptions options;
  options.port = port;
  options.keepalive_threads = 0;  // the app speaks HTTP/1.0
  options.close_threads = 3;
  options.max_duration = milliseconds(60000);
  LoadGenerator load(options);
  load.Start();
  ASSERT_TRUE(PollUntil([&] { return load.Snapshot().ok >= 100; },
                        milliseconds(10000)));

  // 6 x 20 MiB on top of the interpreter's own ~10 MiB passes 120 MiB; stop
  // leaking once corefork acts, so the successor (same worker id) is not fed.
  int leaks = 0;
  const auto leak_started = Clock::now();
  while (leaks < 8 &&
         cf.Stderr().find("recycling it (max_rss") == std::string::npos) {
    ASSERT_EQ(LeakInto(port, 0, 20), before[0]) << cf.Stderr();
    ++leaks;
  }
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find("recycling it (max_rss") != std::string::npos;
      },
      milliseconds(5000)))
      << cf.Stderr();
  const auto decided = Clock::now();
  ASSERT_TRUE(
      PollUntil([&] { return ProcessGone(before[0]); }, milliseconds(10000)))
      << "the leaker still runs\n"
      << cf.Stderr();
  const auto replaced = Clock::now();
  const uint64_t ok = load.Snapshot().ok;
  ASSERT_TRUE(PollUntil([&] { return load.Snapshot().ok >= ok + 200; },
                        milliseconds(10000)));
  LoadStats total = load.Stop();

  const std::string log = cf.Stderr();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      log, m,
      std::regex("worker 0 \\(pid " + std::to_string(before[0]) +
                 "\\): recycling it \\(max_rss: (\\d+) MiB > 120 MiB\\)")))
      << log;
  const int rss_mib = std::stoi(m[1]);
  std::cout
      << "[ figures  ] max_rss 120Mi: " << leaks
      << " leaks of 20 MiB, recycled at " << rss_mib << " MiB, "
      << std::chrono::duration_cast<milliseconds>(decided - leak_started)
             .count()
      << " ms after the first leak, old worker gone "
      << std::chrono::duration_cast<milliseconds>(replaced - decided).count()
      << " ms later; load " << total.Summary() << "\n";
  EXPECT_GT(rss_mib, 120);
  EXPECT_EQ(total.failed, 0u) << total.Summary();
  EXPECT_EQ(Count(log, "recycling it"), 1u) << log;
  EXPECT_FALSE(ProcessGone(before[1])) << "worker 1 was not over the limit";

  std::map<int, pid_t> after = CollectWorkers(port, 2);
  EXPECT_NE(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  PromScrape s = Scrape(admin_port());
  EXPECT_EQ(Recycles(s, "max_rss"), 1);
  EXPECT_EQ(Restarts(s, "max_rss"), 1) << "the successor took over";
  EXPECT_EQ(Recycles(s, "max_lifetime"), 0);
  EXPECT_EQ(Restarts(s, "crash"), 0);
  const std::string status = HttpGet("127.0.0.1", admin_port(), "/status").body;
  EXPECT_NE(status.find("\"recycle\":{\"last\":{"), std::string::npos)
      << status;
  EXPECT_NE(status.find("\"reason\":\"max_rss\""), std::string::npos) << status;
}

// 20 workers, each with its own lifetime drawn from 1 s +-50%: the first
// recycle of each slot happens at its own time, spread over most of
// [0.5 s, 1.5 s], each close to its drawn lifetime (one at a time: a
// neighbour due at the same moment waits for the one before), and a
// closed loop of requests sees no failure.
TEST_F(RecycleTest, LifetimesWithJitterSpreadOverTwentyWorkers) {
  int port = 0;
  Process& cf = Start(
      "workers: 20\n"
      "recycle: {max_lifetime: 1s, jitter: 50%}\n",
      "[" HELLO_BIN "]", &port);
  ASSERT_TRUE(WaitServing(cf, port)) << cf.Stderr();
  LoadOptions options;
  options.port = port;
  options.max_duration = milliseconds(60000);
  LoadGenerator load(options);
  load.Start();

  // "worker 7 (pid 123): recycling it (max_lifetime: up 1.234s, its lifetime
  // 1.180s)": the first such line of each slot.
  const std::regex line(
      "worker (\\d+) \\(pid \\d+\\): recycling it \\(max_lifetime: up "
      "([0-9.]+)s, its lifetime ([0-9.]+)s\\)");
  std::map<int, std::pair<double, double>> first;  // slot -> (up, lifetime)
  auto parse = [&] {
    first.clear();
    const std::string log = cf.Stderr();
    for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end;
         ++it) {
      const int slot = std::stoi((*it)[1]);
      if (first.count(slot) == 0) {
        first[slot] = {std::stod((*it)[2]), std::stod((*it)[3])};
      }
    }
    return first.size() == 20;
  };
  ASSERT_TRUE(PollUntil(parse, milliseconds(30000))) << cf.Stderr();
  LoadStats total = load.Stop();

  std::vector<double> lifetimes, lags;
  for (const auto& entry : first) {
    lifetimes.push_back(entry.second.second);
    lags.push_back(entry.second.first - entry.second.second);
  }
  std::sort(lifetimes.begin(), lifetimes.end());
  std::sort(lags.begin(), lags.end());
  std::ostringstream drawn;
  for (double l : lifetimes) drawn << l << " ";
  std::cout << "[ figures  ] 20 lifetimes (s): " << drawn.str()
            << "\n[ figures  ] lag after the lifetime: median "
            << lags[lags.size() / 2] << " s, max " << lags.back() << " s; load "
            << total.Summary() << "\n";
  for (double l : lifetimes) {
    EXPECT_GE(l, 0.5);
    EXPECT_LT(l, 1.5);
  }
  EXPECT_GE(lifetimes.back() - lifetimes.front(), 0.5)
      << "lifetimes not spread: " << drawn.str();
  // At most a third of the slots within one tenth of the range: no herd.
  std::vector<int> tenths(10, 0);
  for (double l : lifetimes) {
    tenths[std::clamp(static_cast<int>((l - 0.5) * 10), 0, 9)]++;
  }
  EXPECT_LE(*std::max_element(tenths.begin(), tenths.end()), 7) << drawn.str();
  EXPECT_GE(lags.front(), 0.0) << "recycled before its lifetime";
  EXPECT_LE(lags[lags.size() / 2], 0.3) << "median lag";
  EXPECT_EQ(total.failed, 0u) << total.Summary();
  PromScrape s = Scrape(admin_port());
  EXPECT_GE(Recycles(s, "max_lifetime"), 20);
  EXPECT_GE(Restarts(s, "max_lifetime"), 19);
}

// recycle.schedule fires on the wall clock: corefork runs under libfaketime
// (its CLOCK_REALTIME starts 3 s before 04:00 in Berlin, 03:00 UTC; the
// monotonic clock stays real), so "0 4 * * *" in Europe/Berlin fires 3 s
// after start, as a rolling restart of both workers (restart reason
// schedule), without a failed request. Skipped without libfaketime
// (apt-get install libfaketime).
TEST_F(RecycleTest, ScheduleFiresARollingRestartAtItsWallClockTime) {
  const std::string faketime =
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  if (!FileExists(faketime)) GTEST_SKIP() << "no " << faketime;
  int port = 0;
  Process& cf = Start(
      "workers: 2\n"
      "recycle: {schedule: \"0 4 * * *\", timezone: Europe/Berlin}\n",
      "[" HELLO_BIN "]", &port, {},
      {{"LD_PRELOAD", faketime},
       {"FAKETIME", "@2026-12-03 02:59:57"},
       {"TZ", "UTC"},
       {"DONT_FAKE_MONOTONIC", "1"}});
  const auto started = Clock::now();
  ASSERT_TRUE(WaitServing(cf, port)) << cf.Stderr();
  std::map<int, pid_t> before = CollectWorkers(port, 2);
  ASSERT_EQ(before.size(), 2u);
  const std::string status_before =
      HttpGet("127.0.0.1", admin_port(), "/status").body;
  EXPECT_NE(
      status_before.find("\"next_scheduled_at\":\"2026-12-03T03:00:00Z\""),
      std::string::npos)
      << "libfaketime did not reach corefork's wall clock?\n"
      << status_before;
  LoadOptions options;
  options.port = port;
  options.max_duration = milliseconds(30000);
  LoadGenerator load(options);
  load.Start();
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find("reload complete: 2 worker(s) replaced") !=
               std::string::npos;
      },
      milliseconds(15000)))
      << cf.Stderr();
  const auto fired = Clock::now();
  ASSERT_TRUE(PollUntil(
      [&] {
        return AllGone({before[0], before[1]});
      },
      milliseconds(10000)));
  const uint64_t ok = load.Snapshot().ok;
  ASSERT_TRUE(PollUntil([&] { return load.Snapshot().ok >= ok + 200; },
                        milliseconds(10000)));
  LoadStats total = load.Stop();
  const std::string log = cf.Stderr();
  std::cout << "[ figures  ] schedule \"0 4 * * *\" Europe/Berlin, fake "
               "clock 3 s before: rolling restart done "
            << std::chrono::duration_cast<milliseconds>(fired - started).count()
            << " ms after start; load " << total.Summary() << "\n";
  EXPECT_NE(log.find("recycle.schedule: rolling restart of 2 worker(s)"),
            std::string::npos)
      << log;
  for (const auto& entry : before) {
    EXPECT_NE(log.find("worker " + std::to_string(entry.first) + " (pid " +
                       std::to_string(entry.second) +
                       "): recycling it (recycle.schedule)"),
              std::string::npos)
        << log;
  }
  EXPECT_EQ(Count(log, "recycle.schedule: rolling restart"), 1u) << log;
  EXPECT_GE(fired - started, milliseconds(2500)) << "fired before 04:00";
  EXPECT_EQ(total.failed, 0u) << total.Summary();
  PromScrape s = Scrape(admin_port());
  EXPECT_EQ(Recycles(s, "schedule"), 2);
  EXPECT_EQ(Restarts(s, "schedule"), 2);
  EXPECT_EQ(Restarts(s, "reload"), 0);
  const std::string status = HttpGet("127.0.0.1", admin_port(), "/status").body;
  EXPECT_NE(status.find("\"next_scheduled_at\":\"2026-12-04T03:00:00Z\""),
            std::string::npos)
      << status;
  EXPECT_NE(status.find("\"reason\":\"schedule\""), std::string::npos)
      << status;
}

// A successor that never gets ready: the old worker keeps serving, and the
// recycle is tried again one check_interval after the failure, not at once
// (ready.timeout 500 ms > check_interval 300 ms used to mean at once). The
// first start runs hello; every later one sleeps.
TEST_F(RecycleTest, SuccessorNeverReadyOldServesRetryACheckIntervalLater) {
  const std::string marker = Path("started-once");
  const std::string script = "if [ -e " + marker + " ]; then exec sleep 60; " +
                             "fi; : > " + marker + "; exec " HELLO_BIN;
  int port = 0;
  Process& cf = Start(
      "workers: 1\n"
      "ready: {timeout: 500ms}\n"
      "recycle: {max_lifetime: 1s, jitter: 0%, check_interval: 300ms}\n",
      "[/bin/sh, -c, \"" + script + "\"]", &port);
  ASSERT_TRUE(WaitServing(cf, port)) << cf.Stderr();
  const std::map<int, pid_t> first = CollectWorkers(port, 1);
  ASSERT_EQ(first.size(), 1u) << cf.Stderr();
  const std::string kFailed = "replacing a worker failed";
  ASSERT_TRUE(PollUntil([&] { return Count(cf.Stderr(), kFailed) >= 2; },
                        milliseconds(15000)))
      << cf.Stderr();
  const std::string log = cf.Stderr();
  const std::vector<int64_t> failed = LogTimes(log, kFailed);
  const std::vector<int64_t> recycled = RecycleTimes(log);
  ASSERT_GE(failed.size(), 2u) << log;
  ASSERT_GE(recycled.size(), 2u) << log;
  std::cout << "[ figures  ] successor never ready: recycle at " << recycled[0]
            << ", failed at " << failed[0] << ", retried at " << recycled[1]
            << " (ms of the day)\n";
  EXPECT_GE(recycled[1] - failed[0], 290) << log;
  const std::map<int, pid_t> now = CollectWorkers(port, 1);
  EXPECT_EQ(now, first) << "the old worker keeps serving\n" << log;
}

// cgroup v2 through a fixture tree (--root): memory.current - inactive_file
// over 50% of memory.max makes the guard recycle, one worker at a time
// (each next one only after the previous old worker has exited), and stop
// when the use drops. A cpu.max rewritten while running shows in /status as
// sizing.last_limit_change.
TEST_F(RecycleTest, V2FixturePressureOneAtATimeAndTheLastLimitChange) {
  const std::string root = Path("root");
  std::filesystem::copy(std::string(COREFORK_FIXTURES) + "/cgroup/v2_numeric",
                        root, std::filesystem::copy_options::recursive);
  const std::string ctr = root + "/sys/fs/cgroup/ctr";
  auto write = [&](const std::string& file, const std::string& value) {
    // Whole files, renamed into place: corefork never reads half of one.
    ASSERT_TRUE(WriteFile(ctr + "/" + file + ".new", value));
    ASSERT_EQ(std::rename((ctr + "/" + file + ".new").c_str(),
                          (ctr + "/" + file).c_str()),
              0);
  };
  write("cpu.max", "200000 100000\n");
  write("memory.current", std::to_string(300u << 20) + "\n");
  write("memory.stat",
        "anon 1\ninactive_file " + std::to_string(100u << 20) + "\n");
  int port = 0;
  Process& cf = Start(
      "sizing: {follow_interval: 200ms}\n"
      "recycle: {memory_pressure: 50%, check_interval: 200ms}\n",
      "[" HELLO_BIN "]", &port, {"--root", root});
  ASSERT_TRUE(WaitServing(cf, port)) << cf.Stderr();
  ASSERT_EQ(CollectWorkers(port, 2).size(), 2u) << cf.Stderr();
  // 200 MiB used of 1 GiB: nothing happens. Then 700 - 100 = 600 MiB (59%).
  write("memory.current", std::to_string(700u << 20) + "\n");
  const std::string kLine =
      "recycling it (memory_pressure: container uses 600 MiB of its 1024 MiB "
      "limit (59% > 50%)";
  ASSERT_TRUE(PollUntil([&] { return Count(cf.Stderr(), kLine) >= 4; },
                        milliseconds(15000)))
      << cf.Stderr();
  // The use stays over whatever is recycled: the guard backs off (logged
  // once), each wait twice the last from check_interval, so the third gap
  // is at least 800 ms where every check (200 ms) used to recycle.
  {
    const std::string log = cf.Stderr();
    EXPECT_EQ(Count(log,
                    "recycle.memory_pressure: still at 59% after "
                    "recycling worker "),
              1u)
        << log;
    std::vector<int64_t> at_ms = RecycleTimes(log);
    ASSERT_GE(at_ms.size(), 4u) << log;
    std::cout << "[ figures  ] pressure held at 59%: recycle gaps "
              << at_ms[1] - at_ms[0] << ", " << at_ms[2] - at_ms[1] << ", "
              << at_ms[3] - at_ms[2] << " ms (check_interval 200 ms)\n";
    EXPECT_GE(at_ms[3] - at_ms[2], 800) << log;
  }
  write("memory.current", std::to_string(400u << 20) + "\n");  // 29%
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find(
                   "recycle.memory_pressure: down to 29%; "
                   "back-off ended") != std::string::npos;
      },
      milliseconds(15000)))
      << cf.Stderr();
  // Recycles stop: no new one for several checks once the replacement in
  // flight (if any) is done. Polled: the count must stay put for 1 s.
  size_t settled = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        const size_t n = Count(cf.Stderr(), "recycling it");
        if (n != settled) {
          settled = n;
          return false;
        }
        return true;
      },
      milliseconds(10000), milliseconds(1000)))
      << cf.Stderr();
  std::string log = cf.Stderr();
  // One at a time: before each recycle after the first, the worker the
  // previous one replaced has exited.
  const std::regex recycled("worker \\d+ \\(pid (\\d+)\\): recycling it");
  std::vector<std::pair<size_t, std::string>> events;  // (offset, pid)
  for (std::sregex_iterator it(log.begin(), log.end(), recycled), end;
       it != end; ++it) {
    events.emplace_back(it->position(), (*it)[1]);
  }
  ASSERT_GE(events.size(), 3u) << log;
  for (size_t i = 1; i < events.size(); ++i) {
    const size_t exited =
        log.find("(pid " + events[i - 1].second + ") exited with 0");
    EXPECT_LT(exited, events[i].first)
        << "recycle " << i << " started before pid " << events[i - 1].second
        << " exited\n"
        << log;
  }
  std::cout << "[ figures  ] v2 fixture at 59% of memory.max: " << events.size()
            << " recycles, one at a time\n";

  // The part-1 leftover: the last limit change in /status.
  write("cpu.max", "100000 100000\n");
  ASSERT_TRUE(PollUntil(
      [&] {
        return HttpGet("127.0.0.1", admin_port(), "/status")
                   .body.find("\"last_limit_change\":{") != std::string::npos;
      },
      milliseconds(5000)))
      << cf.Stderr();
  const std::string status = HttpGet("127.0.0.1", admin_port(), "/status").body;
  EXPECT_NE(status.find("\"changes\":\"cpu quota 2 -> 1\""), std::string::npos)
      << status;
  EXPECT_NE(status.find("\"cpu_quota_cores\":{\"before\":2,\"after\":1}"),
            std::string::npos)
      << status;
  EXPECT_NE(status.find("\"workers\":{\"before\":2,\"after\":1}"),
            std::string::npos)
      << status;
  EXPECT_NE(status.find("\"reason\":\"memory_pressure\""), std::string::npos)
      << status;
}

// --- the memory-pressure guard in a real cgroup v1 memory controller -------

constexpr char kMemoryMount[] = "/sys/fs/cgroup/memory";

class RealMemoryCgroupTest : public RealCgroupTest {
 protected:
  void SetUp() override {
    RealCgroupTest::SetUp();
    MakeCgroup(kMemoryMount, "memory.limit_in_bytes", "corefork-recycle-");
  }

  // The `oom_kill N` line of memory.oom_control (kernel 4.13+).
  std::optional<long> OomKills() {
    std::istringstream in(ReadFile(cgroup() + "/memory.oom_control"));
    std::string key;
    long value = 0;
    while (in >> key >> value) {
      if (key == "oom_kill") return value;
    }
    return std::nullopt;
  }
};

// Limit 256 MiB, guard at 60% (154 MiB). Worker 0 holds 20 MiB; worker 1
// leaks 20 MiB at a time, up to 10 times (200 MiB: past the limit, so
// without the guard the OOM killer would act). The guard replaces worker 1,
// the bigger, and the cgroup never sees an OOM kill.
TEST_F(RealMemoryCgroupTest, PressureGuardRecyclesTheBiggerWorkerBeforeOom) {
  constexpr uint64_t kLimit = 256u << 20;
  ASSERT_TRUE(
      WriteFile(cgroup() + "/memory.limit_in_bytes", std::to_string(kLimit)));
  ASSERT_EQ(OomKills(), std::optional<long>(0))
      << ReadFile(cgroup() + "/memory.oom_control");
  int port = 0;
  Process& cf = SpawnOnFreePort(
      [&](int p) {
        return InCgroupArgv(
            {"--config",
             WriteConfig(ConfigYaml(
                 "workers: 2\n"
                 "recycle: {memory_pressure: 60%, "
                 "check_interval: 200ms}\n",
                 p, std::string("[/usr/bin/python3, ") + kLeakApp + "]"))});
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port)) << cf.Stderr();
  std::map<int, pid_t> before = CollectWorkers(port, 2);
  ASSERT_EQ(before.size(), 2u) << cf.Stderr();
  ASSERT_EQ(LeakInto(port, 0, 20), before[0]);

  const std::string kRecycling = "recycling it (memory_pressure";
  int leaks = 0;
  while (leaks < 10 && cf.Stderr().find(kRecycling) == std::string::npos) {
    ASSERT_EQ(LeakInto(port, 1, 20), before[1])
        << "worker 1 gone before the guard acted?\n"
        << cf.Stderr() << ReadFile(cgroup() + "/memory.oom_control");
    ++leaks;
    // Give the guard two checks to see it before leaking more.
    PollUntil([&] { return cf.Stderr().find(kRecycling) != std::string::npos; },
              milliseconds(450));
  }
  ASSERT_NE(cf.Stderr().find(kRecycling), std::string::npos) << cf.Stderr();
  ASSERT_TRUE(
      PollUntil([&] { return ProcessGone(before[1]); }, milliseconds(10000)))
      << cf.Stderr();
  // The successor is serving in slot 1.
  std::map<int, pid_t> after = CollectWorkers(port, 2);
  const uint64_t max_usage =
      std::stoull(ReadFile(cgroup() + "/memory.max_usage_in_bytes"));
  const std::string log = cf.Stderr();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      log, m,
      std::regex("worker (\\d) \\(pid (\\d+)\\): recycling it "
                 "\\(memory_pressure: container uses (\\d+) MiB of its "
                 "256 MiB limit \\((\\d+)% > 60%\\), this worker (\\d+) "
                 "MiB\\)")))
      << log;
  std::cout << "[ figures  ] memory_pressure 60% of 256 MiB: worker 1 leaked "
            << leaks << " x 20 MiB; recycled at " << m[3] << " MiB used ("
            << m[4] << "%), worker " << m[1] << " at " << m[5]
            << " MiB; cgroup peak " << (max_usage >> 20) << " MiB, failcnt "
            << ReadFile(cgroup() + "/memory.failcnt") << "";
  EXPECT_EQ(m[1], "1") << "the bigger worker is recycled";
  EXPECT_EQ(std::stoi(m[2]), before[1]);
  EXPECT_EQ(OomKills(), std::optional<long>(0))
      << ReadFile(cgroup() + "/memory.oom_control");
  EXPECT_FALSE(ProcessGone(before[0])) << "the smaller worker stays";
  EXPECT_EQ(after[0], before[0]);
  EXPECT_NE(after[1], before[1]);
  EXPECT_LT(max_usage, kLimit);
  EXPECT_EQ(Count(log, "recycling it"), 1u) << log;
  PromScrape s = Scrape(admin_port());
  EXPECT_EQ(Recycles(s, "memory_pressure"), 1);
  EXPECT_EQ(Restarts(s, "memory_pressure"), 1);
  EXPECT_EQ(Restarts(s, "crash"), 0) << "nothing was OOM-killed";
}

}  // namespace
}  // namespace corefork::harness
