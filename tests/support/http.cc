#include "support/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>

namespace corefork::harness {

namespace {

// Returns true when `raw` holds a complete response (by Content-Length or
// the chunked terminator); without either, only EOF completes it.
bool ParseResponse(const std::string& raw, bool eof, HttpResponse* out) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  std::string head = raw.substr(0, head_end);
  std::string rest = raw.substr(head_end + 4);
  std::istringstream lines(head);
  std::string status_line;
  std::getline(lines, status_line);
  int status = 0;
  if (std::sscanf(status_line.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
    out->error = "bad status line: " + status_line;
    return eof;
  }
  std::optional<size_t> content_length;
  bool chunked = false;
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = Lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "content-length") content_length = std::stoul(value);
    if (name == "transfer-encoding" && ContainsNoCase(value, "chunked")) {
      chunked = true;
    }
  }
  if (content_length) {
    if (rest.size() < *content_length) return false;
    out->status = status;
    out->body = rest.substr(0, *content_length);
    return true;
  }
  if (chunked) {
    std::string body;
    size_t pos = 0;
    while (true) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) return false;
      size_t size = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) break;
      if (rest.size() < eol + 2 + size) return false;
      body += rest.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    out->status = status;
    out->body = body;
    return true;
  }
  if (!eof) return false;
  out->status = status;
  out->body = rest;
  return true;
}

}  // namespace

std::string HttpResponse::ToString() const {
  return "status=" + std::to_string(status) + " body=" + body +
         (error.empty() ? "" : " error=" + error);
}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool HttpConnection::Connect(const std::string& host, int port,
                             Millis timeout) {
  Close();
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    error_ = "bad address " + host;
    return false;
  }
  fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    error_ = Errno("socket");
    return false;
  }
  if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      error_ = Errno("connect");
      Close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    int r = poll(&p, 1, static_cast<int>(timeout.count()));
    if (r <= 0) {
      error_ = r == 0 ? "connect: timeout" : Errno("poll");
      Close();
      return false;
    }
    int err = 0;
    socklen_t errlen = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &errlen);
    if (err != 0) {
      error_ = Errno("connect", err);
      Close();
      return false;
    }
  }
  return true;
}

bool HttpConnection::SendGet(const std::string& path) {
  if (fd_ < 0) return false;
  std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  size_t done = 0;
  const auto deadline = Clock::now() + Millis(5000);
  while (done < req.size()) {
    ssize_t n = send(fd_, req.data() + done, req.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && Clock::now() < deadline) {
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, 20);
      continue;
    }
    error_ = Errno("send");
    return false;
  }
  return true;
}

HttpResponse HttpConnection::ReadResponse(Millis timeout) {
  HttpResponse resp;
  if (fd_ < 0) {
    resp.error = error_.empty() ? "not connected" : error_;
    return resp;
  }
  const auto deadline = Clock::now() + timeout;
  std::string raw;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left.count() <= 0) {
      resp.error = "read: timeout after " + std::to_string(timeout.count()) +
                   "ms (got " + std::to_string(raw.size()) + " bytes)";
      return resp;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // the deadline check above reports the timeout
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      resp.error = Errno("read");
      resp.status = 0;
      return resp;
    }
    if (n == 0) {
      if (!ParseResponse(raw, true, &resp) || resp.status == 0) {
        resp.status = 0;
        if (resp.error.empty()) {
          resp.error = raw.empty() ? "connection closed before any response"
                                   : "truncated response: " + raw;
        }
      }
      Close();
      return resp;
    }
    raw.append(buf, static_cast<size_t>(n));
    HttpResponse tmp;
    if (ParseResponse(raw, false, &tmp) && tmp.status != 0) {
      Close();
      return tmp;
    }
  }
}

HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     Millis timeout) {
  const auto start = Clock::now();
  HttpConnection conn;
  HttpResponse resp;
  if (!conn.Connect(host, port, timeout) || !conn.SendGet(path)) {
    resp.error = conn.error();
    return resp;
  }
  auto left =
      timeout - std::chrono::duration_cast<Millis>(Clock::now() - start);
  return conn.ReadResponse(std::max(left, Millis(1)));
}

}  // namespace corefork::harness
