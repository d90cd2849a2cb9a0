// Whole-binary tests of GET /metrics: clean under `promtool check metrics`,
// and its values match what really happened to the workers (kill -9, a
// reload) and what /proc says about them. docs/metrics.md.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "support/admin_fixture.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

std::string FindInPath(const std::string& name) {
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// utime+stime in seconds and the start time in Unix seconds, from /proc.
struct ProcTimes {
  double cpu_seconds = -1;
  double start_unix = -1;
};

ProcTimes ReadProcTimes(pid_t pid) {
  ProcTimes t;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return t;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f;
  std::string w;
  while (in >> w) f.push_back(w);
  // f[0] is field 3 (state): utime = field 14, stime = 15, starttime = 22.
  if (f.size() < 20) return t;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  t.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
  std::istringstream procstat(ReadFile("/proc/stat"));
  std::string line;
  double btime = 0;
  while (std::getline(procstat, line)) {
    if (line.rfind("btime ", 0) == 0) btime = std::stod(line.substr(6));
  }
  t.start_unix = btime + std::stod(f[19]) / tick;
  return t;
}

class AdminMetricsTest : public AdminTest {
 protected:
  // Runs `promtool check metrics` on `text`; skips when promtool is missing.
  void ExpectPromtoolClean(const std::string& text, const std::string& when) {
    const std::string promtool = FindInPath("promtool");
    if (promtool.empty()) {
      std::cout << "[  SKIPPED ] promtool not installed (Debian package "
                   "`prometheus`); not checking the "
                << when << " scrape\n";
      promtool_missing_ = true;
      return;
    }
    const std::string file = Path("scrape-" + when + ".txt");
    ASSERT_TRUE(WriteFile(file, text));
    Process check({"/bin/sh", "-c", promtool + " check metrics < " + file});
    std::optional<int> code = check.WaitExit(milliseconds(20000));
    EXPECT_EQ(code, std::optional<int>(0))
        << "promtool check metrics on the " << when << " scrape:\n"
        << check.Stdout() << check.Stderr() << "\n--- scrape:\n"
        << text;
  }
  bool promtool_missing_ = false;

  // The worker metrics of slot `id` agree with /proc/<pid>.
  void ExpectWorkerMatchesProc(int id, pid_t pid) {
    const Labels worker = {{"worker", std::to_string(id)}};
    PromScrape m;
    std::string why;
    bool ok = WaitMetrics(
        [&](const PromScrape& s) {
          ProcTimes t = ReadProcTimes(pid);
          std::optional<double> start =
              s.Get("corefork_worker_start_time_seconds", worker);
          std::optional<double> fds = s.Get("corefork_worker_open_fds", worker);
          std::optional<double> rss =
              s.Get("corefork_worker_resident_memory_bytes", worker);
          std::optional<double> cpu =
              s.Get("corefork_worker_cpu_seconds_total", worker);
          size_t real_fds = OpenFds(pid).size();
          why = "slot " + std::to_string(id) + " pid " + std::to_string(pid) +
                ": start " + (start ? std::to_string(*start) : "absent") +
                " vs /proc " + std::to_string(t.start_unix) + ", fds " +
                (fds ? std::to_string(*fds) : "absent") + " vs /proc " +
                std::to_string(real_fds) + ", rss " +
                (rss ? std::to_string(*rss) : "absent") + ", cpu " +
                (cpu ? std::to_string(*cpu) : "absent") + " vs /proc " +
                std::to_string(t.cpu_seconds);
          return start && fds && rss && cpu &&
                 std::fabs(*start - t.start_unix) < 1.0 &&
                 *fds == static_cast<double>(real_fds) && *rss > 0 &&
                 *cpu >= 0 && std::fabs(*cpu - t.cpu_seconds) < 0.05;
        },
        milliseconds(3000), &m);
    EXPECT_TRUE(ok) << why;
  }
};

TEST_F(AdminMetricsTest, ScrapeIsCleanAndMatchesRealityAfterKillAndReload) {
  Process& cf = StartWith(
      "ready: {mode: notify}\n"
      "restart: {initial_delay: 50ms}\n"
      "shutdown: {drain_delay: 0s, timeout: 5s}\n",
      2, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << st.raw;

  // ---- at start ------------------------------------------------------------
  UnixHttpResponse first = Admin("/metrics");
  ASSERT_EQ(first.status, 200) << first.ToString();
  EXPECT_EQ(first.Header("content-type").rfind("text/plain", 0), 0u)
      << first.Header("content-type");
  EXPECT_NE(first.Header("content-type").find("version=0.0.4"),
            std::string::npos)
      << first.Header("content-type");
  ExpectPromtoolClean(first.body, "start");
  PromScrape m = ParsePromText(first.body);
  EXPECT_TRUE(m.errors.empty()) << m.errors.front();
  EXPECT_EQ(
      MetricOr(m, "corefork_build_info", {{"version", COREFORK_VERSION}}, -1),
      1);
  EXPECT_EQ(MetricOr(m, "corefork_workers_desired", {}, -1), 2);
  EXPECT_EQ(MetricOr(m, "corefork_workers", {{"state", "ready"}}, -1), 2);
  for (const char* state : {"starting", "stopping", "backoff"}) {
    EXPECT_EQ(MetricOr(m, "corefork_workers", {{"state", state}}, -1), 0)
        << state;
  }
  EXPECT_EQ(MetricOr(m, "corefork_ready", {}, -1), 1);
  EXPECT_EQ(MetricOr(m, "corefork_draining", {}, -1), 0);
  for (const char* reason : {"crash", "watchdog", "ready_timeout", "reload"}) {
    EXPECT_EQ(
        MetricOr(m, "corefork_worker_restarts_total", {{"reason", reason}}, -1),
        0)
        << reason << " must be exported at 0 from the start";
  }
  EXPECT_EQ(m.Sum("corefork_worker_exits_total"), 0);
  EXPECT_EQ(MetricOr(m, "corefork_worker_ready_seconds_count", {}, -1), 2);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_ready_seconds_bucket", {{"le", "+Inf"}}, -1),
      2);
  EXPECT_EQ(m.types["corefork_worker_ready_seconds"], "histogram");
  EXPECT_EQ(m.types["corefork_worker_restarts_total"].empty()
                ? m.types["corefork_worker_restarts"]
                : m.types["corefork_worker_restarts_total"],
            "counter");
  for (const char* name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
        "process_start_time_seconds"}) {
    EXPECT_EQ(m.Count(name), 1u) << name;
  }
  ProcTimes self = ReadProcTimes(cf.pid());
  EXPECT_NEAR(MetricOr(m, "process_start_time_seconds", {}, -1),
              self.start_unix, 1.0);
  EXPECT_EQ(m.Count("corefork_worker_cpu_seconds_total"), 2u);
  ExpectWorkerMatchesProc(0, st.slots[0].pid);
  ExpectWorkerMatchesProc(1, st.slots[1].pid);

  // ---- kill -9 of worker 0 -------------------------------------------------
  const pid_t victim = st.slots[0].pid;
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        return s.AllReady(2) && s.slots[0].pid != victim;
      },
      milliseconds(10000), &st))
      << st.raw;
  m = Scrape();
  EXPECT_EQ(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "killed"}, {"code_or_signal", "SIGKILL"}}, -1),
            1);
  EXPECT_EQ(m.Sum("corefork_worker_exits_total"), 1);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "crash"}}, -1),
      1);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "reload"}}, -1),
      0);
  EXPECT_EQ(MetricOr(m, "corefork_worker_ready_seconds_count", {}, -1), 3);
  EXPECT_EQ(MetricOr(m, "corefork_workers", {{"state", "ready"}}, -1), 2);
  ExpectWorkerMatchesProc(0, st.slots[0].pid);

  // ---- rolling reload ------------------------------------------------------
  const std::vector<pid_t> before_reload = st.Pids();
  ASSERT_TRUE(cf.Signal(SIGHUP));
  ASSERT_TRUE(WaitStatus(
      [&](const CoreforkStatus& s) {
        if (!s.AllReady(2) || s.reloading) return false;
        for (pid_t p : s.Pids()) {
          if (p == before_reload[0] || p == before_reload[1]) return false;
        }
        return true;
      },
      milliseconds(10000), &st))
      << st.raw;
  ASSERT_TRUE(PollUntil(
      [&] {
        return Metric("corefork_worker_exits_total",
                      {{"kind", "exited"}, {"code_or_signal", "0"}}) >= 2;
      },
      milliseconds(5000)));
  std::string last_text;
  m = Scrape(&last_text);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "reload"}}, -1),
      2);
  EXPECT_EQ(
      MetricOr(m, "corefork_worker_restarts_total", {{"reason", "crash"}}, -1),
      1);
  EXPECT_EQ(MetricOr(m, "corefork_worker_exits_total",
                     {{"kind", "exited"}, {"code_or_signal", "0"}}, -1),
            2);
  EXPECT_EQ(m.Sum("corefork_worker_exits_total"), 3);
  EXPECT_EQ(MetricOr(m, "corefork_worker_ready_seconds_count", {}, -1), 5);
  EXPECT_EQ(MetricOr(m, "corefork_workers", {{"state", "ready"}}, -1), 2);
  EXPECT_EQ(MetricOr(m, "corefork_workers", {{"state", "stopping"}}, -1), 0);
  EXPECT_EQ(m.Count("corefork_worker_cpu_seconds_total"), 2u)
      << "one sample per slot, not per process ever started";
  ExpectWorkerMatchesProc(0, st.slots[0].pid);
  ExpectWorkerMatchesProc(1, st.slots[1].pid);
  ExpectPromtoolClean(last_text, "after-kill-and-reload");
  if (promtool_missing_) {
    GTEST_SKIP() << "promtool not installed (Debian package `prometheus`): "
                    "values checked, promtool lint not run";
  }
}

// Prometheus keeps its scrape connection open: a scrape on a reused
// keep-alive connection must be as quick as one on a new connection, not
// held back by Nagle's algorithm meeting the client's delayed ACK (~40 ms on
// Linux when a response leaves in two writes without TCP_NODELAY).
TEST_F(AdminMetricsTest, KeepAliveScrapesAreNotDelayed) {
  Process& cf =
      StartWith("shutdown: {drain_delay: 0s, timeout: 5s}\n", 2, {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << st.raw;
  for (const char* path : {"/metrics", "/livez"}) {
    std::string error;
    std::vector<double> ms = KeepAliveTimes(admin_port(), path, 11, &error);
    ASSERT_EQ(ms.size(), 11u) << path << ": " << error;
    std::vector<double> reused(ms.begin() + 1, ms.end());  // not the first
    std::sort(reused.begin(), reused.end());
    const double median = reused[reused.size() / 2];
    std::string all;
    for (double t : ms) all += std::to_string(t).substr(0, 6) + " ";
    std::cout << "[ figures  ] " << path
              << " on one keep-alive connection, ms: " << all << "\n";
    EXPECT_LT(median, 25.0)
        << path << ": requests on a reused keep-alive connection take "
        << median << " ms (median); all, ms: " << all;
  }
}

}  // namespace
}  // namespace corefork::harness
