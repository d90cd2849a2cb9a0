#include "util/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace corefork {
namespace {

TEST(JsonTest, DumpIsCompactAndKeepsOrder) {
  Json doc;
  doc["b"] = "x\"y\\z\n\t\x01";
  doc["a"] = {1, -2, true, nullptr};
  doc["n"] = JsonNumber(0.5);
  doc["o"] = Json::object();
  EXPECT_EQ(JsonDump(doc),
            R"({"b":"x\"y\\z\n\t\u0001","a":[1,-2,true,null],"n":0.5,)"
            R"("o":{}})");
}

TEST(JsonTest, NumbersAsCoreforkWritesThem) {
  struct Case {
    double in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {2.0, "2"},
      {0.0, "0"},
      {1.5, "1.5"},
      {12.346, "12.346"},
      {3600.25, "3600.25"},
      {-3.0, "-3"},
      {1e20, "1e+20"},
      {std::numeric_limits<double>::infinity(), "null"},
      {std::nan(""), "null"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(JsonDump(JsonNumber(c.in)), c.out) << c.in;
  }
  EXPECT_EQ(JsonDump(JsonOptional(std::optional<int>())), "null");
  EXPECT_EQ(JsonDump(JsonOptional(std::optional<uint64_t>(536870912))),
            "536870912");
}

TEST(JsonTest, InvalidUtf8BecomesReplacementCharacters) {
  struct Case {
    std::string name, in, out;
  };
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  const std::vector<Case> cases = {
      {"ascii", "abc", "abc"},
      {"two-byte", "\xC3\xA9", "\xC3\xA9"},
      {"four-byte", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
      {"stray continuation byte", "a\x80z", "a" + r + "z"},
      {"truncated sequence", "a\xE2\x82z", "a" + r + "z"},
      {"truncated at the end", "a\xE2\x82", "a" + r},
      {"overlong slash", "\xC0\xAF", r + r},
      {"encoded surrogate", "\xED\xA0\x80", r + r + r},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(JsonDump(c.in), "\"" + c.out + "\"") << c.name;
  }
}

TEST(JsonTest, Parses) {
  auto parsed = JsonParse(
      R"( { "workers" : 3, "name":"a\"\u00e9\ud83d\ude00", "on":true,)"
      R"( "off":false, "x":null, "f":-1.5e+3, "nested":{"a":[1]} } )");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE((*parsed)["workers"].is_number_integer());
  EXPECT_EQ((*parsed)["workers"].get<int>(), 3);
  EXPECT_EQ((*parsed)["name"].get<std::string>(),
            "a\"\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_TRUE((*parsed)["on"].get<bool>());
  EXPECT_TRUE((*parsed)["x"].is_null());
  EXPECT_EQ((*parsed)["f"].get<double>(), -1500.0);
  EXPECT_EQ((*parsed)["nested"]["a"][0], 1);
  EXPECT_TRUE(JsonParse("{}").ok());
}

TEST(JsonTest, ErrorsAreValuesThatSayWhere) {
  struct Case {
    std::string name, in, message;
  };
  const std::vector<Case> cases = {
      {"empty", "", "unexpected end of input"},
      {"missing colon", R"({"a" 1})", "expected ':' at offset 5"},
      {"trailing comma", R"({"a":1,})", "at offset 7"},
      {"unquoted key", "{a:1}", "at offset 1"},
      {"duplicate", R"({"a":1,"a":2})", "duplicate key \"a\""},
      {"duplicate nested", R"({"o":{"a":1,"a":2}})", "duplicate key \"a\""},
      {"garbage after", R"({"a":1} x)", "at offset 8"},
      {"leading zero", R"({"a":01})", "at offset"},
      {"bare minus", R"({"a":-})", "at offset"},
      {"bad literal", R"({"a":tru})", "at offset"},
      {"unterminated string", R"({"a":"x)", "at offset"},
      {"raw newline in string", "{\"a\":\"x\ny\"}", "control character"},
      {"bad escape", R"({"a":"\q"})", "at offset"},
      {"lone surrogate", R"({"a":"\ud800x"})", "surrogate"},
      {"invalid UTF-8", "{\"a\":\"\xFF\"}", "UTF-8"},
      {"fraction without digits", R"({"a":1.})", "at offset"},
  };
  for (const Case& c : cases) {
    auto parsed = JsonParse(c.in);
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_TRUE(parsed.status().IsInvalidArgument()) << c.name;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.name << ": " << parsed.status().message();
  }
}

TEST(JsonTest, RefusesTextsOverTheLimitUnread) {
  EXPECT_TRUE(JsonParse("[1,2]", 5).ok());
  auto parsed = JsonParse("[1,2] ", 5);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("over the limit of 5"),
            std::string::npos)
      << parsed.status().message();
}

// Dumping recurses once per level: a value nested 400,000 deep (800 KB of
// text) overflowed the stack in JsonDump before parsing refused it.
TEST(JsonTest, DeepNestingIsRefusedNeverACrash) {
  std::string unclosed(100000, '[');
  EXPECT_FALSE(JsonParse(unclosed).ok());
  const std::string deep = std::string(400000, '[') + std::string(400000, ']');
  auto parsed = JsonParse(deep, deep.size());
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "nested deeper than 128 levels");
  std::string nested_objects;
  for (int i = 0; i < 129; ++i) nested_objects += "{\"a\":";
  nested_objects += "1" + std::string(129, '}');
  EXPECT_FALSE(JsonParse(nested_objects).ok());
  const std::string limit =
      std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  auto ok = JsonParse(limit);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(JsonDump(*ok), limit);
}

}  // namespace
}  // namespace corefork
