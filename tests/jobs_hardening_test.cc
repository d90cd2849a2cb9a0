// Whole-binary tests that no job can stall or fill corefork (issue 9): a job
// that writes without pause (`yes`) gets bounded reads and a bounded share
// of the log, so its timeout fires on time and /livez stays fast; and the
// history of finished runs keeps its output within job_history.max_bytes,
// oldest first, so corefork's RSS stays flat over many big runs.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::duration;
using std::chrono::milliseconds;

// VmRSS of `pid` in bytes, from /proc/PID/status (0 when unreadable).
uint64_t RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class JobsHardeningTest : public JobsTest {};

TEST_F(JobsHardeningTest, YesIsKilledAtItsTimeoutWhileLivezStaysFast) {
  Process& cf = StartJobs(
      "jobs:\n"
      "  yes:\n"
      "    command: [yes]\n"
      "    on_demand: true\n"
      "    timeout: 1s\n"
      "    kill_grace: 1s\n");
  ASSERT_TRUE(WaitControl(cf));
  ASSERT_EQ(HttpGet("127.0.0.1", admin_port(), "/livez").status, 200);

  const Clock::time_point submitted = Clock::now();
  UnixHttpResponse r = Submit("yes");
  ASSERT_EQ(r.status, 202) << r.ToString();
  const uint64_t id = RunId(Body(r));

  // /livez (a ping through the loop) over a raw connection, back to back,
  // while the run goes on; every ~10th probe also asks for the run.
  std::vector<double> livez_ms;
  int livez_failures = 0;
  JsonValue run;
  double ended_after = -1;
  const Clock::time_point deadline = submitted + milliseconds(8000);
  for (int i = 0; i < 5000 && Clock::now() < deadline; ++i) {
    const Clock::time_point t = Clock::now();
    HttpResponse livez =
        HttpGet("127.0.0.1", admin_port(), "/livez", milliseconds(3000));
    livez_ms.push_back(duration<double, std::milli>(Clock::now() - t).count());
    if (livez.status != 200) ++livez_failures;
    if (i % 10 != 0) continue;
    UnixHttpResponse got = Control("GET", "/jobs/runs/" + std::to_string(id),
                                   "", milliseconds(3000));
    if (got.status != 200) continue;
    run = Body(got);
    if (IsFinalState(run.Str("state").value_or(""))) {
      ended_after = duration<double>(Clock::now() - submitted).count();
      break;
    }
  }
  const double p99 = Percentile(livez_ms, 0.99);
  const double worst = Percentile(livez_ms, 1.0);
  std::printf(
      "[ figures  ] yes, timeout 1s: run ended (seen) %.3f s after submit, "
      "duration_seconds %.3f; /livez n=%zu p50 %.1f ms p99 %.1f ms max %.1f "
      "ms, %d failed\n",
      ended_after, run.Num("duration_seconds").value_or(-1), livez_ms.size(),
      Percentile(livez_ms, 0.5), p99, worst, livez_failures);
  EXPECT_EQ(run.Str("state").value_or(""), "timed_out") << cf.Stderr();
  EXPECT_GE(run.Num("duration_seconds").value_or(-1), 0.95);
  EXPECT_LE(run.Num("duration_seconds").value_or(99), 1.5)
      << "killed at 1 s, give or take a few loop turns";
  EXPECT_GT(ended_after, 0);
  EXPECT_LT(ended_after, 3.0);
  EXPECT_EQ(livez_failures, 0);
  EXPECT_LT(p99, 100) << "/livez p99 in ms during the run";
  EXPECT_EQ(run.Bool("stdout_truncated"), std::optional<bool>(true))
      << "yes wrote more than max_output";

  // SIGTERM is handled at once, not after a backlog of output.
  const Clock::time_point term = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "no exit 5 s after SIGTERM";
  const double exit_s = duration<double>(Clock::now() - term).count();
  std::printf("[ figures  ] SIGTERM to exit: %.3f s (code %d)\n", exit_s,
              *code);
  EXPECT_LT(exit_s, 2.0);
  EXPECT_EQ(*code, 0) << cf.Stderr().substr(0, 4000);

  // The flood reached the log only within the run's budget, then a count.
  const std::string log = cf.Stderr();
  const std::string prefix = "job yes run " + std::to_string(id) + " stdout: ";
  const size_t logged = Count(log, prefix + "y\n");
  std::printf("[ figures  ] lines of yes logged: %zu, log size %zu bytes\n",
              logged, log.size());
  EXPECT_GE(logged, 100u);
  EXPECT_LE(logged, 2000u);
  EXPECT_NE(log.find(" line(s) not logged (job log rate limit)"),
            std::string::npos);
}

TEST_F(JobsHardeningTest, HistoryKeepsOutputWithinMaxBytesAndRssStaysFlat) {
  // 1 MiB on stdout and 1 MiB on stderr per run, no newline.
  Process& cf = StartJobs(
      "jobs:\n"
      "  big:\n"
      "    command: " +
      ShCommand("head -c 1048576 /dev/zero | tr '\\0' a; "
                "head -c 1048576 /dev/zero | tr '\\0' b >&2") +
      "\n"
      "    on_demand: true\n"
      "    concurrency: 1\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse r = Submit("big", "", /*wait=*/true, milliseconds(20000));
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue first = Body(r);
  ASSERT_EQ(first.Str("stdout").value_or("").size(), 1048576u) << r.body;
  ASSERT_EQ(first.Str("stderr").value_or("").size(), 1048576u);
  const uint64_t first_id = RunId(first);
  const uint64_t rss_before = RssBytes(cf.pid());

  uint64_t rss_max = rss_before;
  uint64_t last_id = 0;
  for (int i = 0; i < 100; ++i) {
    r = Submit("big", "", /*wait=*/true, milliseconds(20000));
    ASSERT_EQ(r.status, 200) << "run " << i << ": " << r.ToString();
    last_id = RunId(Body(r));
    rss_max = std::max(rss_max, RssBytes(cf.pid()));
  }
  const uint64_t rss_after = RssBytes(cf.pid());
  std::printf(
      "[ figures  ] RSS after 1 run %.1f MiB, max during 100 x 2 MiB runs "
      "%.1f MiB, after %.1f MiB\n",
      rss_before / 1048576.0, rss_max / 1048576.0, rss_after / 1048576.0);
  // The default budget is 8 MiB of output; the rest is one run in flight,
  // its JSON reply, and allocator slack.
  EXPECT_LT(rss_after, rss_before + 24 * 1048576) << "RSS grew";
  EXPECT_LT(rss_max, rss_before + 32 * 1048576) << "RSS peaked";

  // The oldest runs keep their record, without their output.
  r = Control("GET", "/jobs/runs/" + std::to_string(first_id));
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue old = Body(r);
  EXPECT_EQ(old.Str("state").value_or(""), "succeeded");
  EXPECT_EQ(old.Bool("output_dropped"), std::optional<bool>(true)) << r.body;
  EXPECT_EQ(old.Str("stdout").value_or("x"), "");
  EXPECT_EQ(old.Str("stderr").value_or("x"), "");
  // The newest keep it: 4 runs of 2 MiB fit in 8 MiB, a fifth does not.
  for (uint64_t id = last_id - 3; id <= last_id; ++id) {
    r = Control("GET", "/jobs/runs/" + std::to_string(id));
    ASSERT_EQ(r.status, 200) << r.ToString();
    JsonValue kept = Body(r);
    EXPECT_EQ(kept.Bool("output_dropped"), std::optional<bool>(false))
        << "run " << id;
    EXPECT_EQ(kept.Str("stdout").value_or("").size(), 1048576u) << "run " << id;
  }
  r = Control("GET", "/jobs/runs/" + std::to_string(last_id - 4));
  EXPECT_EQ(Body(r).Bool("output_dropped"), std::optional<bool>(true));
}

TEST_F(JobsHardeningTest, MaxBytesIsConfigurable) {
  Process& cf = StartJobs(
      "jobs:\n"
      "  half:\n"
      "    command: " +
      ShCommand("head -c 600000 /dev/zero | tr '\\0' h") +
      "\n"
      "    on_demand: true\n"
      "job_history: {max_bytes: 1Mi}\n");
  ASSERT_TRUE(WaitControl(cf));
  uint64_t ids[2] = {0, 0};
  for (uint64_t& id : ids) {
    UnixHttpResponse r = Submit("half", "", /*wait=*/true);
    ASSERT_EQ(r.status, 200) << r.ToString();
    id = RunId(Body(r));
  }
  JsonValue older =
      Body(Control("GET", "/jobs/runs/" + std::to_string(ids[0])));
  JsonValue newer =
      Body(Control("GET", "/jobs/runs/" + std::to_string(ids[1])));
  EXPECT_EQ(older.Bool("output_dropped"), std::optional<bool>(true));
  EXPECT_EQ(older.Str("stdout").value_or("x"), "");
  EXPECT_EQ(newer.Bool("output_dropped"), std::optional<bool>(false));
  EXPECT_EQ(newer.Str("stdout").value_or("").size(), 600000u);
}

}  // namespace
}  // namespace corefork::harness
