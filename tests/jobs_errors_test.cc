// Whole-binary tests of the job API's errors (docs/jobs.md): unknown job or
// run 404, not on_demand 409, cancel of a finished run 409, body over the
// control body limit (1 MiB) 413, queue full 429 with Retry-After, shutting
// down 503 (once the workers are being stopped; runs are still accepted
// during the drain delay). Every error has a JSON body {"error": "..."}.
#include <signal.h>

#include <string>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr size_t kBodyLimit = 1024 * 1024;

class JobsErrorsTest : public JobsTest {
 protected:
  // Checks `r` is an error with `status` and a JSON body with a message.
  void ExpectError(const UnixHttpResponse& r, int status,
                   const std::string& what) {
    ASSERT_EQ(r.status, status) << what << ": " << r.ToString();
    std::string error;
    std::optional<JsonValue> body = ParseJson(r.body, &error);
    ASSERT_TRUE(body.has_value() && body->is_object())
        << what << ": body is not a JSON object (" << error
        << "): " << r.ToString();
    EXPECT_FALSE(body->Str("error").value_or("").empty())
        << what << ": no \"error\" message: " << r.body;
    EXPECT_TRUE(ContainsNoCase(r.Header("Content-Type"), "json"))
        << what << ": Content-Type " << r.Header("Content-Type");
  }

  // A job that blocks until `release` exists.
  static std::string Gate(const std::string& release) {
    return ShCommand("while [ ! -f '" + release + "' ]; do sleep 0.02; done");
  }
};

TEST_F(JobsErrorsTest, UnknownJobsAndRunsAre404) {
  Process& cf =
      StartJobs("jobs:\n  echo:\n    command: [cat]\n    on_demand: true\n");
  ASSERT_TRUE(WaitControl(cf));
  ExpectError(Submit("nope"), 404, "POST /jobs/nope/runs");
  ExpectError(Submit("nope", "", true), 404, "POST /jobs/nope/runs?wait=true");
  ExpectError(Control("GET", "/jobs/runs/987654"), 404, "GET unknown run");
  ExpectError(Control("DELETE", "/jobs/runs/987654"), 404,
              "DELETE unknown run");
  ExpectError(Control("GET", "/jobs/runs/abc"), 404, "GET non-numeric run");
}

TEST_F(JobsErrorsTest, JobsThatAreNotOnDemandAre409) {
  Process& cf = StartJobs(
      "jobs:\n"
      "  nightly:\n"
      "    command: [true]\n"
      "    schedule: '0 3 * * *'\n"
      "  echo:\n"
      "    command: [cat]\n"
      "    on_demand: true\n");
  ASSERT_TRUE(WaitControl(cf));
  ExpectError(Submit("nightly"), 409, "POST to a scheduled-only job");
  ExpectError(Submit("nightly", "", true), 409, "POST ?wait=true to it");
  EXPECT_EQ(Metric("corefork_job_rejections_total",
                   {{"job", "nightly"}, {"reason", "not_on_demand"}}),
            2)
      << MetricsText();
  // Cancelling a finished run: 409.
  UnixHttpResponse r = Submit("echo", "x", true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  ExpectError(Control("DELETE", "/jobs/runs/" + std::to_string(RunId(Body(r)))),
              409, "DELETE a finished run");
}

TEST_F(JobsErrorsTest, BodyOverTheLimitIs413) {
  Process& cf = StartJobs(
      "jobs:\n  count:\n    command: [wc, -c]\n    on_demand: true\n");
  ASSERT_TRUE(WaitControl(cf));
  // At the limit: accepted, and all of it reaches stdin.
  UnixHttpResponse r = Submit("count", std::string(kBodyLimit, 'x'), true);
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(Body(r).Str("stdout").value_or(""),
            std::to_string(kBodyLimit) + "\n");
  // One byte more: 413, and no run.
  ExpectError(Submit("count", std::string(kBodyLimit + 1, 'x')), 413,
              "POST with a body of 1 MiB + 1");
  ExpectError(Submit("count", std::string(4 * kBodyLimit, 'x'), true), 413,
              "POST ?wait=true with a body of 4 MiB");
  EXPECT_EQ(Metric("corefork_job_runs_total", {{"job", "count"}}), 1)
      << MetricsText();
  EXPECT_TRUE(cf.Running());
}

TEST_F(JobsErrorsTest, FullQueueIs429WithRetryAfter) {
  const std::string release = Path("release");
  Process& cf = StartJobs(
      "jobs:\n"
      "  gate:\n"
      "    command: " +
      Gate(release) +
      "\n"
      "    concurrency: 1\n"
      "    queue: 1\n"
      "    on_demand: true\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse running = Submit("gate");
  ASSERT_EQ(running.status, 202) << running.ToString();
  ASSERT_TRUE(WaitRunState(RunId(Body(running)), "running"));
  UnixHttpResponse queued = Submit("gate");
  ASSERT_EQ(queued.status, 202) << queued.ToString();
  EXPECT_EQ(Body(queued).Str("state").value_or(""), "queued");

  UnixHttpResponse full = Submit("gate");
  ExpectError(full, 429, "POST with the queue full");
  const std::string retry = full.Header("Retry-After");
  EXPECT_FALSE(retry.empty()) << full.ToString();
  EXPECT_EQ(retry.find_first_not_of("0123456789"), std::string::npos)
      << "Retry-After: " << retry;
  ExpectError(Submit("gate", "", true), 429, "POST ?wait=true, queue full");
  EXPECT_EQ(Metric("corefork_job_rejections_total",
                   {{"job", "gate"}, {"reason", "queue_full"}}),
            2)
      << MetricsText();

  // Once the runs are done, there is room again.
  ASSERT_TRUE(WriteFile(release, ""));
  EXPECT_EQ(WaitRunEnded(RunId(Body(queued))).Str("state").value_or(""),
            "succeeded");
  EXPECT_EQ(Submit("gate", "", true).status, 200);
}

// docs/jobs.md "Execution": on-demand runs are still accepted during the
// drain delay (the workers keep serving requests that may need them); once
// the workers are told to stop, new runs get 503 while running ones finish.
TEST_F(JobsErrorsTest, RunsAreAcceptedDuringTheDrainAnd503OnceWorkersStop) {
  const std::string release = Path("release");
  Process& cf = StartJobs(
      "jobs:\n"
      "  echo:\n"
      "    command: [cat]\n"
      "    on_demand: true\n"
      "  gate:\n"
      "    command: " +
      Gate(release) +
      "\n"
      "    on_demand: true\n"
      "shutdown: {drain_delay: 1500ms, timeout: 10s}\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse running = Submit("gate");
  ASSERT_EQ(running.status, 202) << running.ToString();
  const uint64_t gate_id = RunId(Body(running));
  ASSERT_TRUE(WaitRunState(gate_id, "running"));

  ASSERT_TRUE(cf.Signal(SIGTERM));
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find("graceful shutdown") != std::string::npos;
      },
      milliseconds(3000)))
      << "corefork did not log taking SIGTERM";
  // Draining: still accepted, and run.
  UnixHttpResponse during = Submit("echo", "during drain", true);
  ASSERT_EQ(during.status, 200)
      << "POST ?wait=true during the drain delay: " << during.ToString();
  EXPECT_EQ(Body(during).Str("state").value_or(""), "succeeded");
  EXPECT_EQ(Body(during).Str("stdout").value_or(""), "during drain");

  // After the drain delay the workers are stopped; the gate run keeps
  // corefork waiting, and new runs are refused.
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find("waiting for 1 job run") != std::string::npos;
      },
      milliseconds(4000)))
      << "corefork did not log waiting for the running job";
  ExpectError(Submit("echo", "after drain"), 503, "POST after the drain");
  ExpectError(Submit("echo", "after drain", true), 503,
              "POST ?wait=true after the drain");
  EXPECT_EQ(Metric("corefork_job_rejections_total",
                   {{"job", "echo"}, {"reason", "shutting_down"}}),
            2)
      << MetricsText();
  // The running run was left alone and finishes normally.
  EXPECT_EQ(Body(Control("GET", "/jobs/runs/" + std::to_string(gate_id)))
                .Str("state")
                .value_or(""),
            "running");
  ASSERT_TRUE(WriteFile(release, ""));
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "corefork did not exit after the job ended";
  EXPECT_EQ(*code, 0);
}

// After the drain, while corefork waits for a running job to finish, new
// runs are refused with 503 too.
TEST_F(JobsErrorsTest, NewRunsWhileWaitingForRunningJobsAre503) {
  const std::string release = Path("release");
  Process& cf = StartJobs(
      "jobs:\n"
      "  gate:\n"
      "    command: " +
      Gate(release) +
      "\n"
      "    on_demand: true\n"
      "shutdown: {drain_delay: 0s, timeout: 10s}\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpResponse running = Submit("gate");
  ASSERT_EQ(running.status, 202) << running.ToString();
  const uint64_t id = RunId(Body(running));
  ASSERT_TRUE(WaitRunState(id, "running"));
  ASSERT_TRUE(cf.Signal(SIGTERM));
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find("waiting for 1 job run") != std::string::npos;
      },
      milliseconds(3000)))
      << "corefork did not log waiting for the running job";
  ExpectError(Submit("gate"), 503, "POST while waiting for running jobs");
  // The running run goes on and ends normally; then corefork exits 0.
  ASSERT_TRUE(WriteFile(release, ""));
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "corefork did not exit after the job ended";
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace corefork::harness
