// http_lite: the strict, bounded HTTP/1.1 pieces HttpServer is built from: a
// request parser fed bytes as they arrive (Content-Length bodies only, limits
// on header and body size, strict framing so that no request can smuggle
// another) and a response formatter. No I/O, no threads and no shared state:
// each connection owns its parser.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace corefork {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;   // as sent, case-sensitive: "GET", "POST", ...
  std::string target;   // as sent: "/scale?workers=3"
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  std::string path;     // target up to '?', still percent-encoded
  std::map<std::string, std::string> query;        // decoded; last one wins
  std::map<std::string, std::string> path_params;  // set by Router
  HttpHeaders headers;                             // names in lower case
  std::string body;

  // The first value of header `lower_name`, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  HttpHeaders headers;  // beyond Content-Type/Length and Connection
  std::string content_type = "application/json";
};

// A JSON response; a trailing newline is added so curl output ends cleanly.
HttpResponse JsonResponse(int status, std::string body);
// {"error":"message"} with `status`.
HttpResponse ErrorResponse(int status, std::string_view message);
// "Not Found" for 404 ...; "Unknown" for codes this file does not use.
const char* StatusReason(int status);
// The whole response as bytes, with `Connection: keep-alive` or `close`;
// `head_only` (a HEAD request) leaves the body out but keeps its length.
std::string FormatResponse(const HttpResponse& response,
                           bool keep_alive = false, bool head_only = false);

struct HttpLimits {
  size_t max_header_bytes = 16 * 1024;  // request line + headers
  size_t max_body_bytes = 1024 * 1024;
};

class RequestParser {
 public:
  enum class State { kNeedMore, kDone, kError };

  explicit RequestParser(HttpLimits limits) : limits_(limits) {}

  // Appends bytes and parses as far as they go. Bytes after a complete
  // request (the next, pipelined one) are kept for TakeLeftover(); once the
  // state is not kNeedMore, further bytes are not taken.
  State Feed(std::string_view bytes);
  State state() const { return state_; }
  // The request line and headers have arrived (the body may not have).
  bool head_parsed() const { return body_start_ != 0; }
  // Bytes buffered so far (the head, then the body); 0 once done.
  size_t buffered() const { return buffer_.size(); }
  // kDone: the bytes that came after this request.
  std::string TakeLeftover() { return std::move(leftover_); }
  // kDone: the request. kError: the response to send (400, 413, 431 ...).
  HttpRequest& request() { return request_; }
  const HttpResponse& error() const { return error_; }
  // True once, when the client sent `Expect: 100-continue` and the body is
  // still to come; the caller writes "HTTP/1.1 100 Continue" and calls
  // ContinueSent().
  bool WantsContinue() const;
  void ContinueSent() { continue_sent_ = true; }

 private:
  State ParseHead(std::string_view head);
  State ParseRequestLine(std::string_view line);
  State ParseHeaderLine(std::string_view line);
  State CheckFraming();
  State TryFinish();
  State Fail(int status, std::string_view message);

  const HttpLimits limits_;
  State state_ = State::kNeedMore;
  std::string buffer_;
  std::string leftover_;
  size_t scanned_ = 0;     // buffer_ before this holds no end of head
  size_t body_start_ = 0;  // 0 until the head is parsed
  size_t content_length_ = 0;
  bool continue_sent_ = false;
  HttpRequest request_;
  HttpResponse error_;
};

// Decodes %XX escapes (and '+' as a space when plus_is_space). nullopt when
// an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view s,
                                         bool plus_is_space);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}; an error names the bad parameter.
Result<std::map<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace corefork
