#include "metrics/app_metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace corefork {
namespace {

// What prom-client 15 serves for a counter and a histogram (abridged).
constexpr char kWorker0[] =
    "# HELP http_requests_total Requests served\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{route=\"/\"} 3\n"
    "http_requests_total{route=\"/a\\\"b\"} 1\n"
    "\n"
    "# HELP latency_seconds Latency\n"
    "# TYPE latency_seconds histogram\n"
    "latency_seconds_bucket{le=\"0.1\"} 2\n"
    "latency_seconds_bucket{le=\"+Inf\"} 4\n"
    "latency_seconds_sum 0.5\n"
    "latency_seconds_count 4\n";
// The same families in another order, plus one of its own.
constexpr char kWorker1[] =
    "# HELP latency_seconds Latency\n"
    "# TYPE latency_seconds histogram\n"
    "latency_seconds_bucket{le=\"0.1\"} 1\n"
    "latency_seconds_bucket{le=\"+Inf\"} 1\n"
    "latency_seconds_sum 0.05\n"
    "latency_seconds_count 1\n"
    "# HELP http_requests_total Requests served\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{route=\"/\"} 5\n"
    "# TYPE up_since gauge\n"
    "up_since 1.7e9\n";

TEST(AppMetricsTest, RegroupsFamiliesAndLabelsEverySample) {
  MergeCounts counts;
  std::string merged =
      MergeAppMetrics("", {{0, kWorker0}, {1, kWorker1}}, &counts);
  EXPECT_EQ(merged,
            "# HELP http_requests_total Requests served\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{worker=\"0\",route=\"/\"} 3\n"
            "http_requests_total{worker=\"0\",route=\"/a\\\"b\"} 1\n"
            "http_requests_total{worker=\"1\",route=\"/\"} 5\n"
            "# HELP latency_seconds Latency\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{worker=\"0\",le=\"0.1\"} 2\n"
            "latency_seconds_bucket{worker=\"0\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{worker=\"0\"} 0.5\n"
            "latency_seconds_count{worker=\"0\"} 4\n"
            "latency_seconds_bucket{worker=\"1\",le=\"0.1\"} 1\n"
            "latency_seconds_bucket{worker=\"1\",le=\"+Inf\"} 1\n"
            "latency_seconds_sum{worker=\"1\"} 0.05\n"
            "latency_seconds_count{worker=\"1\"} 1\n"
            "# TYPE up_since gauge\n"
            "up_since{worker=\"1\"} 1.7e9\n");
  EXPECT_EQ(counts.samples, 12u);
  EXPECT_EQ(counts.families, 3u);
  EXPECT_EQ(counts.dropped_lines, 0u);
}

TEST(AppMetricsTest, RenamesTheAppsOwnWorkerLabel) {
  std::string merged = MergeAppMetrics(
      "", {{2, "jobs{worker=\"w7\", queue=\"q\"} 1\n"}}, nullptr);
  EXPECT_EQ(merged,
            "jobs{worker=\"2\",exported_worker=\"w7\",queue=\"q\"} 1\n");
}

TEST(AppMetricsTest, WorkerSamplesJoinCoreforksFamilyOfTheSameName) {
  MergeCounts counts;
  std::string merged = MergeAppMetrics(
      "# HELP process_open_fds Open fds.\n# TYPE process_open_fds gauge\n"
      "process_open_fds 12\n# TYPE corefork_workers gauge\ncorefork_workers "
      "2\n",
      {{0,
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds 20\n"},
       {1, "# TYPE process_open_fds gauge\nprocess_open_fds 21\n"}},
      &counts);
  EXPECT_EQ(merged,
            "# HELP process_open_fds Open fds.\n"
            "# TYPE process_open_fds gauge\n"
            "process_open_fds 12\n"
            "process_open_fds{worker=\"0\"} 20\n"
            "process_open_fds{worker=\"1\"} 21\n"
            "# TYPE corefork_workers gauge\n"
            "corefork_workers 2\n");
  EXPECT_EQ(counts.families, 1u);
  EXPECT_EQ(counts.samples, 2u);
}

TEST(AppMetricsTest, LeavesOutClashingAndMalformedLines) {
  MergeCounts counts;
  std::string merged =
      MergeAppMetrics("# TYPE corefork_workers gauge\ncorefork_workers 1\n",
                      {{0,
                        "# TYPE corefork_workers counter\ncorefork_workers 9\n"
                        "# TYPE q gauge\nq 1\n"
                        "broken{le=\"x} 1\n"
                        "novalue{a=\"b\"}\n"
                        "{a=\"b\"} 1\r\n"},
                       {1, "# TYPE q counter\nq 2\nok_total 1\r\n"}},
                      &counts);
  EXPECT_EQ(merged,
            "# TYPE corefork_workers gauge\n"
            "corefork_workers 1\n"
            "# TYPE q gauge\n"
            "q{worker=\"0\"} 1\n"
            "ok_total{worker=\"1\"} 1\n");
  // corefork_workers (TYPE counter against corefork's gauge), broken,
  // novalue, {a=...}, and worker 1's q (counter against worker 0's gauge).
  EXPECT_EQ(counts.dropped_lines, 5u);
}

// Prometheus's own checker accepts the merged text (promtool comes with
// Debian's prometheus package, which the test command installs).
constexpr char kOwn[] =
    "# HELP process_cpu_seconds_total CPU time.\n"
    "# TYPE process_cpu_seconds_total counter\n"
    "process_cpu_seconds_total 0.25\n";

TEST(AppMetricsTest, PromtoolAcceptsTheMergedText) {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed";
  }
  std::string merged =
      MergeAppMetrics(kOwn, {{0, kWorker0}, {1, kWorker1}}, nullptr);
  char path[] = "/tmp/app_metrics_test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, merged.data(), merged.size()),
            static_cast<ssize_t>(merged.size()));
  close(fd);
  const std::string command =
      std::string("/usr/bin/promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) output += buf;
  const int status = pclose(p);
  unlink(path);
  // promtool lints too (exit 3 for lint-only findings such as a counter
  // without _total); a parse error is exit 1.
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 1) << output;
  EXPECT_EQ(output.find("error"), std::string::npos) << output;
}

}  // namespace
}  // namespace corefork
