#include "net/line_http.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

namespace corefork {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Result<std::string> Dechunk(std::string_view body) {
  std::string out;
  for (;;) {
    const size_t eol = body.find('\n');
    if (eol == std::string_view::npos) {
      return Status::InvalidArgument("chunked body cut short");
    }
    std::string_view size_text = TrimSpace(body.substr(0, eol));
    size_text = size_text.substr(0, size_text.find(';'));  // extensions
    size_t size = 0;
    auto [end, ec] = std::from_chars(
        size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || end != size_text.data() + size_text.size() ||
        size_text.empty()) {
      return Status::InvalidArgument("bad chunk size");
    }
    body.remove_prefix(eol + 1);
    if (size == 0) return out;  // trailers are ignored
    if (body.size() < size) {
      return Status::InvalidArgument("chunked body cut short");
    }
    out.append(body.substr(0, size));
    body.remove_prefix(size);
    if (body.substr(0, 2) == "\r\n") {
      body.remove_prefix(2);
    } else if (body.substr(0, 1) == "\n") {
      body.remove_prefix(1);
    }
  }
}

}  // namespace

Result<HttpReply> ParseHttpReply(std::string_view raw) {
  size_t head_end = raw.find("\r\n\r\n");
  size_t body_start = head_end + 4;
  if (head_end == std::string_view::npos) {
    head_end = raw.find("\n\n");
    body_start = head_end + 2;
  }
  if (head_end == std::string_view::npos) {
    return Status::InvalidArgument(raw.empty() ? "no response"
                                               : "response head cut short");
  }
  std::string_view head = raw.substr(0, head_end);
  std::string_view body = raw.substr(body_start);
  const size_t eol = head.find('\n');
  std::string_view status_line = TrimSpace(head.substr(0, eol));
  HttpReply reply;
  if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 ||
      std::from_chars(status_line.data() + 9, status_line.data() + 12,
                      reply.status)
              .ec != std::errc()) {
    return Status::InvalidArgument("not an HTTP response");
  }
  bool chunked = false;
  std::optional<size_t> length;
  std::string_view headers =
      eol == std::string_view::npos ? "" : head.substr(eol + 1);
  while (!headers.empty()) {
    const size_t next = headers.find('\n');
    std::string_view line = headers.substr(0, next);
    headers.remove_prefix(next == std::string_view::npos ? headers.size()
                                                         : next + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = TrimSpace(line.substr(0, colon));
    std::string_view value = TrimSpace(line.substr(colon + 1));
    if (IEquals(name, "transfer-encoding") && IEquals(value, "chunked")) {
      chunked = true;
    } else if (IEquals(name, "content-length")) {
      size_t n = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), n).ec !=
          std::errc()) {
        return Status::InvalidArgument("bad Content-Length");
      }
      length = n;
    }
  }
  if (chunked) {
    Result<std::string> plain = Dechunk(body);
    if (!plain.ok()) return plain.status();
    reply.body = std::move(plain).value();
  } else if (length) {
    if (body.size() < *length) {
      return Status::InvalidArgument("body shorter than its Content-Length");
    }
    reply.body = std::string(body.substr(0, *length));
  } else {
    reply.body = std::string(body);
  }
  return reply;
}

LineRequest::LineRequest(Fd fd, std::string_view path, size_t max_response)
    : fd_(std::move(fd)), max_response_(max_response) {
  request_.append("GET ").append(path).append(
      " HTTP/1.0\r\nHost: localhost\r\nUser-Agent: corefork\r\n"
      "Accept: */*\r\nConnection: close\r\n\r\n");
}

short LineRequest::events() const {
  return sent_ < request_.size() ? POLLOUT : POLLIN;
}

bool LineRequest::Fail(Status status) {
  failure_ = std::move(status);
  done_ = true;
  fd_.Reset();
  return true;
}

bool LineRequest::OnReady() {
  if (done_) return true;
  while (sent_ < request_.size()) {
    ssize_t n = send(fd_.get(), request_.data() + sent_,
                     request_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EINPROGRESS) {
      return false;
    } else if (errno != EINTR) {
      return Fail(PosixError("send"));
    }
  }
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      if (response_.size() + static_cast<size_t>(n) > max_response_) {
        return Fail(Status::Error(StatusCode::kResourceExhausted,
                                  "response larger than " +
                                      std::to_string(max_response_) +
                                      " bytes"));
      }
      response_.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      done_ = true;
      fd_.Reset();
      return true;
    } else if (errno == EAGAIN) {
      return false;
    } else if (errno != EINTR) {
      return Fail(PosixError("recv"));
    }
  }
}

Result<HttpReply> LineRequest::Take() {
  if (!done_) return Status::DeadlineExceeded("no answer in time");
  if (!failure_.ok()) return failure_;
  return ParseHttpReply(response_);
}

std::vector<Result<HttpReply>> FetchAll(
    std::vector<LineRequest> requests,
    std::chrono::steady_clock::time_point deadline) {
  std::vector<pollfd> fds(requests.size());
  for (;;) {
    size_t waiting = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      fds[i] = {requests[i].done() ? -1 : requests[i].fd(),
                requests[i].events(), 0};
      if (!requests[i].done()) ++waiting;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (waiting == 0 || left.count() <= 0) break;
    const int n = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    for (size_t i = 0; i < requests.size() && n > 0; ++i) {
      if (fds[i].fd >= 0 && fds[i].revents != 0) requests[i].OnReady();
    }
  }
  std::vector<Result<HttpReply>> replies;
  for (LineRequest& r : requests) replies.push_back(r.Take());
  return replies;
}

}  // namespace corefork
