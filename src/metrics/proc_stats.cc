#include "metrics/proc_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "util/file.h"

namespace corefork {
namespace {

// /proc/PID/stat fields, counted from 1 as in proc(5). The command name
// (field 2) may hold spaces and ')', so fields are counted from the last ')'.
constexpr int kFirstFieldAfterComm = 3;
constexpr int kUtime = 14;
constexpr int kStime = 15;
constexpr int kStartTime = 22;
constexpr int kVsize = 23;
constexpr int kRss = 24;

struct StatFields {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;  // since boot
  uint64_t vsize_bytes = 0;
  uint64_t rss_pages = 0;
};

// The whole file, or nullopt when it cannot be opened (the process is gone).
// /proc files report size 0, so read to EOF rather than by size.
std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

template <typename T>
std::optional<T> ParseNumber(std::string_view s) {
  T value{};
  auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (err != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> SplitWhitespace(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

std::optional<StatFields> ParseStat(std::string_view text) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> fields =
      SplitWhitespace(text.substr(close + 1));
  auto field = [&](int number) -> std::optional<uint64_t> {
    size_t index = number - kFirstFieldAfterComm;
    if (index >= fields.size()) return std::nullopt;
    // rss is a signed long in the kernel; a negative value would not parse
    // as unsigned, and is never meaningful here anyway.
    return ParseNumber<uint64_t>(fields[index]);
  };
  auto utime = field(kUtime), stime = field(kStime);
  auto start = field(kStartTime), vsize = field(kVsize), rss = field(kRss);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return StatFields{*utime, *stime, *start, *vsize, *rss};
}

// "btime N" from <proc_root>/stat: boot time in Unix seconds.
std::optional<uint64_t> ReadBootTime(const std::string& proc_root) {
  std::ifstream in(proc_root + "/stat");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string_view> words = SplitWhitespace(line);
    if (words.size() == 2 && words[0] == "btime") {
      return ParseNumber<uint64_t>(words[1]);
    }
  }
  return std::nullopt;
}

// Entries of a directory, without "." and "..".
std::optional<int> CountDirEntries(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (dir == nullptr) return std::nullopt;
  int count = 0;
  while (const dirent* entry = readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") ++count;
  }
  return count;
}

// The soft "Max open files" value of /proc/PID/limits; -1 when unlimited or
// unreadable. The row is "Max open files  <soft>  <hard>  files".
int64_t ReadMaxOpenFiles(const std::string& path) {
  constexpr std::string_view kRow = "Max open files";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(kRow)) continue;
    std::vector<std::string_view> words =
        SplitWhitespace(std::string_view(line).substr(kRow.size()));
    if (words.empty()) return -1;
    return ParseNumber<int64_t>(words[0]).value_or(-1);  // "unlimited": -1
  }
  return -1;
}

// A /proc/PID/stat line is under 1 KiB; a children list of a few hundred
// pids a few KiB.
constexpr size_t kMaxStatBytes = 4096;
constexpr size_t kMaxChildrenBytes = 64 << 10;

// Resident bytes of one process from its stat; nullopt when it is gone.
std::optional<uint64_t> ResidentBytes(const std::string& dir) {
  Result<std::string> text = ReadFileBounded(dir + "/stat", kMaxStatBytes);
  if (!text.ok()) return std::nullopt;
  std::optional<StatFields> stat = ParseStat(*text);
  if (!stat) return std::nullopt;
  return stat->rss_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Direct children of a process: the union of its threads' children files
// (a child belongs to the thread that forked it).
std::vector<pid_t> ChildrenOf(const std::string& dir, bool* truncated) {
  std::vector<pid_t> children;
  std::unique_ptr<DIR, int (*)(DIR*)> tasks(opendir((dir + "/task").c_str()),
                                            closedir);
  if (tasks == nullptr) return children;
  int seen = 0;
  while (const dirent* entry = readdir(tasks.get())) {
    std::string_view tid = entry->d_name;
    if (tid == "." || tid == "..") continue;
    if (++seen > kMaxTasksPerProcess) {
      *truncated = true;
      break;
    }
    Result<std::string> text = ReadFileBounded(
        dir + "/task/" + std::string(tid) + "/children", kMaxChildrenBytes);
    if (!text.ok()) {
      // Gone (the thread exited) is no loss; a list past the bound (some
      // 9,000 children: a fork bomb) is, and must not pass for an empty one.
      if (!text.status().IsNotFound()) *truncated = true;
      continue;
    }
    for (std::string_view word : SplitWhitespace(*text)) {
      if (auto child = ParseNumber<pid_t>(word)) children.push_back(*child);
    }
  }
  return children;
}

}  // namespace

std::optional<TreeRss> ReadTreeRss(pid_t pid, const std::string& proc_root,
                                   int max_processes) {
  if (pid <= 0) return std::nullopt;
  TreeRss tree;
  std::vector<pid_t> pending{pid};
  while (!pending.empty()) {
    if (tree.processes >= max_processes) {
      tree.truncated = true;
      break;
    }
    const pid_t next = pending.back();
    pending.pop_back();
    const std::string dir = proc_root + "/" + std::to_string(next);
    std::optional<uint64_t> bytes = ResidentBytes(dir);
    if (!bytes) {
      if (next == pid) return std::nullopt;
      continue;  // exited since its parent's children file was read
    }
    tree.bytes += *bytes;
    ++tree.processes;
    for (pid_t child : ChildrenOf(dir, &tree.truncated)) {
      pending.push_back(child);
    }
  }
  return tree;
}

std::optional<ProcStats> ReadProcStats(pid_t pid,
                                       const std::string& proc_root) {
  if (pid <= 0) return std::nullopt;
  const std::string dir = proc_root + "/" + std::to_string(pid);
  std::optional<std::string> stat_text = ReadWholeFile(dir + "/stat");
  if (!stat_text) return std::nullopt;
  std::optional<StatFields> stat = ParseStat(*stat_text);
  std::optional<uint64_t> boot_time = ReadBootTime(proc_root);
  // Without fd/ the process has gone since stat was read (or is not ours).
  std::optional<int> open_fds = CountDirEntries(dir + "/fd");
  if (!stat || !boot_time || !open_fds) return std::nullopt;

  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const uint64_t page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  ProcStats stats;
  stats.cpu_seconds =
      static_cast<double>(stat->utime_ticks + stat->stime_ticks) /
      ticks_per_second;
  stats.resident_bytes = stat->rss_pages * page_size;
  stats.virtual_bytes = stat->vsize_bytes;
  stats.open_fds = *open_fds;
  stats.max_fds = ReadMaxOpenFiles(dir + "/limits");
  stats.start_time_seconds =
      static_cast<double>(*boot_time) +
      static_cast<double>(stat->start_ticks) / ticks_per_second;
  return stats;
}

}  // namespace corefork
