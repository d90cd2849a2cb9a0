#include "schedule/tzfile.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace corefork {
namespace {

constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

// Unix seconds of a UTC civil time.
int64_t Utc(int64_t y, int mon, int d, int h = 0, int min = 0, int s = 0) {
  return DaysFromCivil(y, mon, d) * kSecondsPerDay + h * 3600 + min * 60 + s;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

uint32_t Count(const std::string& data, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data()) + offset;
  return (uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

// Header plus the 32-bit data block of a TZif file.
size_t VersionOneSize(const std::string& data) {
  const uint32_t isut = Count(data, 20), isstd = Count(data, 24),
                 leap = Count(data, 28), time = Count(data, 32),
                 type = Count(data, 36), chars = Count(data, 40);
  return 44 + time * 5 + type * 6 + chars + leap * 8 + isstd + isut;
}

// Europe/Berlin's bytes with the POSIX footer line replaced.
std::string BerlinWithFooter(const std::string& footer) {
  std::string data = ReadBytes(std::string(kZoneinfo) + "/Europe/Berlin");
  const size_t start = data.rfind('\n', data.size() - 2);
  return data.substr(0, start) + "\n" + footer + "\n";
}

TEST(TzFileTest, CalendarHelpersRoundTrip) {
  for (int64_t day = -800'000; day <= 800'000; day += 97) {
    const CivilDay c = CivilFromDays(day);
    ASSERT_EQ(DaysFromCivil(c.year, c.month, c.day), day) << day;
    ASSERT_LE(c.day, DaysInMonth(c.year, c.month)) << day;
  }
  EXPECT_EQ(WeekdayFromDays(0), 4);  // 1970-01-01: Thursday
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(2024, 2, 29)), 4);
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(1969, 12, 28)), 0);
  EXPECT_EQ(DaysInMonth(2100, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
}

TEST(TzFileTest, UtcNeedsNoFile) {
  for (const char* name : {"", "UTC", "Etc/UTC"}) {
    Result<TimeZone> tz = TimeZone::Load(name, "/nonexistent");
    ASSERT_TRUE(tz.ok()) << name << ": " << tz.status().message();
    EXPECT_EQ(tz->name(), *name ? name : "UTC") << name;
    for (int64_t t : {Utc(1800, 1, 1), int64_t{0}, Utc(2024, 7, 1)}) {
      EXPECT_EQ(tz->OffsetAt(t), 0) << name << " at " << t;
      EXPECT_EQ(tz->FirstInstantAt(t), t) << name << " at " << t;
    }
  }
  EXPECT_EQ(TimeZone().OffsetAt(Utc(2024, 7, 1)), 0);
}

TEST(TzFileTest, OffsetsOfInstalledZones) {
  struct Case {
    const char* zone;
    int64_t at;
    int64_t offset;
    const char* name;
  };
  const Case cases[] = {
      {"Europe/Berlin", Utc(2024, 1, 15), 3600, "Berlin winter 2024"},
      {"Europe/Berlin", Utc(2024, 7, 15), 7200, "Berlin summer 2024"},
      {"Europe/Berlin", Utc(2024, 3, 31, 0, 59, 59), 3600, "before spring"},
      {"Europe/Berlin", Utc(2024, 3, 31, 1), 7200, "at spring forward"},
      {"Europe/Berlin", Utc(2024, 10, 27, 0, 59, 59), 7200, "before fall"},
      {"Europe/Berlin", Utc(2024, 10, 27, 1), 3600, "at fall back"},
      {"Europe/Berlin", Utc(2045, 1, 15), 3600, "Berlin winter 2045"},
      {"Europe/Berlin", Utc(2045, 7, 15), 7200, "Berlin summer 2045"},
      {"Europe/Berlin", Utc(2045, 3, 26, 0, 59, 59), 3600, "2045 before"},
      {"Europe/Berlin", Utc(2045, 3, 26, 1), 7200, "2045 spring (footer)"},
      {"Europe/Berlin", Utc(2045, 10, 29, 0, 59, 59), 7200, "2045 before"},
      {"Europe/Berlin", Utc(2045, 10, 29, 1), 3600, "2045 fall (footer)"},
      {"Europe/Berlin", Utc(1800, 1, 1), 3208, "Berlin LMT"},
      {"America/New_York", Utc(2024, 1, 15), -18000, "NY winter"},
      {"America/New_York", Utc(2024, 7, 15), -14400, "NY summer"},
      {"America/New_York", Utc(2024, 3, 10, 6, 59, 59), -18000, "NY before"},
      {"America/New_York", Utc(2024, 3, 10, 7), -14400, "NY spring"},
      {"America/New_York", Utc(2024, 11, 3, 6), -18000, "NY fall"},
      {"America/New_York", Utc(2050, 7, 1), -14400, "NY summer 2050"},
      {"America/New_York", Utc(2050, 12, 1), -18000, "NY winter 2050"},
      {"Asia/Kolkata", Utc(2024, 1, 15), 19800, "Kolkata 2024"},
      {"Asia/Kolkata", Utc(2045, 7, 15), 19800, "Kolkata 2045"},
      {"Australia/Sydney", Utc(2045, 1, 15), 39600, "Sydney summer"},
      {"Australia/Sydney", Utc(2045, 4, 1, 15, 59, 59), 39600, "before"},
      {"Australia/Sydney", Utc(2045, 4, 1, 16), 36000, "Sydney fall"},
      {"Australia/Sydney", Utc(2045, 9, 30, 16), 39600, "Sydney spring"},
      {"America/Nuuk", Utc(2030, 3, 31, 0, 59, 59), -7200, "Nuuk /-1"},
      {"America/Nuuk", Utc(2045, 3, 26, 1), -3600, "Nuuk 2045 /-1"},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::Load(c.zone);
    ASSERT_TRUE(tz.ok()) << c.name << ": " << tz.status().message();
    EXPECT_EQ(tz->OffsetAt(c.at), c.offset) << c.name;
  }
}

TEST(TzFileTest, FirstInstantAtSkipsGapsAndTakesFirstOfFolds) {
  struct Case {
    const char* zone;
    int64_t wall;
    std::optional<int64_t> instant;
    const char* name;
  };
  const Case cases[] = {
      {"Europe/Berlin", Utc(2024, 1, 1, 12), Utc(2024, 1, 1, 11), "plain"},
      {"Europe/Berlin", Utc(2024, 3, 31, 1, 59), Utc(2024, 3, 31, 0, 59),
       "before gap"},
      {"Europe/Berlin", Utc(2024, 3, 31, 2, 30), std::nullopt, "in gap"},
      {"Europe/Berlin", Utc(2024, 3, 31, 3), Utc(2024, 3, 31, 1), "after"},
      {"Europe/Berlin", Utc(2024, 10, 27, 2, 30), Utc(2024, 10, 27, 0, 30),
       "fold: CEST first"},
      {"Europe/Berlin", Utc(2024, 10, 27, 3), Utc(2024, 10, 27, 2),
       "after fold"},
      {"Europe/Berlin", Utc(2045, 3, 26, 2, 30), std::nullopt, "2045 gap"},
      {"Europe/Berlin", Utc(2045, 10, 29, 2, 30), Utc(2045, 10, 29, 0, 30),
       "2045 fold"},
      {"America/New_York", Utc(2024, 3, 10, 2, 30), std::nullopt, "NY gap"},
      {"America/New_York", Utc(2024, 11, 3, 1, 30), Utc(2024, 11, 3, 5, 30),
       "NY fold: EDT first"},
      {"Australia/Sydney", Utc(2045, 10, 1, 2, 30), std::nullopt, "AU gap"},
      {"Australia/Sydney", Utc(2045, 4, 2, 2, 30), Utc(2045, 4, 1, 15, 30),
       "AU fold"},
      {"Asia/Kolkata", Utc(2024, 1, 1, 5, 30), Utc(2024, 1, 1), "Kolkata"},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::Load(c.zone);
    ASSERT_TRUE(tz.ok()) << c.name << ": " << tz.status().message();
    EXPECT_EQ(tz->FirstInstantAt(c.wall), c.instant) << c.name;
  }
}

TEST(TzFileTest, LoadRejectsBadNamesAndMissingZones) {
  struct Case {
    const char* zone;
    const char* message;
  };
  const Case cases[] = {
      {"../etc/passwd",
       "timezone \"../etc/passwd\": expected a zone name like Europe/Berlin, "
       "without \"..\" or a leading \"/\""},
      {"Europe/../../etc/passwd",
       "timezone \"Europe/../../etc/passwd\": expected a zone name like "
       "Europe/Berlin, without \"..\" or a leading \"/\""},
      {"/etc/localtime",
       "timezone \"/etc/localtime\": expected a zone name like Europe/Berlin, "
       "without \"..\" or a leading \"/\""},
      {"Mars/Base",
       "unknown timezone \"Mars/Base\": /usr/share/zoneinfo/Mars/Base: No "
       "such file or directory"},
      {"Europe",
       "unknown timezone \"Europe\": /usr/share/zoneinfo/Europe: Is a "
       "directory"},
      {"zone.tab",
       "timezone \"zone.tab\": /usr/share/zoneinfo/zone.tab: not a TZif file "
       "(bad magic)"},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::Load(c.zone);
    ASSERT_FALSE(tz.ok()) << c.zone;
    EXPECT_EQ(tz.status().message(), c.message) << c.zone;
  }
}

TEST(TzFileTest, GarbageIsAnErrorNotACrash) {
  std::string huge_counts = ReadBytes(std::string(kZoneinfo) + "/UTC");
  huge_counts.replace(32, 4, "\xff\xff\xff\xff");  // timecnt
  std::string no_types = ReadBytes(std::string(kZoneinfo) + "/UTC");
  no_types[4] = 0;  // v1 only, so the edited counts are the ones used
  no_types.replace(36, 4, std::string(4, '\0'));  // typecnt
  struct Case {
    std::string data;
    const char* message;
    const char* name;
  };
  const Case cases[] = {
      {"", "truncated TZif header", "empty"},
      {"hello", "truncated TZif header", "short"},
      {std::string(64, 'x'), "not a TZif file (bad magic)", "no magic"},
      {"TZif1" + std::string(60, '\0'), "unsupported TZif version", "v1?"},
      {huge_counts, "truncated TZif data", "huge counts"},
      {no_types, "bad TZif data: expected 1-256 local time types", "types"},
      {BerlinWithFooter("nonsense"),
       "POSIX TZ rule \"nonsense\": expected a UTC offset", "footer"},
      {BerlinWithFooter("CET-1CEST,M3.5.0,M13.5.0"),
       "POSIX TZ rule \"CET-1CEST,M3.5.0,M13.5.0\": expected a DST end date "
       "like M10.5.0/3, then nothing",
       "footer month"},
      {ReadBytes(std::string(kZoneinfo) + "/right/UTC"),
       "leap-second zones (right/...) are not supported", "right/"},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::FromTzif("x", c.data);
    ASSERT_FALSE(tz.ok()) << c.name;
    EXPECT_EQ(tz.status().message(), c.message) << c.name;
  }
}

TEST(TzFileTest, LoadReportsTheFileOfABadZone) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) / "tzfile_test_zoneinfo";
  std::filesystem::create_directories(dir / "Bad");
  std::ofstream(dir / "Bad" / "Zone") << "TZif2 garbage";
  Result<TimeZone> tz = TimeZone::Load("Bad/Zone", dir.string());
  ASSERT_FALSE(tz.ok());
  EXPECT_EQ(tz.status().message(), "timezone \"Bad/Zone\": " + dir.string() +
                                       "/Bad/Zone: truncated TZif header");
  std::filesystem::remove_all(dir);
}

TEST(TzFileTest, EveryTruncationOfARealFileIsRejected) {
  const std::string data = ReadBytes(std::string(kZoneinfo) + "/Europe/Berlin");
  ASSERT_GT(data.size(), 1000u);
  ASSERT_TRUE(TimeZone::FromTzif("full", data).ok());
  for (size_t size = 0; size < data.size(); ++size) {
    EXPECT_FALSE(TimeZone::FromTzif("cut", data.substr(0, size)).ok())
        << "cut to " << size << " bytes";
  }
}

TEST(TzFileTest, VersionOneFileUsesThirtyTwoBitData) {
  std::string data = ReadBytes(std::string(kZoneinfo) + "/Europe/Berlin");
  data = data.substr(0, VersionOneSize(data));
  data[4] = '\0';
  Result<TimeZone> tz = TimeZone::FromTzif("Berlin v1", data);
  ASSERT_TRUE(tz.ok()) << tz.status().message();
  EXPECT_EQ(tz->OffsetAt(Utc(2024, 1, 15)), 3600);
  EXPECT_EQ(tz->OffsetAt(Utc(2024, 7, 15)), 7200);
  // No footer: after the last 32-bit transition (October 2037) the offset
  // stays what that transition set.
  EXPECT_EQ(tz->OffsetAt(Utc(2045, 7, 15)), 3600);
}

TEST(TzFileTest, UnsupportedFooterFallsBackToLastTransition) {
  Result<TimeZone> tz =
      TimeZone::FromTzif("Berlin J", BerlinWithFooter("CET-1CEST,J60,J300"));
  ASSERT_TRUE(tz.ok()) << tz.status().message();
  EXPECT_EQ(tz->OffsetAt(Utc(2024, 7, 15)), 7200);
  EXPECT_EQ(tz->OffsetAt(Utc(2045, 7, 15)), 3600);
}

TEST(TzFileTest, PosixRules) {
  struct Case {
    const char* rule;
    int64_t at;
    int64_t offset;
  };
  const Case cases[] = {
      {"CET-1CEST,M3.5.0,M10.5.0/3", Utc(2045, 3, 26, 0, 59, 59), 3600},
      {"CET-1CEST,M3.5.0,M10.5.0/3", Utc(2045, 3, 26, 1), 7200},
      {"CET-1CEST,M3.5.0,M10.5.0/3", Utc(2045, 10, 29, 1), 3600},
      {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", Utc(2030, 3, 31, 0, 59), -7200},
      {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", Utc(2030, 3, 31, 1), -3600},
      {"AEST-10AEDT,M10.1.0,M4.1.0/3", Utc(2045, 1, 1), 39600},
      {"AEST-10AEDT,M10.1.0,M4.1.0/3", Utc(2045, 7, 1), 36000},
      {"XXX3YYY2:30,M3.2.0,M11.1.0", Utc(2030, 7, 1), -9000},
      {"IST-5:30", Utc(2030, 7, 1), 19800},
      {"<+0545>-5:45", Utc(2030, 7, 1), 20700},
      {"UTC0", Utc(2030, 7, 1), 0},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::FromPosixRule(c.rule);
    ASSERT_TRUE(tz.ok()) << c.rule << ": " << tz.status().message();
    EXPECT_EQ(tz->OffsetAt(c.at), c.offset) << c.rule;
  }
}

TEST(TzFileTest, PosixRuleErrors) {
  struct Case {
    const char* rule;
    const char* expected;
  };
  const Case cases[] = {
      {"",
       "not supported; expected Mm.w.d dates as in "
       "\"CET-1CEST,M3.5.0,M10.5.0/3\""},
      {"EST5EDT",
       "not supported; expected Mm.w.d dates as in "
       "\"CET-1CEST,M3.5.0,M10.5.0/3\""},
      {"CET-1CEST,J60,J300",
       "not supported; expected Mm.w.d dates as in "
       "\"CET-1CEST,M3.5.0,M10.5.0/3\""},
      {"1CET", "expected a zone name like CET or <+03>"},
      {"CET", "expected a UTC offset"},
      {"CET-25", "expected a UTC offset"},
      {"CET-1C", "expected a DST name like CEST or <+04>"},
      {"CET-1CEST;", "expected a DST offset"},
      {"CET-1CEST,M3.5.0", "expected a DST start date like M3.5.0 or M3.5.0/2"},
      {"CET-1CEST,M3.6.0,M10.5.0",
       "expected a DST start date like M3.5.0 or "
       "M3.5.0/2"},
      {"CET-1CEST,M3.5.0,M10.5.0/3x",
       "expected a DST end date like "
       "M10.5.0/3, then nothing"},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::FromPosixRule(c.rule);
    ASSERT_FALSE(tz.ok()) << c.rule;
    EXPECT_EQ(tz.status().message(),
              "POSIX TZ rule \"" + std::string(c.rule) + "\": " + c.expected)
        << c.rule;
  }
}

// Walks the installed tzdata (minus the posix/ and right/ copies).
std::vector<std::filesystem::path> InstalledZones() {
  std::vector<std::filesystem::path> zones;
  namespace fs = std::filesystem;
  for (auto it = fs::recursive_directory_iterator(kZoneinfo);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name == "posix" || name == "right")) {
      it.disable_recursion_pending();
    } else if (it->is_regular_file() &&
               ReadBytes(it->path().string()).starts_with("TZif")) {
      zones.push_back(fs::relative(it->path(), kZoneinfo));
    }
  }
  return zones;
}

TEST(TzFileTest, EveryInstalledZoneLoads) {
  const std::vector<std::filesystem::path> zones = InstalledZones();
  EXPECT_GT(zones.size(), 300u);
  for (const std::filesystem::path& zone : zones) {
    Result<TimeZone> tz = TimeZone::Load(zone.string());
    EXPECT_TRUE(tz.ok()) << zone << ": " << tz.status().message();
  }
}

// The installed files list DST transitions up to 2037 and carry the same
// rules as a footer: evaluating the footer must reproduce the table.
// (Footers without DST rules are skipped: Morocco lists its Ramadan changes
// in the table until 2087 and only then falls back to its footer.)
TEST(TzFileTest, FooterRulesAgreeWithTransitionTables) {
  int compared = 0;
  for (const std::filesystem::path& zone : InstalledZones()) {
    const std::string data =
        ReadBytes(std::string(kZoneinfo) + "/" + zone.string());
    const size_t start = data.rfind('\n', data.size() - 2);
    const std::string footer = data.substr(start + 1, data.size() - start - 2);
    if (footer.find(',') == std::string::npos) continue;
    Result<TimeZone> rule = TimeZone::FromPosixRule(footer);
    Result<TimeZone> table = TimeZone::Load(zone.string());
    if (!rule.ok() || !table.ok()) continue;
    ++compared;
    for (int64_t t = Utc(2030, 1, 1); t < Utc(2032, 1, 1); t += 3600) {
      ASSERT_EQ(rule->OffsetAt(t), table->OffsetAt(t)) << zone << " at " << t;
    }
  }
  EXPECT_GT(compared, 50);
}

}  // namespace
}  // namespace corefork
