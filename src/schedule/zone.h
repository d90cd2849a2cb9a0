// TimeZone: one IANA zone (cctz, from the zoneinfo directory) answering the
// two questions the job scheduler asks: the UTC offset at an instant, and the
// instant a local wall-clock time names (none in a spring-forward gap, the
// first of two in a fall-back fold). Plus the proleptic Gregorian calendar
// arithmetic cron needs. Never touches TZ, tzset or localtime. An immutable
// value: cctz shares the loaded zone process-wide and its lookups are safe
// from any thread.
#pragma once

#include <cctz/time_zone.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

  // "Europe/Berlin" -> <zoneinfo_dir>/Europe/Berlin, parsed by cctz (TZif
  // v1-v4, POSIX footer rules in all three date forms Mm.w.d, Jn and n).
  // "", "UTC" and "Etc/UTC" need no file. Names containing ".." or starting
  // with '/' are refused, so a config value cannot read arbitrary files; so
  // is anything but a regular file of at most 1 MiB (a FIFO would hang the
  // read). Leap-second ("right/") zones are refused by cctz.
  static Result<TimeZone> Load(std::string_view name,
                               const std::string& zoneinfo_dir);
  // As above, in $TZDIR when set and not empty, else /usr/share/zoneinfo.
  static Result<TimeZone> Load(std::string_view name);
  static std::string DefaultZoneinfoDir();

  // The name it was loaded by ("UTC" for the default).
  const std::string& name() const { return name_; }

  // Seconds east of UTC in effect at that instant (Berlin in July: 7200).
  int64_t OffsetAt(int64_t unix_seconds) const;

  // The earliest instant whose local wall-clock time is `wall_seconds`
  // (a civil time encoded as seconds since 1970-01-01T00:00 as if in UTC).
  // nullopt when that wall time is skipped by a forward transition.
  std::optional<int64_t> FirstInstantAt(int64_t wall_seconds) const;

  // Same zone file and name.
  bool operator==(const TimeZone& other) const {
    return name_ == other.name_ && zone_ == other.zone_;
  }

 private:
  std::string name_ = "UTC";
  cctz::time_zone zone_;  // cctz's default: UTC
};

}  // namespace corefork
