// Whole-binary test: /metrics on the admin port reflects job runs
// (docs/metrics.md): runs per result, the duration histogram, running and
// queued gauges, rejections per reason.
#include <string>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class JobsMetricsTest : public JobsTest {};

TEST_F(JobsMetricsTest, MetricsReflectRuns) {
  const std::string release = Path("release");
  // The run's stdin says how it ends: "ok", "fail", "hang" (times out) or
  // "gate" (waits for the release file).
  const std::string script =
      "read what; case $what in "
      "ok) exit 0;; fail) exit 1;; hang) exec sleep 30;; "
      "gate) while [ ! -f '" +
      release + "' ]; do sleep 0.02; done;; esac";
  Process& cf = StartJobs(
      "jobs:\n"
      "  m:\n"
      "    command: " +
      ShCommand(script) +
      "\n"
      "    concurrency: 1\n"
      "    queue: 1\n"
      "    timeout: 400ms\n"
      "    kill_grace: 200ms\n"
      "    on_demand: true\n"
      "  other:\n"
      "    command: [true]\n"
      "    schedule: '@daily'\n");
  ASSERT_TRUE(WaitControl(cf));
  const std::map<std::string, std::string> m = {{"job", "m"}};

  // Before any run: the gauges exist and are 0.
  std::string text = MetricsText();
  ASSERT_FALSE(text.empty()) << "no /metrics on the admin port";
  EXPECT_EQ(MetricSample(text, "corefork_jobs_running", m), 0.0) << text;
  EXPECT_EQ(MetricSample(text, "corefork_jobs_queued", m), 0.0) << text;

  for (const char* what : {"ok", "ok", "ok", "fail", "fail", "hang"}) {
    UnixHttpResponse r = Submit("m", std::string(what) + "\n", true);
    ASSERT_EQ(r.status, 200) << what << ": " << r.ToString();
  }
  text = MetricsText();
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "m"}, {"result", "succeeded"}}),
            3.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "m"}, {"result", "failed"}}),
            2.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "m"}, {"result", "timed_out"}}),
            1.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_duration_seconds_count", m), 6.0)
      << text;
  // The timed-out run alone took >= 0.4s.
  EXPECT_GE(
      MetricSample(text, "corefork_job_duration_seconds_sum", m).value_or(0),
      0.4)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_duration_seconds_bucket",
                         {{"job", "m"}, {"le", "+Inf"}}),
            6.0)
      << text;

  // Gauges while a run runs and another waits; a third is refused.
  UnixHttpResponse running = Submit("m", "gate\n");
  ASSERT_EQ(running.status, 202) << running.ToString();
  ASSERT_TRUE(WaitRunState(RunId(Body(running)), "running"));
  UnixHttpResponse queued = Submit("m", "ok\n");
  ASSERT_EQ(queued.status, 202) << queued.ToString();
  EXPECT_EQ(Submit("m", "ok\n").status, 429);
  EXPECT_EQ(Submit("other").status, 409);
  text = MetricsText();
  EXPECT_EQ(MetricSample(text, "corefork_jobs_running", m), 1.0) << text;
  EXPECT_EQ(MetricSample(text, "corefork_jobs_queued", m), 1.0) << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_rejections_total",
                         {{"job", "m"}, {"reason", "queue_full"}}),
            1.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_rejections_total",
                         {{"job", "other"}, {"reason", "not_on_demand"}}),
            1.0)
      << text;

  // GET /jobs shows the same counts.
  UnixHttpResponse list = Control("GET", "/jobs");
  ASSERT_EQ(list.status, 200) << list.ToString();
  const JsonValue listed = Body(list);
  ASSERT_TRUE(listed["jobs"].is_array()) << list.body;
  bool found = false;
  for (const JsonValue& job : listed["jobs"].Items()) {
    if (job.Str("name").value_or("") != "m") continue;
    found = true;
    EXPECT_EQ(job.Num("running").value_or(-1), 1) << list.body;
    EXPECT_EQ(job.Num("queued").value_or(-1), 1) << list.body;
    EXPECT_EQ(job.Num("concurrency").value_or(-1), 1) << list.body;
    EXPECT_EQ(job.Num("queue").value_or(-1), 1) << list.body;
    EXPECT_EQ(job.Str("last_result").value_or(""), "timed_out") << list.body;
    const JsonValue triggers = job["triggers"];
    ASSERT_TRUE(triggers.is_array() && triggers.size() == 1) << list.body;
    EXPECT_EQ(triggers[0].AsString(), "on_demand") << list.body;
  }
  EXPECT_TRUE(found) << list.body;

  ASSERT_TRUE(WriteFile(release, ""));
  EXPECT_EQ(WaitRunEnded(RunId(Body(queued))).Str("state").value_or(""),
            "succeeded");
  text = MetricsText();
  EXPECT_EQ(MetricSample(text, "corefork_jobs_running", m), 0.0) << text;
  EXPECT_EQ(MetricSample(text, "corefork_jobs_queued", m), 0.0) << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_runs_total",
                         {{"job", "m"}, {"result", "succeeded"}}),
            5.0)
      << text;
  EXPECT_EQ(MetricSample(text, "corefork_job_duration_seconds_count", m), 8.0)
      << text;
}

}  // namespace
}  // namespace corefork::harness
