// What the admin endpoints say about one StateView: the /readyz verdict and
// the /status document. Pure functions of their arguments (the clock and the
// RSS reader are passed in so tests can fix them); any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

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

// The /status JSON (fields in docs/endpoints.md).
std::string StatusJson(const StateView& view, const std::string& version,
                       double now_unix_seconds, const RssReader& rss);

// 1700000000.25 -> "2023-11-14T22:13:20Z".
std::string Iso8601Utc(double unix_seconds);

}  // namespace corefork
