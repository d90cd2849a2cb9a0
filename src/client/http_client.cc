#include "client/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "os/fd.h"

namespace corefork {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, at least 0, for poll().
int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 60'000));
}

// Waits for `events` on `fd`; DeadlineExceeded when the deadline passes.
Status WaitFor(int fd, short events, Clock::time_point deadline,
               const std::string& what) {
  for (int turn = 0; turn < 1'000'000; ++turn) {
    const int wait_ms = RemainingMs(deadline);
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, wait_ms);
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return PosixError("poll " + what);
    if (n == 0 && wait_ms == 0) {
      return Status::DeadlineExceeded(what + ": no answer in time");
    }
  }
  return Status::DeadlineExceeded(what + ": no answer in time");
}

Status Unreachable(const std::string& what, int err) {
  return Status::Unavailable(PosixError(what, err).message());
}

Result<Fd> Connect(const Endpoint& to, Clock::time_point deadline) {
  const std::string what = "connect " + to.Describe();
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNIX;
  if (!to.unix_path.empty()) {
    auto* un = reinterpret_cast<sockaddr_un*>(&addr);
    if (to.unix_path.size() >= sizeof(un->sun_path)) {
      return Status::InvalidArgument(what + ": path too long");
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, to.unix_path.c_str(), to.unix_path.size() + 1);
    len = sizeof(sockaddr_un);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, to.host.c_str(), &in4->sin_addr) == 1) {
      family = in4->sin_family = AF_INET;
      in4->sin_port = htons(static_cast<uint16_t>(to.port));
      len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, to.host.c_str(), &in6->sin6_addr) == 1) {
      family = in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(to.port));
      len = sizeof(sockaddr_in6);
    } else {
      return Status::InvalidArgument(what + ": not a numeric address");
    }
  }
  Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("socket");
  // A unix socket's full backlog says EAGAIN rather than EINPROGRESS: try
  // again until the deadline.
  for (int attempt = 0;; ++attempt) {
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      return fd;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN && attempt < 500 && RemainingMs(deadline) > 0) {
      poll(nullptr, 0, 10);
      continue;
    }
    if (errno != EINPROGRESS) return Unreachable(what, errno);
    break;
  }
  Status s = WaitFor(fd.get(), POLLOUT, deadline, what);
  if (!s.ok()) return s;
  int err = 0;
  socklen_t err_len = sizeof(err);
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) return Unreachable(what, err);
  return fd;
}

std::string RequestText(const HttpCall& call) {
  std::string text = call.method + " " + call.target +
                     " HTTP/1.1\r\nHost: localhost\r\n"
                     "User-Agent: corefork/" COREFORK_VERSION
                     "\r\nAccept: */*\r\nConnection: close\r\n";
  if (!call.body.empty() || call.method == "POST") {
    text += "Content-Length: " + std::to_string(call.body.size()) + "\r\n";
  }
  text += "\r\n";
  text += call.body;
  return text;
}

// A reply whose head is in and which says how long it is can be complete
// before the server closes (a keep-alive server that ignores "close").
bool Complete(std::string_view raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  std::string head(raw.substr(0, head_end));
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (head.find("\ncontent-length:") == std::string::npos) return false;
  return ParseHttpReply(raw).ok();
}

// Sends what is left of `request`; a server that answers early and closes
// (413, 403) makes the write fail, and its answer is still worth reading.
Status Send(int fd, std::string_view request, Clock::time_point deadline,
            const std::string& where) {
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Status s = WaitFor(fd, POLLOUT, deadline, "send to " + where);
      if (!s.ok()) return s;
      continue;
    }
    return PosixError("send to " + where);
  }
  return Status::Ok();
}

Result<std::string> Receive(int fd, Clock::time_point deadline,
                            size_t max_bytes, const std::string& where) {
  std::string raw;
  char buffer[16384];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      if (raw.size() + static_cast<size_t>(n) > max_bytes) {
        return Status::Error(StatusCode::kResourceExhausted,
                             "the answer from " + where + " is over " +
                                 std::to_string(max_bytes) + " bytes");
      }
      raw.append(buffer, static_cast<size_t>(n));
      if (Complete(raw)) return raw;
      continue;
    }
    if (n == 0) return raw;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      Status s = WaitFor(fd, POLLIN, deadline, where);
      if (!s.ok()) return s;
      continue;
    }
    if (errno == ECONNRESET && !raw.empty()) return raw;
    return PosixError("recv from " + where);
  }
}

}  // namespace

std::string Endpoint::Describe() const {
  if (!unix_path.empty()) return unix_path;
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Result<HttpReply> HttpExchange(const Endpoint& to, const HttpCall& call) {
  const Clock::time_point deadline = Clock::now() + call.timeout;
  const std::string where = to.Describe();
  Result<Fd> fd = Connect(to, deadline);
  if (!fd.ok()) return fd.status();
  Status sent = Send(fd->get(), RequestText(call), deadline, where);
  if (!sent.ok() && sent.IsDeadlineExceeded()) return sent;
  Result<std::string> raw =
      Receive(fd->get(), deadline, call.max_reply_bytes, where);
  if (!raw.ok()) return sent.ok() ? raw.status() : sent;
  if (raw->empty()) {
    return sent.ok() ? Status::Unavailable(where +
                                           " closed the connection "
                                           "without an answer")
                     : sent;
  }
  Result<HttpReply> reply = ParseHttpReply(*raw);
  if (!reply.ok()) {
    return Status::InvalidArgument("bad answer from " + where + ": " +
                                   reply.status().message());
  }
  return reply;
}

}  // namespace corefork
