#include "cgroup/cgroup.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "util/file.h"
#include "util/status.h"

namespace corefork {
namespace {

namespace fs = std::filesystem;

// cgroup v1 reports "no memory limit" as PAGE_COUNTER_MAX in bytes: just
// under INT64_MAX, rounded down to the page size (0x7FFFFFFFFFFFF000 with 4 KiB
// pages, lower with 64 KiB ones). No machine has 4 EiB, so anything from
// there up means "unlimited".
constexpr uint64_t kUnlimitedMemory = uint64_t{1} << 62;
// The kernel's smallest quota (1 ms) over its largest period (1 s): a limit
// can never be tighter, and sizing must never see zero CPUs.
constexpr double kMinCpus = 0.001;
// Bounds the search for our cgroup below a mount whose root lies outside our
// cgroup namespace (a busy host has thousands of cgroups).
constexpr int kMaxScannedDirs = 10000;

// Interface files (cpu.max, memory.max, cpuset lists, /proc/self/status)
// are a few hundred bytes; /proc and /sys report size 0, so only a cap
// bounds the read. mountinfo and cgroup.procs grow with the host (thousands
// of mounts, every pid of a busy cgroup) and get more room.
constexpr size_t kMaxInterfaceFileBytes = 64 << 10;
constexpr size_t kMaxListFileBytes = 8 << 20;

// ---- Small parsers -------------------------------------------------------

// nullopt when missing, unreadable, not a regular file (a FIFO or device
// planted in a fixture or a writable cgroup dir) or over the cap: such a
// file tells us nothing, and reading it must never block start-up. Absence
// is normal (each kernel has its own files); anything else is noted.
std::optional<std::string> ReadFile(const std::string& path,
                                    std::vector<std::string>* notes,
                                    size_t max_bytes = kMaxInterfaceFileBytes) {
  Result<std::string> text = ReadFileBounded(path, max_bytes);
  if (text.ok()) return std::move(text).value();
  if (notes != nullptr && text.status().message() != std::strerror(ENOENT)) {
    notes->push_back(
        fmt::format("{}: {}; ignored", path, text.status().message()));
  }
  return std::nullopt;
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

template <typename Int>
std::optional<Int> ParseInt(std::string_view s) {
  Int value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    parts.emplace_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool Contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Counts the CPUs in a kernel cpu list ("0-3,8,10-11" -> 7). 0 for an empty
// list, nullopt when malformed.
std::optional<int> CountCpuList(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return 0;
  int count = 0;
  for (const std::string& range : Split(text, ',')) {
    size_t dash = range.find('-');
    auto first = ParseInt<int>(std::string_view(range).substr(0, dash));
    auto last = dash == std::string::npos
                    ? first
                    : ParseInt<int>(std::string_view(range).substr(dash + 1));
    if (!first || !last || *first < 0 || *last < *first) return std::nullopt;
    count += *last - *first + 1;
  }
  return count;
}

std::vector<std::string> SplitWords(std::string_view s) {
  std::vector<std::string> words;
  std::istringstream in{std::string(s)};
  for (std::string w; in >> w;) words.push_back(std::move(w));
  return words;
}

bool IsOctalDigit(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string DecodeOctalEscapes(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && IsOctalDigit(s[i + 1]) &&
        IsOctalDigit(s[i + 2]) && IsOctalDigit(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                               (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The value of "Key:\tvalue" in /proc/self/status.
std::optional<std::string> StatusField(const std::string& status,
                                       std::string_view key) {
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      return std::string(Trim(std::string_view(line).substr(key.size() + 1)));
    }
  }
  return std::nullopt;
}

// ---- /proc/self/cgroup and /proc/self/mountinfo ---------------------------

struct CgroupLine {
  std::vector<std::string> controllers;  // empty for the v2 "0::" line
  std::string path;
};

struct Mount {
  std::string root;         // directory of the cgroup fs shown at mount_point
  std::string mount_point;  // decoded, not yet under the detection root
  std::string fstype;       // "cgroup" or "cgroup2"
  std::vector<std::string> super_options;
};

std::vector<CgroupLine> ParseProcCgroup(const std::string& text) {
  std::vector<CgroupLine> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find(':');
    size_t second =
        first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    CgroupLine parsed;
    std::string list = line.substr(first + 1, second - first - 1);
    if (!list.empty()) parsed.controllers = Split(list, ',');
    parsed.path = line.substr(second + 1);
    lines.push_back(std::move(parsed));
  }
  return lines;
}

// One mountinfo line: id parent dev root mount-point options [optional
// fields...] - fstype source super-options. Keeps only cgroup filesystems.
std::optional<Mount> ParseMountinfoLine(const std::string& line) {
  std::vector<std::string> f = SplitWords(line);
  if (f.size() < 7) return std::nullopt;
  auto sep = std::find(f.begin() + 6, f.end(), "-");
  if (f.end() - sep < 2) return std::nullopt;
  Mount m{DecodeOctalEscapes(f[3]), DecodeOctalEscapes(f[4]), *(sep + 1), {}};
  if (m.fstype != "cgroup" && m.fstype != "cgroup2") return std::nullopt;
  if (f.end() - sep >= 4) m.super_options = Split(*(sep + 3), ',');
  return m;
}

std::vector<Mount> ParseMountinfo(const std::string& text) {
  std::vector<Mount> mounts;
  std::istringstream in(text);
  std::string line;  // getline: lines with many options exceed any buffer
  while (std::getline(in, line)) {
    if (auto m = ParseMountinfoLine(line)) mounts.push_back(std::move(*m));
  }
  return mounts;
}

// ---- Finding our cgroup directory for a controller -----------------------

struct Context {
  std::string root;  // detection root without a trailing slash ("" for /)
  std::vector<CgroupLine> cgroups;
  std::vector<Mount> mounts;
  std::string pid;  // our pid as /proc/self/status says; may be empty
  std::vector<std::string>* notes;
};

struct Hierarchy {
  std::string version;  // "v1" or "v2"
  std::string dir;      // our cgroup, under the detection root
  std::string mount;    // its mount point, under the detection root
};

std::string UnderRoot(const Context& ctx, const std::string& path) {
  return ctx.root + path;
}

// "/a/b" under mount root "/a" -> "/b"; "" when equal; nullopt if outside.
std::optional<std::string> StripMountRoot(const std::string& path,
                                          const std::string& mount_root) {
  if (mount_root == "/") return path == "/" ? "" : path;
  if (path == mount_root) return "";
  if (path.compare(0, mount_root.size(), mount_root) == 0 &&
      path.size() > mount_root.size() && path[mount_root.size()] == '/') {
    return path.substr(mount_root.size());
  }
  return std::nullopt;
}

// Mount roots like "/.." or "/../.." (inherited mounts seen from inside a
// cgroup namespace): how many levels above our namespace root; 0 otherwise.
int LevelsAboveNamespace(const std::string& mount_root) {
  if (mount_root.rfind("/..", 0) != 0) return 0;
  std::vector<std::string> parts = Split(mount_root.substr(1), '/');
  bool all_up = std::all_of(parts.begin(), parts.end(),
                            [](const std::string& p) { return p == ".."; });
  return all_up ? static_cast<int>(parts.size()) : 0;
}

bool ProcsListPid(const std::string& dir, const std::string& pid) {
  std::optional<std::string> procs =
      ReadFile(dir + "/cgroup.procs", nullptr, kMaxListFileBytes);
  if (!procs) return false;
  std::istringstream in(*procs);
  for (std::string line; std::getline(in, line);) {
    if (Trim(line) == pid) return true;
  }
  return false;
}

// The namespace root sits `levels` directories below the mount point, under
// a name we cannot see: find the one whose cgroup.procs lists our pid.
std::optional<std::string> FindOwnCgroup(const Context& ctx,
                                         const std::string& mount, int levels,
                                         const std::string& rel) {
  if (ctx.pid.empty()) return std::nullopt;
  std::vector<std::string> current{mount};
  int scanned = 0;
  for (int depth = 0; depth < levels; ++depth) {
    std::vector<std::string> next;
    for (const std::string& dir : current) {
      std::error_code ec;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
           it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
        if (++scanned > kMaxScannedDirs) return std::nullopt;
        next.push_back(it->path().string());
      }
    }
    current = std::move(next);
  }
  for (const std::string& dir : current) {
    if (ProcsListPid(dir + rel, ctx.pid)) return dir + rel;
  }
  return std::nullopt;
}

// Joins the cgroup path from /proc/self/cgroup to the mount that shows it.
std::string CgroupDir(const Context& ctx, const std::string& controller,
                      const std::string& path, const Mount& m) {
  std::string mount = UnderRoot(ctx, m.mount_point);
  if (int levels = LevelsAboveNamespace(m.root); levels > 0) {
    std::string rel = path == "/" ? "" : path;
    if (auto dir = FindOwnCgroup(ctx, mount, levels, rel)) return *dir;
    ctx.notes->push_back(fmt::format(
        "{}: mount root {} lies outside our cgroup namespace and no cgroup "
        "below {} lists our pid; using the mount point",
        controller, m.root, mount));
    return mount;
  }
  std::optional<std::string> rel = StripMountRoot(path, m.root);
  if (!rel) {
    ctx.notes->push_back(fmt::format(
        "{}: cgroup {} is not under mount root {}; using the mount point {}",
        controller, path, m.root, mount));
    return mount;
  }
  std::error_code ec;
  if (!rel->empty() && !fs::is_directory(mount + *rel, ec)) {
    ctx.notes->push_back(fmt::format(
        "{}: cgroup directory {} not found; using the mount point {}",
        controller, mount + *rel, mount));
    return mount;
  }
  return mount + *rel;
}

// Several mounts may show one hierarchy: prefer one that contains our path.
const Mount* PickMount(const std::vector<const Mount*>& candidates,
                       const std::string& path) {
  for (const Mount* m : candidates) {
    if (LevelsAboveNamespace(m->root) > 0 || StripMountRoot(path, m->root)) {
      return m;
    }
  }
  return candidates.empty() ? nullptr : candidates.front();
}

std::optional<Hierarchy> FindV1(const Context& ctx,
                                const std::string& controller) {
  auto line = std::find_if(
      ctx.cgroups.begin(), ctx.cgroups.end(),
      [&](const CgroupLine& l) { return Contains(l.controllers, controller); });
  if (line == ctx.cgroups.end()) return std::nullopt;
  std::vector<const Mount*> candidates;
  for (const Mount& m : ctx.mounts) {
    if (m.fstype == "cgroup" && Contains(m.super_options, controller)) {
      candidates.push_back(&m);
    }
  }
  const Mount* m = PickMount(candidates, line->path);
  if (m == nullptr) {
    ctx.notes->push_back(fmt::format(
        "{}: listed in /proc/self/cgroup but no cgroup v1 mount found",
        controller));
    return std::nullopt;
  }
  return Hierarchy{"v1", CgroupDir(ctx, controller, line->path, *m),
                   UnderRoot(ctx, m->mount_point)};
}

std::optional<Hierarchy> FindV2(const Context& ctx,
                                const std::string& controller) {
  auto line =
      std::find_if(ctx.cgroups.begin(), ctx.cgroups.end(),
                   [](const CgroupLine& l) { return l.controllers.empty(); });
  if (line == ctx.cgroups.end()) return std::nullopt;
  std::vector<const Mount*> candidates;
  for (const Mount& m : ctx.mounts) {
    if (m.fstype == "cgroup2") candidates.push_back(&m);
  }
  const Mount* m = PickMount(candidates, line->path);
  if (m == nullptr) return std::nullopt;
  std::string mount = UnderRoot(ctx, m->mount_point);
  // Absent file (old kernels, odd mounts): try the interface files anyway.
  if (auto available = ReadFile(mount + "/cgroup.controllers", ctx.notes)) {
    if (!Contains(SplitWords(*available), controller)) {
      ctx.notes->push_back(
          fmt::format("{}: cgroup v2 at {} does not offer this controller",
                      controller, mount));
      return std::nullopt;
    }
  }
  return Hierarchy{"v2", CgroupDir(ctx, controller, line->path, *m), mount};
}

// A v1 controller wins over v2 (hybrid machines keep cpu on v1).
std::optional<Hierarchy> FindHierarchy(const Context& ctx,
                                       const std::string& controller) {
  if (auto v1 = FindV1(ctx, controller)) return v1;
  return FindV2(ctx, controller);
}

// Our cgroup directory, then each parent up to and including the mount point.
std::vector<std::string> Levels(const Hierarchy& h) {
  std::vector<std::string> levels{h.dir};
  std::string current = h.dir;
  while (current.size() > h.mount.size()) {
    size_t slash = current.rfind('/');
    if (slash == std::string::npos || slash < h.mount.size()) break;
    current.resize(slash);
    levels.push_back(current);
  }
  return levels;
}

// ---- Limits --------------------------------------------------------------

std::optional<double> QuotaCores(std::string_view quota,
                                 std::string_view period,
                                 const std::string& source,
                                 std::vector<std::string>* notes) {
  if (quota == "max" || quota == "-1") return std::nullopt;
  auto q = ParseInt<int64_t>(quota);
  auto p = ParseInt<int64_t>(period);
  if (!q || !p || *q <= 0) {
    notes->push_back(
        fmt::format("{}: malformed quota \"{}\" / period \"{}\"; ignored",
                    source, quota, period));
    return std::nullopt;
  }
  if (*p <= 0) {
    notes->push_back(
        fmt::format("{}: period {} is not positive; ignored", source, *p));
    return std::nullopt;
  }
  return static_cast<double>(*q) / static_cast<double>(*p);
}

// cpu.max (v2: "max 100000" / "150000 100000") or cpu.cfs_quota_us plus
// cpu.cfs_period_us (v1) in one directory; nullopt when not limited there.
std::optional<double> ReadQuota(const Hierarchy& h, const std::string& dir,
                                std::string* source,
                                std::vector<std::string>* notes) {
  if (h.version == "v2") {
    *source = dir + "/cpu.max";
    std::optional<std::string> text = ReadFile(*source, notes);
    if (!text) return std::nullopt;
    std::vector<std::string> words = SplitWords(*text);
    if (words.size() == 2) {
      return QuotaCores(words[0], words[1], *source, notes);
    }
    return QuotaCores(Trim(*text), "(none)", *source, notes);
  }
  *source = dir + "/cpu.cfs_quota_us";
  std::optional<std::string> quota = ReadFile(*source, notes);
  if (!quota) return std::nullopt;
  std::string period =
      ReadFile(dir + "/cpu.cfs_period_us", notes).value_or("(missing)");
  return QuotaCores(Trim(*quota), Trim(period), *source, notes);
}

void ReadCpuQuota(const Hierarchy& h, CgroupInfo* info) {
  for (const std::string& dir : Levels(h)) {
    std::string source;
    std::optional<double> cores = ReadQuota(h, dir, &source, &info->notes);
    if (cores && (!info->cpu_quota_cores || *cores < *info->cpu_quota_cores)) {
      info->cpu_quota_cores = cores;
      info->quota_source = source;
    }
  }
}

// The nearest cpuset file from our cgroup upwards (v2 only has
// cpuset.cpus.effective where the controller is enabled; v1 names it
// cpuset.effective_cpus, older v1 kernels only have cpuset.cpus).
void ReadCpuset(const Hierarchy& h, CgroupInfo* info) {
  std::vector<std::string> names{"cpuset.cpus.effective"};
  if (h.version == "v1") {
    names = {"cpuset.effective_cpus", "cpuset.cpus.effective", "cpuset.cpus"};
  }
  for (const std::string& dir : Levels(h)) {
    for (const std::string& name : names) {
      std::string path = dir + "/" + name;
      std::optional<std::string> text = ReadFile(path, &info->notes);
      if (!text) continue;
      std::optional<int> count = CountCpuList(*text);
      if (!count) {
        info->notes.push_back(
            fmt::format("{}: malformed cpu list \"{}\"", path, Trim(*text)));
      } else if (*count > 0) {
        info->cpuset_cpus = count;
        info->cpuset_source = path;
      }
      return;
    }
  }
}

std::optional<uint64_t> ReadMemoryFile(const std::string& path,
                                       std::vector<std::string>* notes) {
  std::optional<std::string> text = ReadFile(path, notes);
  if (!text) return std::nullopt;
  std::string_view value = Trim(*text);
  if (value == "max" || value == "-1") return std::nullopt;
  std::optional<uint64_t> bytes = ParseInt<uint64_t>(value);
  if (!bytes) {
    notes->push_back(
        fmt::format("{}: malformed memory limit \"{}\"; ignored", path, value));
    return std::nullopt;
  }
  if (*bytes >= kUnlimitedMemory) return std::nullopt;
  return bytes;
}

void ReadMemoryLimit(const Hierarchy& h, CgroupInfo* info) {
  const char* name =
      h.version == "v2" ? "/memory.max" : "/memory.limit_in_bytes";
  for (const std::string& dir : Levels(h)) {
    std::string path = dir + name;
    std::optional<uint64_t> bytes = ReadMemoryFile(path, &info->notes);
    if (bytes &&
        (!info->memory_limit_bytes || *bytes < *info->memory_limit_bytes)) {
      info->memory_limit_bytes = bytes;
      info->memory_source = path;
    }
  }
}

// ---- CPU counts and the whole detection ----------------------------------

void ReadCpuCounts(const Context& ctx, const std::string& status,
                   CgroupInfo* info) {
  if (auto list = StatusField(status, "Cpus_allowed_list")) {
    info->affinity_cpus = CountCpuList(*list).value_or(0);
  }
  if (info->affinity_cpus <= 0) {
    info->notes.push_back("no Cpus_allowed_list in /proc/self/status");
  }
  std::string online = UnderRoot(ctx, "/sys/devices/system/cpu/online");
  std::optional<std::string> text = ReadFile(online, nullptr);
  info->host_cpus = text ? CountCpuList(*text).value_or(0) : 0;
  if (info->host_cpus <= 0) {
    info->host_cpus = std::max(info->affinity_cpus, 1);
    info->notes.push_back(fmt::format("cannot read {}; assuming {} host CPUs",
                                      online, info->host_cpus));
  }
}

double EffectiveCpus(const CgroupInfo& info) {
  double cpus = info.affinity_cpus > 0 ? info.affinity_cpus : info.host_cpus;
  if (info.cpu_quota_cores) cpus = std::min(cpus, *info.cpu_quota_cores);
  if (info.cpuset_cpus) cpus = std::min<double>(cpus, *info.cpuset_cpus);
  return std::max(cpus, kMinCpus);
}

std::string ReadProcFile(const Context& ctx, const std::string& path,
                         size_t max_bytes = kMaxInterfaceFileBytes) {
  const std::string full = UnderRoot(ctx, path);
  Result<std::string> text = ReadFileBounded(full, max_bytes);
  if (!text.ok()) {
    ctx.notes->push_back(
        fmt::format("cannot read {}: {}", full, text.status().message()));
    return "";
  }
  return std::move(text).value();
}

// Reads /proc/self/cgroup and mountinfo under `root`.
Context MakeContext(const std::string& root, std::vector<std::string>* notes) {
  Context ctx;
  ctx.root = root;
  while (!ctx.root.empty() && ctx.root.back() == '/') ctx.root.pop_back();
  ctx.notes = notes;
  ctx.cgroups = ParseProcCgroup(ReadProcFile(ctx, "/proc/self/cgroup"));
  ctx.mounts = ParseMountinfo(
      ReadProcFile(ctx, "/proc/self/mountinfo", kMaxListFileBytes));
  return ctx;
}

}  // namespace

std::optional<uint64_t> MemoryStatField(std::string_view stat,
                                        std::string_view key) {
  while (!stat.empty()) {
    size_t end = stat.find('\n');
    std::string_view line = stat.substr(0, end);
    stat = end == std::string_view::npos ? std::string_view()
                                         : stat.substr(end + 1);
    if (line.size() > key.size() && line.starts_with(key) &&
        line[key.size()] == ' ') {
      return ParseInt<uint64_t>(Trim(line.substr(key.size() + 1)));
    }
  }
  return std::nullopt;
}

std::optional<MemoryUsage> ReadMemoryUsage(const std::string& root) {
  std::vector<std::string> notes;
  Context ctx = MakeContext(root, &notes);
  ctx.pid =
      StatusField(ReadProcFile(ctx, "/proc/self/status"), "Pid").value_or("");
  std::optional<Hierarchy> h = FindHierarchy(ctx, "memory");
  if (!h) return std::nullopt;
  const bool v2 = h->version == "v2";
  std::optional<MemoryUsage> tightest;
  for (const std::string& dir : Levels(*h)) {
    std::optional<uint64_t> limit = ReadMemoryFile(
        dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"), &notes);
    if (!limit || (tightest && *limit >= tightest->limit_bytes)) continue;
    tightest = MemoryUsage{};
    tightest->limit_bytes = *limit;
    tightest->dir = dir;
  }
  if (!tightest) return std::nullopt;
  std::optional<uint64_t> current = ReadMemoryFile(
      tightest->dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes"),
      &notes);
  if (!current) return std::nullopt;
  tightest->current_bytes = *current;
  if (auto stat = ReadFile(tightest->dir + "/memory.stat", nullptr)) {
    tightest->inactive_file_bytes =
        MemoryStatField(*stat, v2 ? "inactive_file" : "total_inactive_file")
            .value_or(0);
  }
  tightest->used_bytes =
      *current - std::min(*current, tightest->inactive_file_bytes);
  return tightest;
}

CgroupInfo DetectCgroup(const std::string& root) {
  CgroupInfo info;
  Context ctx = MakeContext(root, &info.notes);
  std::string status = ReadProcFile(ctx, "/proc/self/status");
  ctx.pid = StatusField(status, "Pid").value_or("");
  ReadCpuCounts(ctx, status, &info);

  if (auto cpu = FindHierarchy(ctx, "cpu")) {
    info.version = cpu->version;
    info.cpu_cgroup_path = cpu->dir;
    ReadCpuQuota(*cpu, &info);
  }
  if (auto cpuset = FindHierarchy(ctx, "cpuset")) ReadCpuset(*cpuset, &info);
  if (auto memory = FindHierarchy(ctx, "memory")) {
    ReadMemoryLimit(*memory, &info);
  }
  info.effective_cpus = EffectiveCpus(info);
  return info;
}

}  // namespace corefork
