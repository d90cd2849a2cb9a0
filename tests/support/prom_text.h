// A parser for the Prometheus text exposition format (0.0.4), so tests can
// compare what /metrics says with what the processes really did. Plain data.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corefork::harness {

using Labels = std::map<std::string, std::string>;

struct PromSample {
  std::string name;  // e.g. corefork_worker_ready_seconds_bucket
  Labels labels;
  double value = 0;
};

struct PromScrape {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family -> "counter", ...
  std::map<std::string, std::string> helps;  // family -> help text
  std::vector<std::string> errors;           // lines that did not parse

  // The sample of `name` whose labels are exactly `labels`.
  std::optional<double> Get(const std::string& name,
                            const Labels& labels = {}) const;
  // Sum over the samples of `name` whose labels include all of `labels`
  // (0 when none match), and how many matched.
  double Sum(const std::string& name, const Labels& labels = {}) const;
  size_t Count(const std::string& name, const Labels& labels = {}) const;
  // Every sample of `name` (any labels).
  std::vector<PromSample> All(const std::string& name) const;
};

PromScrape ParsePromText(const std::string& text);

}  // namespace corefork::harness
