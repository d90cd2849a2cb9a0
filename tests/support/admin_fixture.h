// Helpers for the whole-binary tests of what corefork tells an orchestrator
// (tests/orchestrator_test.cc, reload_test.cc, metrics_test.cc,
// prometheus_test.cc): the admin port (/livez, /readyz, /status, /metrics)
// read back as data, the control socket, and waits on corefork's state.
// For the single test thread (LoadGenerator in load.h has its own threads).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "support/harness.h"
#include "support/json.h"
#include "support/prom_text.h"
#include "support/unix_http.h"

namespace corefork::harness {

// One entry of /status "slots": a slot's process (a slot shows two entries
// while a reload replaces its worker, and one without pid while in backoff).
struct SlotStatus {
  int id = -1;
  pid_t pid = -1;  // -1: no process (null)
  std::string state;
  bool ready = false;
  int restarts = 0;
  std::string last_exit;
  double uptime_seconds = 0;
};

struct CoreforkStatus {
  bool ok = false;  // 200 with a JSON object
  std::string raw;  // the body (or the error) for messages
  int desired = -1;
  int actual = -1;
  int ready_workers = -1;
  bool reloading = false;
  bool draining = false;
  std::vector<SlotStatus> slots;

  // Entries of slot `id`.
  std::vector<SlotStatus> Slot(int id) const;
  // pids of every entry that has a process, in /status order.
  std::vector<pid_t> Pids() const;
  // True when there are exactly `n` entries, slots 0..n-1, each with a
  // process in state "ready", and ready_workers == desired == n.
  bool AllReady(int n) const;
};

struct ReadyzAnswer {
  int status = 0;
  std::string body;
  std::string reason;      // "" when ready
  int ready_workers = -1;  // from the body, -1 if absent
};

// An HTTP exchange over TCP with Connection: close that keeps the headers
// (names lower-cased), for checks like the /metrics Content-Type.
UnixHttpResponse TcpHttpRequest(const std::string& host, int port,
                                const std::string& method,
                                const std::string& target,
                                Millis timeout = Millis(5000));

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port: requests one after
// another on the same TCP connection (no Connection header: keep-alive is
// the default), each answer read by its Content-Length.
class KeepAliveConnection {
 public:
  KeepAliveConnection() = default;
  ~KeepAliveConnection();
  KeepAliveConnection(const KeepAliveConnection&) = delete;
  KeepAliveConnection& operator=(const KeepAliveConnection&) = delete;

  bool Connect(int port, Millis timeout = Millis(2000));
  // status 0 with error set when no complete answer came: e.g.
  // "closed before any answer" when the server closed the connection.
  UnixHttpResponse Get(const std::string& path, Millis timeout = Millis(3000));
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

// Sends `n` GETs of `path` one after another on one keep-alive TCP
// connection to 127.0.0.1:port and returns how long each took to be answered
// completely, in milliseconds. Empty, with *error set, when one fails.
std::vector<double> KeepAliveTimes(int port, const std::string& path, int n,
                                   std::string* error);

// What a process running as uid/gid got from the control socket at `path`:
// connect_errno != 0 when connect() failed, else the HTTP status of a
// POST /scale?workers=5 (0 when there was no answer).
struct PeerAttempt {
  int connect_errno = 0;
  int http_status = 0;
  std::string error;  // set when the attempt itself could not be made
};
PeerAttempt TryControlSocketAs(uid_t uid, gid_t gid, const std::string& path);

// The value of the first sample of `name` with exactly `labels`, or
// `fallback` when absent (counters created on first use).
double MetricOr(const PromScrape& scrape, const std::string& name,
                const Labels& labels, double fallback = 0);

class AdminTest : public CoreforkTest {
 protected:
  // argv of `/bin/sh -c script`.
  static std::vector<std::string> Sh(const std::string& script);

  // Writes `yaml` to corefork.yaml and starts corefork with --config, the
  // app on a free 127.0.0.1 port (StartCoreforkOnFreePort), `workers` workers,
  // debug logging, then `command` as the worker command.
  Process& StartWith(const std::string& yaml, int workers,
                     const std::vector<std::string>& command);
  // The app port of the newest corefork (app_port_bound()).
  int app_port() { return app_port_bound(); }

  UnixHttpResponse Admin(const std::string& path,
                         Millis timeout = Millis(3000));
  CoreforkStatus Status();
  ReadyzAnswer Readyz();
  // GET /metrics parsed (*raw gets the text). An empty scrape with a test
  // failure when it does not answer 200.
  PromScrape Scrape(std::string* raw = nullptr);
  double Metric(const std::string& name, const Labels& labels = {},
                double fallback = 0) {
    return MetricOr(Scrape(), name, labels, fallback);
  }

  // Polls /status until `pred` holds; *last gets the last status read.
  bool WaitStatus(const std::function<bool(const CoreforkStatus&)>& pred,
                  Millis timeout, CoreforkStatus* last = nullptr);
  // Polls until /status shows `n` ready workers (CoreforkStatus::AllReady)
  // and /readyz answers 200; false when `cf` exits first.
  bool WaitAllReady(Process& cf, int n, Millis timeout = Millis(10000),
                    CoreforkStatus* last = nullptr);
  // Polls the scrape until `pred` holds.
  bool WaitMetrics(const std::function<bool(const PromScrape&)>& pred,
                   Millis timeout, PromScrape* last = nullptr);

  // On the control socket (ControlSocket()).
  UnixHttpResponse Control(const std::string& method, const std::string& target,
                           const std::string& body = "",
                           Millis timeout = Millis(5000));

  // A file that a worker script waits for: touch it.
  void Touch(const std::string& name);
};

}  // namespace corefork::harness
