// AdminServer: the read-only HTTP port for the kubelet, load balancers,
// Prometheus and people (/livez, /readyz, /status, /status/history, /metrics,
// and the status page at /), served by one HttpServer thread (epoll; idle and
// slow connections cost no thread) plus a ResourceSampler thread for the
// charts. It never touches process state: it reads the StateBoard, asks the
// loop through the CommandQueue (pings, the job list), and scrapes Metrics.
// Start/Stop from the owner's thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "loop/commands.h"
#include "metrics/metrics.h"
#include "supervisor/state.h"
#include "util/status.h"

namespace corefork {

struct AdminOptions {
  std::string host = "0.0.0.0";
  int port = 9180;  // 0: any free port (see AdminServer::port())
  // A request's head, then its body, must arrive within this (for a new
  // connection the clock starts at accept): else 408, or a silent close
  // when nothing came.
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds write_timeout{5'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 0;          // read-only port: no request bodies
  size_t keep_alive_max_count = 100;  // requests per connection
  // Open connections; at the cap the longest idle (else the slowest) one
  // is closed for a new one.
  size_t max_connections = 4096;
  int listen_backlog = 1024;
  // /livez fails when the loop does not answer a ping within this; /status
  // answers without its job list then.
  std::chrono::milliseconds liveness_timeout{1'000};
  // The status page's charts: one CPU/RSS sample per slot every interval,
  // the last history_samples kept (15 minutes), for slots below
  // history_max_slots. 0 samples: no sampler thread, no history.
  std::chrono::milliseconds history_interval{10'000};
  size_t history_samples = 90;
  size_t history_max_slots = 64;
};

class AppScraper;

class AdminServer {
 public:
  AdminServer(AdminOptions options, const StateBoard* state,
              CommandQueue* commands, const Metrics* metrics);
  ~AdminServer();  // Stop()s

  // metrics.app: GET /metrics also carries the workers' own metrics, merged
  // by `scraper` (borrowed; must outlive the server). Before Start().
  void SetAppScraper(AppScraper* scraper);

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
