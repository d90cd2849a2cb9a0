#include "support/load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace corefork::harness {

namespace {

// One client connection, used by one thread only.
class Client {
 public:
  enum class Outcome { kOk, kStale, kFail };

  Client(const LoadOptions& options, bool keep_alive)
      : options_(options), keep_alive_(keep_alive) {}
  ~Client() { Close(); }

  // One GET. kStale: a reused connection closed before any answer byte.
  Outcome Get(int* status, std::string* body, std::string* error) {
    const auto deadline = Clock::now() + options_.request_timeout;
    if (fd_ < 0 && !Connect(deadline, error)) return Outcome::kFail;
    const bool reused = uses_ > 0;
    std::string req = "GET " + options_.path + " HTTP/1.1\r\nHost: x\r\n" +
                      (keep_alive_ ? "" : "Connection: close\r\n") + "\r\n";
    if (!SendAll(req, deadline, error)) {
      Close();
      return reused ? Outcome::kStale : Outcome::kFail;
    }
    std::string raw;
    size_t head_end = std::string::npos;
    std::optional<size_t> length;
    bool close_after = !keep_alive_;
    char buf[4096];
    for (;;) {
      if (head_end != std::string::npos && length &&
          raw.size() >= head_end + 4 + *length) {
        break;
      }
      int left = static_cast<int>(
          std::chrono::duration_cast<Millis>(deadline - Clock::now()).count());
      if (left <= 0) {
        *error = "timeout after " +
                 std::to_string(options_.request_timeout.count()) + "ms with " +
                 std::to_string(raw.size()) + " bytes";
        Close();
        return Outcome::kFail;
      }
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, left);
      if (r < 0 && errno != EINTR) {
        *error = Errno("poll");
        Close();
        return Outcome::kFail;
      }
      if (r <= 0) continue;
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        const bool nothing = raw.empty();
        *error = n == 0 ? (nothing ? "closed before any answer"
                                   : "closed mid-answer: " + raw.substr(0, 80))
                        : Errno(nothing ? "recv before any answer"
                                        : "recv mid-answer");
        Close();
        return reused && nothing ? Outcome::kStale : Outcome::kFail;
      }
      raw.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos) {
        head_end = raw.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        std::string head = Lower(raw.substr(0, head_end));
        if (std::sscanf(head.c_str(), "http/%*d.%*d %d", status) != 1) {
          *error = "bad status line: " + raw.substr(0, raw.find("\r\n"));
          Close();
          return Outcome::kFail;
        }
        size_t cl = head.find("\r\ncontent-length:");
        if (cl == std::string::npos) {
          *error = "no Content-Length";
          Close();
          return Outcome::kFail;
        }
        length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
        size_t conn = head.find("\r\nconnection:");
        if (conn != std::string::npos &&
            head.compare(head.find_first_not_of(' ', conn + 13), 5, "close") ==
                0) {
          close_after = true;
        }
      }
    }
    *body = raw.substr(head_end + 4, *length);
    ++uses_;
    if (close_after) Close();
    return Outcome::kOk;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    uses_ = 0;
  }

  // The connection the last Get used (kept after it is closed).
  int local_port() const { return local_port_; }
  Clock::time_point connected_at() const { return connected_at_; }

 private:
  bool Connect(Clock::time_point deadline, std::string* error) {
    local_port_ = 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(options_.port));
    if (inet_pton(AF_INET, options_.host.c_str(), &addr.sin_addr) != 1) {
      *error = "bad address " + options_.host;
      return false;
    }
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      *error = Errno("socket");
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno != EINPROGRESS) {
        *error = Errno("connect");
        Close();
        return false;
      }
      int left = static_cast<int>(
          std::chrono::duration_cast<Millis>(deadline - Clock::now()).count());
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, std::max(left, 1)) <= 0) {
        *error = "connect: timeout";
        Close();
        return false;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        *error = Errno("connect", err);
        Close();
        return false;
      }
    }
    uses_ = 0;
    sockaddr_in local{};
    socklen_t len = sizeof local;
    local_port_ =
        getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len) == 0
            ? ntohs(local.sin_port)
            : 0;
    connected_at_ = Clock::now();
    return true;
  }

  bool SendAll(const std::string& data, Clock::time_point deadline,
               std::string* error) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN && Clock::now() < deadline) {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 10);
        continue;
      }
      *error = Errno("send");
      return false;
    }
    return true;
  }

  const LoadOptions& options_;
  const bool keep_alive_;
  int fd_ = -1;
  int uses_ = 0;  // answers received on this connection
  int local_port_ = 0;
  Clock::time_point connected_at_{};
};

}  // namespace

std::string LoadStats::Summary() const {
  std::string s = "sent=" + std::to_string(sent) + " ok=" + std::to_string(ok) +
                  " failed=" + std::to_string(failed) +
                  " keepalive_retried=" + std::to_string(retried) + " pids={";
  bool first = true;
  for (const auto& [pid, n] : ok_by_pid) {
    s += (first ? "" : ",") + std::to_string(pid) + ":" + std::to_string(n);
    first = false;
  }
  s += "}";
  for (const std::string& e : errors) s += "\n  failure: " + e;
  return s;
}

LoadGenerator::LoadGenerator(LoadOptions options)
    : options_(std::move(options)) {}

LoadGenerator::~LoadGenerator() { Stop(); }

void LoadGenerator::Start() {
  for (int i = 0; i < options_.keepalive_threads; ++i) {
    threads_.emplace_back([this] { Run(true); });
  }
  for (int i = 0; i < options_.close_threads; ++i) {
    threads_.emplace_back([this] { Run(false); });
  }
}

LoadStats LoadGenerator::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

LoadStats LoadGenerator::Stop() {
  stop_.store(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  return Snapshot();
}

void LoadGenerator::Record(bool ok, pid_t pid, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ok) {
    ++stats_.ok;
    if (pid > 0) ++stats_.ok_by_pid[pid];
  } else {
    ++stats_.failed;
    if (stats_.errors.size() < 10) stats_.errors.push_back(error);
  }
}

std::vector<double> LoadGenerator::Latencies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latencies_;
}

void LoadGenerator::RecordFailure(LoadFailure failure) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stats_.failures.size() < LoadStats::kMaxFailures) {
    stats_.failures.push_back(std::move(failure));
  }
}

void LoadGenerator::Run(bool keep_alive) {
  Client client(options_, keep_alive);
  const auto end = Clock::now() + options_.max_duration;
  const char* kind = keep_alive ? "keep-alive" : "fresh connection";
  while (!stop_.load() && Clock::now() < end) {
    int status = 0;
    std::string body, error;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.sent;
    }
    const Clock::time_point started = Clock::now();
    Client::Outcome outcome = client.Get(&status, &body, &error);
    if (outcome == Client::Outcome::kStale) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.retried;
        ++stats_.sent;
      }
      status = 0;
      std::string first_error = error;
      outcome = client.Get(&status, &body, &error);  // a fresh connection
      if (outcome != Client::Outcome::kOk) {
        error = "retry after '" + first_error + "' failed: " + error;
        outcome = Client::Outcome::kFail;
      }
    }
    if (outcome == Client::Outcome::kOk && status == 200) {
      std::optional<HelloReply> hello = ParseHello(body);
      Record(true, hello ? hello->pid : -1, "");
      std::lock_guard<std::mutex> lock(mu_);
      if (latencies_.size() < kMaxLatencies) {
        latencies_.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - started)
                .count());
      }
    } else {
      if (outcome == Client::Outcome::kOk) {
        error = "status " + std::to_string(status) + ": " + body;
      }
      Record(false, -1, std::string(kind) + ": " + error);
      RecordFailure({client.local_port(), client.connected_at(), Clock::now(),
                     std::string(kind) + ": " + error});
    }
  }
}

}  // namespace corefork::harness
