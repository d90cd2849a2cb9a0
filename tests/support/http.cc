#include "support/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "support/http_client.h"

namespace corefork::harness {
namespace {

int MillisLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(left, 0));
}

}  // namespace

bool ParseHttpResponse(const std::string& raw, bool eof, HttpResponse* out) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  const std::string head = raw.substr(0, head_end);
  const std::string rest = raw.substr(head_end + 4);
  int status = 0;
  if (std::sscanf(head.c_str(), "HTTP/%*d.%*d %d", &status) != 1) {
    out->error = "bad status line: " + head.substr(0, head.find("\r\n"));
    return eof;
  }
  std::map<std::string, std::string> headers;
  for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    std::string line = head.substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    pos = end;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.pop_back();
    }
    headers[Lower(line.substr(0, colon))] = value;
  }
  std::string body;
  if (auto it = headers.find("content-length"); it != headers.end()) {
    size_t length = std::strtoul(it->second.c_str(), nullptr, 10);
    if (rest.size() < length) return false;
    body = rest.substr(0, length);
  } else if (auto te = headers.find("transfer-encoding");
             te != headers.end() && ContainsNoCase(te->second, "chunked")) {
    size_t pos = 0;
    while (true) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) return false;
      size_t size =
          std::strtoul(rest.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (size == 0) break;
      if (rest.size() < eol + 2 + size) return false;
      body += rest.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
  } else {
    if (!eof) return false;
    body = rest;
  }
  out->status = status;
  out->headers = std::move(headers);
  out->body = std::move(body);
  return true;
}

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string HttpResponse::ToString() const {
  std::string s = "status=" + std::to_string(status);
  for (const auto& [k, v] : headers) s += " " + k + "=" + v;
  s += " body=" + (body.size() > 2000 ? body.substr(0, 2000) + "..." : body);
  if (!error.empty()) s += " error=" + error;
  return s;
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

bool HttpConnection::Connect(const std::string& path, Millis timeout) {
  Close();
  error_.clear();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    error_ = "socket path too long: " + path;
    return false;
  }
  path.copy(addr.sun_path, path.size());
  const auto deadline = Clock::now() + timeout;
  while (true) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      error_ = Errno("socket");
      return false;
    }
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      return true;
    }
    // A unix socket's backlog full: EAGAIN on a non-blocking connect.
    const int err = errno;
    error_ = Errno("connect " + path, err);
    Close();
    if ((err != EAGAIN && err != EINTR) || Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(Millis(2));  // retry pacing, not sync
  }
}

bool HttpConnection::Send(const std::string& method, const std::string& target,
                          const std::string& body, Millis timeout) {
  if (fd_ < 0) {
    if (error_.empty()) error_ = "not connected";
    return false;
  }
  std::string req = method + " " + target +
                    " HTTP/1.1\r\nHost: corefork\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  size_t done = 0;
  const auto deadline = Clock::now() + timeout;
  while (done < req.size()) {
    ssize_t n = send(fd_, req.data() + done, req.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (Clock::now() >= deadline) {
        error_ = "send: timeout after " + std::to_string(done) + " of " +
                 std::to_string(req.size()) + " bytes";
        return false;
      }
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, std::min(MillisLeft(deadline), 50));
      continue;
    }
    error_ = Errno("send (after " + std::to_string(done) + " of " +
                   std::to_string(req.size()) + " bytes)");
    return false;  // connection kept: the server may have answered already
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
  char buf[16384];
  while (true) {
    int left = MillisLeft(deadline);
    if (left <= 0) {
      resp.error = "read: timeout after " + std::to_string(timeout.count()) +
                   "ms (got " + std::to_string(raw.size()) + " bytes)";
      return resp;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, left);
    if (r <= 0) continue;  // EINTR or the deadline, checked above
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? Errno("read") : "";
      if (!ParseHttpResponse(raw, true, &resp) || resp.status == 0) {
        resp = HttpResponse{};
        resp.error = !why.empty()  ? why
                     : raw.empty() ? "connection closed before any response"
                                   : "truncated response: " + raw;
        if (!error_.empty()) resp.error += " (after: " + error_ + ")";
      }
      Close();
      return resp;
    }
    raw.append(buf, static_cast<size_t>(n));
    HttpResponse tmp;
    if (ParseHttpResponse(raw, false, &tmp) && tmp.status != 0) {
      Close();
      return tmp;
    }
  }
}

HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     Millis timeout) {
  HttpExchange x = TcpExchange(host, port, "GET", path, "", timeout);
  HttpResponse resp;
  resp.status = x.status;
  resp.headers = std::move(x.headers);
  resp.body = std::move(x.body);
  resp.error = std::move(x.error);
  return resp;
}

}  // namespace corefork::harness
