#include "schedule/tzfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "os/fd.h"

namespace corefork {
namespace {

constexpr size_t kHeaderSize = 44;
// Real TZif files are a few KiB; anything this big is not one.
constexpr size_t kMaxFileSize = 1 << 20;

uint32_t LoadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

int64_t LoadTime(const char* p, int time_size) {
  if (time_size == 4) return static_cast<int32_t>(LoadU32(p));
  return static_cast<int64_t>((uint64_t{LoadU32(p)} << 32) | LoadU32(p + 4));
}

struct Header {
  char version = 0;  // 0 (v1 only) or '2', '3', '4'...
  uint32_t isutcnt = 0;
  uint32_t isstdcnt = 0;
  uint32_t leapcnt = 0;
  uint32_t timecnt = 0;
  uint32_t typecnt = 0;
  uint32_t charcnt = 0;

  // Bytes of the data block after the header; 64-bit so that hostile
  // counts cannot wrap around the bounds check.
  uint64_t BlockSize(int time_size) const {
    return uint64_t{timecnt} * (time_size + 1) + uint64_t{typecnt} * 6 +
           charcnt + uint64_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

Result<Header> ReadHeader(std::string_view data) {
  if (data.size() < kHeaderSize)
    return Status::InvalidArgument("truncated TZif header");
  if (data.substr(0, 4) != "TZif") {
    return Status::InvalidArgument("not a TZif file (bad magic)");
  }
  Header h;
  h.version = data[4];
  if (h.version != 0 && h.version < '2') {
    return Status::InvalidArgument("unsupported TZif version");
  }
  const char* counts = data.data() + 20;
  h.isutcnt = LoadU32(counts);
  h.isstdcnt = LoadU32(counts + 4);
  h.leapcnt = LoadU32(counts + 8);
  h.timecnt = LoadU32(counts + 12);
  h.typecnt = LoadU32(counts + 16);
  h.charcnt = LoadU32(counts + 20);
  return h;
}

struct Block {
  std::vector<int64_t> transitions;
  std::vector<int32_t> offsets;
  int32_t initial_offset = 0;
};

Status CheckCounts(const Header& h) {
  if (h.typecnt == 0 || h.typecnt > 256) {
    return Status::InvalidArgument(
        "bad TZif data: expected 1-256 local time types");
  }
  if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) ||
      (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
    return Status::InvalidArgument(
        "bad TZif data: indicator counts do not match types");
  }
  // Leap-second ("right/") zones count TAI-like seconds; their offsets
  // would be off by the accumulated leap seconds.
  if (h.leapcnt != 0) {
    return Status::InvalidArgument(
        "leap-second zones (right/...) are not supported");
  }
  return Status::Ok();
}

// `body` holds exactly h.BlockSize(time_size) bytes.
Result<Block> ParseBlock(const Header& h, std::string_view body,
                         int time_size) {
  Status counts = CheckCounts(h);
  if (!counts.ok()) return counts;
  const char* times = body.data();
  const char* indices = times + size_t{h.timecnt} * time_size;
  const char* types = indices + h.timecnt;

  std::vector<int32_t> utoffs(h.typecnt);
  bool found_standard = false;
  Block block;
  for (uint32_t i = 0; i < h.typecnt; ++i) {
    utoffs[i] = static_cast<int32_t>(LoadU32(types + 6 * i));
    const bool isdst = types[6 * i + 4] != 0;
    if (!isdst && !found_standard) {
      block.initial_offset = utoffs[i];
      found_standard = true;
    }
  }
  if (!found_standard) block.initial_offset = utoffs[0];

  block.transitions.reserve(h.timecnt);
  block.offsets.reserve(h.timecnt);
  for (uint32_t i = 0; i < h.timecnt; ++i) {
    const int64_t at = LoadTime(times + size_t{i} * time_size, time_size);
    const auto type = static_cast<unsigned char>(indices[i]);
    if (type >= h.typecnt) {
      return Status::InvalidArgument(
          "bad TZif data: transition type out of range");
    }
    if (!block.transitions.empty() && at <= block.transitions.back()) {
      return Status::InvalidArgument("bad TZif data: transitions out of order");
    }
    block.transitions.push_back(at);
    block.offsets.push_back(utoffs[type]);
  }
  return block;
}

// The POSIX TZ string on its own line after the v2+ data: "\nCET-1...\n".
Result<std::string_view> FooterText(std::string_view rest) {
  const size_t end = rest.empty() ? 0 : rest.find('\n', 1);
  if (rest.empty() || rest[0] != '\n' || end == std::string_view::npos) {
    return Status::InvalidArgument("truncated TZif footer");
  }
  return rest.substr(1, end - 1);
}

Result<std::string> ReadSmallFile(const std::string& path) {
  // O_NONBLOCK so that a FIFO planted in the directory cannot hang us.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return PosixError(path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return PosixError(path);
  if (S_ISDIR(st.st_mode)) return PosixError(path, EISDIR);
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(path + ": not a file");
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(path);
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxFileSize) {
      return Status::InvalidArgument(path +
                                     ": larger than 1 MiB, not a TZif file");
    }
  }
}

// POSIX TZ abbreviation: 3+ letters ("CET") or quoted ("<+0530>").
bool SkipAbbreviation(std::string_view& s) {
  if (!s.empty() && s[0] == '<') {
    const size_t close = s.find('>');
    if (close == std::string_view::npos || close == 1) return false;
    s.remove_prefix(close + 1);
    return true;
  }
  size_t n = 0;
  while (n < s.size() &&
         ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))) {
    ++n;
  }
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

// Up to `max_digits` decimal digits; nullopt when there are none.
std::optional<int> TakeNumber(std::string_view& s, size_t max_digits) {
  size_t n = 0;
  int value = 0;
  while (n < s.size() && n < max_digits && s[n] >= '0' && s[n] <= '9') {
    value = value * 10 + (s[n] - '0');
    ++n;
  }
  if (n == 0) return std::nullopt;
  s.remove_prefix(n);
  return value;
}

// [+-]hh[:mm[:ss]] in seconds, hh <= max_hours (24 for offsets; 167 for
// rule times, as RFC 8536 allows).
std::optional<int32_t> TakeDuration(std::string_view& s, int max_hours) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  std::optional<int> hours = TakeNumber(s, 3);
  if (!hours || *hours > max_hours) return std::nullopt;
  int32_t seconds = *hours * 3600;
  for (int scale : {60, 1}) {
    if (s.empty() || s[0] != ':') break;
    s.remove_prefix(1);
    std::optional<int> part = TakeNumber(s, 2);
    if (!part || *part > 59) return std::nullopt;
    seconds += *part * scale;
  }
  return sign * seconds;
}

}  // namespace

TimeZone::TimeZone() = default;

Result<TimeZone> TimeZone::Load(std::string_view name,
                                const std::string& zoneinfo_dir) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") {
    TimeZone utc;
    if (!name.empty()) utc.name_ = std::string(name);
    return utc;
  }
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        "timezone " + quoted +
        ": expected a zone name like Europe/Berlin, without "
        "\"..\" or a leading \"/\"");
  }
  std::string path = zoneinfo_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  Result<std::string> data = ReadSmallFile(path);
  if (!data.ok()) return data.status().Wrap("unknown timezone " + quoted);
  Result<TimeZone> tz = FromTzif(name, *data);
  if (!tz.ok()) return tz.status().Wrap("timezone " + quoted + ": " + path);
  return tz;
}

Result<TimeZone> TimeZone::FromTzif(std::string_view name,
                                    std::string_view data) {
  Result<Header> header = ReadHeader(data);
  if (!header.ok()) return header.status();
  size_t pos = kHeaderSize;
  int time_size = 4;
  const bool v2 = header->version != 0;
  if (v2) {  // Skip the 32-bit block: the 64-bit one repeats and extends it.
    const uint64_t v1_size = header->BlockSize(4);
    if (v1_size > data.size() - pos) {
      return Status::InvalidArgument("truncated TZif data");
    }
    pos += v1_size;
    header = ReadHeader(data.substr(pos));
    if (!header.ok()) return header.status();
    pos += kHeaderSize;
    time_size = 8;
  }
  const uint64_t size = header->BlockSize(time_size);
  if (size > data.size() - pos)
    return Status::InvalidArgument("truncated TZif data");
  Result<Block> block = ParseBlock(*header, data.substr(pos, size), time_size);
  if (!block.ok()) return block.status();
  pos += size;

  TimeZone tz;
  tz.name_ = std::string(name);
  tz.transitions_ = std::move(block->transitions);
  tz.offsets_ = std::move(block->offsets);
  tz.initial_offset_ = block->initial_offset;
  if (!v2) return tz;
  Result<std::string_view> footer = FooterText(data.substr(pos));
  if (!footer.ok()) return footer.status();
  Result<std::optional<Rule>> rule = ParseRule(*footer);
  if (!rule.ok()) return rule.status();
  tz.rule_ = *rule;
  return tz;
}

Result<TimeZone> TimeZone::FromPosixRule(std::string_view text) {
  Result<std::optional<Rule>> rule = ParseRule(text);
  if (!rule.ok()) return rule.status();
  if (!rule->has_value()) {
    return Status::InvalidArgument(
        "POSIX TZ rule \"" + std::string(text) +
        "\": not supported; expected Mm.w.d dates as in "
        "\"CET-1CEST,M3.5.0,M10.5.0/3\"");
  }
  TimeZone tz;
  tz.name_ = std::string(text);
  tz.rule_ = **rule;
  return tz;
}

bool TimeZone::ParseDate(std::string_view& s, DateRule* date) {
  if (!s.empty() && s[0] == 'M') {
    s.remove_prefix(1);
    std::optional<int> month = TakeNumber(s, 2);
    if (!month || *month < 1 || *month > 12 || s.empty() || s[0] != '.') {
      return false;
    }
    s.remove_prefix(1);
    std::optional<int> week = TakeNumber(s, 1);
    if (!week || *week < 1 || *week > 5 || s.empty() || s[0] != '.') {
      return false;
    }
    s.remove_prefix(1);
    std::optional<int> weekday = TakeNumber(s, 1);
    if (!weekday || *weekday > 6) return false;
    *date = DateRule{*month, *week, *weekday, 7200};
  } else {  // Jn (1-365, no leap day) or n (0-365): parsed, not evaluated.
    if (!s.empty() && s[0] == 'J') s.remove_prefix(1);
    std::optional<int> day = TakeNumber(s, 3);
    if (!day || *day > 365) return false;
    *date = DateRule{};
  }
  if (s.empty() || s[0] != '/') return true;
  s.remove_prefix(1);
  std::optional<int32_t> time = TakeDuration(s, 167);
  if (!time) return false;
  date->time = *time;
  return true;
}

Result<std::optional<TimeZone::Rule>> TimeZone::ParseRule(
    std::string_view text) {
  const auto malformed = [text](std::string_view expected) {
    return Status::InvalidArgument("POSIX TZ rule \"" + std::string(text) +
                                   "\": expected " + std::string(expected));
  };
  if (text.empty()) return std::optional<Rule>();  // TZif: "no rule"
  std::string_view s = text;
  Rule rule;
  if (!SkipAbbreviation(s)) return malformed("a zone name like CET or <+03>");
  std::optional<int32_t> offset = TakeDuration(s, 24);
  if (!offset) return malformed("a UTC offset");
  rule.std_offset = rule.dst_offset = -*offset;  // POSIX counts westward
  if (s.empty()) return std::optional<Rule>(rule);
  if (!SkipAbbreviation(s)) return malformed("a DST name like CEST or <+04>");
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (!s.empty() && s[0] != ',') {
    offset = TakeDuration(s, 24);
    if (!offset) return malformed("a DST offset");
    rule.dst_offset = -*offset;
  }
  if (s.empty()) return std::optional<Rule>();  // dates left to the system
  if (s[0] != ',') return malformed("\",\" before the DST start date");
  s.remove_prefix(1);
  if (!ParseDate(s, &rule.start) || s.empty() || s[0] != ',') {
    return malformed("a DST start date like M3.5.0 or M3.5.0/2");
  }
  s.remove_prefix(1);
  if (!ParseDate(s, &rule.end) || !s.empty()) {
    return malformed("a DST end date like M10.5.0/3, then nothing");
  }
  if (rule.start.month == 0 || rule.end.month == 0) {
    return std::optional<Rule>();  // Jn / n dates: not supported
  }
  return std::optional<Rule>(rule);
}

int64_t TimeZone::RuleSwitchWall(const DateRule& date, int64_t year) {
  const int64_t first = DaysFromCivil(year, date.month, 1);
  int day =
      1 + (date.weekday - WeekdayFromDays(first) + 7) % 7 + 7 * (date.week - 1);
  if (day > DaysInMonth(year, date.month)) day -= 7;  // week 5 = "last"
  return (first + day - 1) * kSecondsPerDay + date.time;
}

int64_t TimeZone::RuleOffsetAt(const Rule& rule, int64_t unix_seconds) {
  if (!rule.has_dst) return rule.std_offset;
  const int64_t year =
      CivilFromDays(FloorDiv(unix_seconds + rule.std_offset, kSecondsPerDay))
          .year;
  // The start is written in standard time, the end in DST.
  const int64_t start = RuleSwitchWall(rule.start, year) - rule.std_offset;
  const int64_t end = RuleSwitchWall(rule.end, year) - rule.dst_offset;
  const bool dst = start < end ? unix_seconds >= start && unix_seconds < end
                               : unix_seconds >= start || unix_seconds < end;
  return dst ? rule.dst_offset : rule.std_offset;
}

int64_t TimeZone::OffsetAt(int64_t unix_seconds) const {
  if (transitions_.empty()) {
    return rule_ ? RuleOffsetAt(*rule_, unix_seconds) : initial_offset_;
  }
  if (unix_seconds < transitions_.front()) return initial_offset_;
  const size_t i =
      std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds) -
      transitions_.begin() - 1;
  if (i + 1 == transitions_.size() && rule_) {
    return RuleOffsetAt(*rule_, unix_seconds);
  }
  return offsets_[i];
}

std::optional<int64_t> TimeZone::FirstInstantAt(int64_t wall_seconds) const {
  // Offsets are under a day and real zones change offset at most once in
  // a day, so the offsets a day either side of the wall time (and the
  // offsets those lead to) are the only candidates.
  const int64_t before = OffsetAt(wall_seconds - kSecondsPerDay);
  const int64_t after = OffsetAt(wall_seconds + kSecondsPerDay);
  const int64_t candidates[] = {before, after, OffsetAt(wall_seconds - before),
                                OffsetAt(wall_seconds - after)};
  std::optional<int64_t> first;
  for (int64_t offset : candidates) {
    const int64_t instant = wall_seconds - offset;
    if (OffsetAt(instant) == offset && (!first || instant < *first)) {
      first = instant;
    }
  }
  return first;
}

}  // namespace corefork
