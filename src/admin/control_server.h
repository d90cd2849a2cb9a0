// ControlServer: the state-changing API (reload, scale, jobs) as HTTP/1.1 +
// JSON over a unix socket of mode 0600 that only corefork's own user (or
// root) may use. Served by one HttpServer thread (epoll), like the admin
// port: requests become Commands for the loop and wait for its answer
// without a thread, so long-polls (`?wait=true`) never hold up /reload or
// /scale. Handle() before Start(); Start/Stop from the owner's thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "admin/router.h"
#include "loop/commands.h"
#include "util/status.h"

namespace corefork {

struct ControlOptions {
  std::string path;  // socket path; its directory is created (0700) if missing
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  // The head, then the body, must arrive within this (the first of accept).
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  // Open connections; at the cap the longest idle (else the slowest to
  // send its request) is closed for a new one. Waiting requests stay.
  int max_connections = 1024;
  // `?wait=true` requests waiting at once (then 429); far below
  // max_connections so that /reload and /scale always find room.
  int max_long_waits = 512;
  int listen_backlog = 128;
  // How long a request waits for the event loop's answer (then 503).
  std::chrono::milliseconds command_timeout{5'000};
};

class ControlServer {
 public:
  ControlServer(ControlOptions options, CommandQueue* commands);
  ~ControlServer();  // Stop()s

  // Refuses a path where a live server already answers; removes a stale
  // socket file; binds, chmod 0600, listens, serves on a background thread.
  Status Start();
  // Adds a route (see Router) beside /reload and /scale; before Start().
  void Handle(std::string method, const std::string& pattern,
              HttpHandler handler);
  void Stop();  // stops serving and unlinks the socket
  const std::string& path() const;
  int connections() const;  // open right now (diagnostics and tests)
  int waiting() const;      // requests waiting for an answer

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corefork
