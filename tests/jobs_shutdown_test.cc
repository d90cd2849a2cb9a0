// Whole-binary tests of shutdown with jobs (docs/jobs.md "Execution"):
// queued runs end cancelled (their waiting requests get that answer),
// running runs may finish within shutdown.timeout, then their groups are
// SIGKILLed and they end cancelled. Nothing is left running.
#include <signal.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class JobsShutdownTest : public JobsTest {};

TEST_F(JobsShutdownTest, RunningAndQueuedRunsAllGetAFinalState) {
  const std::string pids = Path("pids");
  Process& cf = StartJobs(
      "jobs:\n"
      "  work:\n"
      "    command: " +
      ShCommand("echo $$ >> '" + pids + "'; sleep 30 & echo $! >> '" + pids +
                "'; wait") +
      "\n"
      "    concurrency: 1\n"
      "    queue: 10\n"
      "    on_demand: true\n"
      "shutdown: {drain_delay: 0s, timeout: 2s}\n");
  ASSERT_TRUE(WaitControl(cf));

  // Run 1 runs (a held ?wait=true request), 2 waits (held too), 3 waits.
  UnixHttpConnection running_conn, queued_conn;
  ASSERT_TRUE(running_conn.Connect(ControlSocket(), milliseconds(2000)));
  ASSERT_TRUE(running_conn.Send("POST", "/jobs/work/runs?wait=true"));
  ASSERT_TRUE(WaitRunState(1, "running")) << "run 1 never ran";
  ASSERT_TRUE(queued_conn.Connect(ControlSocket(), milliseconds(2000)));
  ASSERT_TRUE(queued_conn.Send("POST", "/jobs/work/runs?wait=true"));
  ASSERT_TRUE(WaitRunState(2, "queued")) << "run 2 never queued";
  UnixHttpResponse async = Submit("work");
  ASSERT_EQ(async.status, 202) << async.ToString();
  ASSERT_EQ(RunId(Body(async)), 3u) << async.body;
  ASSERT_TRUE(PollUntil([&] { return ReadPids(pids).size() == 2; },
                        milliseconds(3000)));
  const std::vector<pid_t> job_pids = ReadPids(pids);  // run 1 and its child

  const auto sigterm_at = Clock::now();
  ASSERT_TRUE(cf.Signal(SIGTERM));
  // Queued runs end cancelled at once; the waiting request gets that.
  UnixHttpResponse queued = queued_conn.ReadResponse(milliseconds(3000));
  EXPECT_LT(Clock::now() - sigterm_at, milliseconds(1500))
      << "the queued run's answer waited for the running one";
  ASSERT_EQ(queued.status, 200) << queued.ToString();
  JsonValue q = Body(queued);
  EXPECT_EQ(RunId(q), 2u);
  EXPECT_EQ(q.Str("state").value_or(""), "cancelled") << queued.body;
  UnixHttpResponse third = Control("GET", "/jobs/runs/3");
  ASSERT_EQ(third.status, 200)
      << "GET during the shutdown timeout: " << third.ToString();
  EXPECT_EQ(Body(third).Str("state").value_or(""), "cancelled") << third.body;
  // The running run may go on until shutdown.timeout.
  UnixHttpResponse first = Control("GET", "/jobs/runs/1");
  EXPECT_EQ(Body(first).Str("state").value_or(""), "running") << first.body;

  // Then its group is SIGKILLed: the waiting request gets "cancelled".
  UnixHttpResponse killed = running_conn.ReadResponse(milliseconds(6000));
  ASSERT_EQ(killed.status, 200)
      << "the ?wait=true request of the killed run got no answer: "
      << killed.ToString();
  JsonValue k = Body(killed);
  EXPECT_EQ(RunId(k), 1u);
  EXPECT_EQ(k.Str("state").value_or(""), "cancelled") << killed.body;
  EXPECT_EQ(k.Str("signal").value_or(""), "SIGKILL") << killed.body;
  EXPECT_GE(Clock::now() - sigterm_at, milliseconds(1800))
      << "killed before shutdown.timeout (2s)";

  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "corefork still running";
  EXPECT_TRUE(
      PollUntil([&] { return AllGoneOrZombie(job_pids); }, milliseconds(2000)))
      << "job processes outlived corefork: " << States(job_pids);
}

TEST_F(JobsShutdownTest, RunningRunFinishesWithinTheShutdownTimeout) {
  const std::string started = Path("started");
  Process& cf = StartJobs(
      "jobs:\n"
      "  finish:\n"
      "    command: " +
      ShCommand("touch '" + started + "'; sleep 0.7; echo finished") +
      "\n"
      "    on_demand: true\n"
      "shutdown: {drain_delay: 0s, timeout: 10s}\n");
  ASSERT_TRUE(WaitControl(cf));
  UnixHttpConnection conn;
  ASSERT_TRUE(conn.Connect(ControlSocket(), milliseconds(2000)));
  ASSERT_TRUE(conn.Send("POST", "/jobs/finish/runs?wait=true"));
  ASSERT_TRUE(
      PollUntil([&] { return FileExists(started); }, milliseconds(3000)));
  ASSERT_TRUE(cf.Signal(SIGTERM));
  UnixHttpResponse r = conn.ReadResponse(milliseconds(5000));
  ASSERT_EQ(r.status, 200) << r.ToString();
  JsonValue run = Body(r);
  EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << r.body;
  EXPECT_EQ(run.Str("stdout").value_or(""), "finished\n");
  std::optional<int> code = cf.WaitExit(milliseconds(5000));
  ASSERT_TRUE(code.has_value()) << "corefork still running";
  EXPECT_EQ(*code, 0);
}

// A scheduled job does not fire any more once SIGTERM arrived, even while
// the drain delay keeps corefork (and on-demand runs) going.
TEST_F(JobsShutdownTest, SchedulesStopAtShutdown) {
  const std::string ticks = Path("ticks");
  Process& cf = StartJobs(
      "jobs:\n"
      "  tick:\n"
      "    command: " +
      ShCommand("echo tick >> '" + ticks + "'") +
      "\n"
      "    every: 1s\n"
      "shutdown: {drain_delay: 2500ms, timeout: 5s}\n");
  ASSERT_TRUE(PollUntil([&] { return FileExists(ticks); }, milliseconds(3000)))
      << "the every: 1s job never ran";
  ASSERT_TRUE(cf.Signal(SIGTERM));
  ASSERT_TRUE(PollUntil(
      [&] {
        return cf.Stderr().find("graceful shutdown") != std::string::npos;
      },
      milliseconds(2000)));
  // (A run started just before SIGTERM may still add its line.)
  const std::string at_sigterm = ReadFile(ticks);
  std::optional<int> code = cf.WaitExit(milliseconds(6000));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  // During the 2.5s drain an every: 1s job would have fired twice more.
  EXPECT_LE(ReadFile(ticks).size(), at_sigterm.size() + 5)
      << "the job kept firing after SIGTERM: " << ReadFile(ticks);
}

}  // namespace
}  // namespace corefork::harness
