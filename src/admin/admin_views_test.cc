#include "admin/admin_views.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/json.h"

namespace corefork {
namespace {

WorkerView Worker(int id, pid_t pid, const std::string& state, bool ready) {
  WorkerView w;
  w.id = id;
  w.pid = pid;
  w.state = state;
  w.ready = ready;
  return w;
}

StateView View(int desired, int ready, int min_ready, bool draining = false,
               bool stopping = false) {
  StateView v;
  v.desired_workers = desired;
  v.ready_workers = ready;
  v.min_ready_workers = min_ready;
  v.draining = draining;
  v.stopping = stopping;
  return v;
}

TEST(AdminViewsTest, Readiness) {
  struct Case {
    std::string name;
    StateView view;
    bool ready;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"all ready", View(2, 2, 1), true,
       R"({"ready":true,"ready_workers":2,"desired_workers":2})"},
      {"exactly the minimum", View(3, 2, 2), true,
       R"({"ready":true,"ready_workers":2,"desired_workers":3})"},
      {"not enough ready", View(3, 2, 3), false,
       R"({"ready":false,"reason":"2 of 3 workers ready, need 3",)"
       R"("ready_workers":2,"desired_workers":3})"},
      {"none ready at start", View(2, 0, 1), false,
       R"({"ready":false,"reason":"0 of 2 workers ready, need 1",)"
       R"("ready_workers":0,"desired_workers":2})"},
      {"draining wins over ready workers", View(2, 2, 1, true), false,
       R"({"ready":false,"reason":"draining","ready_workers":2,)"
       R"("desired_workers":2})"},
      {"stopping", View(2, 2, 1, false, true), false,
       R"({"ready":false,"reason":"stopping","ready_workers":2,)"
       R"("desired_workers":2})"},
  };
  for (const Case& c : cases) {
    Readiness r = CheckReadiness(c.view);
    EXPECT_EQ(r.ready, c.ready) << c.name;
    EXPECT_EQ(r.body, c.body) << c.name;
  }
}

TEST(AdminViewsTest, StatusDocument) {
  StateView v = View(3, 1, 1);
  v.version = 17;
  v.reloading = true;
  v.started_unix_seconds = 1700000000.25;
  v.sizing = {3, 1.5, "1.5 CPUs \"quota\" x 2 per CPU"};
  v.cgroup.version = "v2";
  v.cgroup.cpu_quota_cores = 1.5;
  v.cgroup.quota_source = "/sys/fs/cgroup/cpu.max";
  v.cgroup.affinity_cpus = 4;
  v.cgroup.host_cpus = 8;
  v.cgroup.effective_cpus = 1.5;
  v.cgroup.notes = {"a note"};
  v.workers.push_back(Worker(0, 101, "ready", true));
  v.workers.push_back(Worker(1, 102, "starting", false));
  v.workers.push_back(Worker(2, -1, "backoff", false));
  AnswerTime now{1700000100.5, std::chrono::steady_clock::time_point(
                                   std::chrono::hours(100))};
  v.workers[0].started_at = now.steady - std::chrono::microseconds(12'345'670);
  v.workers[1].started_at = now.steady;
  v.workers[0].status_text = "serving\n";
  v.workers[2].restarts = 4;
  v.workers[2].last_exit = "killed by SIGKILL";
  auto rss = [](pid_t pid) -> std::optional<uint64_t> {
    if (pid == 101) return 1048576;
    return std::nullopt;  // 102: gone between the snapshot and the read
  };
  auto cpu = [](int slot, pid_t) -> std::optional<double> {
    if (slot == 0) return 12.345;
    return std::nullopt;
  };
  auto exits = std::make_shared<std::vector<ExitView>>();
  exits->push_back({2, 99, "killed by SIGKILL", 1700000090.25, 61.5});
  v.recent_exits = exits;
  v.workers[0].lifetime_ms = 21'600'000;
  v.workers[0].recycle_at = now.steady + std::chrono::hours(1);
  v.workers[1].lifetime_ms = 0;  // no lifetime: nulls
  v.last_recycle = RecycleView{1700000090.25, 1, 98, "max_rss",
                               "max_rss: 612 MiB > 512 MiB"};
  v.next_scheduled_recycle_unix = 1700006400;
  v.last_limit_change =
      LimitChangeView{1700000050,   "cpu quota 1.5 -> 2.5", 1.5, 2.5,
                      std::nullopt, uint64_t{536870912},    1,   2,
                      "2.5 CPUs"};
  EXPECT_EQ(
      StatusJson(v, "1.2.3", now, rss, cpu),
      R"({"version":"1.2.3","started_at":"2023-11-14T22:13:20Z",)"
      R"("uptime_seconds":100.25,"ready":true,"draining":false,)"
      R"("stopping":false,"reloading":true,"desired_workers":3,)"
      R"("actual_workers":2,"ready_workers":1,"min_ready_workers":1,)"
      R"("sizing":{"workers":3,"cpus_used":1.5,)"
      R"("reason":"1.5 CPUs \"quota\" x 2 per CPU",)"
      R"("last_limit_change":{"at":"2023-11-14T22:14:10Z","ago_seconds":50.5,)"
      R"("changes":"cpu quota 1.5 -> 2.5",)"
      R"("cpu_quota_cores":{"before":1.5,"after":2.5},)"
      R"("memory_limit_bytes":{"before":null,"after":536870912},)"
      R"("workers":{"before":1,"after":2},"reason":"2.5 CPUs"}},)"
      R"("recycle":{"last":{"at":"2023-11-14T22:14:50Z","ago_seconds":10.25,)"
      R"("slot":1,"pid":98,"reason":"max_rss",)"
      R"("detail":"max_rss: 612 MiB > 512 MiB"},)"
      R"("next_scheduled_at":"2023-11-15T00:00:00Z"},)"
      R"("cgroup":{"version":"v2","cpu_cgroup_path":"","cpu_quota_cores":1.5,)"
      R"("quota_source":"/sys/fs/cgroup/cpu.max","cpuset_cpus":null,)"
      R"("cpuset_source":"","affinity_cpus":4,"host_cpus":8,)"
      R"("memory_limit_bytes":null,"memory_source":"","effective_cpus":1.5,)"
      R"("notes":["a note"]},"slots":[)"
      R"({"id":0,"pid":101,"state":"ready","ready":true,"restarts":0,)"
      R"("last_exit":null,"uptime_seconds":12.346,"rss_bytes":1048576,)"
      R"("cpu_percent":12.3,"status_text":"serving\n",)"
      R"("lifetime_seconds":21600,"next_recycle_at":"2023-11-14T23:15:00Z",)"
      R"("next_recycle_in_seconds":3600},)"
      R"({"id":1,"pid":102,"state":"starting","ready":false,"restarts":0,)"
      R"("last_exit":null,"uptime_seconds":0,"rss_bytes":null,)"
      R"("cpu_percent":null,"status_text":null,"lifetime_seconds":null,)"
      R"("next_recycle_at":null,"next_recycle_in_seconds":null},)"
      R"({"id":2,"pid":null,"state":"backoff","ready":false,"restarts":4,)"
      R"("last_exit":"killed by SIGKILL","uptime_seconds":0,)"
      R"("rss_bytes":null,"cpu_percent":null,"status_text":null,)"
      R"("lifetime_seconds":null,"next_recycle_at":null,)"
      R"("next_recycle_in_seconds":null}],)"
      R"("recent_exits":[{"slot":2,"pid":99,"reason":"killed by SIGKILL",)"
      R"("at":"2023-11-14T22:14:50Z","ago_seconds":10.25,)"
      R"("lived_seconds":61.5}],"state_version":17})");
}

TEST(AdminViewsTest, NotStartedYet) {
  std::string json = StatusJson(StateView{}, "1", AnswerTime{5, {}}, [](pid_t) {
    return std::optional<uint64_t>();
  });
  EXPECT_NE(json.find(R"("started_at":null,"uptime_seconds":null)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("slots":[])"), std::string::npos) << json;
}

// issue 13: uptimes were computed when the view was published, so a view
// read seconds later still said 0.37 s. The same view answered later must
// say later.
TEST(AdminViewsTest, DurationsAreComputedWhenAnswered) {
  StateView v = View(1, 1, 1);
  v.started_unix_seconds = 1000;
  v.workers.push_back(Worker(0, 101, "ready", true));
  const auto start =
      std::chrono::steady_clock::time_point(std::chrono::hours(1));
  v.workers[0].started_at = start;
  auto exits = std::make_shared<std::vector<ExitView>>();
  exits->push_back({0, 77, "exited with 1", 1000.5, 0.5});
  v.recent_exits = exits;
  auto no_rss = [](pid_t) { return std::optional<uint64_t>(); };
  for (double later : {0.37, 5.0, 3600.0}) {
    AnswerTime at{1001 + later, start + std::chrono::milliseconds(
                                            static_cast<int>(later * 1000))};
    Result<Json> json = JsonParse(StatusJson(v, "1", at, no_rss));
    ASSERT_TRUE(json.ok()) << json.status().message();
    EXPECT_DOUBLE_EQ((*json)["slots"][0]["uptime_seconds"].get<double>(), later)
        << later;
    EXPECT_DOUBLE_EQ((*json)["uptime_seconds"].get<double>(), 1 + later)
        << later;
    EXPECT_DOUBLE_EQ((*json)["recent_exits"][0]["ago_seconds"].get<double>(),
                     0.5 + later)
        << later;
  }
}

TEST(AdminViewsTest, StatusWithJobs) {
  struct Case {
    const char* name;
    std::string status;
    std::optional<std::string> jobs;
    std::string want;
  } cases[] = {
      {"jobs", R"({"a":1})", R"({"jobs":[{"name":"x"}]})",
       R"({"a":1,"jobs":[{"name":"x"}]})"},
      {"no answer", R"({"a":1})", std::nullopt, R"({"a":1,"jobs":null})"},
      {"not the job list", R"({"a":1})", R"({"error":"x"})",
       R"({"a":1,"jobs":null})"},
      {"empty status", "{}", R"({"jobs":[]})", R"({"jobs":[]})"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatusWithJobs(c.status, c.jobs), c.want) << c.name;
  }
}

TEST(AdminViewsTest, HistoryColumns) {
  SampleRing ring(4, 3);
  ring.Add(0, 100, SampleRing::Reading{42, 1.0, 4096, 90});
  ring.Add(0, 110, SampleRing::Reading{42, 3.5, 8192, 90});
  ring.Add(0, 120, std::nullopt);
  ring.Add(3, 120, SampleRing::Reading{43, 0.0, 1024, 119});
  StateView v = View(2, 1, 1);
  std::string json = HistoryJson(ring, v, 10, 125);
  EXPECT_EQ(json,
            R"({"now":125,"interval_seconds":10,"capacity":3,"max_slots":4,)"
            R"("slots":[{"id":0,"t":[100,110,120],"pid":[42,42,null],)"
            R"("cpu_percent":[10,25,null],"rss_bytes":[4096,8192,null]}]})");
}

}  // namespace
}  // namespace corefork
