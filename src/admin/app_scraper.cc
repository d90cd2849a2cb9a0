#include "admin/app_scraper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include "metrics/app_metrics.h"
#include "metrics/metrics.h"
#include "net/line_http.h"
#include "net/steering.h"

namespace corefork {
namespace {

constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr int kPortsPerSlot = 4;  // as the supervisor's LinePorts

HttpResponse MetricsResponse(std::string body) {
  HttpResponse res{200, std::move(body), {}, kPrometheusText};
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

}  // namespace

AppScraper::AppScraper(AppMetricsConfig config, Metrics* metrics)
    : config_(std::move(config)), metrics_(metrics) {
  thread_ = std::thread([this] { Run(); });
}

AppScraper::~AppScraper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (Job& job : queue_) job.reply.Send(MetricsResponse(std::move(job.own)));
}

void AppScraper::Scrape(std::string own, const StateView& view,
                        Responder reply) {
  Job job{std::move(own), view.lines, {}, std::move(reply)};
  for (const WorkerView& w : view.workers) {
    if (w.ready && w.pid > 0 && w.id < view.lines.group_size) {
      job.slots.push_back(w.id);
    }
  }
  if (!view.lines.on || job.slots.empty()) {
    return job.reply.Send(MetricsResponse(std::move(job.own)));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_ && queue_.size() < kMaxQueued) {
      queue_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  spdlog::warn(
      "metrics.app: {} scrapes already waiting; this one gets "
      "corefork's metrics only",
      kMaxQueued);
  job.reply.Send(MetricsResponse(std::move(job.own)));
}

void AppScraper::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string body = Merge(job);
    job.reply.Send(MetricsResponse(std::move(body)));
  }
}

std::string AppScraper::Merge(const Job& job) {
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
  LinePorts ports{static_cast<uint16_t>(job.lines.line_base), kPortsPerSlot};
  // Rotate through each slot's ports, so none is reused while its last
  // connection may linger.
  const int turn = static_cast<int>(turn_++ % kPortsPerSlot);
  std::vector<LineRequest> requests;
  std::vector<int> asked;
  for (int slot : job.slots) {
    Result<Fd> fd = ConnectLine(job.lines.ipv6, job.lines.port, ports, slot,
                                job.lines.group_size, turn);
    if (!fd.ok()) {
      spdlog::debug("metrics.app: worker {}: {}", slot, fd.status().message());
      if (metrics_ != nullptr) metrics_->CountAppMetricsSkipped(slot);
      continue;
    }
    requests.emplace_back(std::move(fd).value(), config_.path,
                          config_.max_bytes);
    asked.push_back(slot);
  }
  std::vector<Result<HttpReply>> replies =
      FetchAll(std::move(requests), deadline);
  std::vector<WorkerMetrics> answers;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].ok() && replies[i]->status == 200) {
      answers.push_back({asked[i], replies[i]->body});
      continue;
    }
    spdlog::debug("metrics.app: worker {}: {}", asked[i],
                  replies[i].ok()
                      ? "answered " + std::to_string(replies[i]->status)
                      : replies[i].status().message());
    if (metrics_ != nullptr) metrics_->CountAppMetricsSkipped(asked[i]);
  }
  MergeCounts counts;
  return MergeAppMetrics(job.own, answers, &counts);
}

}  // namespace corefork
