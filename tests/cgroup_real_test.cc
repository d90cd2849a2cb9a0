// corefork inside a real v1 cpu cgroup with a 1.5-CPU quota: `detect --json`
// must see the quota, and `workers: auto` must size the pool from it. Needs
// root and a writable /sys/fs/cgroup/cpu (v1); skipped with the reason
// otherwise.
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include "support/harness.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr char kCpuMount[] = "/sys/fs/cgroup/cpu";

class RealCgroupQuotaTest : public CoreforkTest {
 protected:
  void SetUp() override {
    CoreforkTest::SetUp();
    struct statfs fs;
    if (statfs(kCpuMount, &fs) != 0 || fs.f_type != CGROUP_SUPER_MAGIC ||
        !FileExists(std::string(kCpuMount) + "/cpu.cfs_quota_us")) {
      GTEST_SKIP() << kCpuMount << " is not a cgroup v1 cpu mount";
    }
    static int counter = 0;
    cgroup_ = std::string(kCpuMount) + "/corefork-test-" +
              std::to_string(getpid()) + "-" + std::to_string(counter++);
    if (mkdir(cgroup_.c_str(), 0755) != 0) {
      std::string why = std::strerror(errno);
      cgroup_.clear();
      GTEST_SKIP() << "cannot create a cgroup under " << kCpuMount << ": "
                   << why;
    }
    ASSERT_TRUE(WriteFile(cgroup_ + "/cpu.cfs_period_us", "100000"));
    ASSERT_TRUE(WriteFile(cgroup_ + "/cpu.cfs_quota_us", "150000"));
    ASSERT_EQ(ReadFile(cgroup_ + "/cpu.cfs_quota_us"), "150000\n");
  }

  void TearDown() override {
    CoreforkTest::TearDown();  // every process is gone after this
    if (cgroup_.empty()) return;
    bool removed = PollUntil(
        [&] {
          std::istringstream procs(ReadFile(cgroup_ + "/cgroup.procs"));
          pid_t pid;
          while (procs >> pid) kill(pid, SIGKILL);
          ReapOrphans();
          return rmdir(cgroup_.c_str()) == 0 || errno == ENOENT;
        },
        milliseconds(3000));
    EXPECT_TRUE(removed) << "rmdir " << cgroup_ << ": " << std::strerror(errno);
  }

  // The argv that runs corefork with `args` after moving itself into the
  // cgroup.
  std::vector<std::string> InCgroupArgv(const std::vector<std::string>& args) {
    std::vector<std::string> argv{
        "/bin/sh", "-c",
        "echo $$ > " + cgroup_ + "/cgroup.procs && exec \"$0\" \"$@\"",
        COREFORK_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  Process& StartInCgroup(const std::vector<std::string>& args) {
    return Spawn(InCgroupArgv(args));
  }

  bool InCgroup(pid_t pid) {
    std::string name = cgroup_.substr(cgroup_.rfind('/'));
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

  std::string cgroup_;
};

TEST_F(RealCgroupQuotaTest, DetectSeesTheQuota) {
  Process& p = StartInCgroup({"detect", "--json"});
  std::optional<int> code = p.WaitExit(milliseconds(5000));
  ASSERT_EQ(code, std::optional<int>(0)) << p.Stderr();
  const std::string json = p.Stdout();
  std::cout << "detect --json in " << cgroup_ << ":\n" << json << "\n";
  EXPECT_EQ(JsonField(json, "cgroup_version"), std::optional<std::string>("v1"))
      << json;
  auto quota = JsonField(json, "cpu_quota_cores");
  ASSERT_TRUE(quota.has_value()) << json;
  EXPECT_DOUBLE_EQ(std::strtod(quota->c_str(), nullptr), 1.5) << json;
  auto path = JsonField(json, "cpu_cgroup_path");
  EXPECT_NE(path.value_or("").find(cgroup_.substr(cgroup_.rfind('/'))),
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
    EXPECT_TRUE(InCgroup(pid)) << "worker " << id << " not in " << cgroup_;
  }
  EXPECT_TRUE(ContainsNoCase(cf.Stderr(), "1.5"))
      << "startup log does not mention the 1.5 CPU quota:\n"
      << cf.Stderr();
}

}  // namespace
}  // namespace corefork::harness
