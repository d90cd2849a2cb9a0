// A bounded, closed-loop HTTP load generator on loopback for reload tests:
// client threads that each send GET requests one after the other, either on
// keep-alive connections or on a fresh connection per request, and count
// what came back. Needs nothing installed (no wrk/ab).
//
// Failure accounting follows HTTP/1.1 (RFC 9112, 9.3.1): a server may close
// an idle keep-alive connection at any time, so a *reused* connection that
// the server closes before sending any byte of the answer is retried once on
// a new connection (as curl, browsers and Go's client do) and counted in
// `retried`. Everything else that is not a 200 is a failure: a refused or
// reset connection, a fresh connection closed without an answer, a timeout,
// a truncated answer, any other status.
//
// Thread-safe: Snapshot() may be called from the test thread while the
// client threads run.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/util.h"

namespace corefork::harness {

struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  int keepalive_threads = 2;  // reuse connections (HTTP/1.1 keep-alive)
  int close_threads = 2;      // one connection per request (Connection: close)
  Millis request_timeout{5000};
  Millis max_duration{30000};  // threads stop by themselves after this
};

// A request that failed, with the client's end of its connection: who had
// the other end can be told from the server's side (/proc/PID/net/tcp).
struct LoadFailure {
  int local_port = 0;              // 0: the connection was never made
  Clock::time_point connected_at;  // when its connection was made
  Clock::time_point failed_at;
  std::string error;
};

struct LoadStats {
  uint64_t sent = 0;     // requests written, retries included
  uint64_t ok = 0;       // answered 200
  uint64_t failed = 0;   // not answered 200 (after the one allowed retry)
  uint64_t retried = 0;  // reused keep-alive connection closed unanswered
  std::map<pid_t, uint64_t> ok_by_pid;  // from examples/hello's body
  std::vector<std::string> errors;      // the first few failures, described
  std::vector<LoadFailure> failures;    // the first kMaxFailures of them
  static constexpr size_t kMaxFailures = 10'000;
  std::string Summary() const;  // "sent=... ok=... failed=..."
};

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options);
  ~LoadGenerator();  // stops and joins
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  void Start();
  LoadStats Snapshot() const;
  LoadStats Stop();  // joins the threads; the final numbers
  // Milliseconds from request written to answer read, of every request
  // answered 200 (the first kMaxLatencies). Call after Stop().
  std::vector<double> Latencies() const;
  static constexpr size_t kMaxLatencies = 4'000'000;

 private:
  void Run(bool keep_alive);
  void Record(bool ok, pid_t pid, const std::string& error);
  void RecordFailure(LoadFailure failure);

  LoadOptions options_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  LoadStats stats_;                // guarded by mu_
  std::vector<double> latencies_;  // guarded by mu_
};

}  // namespace corefork::harness
