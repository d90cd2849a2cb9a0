// CronSchedule: a parsed 5-field cron expression (or @macro) and the search
// for its next firing time in a TimeZone. A plain immutable value: Next()
// allocates nothing, keeps no state and is safe from any thread; the event
// loop calls it to compute a job's next deadline.
//
// Semantics follow Vixie cron / cronie: day-of-month and day-of-week are
// OR-ed when both are restricted, i.e. neither field is "*" or "*/n".
// Local wall times a spring-forward gap skips do not fire; wall times a
// fall-back repeats fire once, at their first occurrence (so "*/15" is
// quiet during the repeated hour).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "schedule/zone.h"
#include "util/status.h"

namespace corefork {

class CronSchedule {
 public:
  // "minute hour day-of-month month day-of-week": each field is "*", "*/n",
  // or a list of values, ranges "a-b" and stepped ranges "a-b/n". Months
  // take JAN-DEC, days of the week SUN-SAT (any case); day-of-week 7 is
  // Sunday too. Macros: @yearly @annually @monthly @weekly @daily @midnight
  // @hourly. Errors name the field: `minute field "61": expected 0-59`.
  static Result<CronSchedule> Parse(std::string_view expr);

  // The first instant strictly after `after_unix_seconds` at which the wall
  // clock in `tz` shows a matching minute. -1 when nothing matches within
  // kSearchYears (e.g. "0 0 30 2 *"), or `after` is beyond +-10^12 s.
  int64_t Next(int64_t after_unix_seconds, const TimeZone& tz) const;

  // Whether a wall-clock minute matches, with `wall_seconds` a civil time
  // as seconds since 1970-01-01T00:00 (as in TimeZone::FirstInstantAt).
  // Seconds within the minute are ignored.
  bool Matches(int64_t wall_seconds) const;

  // Normalized 5 fields: numbers instead of names, Sunday as 0, "*" and
  // "*/n" where a field is exactly that, otherwise ascending values and
  // ranges ("1-5,10"). Parse(ToString()) gives an equal schedule.
  std::string ToString() const;

  bool operator==(const CronSchedule&) const = default;

  // 29 February can be 8 years apart (2096 -> 2104); search a bit longer.
  static constexpr int kSearchYears = 9;

 private:
  enum FieldIndex { kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };
  struct Field {
    uint64_t bits = 0;  // bit v set: value v matches (day-of-week: 0-6)
    bool star = false;  // written as "*" or "*/n"
    bool operator==(const Field&) const = default;
  };

  CronSchedule() = default;
  bool Has(FieldIndex field, int value) const {
    return (fields_[field].bits >> value) & 1;
  }
  bool DayMatches(int64_t days_since_epoch, int day_of_month) const;
  // First matching minute of the day at or after `minute_of_day`; -1 if
  // none is left today.
  int NextMinuteOfDay(int minute_of_day) const;

  std::array<Field, 5> fields_;
};

}  // namespace corefork
