// ControlServer: the state-changing API (reload, scale; later jobs) as
// HTTP/1.1 + JSON over a unix socket of mode 0600 that only corefork's own
// user (or root) may use. cpp-httplib 0.11 cannot serve unix sockets, so this
// is a small, strictly bounded HTTP/1.1 server of our own (http_lite.h).
// Requests are turned into Commands for the loop; threads never touch
// process state.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "admin/router.h"
#include "supervisor/commands.h"
#include "util/status.h"

namespace corefork {

struct ControlOptions {
  std::string path;  // socket path; its directory is created (0700) if missing
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  int max_connections = 64;  // served at once; more wait in the backlog
  int listen_backlog = 128;
  // How long a request waits for the event loop's answer (then 503).
  std::chrono::milliseconds command_timeout{5'000};
};

class ControlServer {
 public:
  ControlServer(ControlOptions options, CommandQueue* commands);
  ~ControlServer();  // Stop()s

  // Refuses a path where a live server already answers; removes a stale
  // socket file; binds, chmod 0600, listens, serves on background threads.
  Status Start();
  // Adds a route (see Router) beside /reload and /scale; before Start().
  void Handle(std::string method, const std::string& pattern,
              HttpHandler handler);
  void Stop();  // stops serving and unlinks the socket
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corefork
