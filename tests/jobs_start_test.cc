// Whole-binary tests of at-start jobs (docs/jobs.md, `at_start`): they run
// one at a time, in name order, before any worker starts; a required one
// that fails stops startup with its stderr and exit code 5; a non-required
// one only logs.
#include <string>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class JobsStartTest : public JobsTest {
 protected:
  // A worker that records its start in `file` and then idles.
  std::vector<std::string> RecordingWorker(const std::string& file) {
    return {"/bin/sh", "-c",
            "echo \"worker $COREFORK_WORKER_ID\" >> '" + file +
                "'; exec sleep 1000"};
  }
};

TEST_F(JobsStartTest, StartJobsRunInNameOrderBeforeAnyWorker) {
  const std::string order = Path("order");
  const std::string done = Path("first.done");
  // Listed out of order: the names decide. The first one takes a while, so
  // a worker started alongside it would write its line first.
  const std::string yaml =
      "jobs:\n"
      "  20-second:\n"
      "    command: " +
      ShCommand("test -f '" + done +
                "' || { echo 'first not done' >&2; exit 1; }; "
                "echo second >> '" +
                order + "'") +
      "\n"
      "    at_start: true\n"
      "  10-first:\n"
      "    command: " +
      ShCommand("sleep 0.4; echo first >> '" + order + "'; touch '" + done +
                "'") +
      "\n"
      "    at_start: true\n";
  Process& cf = StartJobs(yaml, RecordingWorker(order));
  ASSERT_TRUE(PollUntil(
      [&] { return ReadFile(order).find("worker") != std::string::npos; },
      milliseconds(10000)))
      << "the worker never started; order file: '" << ReadFile(order) << "'";
  EXPECT_EQ(ReadFile(order), "first\nsecond\nworker 0\n");
  EXPECT_TRUE(cf.Running());

  // Both runs are visible as at_start runs that succeeded.
  ASSERT_TRUE(WaitControl(cf));
  for (uint64_t id : {1, 2}) {
    UnixHttpResponse r = Control("GET", "/jobs/runs/" + std::to_string(id));
    ASSERT_EQ(r.status, 200) << r.ToString();
    JsonValue run = Body(r);
    EXPECT_EQ(run.Str("trigger").value_or(""), "at_start") << r.body;
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << r.body;
    EXPECT_EQ(run.Str("job").value_or(""), id == 1 ? "10-first" : "20-second")
        << r.body;
  }
}

TEST_F(JobsStartTest, FailingRequiredStartJobStopsStartupWithItsMessage) {
  const std::string workers = Path("workers");
  const std::string later = Path("later.ran");
  const std::string yaml =
      "jobs:\n"
      "  10-migrate:\n"
      "    command: " +
      ShCommand(
          "echo 'migration 42 failed: relation users is missing' >&2; "
          "exit 3") +
      "\n"
      "    at_start: true\n"  // required: true is the default
      "  20-warm:\n"
      "    command: " +
      ShCommand("touch '" + later + "'") +
      "\n"
      "    at_start: true\n";
  Process& cf = StartJobs(yaml, RecordingWorker(workers));
  std::optional<int> code = cf.WaitExit(milliseconds(10000));
  ASSERT_TRUE(code.has_value()) << "corefork still running";
  EXPECT_EQ(*code, 5);
  EXPECT_NE(cf.Stderr().find("migration 42 failed: relation users is missing"),
            std::string::npos)
      << "the job's stderr is not in corefork's stderr";
  EXPECT_NE(cf.Stderr().find("10-migrate"), std::string::npos)
      << "corefork's stderr does not name the failed job";
  EXPECT_FALSE(FileExists(workers))
      << "a worker started: " << ReadFile(workers);
  EXPECT_FALSE(FileExists(later)) << "the next start job ran anyway";
}

TEST_F(JobsStartTest, RequiredStartJobThatTimesOutStopsStartup) {
  const std::string workers = Path("workers");
  const std::string pid_file = Path("job.pid");
  const std::string yaml =
      "jobs:\n"
      "  migrate:\n"
      "    command: " +
      ShCommand("echo $$ > '" + pid_file + "'; exec sleep 30") +
      "\n"
      "    at_start: true\n"
      "    timeout: 300ms\n"
      "    kill_grace: 200ms\n";
  Process& cf = StartJobs(yaml, RecordingWorker(workers));
  std::optional<int> code = cf.WaitExit(milliseconds(10000));
  ASSERT_TRUE(code.has_value()) << "corefork still running";
  EXPECT_EQ(*code, 5);
  EXPECT_NE(cf.Stderr().find("timed_out"), std::string::npos)
      << "corefork's stderr does not say the start job timed out";
  EXPECT_FALSE(FileExists(workers)) << "a worker started";
  const pid_t pid = std::atoi(ReadFile(pid_file).c_str());
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(PollUntil(
      [&] {
        ReapOrphans();
        return GoneOrZombie(pid);
      },
      milliseconds(2000)))
      << "the timed-out start job (pid " << pid << ") is still alive";
}

TEST_F(JobsStartTest, FailingOptionalStartJobLetsStartupContinue) {
  const std::string order = Path("order");
  const std::string yaml =
      "jobs:\n"
      "  10-optional:\n"
      "    command: " +
      ShCommand("echo optional >> '" + order +
                "'; echo 'cache warm-up failed' >&2; exit 1") +
      "\n"
      "    at_start: true\n"
      "    required: false\n"
      "  20-required:\n"
      "    command: " +
      ShCommand("echo required >> '" + order + "'") +
      "\n"
      "    at_start: true\n";
  Process& cf = StartJobs(yaml, RecordingWorker(order));
  ASSERT_TRUE(PollUntil(
      [&] { return ReadFile(order).find("worker") != std::string::npos; },
      milliseconds(10000)))
      << "the worker never started; order file: '" << ReadFile(order)
      << "', corefork " << (cf.Running() ? "running" : "exited");
  EXPECT_EQ(ReadFile(order), "optional\nrequired\nworker 0\n");
  EXPECT_TRUE(cf.Running());
  ASSERT_TRUE(WaitControl(cf));
  JsonValue run = Body(Control("GET", "/jobs/runs/1"));
  EXPECT_EQ(run.Str("state").value_or(""), "failed");
  EXPECT_EQ(run.Num("exit_code").value_or(-1), 1);
  EXPECT_EQ(run.Str("stderr").value_or(""), "cache warm-up failed\n");
}

}  // namespace
}  // namespace corefork::harness
