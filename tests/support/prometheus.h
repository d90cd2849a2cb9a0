// A real Prometheus server (Debian's `prometheus`) for whole-binary tests:
// its config for one scrape target every second, its argv, and its HTTP API
// (target health, instant queries). For the single test thread.
#pragma once

#include <string>
#include <vector>

#include "support/json.h"
#include "support/process.h"
#include "support/util.h"

namespace corefork::harness {

// The prometheus binary, or "" when it is not installed.
std::string FindPrometheus();

// prometheus.yml text: job `job`, one target "HOST:PORT", every second.
std::string PrometheusYaml(const std::string& job, const std::string& target);

// argv for `binary` serving its API on 127.0.0.1:port.
std::vector<std::string> PrometheusArgv(const std::string& binary,
                                        const std::string& config_path,
                                        const std::string& tsdb_dir, int port);

class PrometheusApi {
 public:
  explicit PrometheusApi(int port) : port_(port) {}

  // GET on the API, parsed (null on any failure; see last_answer()).
  JsonValue Get(const std::string& target);
  // The value of the single series `encoded_query` returns ("" if none or
  // several).
  std::string QueryValue(const std::string& encoded_query);
  // Polls until `target`'s health is "up" (false, with the health and last
  // error in *why, when `prom` exits or `timeout` passes).
  bool WaitTargetUp(Process& prom, const std::string& target, Millis timeout,
                    std::string* why);
  const std::string& last_answer() const { return last_answer_; }

 private:
  int port_;
  std::string last_answer_;
};

}  // namespace corefork::harness
