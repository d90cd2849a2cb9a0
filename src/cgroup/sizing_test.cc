#include "cgroup/sizing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace corefork {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Limits {
  Limits(std::optional<double> q = std::nullopt,  // NOLINT: table shorthand
         std::optional<int> c = std::nullopt, int a = 4,
         std::optional<uint64_t> m = std::nullopt)
      : quota(q), cpuset(c), affinity(a), memory(m) {}
  std::optional<double> quota;
  std::optional<int> cpuset;
  int affinity;
  std::optional<uint64_t> memory;
};

// Findings as DetectCgroup would report them, sources included.
CgroupInfo Info(const Limits& l) {
  CgroupInfo info;
  info.version = "v2";
  info.cpu_cgroup_path = "/sys/fs/cgroup/app";
  info.cpu_quota_cores = l.quota;
  if (l.quota) info.quota_source = "/sys/fs/cgroup/app/cpu.max";
  info.cpuset_cpus = l.cpuset;
  if (l.cpuset) info.cpuset_source = "/sys/fs/cgroup/cpuset.cpus.effective";
  info.affinity_cpus = l.affinity;
  info.host_cpus = 16;
  info.memory_limit_bytes = l.memory;
  if (l.memory) info.memory_source = "/sys/fs/cgroup/app/memory.max";
  double cpus = l.affinity;
  if (l.quota) cpus = std::min(cpus, *l.quota);
  if (l.cpuset) cpus = std::min<double>(cpus, *l.cpuset);
  info.effective_cpus = std::max(cpus, 0.001);
  return info;
}

SizingConfig Sizing(Rounding rounding = Rounding::kFloor, double per_cpu = 1,
                    int min = 1, int max = 1024,
                    std::optional<uint64_t> memory_per_worker = std::nullopt,
                    std::optional<int> count = std::nullopt) {
  SizingConfig s;
  s.rounding = rounding;
  s.per_cpu = per_cpu;
  s.min = min;
  s.max = max;
  s.memory_per_worker = memory_per_worker;
  s.count = count;
  return s;
}

struct Case {
  std::string name;
  Limits limits;
  SizingConfig sizing;
  std::optional<long> request;
  int workers;
  double cpus_used;
  std::vector<std::string> reason_parts;
};

const Rounding kFloor = Rounding::kFloor;
const Rounding kCeil = Rounding::kCeil;
const Rounding kNearest = Rounding::kNearest;

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"explicit count wins",
       {2.0},
       Sizing(kFloor, 1, 1, 4, kGiB, 7),
       std::nullopt,
       7,
       2,
       {"7 workers: set explicitly (workers: 7)"}},
      {"quota floor",
       {1.5},
       Sizing(kFloor),
       std::nullopt,
       1,
       1.5,
       {"1 worker: CPU quota 1.5 cores (/sys/fs/cgroup/app/cpu.max)",
        "= 1.5, rounded down"}},
      {"quota ceil",
       {1.5},
       Sizing(kCeil),
       std::nullopt,
       2,
       1.5,
       {"2 workers: CPU quota 1.5 cores (/sys/fs/cgroup/app/cpu.max) x 1 per "
        "CPU = 1.5, rounded up"}},
      {"quota nearest",
       {1.5},
       Sizing(kNearest),
       std::nullopt,
       2,
       1.5,
       {"rounded to nearest"}},
      {"nearest rounds down below half",
       {2.4},
       Sizing(kNearest),
       std::nullopt,
       2,
       2.4,
       {"= 2.4, rounded to nearest"}},
      {"per_cpu 2, exact",
       {2.5},
       Sizing(kFloor, 2),
       std::nullopt,
       5,
       2.5,
       {"5 workers: CPU quota 2.5 cores (/sys/fs/cgroup/app/cpu.max) x 2 per "
        "CPU"}},
      {"float slack on ceil",
       {std::nullopt, 10, 16},
       Sizing(kCeil, 0.3),
       std::nullopt,
       3,
       10,
       {"3 workers: cpuset 10 CPUs", "x 0.3 per CPU"}},
      {"sub-CPU quota floors to min 1",
       {0.5},
       Sizing(kFloor),
       std::nullopt,
       1,
       0.5,
       {"= 0.5, rounded down, raised to min 1"}},
      {"min 0 still gives one",
       {0.5},
       Sizing(kFloor, 1, 0),
       std::nullopt,
       1,
       0.5,
       {"raised to 1"}},
      {"min raises",
       {1.0},
       Sizing(kFloor, 1, 3),
       std::nullopt,
       3,
       1,
       {"raised to min 3"}},
      {"max lowers",
       {std::nullopt, std::nullopt, 8},
       Sizing(kFloor, 2, 1, 4),
       std::nullopt,
       4,
       8,
       {"CPU affinity 8 CPUs (Cpus_allowed_list) x 2 per CPU",
        "lowered to max 4"}},
      {"cpuset narrower than quota",
       {4.0, 2, 8},
       Sizing(),
       std::nullopt,
       2,
       2,
       {"cpuset 2 CPUs (/sys/fs/cgroup/cpuset.cpus.effective)"}},
      {"affinity narrower than all",
       {4.0, 8, 1},
       Sizing(),
       std::nullopt,
       1,
       1,
       {"1 worker: CPU affinity 1 CPU (Cpus_allowed_list)"}},
      {"memory caps",
       {4.0, std::nullopt, 4, kGiB},
       Sizing(kFloor, 1, 1, 1024, 512 * kMiB),
       std::nullopt,
       2,
       4,
       {"capped at 2 by memory limit 1 GiB (/sys/fs/cgroup/app/memory.max) / "
        "512 MiB per worker"}},
      {"memory smaller than one worker",
       {4.0, std::nullopt, 4, kGiB},
       Sizing(kFloor, 1, 2, 1024, 2 * kGiB),
       std::nullopt,
       1,
       4,
       {"capped at 1 by memory limit"}},
      {"memory leaves room",
       {2.0, std::nullopt, 4, 8 * kGiB},
       Sizing(kFloor, 1, 1, 1024, kGiB),
       std::nullopt,
       2,
       2,
       {"within memory limit 8 GiB", "(allows 8)"}},
      {"memory per worker without a limit",
       {2.0},
       Sizing(kFloor, 1, 1, 1024, kGiB),
       std::nullopt,
       2,
       2,
       {"no memory limit to cap it"}},
      {"request used without quota",
       {std::nullopt, std::nullopt, 4},
       Sizing(kFloor),
       1500,
       1,
       1.5,
       {"1 worker: CPU request 1.5 cores (COREFORK_CPU_REQUEST=1500m, no CPU "
        "quota) x 1 per CPU = 1.5, rounded down"}},
      {"request rounded up",
       {std::nullopt, std::nullopt, 4},
       Sizing(kCeil),
       1500,
       2,
       1.5,
       {"COREFORK_CPU_REQUEST=1500m"}},
      {"request capped by cpuset",
       {std::nullopt, 2, 4},
       Sizing(kFloor),
       6000,
       2,
       2,
       {"CPU request 6 cores (COREFORK_CPU_REQUEST=6000m, no CPU quota) capped "
        "by cpuset 2 CPUs"}},
      {"request capped by affinity",
       {std::nullopt, std::nullopt, 3},
       Sizing(kFloor),
       6000,
       3,
       3,
       {"capped by CPU affinity 3 CPUs"}},
      {"quota beats request",
       {2.0, std::nullopt, 4},
       Sizing(kFloor),
       500,
       2,
       2,
       {"2 workers: CPU quota 2 cores"}},
      {"zero request ignored",
       {std::nullopt, std::nullopt, 4},
       Sizing(kFloor),
       0,
       4,
       4,
       {"4 workers: CPU affinity 4 CPUs"}},
  };
  return cases;
}

TEST(SizingTest, DecidesWorkers) {
  for (const Case& c : Cases()) {
    SizingDecision d = DecideWorkers(Info(c.limits), c.sizing, c.request);
    EXPECT_EQ(d.workers, c.workers) << c.name << ": " << d.reason;
    EXPECT_DOUBLE_EQ(d.cpus_used, c.cpus_used) << c.name;
    for (const std::string& part : c.reason_parts) {
      EXPECT_NE(d.reason.find(part), std::string::npos)
          << c.name << ": \"" << d.reason << "\" lacks \"" << part << "\"";
    }
    EXPECT_EQ(d.reason.find('\n'), std::string::npos) << c.name;
  }
}

TEST(SizingTest, HostCpusWhenAffinityUnknown) {
  Limits limits{std::nullopt, std::nullopt, 0};
  CgroupInfo info = Info(limits);
  info.effective_cpus = info.host_cpus;
  SizingDecision d = DecideWorkers(info, Sizing(), std::nullopt);
  EXPECT_EQ(d.workers, 16);
  EXPECT_EQ(d.reason, "16 workers: 16 CPUs online x 1 per CPU");
}

TEST(SizingTest, JsonHasEveryKeyAndNullForUnlimited) {
  CgroupInfo info = Info({std::nullopt, std::nullopt, 4, std::nullopt});
  SizingDecision d = DecideWorkers(info, Sizing(), std::nullopt);
  std::string json = DetectionJson(info, d);
  const char* keys[] = {"cgroup_version",
                        "cpu_cgroup_path",
                        "cpu_quota_cores",
                        "cpuset_cpus",
                        "affinity_cpus",
                        "host_cpus",
                        "effective_cpus",
                        "memory_limit_bytes",
                        "workers",
                        "reason",
                        "notes"};
  for (const char* key : keys) {
    EXPECT_NE(json.find("\"" + std::string(key) + "\":"), std::string::npos)
        << key << " in " << json;
  }
  EXPECT_NE(json.find("\"cpu_quota_cores\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"cpuset_cpus\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"memory_limit_bytes\":null"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"notes\":[]"), std::string::npos) << json;
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(SizingTest, JsonNumbersAndEscapes) {
  struct JsonCase {
    std::string name, expected;
  };
  CgroupInfo info = Info({1.5, 2, 4, 512 * kMiB});
  info.cpu_cgroup_path = "/sys/fs/cgroup/my \"odd\" \\ dir";
  info.notes = {"line\nbreak\ttab", std::string("bell\x07") + "end"};
  SizingDecision d = DecideWorkers(info, Sizing(kCeil), std::nullopt);
  std::string json = DetectionJson(info, d);
  const JsonCase cases[] = {
      {"version", "\"cgroup_version\":\"v2\""},
      {"quota", "\"cpu_quota_cores\":1.5,"},
      {"cpuset", "\"cpuset_cpus\":2,"},
      {"effective", "\"effective_cpus\":1.5,"},
      {"memory", "\"memory_limit_bytes\":536870912,"},
      {"workers", "\"workers\":2,"},
      {"path escaped", R"("/sys/fs/cgroup/my \"odd\" \\ dir")"},
      {"notes escaped", R"("notes":["line\nbreak\ttab","bell\u0007end"])"},
  };
  for (const JsonCase& c : cases) {
    EXPECT_NE(json.find(c.expected), std::string::npos)
        << c.name << ": " << json;
  }
}

TEST(SizingTest, TextAlignsOneLinePerFinding) {
  CgroupInfo info = Info({1.5, std::nullopt, 4, 512 * kMiB});
  info.notes = {"something odd"};
  SizingDecision d = DecideWorkers(info, Sizing(kCeil), std::nullopt);
  std::string text = DetectionText(info, d);
  const char* expected[] = {
      "cgroup version:  v2\n",
      "cpu quota:       1.5 cores (/sys/fs/cgroup/app/cpu.max)\n",
      "cpuset:          none\n",
      "effective CPUs:  1.5\n",
      "memory limit:    512 MiB (/sys/fs/cgroup/app/memory.max)\n",
      "workers:         2\n",
      "note:            something odd\n",
  };
  for (const char* line : expected) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "in\n" << text;
  }
}

}  // namespace
}  // namespace corefork
