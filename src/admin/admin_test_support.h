// Test helpers for the admin and control servers (tests only): a fake event
// loop that answers the CommandQueue the way the real loop does, raw TCP and
// unix-socket clients with deadlines, and a polling WaitUntil.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/commands.h"
#include "os/fd.h"

namespace corefork::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline CommandReply Reply(int status, std::string body) {
  CommandReply reply;
  reply.http_status = status;
  reply.body = std::move(body);
  return reply;
}

// Polls `done` every millisecond until it holds or `timeout` passes.
inline bool WaitUntil(const std::function<bool()>& done,
                      milliseconds timeout = milliseconds(5'000)) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// Plays the event loop: wakes on CommandQueue::fd(), takes every command and
// answers it with `respond`; nullopt leaves it unanswered (held until the
// FakeLoop is destroyed, as a stuck loop would).
class FakeLoop {
 public:
  using Responder = std::function<std::optional<CommandReply>(const Command&)>;

  FakeLoop(CommandQueue* queue, Responder respond)
      : queue_(queue),
        respond_(std::move(respond)),
        stop_(eventfd(0, EFD_CLOEXEC)),
        thread_([this] { Run(); }) {}
  ~FakeLoop() {
    uint64_t one = 1;
    ssize_t n = write(stop_.get(), &one, sizeof one);
    (void)n;
    thread_.join();
  }

  // (kind, count) of every command taken so far.
  std::vector<std::pair<Command::Kind, int>> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Run() {
    for (;;) {
      pollfd fds[2] = {{queue_->fd(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      for (auto& command : queue_->TakeAll()) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          seen_.emplace_back(command->kind, command->count);
        }
        std::optional<CommandReply> reply = respond_(*command);
        if (reply) {
          command->reply.set_value(*reply);
        } else {
          held_.push_back(std::move(command));
        }
      }
    }
  }

  CommandQueue* queue_;
  Responder respond_;
  Fd stop_;
  mutable std::mutex mu_;
  std::vector<std::pair<Command::Kind, int>> seen_;
  std::vector<std::unique_ptr<Command>> held_;
  std::thread thread_;  // last: starts after everything above exists
};

inline Fd ConnectTcp(int port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Fd();
  }
  return fd;
}

inline Fd ConnectUnix(const std::string& path) {
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Fd();
  }
  return fd;
}

inline bool SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Everything the peer sends until it closes (*eof = true, when given) or
// `timeout` passes.
inline std::string ReadAll(int fd, milliseconds timeout = milliseconds(5'000),
                           bool* eof = nullptr) {
  if (eof != nullptr) *eof = false;
  auto deadline = Clock::now() + timeout;
  std::string out;
  char buf[4096];
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    pollfd p = {fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return out;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

struct RawResponse {
  int status = 0;  // 0 when nothing parseable came back
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

inline RawResponse ParseRawResponse(const std::string& text) {
  RawResponse r;
  size_t head_end = text.find("\r\n\r\n");
  if (text.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos) {
    return r;
  }
  r.status = std::stoi(text.substr(9, 3));
  size_t pos = text.find("\r\n") + 2;
  while (pos < head_end) {
    size_t eol = text.find("\r\n", pos);
    std::string line = text.substr(pos, eol - pos);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  r.body = text.substr(head_end + 4);
  return r;
}

// Sends `request` on a fresh connection and reads the reply until close.
inline RawResponse Exchange(Fd fd, const std::string& request,
                            milliseconds timeout = milliseconds(5'000)) {
  if (!fd.valid() || !SendAll(fd.get(), request)) return {};
  return ParseRawResponse(ReadAll(fd.get(), timeout));
}

}  // namespace corefork::testing
