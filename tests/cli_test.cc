// Whole-binary tests of the command line: exit codes for usage errors, apps
// that cannot run or keep crashing, `detect --json` over fixture trees,
// `check-config` and `--version`.
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <regex>
#include <string>

#include "support/harness.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class CliTest : public CoreforkTest {
 protected:
  // Runs corefork to completion (bounded) and returns its exit code.
  std::optional<int> Run(Process& p,
                         milliseconds timeout = milliseconds(5000)) {
    std::optional<int> code = p.WaitExit(timeout);
    EXPECT_TRUE(code.has_value()) << p.CommandLine() << " did not exit";
    return code;
  }
};

TEST_F(CliTest, CrashLoopExits4) {
  const std::string starts = Path("starts");
  std::string config = WriteConfig(
      "workers: 1\n"
      "restart: {initial_delay: 10ms, factor: 2, max_delay: 100ms, "
      "max_failures: 3}\n"
      "command: [/bin/sh, -c, 'echo x >> " +
      starts + "; exit 3']\n");
  const auto start = Clock::now();
  Process& cf = StartCoreforkOnFreePort([&](int port) {
    return std::vector<std::string>{"--config", config,
                                    "--host",   "127.0.0.1",
                                    "--port",   std::to_string(port)};
  });
  std::optional<int> code = Run(cf, milliseconds(10000));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4) << cf.Stderr();
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  const std::string err = cf.Stderr();
  EXPECT_TRUE(ContainsNoCase(err, "fail") || ContainsNoCase(err, "crash"))
      << "stderr does not explain the crash loop:\n"
      << err;
  // max_failures 3 in a row: the app ran 3 times (or 4, if the first start
  // is not counted as a restart) and then corefork gave up.
  std::string runs = ReadFile(starts);
  size_t n = std::count(runs.begin(), runs.end(), '\n');
  EXPECT_GE(n, 3u);
  EXPECT_LE(n, 4u);
}

struct ExecCase {
  std::string name;
  std::string command;  // relative names resolve under the test's temp dir
  int exit_code;
  std::string reason;  // expected in stderr ("" = only the name)
};

// Test names in ctest come from the printed parameter.
void PrintTo(const ExecCase& c, std::ostream* os) { *os << c.name; }

class ExecFailureTest : public CliTest,
                        public ::testing::WithParamInterface<ExecCase> {};

TEST_P(ExecFailureTest, ExitsAtOnceWithAClearMessage) {
  const ExecCase& c = GetParam();
  std::string command = c.command;
  if (command == "NOT_EXECUTABLE") {
    command = Path("app.sh");
    ASSERT_TRUE(WriteFile(command, "#!/bin/sh\nexit 0\n", 0644));
  } else if (command == "DIRECTORY") {
    command = Path("appdir");
    ASSERT_EQ(mkdir(command.c_str(), 0755), 0);
  } else if (command == "NOT_ELF") {
    command = Path("app.txt");  // executable, but neither ELF nor #!
    ASSERT_TRUE(WriteFile(command, "console.log(1)\n", 0755));
  }
  const auto start = Clock::now();
  Process& cf =
      StartCorefork({"--workers", "2", "--host", "127.0.0.1", "--port",
                     std::to_string(FreePort()), "--", command, "arg"});
  std::optional<int> code = Run(cf);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, c.exit_code) << cf.Stderr();
  EXPECT_LT(Clock::now() - start, milliseconds(3000)) << "not at once";
  // Found out before anything was bound, not by the first worker's exec.
  EXPECT_FALSE(ContainsNoCase(cf.Stderr(), "listening on")) << cf.Stderr();
  EXPECT_TRUE(ContainsNoCase(cf.Stderr(), command))
      << "stderr does not name " << command << ":\n"
      << cf.Stderr();
  if (!c.reason.empty()) {
    EXPECT_TRUE(ContainsNoCase(cf.Stderr(), c.reason))
        << "stderr does not say '" << c.reason << "':\n"
        << cf.Stderr();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Commands, ExecFailureTest,
    ::testing::Values(
        ExecCase{"MissingPath", "/nonexistent/corefork-no-such-app", 127,
                 "No such file or directory"},
        ExecCase{"MissingInPath", "corefork-no-such-app-in-path", 127, ""},
        ExecCase{"NotExecutable", "NOT_EXECUTABLE", 126, "Permission denied"},
        ExecCase{"Directory", "DIRECTORY", 126, "is a directory"},
        ExecCase{"NotElfNorScript", "NOT_ELF", 126,
                 "not an ELF binary or a script"}),
    [](const auto& info) { return info.param.name; });

TEST_F(CliTest, UsageErrorsExit2) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {"no command", {"--workers", "1"}},
      {"bad workers", {"--workers", "abc", "--", "/bin/true"}},
      {"zero workers", {"--workers", "0", "--", "/bin/true"}},
      {"bad port", {"--port", "99999", "--", "/bin/true"}},
      {"unknown flag", {"--no-such-flag", "--", "/bin/true"}},
      {"bad duration", {"--drain-delay", "soon", "--", "/bin/true"}},
      {"missing config", {"--config", Path("missing.yaml"), "--", "/bin/true"}},
  };
  for (const Case& c : cases) {
    Process& cf = StartCorefork(c.args);
    std::optional<int> code = Run(cf);
    EXPECT_EQ(code, std::optional<int>(2)) << c.name << ":\n" << cf.Stderr();
    EXPECT_FALSE(cf.Stderr().empty()) << c.name << ": no message";
  }
}

TEST_F(CliTest, VersionAndHelp) {
  Process& version = StartCorefork({"--version"});
  EXPECT_EQ(Run(version), std::optional<int>(0)) << version.Stderr();
  EXPECT_TRUE(
      ContainsNoCase(version.Stdout() + version.Stderr(), COREFORK_VERSION))
      << "stdout: " << version.Stdout();

  Process& help = StartCorefork({"--help"});
  EXPECT_EQ(Run(help), std::optional<int>(0)) << help.Stderr();
  const std::string text = help.Stdout() + help.Stderr();
  for (const char* flag : {"--workers", "--port", "--config"}) {
    EXPECT_TRUE(ContainsNoCase(text, flag)) << flag << " not in --help";
  }
}

TEST_F(CliTest, CheckConfig) {
  const std::string good = WriteConfig(
      "workers: 2\n"
      "listeners: [{name: http, host: 127.0.0.1, port: 18080}]\n"
      "restart: {initial_delay: 10ms, max_failures: 3}\n"
      "shutdown: {drain_delay: 200ms, timeout: 5s, stop_signal: SIGTERM}\n"
      "command: [/bin/true]\n",
      "good.yaml");
  Process& ok = StartCorefork({"check-config", good});
  EXPECT_EQ(Run(ok), std::optional<int>(0)) << ok.Stdout() << ok.Stderr();

  // Line 3 has an unknown key, line 4 a value of the wrong type.
  const std::string bad = WriteConfig(
      "workers: 2\n"
      "command: [/bin/true]\n"
      "bogus_key: 1\n"
      "restart: {max_failures: lots}\n",
      "bad.yaml");
  Process& p = StartCorefork({"check-config", bad});
  EXPECT_EQ(Run(p), std::optional<int>(2));
  const std::string out = p.Stdout() + p.Stderr();
  std::smatch m;
  EXPECT_TRUE(std::regex_search(out, m, std::regex(bad + ":3:[0-9]+: .*")))
      << "no " << bad << ":3:COL: line for bogus_key in:\n"
      << out;
  EXPECT_TRUE(ContainsNoCase(out, "bogus_key")) << out;
  EXPECT_TRUE(std::regex_search(out, m, std::regex(bad + ":4:[0-9]+: .*")))
      << "no " << bad << ":4:COL: line for max_failures in:\n"
      << out;
}

// ---- detect --json ---------------------------------------------------------

const char* const kDetectKeys[] = {
    "cgroup_version",     "cpu_cgroup_path", "cpu_quota_cores",
    "cpuset_cpus",        "affinity_cpus",   "effective_cpus",
    "memory_limit_bytes", "workers",         "reason"};

// A fake root: files relative to it.
void BuildTree(const std::string& root,
               const std::map<std::string, std::string>& files) {
  for (const auto& [rel, content] : files) {
    std::filesystem::path p = root + "/" + rel;
    std::filesystem::create_directories(p.parent_path());
    ASSERT_TRUE(WriteFile(p.string(), content)) << p;
  }
}

std::optional<double> Number(const std::string& json, const std::string& key) {
  auto v = JsonField(json, key);
  if (!v || *v == "null") return std::nullopt;
  return std::strtod(v->c_str(), nullptr);
}

struct DetectCase {
  std::string name;
  std::map<std::string, std::string> files;
  std::string version;
  std::optional<double> quota;   // nullopt = expect null
  std::string path_contains;     // in cpu_cgroup_path
  std::optional<double> memory;  // checked when set
  std::optional<double> cpuset;  // checked when set
  int workers;
};

const char kStatus[] =
    "Name:\tcorefork\nCpus_allowed:\tf\nCpus_allowed_list:\t0-3\n";
const char kOnline[] = "0-3\n";

const std::string kRootMount =
    "23 1 8:1 / / rw,relatime shared:1 - ext4 "
    "/dev/sda1 rw\n";

std::vector<DetectCase> DetectCases() {
  return {
      {"v1_quota_1_5",
       {{"proc/self/status", kStatus},
        {"sys/devices/system/cpu/online", kOnline},
        {"proc/self/cgroup",
         "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"
         "1:name=systemd:/docker/abc\n"},
        {"proc/self/mountinfo",
         kRootMount +
             "25 23 0:22 / /sys/fs/cgroup ro,nosuid shared:2 - tmpfs tmpfs "
             "ro,mode=755\n"
             "33 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,"
             "relatime shared:11 - cgroup cgroup rw,cpu,cpuacct\n"},
        {"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n"},
        {"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"},
        {"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.shares", "4096\n"},
        {"sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us", "-1\n"},
        {"sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n"}},
       "v1",
       1.5,
       "abc",
       std::nullopt,
       std::nullopt,
       1},
      {"v2_half_cpu_nested",
       {{"proc/self/status", kStatus},
        {"sys/devices/system/cpu/online", kOnline},
        {"proc/self/cgroup", "0::/kubepods/pod1/ctr\n"},
        {"proc/self/mountinfo",
         kRootMount +
             "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime "
             "shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"},
        {"sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n"},
        {"sys/fs/cgroup/kubepods/cpu.max", "max 100000\n"},
        {"sys/fs/cgroup/kubepods/pod1/cpu.max", "50000 100000\n"},
        {"sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "200000 100000\n"},
        {"sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "268435456\n"}},
       "v2",
       0.5,
       "ctr",
       268435456.0,
       std::nullopt,
       1},
      {"v2_no_quota_cpuset_1",
       {{"proc/self/status", kStatus},
        {"sys/devices/system/cpu/online", kOnline},
        {"proc/self/cgroup", "0::/app\n"},
        {"proc/self/mountinfo",
         kRootMount +
             "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime "
             "shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"},
        {"sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n"},
        {"sys/fs/cgroup/app/cpu.max", "max 100000\n"},
        {"sys/fs/cgroup/app/memory.max", "max\n"},
        {"sys/fs/cgroup/app/cpuset.cpus.effective", "0\n"}},
       "v2",
       std::nullopt,
       "app",
       std::nullopt,
       1.0,
       1},
  };
}

void PrintTo(const DetectCase& c, std::ostream* os) { *os << c.name; }

class DetectTest : public CliTest,
                   public ::testing::WithParamInterface<DetectCase> {};

TEST_P(DetectTest, JsonOnFixtureRoot) {
  const DetectCase& c = GetParam();
  const std::string root = Path("root");
  BuildTree(root, c.files);
  Process& p = StartCorefork({"detect", "--json", "--root", root});
  ASSERT_EQ(Run(p), std::optional<int>(0)) << p.Stderr();
  const std::string json = p.Stdout();
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.find_first_not_of(" \n"), json.find('{')) << json;
  for (const char* key : kDetectKeys) {
    EXPECT_TRUE(JsonField(json, key).has_value())
        << key << " missing: " << json;
  }
  EXPECT_EQ(JsonField(json, "cgroup_version"),
            std::optional<std::string>(c.version))
      << json;
  std::optional<double> quota = Number(json, "cpu_quota_cores");
  if (c.quota) {
    ASSERT_TRUE(quota.has_value()) << json;
    EXPECT_NEAR(*quota, *c.quota, 1e-9) << json;
    std::optional<double> effective = Number(json, "effective_cpus");
    ASSERT_TRUE(effective.has_value()) << json;
    EXPECT_LE(*effective, *c.quota + 1e-9) << json;
  } else {
    EXPECT_EQ(JsonField(json, "cpu_quota_cores"),
              std::optional<std::string>("null"))
        << json;
  }
  EXPECT_NE(
      JsonField(json, "cpu_cgroup_path").value_or("").find(c.path_contains),
      std::string::npos)
      << json;
  if (c.memory) {
    EXPECT_EQ(Number(json, "memory_limit_bytes"), c.memory) << json;
  }
  if (c.cpuset) {
    EXPECT_EQ(Number(json, "cpuset_cpus"), c.cpuset) << json;
  }
  EXPECT_EQ(Number(json, "workers"), std::optional<double>(c.workers)) << json;
  EXPECT_FALSE(JsonField(json, "reason").value_or("").empty()) << json;
}

INSTANTIATE_TEST_SUITE_P(Layouts, DetectTest,
                         ::testing::ValuesIn(DetectCases()),
                         [](const auto& info) { return info.param.name; });

// Every fixture tree in the repository (tests/fixtures/cgroup/*) is readable
// by `detect --json` and yields a complete object.
TEST_F(CliTest, DetectJsonOnRepositoryFixtures) {
  const std::string dir = std::string(COREFORK_FIXTURES) + "/cgroup";
  std::error_code ec;
  std::vector<std::string> roots;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (FileExists(e.path().string() + "/proc/self/cgroup")) {
      roots.push_back(e.path().string());
    }
  }
  if (roots.empty()) GTEST_SKIP() << "no fixture trees under " << dir;
  std::sort(roots.begin(), roots.end());
  for (const std::string& root : roots) {
    Process& p = StartCorefork({"detect", "--json", "--root", root});
    EXPECT_EQ(Run(p), std::optional<int>(0)) << root << ": " << p.Stderr();
    for (const char* key : kDetectKeys) {
      EXPECT_TRUE(JsonField(p.Stdout(), key).has_value())
          << root << ": " << key << " missing: " << p.Stdout();
    }
    std::optional<double> workers = Number(p.Stdout(), "workers");
    EXPECT_TRUE(workers && *workers >= 1) << root << ": " << p.Stdout();
  }

  // The v1 quota fixture, checked against its own quota files.
  const std::string v1 = dir + "/v1_quota";
  const std::string leaf = v1 + "/sys/fs/cgroup/cpu,cpuacct/app/";
  auto quota_us = TryReadFile(leaf + "cpu.cfs_quota_us");
  auto period_us = TryReadFile(leaf + "cpu.cfs_period_us");
  if (!quota_us || !period_us) {
    std::cout << "no v1_quota fixture with app/cpu.cfs_quota_us; skipping "
                 "the quota check\n";
    return;
  }
  const double expected = std::strtod(quota_us->c_str(), nullptr) /
                          std::strtod(period_us->c_str(), nullptr);
  Process& p = StartCorefork({"detect", "--json", "--root", v1});
  ASSERT_EQ(Run(p), std::optional<int>(0)) << p.Stderr();
  const std::string json = p.Stdout();
  EXPECT_EQ(JsonField(json, "cgroup_version"), std::optional<std::string>("v1"))
      << json;
  std::optional<double> quota = Number(json, "cpu_quota_cores");
  ASSERT_TRUE(quota.has_value()) << json;
  EXPECT_NEAR(*quota, expected, 1e-9) << json;
  EXPECT_NE(JsonField(json, "cpu_cgroup_path").value_or("").find("app"),
            std::string::npos)
      << json;
  EXPECT_EQ(Number(json, "workers"),
            std::optional<double>(std::max(1.0, std::floor(expected))))
      << json;
}

// On this machine: detect works and reports the real affinity mask.
TEST_F(CliTest, DetectJsonOnThisMachine) {
  Process& p = StartCorefork({"detect", "--json"});
  ASSERT_EQ(Run(p), std::optional<int>(0)) << p.Stderr();
  std::optional<double> affinity = Number(p.Stdout(), "affinity_cpus");
  ASSERT_TRUE(affinity.has_value()) << p.Stdout();
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(*affinity, CPU_COUNT(&set)) << p.Stdout();
  std::optional<double> workers = Number(p.Stdout(), "workers");
  ASSERT_TRUE(workers.has_value()) << p.Stdout();
  EXPECT_GE(*workers, 1);
}

}  // namespace
}  // namespace corefork::harness
