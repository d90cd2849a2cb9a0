#include "schedule/cron.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace corefork {
namespace {

// Unix seconds of a UTC civil time; also a wall time for Matches().
int64_t Utc(int64_t y, int mon, int d, int h = 0, int min = 0, int s = 0) {
  return DaysFromCivil(y, mon, d) * kSecondsPerDay + h * 3600 + min * 60 + s;
}

TimeZone Zone(const char* name) {
  Result<TimeZone> tz = TimeZone::Load(name);
  EXPECT_TRUE(tz.ok()) << name << ": " << tz.status().message();
  return tz.ok() ? *tz : TimeZone();
}

TEST(CronTest, ParseAcceptsEverySyntaxForm) {
  struct Case {
    const char* expr;
    const char* normalized;
  };
  const Case cases[] = {
      {"* * * * *", "* * * * *"},
      {"5 * * * *", "5 * * * *"},
      {"0-59 * * * *", "* * * * *"},
      {"*/1 * * * *", "* * * * *"},
      {"*/15 * * * *", "*/15 * * * *"},
      {"0,15,30,45 * * * *", "*/15 * * * *"},
      {"*/60 * * * *", "0 * * * *"},
      {"10-20/5 * * * *", "10,15,20 * * * *"},
      {"1,2,3,10 * * * *", "1-3,10 * * * *"},
      {"3,1,2,2 * * * *", "1-3 * * * *"},
      {"0 */6 * * *", "0 */6 * * *"},
      {"0 0,6,12,18 * * *", "0 */6 * * *"},
      {"0 9-17 * * MON-FRI", "0 9-17 * * 1-5"},
      {"0 0 1 jan,Jul *", "0 0 1 */6 *"},
      {"0 0 1 feb-APR,dec *", "0 0 1 2-4,12 *"},
      {"0 0 1 1-12 *", "0 0 1 * *"},
      {"0 0 * * 7", "0 0 * * 0"},
      {"0 0 * * 5-7", "0 0 * * 0,5-6"},
      {"0 0 * * sun", "0 0 * * 0"},
      {"0 0 * * Sat,sUn", "0 0 * * 0,6"},
      {"0 0 * * 0-7", "0 0 * * 0-6"},
      {"0 0 * * */2", "0 0 * * */2"},
      {"0 0 */2 * *", "0 0 */2 * *"},
      {"0 0 */31 * *", "0 0 */31 * *"},
      {"0 0 1-5/2 * *", "0 0 1,3,5 * *"},
      {"0 0 1-31 * 1", "0 0 1-31 * 1"},  // restricted: OR with Mondays
      {"  0   12 * *  *  ", "0 12 * * *"},
      {"0\t12\t*\t*\t*", "0 12 * * *"},
      {"59 23 31 12 6", "59 23 31 12 6"},
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
      {" @HOURLY ", "0 * * * *"},
  };
  for (const Case& c : cases) {
    Result<CronSchedule> s = CronSchedule::Parse(c.expr);
    ASSERT_TRUE(s.ok()) << c.expr << ": " << s.status().message();
    EXPECT_EQ(s->ToString(), c.normalized) << c.expr;
    Result<CronSchedule> again = CronSchedule::Parse(s->ToString());
    ASSERT_TRUE(again.ok()) << c.expr << ": " << again.status().message();
    EXPECT_TRUE(*again == *s) << c.expr << " -> " << s->ToString();
  }
}

TEST(CronTest, ParseErrorsNameTheFieldAndWhatWasExpected) {
  struct Case {
    const char* expr;
    const char* message;
  };
  const Case cases[] = {
      {"61 * * * *", "minute field \"61\": expected 0-59"},
      {"* 24 * * *", "hour field \"24\": expected 0-23"},
      {"* * 0 * *", "day-of-month field \"0\": expected 1-31"},
      {"* * 32 * *", "day-of-month field \"32\": expected 1-31"},
      {"* * * 13 *", "month field \"13\": expected 1-12 or JAN-DEC"},
      {"* * * FOO *", "month field \"FOO\": expected 1-12 or JAN-DEC"},
      {"* * * JAN-FOO *", "month field \"JAN-FOO\": expected 1-12 or JAN-DEC"},
      {"* * * * 8", "day-of-week field \"8\": expected 0-7 or SUN-SAT"},
      {"* * * * MONDAY",
       "day-of-week field \"MONDAY\": expected 0-7 or SUN-SAT"},
      {"* * * * 0x1", "day-of-week field \"0x1\": expected 0-7 or SUN-SAT"},
      {"5-2 * * * *", "minute field \"5-2\": expected a range a-b with a <= b"},
      {"* * * * FRI-MON",
       "day-of-week field \"FRI-MON\": expected a range a-b with a <= b"},
      {"*/0 * * * *", "minute field \"*/0\": expected a step of 1-60"},
      {"*/61 * * * *", "minute field \"*/61\": expected a step of 1-60"},
      {"0-10/0 * * * *", "minute field \"0-10/0\": expected a step of 1-60"},
      {"1-5/2/3 * * * *", "minute field \"1-5/2/3\": expected a step of 1-60"},
      {"* */x * * *", "hour field \"*/x\": expected a step of 1-24"},
      {"* * */32 * *", "day-of-month field \"*/32\": expected a step of 1-31"},
      {"5/15 * * * *",
       "minute field \"5/15\": expected a step on a range (a-b/n or */n)"},
      {"1,,2 * * * *", "minute field \"1,,2\": expected 0-59"},
      {"1, * * * *", "minute field \"1,\": expected 0-59"},
      {"*,5 * * * *",
       "minute field \"*,5\": expected \"*\" or \"*/n\" on its own"},
      {"* * 1-* * *",
       "day-of-month field \"1-*\": expected \"*\" or \"*/n\" on its own"},
      {"-5 * * * *", "minute field \"-5\": expected 0-59"},
      {"+5 * * * *", "minute field \"+5\": expected 0-59"},
      {"1-2-3 * * * *", "minute field \"1-2-3\": expected 0-59"},
      {"99999999999 * * * *", "minute field \"99999999999\": expected 0-59"},
      {"* * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week) or a "
       "macro like @hourly, got 4"},
      {"",
       "expected 5 fields (minute hour day-of-month month day-of-week) or "
       "a macro like @hourly, got 0"},
      {"0 * * * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week) or a "
       "macro like @hourly, got 6"},
      {"@fortnightly",
       "unknown macro \"@fortnightly\": expected @yearly, @annually, "
       "@monthly, @weekly, @daily, @midnight or @hourly"},
      {"@reboot", "\"@reboot\" is not a schedule; use at_start instead"},
      {"@hourly *", "expected only the macro \"@hourly\", got 2 fields"},
  };
  for (const Case& c : cases) {
    Result<CronSchedule> s = CronSchedule::Parse(c.expr);
    ASSERT_FALSE(s.ok()) << c.expr;
    EXPECT_EQ(s.status().message(), c.message) << c.expr;
  }
}

struct NextCase {
  const char* zone;
  const char* expr;
  int64_t after;
  int64_t next;
  const char* name;
};

void ExpectNext(const NextCase& c) {
  Result<CronSchedule> s = CronSchedule::Parse(c.expr);
  ASSERT_TRUE(s.ok()) << c.name << ": " << s.status().message();
  EXPECT_EQ(s->Next(c.after, Zone(c.zone)), c.next) << c.name;
}

TEST(CronTest, NextInUtc) {
  const NextCase cases[] = {
      {"UTC", "* * * * *", Utc(2024, 1, 1), Utc(2024, 1, 1, 0, 1), "minute"},
      {"UTC", "* * * * *", Utc(2024, 1, 1, 0, 0, 30), Utc(2024, 1, 1, 0, 1),
       "mid-minute"},
      {"UTC", "*/15 * * * *", Utc(2024, 1, 1, 10, 7), Utc(2024, 1, 1, 10, 15),
       "*/15"},
      {"UTC", "*/15 * * * *", Utc(2024, 1, 1, 10, 45), Utc(2024, 1, 1, 11),
       "*/15 strictly after"},
      {"UTC", "*/15 * * * *", Utc(2024, 12, 31, 23, 50), Utc(2025, 1, 1),
       "*/15 into the new year"},
      {"UTC", "*/20 3 * * *", Utc(2024, 1, 1, 3, 40), Utc(2024, 1, 2, 3),
       "hour over: next day"},
      {"UTC", "0 0 1 * *", Utc(2024, 1, 31, 12), Utc(2024, 2, 1), "month end"},
      {"UTC", "0 0 31 * *", Utc(2024, 4, 15), Utc(2024, 5, 31), "30-day Apr"},
      {"UTC", "0 0 31 * *", Utc(2024, 1, 31), Utc(2024, 3, 31), "February"},
      {"UTC", "0 12 29 2 *", Utc(2023, 3, 1), Utc(2024, 2, 29, 12), "29 Feb"},
      {"UTC", "0 12 29 2 *", Utc(2024, 2, 29, 12), Utc(2028, 2, 29, 12),
       "next 29 Feb"},
      {"UTC", "0 0 29 2 *", Utc(2096, 3, 1), Utc(2104, 2, 29), "2100 no leap"},
      {"UTC", "0 0 1 1 *", Utc(2024, 12, 31, 23, 59), Utc(2025, 1, 1), "year"},
      {"UTC", "59 23 31 12 *", Utc(2024, 6, 1), Utc(2024, 12, 31, 23, 59),
       "last minute of the year"},
      {"UTC", "30 4 * JAN-MAR *", Utc(2024, 3, 31, 5), Utc(2025, 1, 1, 4, 30),
       "skips months"},
      {"UTC", "0 0 13 * 5", Utc(2024, 9, 1), Utc(2024, 9, 6), "OR: Friday"},
      {"UTC", "0 0 13 * 5", Utc(2024, 9, 6), Utc(2024, 9, 13), "OR: 13th"},
      {"UTC", "0 0 13 * 5", Utc(2024, 9, 27), Utc(2024, 10, 4), "OR: Oct"},
      {"UTC", "0 0 1 * MON", Utc(2024, 9, 25), Utc(2024, 9, 30), "OR: Mon"},
      {"UTC", "0 0 1 * MON", Utc(2024, 9, 30), Utc(2024, 10, 1), "OR: 1st"},
      {"UTC", "0 0 */2 * 1", Utc(2024, 9, 1), Utc(2024, 9, 9),
       "*/2 counts as *: odd day AND Monday"},
      {"UTC", "0 0 * * 1", Utc(2024, 9, 1), Utc(2024, 9, 2), "Mondays"},
      {"UTC", "0 0 * * 7", Utc(2024, 9, 2), Utc(2024, 9, 8), "7 is Sunday"},
      {"UTC", "0 9-17 * * MON-FRI", Utc(2024, 9, 6, 12, 30),
       Utc(2024, 9, 6, 13), "office hours"},
      {"UTC", "0 9-17 * * MON-FRI", Utc(2024, 9, 6, 17), Utc(2024, 9, 9, 9),
       "weekend skipped"},
      {"UTC", "@hourly", Utc(2024, 1, 1, 10), Utc(2024, 1, 1, 11), "@hourly"},
      {"UTC", "@daily", Utc(2024, 2, 28), Utc(2024, 2, 29), "@daily"},
      {"UTC", "@weekly", Utc(2024, 9, 2), Utc(2024, 9, 8), "@weekly"},
      {"UTC", "@monthly", Utc(2024, 2, 15), Utc(2024, 3, 1), "@monthly"},
      {"UTC", "@yearly", Utc(2024, 3, 3), Utc(2025, 1, 1), "@yearly"},
      {"UTC", "0 0 * * *", Utc(1969, 12, 31, 12), Utc(1970, 1, 1), "epoch"},
  };
  for (const NextCase& c : cases) ExpectNext(c);
}

TEST(CronTest, NextInOtherZonesAndAcrossDst) {
  const NextCase cases[] = {
      {"Europe/Berlin", "0 0 * * *", Utc(2024, 7, 1, 12), Utc(2024, 7, 1, 22),
       "midnight CEST"},
      {"Europe/Berlin", "30 2 * * *", Utc(2024, 3, 30, 12),
       Utc(2024, 4, 1, 0, 30), "02:30 does not exist on 2024-03-31"},
      {"Europe/Berlin", "* * * * *", Utc(2024, 3, 31, 0, 59),
       Utc(2024, 3, 31, 1), "01:59 CET, then 03:00 CEST"},
      {"Europe/Berlin", "0 3 * * *", Utc(2024, 3, 30, 12), Utc(2024, 3, 31, 1),
       "03:00 after the gap exists"},
      {"Europe/Berlin", "30 2 * * *", Utc(2024, 10, 26, 12),
       Utc(2024, 10, 27, 0, 30), "02:30 fires at its first occurrence"},
      {"Europe/Berlin", "30 2 * * *", Utc(2024, 10, 27, 0, 30),
       Utc(2024, 10, 28, 1, 30), "...and only once"},
      {"Europe/Berlin", "*/30 * * * *", Utc(2024, 10, 27, 0, 30),
       Utc(2024, 10, 27, 2), "the repeated hour is quiet"},
      {"Europe/Berlin", "30 2 * * *", Utc(2045, 3, 25, 12),
       Utc(2045, 3, 27, 0, 30), "2045 gap, from the footer rule"},
      {"America/New_York", "30 2 * * *", Utc(2024, 3, 9, 12),
       Utc(2024, 3, 11, 6, 30), "New York gap"},
      {"America/New_York", "30 1 * * *", Utc(2024, 11, 2, 12),
       Utc(2024, 11, 3, 5, 30), "New York fold: EDT"},
      {"America/New_York", "30 1 * * *", Utc(2024, 11, 3, 5, 30),
       Utc(2024, 11, 4, 6, 30), "New York fold: once"},
      {"Asia/Kolkata", "0 9 * * *", Utc(2024, 1, 1), Utc(2024, 1, 1, 3, 30),
       "Kolkata +05:30"},
      {"Australia/Sydney", "0 0 1 * *", Utc(2045, 1, 15), Utc(2045, 1, 31, 13),
       "Sydney summer"},
  };
  for (const NextCase& c : cases) ExpectNext(c);
}

TEST(CronTest, ImpossibleSchedulesReturnMinusOne) {
  struct Case {
    const char* expr;
    bool possible;
  };
  const Case cases[] = {
      {"0 0 30 2 *", false},        {"0 0 31 2 *", false},
      {"0 0 31 4,6,9,11 *", false}, {"* * 30,31 FEB *", false},
      {"0 0 31 2 1", true},  // OR: every Monday in February
      {"0 0 29 2 *", true},
  };
  for (const Case& c : cases) {
    Result<CronSchedule> s = CronSchedule::Parse(c.expr);
    ASSERT_TRUE(s.ok()) << c.expr << ": " << s.status().message();
    for (const char* zone : {"UTC", "Europe/Berlin"}) {
      const int64_t next = s->Next(Utc(2024, 3, 1), Zone(zone));
      EXPECT_EQ(next != -1, c.possible) << c.expr << " in " << zone;
    }
  }
  Result<CronSchedule> every = CronSchedule::Parse("* * * * *");
  EXPECT_EQ(every->Next(int64_t{1} << 62, TimeZone()), -1);
}

// Deterministic "random" expressions covering every syntax form.
class ExpressionMaker {
 public:
  std::string Make() {
    return Field(0, 59) + " " + Field(0, 23) + " " + Field(1, 31, 8) + " " +
           Field(1, 12, 12) + " " + Field(0, 7, 5);
  }

 private:
  int Below(int n) {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state_ >> 33) % static_cast<uint64_t>(n));
  }
  // More stars for the fields that would otherwise rarely match.
  std::string Field(int lo, int hi, int star_weight = 1) {
    const int a = lo + Below(hi - lo + 1);
    const int b = a + Below(hi - a + 1);
    const std::string range = std::to_string(a) + "-" + std::to_string(b);
    const int form = Below(5 + star_weight);
    switch (form) {
      case 0:
        return std::to_string(a);
      case 1:
        return range;
      case 2:
        return "*/" + std::to_string(1 + Below(std::min(12, hi - lo)));
      case 3:
        return range + "/" + std::to_string(1 + Below(5));
      case 4:
        return std::to_string(a) + "," + std::to_string(b) + "," +
               std::to_string(lo + Below(hi - lo + 1));
      default:
        return "*";
    }
  }
  uint64_t state_ = 42;
};

// Next() from many points in [start, end) against a minute-by-minute walk
// of UTC time that fires each matching wall minute the first time it is
// seen (so gaps never fire and folds fire once). Adds the number of
// firings in the window to *fired.
void CompareWithBruteForce(const std::string& expr, const TimeZone& tz,
                           int64_t start, int64_t end, size_t* fired) {
  Result<CronSchedule> s = CronSchedule::Parse(expr);
  ASSERT_TRUE(s.ok()) << expr << ": " << s.status().message();
  std::set<int64_t> seen_walls;
  std::vector<int64_t> fires;
  for (int64_t t = start - kSecondsPerDay; t <= end + 60; t += 60) {
    const int64_t wall = t + tz.OffsetAt(t);
    if (seen_walls.insert(wall).second && s->Matches(wall)) fires.push_back(t);
  }
  std::vector<int64_t> afters;
  for (int64_t t = start; t < end; t += 7 * 60 + 13) afters.push_back(t);
  for (int64_t fire : fires) {
    if (fire < start || fire >= end) continue;
    afters.insert(afters.end(), {fire - 1, fire});
    ++*fired;
  }
  for (int64_t after : afters) {
    const auto expected = std::upper_bound(fires.begin(), fires.end(), after);
    const int64_t next = s->Next(after, tz);
    if (expected != fires.end() && *expected <= end) {
      ASSERT_EQ(next, *expected)
          << expr << " in " << tz.name() << " after " << after;
    } else {
      ASSERT_TRUE(next == -1 || next > end) << expr << " after " << after;
    }
  }
}

TEST(CronTest, NextAgreesWithBruteForceInUtc) {
  ExpressionMaker maker;
  int with_firings = 0;
  for (int i = 0; i < 30; ++i) {
    const std::string expr = maker.Make();
    const int64_t base = Utc(2024, 1 + i % 12, 1 + (i * 7) % 28, i % 24);
    size_t fired = 0;
    CompareWithBruteForce(expr, TimeZone(), base, base + 4 * kSecondsPerDay,
                          &fired);
    // Restricted months rarely match near `base`: also check the days
    // around the first firing.
    const int64_t first = CronSchedule::Parse(expr)->Next(base, TimeZone());
    if (first > base + 2 * kSecondsPerDay) {
      CompareWithBruteForce(expr, TimeZone(), first - 2 * kSecondsPerDay,
                            first + 2 * kSecondsPerDay, &fired);
    }
    with_firings += fired > 0;
  }
  EXPECT_GE(with_firings, 28) << "too few expressions fire in their windows";
}

TEST(CronTest, NextAgreesWithBruteForceAcrossDst) {
  struct Window {
    const char* zone;
    int64_t start;
  };
  const Window windows[] = {
      {"Europe/Berlin", Utc(2024, 3, 30)},
      {"Europe/Berlin", Utc(2024, 10, 26)},
      {"Europe/Berlin", Utc(2045, 3, 25)},
      {"America/New_York", Utc(2024, 11, 2)},
      {"Australia/Sydney", Utc(2045, 4, 1)},
  };
  std::vector<std::string> exprs = {"30 2 * * *", "*/15 * * * *", "0 3 * * *",
                                    "* 2 * * *",  "59 1 * * *",   "0 * * * *"};
  ExpressionMaker maker;
  for (int i = 0; i < 10; ++i) exprs.push_back(maker.Make());
  size_t fired = 0;
  for (const Window& w : windows) {
    const TimeZone tz = Zone(w.zone);
    for (const std::string& expr : exprs) {
      CompareWithBruteForce(expr, tz, w.start, w.start + 3 * kSecondsPerDay,
                            &fired);
    }
  }
  EXPECT_GT(fired, 1000u);
}

}  // namespace
}  // namespace corefork
