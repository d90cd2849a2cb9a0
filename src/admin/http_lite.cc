#include "admin/http_lite.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>

#include "util/json.h"

namespace corefork {
namespace {

// RFC 9110 tchar: what a method or header name may contain.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Index just past the empty line that ends the head, or npos. A line ends
// with LF or CRLF (RFC 9112 lets a recipient accept a bare LF).
size_t FindHeadEnd(std::string_view buf, size_t from) {
  for (size_t i = buf.find('\n', from); i != std::string_view::npos;
       i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
      return i + 3;
    }
  }
  return std::string_view::npos;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

HttpResponse JsonResponse(int status, std::string body) {
  if (!body.empty() && body.back() != '\n') body += '\n';
  return HttpResponse{status, std::move(body), {}};
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  return JsonResponse(status, JsonDump(Json{{"error", message}}));
}

const char* StatusReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string FormatResponse(const HttpResponse& response, bool keep_alive,
                           bool head_only) {
  std::string out;
  out.reserve(160 + response.body.size());
  out += "HTTP/1.1 " + std::to_string(response.status) + " " +
         StatusReason(response.status) + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [name, value] : response.headers) {
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  if (!head_only) out += response.body;
  return out;
}

RequestParser::State RequestParser::Feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return state_;
  buffer_.append(bytes);
  if (body_start_ == 0) {
    size_t end = FindHeadEnd(buffer_, scanned_);
    if (end == std::string::npos) {
      scanned_ = buffer_.size() >= 2 ? buffer_.size() - 2 : 0;
      if (buffer_.size() <= limits_.max_header_bytes) return state_;
      end = buffer_.size();
    }
    if (end > limits_.max_header_bytes) {
      return Fail(431, "request head is over the limit of " +
                           std::to_string(limits_.max_header_bytes) + " bytes");
    }
    body_start_ = end;
    if (ParseHead(std::string_view(buffer_).substr(0, end)) !=
        State::kNeedMore) {
      return state_;
    }
  }
  return TryFinish();
}

RequestParser::State RequestParser::ParseHead(std::string_view head) {
  // RFC 9112 2.2: ignore an empty line before the request line.
  if (head.substr(0, 2) == "\r\n") head.remove_prefix(2);
  if (head.substr(0, 1) == "\n") head.remove_prefix(1);
  bool first = true;
  while (!head.empty()) {
    size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    head.remove_prefix(lf == std::string_view::npos ? head.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) {
      return Fail(400, "bare CR in the request head");
    }
    if (line.empty() && !first) break;  // the end of the head
    State s = first ? ParseRequestLine(line) : ParseHeaderLine(line);
    if (s != State::kNeedMore) return s;
    first = false;
  }
  return CheckFraming();
}

RequestParser::State RequestParser::ParseRequestLine(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, "malformed request method");
  bool target_ok = !target.empty() && target[0] == '/' &&
                   std::none_of(target.begin(), target.end(), [](char c) {
                     return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
                   });
  if (!target_ok) {
    return Fail(400, "the request target must be a path starting with /");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.substr(0, 5) == "HTTP/") {
      return Fail(505, "HTTP version " + std::string(version.substr(5)) +
                           " is not supported (use HTTP/1.1)");
    }
    return Fail(400, "malformed request line");
  }
  request_.method = method;
  request_.target = target;
  request_.version = version;
  size_t question = target.find('?');
  request_.path = target.substr(0, question);
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query.ok()) return Fail(400, query.status().message());
    request_.query = std::move(query.value());
  }
  return State::kNeedMore;
}

RequestParser::State RequestParser::ParseHeaderLine(std::string_view line) {
  if (line.empty() || line[0] == ' ' || line[0] == '\t') {
    return Fail(400, "obsolete header line folding is not supported");
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return Fail(400, "malformed header line");
  }
  std::string name = Lower(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) {
      return Fail(400, "control character in header " + name);
    }
  }
  request_.headers.emplace_back(std::move(name), std::string(value));
  return State::kNeedMore;
}

RequestParser::State RequestParser::CheckFraming() {
  size_t hosts = 0;
  std::optional<uint64_t> length;
  for (const auto& [name, value] : request_.headers) {
    if (name == "host") ++hosts;
    if (name == "transfer-encoding") {
      // Bodies come with Content-Length only. Whatever the coding, its
      // framing is not ours to guess: a request that relies on it could
      // smuggle a second one, so it is refused and the connection closed.
      return Fail(400,
                  "Transfer-Encoding is not supported: send the body with "
                  "Content-Length");
    }
    if (name == "content-length") {
      // 1*DIGIT only: no sign, no spaces, no list; at most 19 digits so the
      // value fits in 64 bits.
      bool digits = !value.empty() && value.size() <= 19 &&
                    std::all_of(value.begin(), value.end(),
                                [](char c) { return c >= '0' && c <= '9'; });
      if (!digits) return Fail(400, "malformed Content-Length");
      uint64_t n = 0;
      std::from_chars(value.data(), value.data() + value.size(), n);
      if (length && *length != n) {
        return Fail(400, "conflicting Content-Length headers");
      }
      length = n;
    }
  }
  if (hosts > 1) return Fail(400, "more than one Host header");
  if (hosts == 0 && request_.version == "HTTP/1.1") {
    return Fail(400, "missing Host header");
  }
  if (!length) return State::kNeedMore;
  if (*length > limits_.max_body_bytes) {
    return Fail(413, "request body of " + std::to_string(*length) +
                         " bytes is over the limit of " +
                         std::to_string(limits_.max_body_bytes) + " bytes");
  }
  content_length_ = static_cast<size_t>(*length);
  return State::kNeedMore;
}

RequestParser::State RequestParser::TryFinish() {
  if (buffer_.size() - body_start_ < content_length_) return state_;
  request_.body = buffer_.substr(body_start_, content_length_);
  leftover_ = buffer_.substr(body_start_ + content_length_);
  buffer_.clear();
  buffer_.shrink_to_fit();
  return state_ = State::kDone;
}

RequestParser::State RequestParser::Fail(int status, std::string_view message) {
  error_ = ErrorResponse(status, message);
  buffer_.clear();
  return state_ = State::kError;
}

bool RequestParser::WantsContinue() const {
  if (state_ != State::kNeedMore || body_start_ == 0 || continue_sent_ ||
      content_length_ == 0) {
    return false;
  }
  const std::string* expect = request_.Header("expect");
  return expect != nullptr && Lower(*expect) == "100-continue";
}

std::optional<std::string> PercentDecode(std::string_view s,
                                         bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    auto key = PercentDecode(item.substr(0, eq), true);
    auto value = PercentDecode(
        eq == std::string_view::npos ? "" : item.substr(eq + 1), true);
    if (!key || !value || key->empty()) {
      return Status::InvalidArgument("malformed query parameter \"" +
                                     std::string(item) + "\"");
    }
    params[*key] = *value;
  }
  return params;
}

}  // namespace corefork
