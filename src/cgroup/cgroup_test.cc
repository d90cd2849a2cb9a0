#include "cgroup/cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "util/in_child_for_tests.h"

namespace corefork {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(COREFORK_FIXTURES) + "/cgroup/";

struct Case {
  std::string name;  // fixture directory under tests/fixtures/cgroup/
  std::string version;
  std::string cpu_dir;  // relative to the fixture root; "" when none
  std::optional<double> quota;
  std::optional<int> cpuset;
  int affinity;
  double effective;
  std::optional<uint64_t> memory;
  std::string note;  // substring of some note; "" means no notes at all
};

const Case kCases[] = {
    {"v1_quota", "v1", "/sys/fs/cgroup/cpu,cpuacct/app", 1.5, 4, 4, 1.5,
     512u << 20, ""},
    {"v1_no_quota", "v1", "/sys/fs/cgroup/cpu,cpuacct/app", std::nullopt, 4, 4,
     4, std::nullopt, ""},
    {"v2_max", "v2", "/sys/fs/cgroup/app.slice/app.service", std::nullopt, 8, 8,
     8, std::nullopt, ""},
    {"v2_numeric", "v2", "/sys/fs/cgroup/ctr", 2.5, 4, 4, 2.5, 1u << 30, ""},
    {"v2_nested", "v2", "/sys/fs/cgroup/kubepods/burstable/pod1/ctr", 2, 8, 8,
     2, 1u << 30, ""},
    {"hybrid", "v1", "/sys/fs/cgroup/cpu/job", 2, 2, 2, 2, 256u << 20, ""},
    {"hybrid_v2_cpu", "v2", "/sys/fs/cgroup/unified/svc", 1, std::nullopt, 4, 1,
     std::nullopt, "cpuset: cgroup v2"},
    {"hybrid_v2_nocpu", "none", "", std::nullopt, std::nullopt, 4, 4, 1u << 30,
     "cpu: cgroup v2 at"},
    {"podman_mount_root", "v1", "/sys/fs/cgroup/cpu,cpuacct", 1.5, 2, 2, 1.5,
     512u << 20, ""},
    {"mount_root_mismatch", "v1", "/sys/fs/cgroup/cpu,cpuacct", 1, std::nullopt,
     4, 1, std::nullopt, "is not under mount root"},
    {"cgroupns_root", "v2", "/sys/fs/cgroup", 1, 4, 4, 1, 256u << 20, ""},
    {"cgroupns_dotdot", "v1", "/sys/fs/cgroup/cpu", std::nullopt, std::nullopt,
     4, 4, std::nullopt, "outside our cgroup namespace"},
    {"cgroupns_dotdot_found", "v1", "/sys/fs/cgroup/cpu/job", 1.5, std::nullopt,
     4, 1.5, 512u << 20, ""},
    {"escaped_mount", "v1", "/sys/fs/cgroup/cpu acct/my app", 3, std::nullopt,
     4, 3, 1u << 30, ""},
    {"cpuset_narrow", "v2", "/sys/fs/cgroup/pod/ctr", 4, 2, 8, 2, std::nullopt,
     ""},
    {"malformed", "v2", "/sys/fs/cgroup/ctr", std::nullopt, std::nullopt, 4, 4,
     std::nullopt, "malformed"},
    {"missing_files", "v1", "/sys/fs/cgroup/cpu", std::nullopt, std::nullopt, 2,
     2, std::nullopt, "not found"},
    {"zero_period", "v1", "/sys/fs/cgroup/cpu/z", std::nullopt, std::nullopt, 4,
     4, std::nullopt, "not positive"},
    {"sub_cpu", "v2", "/sys/fs/cgroup/tiny", 0.5, std::nullopt, 4, 0.5,
     std::nullopt, ""},
    {"affinity_narrow", "v2", "/sys/fs/cgroup/ctr", 4, 8, 1, 1, std::nullopt,
     ""},
    {"no_cgroup", "none", "", std::nullopt, std::nullopt, 6, 6, std::nullopt,
     "cannot read"},
};

std::string Notes(const CgroupInfo& info) {
  std::string all;
  for (const std::string& n : info.notes) all += "\n  " + n;
  return all;
}

bool HasNote(const CgroupInfo& info, const std::string& part) {
  for (const std::string& n : info.notes) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(CgroupTest, DetectsFixtures) {
  for (const Case& c : kCases) {
    std::string root = kFixtures + c.name;
    ASSERT_TRUE(fs::is_directory(root)) << c.name;
    CgroupInfo info = DetectCgroup(root);
    EXPECT_EQ(info.version, c.version) << c.name;
    EXPECT_EQ(info.cpu_cgroup_path, c.cpu_dir.empty() ? "" : root + c.cpu_dir)
        << c.name;
    EXPECT_EQ(info.cpu_quota_cores, c.quota) << c.name;
    EXPECT_EQ(info.cpuset_cpus, c.cpuset) << c.name;
    EXPECT_EQ(info.affinity_cpus, c.affinity) << c.name;
    EXPECT_DOUBLE_EQ(info.effective_cpus, c.effective) << c.name;
    EXPECT_EQ(info.memory_limit_bytes, c.memory) << c.name;
    if (c.note.empty()) {
      EXPECT_TRUE(info.notes.empty()) << c.name << Notes(info);
    } else {
      EXPECT_TRUE(HasNote(info, c.note)) << c.name << Notes(info);
    }
  }
}

TEST(CgroupTest, NamesTheFilesThatSetEachLimit) {
  struct SourceCase {
    std::string name, quota, cpuset, memory;
  };
  const SourceCase cases[] = {
      {"v1_quota", "/sys/fs/cgroup/cpu,cpuacct/app/cpu.cfs_quota_us",
       "/sys/fs/cgroup/cpuset/app/cpuset.effective_cpus",
       "/sys/fs/cgroup/memory/app/memory.limit_in_bytes"},
      {"v2_nested", "/sys/fs/cgroup/kubepods/burstable/pod1/cpu.max",
       "/sys/fs/cgroup/cpuset.cpus.effective",
       "/sys/fs/cgroup/kubepods/burstable/pod1/memory.max"},
      {"cpuset_narrow", "/sys/fs/cgroup/pod/ctr/cpu.max",
       "/sys/fs/cgroup/pod/cpuset.cpus.effective", ""},
      {"podman_mount_root", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us",
       "/sys/fs/cgroup/cpuset/cpuset.cpus",
       "/sys/fs/cgroup/memory/memory.limit_in_bytes"},
      {"escaped_mount", "/sys/fs/cgroup/cpu acct/my app/cpu.cfs_quota_us", "",
       "/sys/fs/cgroup/memory/memory.limit_in_bytes"},
      {"cgroupns_dotdot_found", "/sys/fs/cgroup/cpu/job/cpu.cfs_quota_us", "",
       "/sys/fs/cgroup/memory/pods/job/memory.limit_in_bytes"},
  };
  for (const SourceCase& c : cases) {
    std::string root = kFixtures + c.name;
    CgroupInfo info = DetectCgroup(root);
    auto under = [&](const std::string& p) { return p.empty() ? p : root + p; };
    EXPECT_EQ(info.quota_source, under(c.quota)) << c.name;
    EXPECT_EQ(info.cpuset_source, under(c.cpuset)) << c.name;
    EXPECT_EQ(info.memory_source, under(c.memory)) << c.name;
  }
}

TEST(CgroupTest, HostCpusFallBackToAffinity) {
  CgroupInfo info = DetectCgroup(kFixtures + "no_cgroup");
  EXPECT_EQ(info.host_cpus, 6);
  EXPECT_EQ(DetectCgroup(kFixtures + "v2_max").host_cpus, 8);
}

TEST(CgroupTest, TrailingSlashOnRootIsIgnored) {
  CgroupInfo info = DetectCgroup(kFixtures + "v1_quota/");
  EXPECT_EQ(info.cpu_cgroup_path,
            kFixtures + "v1_quota/sys/fs/cgroup/cpu,cpuacct/app");
  EXPECT_EQ(info.cpu_quota_cores, 1.5);
}

// A scratch copy of a fixture, removed when the test ends.
class ScratchTree {
 public:
  explicit ScratchTree(const std::string& fixture)
      : dir_(fs::path(testing::TempDir()) /
             ("cgroup_" + std::to_string(getpid()) + "_" + fixture)) {
    fs::remove_all(dir_);
    fs::copy(kFixtures + fixture, dir_, fs::copy_options::recursive);
  }
  ~ScratchTree() { fs::remove_all(dir_); }
  std::string root() const { return dir_.string(); }
  void Write(const std::string& rel, const std::string& text) const {
    std::ofstream(dir_ / rel, std::ios::trunc) << text;
  }

 private:
  fs::path dir_;
};

TEST(CgroupTest, ReadsMountinfoLinesLongerThanAnyBuffer) {
  ScratchTree tree("v2_numeric");
  std::string long_point = "/mnt";
  for (int i = 0; i < 600; ++i) long_point += "/dir\\040" + std::to_string(i);
  std::string many_options = "rw";
  for (int i = 0; i < 1500; ++i) many_options += ",opt" + std::to_string(i);
  std::string mountinfo =
      "40 24 0:40 / " + long_point + " rw - tmpfs tmpfs " + many_options +
      "\n29 24 0:29 / /sys/fs/cgroup rw,relatime shared:4 master:1 - cgroup2 "
      "cgroup2 " +
      many_options + "\n";
  ASSERT_GT(mountinfo.find('\n'), 8192u);
  ASSERT_GT(mountinfo.size() - mountinfo.find('\n'), 8192u);
  tree.Write("proc/self/mountinfo", mountinfo);
  CgroupInfo info = DetectCgroup(tree.root());
  EXPECT_EQ(info.version, "v2");
  EXPECT_EQ(info.cpu_quota_cores, 2.5);
  EXPECT_TRUE(info.notes.empty()) << Notes(info);
}

// Runs DetectCgroup(root) in a child process, so a read that blocks (a FIFO
// opened for reading) or never ends (/dev/zero) fails the test at the
// deadline instead of hanging it. Returns the notes, one per line, or
// nullopt when the child did not finish in time.
std::optional<std::string> DetectWithDeadline(const std::string& root,
                                              std::string* quota) {
  std::optional<std::string> out = InChild([&root] {
    CgroupInfo info = DetectCgroup(root);
    std::string text =
        (info.cpu_quota_cores ? std::to_string(*info.cpu_quota_cores)
                              : std::string("none")) +
        "\n";
    for (const std::string& n : info.notes) text += n + "\n";
    return text;
  });
  if (!out) return std::nullopt;
  size_t newline = out->find('\n');
  *quota = out->substr(0, newline);
  return out->substr(newline + 1);
}

// A FIFO or a device where an interface file should be (a planted file in a
// writable cgroup dir, a bad fixture) is skipped with a note: never waited
// on, never read without end.
TEST(CgroupTest, FifoAndDeviceFilesAreRefusedWithoutBlocking) {
  ScratchTree tree("v2_numeric");
  const std::string cpu_max = tree.root() + "/sys/fs/cgroup/ctr/cpu.max";
  const std::string status = tree.root() + "/proc/self/status";
  const std::string memory = tree.root() + "/sys/fs/cgroup/ctr/memory.max";
  fs::remove(cpu_max);
  ASSERT_EQ(mkfifo(cpu_max.c_str(), 0600), 0);
  fs::remove(memory);
  fs::create_symlink("/dev/zero", memory);
  std::string quota;
  std::optional<std::string> notes = DetectWithDeadline(tree.root(), &quota);
  ASSERT_TRUE(notes.has_value()) << "DetectCgroup blocked on a FIFO or "
                                    "/dev/zero for 10 s";
  EXPECT_EQ(quota, "none");
  EXPECT_NE(notes->find(cpu_max + ": is a FIFO, not a regular file; ignored"),
            std::string::npos)
      << *notes;
  EXPECT_NE(notes->find(memory +
                        ": is a character device, not a regular file; ignored"),
            std::string::npos)
      << *notes;

  // /proc/self/status as a FIFO: noted like a missing file.
  fs::remove(status);
  ASSERT_EQ(mkfifo(status.c_str(), 0600), 0);
  notes = DetectWithDeadline(tree.root(), &quota);
  ASSERT_TRUE(notes.has_value()) << "blocked on a FIFO /proc/self/status";
  EXPECT_NE(
      notes->find("cannot read " + status + ": is a FIFO, not a regular file"),
      std::string::npos)
      << *notes;
}

// An interface file is a few bytes; a huge one is refused, not slurped.
TEST(CgroupTest, OversizedInterfaceFileIsIgnoredWithANote) {
  ScratchTree tree("v2_numeric");
  tree.Write("sys/fs/cgroup/ctr/cpu.max",
             "250000 100000\n" + std::string(1 << 20, ' '));
  CgroupInfo info = DetectCgroup(tree.root());
  EXPECT_EQ(info.cpu_quota_cores, std::nullopt);
  EXPECT_TRUE(HasNote(info, "cpu.max: larger than 65536 bytes; ignored"))
      << Notes(info);
}

TEST(CgroupTest, CpuMaxAndCpuListVariants) {
  struct Variant {
    std::string name, cpu_max, cpuset;
    std::optional<double> quota;
    std::optional<int> cpus;
    bool note;
  };
  const Variant variants[] = {
      {"plain", "250000 100000\n", "0-3\n", 2.5, 4, false},
      {"no newline", "250000 100000", "0-3", 2.5, 4, false},
      {"spread list", "max 100000\n", "0-3,8,10-11\n", std::nullopt, 7, false},
      {"single cpu", "max\n", "5\n", std::nullopt, 1, false},
      {"empty cpuset", "max 100000\n", "\n", std::nullopt, std::nullopt, false},
      {"quota only", "250000\n", "0-3\n", std::nullopt, 4, true},
      {"three fields", "1 2 3\n", "0-3\n", std::nullopt, 4, true},
      {"negative period", "100000 -5\n", "0-3\n", std::nullopt, 4, true},
      {"zero quota", "0 100000\n", "0-3\n", std::nullopt, 4, true},
      {"backwards range", "max 100000\n", "3-1\n", std::nullopt, std::nullopt,
       true},
      {"empty cpu.max", "", "0-3\n", std::nullopt, 4, true},
  };
  ScratchTree tree("v2_numeric");
  for (const Variant& v : variants) {
    tree.Write("sys/fs/cgroup/ctr/cpu.max", v.cpu_max);
    tree.Write("sys/fs/cgroup/ctr/cpuset.cpus.effective", v.cpuset);
    CgroupInfo info = DetectCgroup(tree.root());
    EXPECT_EQ(info.cpu_quota_cores, v.quota) << v.name;
    EXPECT_EQ(info.cpuset_cpus, v.cpus) << v.name;
    EXPECT_EQ(!info.notes.empty(), v.note) << v.name << Notes(info);
  }
}

TEST(CgroupTest, MemoryLimitVariants) {
  struct Variant {
    std::string name, v1_value;
    std::optional<uint64_t> bytes;
  };
  const Variant variants[] = {
      {"sentinel 4k pages", "9223372036854771712\n", std::nullopt},
      {"sentinel 64k pages", "9223372036854710272\n", std::nullopt},
      {"one tebibyte", "1099511627776\n", 1099511627776u},
      {"small", "104857600\n", 104857600u},
      {"minus one", "-1\n", std::nullopt},
  };
  ScratchTree tree("v1_quota");
  for (const Variant& v : variants) {
    tree.Write("sys/fs/cgroup/memory/app/memory.limit_in_bytes", v.v1_value);
    EXPECT_EQ(DetectCgroup(tree.root()).memory_limit_bytes, v.bytes) << v.name;
  }
}

TEST(CgroupTest, MissingRootGivesNotesNotCrashes) {
  CgroupInfo info = DetectCgroup(kFixtures + "does_not_exist");
  EXPECT_EQ(info.version, "none");
  EXPECT_GE(info.host_cpus, 1);
  EXPECT_GT(info.effective_cpus, 0);
  EXPECT_TRUE(HasNote(info, "cannot read")) << Notes(info);
}

TEST(CgroupRealTest, DetectsThisMachine) {
  CgroupInfo info = DetectCgroup("/");
  EXPECT_GE(info.host_cpus, 1);
  EXPECT_GE(info.affinity_cpus, 1);
  EXPECT_GT(info.effective_cpus, 0);
  EXPECT_LE(info.effective_cpus, info.host_cpus);
  if (info.version != "none") {
    EXPECT_FALSE(info.cpu_cgroup_path.empty());
  }
}

// Moves a forked child into a fresh v1 cpu cgroup with a 1.5-core quota
// (inside a new cgroup namespace when asked), runs DetectCgroup("/") there
// and returns "quota|cpu_cgroup_path|cpu notes" as the child saw it.
class RealV1Cgroup {
 public:
  RealV1Cgroup() {
    CgroupInfo info = DetectCgroup("/");
    if (info.version != "v1") {
      skip_ = "cpu controller is not on cgroup v1 here";
      return;
    }
    dir_ = info.cpu_cgroup_path + "/corefork_test_" + std::to_string(getpid());
    if (!fs::create_directory(dir_, ec_) ||
        !WriteFile(dir_ + "/cpu.cfs_quota_us", "150000")) {
      skip_ = dir_ + " is not writable";
    }
  }
  ~RealV1Cgroup() {
    if (!dir_.empty()) fs::remove(dir_, ec_);
  }
  const std::string& skip() const { return skip_; }
  const std::string& dir() const { return dir_; }

  std::string DetectInChild(bool new_namespace) {
    int fds[2];
    if (pipe(fds) != 0) return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      std::string report = "move failed";
      if (WriteFile(dir_ + "/cgroup.procs", std::to_string(getpid())) &&
          (!new_namespace || unshare(CLONE_NEWCGROUP) == 0)) {
        CgroupInfo info = DetectCgroup("/");
        report = std::to_string(info.cpu_quota_cores.value_or(-1)) + "|" +
                 info.cpu_cgroup_path + "|";
        for (const std::string& n : info.notes) {
          if (n.rfind("cpu:", 0) == 0) report += n + ";";
        }
      }
      (void)!write(fds[1], report.data(), report.size());
      _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
      out.append(buf, n);
    close(fds[0]);
    waitpid(pid, nullptr, 0);
    return out;
  }

 private:
  static bool WriteFile(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text << std::flush;
    return static_cast<bool>(out);
  }

  std::string dir_;
  std::string skip_;
  std::error_code ec_;
};

TEST(CgroupRealTest, ReadsARealV1Quota) {
  struct RealCase {
    std::string name;
    bool new_namespace;
  };
  const RealCase cases[] = {{"own cgroup", false},
                            {"inside unshare --cgroup", true}};
  RealV1Cgroup cgroup;
  if (!cgroup.skip().empty()) GTEST_SKIP() << cgroup.skip();
  for (const RealCase& c : cases) {
    std::string report = cgroup.DetectInChild(c.new_namespace);
    EXPECT_EQ(report, "1.500000|" + cgroup.dir() + "|") << c.name;
  }
}

}  // namespace
}  // namespace corefork

namespace corefork {
namespace {

namespace fs = std::filesystem;

// A copy of a fixture tree to write usage files into.
fs::path CopyFixture(const std::string& name) {
  const fs::path to = fs::temp_directory_path() /
                      ("memusage_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(to);
  fs::copy(std::string(COREFORK_FIXTURES) + "/cgroup/" + name, to,
           fs::copy_options::recursive);
  return to;
}

void Write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// v2: the pod level (1 GiB) is tighter than the container's own 2 GiB, so
// its memory.current and memory.stat are the ones read.
TEST(MemoryUsageTest, V2ReadsTheTightestLevelMinusInactiveFile) {
  const fs::path root = CopyFixture("v2_nested");
  const fs::path pod = root / "sys/fs/cgroup/kubepods/burstable/pod1";
  Write(pod / "memory.current", "943718400\n");  // 900 MiB
  Write(pod / "memory.stat",
        "anon 629145600\nfile 314572800\nactive_file 104857600\n"
        "inactive_file 209715200\nslab 1000\n");
  // The container's own files must not be used.
  Write(pod / "ctr/memory.current", "1\n");
  Write(pod / "ctr/memory.stat", "inactive_file 0\n");
  std::optional<MemoryUsage> usage = ReadMemoryUsage(root.string());
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->limit_bytes, 1u << 30);
  EXPECT_EQ(usage->current_bytes, 900u << 20);
  EXPECT_EQ(usage->inactive_file_bytes, 200u << 20);
  EXPECT_EQ(usage->used_bytes, 700u << 20);
  EXPECT_EQ(usage->dir, pod.string());

  // More inactive cache than usage (racy reads): 0, never a wrap-around.
  Write(pod / "memory.stat", "inactive_file 999999999999\n");
  EXPECT_EQ(ReadMemoryUsage(root.string())->used_bytes, 0u);
  // No memory.stat: the whole usage counts.
  fs::remove(pod / "memory.stat");
  EXPECT_EQ(ReadMemoryUsage(root.string())->used_bytes, 900u << 20);
  // No memory.current: unknown.
  fs::remove(pod / "memory.current");
  EXPECT_FALSE(ReadMemoryUsage(root.string()).has_value());
  fs::remove_all(root);
}

TEST(MemoryUsageTest, V1UsesHierarchicalInactiveFile) {
  const fs::path root = CopyFixture("v1_quota");
  const fs::path app = root / "sys/fs/cgroup/memory/app";
  Write(app / "memory.usage_in_bytes", "314572800\n");  // 300 MiB
  Write(app / "memory.stat",
        "cache 1\ninactive_file 1048576\ntotal_cache 2\n"
        "total_inactive_file 104857600\n");
  std::optional<MemoryUsage> usage = ReadMemoryUsage(root.string());
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->limit_bytes, 512u << 20);
  EXPECT_EQ(usage->used_bytes, 200u << 20);
  fs::remove_all(root);
}

TEST(MemoryUsageTest, NoLimitMeansNoUsage) {
  const fs::path root = CopyFixture("v2_max");
  EXPECT_FALSE(ReadMemoryUsage(root.string()).has_value());
  fs::remove_all(root);
}

TEST(MemoryUsageTest, StatFieldNeedsTheWholeKey) {
  const std::string stat = "total_inactive_file 5\ninactive_file 7\n";
  EXPECT_EQ(MemoryStatField(stat, "inactive_file"), std::optional<uint64_t>(7));
  EXPECT_EQ(MemoryStatField(stat, "total_inactive_file"),
            std::optional<uint64_t>(5));
  EXPECT_EQ(MemoryStatField(stat, "inactive"), std::nullopt);
  EXPECT_EQ(MemoryStatField("inactive_file x\n", "inactive_file"),
            std::nullopt);
}

}  // namespace
}  // namespace corefork
