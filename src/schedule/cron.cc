#include "schedule/cron.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>

namespace corefork {
namespace {

constexpr int64_t kMaxAbsSeconds = 1'000'000'000'000;  // ~31,700 years
constexpr int kMinutesPerDay = 24 * 60;

constexpr std::string_view kMonthNames[] = {"JAN", "FEB", "MAR", "APR",
                                            "MAY", "JUN", "JUL", "AUG",
                                            "SEP", "OCT", "NOV", "DEC"};
constexpr std::string_view kDayNames[] = {"SUN", "MON", "TUE", "WED",
                                          "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int lo;
  int hi;       // highest value accepted (day-of-week: 7, another Sunday)
  int star_hi;  // highest value "*" covers
  int max_step;
  const char* expected;
  const std::string_view* names;  // names[i] means name_base + i
  int name_count;
  int name_base;
};

constexpr FieldSpec kSpecs[5] = {
    {"minute", 0, 59, 59, 60, "0-59", nullptr, 0, 0},
    {"hour", 0, 23, 23, 24, "0-23", nullptr, 0, 0},
    {"day-of-month", 1, 31, 31, 31, "1-31", nullptr, 0, 0},
    {"month", 1, 12, 12, 12, "1-12 or JAN-DEC", kMonthNames, 12, 1},
    {"day-of-week", 0, 7, 6, 7, "0-7 or SUN-SAT", kDayNames, 7, 0},
};

struct Macro {
  std::string_view name;
  std::string_view fields;
};

constexpr Macro kMacros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

struct ParsedField {
  uint64_t bits = 0;
  bool star = false;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Status FieldError(const FieldSpec& spec, std::string_view text,
                  std::string_view expected) {
  return Status::InvalidArgument(std::string(spec.name) + " field \"" +
                                 std::string(text) + "\": expected " +
                                 std::string(expected));
}

// Digits only, within [lo, hi]; -1 otherwise.
int ParseNumber(std::string_view text, int lo, int hi) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return -1;
  int value = -1;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < lo || value > hi) return -1;
  return value;
}

// A number or a month/day name; -1 when it is neither or out of range.
int ParseValue(std::string_view text, const FieldSpec& spec) {
  for (int i = 0; i < spec.name_count; ++i) {
    if (EqualsIgnoreCase(text, spec.names[i])) return spec.name_base + i;
  }
  return ParseNumber(text, spec.lo, spec.hi);
}

uint64_t StepBits(int first, int last, int step) {
  uint64_t bits = 0;
  for (int v = first; v <= last; v += step) bits |= uint64_t{1} << v;
  return bits;
}

// One list item: "a", "a-b" or "a-b/n".
Status AddItem(std::string_view field, std::string_view item,
               const FieldSpec& spec, uint64_t* bits) {
  const size_t slash = item.find('/');
  const std::string_view range = item.substr(0, slash);
  const size_t dash = range.find('-');
  const int first = ParseValue(range.substr(0, dash), spec);
  const int last = dash == std::string_view::npos
                       ? first
                       : ParseValue(range.substr(dash + 1), spec);
  if (first < 0 || last < 0) return FieldError(spec, field, spec.expected);
  if (first > last) {
    return FieldError(spec, field, "a range a-b with a <= b");
  }
  int step = 1;
  if (slash != std::string_view::npos) {
    if (dash == std::string_view::npos) {
      return FieldError(spec, field, "a step on a range (a-b/n or */n)");
    }
    step = ParseNumber(item.substr(slash + 1), 1, spec.max_step);
    if (step < 0) {
      return FieldError(spec, field,
                        "a step of 1-" + std::to_string(spec.max_step));
    }
  }
  *bits |= StepBits(first, last, step);
  return Status::Ok();
}

Result<ParsedField> ParseField(std::string_view text, const FieldSpec& spec) {
  ParsedField field;
  if (text == "*" || text.starts_with("*/")) {
    int step = 1;
    if (text.size() > 1) {
      step = ParseNumber(text.substr(2), 1, spec.max_step);
      if (step < 0) {
        return FieldError(spec, text,
                          "a step of 1-" + std::to_string(spec.max_step));
      }
    }
    field.bits = StepBits(spec.lo, spec.star_hi, step);
    field.star = true;
    return field;
  }
  if (text.find('*') != std::string_view::npos) {
    return FieldError(spec, text, "\"*\" or \"*/n\" on its own");
  }
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    Status s =
        AddItem(text, text.substr(start, comma - start), spec, &field.bits);
    if (!s.ok()) return s;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (spec.hi > spec.star_hi && ((field.bits >> 7) & 1)) {  // 7 is Sunday
    field.bits = (field.bits & ~(uint64_t{1} << 7)) | 1;
  }
  return field;
}

Result<std::string_view> ExpandMacro(std::string_view macro) {
  for (const Macro& m : kMacros) {
    if (EqualsIgnoreCase(macro, m.name)) return m.fields;
  }
  const std::string quoted = "\"" + std::string(macro) + "\"";
  if (EqualsIgnoreCase(macro, "@reboot")) {
    return Status::InvalidArgument(quoted +
                                   " is not a schedule; use at_start instead");
  }
  return Status::InvalidArgument(
      "unknown macro " + quoted +
      ": expected @yearly, @annually, @monthly, @weekly, "
      "@daily, @midnight or @hourly");
}

// The smallest set value >= from, or -1.
int NextBit(uint64_t bits, int from) {
  if (from >= 64) return -1;
  const uint64_t rest = bits & (~uint64_t{0} << from);
  return rest == 0 ? -1 : std::countr_zero(rest);
}

// "1-3,10": ascending values, runs of two or more as ranges.
std::string FormatList(uint64_t bits) {
  std::string out;
  for (int v = NextBit(bits, 0); v >= 0;) {
    int end = v;
    while (NextBit(bits, end + 1) == end + 1) ++end;
    if (!out.empty()) out += ',';
    out += std::to_string(v);
    if (end > v) out += '-' + std::to_string(end);
    v = NextBit(bits, end + 1);
  }
  return out;
}

// n when `bits` is what "*/n" gives (n == 1: "*"), else 0. A lone value
// is "*/max_step" only when `star` says the field was written that way.
int StarStep(uint64_t bits, const FieldSpec& spec, bool star) {
  const int second = NextBit(bits, spec.lo + 1);
  const int step = second < 0 ? spec.max_step : second - spec.lo;
  if (second < 0 && !star) return 0;
  return bits == StepBits(spec.lo, spec.star_hi, step) ? step : 0;
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expr) {
  std::array<std::string_view, 5> tokens;
  size_t count = 0;
  for (size_t pos = 0; pos < expr.size();) {
    const size_t start = expr.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos) break;
    const size_t end = std::min(expr.find_first_of(" \t", start), expr.size());
    if (count < tokens.size()) tokens[count] = expr.substr(start, end - start);
    ++count;
    pos = end;
  }
  if (count > 0 && tokens[0].front() == '@') {
    if (count > 1) {
      return Status::InvalidArgument("expected only the macro \"" +
                                     std::string(tokens[0]) + "\", got " +
                                     std::to_string(count) + " fields");
    }
    Result<std::string_view> fields = ExpandMacro(tokens[0]);
    if (!fields.ok()) return fields.status();
    return Parse(*fields);
  }
  if (count != tokens.size()) {
    return Status::InvalidArgument(
        "expected 5 fields (minute hour day-of-month month day-of-week) or a "
        "macro like @hourly, got " +
        std::to_string(count));
  }
  CronSchedule schedule;
  for (size_t i = 0; i < tokens.size(); ++i) {
    Result<ParsedField> field = ParseField(tokens[i], kSpecs[i]);
    if (!field.ok()) return field.status();
    // Only the day fields' star changes meaning (the OR rule); dropping it
    // elsewhere makes == and ToString() depend on the matched set alone.
    const bool star_matters = i == kDayOfMonth || i == kDayOfWeek;
    schedule.fields_[i] = Field{field->bits, field->star && star_matters};
  }
  return schedule;
}

bool CronSchedule::DayMatches(int64_t days_since_epoch,
                              int day_of_month) const {
  const bool dom = Has(kDayOfMonth, day_of_month);
  const bool dow = Has(kDayOfWeek, WeekdayFromDays(days_since_epoch));
  if (fields_[kDayOfMonth].star || fields_[kDayOfWeek].star) {
    return dom && dow;
  }
  return dom || dow;
}

int CronSchedule::NextMinuteOfDay(int minute_of_day) const {
  int hour = minute_of_day / 60;
  int minute = minute_of_day % 60;
  for (;;) {
    const int h = NextBit(fields_[kHour].bits, hour);
    if (h < 0) return -1;
    if (h != hour) minute = 0;
    const int m = NextBit(fields_[kMinute].bits, minute);
    if (m >= 0) return h * 60 + m;
    hour = h + 1;
    minute = 0;
  }
}

bool CronSchedule::Matches(int64_t wall_seconds) const {
  const int64_t day = FloorDiv(wall_seconds, kSecondsPerDay);
  const int64_t minute_of_day = (wall_seconds - day * kSecondsPerDay) / 60;
  const CivilDay civil = CivilFromDays(day);
  return Has(kMonth, civil.month) && DayMatches(day, civil.day) &&
         Has(kHour, static_cast<int>(minute_of_day / 60)) &&
         Has(kMinute, static_cast<int>(minute_of_day % 60));
}

int64_t CronSchedule::Next(int64_t after, const TimeZone& tz) const {
  if (after < -kMaxAbsSeconds || after > kMaxAbsSeconds) return -1;
  // Walk wall-clock minutes from the one after `after`'s, skipping whole
  // months, days and hours that cannot match.
  const int64_t wall_after = after + tz.OffsetAt(after);
  int64_t day = FloorDiv(wall_after, kSecondsPerDay);
  int minute = static_cast<int>((wall_after - day * kSecondsPerDay) / 60) + 1;
  const int64_t last_day = day + int64_t{kSearchYears} * 366;
  while (day <= last_day) {
    const CivilDay civil = CivilFromDays(day);
    if (!Has(kMonth, civil.month)) {
      day = civil.month == 12 ? DaysFromCivil(civil.year + 1, 1, 1)
                              : DaysFromCivil(civil.year, civil.month + 1, 1);
      minute = 0;
      continue;
    }
    const int found = minute < kMinutesPerDay && DayMatches(day, civil.day)
                          ? NextMinuteOfDay(minute)
                          : -1;
    if (found < 0) {
      ++day;
      minute = 0;
      continue;
    }
    // Skipped wall times have no instant; repeated ones count only at
    // their first occurrence, which may already be at or before `after`.
    const std::optional<int64_t> instant =
        tz.FirstInstantAt(day * kSecondsPerDay + found * 60);
    if (instant && *instant > after) return *instant;
    minute = found + 1;
  }
  return -1;
}

std::string CronSchedule::ToString() const {
  std::string out;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const Field& field = fields_[i];
    const bool star_matters = i == kDayOfMonth || i == kDayOfWeek;
    const int step = !star_matters || field.star
                         ? StarStep(field.bits, kSpecs[i], field.star)
                         : 0;
    if (i > 0) out += ' ';
    if (step == 1) {
      out += '*';
    } else if (step > 1) {
      out += "*/" + std::to_string(step);
    } else {
      out += FormatList(field.bits);
    }
  }
  return out;
}

}  // namespace corefork
