#include "admin/json_lite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace corefork {
namespace {

TEST(HttpLiteJsonTest, Writer) {
  JsonWriter json;
  json.BeginObject();
  json.Key("s").String("a\"b\\c\n\x01");
  json.Key("i").Int(-3);
  json.Key("u").Uint(18446744073709551615u);
  json.Key("d").Double(0.25);
  json.Key("whole").Double(2);
  json.Key("nan").Double(std::nan(""));
  json.Key("inf").Double(std::numeric_limits<double>::infinity());
  json.Key("b").Bool(false);
  json.Key("none").Optional(std::optional<int>(), &JsonWriter::Int);
  json.Key("some").Optional(std::optional<int>(7), &JsonWriter::Int);
  json.Key("list").BeginArray().Int(1).String("x").BeginObject().EndObject();
  json.EndArray();
  json.Key("empty").BeginArray().EndArray();
  json.EndObject();
  EXPECT_EQ(json.str(),
            R"({"s":"a\"b\\c\n\u0001","i":-3,"u":18446744073709551615,)"
            R"("d":0.25,"whole":2,"nan":null,"inf":null,"b":false,)"
            R"("none":null,"some":7,"list":[1,"x",{}],"empty":[]})");
}

TEST(HttpLiteJsonTest, StringsBecomeValidUtf8) {
  struct Case {
    std::string name, in, out;
  };
  const std::vector<Case> cases = {
      {"ascii", "abc", "abc"},
      {"two-byte", "\xC3\xA9", "\xC3\xA9"},
      {"four-byte", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
      {"stray continuation byte", "a\x80z", "a\xEF\xBF\xBDz"},
      {"truncated sequence", "a\xE2\x82", "a\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"overlong slash", "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"encoded surrogate", "\xED\xA0\x80",
       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
  };
  for (const Case& c : cases) EXPECT_EQ(JsonString(c.in), c.out) << c.name;
}

TEST(HttpLiteJsonTest, FlatObjects) {
  using Type = JsonScalar::Type;
  auto parsed = ParseFlatJsonObject(
      R"( { "workers" : 3, "name":"a\"\u00e9\ud83d\ude00", "on":true,)"
      R"( "off":false, "x":null, "f":-1.5e+3 } )");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->at("workers").type, Type::kNumber);
  EXPECT_EQ(parsed->at("workers").text, "3");
  EXPECT_EQ(parsed->at("name").text, "a\"\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_TRUE(parsed->at("on").boolean);
  EXPECT_EQ(parsed->at("off").type, Type::kBool);
  EXPECT_FALSE(parsed->at("off").boolean);
  EXPECT_EQ(parsed->at("x").type, Type::kNull);
  EXPECT_EQ(parsed->at("f").text, "-1.5e+3");
  EXPECT_TRUE(ParseFlatJsonObject("{}").ok());
}

TEST(HttpLiteJsonTest, Errors) {
  struct Case {
    std::string name, in, message;
  };
  const std::vector<Case> cases = {
      {"empty", "", "expected '{' at offset 0"},
      {"array", "[1]", "expected '{' at offset 0"},
      {"missing colon", R"({"a" 1})", "expected ':' at offset 5"},
      {"trailing comma", R"({"a":1,})", "expected a string at offset 7"},
      {"unquoted key", "{a:1}", "expected a string at offset 1"},
      {"nested", R"({"a":{"b":1}})", "nested objects and arrays"},
      {"duplicate", R"({"a":1,"a":2})", "duplicate key \"a\" at offset 7"},
      {"garbage after", R"({"a":1} x)", "unexpected text after the object"},
      {"leading zero", R"({"a":01})", "expected ',' or '}' at offset 6"},
      {"bare minus", R"({"a":-})", "expected a value"},
      {"bad literal", R"({"a":tru})", "expected a value"},
      {"unterminated string", R"({"a":"x)", "unterminated string"},
      {"raw newline in string", "{\"a\":\"x\ny\"}", "control character"},
      {"bad escape", R"({"a":"\q"})", "bad escape"},
      {"lone surrogate", R"({"a":"\ud800x"})", "lone surrogate"},
      {"fraction without digits", R"({"a":1.})", "expected a digit"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseFlatJsonObject(c.in);
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.name << ": " << parsed.status().message();
  }
}

}  // namespace
}  // namespace corefork
