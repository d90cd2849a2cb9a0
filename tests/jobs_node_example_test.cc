// Whole-binary test of examples/node with jobs: corefork runs server.js with
// examples/node/corefork-jobs.yaml, and GET /child offloads fib(30) to the
// `fib` job (fib.js) through the control socket. Needs `node` on PATH;
// skipped with the reason otherwise.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string file = dirs.substr(start, end - start) + "/" + program;
    if (access(file.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

class JobsNodeExampleTest : public JobsTest {};

TEST_F(JobsNodeExampleTest, ChildRouteReturnsFib30ComputedByTheFibJob) {
  if (!OnPath("node")) GTEST_SKIP() << "node is not on PATH";
  const std::string dir = std::string(COREFORK_SOURCE_DIR) + "/examples/node";
  const std::string config = dir + "/corefork-jobs.yaml";
  ASSERT_TRUE(FileExists(config)) << config;
  // The example's own config, run from its directory as its README says;
  // only the port, host and worker count are overridden (drain 0 so that
  // nothing waits in TearDown).
  int port = 0;
  Process& cf = SpawnOnFreePort(
      [&](int p) {
        std::string cmd = "cd '" + dir + "' && exec '" + COREFORK_BIN +
                          "' --config corefork-jobs.yaml --workers 2"
                          " --host 127.0.0.1 --port " +
                          std::to_string(p) +
                          " --drain-delay 0s --log-level debug";
        return std::vector<std::string>{"/bin/sh", "-c", cmd};
      },
      {}, &port);
  // server.js has no /healthz: its / answers once a worker listens.
  ASSERT_TRUE(
      PollUntil(
          [&] {
            return !cf.Running() ||
                   HttpGet("127.0.0.1", port, "/", milliseconds(500)).status ==
                       200;
          },
          milliseconds(20000)) &&
      cf.Running())
      << "the node example did not come up";

  HttpResponse r = HttpGet("127.0.0.1", port, "/child", milliseconds(30000));
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(r.body, "832040\n");

  // It was the job that computed it: run 1 of `fib`, on demand.
  UnixHttpResponse run = Control("GET", "/jobs/runs/1");
  ASSERT_EQ(run.status, 200) << run.ToString();
  JsonValue v = Body(run);
  EXPECT_EQ(v.Str("job").value_or(""), "fib");
  EXPECT_EQ(v.Str("trigger").value_or(""), "on_demand");
  EXPECT_EQ(v.Str("state").value_or(""), "succeeded");
  EXPECT_EQ(v.Str("stdout").value_or(""), "832040\n");

  // Both workers can offload at once.
  HttpConnection a, b;
  ASSERT_TRUE(a.Connect("127.0.0.1", port, milliseconds(2000)) &&
              a.SendGet("/child"));
  ASSERT_TRUE(b.Connect("127.0.0.1", port, milliseconds(2000)) &&
              b.SendGet("/child"));
  EXPECT_EQ(a.ReadResponse(milliseconds(30000)).body, "832040\n");
  EXPECT_EQ(b.ReadResponse(milliseconds(30000)).body, "832040\n");

  // fib.js takes n from the request body (plain or JSON).
  UnixHttpResponse direct = Submit("fib", "20", true, milliseconds(30000));
  ASSERT_EQ(direct.status, 200) << direct.ToString();
  EXPECT_EQ(Body(direct).Str("stdout").value_or(""), "6765\n");
  direct = Submit("fib", "{\"n\":10}", true, milliseconds(30000));
  EXPECT_EQ(Body(direct).Str("stdout").value_or(""), "55\n");
  direct = Submit("fib", "not a number", true, milliseconds(30000));
  JsonValue bad = Body(direct);
  EXPECT_EQ(bad.Str("state").value_or(""), "failed");
  EXPECT_EQ(bad.Num("exit_code").value_or(-1), 2);
}

}  // namespace
}  // namespace corefork::harness
