#include "admin/http_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace corefork {
namespace {

void AddressOf(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    port = ntohs(in.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    port = ntohs(in6.sin6_port);
  }
  ip = text;
}

}  // namespace

HttpConnection::HttpConnection(int sock, int stop_fd, ConnectionLimits limits,
                               std::atomic<int>* open)
    : sock_(sock),
      stop_fd_(stop_fd),
      limits_(limits),
      open_(open),
      accepted_at_(HttpClock::now()),
      idle_since_(accepted_at_) {
  ++*open_;
}

HttpConnection::~HttpConnection() {
  if (sock_ >= 0) close(sock_);
  --*open_;
}

IoResult HttpConnection::Peek() {
  if (begin_ < end_) return IoResult::kOk;
  ssize_t n = recv(sock_, buf_, sizeof buf_, MSG_DONTWAIT);
  if (n > 0) {
    begin_ = 0;
    end_ = static_cast<size_t>(n);
    return IoResult::kOk;
  }
  if (n == 0) return IoResult::kEof;
  if (errno == EAGAIN || errno == EINTR) return IoResult::kTimeout;
  return IoResult::kError;
}

void HttpConnection::BeginRequest(HttpClock::time_point deadline) {
  read_deadline_ = deadline;
  delivered_ = 0;
  cap_ = limits_.max_header_bytes;
  writing_ = false;
  head_parsed_ = false;
  reject_status_ = 0;
}

void HttpConnection::OnHead(httplib::Request& req) {
  head_parsed_ = true;
  cap_ = delivered_;  // our handlers never read bodies through httplib
  uint64_t length = 0;
  std::string text = req.get_header_value("Content-Length");
  std::from_chars(text.data(), text.data() + text.size(), length);
  bool chunked = req.has_header("Transfer-Encoding");
  if (chunked) {
    Reject(411, "chunked request bodies are not supported");
  } else if (length > limits_.max_body_bytes) {
    Reject(413, "request body of " + text + " bytes is over the limit of " +
                    std::to_string(limits_.max_body_bytes) + " bytes");
  }
  if (length > 0 || chunked) {
    body_unread_ = true;  // it must not be read as the next request
    req.headers.erase("Connection");
    req.set_header("Connection", "close");  // so the response says so
  }
}

void HttpConnection::EndRequest() {
  ++requests_;
  idle_since_ = HttpClock::now();
}

bool HttpConnection::must_close() const {
  // After a request httplib could not parse, where the next one starts is
  // unknown: close rather than read garbage as a request.
  return body_unread_ || !head_parsed_ || limit_ != Limit::kNone;
}

void HttpConnection::Close() {
  if (sock_ < 0) return;
  if (body_unread_ && !eof_) {
    shutdown(sock_, SHUT_WR);
    auto deadline = HttpClock::now() + std::chrono::milliseconds(500);
    for (int i = 0; i < 64 && Fill(deadline) == IoResult::kOk; ++i) {
    }
  }
  close(sock_);
  sock_ = -1;
}

bool HttpConnection::is_readable() const {
  return begin_ < end_ ||
         WaitReady(sock_, POLLIN, read_deadline_, stop_fd_) == IoResult::kOk;
}

bool HttpConnection::is_writable() const {
  auto deadline =
      writing_ ? write_deadline_ : HttpClock::now() + limits_.write_timeout;
  return WaitReady(sock_, POLLOUT, deadline, stop_fd_) == IoResult::kOk;
}

ssize_t HttpConnection::read(char* ptr, size_t size) {
  if (limit_ != Limit::kNone) return -1;
  if (delivered_ >= cap_) {
    limit_ = Limit::kHeadTooLarge;
    return -1;
  }
  if (begin_ == end_) {
    IoResult r = Fill(read_deadline_);
    if (r == IoResult::kTimeout) limit_ = Limit::kTimedOut;
    if (r != IoResult::kOk) return r == IoResult::kEof ? 0 : -1;
  }
  size_t n = std::min({size, end_ - begin_, cap_ - delivered_});
  std::memcpy(ptr, buf_ + begin_, n);
  begin_ += n;
  delivered_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t HttpConnection::write(const char* ptr, size_t size) {
  if (!writing_) {
    writing_ = true;
    write_deadline_ = HttpClock::now() + limits_.write_timeout;
  }
  IoResult r =
      WriteAll(sock_, std::string_view(ptr, size), write_deadline_, stop_fd_);
  return r == IoResult::kOk ? static_cast<ssize_t>(size) : -1;
}

void HttpConnection::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr = {};
  socklen_t len = sizeof addr;
  if (getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    AddressOf(addr, ip, port);
  }
}

void HttpConnection::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr = {};
  socklen_t len = sizeof addr;
  if (getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    AddressOf(addr, ip, port);
  }
}

IoResult HttpConnection::Fill(HttpClock::time_point deadline) {
  for (;;) {
    IoResult ready = WaitReady(sock_, POLLIN, deadline, stop_fd_);
    if (ready != IoResult::kOk) return ready;
    ssize_t n = recv(sock_, buf_, sizeof buf_, MSG_DONTWAIT);
    if (n > 0) {
      begin_ = 0;
      end_ = static_cast<size_t>(n);
      return IoResult::kOk;
    }
    if (n == 0) {
      eof_ = true;
      return IoResult::kEof;
    }
    if (errno != EINTR && errno != EAGAIN) return IoResult::kError;
  }
}

void HttpConnection::Reject(int status, std::string message) {
  reject_status_ = status;
  reject_message_ = std::move(message);
}

}  // namespace corefork
