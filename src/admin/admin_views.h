// What the admin endpoints say about one StateView: the /readyz verdict and
// the /status document. Pure functions of their arguments (the clock and the
// RSS reader are passed in so tests can fix them); any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "admin/sample_ring.h"
#include "supervisor/state.h"

namespace corefork {

struct Readiness {
  bool ready = false;
  std::string reason;  // empty when ready: "draining", "2 of 3 workers ..."
  std::string body;    // the /readyz JSON
};

// Ready when neither draining nor stopping and at least min_ready_workers
// workers are ready.
Readiness CheckReadiness(const StateView& view);

// A worker's resident memory in bytes, nullopt when unknown.
using RssReader = std::function<std::optional<uint64_t>(pid_t)>;

// A worker's CPU use in percent of one CPU, nullopt when unknown.
using CpuReader = std::function<std::optional<double>(int slot, pid_t pid)>;

// The instant a document is about: every duration in it is computed from
// this, when the request is answered, never when the view was published.
struct AnswerTime {
  double unix_seconds = 0;
  std::chrono::steady_clock::time_point steady{};
  static AnswerTime Now();
};

// The /status JSON (fields in docs/endpoints.md). `cpu` may be empty.
std::string StatusJson(const StateView& view, const std::string& version,
                       const AnswerTime& now, const RssReader& rss,
                       const CpuReader& cpu = nullptr);

// /status with the loop's job list (`jobs_object` is GET /jobs's body,
// {"jobs":[...]}) appended as "jobs"; "jobs": null when it is missing or
// not an object (the loop did not answer in time).
std::string StatusWithJobs(std::string status_json,
                           const std::optional<std::string>& jobs_object);

// The /status/history JSON: each slot's samples, oldest first, as columns
// (t, pid, cpu_percent, rss_bytes), for the view's slots that have any
// (a slot scaled away keeps its ring but is not shown).
std::string HistoryJson(const SampleRing& ring, const StateView& view,
                        double interval_seconds, double now_unix_seconds);

// 1700000000.25 -> "2023-11-14T22:13:20Z".
std::string Iso8601Utc(double unix_seconds);

}  // namespace corefork
