#include "jobs/pool_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.h"

namespace corefork {
namespace {

// The request line parsed back, checking it is one line.
Json DecodeRequest(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  Result<Json> parsed = JsonParse(line);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message() << " in " << line;
  return parsed.ok() ? *parsed : Json();
}

TEST(PoolProtocolTest, EncodesAStringBody) {
  EXPECT_EQ(EncodeRequest(7, "hello", false),
            "{\"id\":7,\"input\":\"hello\"}\n");
  EXPECT_EQ(EncodeRequest(0, "", false), "{\"id\":0,\"input\":\"\"}\n");
  // JSON text without the JSON flag is still just a string.
  EXPECT_EQ(EncodeRequest(1, "{\"n\":30}", false),
            "{\"id\":1,\"input\":\"{\\\"n\\\":30}\"}\n");
}

TEST(PoolProtocolTest, EncodesAJsonBodyAsItsValue) {
  EXPECT_EQ(EncodeRequest(7, "{\"n\":30}", true),
            "{\"id\":7,\"input\":{\"n\":30}}\n");
  EXPECT_EQ(EncodeRequest(8, " [1, 2.5, null] ", true),
            "{\"id\":8,\"input\":[1,2.5,null]}\n");
  EXPECT_EQ(EncodeRequest(9, "42", true), "{\"id\":9,\"input\":42}\n");
  EXPECT_EQ(EncodeRequest(10, "\"s\"", true), "{\"id\":10,\"input\":\"s\"}\n");
  // Pretty-printed JSON is sent compact, on one line.
  EXPECT_EQ(EncodeRequest(11, "{\n  \"a\": [\n    1\n  ]\n}\n", true),
            "{\"id\":11,\"input\":{\"a\":[1]}}\n");
  EXPECT_EQ(EncodeRequest(18446744073709551615u, "{}", true),
            "{\"id\":18446744073709551615,\"input\":{}}\n");
}

TEST(PoolProtocolTest, ABodyThatClaimsJsonButDoesNotParseGoesAsAString) {
  const std::vector<std::string> bodies = {
      "", "{", "{\"n\":30} trailing", "{\"a\":1,\"a\":2}", "not json", "\n"};
  for (const std::string& body : bodies) {
    Json request = DecodeRequest(EncodeRequest(3, body, true));
    EXPECT_EQ(request["id"], 3) << body;
    EXPECT_EQ(request["input"], body) << body;
  }
}

TEST(PoolProtocolTest, NoRawNewlineInsideTheLine) {
  const std::string bodies[] = {
      "line one\nline two\n",          "\r\n\r\n",
      std::string("nul\0byte", 8),     "tab\tbell\x07 esc\x1b del\x7f",
      "\xe2\x80\xa8 and \xe2\x80\xa9",  // U+2028, U+2029
  };
  for (const std::string& body : bodies) {
    const std::string line = EncodeRequest(5, body, false);
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_EQ(DecodeRequest(line)["input"], body);
  }
  // A JSON string value with escaped newlines stays escaped.
  const std::string line = EncodeRequest(6, "{\"text\":\"a\\nb\"}", true);
  EXPECT_EQ(DecodeRequest(line)["input"]["text"], "a\nb");
}

TEST(PoolProtocolTest, UnicodeRoundTrips) {
  const std::string body =
      "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80";
  const std::string line = EncodeRequest(2, body, false);
  // Sent as UTF-8, not \u escapes.
  EXPECT_NE(line.find(body), std::string::npos) << line;
  EXPECT_EQ(DecodeRequest(line)["input"], body);
  const std::string json_line =
      EncodeRequest(2, "{\"k\":\"\\u00e9\xc3\xa9\"}", true);
  EXPECT_EQ(DecodeRequest(json_line)["input"]["k"], "\xc3\xa9\xc3\xa9");
}

TEST(PoolProtocolTest, InvalidUtf8InAStringBodyBecomesReplacementCharacters) {
  const std::string line = EncodeRequest(4,
                                         "a\xff"
                                         "b",
                                         false);
  EXPECT_EQ(DecodeRequest(line)["input"],
            "a\xef\xbf\xbd"
            "b");
}

TEST(PoolProtocolTest, ParsesAnswers) {
  struct Case {
    std::string name;
    std::string line;
    uint64_t id;
    std::string output;
    std::optional<std::string> error;
  };
  const std::vector<Case> cases = {
      {"string output", R"({"id":1,"output":"832040"})", 1, "832040", {}},
      {"object output",
       R"({"id":2,"output":{"a":[1,"x"]}})",
       2,
       R"({"a":[1,"x"]})",
       {}},
      {"number output", R"({"id":3,"output":42})", 3, "42", {}},
      {"float output", R"({"id":3,"output":2.5})", 3, "2.5", {}},
      {"null output", R"({"id":4,"output":null})", 4, "null", {}},
      {"bool output", R"({"id":4,"output":false})", 4, "false", {}},
      {"empty string", R"({"id":5,"output":""})", 5, "", {}},
      {"escapes unwrapped",
       R"({"id":6,"output":"a\nb\u00e9\"q"})",
       6,
       "a\nb\xc3\xa9\"q",
       {}},
      {"error only", R"({"id":7,"error":"boom"})", 7, "", "boom"},
      {"output and error", R"({"id":8,"output":"part","error":"bad"})", 8,
       "part", "bad"},
      {"null error", R"({"id":9,"output":"ok","error":null})", 9, "ok", {}},
      {"keys in any order, extra keys",
       R"({"x":1,"output":"o","id":10})",
       10,
       "o",
       {}},
      {"whitespace and CR", " {\"id\" : 11, \"output\" : 1 } \r", 11, "1", {}},
      {"largest id",
       R"({"id":18446744073709551615,"output":1})",
       18446744073709551615u,
       "1",
       {}},
      {"id zero", R"({"id":0,"output":1})", 0, "1", {}},
  };
  for (const Case& c : cases) {
    Result<PoolAnswer> answer = ParseAnswer(c.line);
    ASSERT_TRUE(answer.ok()) << c.name << ": " << answer.status().message();
    EXPECT_EQ(answer->id, c.id) << c.name;
    EXPECT_EQ(answer->output, c.output) << c.name;
    EXPECT_EQ(answer->error, c.error) << c.name;
  }
}

TEST(PoolProtocolTest, RefusesMalformedAnswers) {
  struct Case {
    std::string name;
    std::string line;
    std::string message;  // a part of the error's message
  };
  const std::vector<Case> cases = {
      {"empty line", "", "malformed pool answer"},
      {"not JSON", "832040x", "malformed pool answer"},
      {"truncated", R"({"id":1,"output":"ab)", "malformed pool answer"},
      {"trailing garbage", R"({"id":1,"output":1} x)", "malformed"},
      {"two answers on a line", R"({"id":1,"output":1}{"id":2,"output":2})",
       "malformed"},
      {"duplicate key", R"({"id":1,"id":2,"output":1})", "duplicate key"},
      {"invalid UTF-8", "{\"id\":1,\"output\":\"\xff\"}", "malformed"},
      {"array", R"([1,"x"])", "not a JSON object"},
      {"string", R"("output")", "not a JSON object"},
      {"missing id", R"({"output":1})", "no \"id\""},
      {"negative id", R"({"id":-1,"output":1})", "\"id\" is negative"},
      {"fractional id", R"({"id":1.5,"output":1})", "not a non-negative"},
      {"float id", R"({"id":1.0,"output":1})", "not a non-negative"},
      {"id over 64 bits", R"({"id":18446744073709551616,"output":1})",
       "not a non-negative"},
      {"string id", R"({"id":"1","output":1})", "not a non-negative"},
      {"null id", R"({"id":null,"output":1})", "not a non-negative"},
      {"no output nor error", R"({"id":1})", "neither"},
      {"null error only", R"({"id":1,"error":null})", "neither"},
      {"error is a number", R"({"id":1,"error":500})", "not a string"},
      {"error is an object", R"({"id":1,"output":1,"error":{"m":"x"}})",
       "not a string"},
  };
  for (const Case& c : cases) {
    Result<PoolAnswer> answer = ParseAnswer(c.line);
    ASSERT_FALSE(answer.ok()) << c.name;
    EXPECT_TRUE(answer.status().IsInvalidArgument()) << c.name;
    EXPECT_NE(answer.status().message().find(c.message), std::string::npos)
        << c.name << ": " << answer.status().message();
  }
}

TEST(PoolProtocolTest, RequestsRoundTripThroughAnEchoingWorker) {
  // What a worker that answers {"id", "output": input} sends back.
  const std::string bodies[] = {"plain", "multi\nline\n", "{\"n\":30}",
                                "\xe2\x82\xac\x01"};
  uint64_t id = 100;
  for (const std::string& body : bodies) {
    for (bool is_json : {false, true}) {
      Json request = DecodeRequest(EncodeRequest(id, body, is_json));
      Json echo = {{"id", request["id"]}, {"output", request["input"]}};
      Result<PoolAnswer> answer = ParseAnswer(JsonDump(echo));
      ASSERT_TRUE(answer.ok()) << answer.status().message();
      EXPECT_EQ(answer->id, id);
      // A JSON body comes back as its (compact) JSON text: the same here.
      EXPECT_EQ(answer->output, body) << body << " json " << is_json;
      ++id;
    }
  }
}

TEST(PoolProtocolReaderTest, JoinsAnAnswerSplitAcrossManyFeeds) {
  PoolAnswerReader reader;
  const std::string line = R"({"id":12,"output":{"text":"a\nb"}})"
                           "\n";
  std::vector<PoolAnswer> answers;
  for (char byte : line) {
    ASSERT_TRUE(reader.Feed(std::string_view(&byte, 1), &answers).ok());
    if (byte != '\n') {
      EXPECT_TRUE(answers.empty());
    }
  }
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].id, 12u);
  EXPECT_EQ(answers[0].output, R"({"text":"a\nb"})");
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(PoolProtocolReaderTest, ReadsSeveralAnswersInOneFeed) {
  PoolAnswerReader reader;
  std::vector<PoolAnswer> answers;
  ASSERT_TRUE(reader
                  .Feed("{\"id\":1,\"output\":\"a\"}\n{\"id\":2,\"error\":"
                        "\"e\"}\n{\"id\":3,\"output\":3}\n{\"id\":4,",
                        &answers)
                  .ok());
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].id, 1u);
  EXPECT_EQ(answers[0].output, "a");
  EXPECT_EQ(answers[1].id, 2u);
  EXPECT_EQ(answers[1].error, "e");
  EXPECT_EQ(answers[2].output, "3");
  // The unfinished fourth waits for its end.
  EXPECT_EQ(reader.buffered(), 8u);  // {"id":4,
  ASSERT_TRUE(reader.Feed("\"output\":4}\n", &answers).ok());
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[3].id, 4u);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(PoolProtocolReaderTest, AMalformedAnswerEndsTheProtocol) {
  PoolAnswerReader reader;
  std::vector<PoolAnswer> answers;
  Status status = reader.Feed(
      "{\"id\":1,\"output\":1}\nnot json\n{\"id\":2,\"output\":2}\n", &answers);
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("malformed pool answer"), std::string::npos)
      << status.message();
  // The answer before the bad line counts; nothing after it is read.
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].id, 1u);
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_FALSE(reader.status().ok());
  // Later bytes are not read: the process is to be killed.
  Status again = reader.Feed("{\"id\":3,\"output\":3}\n", &answers);
  EXPECT_EQ(again.message(), status.message());
  EXPECT_EQ(answers.size(), 1u);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(PoolProtocolReaderTest, AnEmptyLineIsMalformed) {
  PoolAnswerReader reader;
  std::vector<PoolAnswer> answers;
  EXPECT_TRUE(reader.Feed("\n", &answers).IsInvalidArgument());
}

TEST(PoolProtocolReaderTest, ALineOfExactlyTheLimitIsRead) {
  const std::string line = R"({"id":1,"output":"xxxx"})";
  PoolAnswerReader reader(line.size());
  std::vector<PoolAnswer> answers;
  ASSERT_TRUE(reader.Feed(line + "\n", &answers).ok());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].output, "xxxx");

  PoolAnswerReader tighter(line.size() - 1);
  EXPECT_FALSE(tighter.Feed(line + "\n", &answers).ok());
  EXPECT_EQ(answers.size(), 1u);
}

TEST(PoolProtocolReaderTest, ALineOverTheLimitFailsWithBoundedMemory) {
  constexpr size_t kLimit = 1 << 20;    // 1 MiB
  constexpr size_t kChunk = 64 * 1024;  // what the loop reads per turn
  PoolAnswerReader reader(kLimit);
  ASSERT_EQ(reader.max_line(), kLimit);
  // A good answer, then a 2 MiB one: {"id":2,"output":"xxx...x"}
  std::string stream = "{\"id\":1,\"output\":\"ok\"}\n{\"id\":2,\"output\":\"";
  stream.append(2 * kLimit, 'x');
  stream += "\"}\n";

  std::vector<PoolAnswer> answers;
  Status status;
  size_t fed = 0;
  size_t feeds_after_error = 0;
  while (fed < stream.size()) {
    const size_t n = std::min(kChunk, stream.size() - fed);
    Status s = reader.Feed(std::string_view(stream).substr(fed, n), &answers);
    fed += n;
    EXPECT_LE(reader.buffered(), kLimit);
    EXPECT_LE(reader.buffered(), kLimit + kChunk);
    if (!s.ok()) {
      if (status.ok()) {
        status = s;
        // Failed as soon as the limit was passed, not at the line's end.
        EXPECT_LE(fed, kLimit + kChunk + 64);
      } else {
        ++feeds_after_error;
      }
      EXPECT_EQ(reader.buffered(), 0u);
    }
  }
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("over the limit of 1048576 bytes"),
            std::string::npos)
      << status.message();
  EXPECT_GT(feeds_after_error, 0u);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].output, "ok");
}

}  // namespace
}  // namespace corefork
