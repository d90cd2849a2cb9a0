#include "metrics/proc_stats.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "metrics/test_children.h"
#include "os/fd.h"

namespace corefork {
namespace {

namespace fs = std::filesystem;
using test_children::KillAndReap;
using test_children::SpawnSleeper;

double NowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// When this test binary started, give or take static initialization.
const double kBinaryStartSeconds = NowSeconds();

void BurnCpu(double seconds) {
  const clock_t end = clock() + static_cast<clock_t>(seconds * CLOCKS_PER_SEC);
  volatile uint64_t x = 0;
  while (clock() < end) x = x + 1;
}

TEST(ProcStatsTest, OwnProcess) {
  std::optional<ProcStats> before = ReadProcStats(getpid());
  ASSERT_TRUE(before.has_value());
  BurnCpu(0.3);
  std::vector<Fd> files;
  for (int i = 0; i < 10; ++i) files.emplace_back(open("/dev/null", O_RDONLY));
  std::optional<ProcStats> after = ReadProcStats(getpid());
  ASSERT_TRUE(after.has_value());

  EXPECT_GE(after->cpu_seconds - before->cpu_seconds, 0.2);
  EXPECT_EQ(after->open_fds - before->open_fds, 10);
  EXPECT_GT(after->resident_bytes, 0u);
  EXPECT_GE(after->virtual_bytes, after->resident_bytes);
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(after->max_fds, static_cast<int64_t>(limit.rlim_cur));
  // btime has whole seconds: allow a second of rounding.
  EXPECT_LE(after->start_time_seconds, kBinaryStartSeconds + 1);
  EXPECT_GE(after->start_time_seconds, kBinaryStartSeconds - 60);
}

TEST(ProcStatsTest, ChildProcess) {
  const double spawned_at = NowSeconds();
  pid_t pid = SpawnSleeper();
  ASSERT_GT(pid, 0);
  std::optional<ProcStats> stats = ReadProcStats(pid);
  KillAndReap(pid);
  ASSERT_TRUE(stats.has_value());
  EXPECT_GE(stats->cpu_seconds, 0);
  EXPECT_LT(stats->cpu_seconds, 1);
  EXPECT_GE(stats->open_fds, 0);
  EXPECT_NEAR(stats->start_time_seconds, spawned_at, 2);
}

TEST(ProcStatsTest, GoneProcesses) {
  pid_t reaped = SpawnSleeper();
  ASSERT_GT(reaped, 0);
  KillAndReap(reaped);
  struct Case {
    std::string name;
    pid_t pid;
  };
  const Case cases[] = {
      {"reaped child", reaped},
      {"beyond any pid_max", INT_MAX},
      {"zero", 0},
      {"negative", -1},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(ReadProcStats(c.pid).has_value()) << c.name;
  }
}

// A fake /proc: <root>/stat with btime, <root>/<pid>/{stat,fd/,limits}.
class FakeProc {
 public:
  FakeProc() : root_(fs::temp_directory_path() / MakeName()) {
    fs::create_directories(root_);
    Write("stat", "cpu  1 2 3 4\nbtime 1700000000\nprocesses 5\n");
  }
  ~FakeProc() { fs::remove_all(root_); }

  void Write(const std::string& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }
  std::string root() const { return root_.string(); }

 private:
  static std::string MakeName() {
    return "corefork_proc_stats_test_" + std::to_string(getpid());
  }
  fs::path root_;
};

std::string StatLine(const std::string& comm) {
  // Fields 1-24: utime 250, stime 50, starttime 12345, vsize 8192000, rss 100.
  return "4242 (" + comm +
         ") S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 "
         "8192000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0\n";
}

std::string LimitsText(const std::string& soft) {
  return "Limit                     Soft Limit           Hard Limit  Units\n"
         "Max cpu time              unlimited            unlimited   seconds\n"
         "Max open files            " +
         soft + "                 4096        files\n";
}

TEST(ProcStatsTest, ParsesFixtureProcDir) {
  struct Case {
    std::string name;
    std::string stat;    // "" for no file
    std::string limits;  // "" for no file
    int fds;             // entries in fd/; -1 for no fd/ at all
    bool found;
    int64_t max_fds;
  };
  const Case cases[] = {
      {"plain comm", StatLine("sleep"), LimitsText("1024"), 3, true, 1024},
      {"comm with ') '", StatLine("a) b"), LimitsText("1024"), 0, true, 1024},
      {"comm of parens", StatLine(")) (x) ("), LimitsText("8"), 1, true, 8},
      {"unlimited fds", StatLine("a b"), LimitsText("unlimited"), 2, true, -1},
      {"no limits file", StatLine("x"), "", 2, true, -1},
      {"truncated stat", "4242 (x) S 1 2 3", LimitsText("8"), 1, false, 0},
      {"no closing paren", "4242 (x S 1 2 3", LimitsText("8"), 1, false, 0},
      {"no stat file", "", LimitsText("8"), 1, false, 0},
      {"no fd dir", StatLine("x"), LimitsText("8"), -1, false, 0},
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (const Case& c : cases) {
    FakeProc proc;
    fs::create_directories(proc.root() + "/4242");
    if (c.fds >= 0) fs::create_directories(proc.root() + "/4242/fd");
    if (!c.stat.empty()) proc.Write("4242/stat", c.stat);
    if (!c.limits.empty()) proc.Write("4242/limits", c.limits);
    for (int i = 0; i < c.fds; ++i) {
      proc.Write("4242/fd/" + std::to_string(i), "");
    }
    std::optional<ProcStats> stats = ReadProcStats(4242, proc.root());
    ASSERT_EQ(stats.has_value(), c.found) << c.name;
    if (!c.found) continue;
    EXPECT_DOUBLE_EQ(stats->cpu_seconds, 300 / ticks) << c.name;
    EXPECT_EQ(stats->resident_bytes, 100 * page) << c.name;
    EXPECT_EQ(stats->virtual_bytes, 8192000u) << c.name;
    EXPECT_EQ(stats->open_fds, c.fds) << c.name;
    EXPECT_EQ(stats->max_fds, c.max_fds) << c.name;
    EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1700000000 + 12345 / ticks)
        << c.name;
  }
}

}  // namespace
}  // namespace corefork

namespace corefork {
namespace {

namespace fs = std::filesystem;

// A fake /proc entry: stat with `rss_pages` and one task whose children
// file lists `children`.
void FakeProcess(const fs::path& root, pid_t pid, uint64_t rss_pages,
                 const std::string& children) {
  const fs::path dir = root / std::to_string(pid);
  fs::create_directories(dir / "task" / std::to_string(pid));
  std::ofstream(dir / "stat")
      << pid << " (a (b) c) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 100 "
      << 4096 * 10 << " " << rss_pages << " 0\n";
  std::ofstream(dir / "task" / std::to_string(pid) / "children") << children;
}

TEST(TreeRssTest, SumsDescendantsWithinBounds) {
  const fs::path root =
      fs::temp_directory_path() / ("tree_rss_" + std::to_string(getpid()));
  fs::remove_all(root);
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  FakeProcess(root, 10, 100, "11 12 ");
  FakeProcess(root, 11, 20, "13 ");
  FakeProcess(root, 12, 3, "");
  FakeProcess(root, 13, 4, "99 ");  // 99 exited: no /proc entry
  std::optional<TreeRss> all = ReadTreeRss(10, root.string());
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->bytes, 127 * page);
  EXPECT_EQ(all->processes, 4);
  EXPECT_FALSE(all->truncated);

  std::optional<TreeRss> bounded = ReadTreeRss(10, root.string(), 2);
  ASSERT_TRUE(bounded.has_value());
  EXPECT_EQ(bounded->processes, 2);
  EXPECT_TRUE(bounded->truncated);

  EXPECT_FALSE(ReadTreeRss(99, root.string()).has_value()) << "gone";
  EXPECT_EQ(ReadTreeRss(13, root.string())->bytes, 4 * page);

  // A children list past the read bound (a fork bomb's ~9,000 pids) is a
  // truncated walk, not an empty one.
  std::string many;
  for (int i = 0; i < 12000; ++i) many += std::to_string(100000 + i) + " ";
  FakeProcess(root, 20, 7, many);
  std::optional<TreeRss> bomb = ReadTreeRss(20, root.string());
  ASSERT_TRUE(bomb.has_value());
  EXPECT_EQ(bomb->bytes, 7 * page);
  EXPECT_TRUE(bomb->truncated);
  fs::remove_all(root);
}

// A real shell whose child holds 48 MiB: the tree sees it, the shell's own
// RSS does not.
TEST(TreeRssTest, RealChildMemoryCounts) {
  const fs::path marker = fs::temp_directory_path() /
                          ("tree_rss_ready_" + std::to_string(getpid()));
  fs::remove(marker);
  const std::string script =
      "/usr/bin/python3 -c \"import time; b = bytearray(48 << 20); "
      "open('" +
      marker.string() + "', 'w').close(); time.sleep(60)\" & wait";
  pid_t shell = test_children::SpawnShell(script.c_str());
  ASSERT_GT(shell, 0);
  std::optional<TreeRss> tree;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    tree = ReadTreeRss(shell);
    if (fs::exists(marker) && tree && tree->processes == 2 &&
        tree->bytes >= (48u << 20)) {
      break;
    }
    usleep(20'000);  // polling a condition, with a deadline
  }
  std::optional<ProcStats> own = ReadProcStats(shell);
  {
    std::ifstream children("/proc/" + std::to_string(shell) + "/task/" +
                           std::to_string(shell) + "/children");
    for (pid_t child; children >> child;) kill(child, SIGKILL);
  }
  test_children::KillAndReap(shell);
  fs::remove(marker);
  ASSERT_TRUE(tree.has_value());
  EXPECT_EQ(tree->processes, 2);
  EXPECT_GE(tree->bytes, 48u << 20);
  ASSERT_TRUE(own.has_value());
  EXPECT_LT(own->resident_bytes, 16u << 20);
}

}  // namespace
}  // namespace corefork
