#include "support/prometheus.h"

#include <unistd.h>

#include "support/http.h"

namespace corefork::harness {

std::string FindPrometheus() {
  for (const char* p : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

std::string PrometheusYaml(const std::string& job, const std::string& target) {
  return "global:\n"
         "  scrape_interval: 1s\n"
         "  evaluation_interval: 1s\n"
         "scrape_configs:\n"
         "  - job_name: " +
         job +
         "\n"
         "    scrape_interval: 1s\n"
         "    scrape_timeout: 1s\n"
         "    static_configs:\n"
         "      - targets: ['" +
         target + "']\n";
}

std::vector<std::string> PrometheusArgv(const std::string& binary,
                                        const std::string& config_path,
                                        const std::string& tsdb_dir, int port) {
  return {binary, "--config.file=" + config_path,
          "--storage.tsdb.path=" + tsdb_dir,
          "--web.listen-address=127.0.0.1:" + std::to_string(port),
          "--log.level=warn"};
}

JsonValue PrometheusApi::Get(const std::string& target) {
  HttpResponse r = HttpGet("127.0.0.1", port_, target, Millis(3000));
  last_answer_ = r.ToString();
  if (r.status != 200) return {};
  return ParseJson(r.body).value_or(JsonValue{});
}

std::string PrometheusApi::QueryValue(const std::string& encoded_query) {
  JsonValue v = Get("/api/v1/query?query=" + encoded_query);
  const JsonValue& result = v["data"]["result"];
  if (result.size() != 1) return "";
  return result[0]["value"][1].AsString();
}

bool PrometheusApi::WaitTargetUp(Process& prom, const std::string& target,
                                 Millis timeout, std::string* why) {
  std::string health, last_error;
  const bool up = PollUntil(
      [&] {
        if (!prom.Running()) return true;
        JsonValue v = Get("/api/v1/targets");
        for (const JsonValue& t : v["data"]["activeTargets"].Items()) {
          if (t["scrapeUrl"].AsString().find(target) == std::string::npos) {
            continue;
          }
          health = t["health"].AsString();
          last_error = t["lastError"].AsString();
        }
        return health == "up";
      },
      timeout, Millis(200));
  *why = "target health '" + health + "', lastError '" + last_error +
         "', last API answer: " + last_answer_;
  return up && prom.Running();
}

}  // namespace corefork::harness
