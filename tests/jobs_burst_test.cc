// Whole-binary test: a burst of 200 on-demand requests (async and
// ?wait=true, from several client threads at once) against a job with
// concurrency 2. The job's concurrency is never exceeded, checked two ways:
// each run counts the runs active beside it (files), and /metrics'
// corefork_jobs_running is sampled during the burst. All 200 succeed.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/jobs.h"

namespace corefork::harness {
namespace {

using std::chrono::milliseconds;

constexpr int kRequests = 200;
constexpr int kThreads = 8;
constexpr int kConcurrency = 2;

class JobsBurstTest : public JobsTest {};

TEST_F(JobsBurstTest, ConcurrencyIsNeverExceededUnderABurstOf200) {
  const std::string active = Path("active");
  const std::string counts = Path("counts");
  ASSERT_EQ(mkdir(active.c_str(), 0755), 0);
  // Marks itself active, records how many runs are active now (itself
  // included), works a little, unmarks itself before it exits: a count can
  // only include runs whose process is still alive.
  const std::string script = "f='" + active +
                             "'/$COREFORK_RUN_ID; : > \"$f\"; "
                             "echo $(ls '" +
                             active + "' | wc -l) >> '" + counts +
                             "'; "
                             "sleep 0.02; rm -f \"$f\"";
  Process& cf = StartJobs(
      "jobs:\n"
      "  burst:\n"
      "    command: " +
      ShCommand(script) +
      "\n"
      "    concurrency: " +
      std::to_string(kConcurrency) +
      "\n"
      "    queue: 300\n"
      "    on_demand: true\n");
  ASSERT_TRUE(WaitControl(cf));

  struct Outcome {
    int status = 0;
    uint64_t id = 0;
    std::string state;
    std::string raw;
  };
  std::vector<Outcome> outcomes(kRequests);
  std::atomic<int> sent{0};
  const std::string socket = ControlSocket();
  auto client = [&](int t) {
    // Every 4th request waits (its connection is read at the end, so the
    // thread goes on sending); the others are async.
    std::vector<std::pair<int, std::unique_ptr<UnixHttpConnection>>> held;
    auto record = [&](int i, const UnixHttpResponse& r) {
      Outcome& o = outcomes[i];
      o.status = r.status;
      o.raw = r.ToString();
      if (auto v = ParseJson(r.body); v && v->is_object()) {
        o.id = static_cast<uint64_t>(v->Num("id").value_or(0));
        o.state = v->Str("state").value_or("");
      }
    };
    for (int i = t; i < kRequests; i += kThreads) {
      if (i % 4 == 0) {
        auto conn = std::make_unique<UnixHttpConnection>();
        if (conn->Connect(socket, milliseconds(5000)) &&
            conn->Send("POST", "/jobs/burst/runs?wait=true", "")) {
          held.emplace_back(i, std::move(conn));
        } else {
          outcomes[i].raw = "send failed: " + conn->error();
        }
      } else {
        record(i, UnixHttpRequest(socket, "POST", "/jobs/burst/runs", "",
                                  milliseconds(10000)));
      }
      ++sent;
    }
    for (auto& [i, conn] : held)
      record(i, conn->ReadResponse(milliseconds(60000)));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(client, t);

  // While the burst runs: corefork_jobs_running never above the limit.
  double max_running = 0, max_queued = 0;
  const std::map<std::string, std::string> burst = {{"job", "burst"}};
  const bool all_done = PollUntil(
      [&] {
        const std::string text = MetricsText();
        max_running = std::max(
            max_running,
            MetricSample(text, "corefork_jobs_running", burst).value_or(0));
        max_queued = std::max(
            max_queued,
            MetricSample(text, "corefork_jobs_queued", burst).value_or(0));
        return MetricSample(text, "corefork_job_runs_total",
                            {{"job", "burst"}, {"result", "succeeded"}})
                   .value_or(0) >= kRequests;
      },
      milliseconds(60000), milliseconds(20));
  for (std::thread& t : threads) t.join();

  EXPECT_TRUE(all_done) << "runs succeeded: "
                        << Metric("corefork_job_runs_total",
                                  {{"job", "burst"}, {"result", "succeeded"}})
                        << " of " << kRequests << "\n"
                        << MetricsText();
  EXPECT_LE(max_running, kConcurrency)
      << "corefork_jobs_running{job=\"burst\"}";
  EXPECT_GT(max_queued, 0) << "the burst never queued: not a burst";

  int accepted = 0, waited = 0;
  for (int i = 0; i < kRequests; ++i) {
    const Outcome& o = outcomes[i];
    if (i % 4 == 0) {
      EXPECT_EQ(o.status, 200) << "request " << i << ": " << o.raw;
      EXPECT_EQ(o.state, "succeeded") << "request " << i << ": " << o.raw;
      waited += o.status == 200;
    } else {
      EXPECT_EQ(o.status, 202) << "request " << i << ": " << o.raw;
      accepted += o.status == 202;
    }
  }
  EXPECT_EQ(accepted + waited, kRequests);
  // Every run, asked for either way, ended succeeded.
  std::vector<uint64_t> ids;
  for (const Outcome& o : outcomes) {
    if (o.id > 0) ids.push_back(o.id);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "duplicate ids";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRequests));
  int not_succeeded = 0;
  for (uint64_t id : ids) {
    JsonValue run = WaitRunEnded(id, milliseconds(5000));
    if (run.Str("state").value_or("") != "succeeded") {
      if (++not_succeeded <= 5) {
        ADD_FAILURE() << "run " << id << ": state "
                      << run.Str("state").value_or("?");
      }
    }
  }
  EXPECT_EQ(not_succeeded, 0);

  // What the runs saw themselves.
  std::istringstream in(ReadFile(counts));
  int n, runs = 0, max_seen = 0;
  while (in >> n) {
    ++runs;
    max_seen = std::max(max_seen, n);
  }
  EXPECT_EQ(runs, kRequests);
  EXPECT_LE(max_seen, kConcurrency) << "runs saw more active runs beside them";
  EXPECT_EQ(max_seen, kConcurrency) << "the two slots were never both used";
  EXPECT_EQ(Metric("corefork_jobs_running", burst), 0);
  EXPECT_EQ(Metric("corefork_jobs_queued", burst), 0);
  EXPECT_TRUE(cf.Running());
}

}  // namespace
}  // namespace corefork::harness
