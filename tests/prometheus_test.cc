// A real Prometheus server (Debian `prometheus`) scrapes corefork's admin
// port on loopback: the target turns "up" and the queried series follow the
// worker count, also after scaling. Skipped (with the reason) where the
// prometheus binary is not installed.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "support/admin_fixture.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

std::string FindPrometheus() {
  for (const char* p : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

class PrometheusTest : public AdminTest {
 protected:
  // GET on the Prometheus server's HTTP API, parsed.
  JsonValue Api(const std::string& target) {
    HttpResponse r =
        HttpGet("127.0.0.1", prom_port_, target, milliseconds(3000));
    last_api_ = r.ToString();
    if (r.status != 200) return {};
    return ParseJson(r.body).value_or(JsonValue{});
  }
  // The value of the single series `query` returns ("" if none or several).
  std::string QueryValue(const std::string& encoded_query) {
    JsonValue v = Api("/api/v1/query?query=" + encoded_query);
    const JsonValue& result = v["data"]["result"];
    if (result.size() != 1) return "";
    return result[0]["value"][1].AsString();
  }

  int prom_port_ = 0;
  std::string last_api_;
};

TEST_F(PrometheusTest, RealPrometheusScrapesCorefork) {
  const std::string prometheus = FindPrometheus();
  if (prometheus.empty()) {
    GTEST_SKIP() << "prometheus is not installed (Debian package `prometheus`;"
                    " .ci/install-deps.sh test installs it)";
  }
  Process& cf = StartWith(
      "ready: {mode: notify}\nshutdown: {drain_delay: 0s, timeout: 5s}\n", 2,
      {HELLO_BIN});
  CoreforkStatus st;
  ASSERT_TRUE(WaitAllReady(cf, 2, milliseconds(10000), &st)) << st.raw;

  prom_port_ = FreePort();
  const std::string target = "127.0.0.1:" + std::to_string(admin_port());
  const std::string config = WriteConfig(
      "global:\n"
      "  scrape_interval: 1s\n"
      "  evaluation_interval: 1s\n"
      "scrape_configs:\n"
      "  - job_name: corefork\n"
      "    scrape_interval: 1s\n"
      "    scrape_timeout: 1s\n"
      "    static_configs:\n"
      "      - targets: ['" +
          target + "']\n",
      "prometheus.yml");
  Process& prom =
      Spawn({prometheus, "--config.file=" + config,
             "--storage.tsdb.path=" + Path("tsdb"),
             "--web.listen-address=127.0.0.1:" + std::to_string(prom_port_),
             "--log.level=warn"});
  const auto started = Clock::now();

  // The target turns up (the first scrape comes ~5-6 s after start).
  std::string health, last_error;
  ASSERT_TRUE(
      PollUntil(
          [&] {
            if (!prom.Running()) return true;
            JsonValue v = Api("/api/v1/targets");
            for (const JsonValue& t : v["data"]["activeTargets"].array) {
              if (t["scrapeUrl"].AsString().find(target) == std::string::npos) {
                continue;
              }
              health = t["health"].AsString();
              last_error = t["lastError"].AsString();
            }
            return health == "up";
          },
          milliseconds(25000), milliseconds(200)) &&
      prom.Running())
      << "target health '" << health << "', lastError '" << last_error
      << "', last API answer: " << last_api_ << "\nprometheus stderr:\n"
      << prom.Stderr();
  const auto up_after =
      std::chrono::duration_cast<milliseconds>(Clock::now() - started);

  // What it scraped matches the worker count.
  std::string desired, ready;
  EXPECT_TRUE(PollUntil(
      [&] {
        desired = QueryValue("corefork_workers_desired");
        ready = QueryValue("corefork_workers%7Bstate%3D%22ready%22%7D");
        return desired == "2" && ready == "2";
      },
      milliseconds(10000), milliseconds(200)))
      << "corefork_workers_desired=" << desired
      << " corefork_workers{state=\"ready\"}=" << ready
      << "; last API answer: " << last_api_;
  EXPECT_EQ(QueryValue("up%7Bjob%3D%22corefork%22%7D"), "1") << last_api_;
  EXPECT_EQ(QueryValue("count(corefork_worker_cpu_seconds_total)"), "2")
      << last_api_;

  // Scale up: the next scrapes show it.
  ASSERT_TRUE(cf.Signal(SIGTTIN));
  ASSERT_TRUE(WaitAllReady(cf, 3, milliseconds(5000), &st)) << st.raw;
  EXPECT_TRUE(PollUntil(
      [&] {
        desired = QueryValue("corefork_workers_desired");
        ready = QueryValue("corefork_workers%7Bstate%3D%22ready%22%7D");
        return desired == "3" && ready == "3";
      },
      milliseconds(10000), milliseconds(200)))
      << "after SIGTTIN: corefork_workers_desired=" << desired
      << " corefork_workers{state=\"ready\"}=" << ready;
  std::cout << "[ figures  ] prometheus target up " << up_after.count()
            << " ms after the server started\n";
  RecordProperty("target_up_after_ms", std::to_string(up_after.count()));
}

}  // namespace
}  // namespace corefork::harness
