// AdminServer: the read-only HTTP port for the kubelet, load balancers and
// Prometheus (/livez, /readyz, /status, /metrics), served by cpp-httplib on
// its own threads. It never touches process state: it reads the StateBoard,
// pings the loop through the CommandQueue, and scrapes Metrics.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "metrics/metrics.h"
#include "supervisor/commands.h"
#include "supervisor/state.h"
#include "util/status.h"

namespace corefork {

struct AdminOptions {
  std::string host = "0.0.0.0";
  int port = 9180;  // 0: any free port (see AdminServer::port())
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds write_timeout{5'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 0;  // read-only port: no request bodies
  int max_threads = 256;      // connections served at once
  int min_threads = 2;        // pool threads kept while idle (at least 2)
  std::chrono::milliseconds idle_thread_timeout{30'000};  // then they exit
  size_t keep_alive_max_count = 100;  // requests per connection
  // /livez fails when the loop does not answer a ping within this.
  std::chrono::milliseconds liveness_timeout{1'000};
};

class AdminServer {
 public:
  AdminServer(AdminOptions options, const StateBoard* state,
              CommandQueue* commands, const Metrics* metrics);
  ~AdminServer();  // Stop()s

  // Binds (errors such as "bind 0.0.0.0:9180: Address already in use" come
  // back here, before any worker starts) and serves on a background thread.
  Status Start();
  void Stop();
  int port() const;         // the bound port
  int connections() const;  // open right now (diagnostics and tests)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corefork
