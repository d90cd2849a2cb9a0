// Whole-binary tests of metrics.app with a real, unmodified app: Express and
// prom-client from npm (tests/apps/metrics_app.js), two workers. Through the
// shared port each request reaches one worker and is counted there; corefork's
// admin /metrics carries every worker's own metrics with a worker label, so
// the sum over workers is exact (checked by promtool and by a real
// Prometheus). A worker that hangs is left out of a scrape, not waited for,
// and the worker probe (health.worker) replaces it.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "net/steering.h"
#include "support/admin_fixture.h"
#include "support/dropin.h"
#include "support/http.h"
#include "support/prom_text.h"
#include "support/prometheus.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kAppStart{30000};  // node on a busy 2-core machine

class AppMetricsTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    if (std::string missing = MissingAppDeps(AppNeeds::kNodeModules);
        !missing.empty()) {
      GTEST_SKIP() << missing;
    }
  }

  int line_base() const { return 21000 + (getpid() % 600) * 16; }

  // Two workers of metrics_app.js, ready once each called listen().
  Process& StartApp(const std::string& extra = "") {
    return StartWith(
        "metrics: {app: {path: /metrics, timeout: 1s}}\n"
        "steering: {line_ports: " +
            std::to_string(line_base()) + "}\n" + extra,
        2, Sh("cd " + ShellQuote(AppsDir()) + " && exec node metrics_app.js"));
  }

  // promtool's verdict on `text`: "" when it parses (lint notes allowed).
  static std::string PromtoolErrors(const std::string& text) {
    const std::string path =
        "/tmp/app_metrics_test." + std::to_string(getpid()) + ".prom";
    std::ofstream(path) << text;
    FILE* p = popen(
        ("/usr/bin/promtool check metrics < " + path + " 2>&1").c_str(), "r");
    std::string out;
    char buf[512];
    while (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = p == nullptr ? -1 : pclose(p);
    unlink(path.c_str());
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 1) {
      return "promtool: " + out;
    }
    return out.find("error") == std::string::npos ? "" : out;
  }

  // Opens a line to `slot` and sends GET `path` without waiting for an
  // answer; the connection stays open while the returned Fd lives.
  Fd SendThroughLine(int slot, int group, const std::string& path) {
    LinePorts lines{static_cast<uint16_t>(line_base()), 4};
    Result<Fd> fd = ConnectLine(false, app_port(), lines, slot, group, 3);
    EXPECT_TRUE(fd.ok()) << fd.status().message();
    if (!fd.ok()) return Fd();
    pollfd p{fd->get(), POLLOUT, 0};
    EXPECT_EQ(poll(&p, 1, 2000), 1);
    const std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
    EXPECT_EQ(send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    return std::move(fd).value();
  }
};

TEST_F(AppMetricsTest, TheSumOverWorkersCountsEveryRequestExactly) {
  Process& cf = StartApp();
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  constexpr int kRequests = 300;
  AnswerCount answers = CountAnswers(app_port(), kRequests);
  ASSERT_EQ(answers.failed, 0) << answers.Summary();
  ASSERT_EQ(answers.by_pid.size(), 2u) << answers.Summary();

  std::string raw;
  PromScrape m = Scrape(&raw);
  EXPECT_TRUE(m.errors.empty()) << raw;
  EXPECT_EQ(m.Sum("app_requests_total"), kRequests) << raw;
  for (const char* worker : {"0", "1"}) {
    EXPECT_GT(m.Sum("app_requests_total", {{"worker", worker}}), 0)
        << "worker " << worker << "\n"
        << raw;
    // prom-client's defaults join corefork's family of the same name.
    EXPECT_EQ(m.Count("process_open_fds", {{"worker", worker}}), 1u) << raw;
  }
  EXPECT_EQ(m.types["app_requests_total"], "counter");
  EXPECT_TRUE(m.Get("corefork_workers_desired").has_value()) << raw;
  EXPECT_EQ(PromtoolErrors(raw), "") << raw;
}

// The same sum, as Prometheus computes it from its own scrapes of corefork.
TEST_F(AppMetricsTest, RealPrometheusSumsTheWorkersCounters) {
  const std::string prometheus = FindPrometheus();
  if (prometheus.empty()) GTEST_SKIP() << "prometheus is not installed";
  Process& cf = StartApp();
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  constexpr int kRequests = 120;
  AnswerCount answers = CountAnswers(app_port(), kRequests);
  ASSERT_EQ(answers.failed, 0) << answers.Summary();

  const int prom_port = FreePort();
  PrometheusApi api(prom_port);
  const std::string target = "127.0.0.1:" + std::to_string(admin_port());
  Process& prom = Spawn(PrometheusArgv(
      prometheus, WriteConfig(PrometheusYaml("web", target), "prometheus.yml"),
      Path("tsdb"), prom_port));
  std::string why;
  ASSERT_TRUE(api.WaitTargetUp(prom, target, milliseconds(25000), &why)) << why;
  std::string sum, workers;
  EXPECT_TRUE(PollUntil(
      [&] {
        sum = api.QueryValue("sum(app_requests_total)");
        workers = api.QueryValue("count(app_requests_total)");
        return sum == std::to_string(kRequests) && workers == "2";
      },
      milliseconds(10000), milliseconds(200)))
      << "sum(app_requests_total)=" << sum
      << " count(app_requests_total)=" << workers << "; " << api.last_answer();
}

// A worker whose event loop hangs answers nothing: the scrape leaves it out
// after metrics.app.timeout (1 s), with the other worker's metrics, and
// counts it.
TEST_F(AppMetricsTest, AHungWorkerIsLeftOutNotWaitedFor) {
  Process& cf = StartApp();
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  Fd hang = SendThroughLine(1, 2, "/hang");
  ASSERT_TRUE(hang.valid());
  const auto start = steady_clock::now();
  std::string raw;
  PromScrape m = Scrape(&raw);
  const auto took = steady_clock::now() - start;
  EXPECT_LT(took, milliseconds(2500)) << "the scrape waited for the hung app";
  EXPECT_EQ(m.Count("process_open_fds", {{"worker", "1"}}), 0u) << raw;
  EXPECT_EQ(m.Count("process_open_fds", {{"worker", "0"}}), 1u) << raw;
  EXPECT_TRUE(PollUntil(
      [&] {
        return MetricOr(Scrape(), "corefork_app_metrics_skipped_total",
                        {{"worker", "1"}}) >= 1;
      },
      milliseconds(5000)));
  // /livez is not slowed by any of it.
  const auto live_start = steady_clock::now();
  EXPECT_EQ(Admin("/livez").status, 200);
  EXPECT_LT(steady_clock::now() - live_start, milliseconds(500));
}

// health.worker: a worker whose event loop hangs fails its probe 2 times in
// a row (interval 500 ms, timeout 500 ms) and is replaced, readiness-gated,
// within interval x failures + timeout (+ node's start); the other worker
// serves throughout.
TEST_F(AppMetricsTest, TheProbeReplacesAHungWorker) {
  Process& cf = StartApp(
      "health: {worker: {path: /healthz, interval: 500ms, timeout: 500ms, "
      "failures: 2}}\n"
      "shutdown: {timeout: 2s}\n");
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, kAppStart, &st)) << st.raw;
  const pid_t hung = st.Slot(1).at(0).pid;
  const pid_t other = st.Slot(0).at(0).pid;
  Fd hang = SendThroughLine(1, 2, "/hang");
  ASSERT_TRUE(hang.valid());
  const auto start = steady_clock::now();
  int served = 0, failed = 0;
  bool replaced = false;
  while (!replaced && steady_clock::now() - start < kAppStart) {
    // New connections keep being answered (by worker 0, once the probe
    // has failed: the hung worker stays "ready" until it is replaced).
    HttpResponse r = HttpGet("127.0.0.1", app_port(), "/", milliseconds(200));
    r.status == 200 ? ++served : ++failed;
    st = Status();
    const std::vector<SlotStatus> slot1 = st.Slot(1);
    replaced = slot1.size() == 1 && slot1[0].pid != hung &&
               slot1[0].state == "ready" && ProcessGone(hung);
  }
  const auto took =
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  ASSERT_TRUE(replaced) << st.raw << "\n" << cf.Stderr();
  std::cout << "[ figures  ] hung worker replaced " << took.count()
            << " ms after it hung; meanwhile " << served << " answered, "
            << failed << " not answered in 200 ms\n";
  EXPECT_EQ(st.Slot(0).at(0).pid, other) << "the healthy worker was kept";
  EXPECT_GE(MetricOr(Scrape(), "corefork_worker_probe_failures_total", {}), 2);
  EXPECT_EQ(MetricOr(Scrape(), "corefork_worker_restarts_total",
                     {{"reason", "probe"}}),
            1);
  EXPECT_NE(cf.Stderr().find("replacing it (probe)"), std::string::npos);
}

}  // namespace
}  // namespace corefork::harness
