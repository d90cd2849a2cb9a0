// Whole-binary test of examples/node with jobs: corefork runs server.js with
// examples/node/corefork-jobs.yaml, and GET /child offloads fib(30) to the
// `fib` job, a pool of fib-pool.js processes, through the control socket.
// Needs `node` on PATH; skipped with the reason otherwise.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
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

bool Alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

class JobsNodeExampleTest : public JobsTest {
 protected:
  // Starts the example's own config, run from its directory as its README
  // says; only the port, host and worker count are overridden (drain 0 so
  // that nothing waits in TearDown). Returns false (with a test failure)
  // unless a worker answers / and the fib pool has an idle process.
  bool StartExample() {
    const std::string dir = std::string(COREFORK_SOURCE_DIR) + "/examples/node";
    EXPECT_TRUE(FileExists(dir + "/corefork-jobs.yaml")) << dir;
    Process& cf = SpawnOnFreePort(
        [&](int p) {
          std::string cmd = "cd '" + dir + "' && exec '" + COREFORK_BIN +
                            "' --config corefork-jobs.yaml --workers 2"
                            " --host 127.0.0.1 --port " +
                            std::to_string(p) +
                            " --drain-delay 0s --log-level debug";
          return std::vector<std::string>{"/bin/sh", "-c", cmd};
        },
        {}, &port_);
    // server.js has no /healthz: its / answers once a worker listens.
    bool up = PollUntil(
                  [&] {
                    return !cf.Running() ||
                           HttpGet("127.0.0.1", port_, "/", milliseconds(500))
                                   .status == 200;
                  },
                  milliseconds(20000)) &&
              cf.Running();
    EXPECT_TRUE(up) << "the node example did not come up";
    // The pool is warm: its processes start with corefork.
    bool idle =
        up && PollUntil([&] { return FibPool().Num("idle").value_or(0) >= 1; },
                        milliseconds(20000));
    EXPECT_TRUE(idle) << "no idle fib pool process: "
                      << FibPool().json().dump();
    return up && idle;
  }

  // The `pool` object of job fib in GET /jobs (null when there is none).
  JsonValue FibPool() {
    for (const JsonValue& job : Body(Control("GET", "/jobs"))["jobs"].Items()) {
      if (job.Str("name").value_or("") == "fib") return job["pool"];
    }
    return JsonValue();
  }

  // The pid that served run `id` (0 when there is none).
  pid_t RunPid(uint64_t id) {
    JsonValue run = Body(Control("GET", "/jobs/runs/" + std::to_string(id)));
    EXPECT_EQ(run.Str("state").value_or(""), "succeeded") << run.json().dump();
    return static_cast<pid_t>(run["pid"].AsInt());
  }

  int port_ = 0;
};

TEST_F(JobsNodeExampleTest, ChildRouteReturnsFib30ComputedByTheFibPool) {
  if (!OnPath("node")) GTEST_SKIP() << "node is not on PATH";
  ASSERT_TRUE(StartExample());
  const long long size = FibPool()["size"].AsInt();  // auto: the CPU count
  ASSERT_GE(size, 1);

  HttpResponse r = HttpGet("127.0.0.1", port_, "/child", milliseconds(30000));
  ASSERT_EQ(r.status, 200) << r.ToString();
  EXPECT_EQ(r.body, "832040\n");
  EXPECT_EQ(r.Header("X-Job-Run"), "1");

  // It was the job that computed it: run 1 of `fib`, on demand, served by a
  // fib-pool.js process that is still running after the run.
  UnixHttpResponse run = Control("GET", "/jobs/runs/1");
  ASSERT_EQ(run.status, 200) << run.ToString();
  JsonValue v = Body(run);
  EXPECT_EQ(v.Str("job").value_or(""), "fib");
  EXPECT_EQ(v.Str("trigger").value_or(""), "on_demand");
  EXPECT_EQ(v.Str("state").value_or(""), "succeeded");
  EXPECT_EQ(v.Str("stdout").value_or(""), "832040\n");
  const pid_t first = static_cast<pid_t>(v["pid"].AsInt());
  EXPECT_TRUE(Alive(first)) << v.json().dump();
  EXPECT_NE(TryReadFile("/proc/" + std::to_string(first) + "/cmdline")
                .value_or("")
                .find("fib-pool.js"),
            std::string::npos);

  // Both workers can offload at once.
  HttpConnection a, b;
  ASSERT_TRUE(a.Connect("127.0.0.1", port_, milliseconds(2000)) &&
              a.SendGet("/child"));
  ASSERT_TRUE(b.Connect("127.0.0.1", port_, milliseconds(2000)) &&
              b.SendGet("/child"));
  EXPECT_EQ(a.ReadResponse(milliseconds(30000)).body, "832040\n");
  EXPECT_EQ(b.ReadResponse(milliseconds(30000)).body, "832040\n");

  // More runs than the pool has processes: all served by the same at most
  // `size` processes, none started beyond them.
  const int runs = 3 + static_cast<int>(size);
  for (int i = 4; i <= runs; ++i) {
    EXPECT_EQ(HttpGet("127.0.0.1", port_, "/child", milliseconds(30000)).body,
              "832040\n")
        << "request " << i;
  }
  std::set<pid_t> pids;
  for (int id = 1; id <= runs; ++id) pids.insert(RunPid(id));
  EXPECT_EQ(pids.count(0), 0u) << "a run without a pid";
  EXPECT_LE(pids.size(), static_cast<size_t>(size));
  for (pid_t pid : pids) EXPECT_TRUE(Alive(pid)) << pid;
  JsonValue pool = FibPool();
  EXPECT_GE(pool["starts"].AsInt(), 1) << pool.json().dump();
  EXPECT_LE(pool["starts"].AsInt(), size) << pool.json().dump();
}

TEST_F(JobsNodeExampleTest, FibPoolTakesNFromTheBodyAsFibJsDoes) {
  if (!OnPath("node")) GTEST_SKIP() << "node is not on PATH";
  ASSERT_TRUE(StartExample());
  const long long size = FibPool()["size"].AsInt();

  struct Case {
    const char* body;
    const char* stdout_text;
  };
  const Case cases[] = {
      {"20", "6765\n"}, {"{\"n\":10}", "55\n"}, {"", "832040\n"}};
  for (const Case& c : cases) {
    UnixHttpResponse r = Submit("fib", c.body, true, milliseconds(30000));
    ASSERT_EQ(r.status, 200) << c.body << ": " << r.ToString();
    EXPECT_EQ(Body(r).Str("stdout").value_or(""), c.stdout_text) << c.body;
  }

  // A bad n is the process's answered error: the run fails with it, and the
  // process stays (no exit code, no new process).
  UnixHttpResponse r = Submit("fib", "not a number", true, milliseconds(30000));
  JsonValue bad = Body(r);
  EXPECT_EQ(bad.Str("state").value_or(""), "failed") << r.ToString();
  EXPECT_NE(bad.Str("error").value_or("").find("n must be an integer"),
            std::string::npos)
      << r.ToString();
  EXPECT_TRUE(bad.IsNull("exit_code")) << r.ToString();
  EXPECT_TRUE(Alive(static_cast<pid_t>(bad["pid"].AsInt()))) << r.ToString();
  EXPECT_LE(FibPool()["starts"].AsInt(), size) << FibPool().json().dump();
}

}  // namespace
}  // namespace corefork::harness
