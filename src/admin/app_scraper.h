// AppScraper: answers the admin port's GET /metrics when metrics.app is set,
// on a thread of its own so that neither the admin server's thread nor the
// event loop ever waits on an app: it GETs every ready worker's own metrics
// endpoint through that worker's line (net/line_http.h), all at once and
// within metrics.app.timeout, and sends corefork's exposition merged with
// the answers (metrics/app_metrics.h). A worker that does not answer in time
// (or answers badly) is left out of that scrape and counted
// (corefork_app_metrics_skipped_total). Scrape() may be called from any
// thread and never blocks: past a small queue it answers with corefork's
// own metrics alone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "admin/http_server.h"
#include "config/config.h"
#include "supervisor/state.h"

namespace corefork {

class Metrics;

class AppScraper {
 public:
  // `metrics` (may be null) counts skipped workers; borrowed.
  AppScraper(AppMetricsConfig config, Metrics* metrics);
  ~AppScraper();  // stops and joins the thread; queued scrapes get own text
  AppScraper(const AppScraper&) = delete;
  AppScraper& operator=(const AppScraper&) = delete;

  // Queues a scrape of `view`'s ready workers; `reply` gets `own` merged
  // with their metrics. Any thread.
  void Scrape(std::string own, const StateView& view, Responder reply);

  std::chrono::milliseconds timeout() const { return config_.timeout; }

  static constexpr size_t kMaxQueued = 8;

 private:
  struct Job {
    std::string own;
    LinesView lines;
    std::vector<int> slots;  // ready workers' slots
    Responder reply;
  };
  void Run();
  std::string Merge(const Job& job);

  AppMetricsConfig config_;
  Metrics* metrics_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  uint32_t turn_ = 0;      // scraper thread: which line port of each slot
  std::thread thread_;
};

}  // namespace corefork
