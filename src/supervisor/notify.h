// The two ways a worker reports its state (sd_notify style messages such as
// READY=1, STATUS=..., WATCHDOG=1, STOPPING=1):
//  - NotifySocket: one AF_UNIX datagram socket for all workers (NOTIFY_SOCKET);
//    SCM_CREDENTIALS tells which pid sent each datagram.
//  - NotifyPipe: one pipe per worker (COREFORK_NOTIFY_FD), newline-terminated
//    lines, the easy way from Node or a shell.
// Both are non-blocking and owned by the event-loop thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "os/fd.h"
#include "util/status.h"

namespace corefork {

// "READY=1\nSTATUS=warming up" -> {READY: 1, STATUS: warming up}. Lines
// without '=' are ignored; a later key wins.
std::map<std::string, std::string> ParseNotifyMessage(const std::string& text);

class NotifySocket {
 public:
  // Binds a datagram socket at `path` (a stale file is replaced), mode 0600,
  // with SO_PASSCRED so every datagram carries its sender's pid.
  static Result<NotifySocket> Bind(const std::string& path);

  NotifySocket(NotifySocket&&) = default;
  NotifySocket& operator=(NotifySocket&&) = default;
  ~NotifySocket();  // unlinks the path

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  struct Datagram {
    pid_t sender = 0;
    std::string text;
    // Where the sender can be answered: empty unless it bound an address
    // (the listen shim autobinds one to receive its listener).
    std::string reply_address;
  };
  // The next queued datagram, or nullopt when none is left.
  std::optional<Datagram> Receive();

  // Answers a datagram: `text` and, when fd >= 0, that fd (SCM_RIGHTS).
  // Never blocks: a full or vanished receiver just loses the answer.
  Status Reply(const std::string& address, const std::string& text, int fd);

 private:
  NotifySocket(Fd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}
  Fd fd_;
  std::string path_;
};

}  // namespace corefork
