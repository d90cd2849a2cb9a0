// A real Prometheus server (Debian `prometheus`) scrapes corefork's admin
// port on loopback: the target turns "up" and the queried series follow the
// worker count, also after scaling. Skipped (with the reason) where the
// prometheus binary is not installed.
#include "support/prometheus.h"

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "support/admin_fixture.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

class PrometheusTest : public AdminTest {
 protected:
  std::string QueryValue(const std::string& encoded_query) {
    return api_.QueryValue(encoded_query);
  }
  PrometheusApi api_{0};
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

  const int prom_port = FreePort();
  api_ = PrometheusApi(prom_port);
  const std::string target = "127.0.0.1:" + std::to_string(admin_port());
  const std::string config =
      WriteConfig(PrometheusYaml("corefork", target), "prometheus.yml");
  Process& prom =
      Spawn(PrometheusArgv(prometheus, config, Path("tsdb"), prom_port));
  const auto started = Clock::now();

  // The target turns up (the first scrape comes ~5-6 s after start).
  std::string why;
  ASSERT_TRUE(api_.WaitTargetUp(prom, target, milliseconds(25000), &why))
      << why << "\nprometheus stderr:\n"
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
      << "; last API answer: " << api_.last_answer();
  EXPECT_EQ(QueryValue("up%7Bjob%3D%22corefork%22%7D"), "1")
      << api_.last_answer();
  EXPECT_EQ(QueryValue("count(corefork_worker_cpu_seconds_total)"), "2")
      << api_.last_answer();

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
