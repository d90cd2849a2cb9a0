#include "admin/admin_views.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  v.workers[0].uptime_seconds = 12.34567;
  v.workers[0].status_text = "serving\n";
  v.workers[2].restarts = 4;
  v.workers[2].last_exit = "killed by SIGKILL";
  auto rss = [](pid_t pid) -> std::optional<uint64_t> {
    if (pid == 101) return 1048576;
    return std::nullopt;  // 102: gone between the snapshot and the read
  };
  EXPECT_EQ(
      StatusJson(v, "1.2.3", 1700000100.5, rss),
      R"({"version":"1.2.3","started_at":"2023-11-14T22:13:20Z",)"
      R"("uptime_seconds":100.25,"ready":true,"draining":false,)"
      R"("stopping":false,"reloading":true,"desired_workers":3,)"
      R"("actual_workers":2,"ready_workers":1,"min_ready_workers":1,)"
      R"("sizing":{"workers":3,"cpus_used":1.5,)"
      R"("reason":"1.5 CPUs \"quota\" x 2 per CPU"},)"
      R"("cgroup":{"version":"v2","cpu_cgroup_path":"","cpu_quota_cores":1.5,)"
      R"("quota_source":"/sys/fs/cgroup/cpu.max","cpuset_cpus":null,)"
      R"("cpuset_source":"","affinity_cpus":4,"host_cpus":8,)"
      R"("memory_limit_bytes":null,"memory_source":"","effective_cpus":1.5,)"
      R"("notes":["a note"]},"slots":[)"
      R"({"id":0,"pid":101,"state":"ready","ready":true,"restarts":0,)"
      R"("last_exit":null,"uptime_seconds":12.346,"rss_bytes":1048576,)"
      R"("status_text":"serving\n"},)"
      R"({"id":1,"pid":102,"state":"starting","ready":false,"restarts":0,)"
      R"("last_exit":null,"uptime_seconds":0,"rss_bytes":null,)"
      R"("status_text":null},)"
      R"({"id":2,"pid":null,"state":"backoff","ready":false,"restarts":4,)"
      R"("last_exit":"killed by SIGKILL","uptime_seconds":0,)"
      R"("rss_bytes":null,"status_text":null}],"state_version":17})");
}

TEST(AdminViewsTest, NotStartedYet) {
  std::string json = StatusJson(
      StateView{}, "1", 5, [](pid_t) { return std::optional<uint64_t>(); });
  EXPECT_NE(json.find(R"("started_at":null,"uptime_seconds":null)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("slots":[])"), std::string::npos) << json;
}

}  // namespace
}  // namespace corefork
