// corefork inside a real v1 cpu cgroup with a 1.5-CPU quota: `detect --json`
// must see the quota, and `workers: auto` must size the pool from it; with
// sizing.follow, a quota changed while it runs (an in-place pod resize)
// scales the pool under load without a failed request. Needs root and a
// writable /sys/fs/cgroup/cpu (v1); skipped with the reason otherwise. The
// same following on cgroup v2, through a fixture tree (--root).
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "support/harness.h"
#include "support/load.h"
#include "support/proc.h"
#include "support/real_cgroup.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr char kCpuMount[] = "/sys/fs/cgroup/cpu";

class RealCgroupQuotaTest : public RealCgroupTest {
 protected:
  void SetUp() override {
    RealCgroupTest::SetUp();
    MakeCgroup(kCpuMount, "cpu.cfs_quota_us", "corefork-test-");
    if (IsSkipped()) return;
    ASSERT_TRUE(WriteFile(cgroup() + "/cpu.cfs_period_us", "100000"));
    ASSERT_TRUE(WriteFile(cgroup() + "/cpu.cfs_quota_us", "150000"));
    ASSERT_EQ(ReadFile(cgroup() + "/cpu.cfs_quota_us"), "150000\n");
  }

  Process& StartInCgroup(const std::vector<std::string>& args) {
    return Spawn(InCgroupArgv(args));
  }

  bool InCgroup(pid_t pid) {
    std::string name = cgroup().substr(cgroup().rfind('/'));
    std::istringstream lines(
        ReadFile("/proc/" + std::to_string(pid) + "/cgroup"));
    std::string line;
    while (std::getline(lines, line)) {
      // "N:cpu,cpuacct:/path" or "N:cpu:/path"
      size_t c1 = line.find(':'), c2 = line.find(':', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      std::string controllers = "," + line.substr(c1 + 1, c2 - c1 - 1) + ",";
      if (controllers.find(",cpu,") != std::string::npos) {
        return line.substr(c2 + 1) == name;
      }
    }
    return false;
  }
};

TEST_F(RealCgroupQuotaTest, DetectSeesTheQuota) {
  Process& p = StartInCgroup({"detect", "--json"});
  std::optional<int> code = p.WaitExit(milliseconds(5000));
  ASSERT_EQ(code, std::optional<int>(0)) << p.Stderr();
  const std::string json = p.Stdout();
  std::cout << "detect --json in " << cgroup() << ":\n" << json << "\n";
  EXPECT_EQ(JsonField(json, "cgroup_version"), std::optional<std::string>("v1"))
      << json;
  auto quota = JsonField(json, "cpu_quota_cores");
  ASSERT_TRUE(quota.has_value()) << json;
  EXPECT_DOUBLE_EQ(std::strtod(quota->c_str(), nullptr), 1.5) << json;
  auto path = JsonField(json, "cpu_cgroup_path");
  EXPECT_NE(path.value_or("").find(cgroup().substr(cgroup().rfind('/'))),
            std::string::npos)
      << json;
  EXPECT_EQ(JsonField(json, "workers"), std::optional<std::string>("1"))
      << "floor(1.5) workers: " << json;
}

TEST_F(RealCgroupQuotaTest, AutoWorkersWithCeilRounding) {
  int port = 0;
  Process& cf = SpawnOnFreePort(
      [&](int p) {
        std::string config = WriteConfig(
            "workers: auto\n"
            "sizing: {rounding: ceil}\n"
            "listeners: [{name: http, host: 127.0.0.1, port: " +
            std::to_string(p) +
            "}]\n"
            "command: [" HELLO_BIN "]\n");
        return InCgroupArgv({"--config", config, "--log-level", "debug"});
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  std::map<int, pid_t> workers = CollectWorkers(port, 2);
  ASSERT_EQ(workers.size(), 2u) << "ceil(1.5) = 2 workers expected";
  EXPECT_NE(workers[0], workers[1]);
  std::vector<pid_t> children = WaitChildren(cf, 2);
  EXPECT_EQ(children.size(), 2u) << Str(children);
  for (const auto& [id, pid] : workers) {
    EXPECT_TRUE(InCgroup(pid)) << "worker " << id << " not in " << cgroup();
  }
  EXPECT_TRUE(ContainsNoCase(cf.Stderr(), "1.5"))
      << "startup log does not mention the 1.5 CPU quota:\n"
      << cf.Stderr();
}

size_t LiveChildren(pid_t parent) {
  size_t n = 0;
  for (pid_t c : ChildrenOf(parent)) n += GoneOrZombie(c) ? 0 : 1;
  return n;
}

// Issue 12: the quota goes 1 -> 2 -> 1 CPU while corefork serves a closed
// loop of requests; the pool follows within two follow periods each way
// (plus the new worker's start) and no request fails.
TEST_F(RealCgroupQuotaTest, FollowsAQuotaChangedWhileRunningUnderLoad) {
  ASSERT_TRUE(WriteFile(cgroup() + "/cpu.cfs_quota_us", "100000"));
  constexpr milliseconds kPeriod{500};
  int port = 0;
  Process& cf = SpawnOnFreePort(
      [&](int p) {
        std::string config = WriteConfig(
            "workers: auto\n"
            "sizing: {follow_interval: 500ms}\n"
            "shutdown: {drain_delay: 0s}\n"
            "listeners: [{name: http, host: 127.0.0.1, port: " +
            std::to_string(p) +
            "}]\n"
            "command: [" HELLO_BIN "]\n");
        return InCgroupArgv({"--config", config});
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  ASSERT_EQ(LiveChildren(cf.pid()), 1u) << "floor(1 CPU) = 1 worker";

  LoadOptions options;
  options.port = port;
  options.max_duration = milliseconds(60000);
  LoadGenerator load(options);
  load.Start();
  for (const auto& step : std::vector<std::pair<std::string, size_t>>{
           {"200000", 2}, {"100000", 1}}) {
    // Named copies: clang 14 cannot capture structured bindings.
    const std::string quota = step.first;
    const size_t workers = step.second;
    SCOPED_TRACE("quota " + quota);
    const uint64_t ok = load.Snapshot().ok;
    ASSERT_TRUE(PollUntil([&] { return load.Snapshot().ok >= ok + 200; },
                          milliseconds(10000)));
    const auto changed = Clock::now();
    ASSERT_TRUE(WriteFile(cgroup() + "/cpu.cfs_quota_us", quota));
    // Two reads in a row must agree: the scale starts within two periods
    // (plus one for where in its period the change fell), then the new
    // worker starts or the old one drains.
    ASSERT_TRUE(PollUntil(
        [&] {
          return cf.Stderr().find("-> " + std::to_string(workers) +
                                  " worker(s): ") != std::string::npos &&
                 LiveChildren(cf.pid()) == workers;
        },
        milliseconds(10000)))
        << cf.Stderr();
    const auto took = Clock::now() - changed;
    std::cout << "[ figures  ] quota -> " << quota << ": " << workers
              << " worker(s) after "
              << std::chrono::duration_cast<milliseconds>(took).count()
              << " ms\n";
    EXPECT_LE(took, 3 * kPeriod + milliseconds(1000));
  }
  const uint64_t ok = load.Snapshot().ok;
  ASSERT_TRUE(PollUntil([&] { return load.Snapshot().ok >= ok + 200; },
                        milliseconds(10000)));
  LoadStats total = load.Stop();
  std::cout << "[ figures  ] follow 1 -> 2 -> 1 CPU under load: "
            << total.Summary() << "\n";
  EXPECT_EQ(total.failed, 0u) << total.Summary();
  EXPECT_NE(cf.Stderr().find("limits changed: cpu quota 1 -> 2"),
            std::string::npos)
      << cf.Stderr();
}

// cgroup v2, as read through a fixture tree: cpu.max rewritten while
// corefork runs with --root is followed; a fixed `workers: N` is not.
class FollowV2FixtureTest : public CoreforkTest {
 protected:
  void SetUp() override {
    CoreforkTest::SetUp();
    root_ = Path("root");
    std::filesystem::copy(std::string(COREFORK_FIXTURES) + "/cgroup/v2_numeric",
                          root_, std::filesystem::copy_options::recursive);
    SetCpuMax("100000 100000");
  }
  void SetCpuMax(const std::string& value) {
    // Written whole, then renamed: corefork never reads half a file.
    const std::string path = root_ + "/sys/fs/cgroup/ctr/cpu.max";
    ASSERT_TRUE(WriteFile(path + ".new", value + "\n"));
    ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  }
  std::string root_;
};

TEST_F(FollowV2FixtureTest, CpuMaxRewrittenIsFollowed) {
  int port = 0;
  Process& cf = StartCoreforkOnFreePort(
      [&](int p) {
        return std::vector<std::string>{
            "--root",
            root_,
            "--port",
            std::to_string(p),
            "--host",
            "127.0.0.1",
            "--config",
            WriteConfig("sizing: {follow_interval: 200ms}\n"
                        "shutdown: {drain_delay: 0s}\n"),
            "--",
            HELLO_BIN};
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  EXPECT_EQ(LiveChildren(cf.pid()), 1u);
  SetCpuMax("300000 100000");
  EXPECT_TRUE(PollUntil([&] { return LiveChildren(cf.pid()) == 3; },
                        milliseconds(5000)))
      << cf.Stderr();
  SetCpuMax("max 100000");  // no quota: the fixture's 4 CPUs
  EXPECT_TRUE(PollUntil([&] { return LiveChildren(cf.pid()) == 4; },
                        milliseconds(5000)))
      << cf.Stderr();
  SetCpuMax("200000 100000");
  EXPECT_TRUE(PollUntil([&] { return LiveChildren(cf.pid()) == 2; },
                        milliseconds(5000)))
      << cf.Stderr();
  EXPECT_NE(cf.Stderr().find("limits changed: cpu quota none -> 2"),
            std::string::npos)
      << cf.Stderr();
}

TEST_F(FollowV2FixtureTest, AFlapShorterThanTwoReadsDoesNotScale) {
  int port = 0;
  Process& cf = StartCoreforkOnFreePort(
      [&](int p) {
        return std::vector<std::string>{
            "--root",   root_,
            "--port",   std::to_string(p),
            "--host",   "127.0.0.1",
            "--config", WriteConfig("sizing: {follow_interval: 1s}\n"),
            "--",       HELLO_BIN};
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  // Flip to 3 CPUs and back well within one interval, a few times; at most
  // one read can see 3, and one read is not two in a row.
  // The flap is the stimulus, so its timing is a schedule, not a wait.
  for (int i = 0; i < 3; ++i) {
    SetCpuMax("300000 100000");
    std::this_thread::sleep_for(milliseconds(150));
    SetCpuMax("100000 100000");
    std::this_thread::sleep_for(milliseconds(1200));
  }
  EXPECT_EQ(LiveChildren(cf.pid()), 1u) << cf.Stderr();
  EXPECT_EQ(cf.Stderr().find("sizing.follow:"), std::string::npos)
      << cf.Stderr();
}

TEST_F(FollowV2FixtureTest, AFixedCountIsNeverChanged) {
  int port = 0;
  Process& cf = StartCoreforkOnFreePort(
      [&](int p) {
        return std::vector<std::string>{
            "--root",    root_,
            "--workers", "1",
            "--port",    std::to_string(p),
            "--host",    "127.0.0.1",
            "--config",  WriteConfig("sizing: {follow_interval: 200ms}\n"),
            "--",        HELLO_BIN};
      },
      {}, &port);
  ASSERT_TRUE(WaitServing(cf, port));
  SetCpuMax("300000 100000");
  // Nothing to wait for when nothing happens: four periods, long enough
  // for two agreeing reads and a scale had the count not been fixed.
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(LiveChildren(cf.pid()), 1u) << cf.Stderr();
}

}  // namespace
}  // namespace corefork::harness
