// TimeZone: the UTC offsets of one IANA zone, read once from its TZif file
// (RFC 8536) and then answered from memory, plus the proleptic Gregorian
// calendar arithmetic the job scheduler needs. Never touches TZ, tzset or
// localtime. A TimeZone is an immutable value: queries allocate nothing and
// are safe from any thread once it is built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace corefork {

inline constexpr int64_t kSecondsPerDay = 86400;

// Rounds toward negative infinity, so days before 1970 stay whole days.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
// Howard Hinnant's days_from_civil.
constexpr int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy =
      (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct CivilDay {
  int64_t year;
  int month;  // 1-12
  int day;    // 1-31
};

// Inverse of DaysFromCivil.
constexpr CivilDay CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2), month, day};
}

// 0 = Sunday ... 6 = Saturday. 1970-01-01 was a Thursday.
constexpr int WeekdayFromDays(int64_t days) {
  return static_cast<int>(days - FloorDiv(days + 4, 7) * 7 + 4);
}

constexpr bool IsLeapYear(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

constexpr int DaysInMonth(int64_t year, int month) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

class TimeZone {
 public:
  TimeZone();  // UTC

  // "Europe/Berlin" -> <zoneinfo_dir>/Europe/Berlin. "", "UTC" and
  // "Etc/UTC" need no file. Names containing ".." or starting with '/' are
  // refused, so a config value cannot read arbitrary files.
  static Result<TimeZone> Load(
      std::string_view name,
      const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  // The contents of a TZif file; `name` is only for messages and name().
  static Result<TimeZone> FromTzif(std::string_view name,
                                   std::string_view data);

  // A POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (the footer of
  // TZif v2+ files). Only Mm.w.d dates are supported; Jn and n are refused.
  static Result<TimeZone> FromPosixRule(std::string_view rule);

  const std::string& name() const { return name_; }

  // Seconds east of UTC in effect at that instant (Berlin in July: 7200).
  // Before the first transition: the first non-DST type. After the last: the
  // file's POSIX footer rule when it has a supported one, else the last
  // transition's offset.
  int64_t OffsetAt(int64_t unix_seconds) const;

  // The earliest instant whose local wall-clock time is `wall_seconds`
  // (a civil time encoded as seconds since 1970-01-01T00:00 as if in UTC).
  // nullopt when that wall time is skipped by a forward transition.
  std::optional<int64_t> FirstInstantAt(int64_t wall_seconds) const;

 private:
  // One end of DST in a POSIX rule: Mm.w.d/time, time in local seconds.
  struct DateRule {
    int month = 0;    // 1-12
    int week = 0;     // 1-5; 5 = the last such weekday of the month
    int weekday = 0;  // 0 = Sunday
    int32_t time = 7200;
  };
  struct Rule {
    int32_t std_offset = 0;  // seconds east of UTC
    int32_t dst_offset = 0;
    bool has_dst = false;
    DateRule start;  // switch to DST, in standard time
    DateRule end;    // switch back, in DST
  };

  // A malformed rule is an error; nullopt means well-formed but using a
  // form OffsetAt does not evaluate (Jn, n, or DST without dates).
  static Result<std::optional<Rule>> ParseRule(std::string_view text);
  // Consumes "Mm.w.d[/time]", "Jn[/time]" or "n[/time]" from the front of
  // `s`; false when malformed. Jn and n leave date->month 0 (unsupported).
  static bool ParseDate(std::string_view& s, DateRule* date);
  static int64_t RuleOffsetAt(const Rule& rule, int64_t unix_seconds);
  static int64_t RuleSwitchWall(const DateRule& date, int64_t year);

  std::string name_ = "UTC";
  std::vector<int64_t> transitions_;  // ascending unix seconds
  std::vector<int32_t> offsets_;      // offsets_[i] from transitions_[i] on
  int32_t initial_offset_ = 0;        // before transitions_.front()
  std::optional<Rule> rule_;          // after transitions_.back()
};

}  // namespace corefork
