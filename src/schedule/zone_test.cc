#include "schedule/zone.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace corefork {
namespace {

namespace fs = std::filesystem;

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

// Europe/Berlin's bytes with the POSIX footer line replaced. Its table ends
// in 2037; later offsets come from the footer.
std::string BerlinWithFooter(const std::string& footer) {
  std::string data = ReadBytes(std::string(kZoneinfo) + "/Europe/Berlin");
  const size_t start = data.rfind('\n', data.size() - 2);
  return data.substr(0, start) + "\n" + footer + "\n";
}

// A private zoneinfo directory for fixtures. cctz caches every zone by path
// for the life of the process, so each fixture gets a name of its own.
class ZoneFiles {
 public:
  ZoneFiles()
      : dir_(fs::path(testing::TempDir()) /
             ("zone_test_" + std::to_string(getpid()))) {
    fs::create_directories(dir_);
  }
  ~ZoneFiles() { fs::remove_all(dir_); }
  const std::string dir() const { return dir_.string(); }
  // Writes `data` under a fresh name and returns the name.
  std::string Add(const std::string& data) {
    static int next = 0;  // process-wide: cctz's cache is
    const std::string name = "Fixture/" + std::to_string(next++);
    fs::create_directories(dir_ / "Fixture");
    std::ofstream(dir_ / name, std::ios::binary) << data;
    return name;
  }
  Result<TimeZone> Load(const std::string& data) {
    return TimeZone::Load(Add(data), dir());
  }

 private:
  fs::path dir_;
};

TEST(ZoneTest, CalendarHelpersRoundTrip) {
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

TEST(ZoneTest, UtcNeedsNoFile) {
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
  EXPECT_EQ(TimeZone().name(), "UTC");
}

TEST(ZoneTest, OffsetsOfInstalledZones) {
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
    EXPECT_EQ(tz->name(), c.zone);
    EXPECT_EQ(tz->OffsetAt(c.at), c.offset) << c.name;
  }
}

TEST(ZoneTest, FirstInstantAtSkipsGapsAndTakesFirstOfFolds) {
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
      {"Europe/Berlin", Utc(2024, 3, 31, 2), std::nullopt, "gap start"},
      {"Europe/Berlin", Utc(2024, 3, 31, 2, 30), std::nullopt, "in gap"},
      {"Europe/Berlin", Utc(2024, 3, 31, 3), Utc(2024, 3, 31, 1), "after"},
      {"Europe/Berlin", Utc(2024, 10, 27, 2), Utc(2024, 10, 27, 0),
       "fold start: CEST first"},
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

TEST(ZoneTest, LoadRejectsBadNamesAndMissingZones) {
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
       "timezone \"zone.tab\": /usr/share/zoneinfo/zone.tab: not a valid "
       "TZif file (leap-second right/ zones are not supported either)"},
      {"right/UTC",
       "timezone \"right/UTC\": /usr/share/zoneinfo/right/UTC: not a valid "
       "TZif file (leap-second right/ zones are not supported either)"},
      // POSIX TZ strings are not zone names (cctz reads them only as the
      // footer of a TZif file).
      {"CET-1CEST,M3.5.0,M10.5.0/3",
       "unknown timezone \"CET-1CEST,M3.5.0,M10.5.0/3\": "
       "/usr/share/zoneinfo/CET-1CEST,M3.5.0,M10.5.0/3: No such file or "
       "directory"},
  };
  for (const Case& c : cases) {
    Result<TimeZone> tz = TimeZone::Load(c.zone, kZoneinfo);
    ASSERT_FALSE(tz.ok()) << c.zone;
    EXPECT_EQ(tz.status().message(), c.message) << c.zone;
  }
}

TEST(ZoneTest, TzdirChangesTheDefaultDirectory) {
  ZoneFiles files;
  const std::string name =
      files.Add(ReadBytes(std::string(kZoneinfo) + "/Asia/Kolkata"));
  ASSERT_EQ(setenv("TZDIR", files.dir().c_str(), 1), 0);
  EXPECT_EQ(TimeZone::DefaultZoneinfoDir(), files.dir());
  Result<TimeZone> tz = TimeZone::Load(name);
  Result<TimeZone> berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_EQ(setenv("TZDIR", "", 1), 0);
  EXPECT_EQ(TimeZone::DefaultZoneinfoDir(), kZoneinfo);
  ASSERT_EQ(unsetenv("TZDIR"), 0);
  EXPECT_EQ(TimeZone::DefaultZoneinfoDir(), kZoneinfo);
  ASSERT_TRUE(tz.ok()) << tz.status().message();
  EXPECT_EQ(tz->OffsetAt(Utc(2024, 1, 1)), 19800);
  ASSERT_FALSE(berlin.ok());
  EXPECT_EQ(berlin.status().message(),
            "unknown timezone \"Europe/Berlin\": " + files.dir() +
                "/Europe/Berlin: No such file or directory");
}

TEST(ZoneTest, FifosAndHugeFilesAreRefusedWithoutReadingThem) {
  ZoneFiles files;
  const std::string fifo = files.Add("");
  ASSERT_EQ(unlink((files.dir() + "/" + fifo).c_str()), 0);
  ASSERT_EQ(mkfifo((files.dir() + "/" + fifo).c_str(), 0600), 0);
  Result<TimeZone> tz = TimeZone::Load(fifo, files.dir());  // must not block
  ASSERT_FALSE(tz.ok());
  EXPECT_EQ(tz.status().message(), "timezone \"" + fifo + "\": " + files.dir() +
                                       "/" + fifo + ": not a file");
  const std::string huge = files.Add(std::string((1 << 20) + 1, 'x'));
  tz = TimeZone::Load(huge, files.dir());
  ASSERT_FALSE(tz.ok());
  EXPECT_EQ(tz.status().message(), "timezone \"" + huge + "\": " + files.dir() +
                                       "/" + huge +
                                       ": larger than 1 MiB, not a TZif file");
}

TEST(ZoneTest, GarbageIsAnErrorNotACrash) {
  std::string huge_counts = ReadBytes(std::string(kZoneinfo) + "/UTC");
  huge_counts.replace(32, 4, "\xff\xff\xff\xff");  // timecnt
  std::string no_types = ReadBytes(std::string(kZoneinfo) + "/UTC");
  no_types[4] = 0;  // v1 only, so the edited counts are the ones used
  no_types.replace(36, 4, std::string(4, '\0'));  // typecnt
  const std::string cases[] = {
      "", "hello", std::string(64, 'x'), "TZif2 garbage", huge_counts, no_types,
  };
  ZoneFiles files;
  for (const std::string& data : cases) {
    const std::string name = files.Add(data);
    Result<TimeZone> tz = TimeZone::Load(name, files.dir());
    ASSERT_FALSE(tz.ok()) << name;
    EXPECT_EQ(tz.status().message(),
              "timezone \"" + name + "\": " + files.dir() + "/" + name +
                  ": not a valid TZif file (leap-second right/ zones are not "
                  "supported either)");
  }
}

// Unlike the table, a footer cctz cannot parse does not refuse the file:
// cctz logs "<path>: Failed to parse '<footer>'" to std::clog and keeps the
// last transition's offset after the table ends (2037 for Berlin). Real
// tzdata has no such footers (every installed zone's parses).
TEST(ZoneTest, UnparsableFooterKeepsTheLastTransitionsOffset) {
  ZoneFiles files;
  for (const char* footer : {"nonsense", "CET-1CEST,M3.5.0,M13.5.0"}) {
    Result<TimeZone> tz = files.Load(BerlinWithFooter(footer));
    ASSERT_TRUE(tz.ok()) << footer << ": " << tz.status().message();
    EXPECT_EQ(tz->OffsetAt(Utc(2024, 7, 15)), 7200) << footer;
    EXPECT_EQ(tz->OffsetAt(Utc(2045, 7, 15)), 3600) << footer;
  }
}

// Every proper prefix of a real file is refused (a footer missing its
// closing newline included).
TEST(ZoneTest, TruncatedFilesAreRefused) {
  const std::string data = ReadBytes(std::string(kZoneinfo) + "/Europe/Berlin");
  ASSERT_GT(data.size(), 1000u);
  ZoneFiles files;
  ASSERT_TRUE(files.Load(data).ok());
  for (size_t size = 0; size < data.size(); ++size) {
    EXPECT_FALSE(files.Load(data.substr(0, size)).ok())
        << "cut to " << size << " bytes";
  }
}

TEST(ZoneTest, VersionOneFileUsesThirtyTwoBitData) {
  std::string data = ReadBytes(std::string(kZoneinfo) + "/Europe/Berlin");
  data = data.substr(0, VersionOneSize(data));
  data[4] = '\0';
  ZoneFiles files;
  Result<TimeZone> tz = files.Load(data);
  ASSERT_TRUE(tz.ok()) << tz.status().message();
  EXPECT_EQ(tz->OffsetAt(Utc(2024, 1, 15)), 3600);
  EXPECT_EQ(tz->OffsetAt(Utc(2024, 7, 15)), 7200);
}

// Footer rules in every POSIX date form: Mm.w.d, Jn (1-365, 29 February
// never counted) and n (0-365, zero-based, counting it). Berlin's table ends
// in 2037, so 2045 is the footer's alone.
TEST(ZoneTest, FooterRulesInEveryDateForm) {
  struct Case {
    const char* footer;
    int64_t at;
    int64_t offset;
  };
  const Case cases[] = {
      {"CET-1CEST,M3.5.0,M10.5.0/3", Utc(2045, 3, 26, 0, 59, 59), 3600},
      {"CET-1CEST,M3.5.0,M10.5.0/3", Utc(2045, 3, 26, 1), 7200},
      {"CET-1CEST,M3.5.0,M10.5.0/3", Utc(2045, 10, 29, 1), 3600},
      // J60 is 1 March, J300 27 October, in any year.
      {"CET-1CEST,J60,J300", Utc(2045, 3, 1, 0, 59, 59), 3600},
      {"CET-1CEST,J60,J300", Utc(2045, 3, 1, 1), 7200},
      {"CET-1CEST,J60,J300", Utc(2045, 10, 26, 23, 59, 59), 7200},
      {"CET-1CEST,J60,J300", Utc(2045, 10, 27), 3600},
      {"CET-1CEST,J60,J300", Utc(2048, 3, 1, 1), 7200},  // leap year
      {"CET-1CEST,J60,J300", Utc(2048, 2, 29, 12), 3600},
      // n counts from 0 and counts 29 February: 59 is 29 Feb in 2048.
      {"CET-1CEST,59,299", Utc(2045, 3, 1, 1), 7200},
      {"CET-1CEST,59,299", Utc(2048, 2, 29, 1), 7200},
      {"CET-1CEST,59,299", Utc(2048, 2, 28, 12), 3600},
      {"CET-1CEST,J60/0,J300/25", Utc(2045, 2, 28, 23), 7200},  // /time
      {"CET-1CEST,J60/0,J300/25", Utc(2045, 10, 27, 22, 59), 7200},
      {"CET-1CEST,J60/0,J300/25", Utc(2045, 10, 27, 23), 3600},
      {"CET-1", Utc(2045, 7, 1), 3600},
  };
  ZoneFiles files;
  for (const Case& c : cases) {
    Result<TimeZone> tz = files.Load(BerlinWithFooter(c.footer));
    ASSERT_TRUE(tz.ok()) << c.footer << ": " << tz.status().message();
    EXPECT_EQ(tz->OffsetAt(c.at), c.offset) << c.footer << " at " << c.at;
  }
}

TEST(ZoneTest, JulianRuleGapsAndFolds) {
  ZoneFiles files;
  Result<TimeZone> tz = files.Load(BerlinWithFooter("CET-1CEST,J60,J300"));
  ASSERT_TRUE(tz.ok()) << tz.status().message();
  // 02:00 CET on 1 March jumps to 03:00 CEST...
  EXPECT_EQ(tz->FirstInstantAt(Utc(2045, 3, 1, 2, 30)), std::nullopt);
  EXPECT_EQ(tz->FirstInstantAt(Utc(2045, 3, 1, 3)), Utc(2045, 3, 1, 1));
  // ...and 02:00 CEST on 27 October back to 01:00 CET: 01:30 twice.
  EXPECT_EQ(tz->FirstInstantAt(Utc(2045, 10, 27, 1, 30)),
            Utc(2045, 10, 26, 23, 30));
  EXPECT_EQ(tz->FirstInstantAt(Utc(2045, 10, 27, 2, 30)),
            Utc(2045, 10, 27, 1, 30));
  // The real rule's days are ordinary there.
  EXPECT_EQ(tz->FirstInstantAt(Utc(2045, 3, 26, 2, 30)),
            Utc(2045, 3, 26, 0, 30));
}

TEST(ZoneTest, EqualityIsByNameAndZone) {
  Result<TimeZone> a = TimeZone::Load("Europe/Berlin");
  Result<TimeZone> b = TimeZone::Load("Europe/Berlin");
  Result<TimeZone> c = TimeZone::Load("Europe/Paris");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(*a == *b);
  EXPECT_FALSE(*a == *c);
  EXPECT_TRUE(*TimeZone::Load("UTC") == TimeZone());
  EXPECT_FALSE(*TimeZone::Load("Etc/UTC") == TimeZone());  // names differ
}

// Walks the installed tzdata (minus the posix/ and right/ copies).
std::vector<fs::path> InstalledZones() {
  std::vector<fs::path> zones;
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

TEST(ZoneTest, EveryInstalledZoneLoads) {
  const std::vector<fs::path> zones = InstalledZones();
  EXPECT_GT(zones.size(), 300u);
  for (const fs::path& zone : zones) {
    Result<TimeZone> tz = TimeZone::Load(zone.string());
    EXPECT_TRUE(tz.ok()) << zone << ": " << tz.status().message();
  }
}

}  // namespace
}  // namespace corefork
