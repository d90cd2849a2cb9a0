// Whole-binary tests of corefork's own lifecycle edges: a SIGTERM while the
// at-start jobs still run must not let any worker start afterwards (issue 9:
// "no worker starts once stopping began").
#include <signal.h>

#include <string>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class LifecycleTest : public JobsTest {};

TEST_F(LifecycleTest, SigtermDuringStartJobsStartsNoWorker) {
  const std::string workers = Path("workers");
  const std::string job_pid = Path("job.pid");
  // The job outlives the SIGTERM unless corefork stops it: it ignores
  // SIGTERM, so only the shutdown timeout's SIGKILL ends it.
  const std::string yaml =
      "shutdown:\n"
      "  drain_delay: 5s\n"  // would keep a (wrongly) started worker around
      "  timeout: 1s\n"
      "jobs:\n"
      "  migrate:\n"
      "    command: " +
      ShCommand("trap '' TERM; echo $$ > '" + job_pid + "'; sleep 3; true") +
      "\n"
      "    at_start: true\n";
  Process& cf = StartJobs(
      yaml,
      {"/bin/sh", "-c", "echo started >> '" + workers + "'; exec sleep 1000"});
  ASSERT_TRUE(
      PollUntil([&] { return FileExists(job_pid); }, milliseconds(5000)))
      << "the at-start job never ran";
  ASSERT_EQ(kill(cf.pid(), SIGTERM), 0);
  std::optional<int> code = cf.WaitExit(milliseconds(8000));
  ASSERT_TRUE(code.has_value()) << "corefork did not stop";
  EXPECT_NE(cf.Stderr().find("before any worker started: stopping"),
            std::string::npos)
      << cf.Stderr();
  EXPECT_FALSE(FileExists(workers)) << "a worker started during shutdown";
}

}  // namespace
}  // namespace corefork::harness
