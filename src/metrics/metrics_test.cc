#include "metrics/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "metrics/test_children.h"

namespace corefork {
namespace {

using test_children::KillAndReap;
using test_children::Reap;
using test_children::SpawnShell;
using test_children::SpawnSleeper;

// True when `line` is one whole line of the exposition.
bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// The value of the sample whose name and labels are exactly `series`.
std::optional<double> SampleValue(const std::string& text,
                                  const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series + " ")) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

double NowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Wait statuses of real children, as the supervisor's reaper sees them.
int StatusOfExit3() { return Reap(SpawnShell("exit 3")); }
int StatusOfKill9() { return KillAndReap(SpawnSleeper()); }

TEST(MetricsTest, LauncherSamplesAfterEvents) {
  Metrics metrics("1.2.3");
  metrics.SetLimits(1.5, uint64_t{512} << 20);
  metrics.SetWorkers(4, {{"ready", 3}, {"starting", 1}});
  metrics.SetReady(true);
  metrics.SetDraining(false);
  metrics.CountRestart("crash");
  metrics.CountRestart("crash");
  metrics.CountRestart("scale");
  metrics.CountRecycle("max_rss");
  metrics.CountRestart("max_rss");
  metrics.CountExit(StatusOfExit3());
  metrics.CountExit(StatusOfKill9());
  metrics.ObserveReadySeconds(0.375);
  metrics.ObserveReadySeconds(2);
  const std::string text = metrics.Scrape({});

  const struct {
    std::string name;
    std::string line;
  } cases[] = {
      {"build info", R"(corefork_build_info{version="1.2.3"} 1)"},
      {"cpu limit", "corefork_cpu_limit_cores 1.5"},
      {"memory limit", "corefork_memory_limit_bytes 536870912"},
      {"desired", "corefork_workers_desired 4"},
      {"ready workers", R"(corefork_workers{state="ready"} 3)"},
      {"starting workers", R"(corefork_workers{state="starting"} 1)"},
      {"stopping workers", R"(corefork_workers{state="stopping"} 0)"},
      {"backoff workers", R"(corefork_workers{state="backoff"} 0)"},
      {"ready", "corefork_ready 1"},
      {"draining", "corefork_draining 0"},
      {"crash restarts", R"(corefork_worker_restarts_total{reason="crash"} 2)"},
      {"watchdog restarts precreated",
       R"(corefork_worker_restarts_total{reason="watchdog"} 0)"},
      {"ready_timeout restarts precreated",
       R"(corefork_worker_restarts_total{reason="ready_timeout"} 0)"},
      {"reload restarts precreated",
       R"(corefork_worker_restarts_total{reason="reload"} 0)"},
      {"restart reason on first use",
       R"(corefork_worker_restarts_total{reason="scale"} 1)"},
      {"max_rss recycle",
       R"(corefork_worker_recycles_total{reason="max_rss"} 1)"},
      {"max_rss restart",
       R"(corefork_worker_restarts_total{reason="max_rss"} 1)"},
      {"lifetime recycles precreated",
       R"(corefork_worker_recycles_total{reason="max_lifetime"} 0)"},
      {"schedule recycles precreated",
       R"(corefork_worker_recycles_total{reason="schedule"} 0)"},
      {"pressure recycles precreated",
       R"(corefork_worker_recycles_total{reason="memory_pressure"} 0)"},
      {"pressure restarts precreated",
       R"(corefork_worker_restarts_total{reason="memory_pressure"} 0)"},
      {"exit 3",
       R"(corefork_worker_exits_total{code_or_signal="3",kind="exited"} 1)"},
      {"kill -9",
       R"(corefork_worker_exits_total{code_or_signal="SIGKILL",kind="killed"} 1)"},
      {"ready count", "corefork_worker_ready_seconds_count 2"},
      {"ready sum", "corefork_worker_ready_seconds_sum 2.375"},
      {"ready le 0.25", R"(corefork_worker_ready_seconds_bucket{le="0.25"} 0)"},
      {"ready le 0.5", R"(corefork_worker_ready_seconds_bucket{le="0.5"} 1)"},
      {"ready le 2.5", R"(corefork_worker_ready_seconds_bucket{le="2.5"} 2)"},
      {"ready le 60", R"(corefork_worker_ready_seconds_bucket{le="60"} 2)"},
      {"ready le +Inf", R"(corefork_worker_ready_seconds_bucket{le="+Inf"} 2)"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(HasLine(text, c.line)) << c.name << "\n" << text;
  }
}

TEST(MetricsTest, LimitsExportedOnlyWhenKnown) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const struct {
    std::string name;
    std::optional<double> cpu;
    std::optional<uint64_t> memory;
    bool cpu_exported;
    bool memory_exported;
  } cases[] = {
      {"both unknown", std::nullopt, std::nullopt, false, false},
      {"cpu only", 2, std::nullopt, true, false},
      {"memory only", std::nullopt, 1024, false, true},
      {"cpu NaN", nan, 1024, false, true},
      {"both known", 0.5, 1024, true, true},
  };
  Metrics metrics("test");  // reused: a limit that goes away must vanish
  for (const auto& c : cases) {
    metrics.SetLimits(c.cpu, c.memory);
    const std::string text = metrics.Scrape({});
    EXPECT_EQ(text.find("corefork_cpu_limit_cores") != std::string::npos,
              c.cpu_exported)
        << c.name;
    EXPECT_EQ(text.find("corefork_memory_limit_bytes") != std::string::npos,
              c.memory_exported)
        << c.name;
  }
}

TEST(MetricsTest, WorkerStatesAlwaysComplete) {
  using Counts = std::map<std::string, int>;
  const struct {
    std::string name;
    std::optional<Counts> counts;  // nullopt: no call
    std::vector<std::string> lines;
  } cases[] = {
      {"nothing yet",
       std::nullopt,
       {R"(corefork_workers{state="ready"} 0)",
        R"(corefork_workers{state="backoff"} 0)"}},
      {"all ready",
       Counts{{"ready", 2}},
       {R"(corefork_workers{state="ready"} 2)",
        R"(corefork_workers{state="starting"} 0)"}},
      {"a state left out is 0, not stale",
       Counts{{"starting", 2}},
       {R"(corefork_workers{state="ready"} 0)",
        R"(corefork_workers{state="starting"} 2)"}},
  };
  Metrics metrics("test");
  for (const auto& c : cases) {
    if (c.counts) metrics.SetWorkers(2, *c.counts);
    const std::string text = metrics.Scrape({});
    for (const std::string& line : c.lines) {
      EXPECT_TRUE(HasLine(text, line)) << c.name << ": " << line;
    }
  }
}

TEST(MetricsTest, PerWorkerSamplesFollowLiveProcesses) {
  Metrics metrics("test");
  const pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  const std::vector<WorkerPid> workers = {{0, pid}, {1, -1}};
  const std::string live = metrics.Scrape(workers);
  KillAndReap(pid);
  const std::string gone = metrics.Scrape(workers);

  const char* series[] = {
      R"(corefork_worker_cpu_seconds_total{worker="0"})",
      R"(corefork_worker_resident_memory_bytes{worker="0"})",
      R"(corefork_worker_open_fds{worker="0"})",
      R"(corefork_worker_start_time_seconds{worker="0"})",
  };
  for (const char* s : series) {
    EXPECT_TRUE(SampleValue(live, s).has_value()) << s << "\n" << live;
    EXPECT_FALSE(SampleValue(gone, s).has_value()) << s;
  }
  EXPECT_EQ(live.find(R"(worker="1")"), std::string::npos) << "slot w/o pid";
  EXPECT_EQ(gone.find("corefork_worker_open_fds"), std::string::npos)
      << "no live worker: the family is left out";
  std::optional<double> started =
      SampleValue(live, R"(corefork_worker_start_time_seconds{worker="0"})");
  ASSERT_TRUE(started.has_value());
  EXPECT_NEAR(*started, NowSeconds(), 5);
}

TEST(MetricsTest, ProcessMetricsArePlausible) {
  const std::string text = Metrics("test").Scrape({});
  const double now = NowSeconds();
  const struct {
    std::string series;
    double min;
    double max;
  } cases[] = {
      {"process_cpu_seconds_total", 0, 3600},
      {"process_resident_memory_bytes", 1 << 20, 1e12},
      {"process_virtual_memory_bytes", 1 << 20, 1e15},
      {"process_open_fds", 3, 1e6},
      {"process_max_fds", 3, 1e9},
      {"process_start_time_seconds", now - 3600, now + 1},
  };
  for (const auto& c : cases) {
    std::optional<double> value = SampleValue(text, c.series);
    ASSERT_TRUE(value.has_value()) << c.series << "\n" << text;
    EXPECT_GE(*value, c.min) << c.series;
    EXPECT_LE(*value, c.max) << c.series;
  }
  EXPECT_GT(*SampleValue(text, "process_virtual_memory_bytes"),
            *SampleValue(text, "process_resident_memory_bytes"));
}

// `promtool check metrics` exits 0 clean, 1 on parse errors, 3 on lint
// problems (missing HELP, counters without _total, non-base units, ...).
TEST(MetricsTest, PromtoolAcceptsTheScrape) {
  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (apt-get install -y prometheus)";
  }
  Metrics metrics("1.2.3");
  metrics.SetLimits(1.5, uint64_t{1} << 30);
  metrics.SetWorkers(2, {{"ready", 1}, {"starting", 1}});
  metrics.CountRestart("crash");
  metrics.CountExit(StatusOfExit3());
  metrics.CountExit(StatusOfKill9());
  metrics.ObserveReadySeconds(0.2);
  const pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  const std::string text = metrics.Scrape({{0, pid}, {1, getpid()}});
  KillAndReap(pid);

  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("corefork_metrics_test_" + std::to_string(getpid()) + ".prom");
  std::ofstream(file) << text;
  const std::string command =
      "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string report;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), out) != nullptr) report += buffer;
  const int status = pclose(out);
  std::filesystem::remove(file);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << report << "\n" << text;
}

// Scrape() runs on several HTTP threads while the loop records events.
TEST(MetricsTest, ConcurrentScrapesWhileCounting) {
  constexpr int kEvents = 2000;
  Metrics metrics("test");
  std::atomic<bool> done{false};
  std::atomic<int> running{0};  // scrapers that finished a first scrape
  std::atomic<int> scrapes{0};
  std::vector<std::thread> scrapers;
  for (int i = 0; i < 4; ++i) {
    scrapers.emplace_back([&] {
      const std::vector<WorkerPid> workers = {{0, getpid()}};
      for (int n = 0; n == 0 || !done; ++n) {
        if (metrics.Scrape(workers).find("corefork_ready") !=
            std::string::npos) {
          ++scrapes;
        }
        if (n == 0) ++running;
      }
    });
  }
  // Count only once every scraper is in its loop, so the two overlap.
  while (running < 4) std::this_thread::yield();
  const int exit3 = StatusOfExit3();
  for (int i = 0; i < kEvents; ++i) {
    metrics.CountRestart("crash");
    metrics.CountRestart("reason" + std::to_string(i % 7));
    metrics.CountExit(exit3);
    metrics.ObserveReadySeconds(0.1 * (i % 10));
    metrics.SetWorkers(i % 5, {{"ready", i % 5}});
    metrics.SetLimits(i % 2 ? std::optional<double>(1.5) : std::nullopt,
                      i % 3 ? std::optional<uint64_t>(1024) : std::nullopt);
    metrics.SetReady(i % 2);
  }
  done = true;
  for (std::thread& t : scrapers) t.join();

  const std::string text = metrics.Scrape({});
  EXPECT_GE(scrapes.load(), 8) << "scrapes overlapping the counting";
  const struct {
    std::string series;
    double value;
  } cases[] = {
      {R"(corefork_worker_restarts_total{reason="crash"})", kEvents},
      {R"(corefork_worker_restarts_total{reason="reason0"})", 286},
      {R"(corefork_worker_exits_total{code_or_signal="3",kind="exited"})",
       kEvents},
      {"corefork_worker_ready_seconds_count", kEvents},
      {"corefork_workers_desired", (kEvents - 1) % 5},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SampleValue(text, c.series), c.value) << c.series;
  }
}

}  // namespace
}  // namespace corefork
