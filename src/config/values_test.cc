#include "config/values.h"

#include <gtest/gtest.h>

#include <climits>
#include <csignal>

namespace corefork {
namespace {

TEST(ValuesTest, ParseDurationAcceptsUnitsAndBareSeconds) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {
      {"250ms", 250},
      {"1.5s", 1500},
      {"2m", 120'000},
      {"1h", 3'600'000},
      {"30", 30'000},
      {"0", 0},
      {"0.5", 500},
      {".25s", 250},
      {"0ms", 0},
      {"1.0006s", 1001},
      {"8760h", 31'536'000'000},
      {"525600m", 31'536'000'000},
      {"31536000", 31'536'000'000},
  };
  for (const Case& c : cases) {
    Result<Duration> d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().message();
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(ValuesTest, ParseDurationRejectsJunk) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"", "expected a duration like 250ms, 1.5s, 2m or 1h, got \"\""},
      {"-1s", "expected a duration >= 0, got \"-1s\""},
      {"5 s", "expected a duration like 250ms, 1.5s, 2m or 1h, got \"5 s\""},
      {"5d", "expected a duration like 250ms, 1.5s, 2m or 1h, got \"5d\""},
      {"s", "expected a duration like 250ms, 1.5s, 2m or 1h, got \"s\""},
      {"inf", "expected a duration like 250ms, 1.5s, 2m or 1h, got \"inf\""},
      {"1e3s", "expected a duration like 250ms, 1.5s, 2m or 1h, got \"1e3s\""},
      {"1h30m",
       "expected a duration like 250ms, 1.5s, 2m or 1h, got \"1h30m\""},
      // Past a year: the nanosecond deadlines built from these overflowed
      // (a job fired continuously, shutdown SIGKILLed at once).
      {"99999999999999h",
       "expected a duration up to 8760h, got \"99999999999999h\""},
      {"9999999h", "expected a duration up to 8760h, got \"9999999h\""},
      {"8760.001h", "expected a duration up to 8760h, got \"8760.001h\""},
      {"8761h", "expected a duration up to 8760h, got \"8761h\""},
      {"31536001", "expected a duration up to 8760h, got \"31536001\""},
      {"100000h", "expected a duration up to 8760h, got \"100000h\""},
      {"1000000000000000000000000000000000000000000000000000000000000s",
       "expected a duration up to 8760h, got "
       "\"100000000000000000000000000000000000000000000000000000000000...\""},
  };
  for (const Case& c : cases) {
    Result<Duration> d = ParseDuration(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.status().message(), c.message) << c.text;
  }
}

TEST(ValuesTest, ParseDurationTakesATighterMaximum) {
  EXPECT_TRUE(ParseDuration("90s", std::chrono::seconds(90)).ok());
  Result<Duration> d = ParseDuration("91s", std::chrono::seconds(90));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "expected a duration up to 90s, got \"91s\"");
  d = ParseDuration("2h", std::chrono::minutes(90));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "expected a duration up to 90m, got \"2h\"");
  // The maximum plus anything is still far from overflowing nanoseconds,
  // even doubled 16 times (job retries).
  EXPECT_LT(std::chrono::nanoseconds(kMaxDuration).count(), INT64_MAX / 2);
}

TEST(ValuesTest, ParseSizeAcceptsKubernetesQuantities) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"1048576", 1048576},
      {"1k", 1000},
      {"1Ki", 1024},
      {"512Mi", 512ULL << 20},
      {"2G", 2'000'000'000},
      {"1.5Gi", 3ULL << 29},
      {"2T", 2'000'000'000'000},
      {"4Ti", 4ULL << 40},
      {"0.5k", 500},
      {"18446744073709551615", UINT64_MAX},
  };
  for (const Case& c : cases) {
    Result<uint64_t> size = ParseSize(c.text);
    ASSERT_TRUE(size.ok()) << c.text << ": " << size.status().message();
    EXPECT_EQ(*size, c.bytes) << c.text;
  }
}

TEST(ValuesTest, ParseSizeRejectsJunk) {
  const char* cases[] = {
      "",   "-1",   "1K",  "1KB",        "1mi",
      "Mi", "1 Mi", "1e9", "20000000Ti", "18446744073709551616"};
  for (const char* text : cases) {
    Result<uint64_t> size = ParseSize(text);
    ASSERT_FALSE(size.ok()) << text;
    EXPECT_EQ(size.status().message(),
              std::string("expected a size in bytes like 1073741824, 512Mi or "
                          "2G, got ") +
                  Quote(text))
        << text;
  }
}

TEST(ValuesTest, ParseSignalAcceptsNamesAndNumbers) {
  struct Case {
    const char* text;
    int signal;
  };
  const Case cases[] = {
      {"SIGTERM", SIGTERM},   {"TERM", SIGTERM},  {"15", SIGTERM},
      {"sigint", SIGINT},     {"Quit", SIGQUIT},  {"SIGUSR1", SIGUSR1},
      {"USR2", SIGUSR2},      {"SIGHUP", SIGHUP}, {"9", SIGKILL},
      {"SIGWINCH", SIGWINCH},
  };
  for (const Case& c : cases) {
    Result<int> s = ParseSignal(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.status().message();
    EXPECT_EQ(*s, c.signal) << c.text;
  }
}

TEST(ValuesTest, ParseSignalRejectsJunk) {
  const char* cases[] = {"", "SIG", "SIGFOO", "0", "-15", "65", "15x", "TERM "};
  for (const char* text : cases) {
    Result<int> s = ParseSignal(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().message(),
              std::string("expected a signal like SIGTERM, TERM or 15, got ") +
                  Quote(text))
        << text;
  }
}

TEST(ValuesTest, ParseWorkers) {
  struct Case {
    const char* text;
    bool ok;
    std::optional<int> count;
  };
  const Case cases[] = {
      {"auto", true, std::nullopt}, {"1", true, 1},     {"64", true, 64},
      {"0", false, std::nullopt},   {"-2", false, {}},  {"x", false, {}},
      {"AUTO", false, {}},          {"2.5", false, {}}, {"", false, {}},
      {"99999999999", false, {}},
  };
  for (const Case& c : cases) {
    Result<std::optional<int>> w = ParseWorkers(c.text);
    ASSERT_EQ(w.ok(), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(*w, c.count) << c.text;
    } else {
      EXPECT_EQ(
          w.status().message(),
          std::string("expected auto or an integer >= 1, got ") + Quote(c.text))
          << c.text;
    }
  }
}

TEST(ValuesTest, NumbersAndRanges) {
  struct Case {
    const char* name;
    Status status;
    const char* message;  // "" when OK
  };
  const Case cases[] = {
      {"int in range", ParseInt("5", 0, 10).status(), ""},
      {"int below", ParseInt("-3", 0, INT_MAX).status(),
       "expected an integer >= 0, got \"-3\""},
      {"int above", ParseInt("11", 0, 10).status(),
       "expected an integer 0..10, got \"11\""},
      {"int with plus", ParseInt("+1", 0, 10).status(),
       "expected an integer 0..10, got \"+1\""},
      {"number", ParseNumber("0.5", 0, true).status(), ""},
      {"number exponent", ParseNumber("2.5e1", 1, false).status(), ""},
      {"number zero exclusive", ParseNumber("0", 0, true).status(),
       "expected a number > 0, got \"0\""},
      {"number below", ParseNumber("0.9", 1, false).status(),
       "expected a number >= 1, got \"0.9\""},
      {"number nan", ParseNumber("nan", 0, true).status(),
       "expected a number > 0, got \"nan\""},
      {"number inf", ParseNumber("1e999", 0, true).status(),
       "expected a number > 0, got \"1e999\""},
      {"number at max", ParseNumber("1000000", 1, false).status(), ""},
      {"number huge", ParseNumber("1e300", 1, false).status(),
       "expected a number up to 1000000, got \"1e300\""},
      {"number custom max", ParseNumber("11", 0, true, 10).status(),
       "expected a number up to 10, got \"11\""},
      {"port", ParsePort("8080").status(), ""},
      {"port zero", ParsePort("0").status(),
       "expected a port number 1..65535, got \"0\""},
      {"port high", ParsePort("65536").status(),
       "expected a port number 1..65535, got \"65536\""},
      {"host", ParseHost("::").status(), ""},
      {"host empty", ParseHost("").status(),
       "expected a host name or IP address like 0.0.0.0, got \"\""},
      {"host space", ParseHost("a b").status(),
       "expected a host name or IP address like 0.0.0.0, got \"a b\""},
      {"log level", ParseLogLevel("warn").status(), ""},
      {"log level bad", ParseLogLevel("verbose").status(),
       "expected one of trace, debug, info, warn, error, critical, off, got "
       "\"verbose\""},
      {"log format bad", ParseLogFormat("xml").status(),
       "expected text or json, got \"xml\""},
      {"rounding bad", ParseRounding("up").status(),
       "expected floor, ceil or nearest, got \"up\""},
      {"mode bad", ParseShareMode("reuse").status(),
       "expected reuseport or shared, got \"reuse\""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.ok(), std::string(c.message).empty()) << c.name;
    EXPECT_EQ(c.status.message(), c.message) << c.name;
  }
}

TEST(ValuesTest, ParseHostPort) {
  struct Case {
    const char* text;
    bool ok;
    const char* host;
    int port;
  };
  const Case cases[] = {
      {"0.0.0.0:9180", true, "0.0.0.0", 9180},
      {"[::]:9180", true, "::", 9180},
      {"localhost:1", true, "localhost", 1},
      {"127.0.0.1:0", true, "127.0.0.1", 0},
      {"::1:9180", false, "", 0},
      {"9180", false, "", 0},
      {":9180", false, "", 0},
      {"0.0.0.0:", false, "", 0},
      {"0.0.0.0:70000", false, "", 0},
  };
  for (const Case& c : cases) {
    Result<HostPort> hp = ParseHostPort(c.text);
    ASSERT_EQ(hp.ok(), c.ok) << c.text;
    if (!c.ok) {
      EXPECT_EQ(hp.status().message(),
                std::string("expected ADDR:PORT like 0.0.0.0:9180 or "
                            "[::]:9180, got ") +
                    Quote(c.text))
          << c.text;
      continue;
    }
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port, c.port) << c.text;
  }
}

TEST(ValuesTest, QuoteEscapesAndShortens) {
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("tab\there"), "\"tab\\x09here\"");
  EXPECT_EQ(Quote(std::string(70, 'x')), "\"" + std::string(60, 'x') + "...\"");
}

}  // namespace
}  // namespace corefork
