// Helpers for the whole-binary job tests (tests/jobs_*_test.cc): a fixture
// that starts corefork with a `jobs:` config and talks to its control socket
// and admin /metrics, plus YAML quoting and Prometheus text parsing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/harness.h"
#include "support/json.h"
#include "support/unix_http.h"

namespace corefork::harness {

// Final run states (a run in one of them never changes again).
bool IsFinalState(const std::string& state);

// A YAML double-quoted scalar holding `s` exactly.
std::string YamlQuote(const std::string& s);
// A YAML flow list running `script` with /bin/sh -c: ["/bin/sh","-c","..."].
std::string ShCommand(const std::string& script);

// The value of the first sample of metric `name` whose labels include every
// one in `labels` (Prometheus text format), or nullopt when there is none.
std::optional<double> MetricSample(
    const std::string& text, const std::string& name,
    const std::map<std::string, std::string>& labels = {});

class JobsTest : public CoreforkTest {
 protected:
  // Writes `yaml` (a whole config file; shutdown defaults to no drain delay
  // and a 5s timeout unless it has its own `shutdown:`) and starts corefork
  // with it (StartCoreforkOnFreePort), one examples/hello worker on a free
  // 127.0.0.1 port (or the
  // `worker` command), debug logging.
  Process& StartJobs(const std::string& yaml,
                     const std::vector<std::string>& worker = {},
                     const std::vector<std::string>& extra_flags = {});
  // The app port StartJobs chose (app_port_bound()).
  int app_port() { return app_port_bound(); }

  // Polls GET /jobs on the control socket until it answers 200 (false if
  // `cf` exits first or the timeout passes).
  bool WaitControl(Process& cf, Millis timeout = Millis(10000));

  UnixHttpResponse Control(const std::string& method, const std::string& target,
                           const std::string& body = "",
                           Millis timeout = Millis(5000));
  // POST /jobs/{job}/runs (?wait=true when `wait`).
  UnixHttpResponse Submit(const std::string& job, const std::string& body = "",
                          bool wait = false, Millis timeout = Millis(10000));

  // The body as JSON (an object); a test failure (and an empty object) if
  // it does not parse.
  JsonValue Body(const UnixHttpResponse& r);
  // The run's id from run JSON (0 if missing).
  static uint64_t RunId(const JsonValue& run);
  // Polls GET /jobs/runs/{id} until the run is in a final state; returns the
  // last run JSON seen (state may still be non-final at the deadline).
  JsonValue WaitRunEnded(uint64_t id, Millis timeout = Millis(10000));
  // Polls GET /jobs/runs/{id} until state == `state`.
  bool WaitRunState(uint64_t id, const std::string& state,
                    Millis timeout = Millis(10000));

  // GET /metrics on the admin port ("" when it does not answer 200).
  std::string MetricsText();
  // MetricSample of a fresh scrape; 0 when the sample is absent (a counter
  // or gauge that has not been touched).
  double Metric(const std::string& name,
                const std::map<std::string, std::string>& labels = {});
};

// Pids written one per line to `file` (a job's children record themselves).
std::vector<pid_t> ReadPids(const std::string& file);

}  // namespace corefork::harness
