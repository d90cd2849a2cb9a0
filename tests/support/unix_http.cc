#include "support/unix_http.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

namespace corefork::harness {
namespace {

// Returns true when `raw` holds a complete response (Content-Length, the
// chunked terminator, or EOF for neither); fills `out`.
bool ParseResponse(const std::string& raw, bool eof, UnixHttpResponse* out) {
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

int MillisLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(left, 0));
}

}  // namespace

std::string UnixHttpResponse::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string UnixHttpResponse::ToString() const {
  std::string s = "status=" + std::to_string(status);
  for (const auto& [k, v] : headers) s += " " + k + "=" + v;
  s += " body=" + (body.size() > 2000 ? body.substr(0, 2000) + "..." : body);
  if (!error.empty()) s += " error=" + error;
  return s;
}

UnixHttpConnection::~UnixHttpConnection() { Close(); }

void UnixHttpConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool UnixHttpConnection::Connect(const std::string& path, Millis timeout) {
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

bool UnixHttpConnection::Send(const std::string& method,
                              const std::string& target,
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

UnixHttpResponse UnixHttpConnection::ReadResponse(Millis timeout) {
  UnixHttpResponse resp;
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
      if (!ParseResponse(raw, true, &resp) || resp.status == 0) {
        resp = UnixHttpResponse{};
        resp.error = !why.empty()  ? why
                     : raw.empty() ? "connection closed before any response"
                                   : "truncated response: " + raw;
        if (!error_.empty()) resp.error += " (after: " + error_ + ")";
      }
      Close();
      return resp;
    }
    raw.append(buf, static_cast<size_t>(n));
    UnixHttpResponse tmp;
    if (ParseResponse(raw, false, &tmp) && tmp.status != 0) {
      Close();
      return tmp;
    }
  }
}

UnixHttpResponse UnixHttpRequest(const std::string& socket_path,
                                 const std::string& method,
                                 const std::string& target,
                                 const std::string& body, Millis timeout) {
  const auto start = Clock::now();
  UnixHttpConnection conn;
  UnixHttpResponse resp;
  if (!conn.Connect(socket_path, timeout)) {
    resp.error = conn.error();
    return resp;
  }
  conn.Send(method, target, body, timeout);  // a failed send may still
                                             // have an answer to read
  auto left =
      timeout - std::chrono::duration_cast<Millis>(Clock::now() - start);
  return conn.ReadResponse(std::max(left, Millis(1)));
}

}  // namespace corefork::harness
