#include "admin/http_lite.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corefork {
namespace {

using State = RequestParser::State;

struct ParseCase {
  std::string name;
  std::string input;
  State state;
  int error_status = 0;         // kError: the response status
  std::string error_part = "";  // kError: part of the message
  std::string method = "";      // kDone: what was parsed
  std::string path = "";
  std::string body = "";
};

const std::vector<ParseCase>& ParseCases() {
  static const std::vector<ParseCase> cases = {
      {"minimal POST", "POST /reload HTTP/1.1\r\nHost: x\r\n\r\n", State::kDone,
       0, "", "POST", "/reload"},
      {"body by Content-Length",
       "POST /scale HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n"
       "{\"workers\":3}",
       State::kDone, 0, "", "POST", "/scale", "{\"workers\":3}"},
      {"bare LF line ends", "GET /a HTTP/1.1\nHost: x\n\n", State::kDone, 0, "",
       "GET", "/a"},
      {"HTTP/1.0 needs no Host", "GET /a HTTP/1.0\r\n\r\n", State::kDone, 0, "",
       "GET", "/a"},
      {"one leading empty line is ignored",
       "\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", State::kDone, 0, "", "GET",
       "/a"},
      {"query is split from the path",
       "POST /scale?workers=3 HTTP/1.1\r\nHost: x\r\n\r\n", State::kDone, 0, "",
       "POST", "/scale"},
      {"pipelined bytes after the body wait for the next request",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /b",
       State::kDone, 0, "", "POST", "/a", "ok"},
      {"head not complete yet", "POST /reload HTTP/1.1\r\nHost: x\r\n",
       State::kNeedMore},
      {"body not complete yet",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
       State::kNeedMore},
      {"missing Host", "GET /a HTTP/1.1\r\n\r\n", State::kError, 400,
       "missing Host"},
      {"two Hosts", "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
       State::kError, 400, "more than one Host"},
      {"request line with two spaces", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n",
       State::kError, 400, "malformed request line"},
      {"request line without version", "GET /a\r\nHost: x\r\n\r\n",
       State::kError, 400, "malformed request line"},
      {"absolute-form target", "GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n",
       State::kError, 400, "must be a path"},
      {"bad method token", "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", State::kError,
       400, "method"},
      {"HTTP/2 request line", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n",
       State::kError, 505, "HTTP version 2.0"},
      {"space before colon", "GET /a HTTP/1.1\r\nHost : x\r\n\r\n",
       State::kError, 400, "malformed header"},
      {"header without colon", "GET /a HTTP/1.1\r\nHost x\r\n\r\n",
       State::kError, 400, "malformed header"},
      {"obsolete line folding",
       "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n", State::kError,
       400, "folding"},
      {"control character in a value",
       std::string("GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x01z\r\n\r\n"),
       State::kError, 400, "control character"},
      {"bare CR", "GET /a HTTP/1.1\r\nHost: x\rY\r\n\r\n", State::kError, 400,
       "bare CR"},
      {"chunked body",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
       State::kError, 400, "Content-Length"},
      {"other transfer coding",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
       State::kError, 400, "Transfer-Encoding is not supported"},
      {"Transfer-Encoding with Content-Length",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
       "Transfer-Encoding: chunked\r\n\r\n",
       State::kError, 400, "Transfer-Encoding is not supported"},
      {"Transfer-Encoding in another case",
       "POST /a HTTP/1.1\r\nHost: x\r\ntRaNsFeR-eNcOdInG:  chunked \r\n\r\n",
       State::kError, 400, "Transfer-Encoding is not supported"},
      {"space before the colon of Transfer-Encoding",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
       State::kError, 400, "malformed header line"},
      {"tab in a header name",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length\t: 3\r\n\r\n",
       State::kError, 400, "malformed header line"},
      {"Content-Length with a plus sign",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"empty Content-Length",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", State::kError,
       400, "malformed Content-Length"},
      {"Content-Length as a list",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"Content-Length with inner space",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"Content-Length in hex",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"equal Content-Lengths are one",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
       "Content-Length: 02\r\n\r\nok",
       State::kDone, 0, "", "POST", "/a", "ok"},
      {"Content-Length not a number",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"negative Content-Length",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"conflicting Content-Lengths",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
       "Content-Length: 2\r\n\r\n",
       State::kError, 400, "conflicting"},
      {"body over the limit",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n",
       State::kError, 413, "over the limit of 64 bytes"},
      {"Content-Length beyond 64 bits",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999"
       "\r\n\r\n",
       State::kError, 400, "malformed Content-Length"},
      {"Content-Length of 19 digits",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999999999999"
       "\r\n\r\n",
       State::kError, 413, "over the limit"},
      {"head over the limit, unfinished",
       "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(300, 'a'),
       State::kError, 431, "limit of 256 bytes"},
      {"head over the limit, finished",
       "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(300, 'a') +
           "\r\n\r\n",
       State::kError, 431, "limit of 256 bytes"},
      {"malformed query", "GET /a?x=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
       State::kError, 400, "malformed query parameter"},
  };
  return cases;
}

TEST(HttpLiteParserTest, WholeInput) {
  for (const ParseCase& c : ParseCases()) {
    RequestParser parser({256, 64});
    EXPECT_EQ(parser.Feed(c.input), c.state) << c.name;
    if (c.state == State::kError) {
      EXPECT_EQ(parser.error().status, c.error_status) << c.name;
      EXPECT_NE(parser.error().body.find(c.error_part), std::string::npos)
          << c.name << ": " << parser.error().body;
    } else if (c.state == State::kDone) {
      EXPECT_EQ(parser.request().method, c.method) << c.name;
      EXPECT_EQ(parser.request().path, c.path) << c.name;
      EXPECT_EQ(parser.request().body, c.body) << c.name;
    }
  }
}

// Byte by byte must give the same answers: the end of the head may arrive
// split anywhere.
TEST(HttpLiteParserTest, OneByteAtATime) {
  for (const ParseCase& c : ParseCases()) {
    RequestParser parser({256, 64});
    for (char ch : c.input) {
      if (parser.Feed(std::string_view(&ch, 1)) != State::kNeedMore) break;
    }
    EXPECT_EQ(parser.state(), c.state) << c.name;
    if (c.state == State::kError) {
      EXPECT_EQ(parser.error().status, c.error_status) << c.name;
    } else if (c.state == State::kDone) {
      EXPECT_EQ(parser.request().body, c.body) << c.name;
    }
  }
}

TEST(HttpLiteParserTest, HeadersAndQuery) {
  RequestParser parser({1024, 1024});
  ASSERT_EQ(parser.Feed("POST /scale?workers=3&note=a%20b+c&flag HTTP/1.1\r\n"
                        "Host: localhost\r\nX-Thing:   padded value \t\r\n"
                        "User-Agent: curl/7.88\r\n\r\n"),
            State::kDone);
  const HttpRequest& r = parser.request();
  EXPECT_EQ(r.target, "/scale?workers=3&note=a%20b+c&flag");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.query.at("workers"), "3");
  EXPECT_EQ(r.query.at("note"), "a b c");
  EXPECT_EQ(r.query.at("flag"), "");
  ASSERT_NE(r.Header("x-thing"), nullptr);
  EXPECT_EQ(*r.Header("x-thing"), "padded value");
  EXPECT_EQ(*r.Header("host"), "localhost");
  EXPECT_EQ(r.Header("X-Thing"), nullptr) << "names are stored lower-case";
}

TEST(HttpLiteParserTest, ExpectContinue) {
  RequestParser parser({1024, 1024});
  parser.Feed(
      "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 3\r\n\r\n");
  EXPECT_TRUE(parser.WantsContinue());
  parser.ContinueSent();
  EXPECT_FALSE(parser.WantsContinue());
  EXPECT_EQ(parser.Feed("abc"), State::kDone);
}

TEST(HttpLiteFormatTest, ResponseClosesAndCountsBytes) {
  HttpResponse response = ErrorResponse(405, "nope \"quoted\"");
  response.headers.emplace_back("Allow", "POST");
  EXPECT_EQ(FormatResponse(response),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 28\r\n"
            "Connection: close\r\n"
            "Allow: POST\r\n"
            "\r\n"
            "{\"error\":\"nope \\\"quoted\\\"\"}\n");
}

TEST(HttpLiteParserTest, LeftoverIsTheNextRequest) {
  RequestParser parser(HttpLimits{256, 64});
  EXPECT_EQ(parser.Feed("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2"
                        "\r\n\r\nokGET /b HTTP/1.1\r\n"),
            State::kDone);
  EXPECT_EQ(parser.request().body, "ok");
  EXPECT_EQ(parser.TakeLeftover(), "GET /b HTTP/1.1\r\n");
  EXPECT_EQ(parser.Feed("more"), State::kDone) << "done parsers take no more";
}

TEST(HttpLiteFormatTest, KeepAliveAndHead) {
  HttpResponse response{200, "abc", {}, "text/plain"};
  EXPECT_EQ(FormatResponse(response, /*keep_alive=*/true, /*head_only=*/true),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 3\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");
}

TEST(HttpLiteFormatTest, PercentDecode) {
  struct Case {
    std::string name, in;
    bool plus_is_space;
    std::optional<std::string> out;
  };
  const std::vector<Case> cases = {
      {"plain", "abc", false, "abc"},
      {"escape", "a%2Fb", false, "a/b"},
      {"lower-case hex", "%2f", false, "/"},
      {"plus kept in paths", "a+b", false, "a+b"},
      {"plus in queries", "a+b", true, "a b"},
      {"truncated escape", "a%2", false, std::nullopt},
      {"bad hex", "%g0", false, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PercentDecode(c.in, c.plus_is_space), c.out) << c.name;
  }
}

}  // namespace
}  // namespace corefork
